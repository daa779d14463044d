package stream_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"tape"
	"tape/stream"
)

// client is what a page holds from a stream: per symbol the quote as
// JSON fields, replaced by snapshots and quote events, patched by deltas
// (events without a name).
type client struct {
	held map[string]map[string]any
}

func (c *client) read(t *testing.T, evs []event) {
	t.Helper()
	for _, ev := range evs {
		switch ev.Name {
		case "snapshot":
			var snap struct{ Quotes []map[string]any }
			mustUnmarshal(t, ev.Data, &snap)
			for _, q := range snap.Quotes {
				c.held[q["symbol"].(string)] = q
			}
		case "quote":
			var q map[string]any
			mustUnmarshal(t, ev.Data, &q)
			c.held[q["symbol"].(string)] = q
		case "":
			var d map[string]any
			mustUnmarshal(t, ev.Data, &d)
			q := c.held[d["s"].(string)]
			if q == nil {
				t.Fatalf("delta %s for a symbol the client holds no quote of", ev.Data)
			}
			for k, v := range d {
				if k == "t" {
					var ok bool
					if v, ok = tape.ApplyTimeTail(q["ts"].(string), v.(string)); !ok {
						t.Fatalf("delta %s: bad ts tail", ev.Data)
					}
				}
				q[tape.DeltaKeys[k]] = v
			}
		}
	}
}

func mustUnmarshal(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
}

// market drops origin and seq, which deltas do not carry.
func market(q map[string]any) map[string]any {
	out := maps.Clone(q)
	delete(out, "origin")
	delete(out, "seq")
	return out
}

// TestDeltaStreamsHoldWhatFullStreamsHold: over a random feed, streams
// that take deltas, whether they keep up, fall behind and are conflated,
// are capped by max_rate or resume, end holding the same quotes as the
// node, and a stream that keeps up holds them after every update; most
// of its quote events are deltas.
func TestDeltaStreamsHoldWhatFullStreamsHold(t *testing.T) {
	h := newHub(t, stream.Config{SubscriberBuffer: 8, StallTimeout: time.Hour})
	syms := []tape.Symbol{"AAA", "BB", "C"}
	r := rand.New(rand.NewPCG(7, 8))
	quotes := map[string]tape.Quote{}
	next := map[int]int64{}
	step := 0
	applyRandom := func(n int) {
		for range n {
			step++
			sym := syms[r.IntN(len(syms))]
			q, ok := quotes[string(sym)]
			if !ok {
				q = tape.Quote{Symbol: sym, Kind: tape.KindQuote, Source: "test", Time: t0}
			}
			switch r.IntN(4) {
			case 0:
				q.Bid = tape.Price(100_00000000 + r.Int64N(100)*1_000_000)
			case 1:
				q.Ask = tape.Price(101_00000000 + r.Int64N(100)*1_000_000)
			case 2:
				q.Kind, q.Last, q.LastSize = tape.KindTrade, tape.Price(100_50000000+r.Int64N(10)*1_000_000), tape.MustSize("100")
				q.Volume += tape.MustSize("100")
			case 3:
				q.BidSize = tape.Size(r.Int64N(5)) * 100_00000000
			}
			q.Time = q.Time.Add(time.Millisecond)
			p := len(sym) % 3
			q.Origin, q.Seq = fmt.Sprintf("feeds.raw/0/%d/0", step), tape.Seq{Partition: p, Offset: next[p]}
			quotes[string(sym)] = q
			h.Apply(p, next[p], q.AppendJSON(nil), next[p]+1)
			next[p]++
		}
	}
	applyRandom(30)

	open := func(opts stream.Options, lastID string) (*stream.Subscriber, *client) {
		sub, err := h.SubscribeWith(syms, lastID, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Close)
		return sub, &client{held: map[string]map[string]any{}}
	}
	fast, fastC := open(stream.Options{Delta: true}, "")
	slow, slowC := open(stream.Options{Delta: true}, "")
	capped, cappedC := open(stream.Options{Delta: true, MaxRate: 1000}, "")
	full, fullC := open(stream.Options{}, "")
	var lastID, savedID string
	var saved map[string]map[string]any
	deltas, quoteEvents := 0, 0
	for round := range 200 {
		applyRandom(1 + r.IntN(3))
		evs := drain(t, fast)
		for _, ev := range evs {
			switch ev.Name {
			case "":
				deltas++
			case "quote":
				quoteEvents++
			}
			if ev.ID != "" {
				lastID = ev.ID
			}
		}
		fastC.read(t, evs)
		fullC.read(t, drain(t, full))
		if round == 100 { // where a page that later reconnects stood
			savedID, saved = lastID, map[string]map[string]any{}
			for k, v := range fastC.held {
				saved[k] = maps.Clone(v)
			}
		}
		for sym, q := range quotes {
			var want map[string]any
			mustUnmarshal(t, string(q.AppendJSON(nil)), &want)
			if got := fastC.held[sym]; !reflect.DeepEqual(market(got), market(want)) {
				t.Fatalf("round %d: the delta stream holds %v for %s, want %v", round, got, sym, want)
			}
		}
		if round%17 == 0 { // the slow stream reads now and then
			slowC.read(t, drain(t, slow))
		}
		if round%5 == 0 {
			cappedC.read(t, drain(t, capped))
		}
	}
	// A page that stood at round 100 resumes and reads on.
	resumed, resumedC := open(stream.Options{Delta: true}, savedID)
	resumedC.held = saved
	applyRandom(40)
	time.Sleep(5 * time.Millisecond) // past the cap's interval
	for name, s := range map[string]struct {
		sub *stream.Subscriber
		c   *client
	}{"fast": {fast, fastC}, "slow": {slow, slowC}, "capped": {capped, cappedC}, "full": {full, fullC}, "resumed": {resumed, resumedC}} {
		s.c.read(t, drain(t, s.sub))
		for sym, q := range quotes {
			var want map[string]any
			mustUnmarshal(t, string(q.AppendJSON(nil)), &want)
			if got := s.c.held[sym]; !reflect.DeepEqual(market(got), market(want)) {
				t.Errorf("%s stream ends holding %v for %s, want %v", name, got, sym, want)
			}
		}
	}
	if deltas < 3*quoteEvents {
		t.Errorf("the stream that keeps up got %d deltas and %d full quotes: want mostly deltas", deltas, quoteEvents)
	}
	if h.Stats().Conflated.Load() == 0 {
		t.Error("the slow stream was never conflated: the test does not cover conflation")
	}
}
