package tape_test

import (
	"fmt"
	"testing"
	"time"

	"tape"
)

// Event builders for fold tests. Times are in UTC; ids are written as a
// normaliser would (venue:id).

func px(s string) tape.Price { return tape.MustPrice(s) }
func sz(s string) tape.Size  { return tape.MustSize(s) }

func mustID(tb testing.TB, s string) tape.TradeID {
	tb.Helper()
	id, err := tape.ParseTradeID([]byte(s))
	if err != nil {
		tb.Fatalf("ParseTradeID(%q): %v", s, err)
	}
	return id
}

type evOpt func(*tape.Event)

func withID(id string) evOpt {
	return func(e *tape.Event) { e.TradeID, _ = tape.ParseTradeID([]byte(id)) }
}
func withSkip(u tape.Updates) evOpt     { return func(e *tape.Event) { e.Ineligible = u } }
func withClass(c tape.AssetClass) evOpt { return func(e *tape.Event) { e.Class = c } }

func tradeAt(sym, last, size string, at time.Time, opts ...evOpt) tape.Event {
	e := tape.Event{Symbol: tape.Symbol(sym), Kind: tape.KindTrade, Last: px(last), Size: sz(size), Time: at, Source: "test"}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func quoteAt(sym, bid, ask string, at time.Time) tape.Event {
	e := tape.Event{Symbol: tape.Symbol(sym), Kind: tape.KindQuote, Sides: tape.BothSides, Time: at, Source: "test"}
	if bid != "" {
		e.Bid, e.BidSize = px(bid), sz("100")
	}
	if ask != "" {
		e.Ask, e.AskSize = px(ask), sz("100")
	}
	return e
}

func cancelOf(sym, ref string, at time.Time) tape.Event {
	e := tape.Event{Symbol: tape.Symbol(sym), Kind: tape.KindCancel, Time: at, Source: "test"}
	e.Ref, _ = tape.ParseTradeID([]byte(ref))
	return e
}

func correctionOf(sym, ref, id, last, size string, at time.Time) tape.Event {
	e := tradeAt(sym, last, size, at, withID(id))
	e.Kind = tape.KindCorrection
	e.Ref, _ = tape.ParseTradeID([]byte(ref))
	return e
}

// fold applies events in order, without positions, and returns the quote.
func fold(events ...tape.Event) tape.Quote {
	var f tape.Fold
	for i := range events {
		f.Apply(&events[i], tape.NoSeq)
	}
	return f.Quote()
}

// want lists the quote fields a case checks; empty strings are "null"
// (no price) and are checked too.
type want struct {
	bid, ask, last, lastSize, volume, open, high, low, day, state string
	time                                                          time.Time
}

func (w want) check(t *testing.T, q tape.Quote) {
	t.Helper()
	got := want{bid: q.Bid.String(), ask: q.Ask.String(), last: q.Last.String(), lastSize: q.LastSize.String(),
		volume: q.Volume.String(), open: q.Open.String(), high: q.High.String(), low: q.Low.String(),
		day: q.Day.String(), state: q.State(), time: q.Time}
	norm := func(p tape.Price) string {
		if p == 0 {
			return ""
		}
		return p.String()
	}
	got.bid, got.ask, got.last, got.open, got.high, got.low = norm(q.Bid), norm(q.Ask), norm(q.Last), norm(q.Open), norm(q.High), norm(q.Low)
	if w.time.IsZero() {
		got.time = time.Time{}
	}
	if got != w {
		t.Errorf("quote %s\n got %+v\nwant %+v", q.AppendJSON(nil), got, w)
	}
}

var now = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC) // a Friday, 10:00 in New York

