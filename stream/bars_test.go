package stream_test

import (
	"fmt"
	"testing"
	"time"

	"tape"
	"tape/stream"
)

// trades builds records of the quotes topic that report trades, one per
// print, all of sym on partition 0 at consecutive fold positions.
type trades struct {
	sym  tape.Symbol
	day  tape.Day
	next int64
}

func (tr *trades) rec(price string, size string, at time.Time, counts tape.Updates) record {
	p := tape.Print{Price: tape.MustPrice(price), Size: tape.MustSize(size), Time: at, Counts: counts}
	q := tape.Quote{
		Symbol: tr.sym, Kind: tape.KindTrade, Last: p.Price, LastSize: p.Size, Day: tr.day,
		Time: at, Source: "test", Origin: fmt.Sprintf("feeds.raw/0/%d/0", tr.next),
		Seq: tape.Seq{Partition: 0, Offset: tr.next}, Print: p,
	}
	r := record{0, tr.next, q.AppendJSON(nil)}
	tr.next++
	return r
}

type barText struct {
	T          int64
	O, H, L, C string
	V          string
}

func barsOf(t *testing.T, h *stream.Hub, sym tape.Symbol, width int) []barText {
	t.Helper()
	bars, _, err := h.Bars(sym, width)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]barText, len(bars))
	for i, b := range bars {
		out[i] = barText{b.Time, b.Open.String(), b.High.String(), b.Low.String(), b.Close.String(), b.Volume.String()}
	}
	return out
}

func TestBarsFromTrades(t *testing.T) {
	day := tape.MakeDay(2026, 11, 20)
	s0 := t0.Unix() // 14:30:00, a minute boundary
	for _, tc := range []struct {
		name            string
		prints          func(tr *trades) []record
		seconds, minute []barText
	}{
		{
			name: "one second and one minute from regular trades",
			prints: func(tr *trades) []record {
				return []record{
					tr.rec("10", "100", t0.Add(100*time.Millisecond), tape.AllUpdates),
					tr.rec("12", "50", t0.Add(300*time.Millisecond), tape.AllUpdates),
					tr.rec("9.5", "10", t0.Add(600*time.Millisecond), tape.AllUpdates),
					tr.rec("11", "40", t0.Add(900*time.Millisecond), tape.AllUpdates),
					tr.rec("11.25", "1", t0.Add(1500*time.Millisecond), tape.AllUpdates),
				}
			},
			seconds: []barText{{s0, "10", "12", "9.5", "11", "200"}, {s0 + 1, "11.25", "11.25", "11.25", "11.25", "1"}},
			minute:  []barText{{s0, "10", "12", "9.5", "11.25", "201"}},
		},
		{
			name: "an odd lot counts in volume and moves no price",
			prints: func(tr *trades) []record {
				return []record{
					tr.rec("10", "100", t0.Add(100*time.Millisecond), tape.AllUpdates),
					tr.rec("50", "7", t0.Add(200*time.Millisecond), tape.UpdatesVolume),
				}
			},
			seconds: []barText{{s0, "10", "10", "10", "10", "107"}},
			minute:  []barText{{s0, "10", "10", "10", "10", "107"}},
		},
		{
			name: "a trade that counts for nothing adds nothing",
			prints: func(tr *trades) []record {
				return []record{
					tr.rec("10", "100", t0.Add(100*time.Millisecond), tape.AllUpdates),
					tr.rec("99", "1000", t0.Add(200*time.Millisecond), 0),
				}
			},
			seconds: []barText{{s0, "10", "10", "10", "10", "100"}},
			minute:  []barText{{s0, "10", "10", "10", "10", "100"}},
		},
		{
			name: "a late report lands in its own bar, in time order within it",
			prints: func(tr *trades) []record {
				late := tape.UpdatesHighLow | tape.UpdatesVolume // not last: it came late
				return []record{
					tr.rec("10", "100", t0.Add(1100*time.Millisecond), tape.AllUpdates),
					tr.rec("11", "100", t0.Add(61*time.Second), tape.AllUpdates),
					tr.rec("8", "5", t0.Add(1050*time.Millisecond), late), // before the first trade of second 1
					tr.rec("13", "5", t0.Add(200*time.Millisecond), late), // second 0, which had no bar
				}
			},
			seconds: []barText{{s0, "13", "13", "13", "13", "5"}, {s0 + 1, "8", "10", "8", "10", "105"}, {s0 + 61, "11", "11", "11", "11", "100"}},
			minute:  []barText{{s0, "13", "13", "8", "10", "110"}, {s0 + 60, "11", "11", "11", "11", "100"}},
		},
		{
			name: "volume alone makes a bar without prices",
			prints: func(tr *trades) []record {
				return []record{tr.rec("10", "30", t0.Add(100*time.Millisecond), tape.UpdatesVolume)}
			},
			seconds: []barText{{s0, "0", "0", "0", "0", "30"}},
			minute:  []barText{{s0, "0", "0", "0", "0", "30"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t, stream.Config{})
			tr := &trades{sym: "AAPL", day: day}
			apply(h, tc.prints(tr))
			assertBars(t, barsOf(t, h, "AAPL", 1), tc.seconds)
			assertBars(t, barsOf(t, h, "AAPL", 60), tc.minute)
		})
	}
}

