package stream_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"tape"
	"tape/stream"
)

// quoteRec is one quote record for partition p at offset off.
func quoteRec(sym string, p int, off int64, bid string, at time.Time) record {
	q := tape.Quote{Symbol: tape.Symbol(sym), Kind: tape.KindQuote, Bid: tape.MustPrice(bid),
		Ask: tape.MustPrice(bid) + tape.MustPrice("0.02"), Time: at, Source: "test", Seq: tape.Seq{Partition: p, Offset: off}}
	return record{p, off, q.AppendJSON(nil)}
}

// TestCatchingUpNeverRewindsTheSeededPrice: a node seeded from
// quotes.latest with the newest quote reads older history after it; the
// current value stays the seed's, and a resume still gets the history.
func TestCatchingUpNeverRewindsTheSeededPrice(t *testing.T) {
	h, err := stream.NewHub(stream.Config{}, sse{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	seed, _ := tape.ParseQuote(quoteRec("AAPL", 0, 2, "187.42", t0.Add(2*time.Second)).value)
	h.Seed(seed)
	h.Init(42, []int64{0}, []int64{3})
	for i, bid := range []string{"150.00", "160.00"} {
		r := quoteRec("AAPL", 0, int64(i), bid, t0.Add(time.Duration(i)*time.Second))
		h.Apply(r.p, r.off, r.value, 3)
		if qs := h.Quotes([]tape.Symbol{"AAPL"}); len(qs) != 1 || qs[0].Bid != tape.MustPrice("187.42") {
			t.Fatalf("after history record %d the node shows %+v, want the seed's bid 187.42", i, qs)
		}
	}
	r := quoteRec("AAPL", 0, 2, "187.42", t0.Add(2*time.Second))
	h.Apply(r.p, r.off, r.value, 3)
	if !h.Ready() {
		t.Fatal("not ready at the log end")
	}
	if got := h.Stats().Stale.Load(); got != 2 {
		t.Fatalf("%d records counted stale, want 2", got)
	}
}

// TestOlderFoldPositionNeverReachesLiveStreams: a record whose fold
// position is older than the symbol's current one (a fold stage that lost
// its partition and still writes) is not shown.
func TestOlderFoldPositionNeverReachesLiveStreams(t *testing.T) {
	h := newHub(t, stream.Config{})
	sub, _ := h.Subscribe([]tape.Symbol{"AAA"}, "")
	drain(t, sub)
	for _, r := range []record{
		quoteRec("AAA", 0, 5, "10.00", t0),
		{0, 6, func() []byte { r := quoteRec("AAA", 0, 3, "9.00", t0.Add(time.Second)); return r.value }()},
	} {
		h.Apply(r.p, r.off, r.value, r.off+1)
	}
	evs := drain(t, sub)
	if len(evs) != 1 || !strings.Contains(evs[0].Data, `"bid":"10.00"`) {
		t.Fatalf("live stream got %+v, want only the 10.00 quote", evs)
	}
	if qs := h.Quotes([]tape.Symbol{"AAA"}); qs[0].Bid != tape.MustPrice("10.00") {
		t.Fatalf("current bid %s, want 10.00", qs[0].Bid)
	}
}

// TestSymbolUniverseIsBounded: past SymbolLimit the least recently
// updated symbol no stream watches is forgotten and counted; a watched one
// stays.
func TestSymbolUniverseIsBounded(t *testing.T) {
	h := newHub(t, stream.Config{SymbolLimit: 3})
	apply(h, []record{quoteRec("A1", 0, 0, "1.00", t0), quoteRec("A2", 0, 1, "2.00", t0)})
	watch, _ := h.Subscribe([]tape.Symbol{"A1"}, "") // A1 is the oldest, but watched
	defer watch.Close()
	apply(h, []record{quoteRec("A3", 0, 2, "3.00", t0), quoteRec("A4", 0, 3, "4.00", t0)})
	if got := h.Stats().Symbols.Load(); got != 3 {
		t.Fatalf("%d symbols kept, want 3", got)
	}
	if got := h.Stats().Evicted.Load(); got != 1 {
		t.Fatalf("%d evictions, want 1", got)
	}
	var kept []string
	for _, q := range h.Quotes([]tape.Symbol{"A1", "A2", "A3", "A4"}) {
		kept = append(kept, string(q.Symbol))
	}
	if strings.Join(kept, ",") != "A1,A3,A4" {
		t.Fatalf("kept %v, want A1 (watched), A3, A4", kept)
	}
}

// TestIdleSymbolsAreForgotten: a symbol not updated for SymbolIdle is
// dropped by the hub's clock.
func TestIdleSymbolsAreForgotten(t *testing.T) {
	h := newHub(t, stream.Config{SymbolIdle: time.Hour})
	apply(h, []record{quoteRec("OLD", 0, 0, "1.00", t0)})
	h.Tick(time.Now().Add(30 * time.Minute))
	if len(h.Quotes([]tape.Symbol{"OLD"})) != 1 {
		t.Fatal("forgotten before it was idle for SymbolIdle")
	}
	h.Tick(time.Now().Add(2 * time.Hour))
	if len(h.Quotes([]tape.Symbol{"OLD"})) != 0 || h.Stats().Evicted.Load() != 1 {
		t.Fatal("an idle symbol was kept")
	}
}

// TestForgottenSymbolsHistoryIsNoSilentGap: a resume from before a
// symbol with retained history was forgotten gets a snapshot, not a gap.
func TestForgottenSymbolsHistoryIsNoSilentGap(t *testing.T) {
	h := newHub(t, stream.Config{SymbolLimit: 2})
	apply(h, []record{quoteRec("A1", 0, 0, "1.00", t0)})
	sub, _ := h.Subscribe([]tape.Symbol{"A1"}, "")
	token := drain(t, sub)[0].ID
	sub.Close()
	apply(h, []record{quoteRec("A1", 0, 1, "1.10", t0), quoteRec("A2", 0, 2, "2.00", t0), quoteRec("A3", 0, 3, "3.00", t0)})
	res, _ := h.Subscribe([]tape.Symbol{"A1"}, token)
	evs := drain(t, res)
	if len(evs) != 1 || evs[0].Name != "snapshot" || !strings.Contains(evs[0].Data, `"reason":"expired"`) {
		t.Fatalf("resume across a forgotten symbol got %+v, want an expired snapshot", evs)
	}
}

// TestListingPagesInSymbolOrder: Page walks every symbol in order, a page
// at a time, from a cursor.
func TestListingPagesInSymbolOrder(t *testing.T) {
	h := newHub(t, stream.Config{})
	var recs []record
	for i := range 25 {
		recs = append(recs, quoteRec(fmt.Sprintf("S%02d", 24-i), 0, int64(i), "1.00", t0))
	}
	apply(h, recs)
	var all []string
	after := tape.Symbol("")
	for pages := 0; ; pages++ {
		qs, more := h.Page(after, 10)
		for _, q := range qs {
			all = append(all, string(q.Symbol))
		}
		if !more {
			if pages != 2 || len(qs) != 5 {
				t.Fatalf("last page %d has %d quotes, want page 2 with 5", pages, len(qs))
			}
			break
		}
		after = qs[len(qs)-1].Symbol
	}
	for i, s := range all {
		if want := fmt.Sprintf("S%02d", i); s != want {
			t.Fatalf("listing[%d] = %s, want %s (all: %v)", i, s, want, all)
		}
	}
}

// TestResumeAcrossAddedPartitions: a token made before partitions were
// added resumes exactly, the new partitions counting as unseen.
func TestResumeAcrossAddedPartitions(t *testing.T) {
	h := newHub(t, stream.Config{}) // 3 partitions
	apply(h, []record{quoteRec("OLD", 0, 0, "1.00", t0)})
	sub, _ := h.Subscribe([]tape.Symbol{"OLD", "NEW"}, "")
	token := drain(t, sub)[0].ID
	sub.Close()
	if err := h.AddPartitions(4); err != nil {
		t.Fatal(err)
	}
	apply(h, []record{quoteRec("NEW", 3, 0, "5.00", t0), quoteRec("OLD", 0, 1, "1.10", t0)})
	res, _ := h.Subscribe([]tape.Symbol{"OLD", "NEW"}, token)
	var got []string
	for _, ev := range drain(t, res) {
		got = append(got, ev.Name+":"+symbolOf(t, ev))
	}
	if strings.Join(got, " ") != "quote:NEW@5.00 quote:OLD@1.10" {
		t.Fatalf("resumed %v, want the NEW quote of the added partition and OLD's update", got)
	}
}

// TestResumeTooLongGetsASnapshot: a client that missed more than
// MaxResume events of its symbols gets a snapshot instead of a replay.
func TestResumeTooLongGetsASnapshot(t *testing.T) {
	h := newHub(t, stream.Config{MaxResume: 5})
	sub, _ := h.Subscribe([]tape.Symbol{"AAA"}, "")
	token := drain(t, sub)[0].ID
	sub.Close()
	apply(h, feed(10, "AAA"))
	res, _ := h.Subscribe([]tape.Symbol{"AAA"}, token)
	evs := drain(t, res)
	if len(evs) != 1 || !strings.Contains(evs[0].Data, `"reason":"expired"`) {
		t.Fatalf("got %d events, want one expired snapshot", len(evs))
	}
}

// TestBrokerOutageIsToldToStreams: every stream learns when the quotes
// topic cannot be read and when it can again; new streams learn it after
// their snapshot.
func TestBrokerOutageIsToldToStreams(t *testing.T) {
	h := newHub(t, stream.Config{})
	sub, _ := h.Subscribe([]tape.Symbol{"AAA"}, "")
	drain(t, sub)
	h.SetFeedError(fmt.Errorf("dial: refused"))
	evs := drain(t, sub)
	if len(evs) != 1 || evs[0].Name != "status" || !strings.Contains(evs[0].Data, `"feed":"stale"`) || evs[0].ID != "" {
		t.Fatalf("got %+v, want one status event saying stale, without an id", evs)
	}
	late, _ := h.Subscribe([]tape.Symbol{"AAA"}, "")
	if evs := drain(t, late); len(evs) != 2 || evs[1].Name != "status" {
		t.Fatalf("a stream opened during the outage got %+v, want snapshot then status", evs)
	}
	h.SetFeedError(nil)
	if evs := drain(t, sub); len(evs) != 1 || !strings.Contains(evs[0].Data, `"feed":"live"`) {
		t.Fatalf("got %+v, want one status event saying live", evs)
	}
}

// TestRecentKeepsTheLastMarksOfASymbol: the sparkline's ring holds the
// marks (bid/ask midpoint while nothing traded) of the last RecentTicks
// updates, oldest first.
func TestRecentKeepsTheLastMarksOfASymbol(t *testing.T) {
	h := newHub(t, stream.Config{})
	n := stream.RecentTicks + 10
	for i := range n {
		bid := fmt.Sprintf("%d.00", 100+i)
		r := quoteRec("AAPL", 0, int64(i), bid, t0.Add(time.Duration(i)*time.Second))
		h.Apply(r.p, r.off, r.value, r.off+1)
	}
	got := h.Recent("AAPL")
	if len(got) != stream.RecentTicks {
		t.Fatalf("%d marks kept, want %d", len(got), stream.RecentTicks)
	}
	for i, m := range got {
		// bid 100+k, ask 0.02 above: the midpoint is bid + 0.01.
		want := tape.MustPrice(fmt.Sprintf("%d.01", 100+10+i))
		if m != want {
			t.Fatalf("mark %d is %s, want %s", i, m, want)
		}
	}
}

// TestAQuoteReadKeepsItsOriginAfterLaterUpdates: a node keeps a symbol's
// origin in a buffer of the symbol's own, rewritten by each update; a
// quote read from the node (quotes, pages) keeps the origin it was read
// with, and every event carries its own record's origin.
func TestAQuoteReadKeepsItsOriginAfterLaterUpdates(t *testing.T) {
	h := newHub(t, stream.Config{})
	origins := []string{"feeds.raw/3/123456/7", "feeds.raw/0/1/0", "x/0/9/0", ""} // the longest first: later ones are written over it
	apply := func(i int) {
		q := tape.Quote{Symbol: "AAPL", Kind: tape.KindQuote, Bid: tape.MustPrice("100"), Ask: tape.MustPrice("100.02"),
			Time: t0.Add(time.Duration(i) * time.Second), Source: "test", Origin: origins[i], Seq: tape.Seq{Partition: 0, Offset: int64(i)}}
		h.Apply(0, int64(i), q.AppendJSON(nil), int64(i)+1)
	}
	apply(0)
	sub, err := h.Subscribe([]tape.Symbol{"AAPL"}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	drain(t, sub) // the snapshot
	first := h.Quotes([]tape.Symbol{"AAPL"})
	page, _ := h.Page("", 10)
	for i := 1; i < len(origins); i++ {
		apply(i)
	}
	if len(first) != 1 || first[0].Origin != origins[0] || len(page) != 1 || page[0].Origin != origins[0] {
		t.Fatalf("quotes read before later updates changed: %+v, %+v", first, page)
	}
	if now := h.Quotes([]tape.Symbol{"AAPL"}); len(now) != 1 || now[0].Origin != "" {
		t.Fatalf("current quote %+v, want the last update's empty origin", now)
	}
	evs := drain(t, sub)
	if len(evs) != len(origins)-1 {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(origins)-1, evs)
	}
	for i, ev := range evs {
		if want := fmt.Sprintf(`"origin":%q`, origins[i+1]); !strings.Contains(ev.Data, want) {
			t.Errorf("event %d: %s, want %s", i, ev.Data, want)
		}
	}
}