func TestFoldCases(t *testing.T) {
	mon := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)    // a winter Monday (EST, UTC-5)
	monDST := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC) // the Monday after DST began (EDT, UTC-4)
	tests := []struct {
		name   string
		events []tape.Event
		want   want
	}{
		{
			name: "duplicate trade in one array or two messages counts once",
			events: []tape.Event{
				tradeAt("MSFT", "281.1", "2", now, withID("4:52983527388739")),
				tradeAt("MSFT", "281.1", "2", now, withID("4:52983527388739")),
			},
			want: want{last: "281.10", lastSize: "2", volume: "2", open: "281.10", high: "281.10", low: "281.10", day: "2026-11-20", time: now},
		},
		{
			name: "late report counts in volume but does not move last or time back",
			events: []tape.Event{
				tradeAt("LATE", "20.50", "100", now, withID("4:1")),
				tradeAt("LATE", "20.25", "300", now.Add(-10*time.Minute), withID("4:2")),
			},
			want: want{last: "20.50", lastSize: "100", volume: "400", open: "20.25", high: "20.50", low: "20.25", day: "2026-11-20", time: now},
		},
		{
			name: "sale conditions: a contingent trade counts in volume only",
			events: []tape.Event{
				tradeAt("CND", "109.41", "200", now, withID("4:1")),
				tradeAt("CND", "114.6247", "125984", now.Add(time.Second), withID("4:2"),
					withSkip(tape.PolygonCondition(53)|tape.PolygonCondition(52)|tape.PolygonCondition(41))),
			},
			want: want{last: "109.41", lastSize: "200", volume: "126184", open: "109.41", high: "109.41", low: "109.41", day: "2026-11-20", time: now.Add(time.Second)},
		},
		{
			name: "cancel takes the busted print out of volume and high",
			events: []tape.Event{
				tradeAt("CXL", "70.00", "100", now, withID("V:71684334236465")),
				tradeAt("CXL", "73.28", "20100", now.Add(time.Second), withID("V:71684334236466")),
				tradeAt("CXL", "70.01", "100", now.Add(2*time.Second), withID("V:71684334236467")),
				cancelOf("CXL", "V:71684334236466", now.Add(3*time.Second)),
			},
			want: want{last: "70.01", lastSize: "100", volume: "200", open: "70.00", high: "70.01", low: "70.00", day: "2026-11-20", time: now.Add(3 * time.Second)},
		},
		{
			name: "correction: the corrected values count, the original does not",
			events: []tape.Event{
				tradeAt("COR", "50.00", "100", now, withID("N:1")),
				tradeAt("COR", "50.90", "200", now.Add(time.Second), withID("N:2")),
				correctionOf("COR", "N:2", "N:3", "50.05", "300", now.Add(5*time.Second)),
			},
			want: want{last: "50.05", lastSize: "300", volume: "400", open: "50.00", high: "50.05", low: "50.00", day: "2026-11-20", time: now.Add(5 * time.Second)},
		},
		{
			name: "one-sided quote removes the ask",
			events: []tape.Event{
				quoteAt("ONE", "187.10", "187.20", now),
				quoteAt("ONE", "187.05", "", now.Add(time.Second)),
			},
			want: want{bid: "187.05", lastSize: "0", volume: "0", day: "2026-11-20", time: now.Add(time.Second)},
		},
		{
			name: "FIX delete of the bid",
			events: []tape.Event{
				quoteAt("FIXD", "100.00", "100.02", now),
				{Symbol: "FIXD", Kind: tape.KindQuote, Sides: tape.SideBid, Time: now, Source: "fix"},
			},
			want: want{ask: "100.02", lastSize: "0", volume: "0", day: "2026-11-20", time: now},
		},
		{
			name: "trading day: Monday evening stays on Monday, Tuesday opens at 14:30Z (winter)",
			events: []tape.Event{
				tradeAt("DAY", "10.00", "100", mon.Add(20*time.Hour), withID("1")),
				tradeAt("DAY", "10.50", "100", mon.Add(24*time.Hour+30*time.Minute), withID("2")),
				tradeAt("DAY", "11.00", "7", mon.Add(24*time.Hour+14*time.Hour+30*time.Minute), withID("3")),
			},
			want: want{last: "11.00", lastSize: "7", volume: "7", open: "11.00", high: "11.00", low: "11.00", day: "2026-01-06", time: mon.Add(38*time.Hour + 30*time.Minute)},
		},
		{
			name: "trading day across daylight saving (EDT)",
			events: []tape.Event{
				tradeAt("DAY", "10.00", "100", monDST.Add(20*time.Hour), withID("1")),
				tradeAt("DAY", "10.50", "100", monDST.Add(24*time.Hour+30*time.Minute), withID("2")),
				tradeAt("DAY", "11.00", "7", monDST.Add(38*time.Hour+30*time.Minute), withID("3")),
			},
			want: want{last: "11.00", lastSize: "7", volume: "7", open: "11.00", high: "11.00", low: "11.00", day: "2026-03-10", time: monDST.Add(38*time.Hour + 30*time.Minute)},
		},
		{
			name:   "fractional size is exact",
			events: []tape.Event{tradeAt("BINANCE:BTCUSDT", "7296.89", "0.011467", now, withID("~1"))},
			want:   want{last: "7296.89", lastSize: "0.011467", volume: "0.011467", open: "7296.89", high: "7296.89", low: "7296.89", day: "2026-11-20", time: now},
		},
		{
			name:   "negative futures price is shown",
			events: []tape.Event{tradeAt("CL=F", "-37.63", "1", time.Date(2020, 4, 20, 18, 30, 0, 0, time.UTC), withID("1"), withClass(tape.ClassFuture))},
			want:   want{last: "-37.63", lastSize: "1", volume: "1", open: "-37.63", high: "-37.63", low: "-37.63", day: "2020-04-20", time: time.Date(2020, 4, 20, 18, 30, 0, 0, time.UTC)},
		},
		{
			name: "volume saturates instead of wrapping, and the symbol keeps updating",
			events: []tape.Event{
				tradeAt("HUGE", "1.00", "92233720368", now, withID("1")),
				tradeAt("HUGE", "1.01", "1", now.Add(time.Second), withID("2")),
				tradeAt("HUGE", "1.02", "5", now.Add(2*time.Second), withID("3")),
			},
			want: want{last: "1.02", lastSize: "5", volume: "92233720368.54775807", open: "1.00", high: "1.02", low: "1.00", day: "2026-11-20", time: now.Add(2 * time.Second)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.check(t, fold(tt.events...))
		})
	}
	_ = fmt.Sprint
}

