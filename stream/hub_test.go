package stream_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"tape"
	"tape/stream"
)

// sse is a minimal framer for tests; ui.SSE is the real one.
type sse struct{}

func (sse) AppendEvent(dst []byte, event string, id, data []byte) []byte {
	return fmt.Appendf(dst, "id: %s\nevent: %s\ndata: %s\n\n", id, event, data)
}

type event struct {
	ID, Name string
	Data     string
}

func parseEvents(t testing.TB, b []byte) []event {
	t.Helper()
	var out []event
	for _, block := range strings.Split(strings.TrimSpace(string(b)), "\n\n") {
		if block == "" {
			continue
		}
		var ev event
		for _, line := range strings.Split(block, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "id":
				ev.ID = v
			case "event":
				ev.Name = v
			case "data":
				ev.Data = v
			}
		}
		out = append(out, ev)
	}
	return out
}

// drain reads everything waiting for sub.
func drain(t testing.TB, sub *stream.Subscriber) []event {
	t.Helper()
	var buf bytes.Buffer
	if _, err := sub.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return parseEvents(t, buf.Bytes())
}

// record is one record of the quotes topic.
type record struct {
	p     int
	off   int64
	value []byte
}

var t0 = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

// feed returns n quote records spread over symbols and 3 partitions, as
// a fold stage would produce them (symbol i%len on partition
// len(symbol)%3, its fold position the record's own offset).
func feed(n int, symbols ...string) []record {
	var recs []record
	next := map[int]int64{}
	for i := range n {
		sym := symbols[i%len(symbols)]
		p := len(sym) % 3
		q := tape.Quote{
			Symbol: tape.Symbol(sym), Kind: tape.KindQuote,
			Bid: tape.Price(100_00000000 + int64(i)*1_000_000), Ask: tape.Price(101_00000000 + int64(i)*1_000_000),
			BidSize: tape.MustSize("100"), AskSize: tape.MustSize("100"), Time: t0.Add(time.Duration(i) * time.Millisecond), Source: "test",
			Origin: fmt.Sprintf("feeds.raw/0/%d/0", i), Seq: tape.Seq{Partition: p, Offset: next[p]},
		}
		recs = append(recs, record{p, next[p], q.AppendJSON(nil)})
		next[p]++
	}
	return recs
}

