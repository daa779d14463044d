package tape_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"tape"
)

// TestDeltaAppliedToThePreviousQuoteGivesTheQuote: a client that holds
// the full quote of a symbol (as JSON) and replaces the fields a delta
// names holds the next full quote, except origin and seq, over random
// changes of every field.
func TestDeltaAppliedToThePreviousQuoteGivesTheQuote(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	prices := []tape.Price{0, tape.MustPrice("187.42"), tape.MustPrice("187.44"), tape.MustPrice("0.0001")}
	sizes := []tape.Size{0, tape.MustSize("100"), tape.MustSize("0.5")}
	q := tape.Quote{Symbol: "BRK.A", Time: t0, Source: "polygon", Seq: tape.NoSeq}
	for i := range 2000 {
		prev := q
		pick := func(p []tape.Price) tape.Price { return p[r.IntN(len(p))] }
		pickSize := func() tape.Size { return sizes[r.IntN(len(sizes))] }
		for range 1 + r.IntN(3) {
			switch r.IntN(15) {
			case 0:
				q.Bid = pick(prices)
			case 1:
				q.Ask = pick(prices)
			case 2:
				q.BidSize = pickSize()
			case 3:
				q.AskSize = pickSize()
			case 4:
				q.Last = pick(prices)
			case 5:
				q.LastSize = pickSize()
			case 6:
				q.Volume += tape.MustSize("100")
			case 7:
				q.Open = pick(prices)
			case 8:
				q.High = pick(prices)
			case 9:
				q.Low = pick(prices)
			case 10:
				q.Day = tape.Day(20261120 + r.IntN(2))
			case 11:
				q.Kind = tape.Kind(r.IntN(2) + 1)
			case 13:
				if r.IntN(2) == 0 {
					q.Print = tape.Print{}
				} else {
					q.Print = tape.Print{Price: pick(prices), Size: pickSize(), Time: q.Time}
				}
			case 12:
				q.Source = []string{"polygon", "fix", "a \"quoted\" <source>"}[r.IntN(3)]
			}
		}
		q.Time = q.Time.Add([]time.Duration{0, 1, time.Millisecond, time.Second, time.Hour, 400 * 24 * time.Hour}[r.IntN(6)])
		q.Origin, q.Seq = "feeds.raw/0/1/0", tape.Seq{Offset: int64(i)}

		var held, want, delta map[string]any
		mustJSON(t, prev.AppendJSON(nil), &held)
		mustJSON(t, q.AppendJSON(nil), &want)
		d := q.AppendDelta(nil, &prev)
		mustJSON(t, d, &delta)
		for k, v := range delta {
			full, ok := tape.DeltaKeys[k]
			if !ok {
				t.Fatalf("delta %s has unknown key %q", d, k)
			}
			if k == "t" {
				if v, ok = tape.ApplyTimeTail(held["ts"].(string), v.(string)); !ok {
					t.Fatalf("delta %s: bad ts tail", d)
				}
			}
			held[full] = v
		}
		for _, k := range []string{"origin", "seq"} {
			delete(held, k)
			delete(want, k)
		}
		if !reflect.DeepEqual(held, want) {
			t.Fatalf("step %d: delta %s on %s gives %v, want %v", i, d, prev.AppendJSON(nil), held, want)
		}
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// A delta names only what changed: a bid move and its time.
func TestDeltaIsSmall(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 14, 30, 1, 123_000_000, time.UTC)
	prev := tape.Quote{Symbol: "AAPL", Kind: tape.KindQuote, Bid: tape.MustPrice("187.42"), Ask: tape.MustPrice("187.44"),
		BidSize: tape.MustSize("100"), Volume: tape.MustSize("125000"), Time: t0, Source: "polygon"}
	q := prev
	q.Bid, q.Time = tape.MustPrice("187.43"), t0.Add(time.Millisecond)
	want := `{"s":"AAPL","b":"187.43","t":"22:4000000Z"}`
	if got := string(q.AppendDelta(nil, &prev)); got != want {
		t.Fatalf("delta %s, want %s", got, want)
	}
}