func TestFoldTimeNeverGoesBack(t *testing.T) {
	var f tape.Fold
	q1 := quoteAt("T", "10.00", "10.02", now)
	stale := quoteAt("T", "9.00", "9.02", now.Add(-time.Second))
	if !f.Apply(&q1, tape.NoSeq) || f.Apply(&stale, tape.NoSeq) {
		t.Fatal("the stale quote was applied, or the first was not")
	}
	want{bid: "10.00", ask: "10.02", lastSize: "0", volume: "0", day: "2026-11-20", time: now}.check(t, f.Quote())
	same := quoteAt("T", "10.01", "10.03", now) // the same time: later in sequence wins
	f.Apply(&same, tape.NoSeq)
	want{bid: "10.01", ask: "10.03", lastSize: "0", volume: "0", day: "2026-11-20", time: now}.check(t, f.Quote())
}

func TestFoldCancelRestoresStatistics(t *testing.T) {
	trades := []tape.Event{
		tradeAt("R", "10.00", "100", now, withID("1")),                    // the open
		tradeAt("R", "10.50", "100", now.Add(1*time.Second), withID("2")), // the high
		tradeAt("R", "9.50", "100", now.Add(2*time.Second), withID("3")),  // the low
		tradeAt("R", "10.10", "100", now.Add(3*time.Second), withID("4")),
		tradeAt("R", "10.20", "100", now.Add(4*time.Second), withID("5")), // the last
	}
	end := now.Add(time.Minute)
	for _, tt := range []struct {
		cancel string
		want   want
	}{
		{"1", want{last: "10.20", lastSize: "100", volume: "400", open: "10.50", high: "10.50", low: "9.50", day: "2026-11-20", time: end}},
		{"2", want{last: "10.20", lastSize: "100", volume: "400", open: "10.00", high: "10.20", low: "9.50", day: "2026-11-20", time: end}},
		{"3", want{last: "10.20", lastSize: "100", volume: "400", open: "10.00", high: "10.50", low: "10.00", day: "2026-11-20", time: end}},
		{"5", want{last: "10.10", lastSize: "100", volume: "400", open: "10.00", high: "10.50", low: "9.50", day: "2026-11-20", time: end}},
	} {
		t.Run("cancel "+tt.cancel, func(t *testing.T) {
			tt.want.check(t, fold(append(slicesClone(trades), cancelOf("R", tt.cancel, end))...))
		})
	}
	t.Run("cancel all", func(t *testing.T) {
		evs := slicesClone(trades)
		for _, id := range []string{"1", "2", "3", "4", "5"} {
			evs = append(evs, cancelOf("R", id, end))
		}
		want{lastSize: "0", volume: "0", day: "2026-11-20", time: end}.check(t, fold(evs...))
	})
	t.Run("a repeated cancel changes nothing more", func(t *testing.T) {
		var f tape.Fold
		for i := range trades {
			f.Apply(&trades[i], tape.NoSeq)
		}
		c := cancelOf("R", "2", end)
		if !f.Apply(&c, tape.NoSeq) || f.Apply(&c, tape.NoSeq) {
			t.Fatal("Apply of the cancel, then of its repeat: want true, false")
		}
		unknown := cancelOf("R", "99", end)
		if f.Apply(&unknown, tape.NoSeq) {
			t.Fatal("a cancel of an unknown trade changed the quote")
		}
	})
}

