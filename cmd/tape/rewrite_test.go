package main

import (
	"testing"
	"time"

	"tape"
	"tape/feed"
	"tape/ingest"
)

// TestRewrittenTradesAreNewTrades: a recorded trade played again with its
// time moved (the demo's loop, replay --rewrite-time) is a new trade, with
// an id of its own in every format that carries ids, so the fold counts it
// instead of dropping it as a repeat of the first pass.
func TestRewrittenTradesAreNewTrades(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	id, _ := tape.MakeTradeID(nil, []byte("52983527388739"))
	ev := tape.Event{Symbol: "AAPL", Kind: tape.KindTrade, Last: tape.MustPrice("187.43"), Size: tape.MustSize("100"),
		TradeID: id, Time: t0, Source: "feed"}
	for _, format := range []string{tape.FormatTape, tape.FormatPolygon, tape.FormatAlpaca, tape.FormatFIX} {
		t.Run(format, func(t *testing.T) {
			msg, err := feed.Encode(format, nil, ev)
			if err != nil {
				t.Fatal(err)
			}
			r := newTimeRewriter()
			f, _ := ingest.Lookup(format)
			seen := map[string]bool{}
			for pass := range 3 {
				out, err := r.rewrite(format, msg, time.Duration(pass)*time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				evs, rejects := f.Normalize(nil, out)
				if len(evs) != 1 || len(rejects) != 0 {
					t.Fatalf("pass %d: %s does not normalise: %v", pass, out, rejects)
				}
				if got := evs[0].Time; !got.Equal(t0.Add(time.Duration(pass) * time.Hour)) {
					t.Errorf("pass %d: time %v", pass, got)
				}
				key := evs[0].TradeID.String()
				if seen[key] {
					t.Fatalf("pass %d: trade id %s again: the fold would drop it", pass, key)
				}
				seen[key] = true
			}
		})
	}
}
