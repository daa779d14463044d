package stream_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"tape"
	"tape/stream"
)

// dayQuote is a record of sym on partition p at fold position off with
// the given open, last and volume.
func dayQuote(sym string, p int, off int64, open, last, volume string, at time.Time) record {
	q := tape.Quote{
		Symbol: tape.Symbol(sym), Kind: tape.KindTrade, Open: tape.MustPrice(open), Last: tape.MustPrice(last),
		High: tape.MustPrice(last), Low: tape.MustPrice(open), Volume: tape.MustSize(volume),
		Day: tape.MakeDay(2026, 11, 20), Time: at, Source: "test", Seq: tape.Seq{Partition: p, Offset: off},
	}
	return record{p, off, q.AppendJSON(nil)}
}

func symbolsOf(qs []tape.Quote) []string {
	out := []string{}
	for _, q := range qs {
		out = append(out, string(q.Symbol))
	}
	return out
}

func TestMovers(t *testing.T) {
	h := newHub(t, stream.Config{SymbolLimit: 4})
	apply(h, []record{
		dayQuote("UP", 0, 0, "100", "110", "500", t0),    // +10 %
		dayQuote("DOWN", 1, 0, "50", "45", "2000", t0),   // -10 %
		dayQuote("FLAT", 2, 0, "10", "10", "100", t0),    // 0
		dayQuote("LITTLE", 0, 1, "200", "202", "50", t0), // +1 %
		dayQuote("UP", 0, 2, "100", "104", "700", t0),    // UP moves back to +4 %
		dayQuote("DOWN", 1, 1, "50", "49.5", "2100", t0), // -1 %
		dayQuote("LITTLE", 0, 3, "200", "199", "60", t0), // -0.5 %
		dayQuote("DOWN", 1, 2, "50", "40", "2200", t0),   // -20 %
		dayQuote("LITTLE", 0, 4, "200", "190", "70", t0), // -5 %
		dayQuote("DOWN", 1, 3, "50", "47.5", "2300", t0), // -5 % too: ties go by name
	})
	m := h.Movers(10)
	for name, tc := range map[string]struct{ got, want []string }{
		"gainers": {symbolsOf(m.Gainers), []string{"UP"}},
		"losers":  {symbolsOf(m.Losers), []string{"DOWN", "LITTLE"}},
		"active":  {symbolsOf(m.Active), []string{"DOWN", "UP", "FLAT", "LITTLE"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %v, want %v", name, tc.got, tc.want)
		}
	}
	if m.Losers[0].Last.String() != "47.50" {
		t.Errorf("a mover shows its current quote: last %s", m.Losers[0].Last)
	}
	if got := symbolsOf(h.Movers(1).Active); !slices.Equal(got, []string{"DOWN"}) {
		t.Errorf("top 1 active: %v", got)
	}

	// A forgotten symbol leaves every list: a fifth symbol over
	// SymbolLimit 4 evicts the one updated longest ago (FLAT).
	apply(h, []record{dayQuote("NEW", 2, 1, "1", "3", "1", t0.Add(time.Second))})
	m = h.Movers(10)
	if got := symbolsOf(m.Active); !slices.Equal(got, []string{"DOWN", "UP", "LITTLE", "NEW"}) {
		t.Errorf("active after FLAT was forgotten: %v", got)
	}
	if got := symbolsOf(m.Gainers); !slices.Equal(got, []string{"NEW", "UP"}) {
		t.Errorf("gainers: %v", got)
	}
}

func TestSearch(t *testing.T) {
	h := newHub(t, stream.Config{})
	var recs []record
	for i, s := range []string{"AA", "AAPL", "AAL", "AB", "A", "MSFT", "AAPL.W"} {
		recs = append(recs, dayQuote(s, 0, int64(i), "1", "1", "1", t0))
	}
	apply(h, recs)
	for _, tc := range []struct {
		prefix string
		n      int
		want   []string
	}{
		{"AA", 10, []string{"AA", "AAL", "AAPL", "AAPL.W"}},
		{"AA", 2, []string{"AA", "AAL"}},
		{"AAPL", 10, []string{"AAPL", "AAPL.W"}},
		{"M", 10, []string{"MSFT"}},
		{"Z", 10, nil},
		{"", 3, []string{"A", "AA", "AAL"}},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.prefix, tc.n), func(t *testing.T) {
			var got []string
			for _, s := range h.Search(tc.prefix, tc.n) {
				got = append(got, string(s))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Search(%q, %d) = %v, want %v", tc.prefix, tc.n, got, tc.want)
			}
		})
	}
}