func slicesClone(evs []tape.Event) []tape.Event { return append([]tape.Event(nil), evs...) }

func TestFoldCorrections(t *testing.T) {
	base := []tape.Event{
		tradeAt("C", "10.00", "100", now, withID("1")),
		tradeAt("C", "10.50", "100", now.Add(time.Second), withID("2")),
	}
	later := now.Add(time.Minute)
	t.Run("a corrected last trade stays last", func(t *testing.T) {
		q := fold(append(slicesClone(base), tradeAt("C", "10.20", "50", now.Add(2*time.Second), withID("3")),
			correctionOf("C", "3", "3b", "10.25", "60", later))...)
		want{last: "10.25", lastSize: "60", volume: "260", open: "10.00", high: "10.50", low: "10.00", day: "2026-11-20", time: later}.check(t, q)
	})
	t.Run("a corrected earlier trade does not become last", func(t *testing.T) {
		q := fold(append(slicesClone(base), correctionOf("C", "1", "1b", "9.90", "100", later))...)
		want{last: "10.50", lastSize: "100", volume: "200", open: "9.90", high: "10.50", low: "9.90", day: "2026-11-20", time: later}.check(t, q)
	})
	t.Run("a correction under the same id (FIX 279=1)", func(t *testing.T) {
		q := fold(append(slicesClone(base), correctionOf("C", "2", "2", "10.40", "300", later))...)
		want{last: "10.40", lastSize: "300", volume: "400", open: "10.00", high: "10.40", low: "10.00", day: "2026-11-20", time: later}.check(t, q)
	})
	t.Run("a correction to volume only takes the print out of the prices", func(t *testing.T) {
		c := correctionOf("C", "2", "2b", "10.50", "100", later)
		c.Ineligible = tape.AllUpdates &^ tape.UpdatesVolume
		want{last: "10.00", lastSize: "100", volume: "200", open: "10.00", high: "10.00", low: "10.00", day: "2026-11-20", time: later}.check(t, fold(append(slicesClone(base), c)...))
	})
	t.Run("a repeated correction is applied once", func(t *testing.T) {
		c := correctionOf("C", "2", "2b", "10.40", "300", later)
		want{last: "10.40", lastSize: "300", volume: "400", open: "10.00", high: "10.40", low: "10.00", day: "2026-11-20", time: later}.check(t, fold(append(slicesClone(base), c, c)...))
	})
}