func newHub(t testing.TB, cfg stream.Config) *stream.Hub {
	t.Helper()
	h, err := stream.NewHub(cfg, sse{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	if err := h.Init(42, []int64{0, 0, 0}, []int64{0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	return h
}

func apply(h *stream.Hub, recs []record) {
	for _, r := range recs {
		h.Apply(r.p, r.off, r.value, r.off+1)
	}
}

func symbolOf(t testing.TB, ev event) string {
	t.Helper()
	var q struct{ Symbol, Bid string }
	if err := json.Unmarshal([]byte(ev.Data), &q); err != nil {
		t.Fatalf("event data %q: %v", ev.Data, err)
	}
	return q.Symbol + "@" + q.Bid
}

func TestSubscribeStartsWithSnapshot(t *testing.T) {
	h := newHub(t, stream.Config{})
	recs := feed(6, "AAA", "BB", "C")
	apply(h, recs[:3])
	sub, err := h.Subscribe([]tape.Symbol{"AAA", "BB"}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	evs := drain(t, sub)
	if len(evs) != 1 || evs[0].Name != "snapshot" || evs[0].ID == "" {
		t.Fatalf("first events %+v, want one snapshot with an id", evs)
	}
	var snap struct {
		Reason string
		Quotes []struct{ Symbol string }
	}
	json.Unmarshal([]byte(evs[0].Data), &snap)
	if snap.Reason != stream.ReasonNew || len(snap.Quotes) != 2 {
		t.Fatalf("snapshot %s", evs[0].Data)
	}
	apply(h, recs[3:])
	evs = drain(t, sub)
	var got []string
	for _, ev := range evs {
		if ev.Name != "quote" || ev.ID == "" {
			t.Fatalf("event %+v, want a quote with an id", ev)
		}
		got = append(got, symbolOf(t, ev))
	}
	want := []string{"AAA@100.03", "BB@100.04"}
	if !slices.Equal(got, want) {
		t.Fatalf("live events %v, want %v (only subscribed symbols)", got, want)
	}
}

func TestResumeSendsExactlyTheMissedEvents(t *testing.T) {
	h := newHub(t, stream.Config{})
	recs := feed(60, "AAA", "BB", "C", "DDDD")
	syms := []tape.Symbol{"AAA", "C"}
	apply(h, recs[:10])
	a, _ := h.Subscribe(syms, "")
	drain(t, a)
	apply(h, recs[10:30])
	seen := drain(t, a)
	a.Close()
	last := seen[len(seen)/2] // the client got this far before its connection died
	apply(h, recs[30:])

	b, err := h.Subscribe(syms, last.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	resumed := drain(t, b)
	if len(resumed) == 0 || resumed[0].Name != "quote" {
		t.Fatalf("resume began with %+v, want the missed quotes", resumed)
	}
	stay, _ := h.Subscribe(syms, "")
	drain(t, stay)
	// What a client that never left got after `last`: every event of its
	// symbols in records 10..60 after last's position.
	var want []string
	for _, ev := range seen[len(seen)/2+1:] {
		want = append(want, symbolOf(t, ev))
	}
	for _, r := range recs[30:] {
		ev, _ := tape.ParseEvent(r.value)
		if slices.Contains(syms, ev.Symbol) {
			want = append(want, string(ev.Symbol)+"@"+ev.Bid.String())
		}
	}
	var got []string
	for _, ev := range resumed {
		got = append(got, symbolOf(t, ev))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("resumed\n got %v\nwant %v", got, want)
	}
}

func TestResumeOnAnotherNode(t *testing.T) {
	recs := feed(90, "AAA", "BB", "C", "DDDD", "EE")
	syms := []tape.Symbol{"AAA", "BB", "EE"}
	// Node A applies records partition by partition, node B round-robin:
	// both see every partition in order, interleaved differently.
	byPart := map[int][]record{}
	for _, r := range recs {
		byPart[r.p] = append(byPart[r.p], r)
	}
	var orderA, orderB []record
	for p := range 3 {
		orderA = append(orderA, byPart[p]...)
	}
	for i := 0; len(orderB) < len(recs); i++ {
		for p := range 3 {
			if i < len(byPart[p]) {
				orderB = append(orderB, byPart[p][i])
			}
		}
	}
	nodeA, nodeB := newHub(t, stream.Config{}), newHub(t, stream.Config{})
	clientA, _ := nodeA.Subscribe(syms, "")
	stayB, _ := nodeB.Subscribe(syms, "")
	drain(t, clientA)
	drain(t, stayB)
	apply(nodeA, orderA[:45])
	apply(nodeB, orderB)
	got := drain(t, clientA) // node A dies after this
	if len(got) == 0 {
		t.Fatal("client got nothing from node A")
	}
	resumed, err := nodeB.Subscribe(syms, got[len(got)-1].ID)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, drain(t, resumed)...)

	// Per symbol, the client must hold exactly B's sequence: nothing
	// missed, nothing twice, in order.
	perSymbol := func(evs []event) map[string][]string {
		m := map[string][]string{}
		for _, ev := range evs {
			s := symbolOf(t, ev)
			sym, _, _ := strings.Cut(s, "@")
			m[sym] = append(m[sym], s)
		}
		return m
	}
	want := perSymbol(drain(t, stayB))
	have := perSymbol(got)
	for _, s := range syms {
		if !slices.Equal(have[string(s)], want[string(s)]) {
			t.Errorf("%s: client got %v\nwant %v", s, have[string(s)], want[string(s)])
		}
	}
}

func TestResumeFallsBackToSnapshot(t *testing.T) {
	h := newHub(t, stream.Config{HistorySize: 10, ResumeGrace: 20 * time.Millisecond})
	recs := feed(40, "AAA", "BB")
	apply(h, recs[:5])
	a, _ := h.Subscribe([]tape.Symbol{"AAA"}, "")
	old := drain(t, a)[0].ID
	a.Close()
	apply(h, recs[5:])
	other, _ := stream.NewHub(stream.Config{}, sse{})
	other.Init(7, []int64{0, 0, 0}, []int64{0, 0, 0})
	o, _ := other.Subscribe([]tape.Symbol{"AAA"}, "")
	foreign := drain(t, o)[0].ID
	tests := []struct{ name, id, reason string }{
		{"expired", old, stream.ReasonExpired},
		{"corrupt", "1zzzz", stream.ReasonUnknown},
		{"garbage", "\x00\xff", stream.ReasonUnknown},
		{"other cluster", foreign, stream.ReasonUnknown},
		{"from the future", futureToken(t, h), stream.ReasonUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := h.Subscribe([]tape.Symbol{"AAA"}, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			evs := drain(t, sub)
			// Maybe this node trails the client's: it waits a grace
			// period, then sends the snapshot.
			for deadline := time.Now().Add(10 * time.Second); len(evs) == 0 && tt.name == "from the future" && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				evs = drain(t, sub)
			}
			if len(evs) != 1 || evs[0].Name != "snapshot" || !strings.Contains(evs[0].Data, `"reason":"`+tt.reason+`"`) {
				t.Fatalf("got %+v, want a snapshot with reason %s", evs, tt.reason)
			}
		})
	}
}

// futureToken returns a token naming offsets far beyond the log end.
func futureToken(t *testing.T, h *stream.Hub) string {
	t.Helper()
	g := newHub(t, stream.Config{})
	g.Init(42, []int64{1 << 40, 1 << 40, 1 << 40}, []int64{1 << 40, 1 << 40, 1 << 40})
	sub, err := g.Subscribe([]tape.Symbol{"AAA"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, sub)[0].ID
}

func TestSlowSubscriberIsConflatedNotWaitedFor(t *testing.T) {
	h := newHub(t, stream.Config{SubscriberBuffer: 4, StallTimeout: time.Hour})
	syms := []tape.Symbol{"AAA", "BB", "C"}
	slow, _ := h.Subscribe(syms, "")
	fast, _ := h.Subscribe(syms, "")
	drain(t, slow)
	drain(t, fast)
	recs := feed(3000, "AAA", "BB", "C")
	done := make(chan struct{})
	go func() {
		for _, r := range recs {
			h.Apply(r.p, r.off, r.value, r.off+1)
			drain(t, fast)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the hub blocked on a subscriber that does not read")
	}
	evs := drain(t, slow)
	if len(evs) > 4+len(syms) {
		t.Fatalf("slow subscriber holds %d events, want at most buffer+symbols = %d", len(evs), 4+len(syms))
	}
	latest := map[string]string{}
	for _, ev := range evs {
		s := symbolOf(t, ev)
		sym, _, _ := strings.Cut(s, "@")
		latest[sym] = s
	}
	for i, sym := range []string{"AAA", "BB", "C"} {
		ev, _ := tape.ParseEvent(recs[len(recs)-3+i].value)
		if want := sym + "@" + ev.Bid.String(); latest[sym] != want {
			t.Errorf("slow subscriber's latest %s is %s, want %s", sym, latest[sym], want)
		}
	}
	if h.Stats().Conflated.Load() == 0 {
		t.Error("no conflation counted")
	}
}

// TestStalledSubscriberIsDisconnectedEvenOnAQuietSymbol: a subscriber
// whose updates are conflated and which does not drain for StallTimeout is
// ended by the hub's own clock, though no new event arrives for it.
func TestStalledSubscriberIsDisconnectedEvenOnAQuietSymbol(t *testing.T) {
	h := newHub(t, stream.Config{SubscriberBuffer: 2, StallTimeout: time.Second})
	sub, _ := h.Subscribe([]tape.Symbol{"AAA"}, "")
	slowCalls := make(chan struct{}, 1)
	sub.OnSlow(func() { slowCalls <- struct{}{} })
	apply(h, feed(10, "AAA")) // then the symbol goes quiet
	h.Tick(time.Now())
	if err := sub.Err(); err != nil {
		t.Fatalf("ended before the stall timeout: %v", err)
	}
	h.Tick(time.Now().Add(2 * time.Second))
	select {
	case <-slowCalls:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer was not told to close the stalled stream")
	}
	var buf bytes.Buffer
	if _, err := sub.WriteTo(&buf); err != stream.ErrSlow {
		t.Fatalf("WriteTo error %v, want ErrSlow", err)
	}
	if got := h.Stats().Slow.Load(); got != 1 {
		t.Fatalf("slow disconnects counted %d, want 1", got)
	}
	sub.Close()
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
}

// TestDrainingSubscriberIsNotStalled: a subscriber that was conflated
// but caught up is not ended later.
func TestDrainingSubscriberIsNotStalled(t *testing.T) {
	h := newHub(t, stream.Config{SubscriberBuffer: 2, StallTimeout: time.Second})
	sub, _ := h.Subscribe([]tape.Symbol{"AAA"}, "")
	apply(h, feed(10, "AAA"))
	drain(t, sub)
	h.Tick(time.Now().Add(2 * time.Second))
	if err := sub.Err(); err != nil {
		t.Fatalf("a subscriber that drained was ended: %v", err)
	}
}

func TestRepeatedFoldPositionIsDropped(t *testing.T) {
	h := newHub(t, stream.Config{})
	recs := feed(4, "AAA")
	sub, _ := h.Subscribe([]tape.Symbol{"AAA"}, "")
	drain(t, sub)
	apply(h, recs)
	// A fold stage that crashed before its checkpoint produces the same quotes
	// again, at new offsets.
	for i, r := range recs[2:] {
		h.Apply(r.p, int64(4+i), r.value, int64(5+i))
	}
	if evs := drain(t, sub); len(evs) != 4 {
		t.Fatalf("got %d events, want 4 (repeats dropped)", len(evs))
	}
	if got := h.Stats().Repeats.Load(); got != 2 {
		t.Fatalf("repeats counted %d, want 2", got)
	}
}

func TestNotReadyUntilCaughtUp(t *testing.T) {
	h, _ := stream.NewHub(stream.Config{}, sse{})
	if _, err := h.Subscribe([]tape.Symbol{"AAA"}, ""); err != stream.ErrNotReady {
		t.Fatalf("before Init: %v, want ErrNotReady", err)
	}
	h.Init(1, []int64{0}, []int64{2})
	if h.Ready() {
		t.Fatal("ready before reaching the log end")
	}
	recs := feed(2, "A")
	for i, r := range recs {
		h.Apply(0, int64(i), r.value, 2)
	}
	if !h.Ready() {
		t.Fatal("not ready after reaching the log end")
	}
}

func TestSeedDoesNotHideHistory(t *testing.T) {
	recs := feed(10, "AAA")
	last, _ := tape.ParseQuote(recs[9].value)
	h, _ := stream.NewHub(stream.Config{}, sse{})
	h.Seed(last) // quotes.latest holds the newest value...
	h.Init(42, []int64{0, 0, 0}, []int64{0, 0, 0})
	apply(h, recs) // ...and the history read after it replays up to it
	a := newHub(t, stream.Config{})
	sub, _ := a.Subscribe([]tape.Symbol{"AAA"}, "")
	token := drain(t, sub)[0].ID // a client that saw nothing yet
	res, err := h.Subscribe([]tape.Symbol{"AAA"}, token)
	if err != nil {
		t.Fatal(err)
	}
	if evs := drain(t, res); len(evs) != 10 {
		t.Fatalf("resumed %d events, want all 10 in the history", len(evs))
	}
}

func TestResumeOnATrailingNodeWaitsForIt(t *testing.T) {
	recs := feed(60, "AAA", "BB", "C")
	ahead, behind := newHub(t, stream.Config{}), newHub(t, stream.Config{ResumeGrace: time.Minute})
	sub, _ := ahead.Subscribe([]tape.Symbol{"AAA", "C"}, "")
	drain(t, sub)
	apply(ahead, recs[:40])
	seen := drain(t, sub)
	apply(behind, recs[:30]) // ten records behind the client's node
	res, err := behind.Subscribe([]tape.Symbol{"AAA", "C"}, seen[len(seen)-1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if evs := drain(t, res); len(evs) != 0 {
		t.Fatalf("a trailing node sent %+v before passing the client's position", evs)
	}
	apply(behind, recs[30:])
	var got, want []string
	for _, ev := range drain(t, res) {
		got = append(got, symbolOf(t, ev))
	}
	apply(ahead, recs[40:])
	for _, ev := range drain(t, sub) {
		want = append(want, symbolOf(t, ev))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("resumed on the trailing node\n got %v\nwant %v", got, want)
	}
}
