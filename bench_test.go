package tape_test

import (
	"fmt"
	"testing"
	"time"

	"tape"
)

// Records as the quotes topics carry them.
var (
	benchQuote = []byte(`{"symbol":"AAPL","kind":"trade","bid":"187.42","ask":"187.44","bid_size":"100","ask_size":"300","last":"187.43","last_size":"100","volume":"125000","open":"186.10","high":"188.00","low":"185.95","state":"","day":"2026-11-20","ts":"2026-11-20T14:30:01.123000000Z","source":"polygon","origin":"feeds.raw/2/1207/0","seq":"3/5521","print":{"price":"187.43","size":"100","ts":"2026-11-20T14:30:01.123000000Z","counts":"last,high_low,open,volume"}}`)
	benchEvent = []byte(`{"symbol":"AAPL","kind":"trade","class":"equity","day":"2026-11-20","last":"187.43","size":"100","id":"12:52983527388739","ts":"2026-11-20T14:30:01.123000000Z","source":"polygon","origin":"feeds.raw/2/1207/0"}`)
)

func BenchmarkParseQuote(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchQuote)))
	for b.Loop() {
		if _, err := tape.ParseQuote(benchQuote); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEvent(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		if _, err := tape.ParseEvent(benchEvent); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEvents is a realistic stream for one symbol: quotes and trades,
// one trade in five with an odd-lot condition, with ids.
func benchEvents(n int) []tape.Event {
	t0 := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	evs := make([]tape.Event, n)
	for i := range evs {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		p := tape.Price(18742000000 + int64(i%50)*1000000)
		if i%3 == 0 {
			evs[i] = tape.Event{Symbol: "AAPL", Kind: tape.KindTrade, Class: tape.ClassEquity, Day: tape.MakeDay(2026, 11, 20),
				Last: p, Size: tape.Size(100e8), Time: at, Source: "polygon"}
			evs[i].TradeID, _ = tape.ParseTradeID(fmt.Appendf(nil, "12:%d", i))
			if i%5 == 0 {
				evs[i].Ineligible = tape.AllUpdates &^ tape.UpdatesVolume
			}
			continue
		}
		evs[i] = tape.Event{Symbol: "AAPL", Kind: tape.KindQuote, Sides: tape.BothSides, Class: tape.ClassEquity, Day: tape.MakeDay(2026, 11, 20),
			Bid: p, Ask: p + 1000000, BidSize: tape.Size(100e8), AskSize: tape.Size(300e8), Time: at, Source: "polygon"}
	}
	return evs
}

func BenchmarkFoldApply(b *testing.B) {
	evs := benchEvents(1 << 16)
	f := tape.NewFold("AAPL")
	for i := range evs[:4096] { // a warm fold: full windows, a remembered day
		f.Apply(&evs[i], tape.NoSeq)
	}
	b.ReportAllocs()
	i := 4096
	for b.Loop() {
		f.Apply(&evs[i&(len(evs)-1)], tape.Seq{Partition: 0, Offset: int64(i)})
		i++
	}
}

func BenchmarkCheckpoint(b *testing.B) {
	evs := benchEvents(3 * tape.MaxFoldTrades)
	f := tape.NewFold("AAPL")
	for i := range evs {
		f.Apply(&evs[i], tape.NoSeq)
	}
	cp := f.AppendCheckpoint(nil)
	b.Run("Append", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(cp)))
		buf := make([]byte, 0, len(cp))
		for b.Loop() {
			buf = f.AppendCheckpoint(buf[:0])
		}
	})
	b.Run("Parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(cp)))
		for b.Loop() {
			if _, err := tape.ParseCheckpoint(cp); err != nil {
				b.Fatal(err)
			}
		}
	})
}