func TestFoldPositions(t *testing.T) {
	var f tape.Fold
	a := tradeAt("P", "1.00", "1", now, withID("a"))
	b := tradeAt("P", "1.01", "1", now.Add(time.Second), withID("b"))
	if !f.Apply(&a, tape.Seq{Partition: 3, Offset: 10}) {
		t.Fatal("first event not applied")
	}
	if f.Apply(&b, tape.Seq{Partition: 3, Offset: 10}) || f.Apply(&b, tape.Seq{Partition: 3, Offset: 9}) {
		t.Fatal("an event at a position already applied was applied")
	}
	if !f.Apply(&b, tape.Seq{Partition: 3, Offset: 11}) || f.Quote().Seq != (tape.Seq{Partition: 3, Offset: 11}) {
		t.Fatalf("the next position: seq %v", f.Quote().Seq)
	}
	other := tradeAt("OTHER", "5", "1", now.Add(2*time.Second), withID("c"))
	if f.Apply(&other, tape.Seq{Partition: 3, Offset: 12}) || f.Quote().Symbol != "P" {
		t.Fatal("an event of another symbol was applied")
	}
	if q := tape.NewFold("Q").Quote(); q.Symbol != "Q" || q.Seq != tape.NoSeq {
		t.Fatalf("NewFold: %+v", q)
	}
}

func TestFoldTradingDayRoll(t *testing.T) {
	mon := time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)
	var f tape.Fold
	evs := []tape.Event{
		quoteAt("D", "10.00", "10.02", mon),
		tradeAt("D", "10.01", "100", mon, withID("1")),
		quoteAt("D", "10.10", "10.12", mon.Add(24*time.Hour)), // Tuesday's first event
	}
	for i := range evs {
		f.Apply(&evs[i], tape.NoSeq)
	}
	// Tuesday before its first trade: the book and yesterday's last stay,
	// the day's statistics restart.
	want{bid: "10.10", ask: "10.12", last: "10.01", lastSize: "100", volume: "0", day: "2026-01-06", time: mon.Add(24 * time.Hour)}.check(t, f.Quote())
	late := tradeAt("D", "10.05", "100", mon.Add(time.Hour), withID("2")) // Monday's, reported on Tuesday
	if f.Apply(&late, tape.NoSeq) {
		t.Fatal("a trade of an earlier day was applied")
	}
	bust := cancelOf("D", "1", mon.Add(24*time.Hour+time.Minute))
	if f.Apply(&bust, tape.NoSeq) {
		t.Fatal("a cancel of an earlier day's trade was applied")
	}
	want{bid: "10.10", ask: "10.12", last: "10.01", lastSize: "100", volume: "0", day: "2026-01-06", time: mon.Add(24 * time.Hour)}.check(t, f.Quote())
}

func TestFoldVolumeCap(t *testing.T) {
	evs := []tape.Event{
		tradeAt("V", "1", "92233720000", now, withID("1")),
		tradeAt("V", "1", "1000", now, withID("2")), // overflows: volume saturates
		cancelOf("V", "1", now),                     // after the cap, volume stays
		tradeAt("V", "2", "1", now.Add(time.Second), withID("3")),
	}
	want{last: "2.00", lastSize: "1", volume: "92233720368.54775807", open: "1.00", high: "2.00", low: "1.00", day: "2026-11-20", time: now.Add(time.Second)}.check(t, fold(evs...))
}

