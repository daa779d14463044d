package ui

import (
	"testing"
	"time"

	"tape"
)

func TestQuoteCells(t *testing.T) {
	p := tape.MustPrice
	for _, c := range []struct {
		name                   string
		q                      tape.Quote
		spread, diff, pct, dir string
	}{
		{"up", tape.Quote{Bid: p("10.00"), Ask: p("10.02"), Last: p("10.01"), Open: p("9.50")}, "0.02", "+0.51", "+5.37%", "up"},
		{"down", tape.Quote{Bid: p("0.3"), Ask: p("0.30000001"), Last: p("0.3"), Open: p("0.4")}, "0.00000001", "-0.10", "-25.00%", "down"},
		{"unchanged", tape.Quote{Bid: p("1"), Ask: p("1.01"), Last: p("2"), Open: p("2")}, "0.01", "+0.00", "+0.00%", ""},
		{"crossed", tape.Quote{Bid: p("10.02"), Ask: p("10.00")}, "-0.02", "—", "—", ""},
		{"no ask, no trade", tape.Quote{Bid: p("10")}, "—", "—", "—", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := spread(c.q); got != c.spread {
				t.Errorf("spread %q, want %q", got, c.spread)
			}
			if got := changeDiff(c.q); got != c.diff {
				t.Errorf("change %q, want %q", got, c.diff)
			}
			if got := changePct(c.q); got != c.pct {
				t.Errorf("pct %q, want %q", got, c.pct)
			}
			if got := direction(c.q); got != c.dir {
				t.Errorf("direction %q, want %q", got, c.dir)
			}
		})
	}
}

func TestSparkline(t *testing.T) {
	p := tape.MustPrice
	at := time.Unix(0, 0)
	q := func(last, bid, ask string) tape.Quote {
		var v tape.Quote
		v.Time = at
		if last != "" {
			v.Last = p(last)
		}
		if bid != "" {
			v.Bid, v.Ask = p(bid), p(ask)
		}
		return v
	}
	for _, c := range []struct {
		name                string
		qs                  []tape.Quote
		values, points, dir string
	}{
		{"none", nil, "", "", ""},
		{"one point draws nothing", []tape.Quote{q("1.5", "", "")}, "1.50", "", ""},
		{"rising", []tape.Quote{q("1", "", ""), q("2", "", ""), q("3", "", "")}, "1.00 2.00 3.00", "0.0,23.0 50.0,12.0 100.0,1.0", "up"},
		{"flat, mid before the first trade", []tape.Quote{q("", "0.99", "1.01"), q("1", "", "")}, "1.00 1.00", "0.0,12.0 100.0,12.0", ""},
		{"quotes without a price are skipped", []tape.Quote{q("2", "", ""), {}, q("1", "", "")}, "2.00 1.00", "0.0,1.0 100.0,23.0", "down"},
	} {
		t.Run(c.name, func(t *testing.T) {
			marks := make([]tape.Price, len(c.qs))
			for i := range c.qs {
				marks[i] = c.qs[i].Mark()
			}
			if got := sparkValues(marks); got != c.values {
				t.Errorf("values %q, want %q", got, c.values)
			}
			if got := sparkPoints(marks); got != c.points {
				t.Errorf("points %q, want %q", got, c.points)
			}
			if got := sparkDir(marks); got != c.dir {
				t.Errorf("direction %q, want %q", got, c.dir)
			}
		})
	}
}