func assertBars(t *testing.T, got, want []barText) {
	t.Helper()
	norm := func(s string) string { return tape.MustPrice(s).String() }
	for i, w := range want {
		want[i] = barText{w.T, norm(w.O), norm(w.H), norm(w.L), norm(w.C), w.V}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bars\n got %v\nwant %v", got, want)
	}
}

func TestBarsKeepTheSessionAndDropOlderDays(t *testing.T) {
	h := newHub(t, stream.Config{})
	tr := &trades{sym: "MSFT", day: tape.MakeDay(2026, 11, 19)}
	var recs []record
	// More seconds than are kept: the oldest 1 s bars go, minutes stay.
	for i := range stream.SecondBarsKept + 30 {
		recs = append(recs, tr.rec("100", "1", t0.Add(-24*time.Hour+time.Duration(i)*time.Second), tape.AllUpdates))
	}
	apply(h, recs)
	sec := barsOf(t, h, "MSFT", 1)
	if len(sec) != stream.SecondBarsKept || sec[0].T != t0.Add(-24*time.Hour).Unix()+30 {
		t.Fatalf("1 s bars: %d from %d, want %d from %d", len(sec), sec[0].T, stream.SecondBarsKept, t0.Add(-24*time.Hour).Unix()+30)
	}
	if min := barsOf(t, h, "MSFT", 60); len(min) != 11 || min[0].V != "60" {
		t.Fatalf("1 m bars: %v", min)
	}
	// A late second older than every 1 s bar kept is left out of them.
	apply(h, []record{tr.rec("5", "1", t0.Add(-24*time.Hour), tape.AllUpdates)})
	if sec := barsOf(t, h, "MSFT", 1); len(sec) != stream.SecondBarsKept || sec[0].O != "100.00" {
		t.Fatalf("late print older than the 1 s bars kept changed them: %v", sec[0])
	}

	// The next trading day starts afresh; a straggler of the day before
	// changes nothing.
	tr.day = tape.MakeDay(2026, 11, 20)
	apply(h, []record{tr.rec("101", "3", t0, tape.AllUpdates)})
	tr.day = tape.MakeDay(2026, 11, 19)
	apply(h, []record{tr.rec("1", "1", t0.Add(-time.Hour), tape.AllUpdates)})
	bars, day, _ := h.Bars("MSFT", 60)
	if day != tape.MakeDay(2026, 11, 20) || len(bars) != 1 || bars[0].Open.String() != "101.00" {
		t.Fatalf("new day: %v %v", day, bars)
	}
	if got := h.Trades("MSFT"); len(got) != 1 || got[0].Price.String() != "101.00" {
		t.Fatalf("trades after the new day: %v", got)
	}
	if _, _, err := h.Bars("MSFT", 5); err == nil {
		t.Fatal("a 5 s width is accepted")
	}
}