func TestFoldBounds(t *testing.T) {
	var f tape.Fold
	// More distinct prices than the ladder holds: the extremes stay exact.
	n := tape.MaxFoldLevels * 3
	for i := range n {
		e := tradeAt("B", fmt.Sprintf("%d.01", 100+i), "1", now.Add(time.Duration(i)*time.Millisecond), withID(fmt.Sprint(i)))
		f.Apply(&e, tape.NoSeq)
	}
	q := f.Quote()
	if q.High != px(fmt.Sprintf("%d.01", 100+n-1)) || q.Low != px("100.01") || q.Volume != sz(fmt.Sprint(n)) {
		t.Fatalf("high %s low %s volume %s", q.High, q.Low, q.Volume)
	}
	// The open survives as long as its window has trades: cancel the
	// first MaxFoldEdges-1 and the next one is the open.
	for i := range tape.MaxFoldEdges - 1 {
		c := cancelOf("B", fmt.Sprint(i), now.Add(time.Hour))
		f.Apply(&c, tape.NoSeq)
	}
	if got := f.Quote().Open; got != px(fmt.Sprintf("%d.01", 100+tape.MaxFoldEdges-1)) {
		t.Fatalf("open after cancels %s", got)
	}
	// A repeat of a trade older than the MaxFoldTrades remembered counts
	// again (the documented bound); a recent one does not.
	g := tape.NewFold("B")
	for i := range tape.MaxFoldTrades + 1 {
		e := tradeAt("B", "1", "1", now, withID(fmt.Sprint(i)))
		g.Apply(&e, tape.NoSeq)
	}
	old := tradeAt("B", "1", "1", now, withID("0"))
	recent := tradeAt("B", "1", "1", now, withID(fmt.Sprint(tape.MaxFoldTrades)))
	if g.Apply(&recent, tape.NoSeq) || !g.Apply(&old, tape.NoSeq) {
		t.Fatal("the recent repeat counted, or the forgotten one did not")
	}
}

// TestFoldPrints checks the trade each quote reports (Quote.Print), which
// time and sales and bars use: a late report or an odd lot is printed
// with what it counted for, a repeat or a quote prints nothing.
func TestFoldPrints(t *testing.T) {
	late := now.Add(-time.Minute)
	tests := []struct {
		name    string
		before  []tape.Event
		ev      tape.Event
		changed bool
		want    tape.Print
	}{
		{name: "regular trade", ev: tradeAt("P", "10.00", "100", now),
			changed: true, want: tape.Print{Price: px("10"), Size: sz("100"), Time: now, Counts: tape.AllUpdates}},
		{name: "late report keeps last", before: []tape.Event{tradeAt("P", "10.00", "100", now)}, ev: tradeAt("P", "9.50", "200", late),
			changed: true, want: tape.Print{Price: px("9.5"), Size: sz("200"), Time: late, Counts: tape.UpdatesHighLow | tape.UpdatesOpen | tape.UpdatesVolume}},
		{name: "odd lot counts in volume only", ev: tradeAt("P", "10.10", "7", now, withSkip(tape.UpdatesLast|tape.UpdatesHighLow|tape.UpdatesOpen)),
			changed: true, want: tape.Print{Price: px("10.1"), Size: sz("7"), Time: now, Counts: tape.UpdatesVolume}},
		{name: "repeat prints nothing", before: []tape.Event{tradeAt("P", "10.00", "100", now, withID("1:9"))}, ev: tradeAt("P", "10.00", "100", now, withID("1:9"))},
		{name: "quote after a trade prints nothing", before: []tape.Event{tradeAt("P", "10.00", "100", now)}, ev: quoteAt("P", "9.99", "10.01", now), changed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f tape.Fold
			for i := range tt.before {
				f.Apply(&tt.before[i], tape.NoSeq)
			}
			if got := f.Apply(&tt.ev, tape.NoSeq); got != tt.changed {
				t.Fatalf("Apply = %v, want %v", got, tt.changed)
			}
			if !tt.changed {
				return
			}
			q := f.Quote()
			if q.Print != tt.want {
				t.Fatalf("print %+v, want %+v", q.Print, tt.want)
			}
			back, err := tape.ParseQuote(q.AppendJSON(nil))
			if err != nil || back.Print != q.Print {
				t.Fatalf("round trip: %+v, %v", back.Print, err)
			}
		})
	}
}