func TestTradesNewestFirstBounded(t *testing.T) {
	h := newHub(t, stream.Config{})
	tr := &trades{sym: "IBM", day: tape.MakeDay(2026, 11, 20)}
	var recs []record
	for i := range stream.TradesKept + 5 {
		recs = append(recs, tr.rec(fmt.Sprint(100+i), "1", t0.Add(time.Duration(i)*time.Millisecond), tape.AllUpdates))
	}
	// A quote that reports no trade is not a trade.
	q := tape.Quote{Symbol: "IBM", Kind: tape.KindQuote, Bid: tape.MustPrice("1"), Ask: tape.MustPrice("2"), Day: tr.day,
		Time: t0.Add(time.Second), Source: "test", Seq: tape.Seq{Partition: 0, Offset: tr.next}}
	recs = append(recs, record{0, tr.next, q.AppendJSON(nil)})
	apply(h, recs)
	got := h.Trades("IBM")
	if len(got) != stream.TradesKept {
		t.Fatalf("%d trades, want %d", len(got), stream.TradesKept)
	}
	if first, last := got[0].Price, got[len(got)-1].Price; first != tape.MustPrice(fmt.Sprint(100+stream.TradesKept+4)) || last != tape.MustPrice("105") {
		t.Fatalf("trades from %s to %s", first, last)
	}
	if h.Trades("NONE") != nil {
		t.Fatal("trades of an unknown symbol")
	}
}

func TestChartsAreBounded(t *testing.T) {
	h := newHub(t, stream.Config{MaxCharts: 2})
	day := tape.MakeDay(2026, 11, 20)
	a, b, c := &trades{sym: "A", day: day}, &trades{sym: "B", day: day}, &trades{sym: "C", day: day}
	// Each symbol on its own partition, so positions do not collide.
	rec := func(tr *trades, p int, price string) record {
		r := tr.rec(price, "1", t0, tape.AllUpdates)
		q, _ := tape.ParseQuote(r.value)
		q.Seq.Partition = p
		r.p, r.value = p, q.AppendJSON(nil)
		return r
	}
	apply(h, []record{rec(a, 0, "1"), rec(b, 1, "2"), rec(a, 0, "3"), rec(c, 2, "4")})
	if got := h.Trades("B"); got != nil {
		t.Errorf("B, traded longest ago, keeps %d trades past MaxCharts", len(got))
	}
	if len(h.Trades("A")) != 2 || len(h.Trades("C")) != 1 {
		t.Errorf("A has %d trades, C %d", len(h.Trades("A")), len(h.Trades("C")))
	}
}

// BenchmarkApplyTrades applies trade records (each with a print) of 1,000
// symbols: the cost of a quote on the hub, bars, time and sales and
// movers included. Compare with quote records (no print, no bars):
//
//	go test -run '^$' -bench ApplyTrades -benchtime 100000x ./stream
func BenchmarkApplyTrades(b *testing.B) {
	for _, withPrint := range []bool{false, true} {
		b.Run(fmt.Sprintf("print=%v", withPrint), func(b *testing.B) {
			const symbols = 1000
			// Records are made for each run (fold positions must grow, or
			// the hub drops them as repeats): run with -benchtime 100000x.
			recs := make([]record, 0, b.N)
			for i := range cap(recs) {
				sym := tape.Symbol(fmt.Sprintf("S%04d", i%symbols))
				at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
				q := tape.Quote{Symbol: sym, Kind: tape.KindTrade, Open: tape.MustPrice("100"), Last: tape.Price(100_00000000 + int64(i%97)*1_000_000),
					Volume: tape.Size(int64(i+1) * 100_00000000), Day: tape.MakeDay(2026, 11, 20), Time: at, Source: "bench",
					Seq: tape.Seq{Partition: 0, Offset: int64(i)}}
				if withPrint {
					q.Print = tape.Print{Price: q.Last, Size: tape.MustSize("100"), Time: at, Counts: tape.AllUpdates}
				}
				recs = append(recs, record{0, int64(i), q.AppendJSON(nil)})
			}
			h, err := stream.NewHub(stream.Config{HistorySize: 1024}, sse{})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			h.Init(42, []int64{0}, []int64{0})
			b.ResetTimer()
			for i := range b.N {
				r := recs[i]
				h.Apply(0, int64(i), r.value, int64(i)+1)
			}
		})
	}
}

// BenchmarkMovers reads the top 10 of each list among 100,000 symbols.
func BenchmarkMovers(b *testing.B) {
	h, err := stream.NewHub(stream.Config{HistorySize: 1024}, sse{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	h.Init(42, []int64{0}, []int64{0})
	for i := range 100_000 {
		r := dayQuote(fmt.Sprintf("S%06d", i), 0, int64(i), "100", fmt.Sprintf("%d.%02d", 90+i%20, i%100), fmt.Sprint(1+i%5000), t0)
		h.Apply(0, int64(i), r.value, int64(i)+1)
	}
	b.ResetTimer()
	for range b.N {
		if m := h.Movers(10); len(m.Active) != 10 {
			b.Fatal(len(m.Active))
		}
	}
}
