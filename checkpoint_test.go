package tape_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"tape"
)

// randomEvents returns n events of one symbol over two trading days, with
// what feeds really do: late reports, repeats, one-sided quotes, deletes,
// sale conditions, cancels and corrections of earlier trades (and of
// unknown ones), trades without ids.
func randomEvents(r *rand.Rand, sym tape.Symbol, n int) []tape.Event {
	at := time.Date(2026, 3, 6, 14, 30, 0, 0, time.UTC) // a Friday before DST begins
	var ids []string
	var out []tape.Event
	price := func() tape.Price { return tape.Price(9_900_000_000 + r.Int64N(200)*1_000_000) }
	for len(out) < n {
		at = at.Add(time.Duration(r.IntN(90)) * time.Second)
		if r.IntN(200) == 0 {
			at = at.Add(24 * time.Hour) // the next day
		}
		t := at
		if r.IntN(10) == 0 {
			t = at.Add(-time.Duration(r.IntN(600)) * time.Second) // a late report
		}
		e := tape.Event{Symbol: sym, Time: t, Source: "rnd"}
		switch k := r.IntN(20); {
		case k < 7:
			e.Kind, e.Sides = tape.KindQuote, tape.Sides(1+r.IntN(3))
			if r.IntN(8) > 0 {
				e.Bid, e.BidSize = price(), tape.Size(r.Int64N(1000)*1e8)
			}
			if r.IntN(8) > 0 {
				e.Ask, e.AskSize = price()+1_000_000, tape.Size(r.Int64N(1000)*1e8)
			}
		case k < 16:
			e.Kind, e.Last, e.Size = tape.KindTrade, price(), tape.Size(r.Int64N(1e10))
			e.Ineligible = tape.Updates(r.IntN(16)) * tape.Updates(r.IntN(2))
			switch {
			case r.IntN(10) == 0:
				// no id: not remembered
			case len(ids) > 0 && r.IntN(8) == 0:
				e.TradeID, _ = tape.ParseTradeID([]byte(ids[r.IntN(len(ids))])) // a repeat
			default:
				id := fmt.Sprint(len(out))
				ids = append(ids, id)
				e.TradeID, _ = tape.ParseTradeID([]byte(id))
			}
		case k < 18:
			e.Kind = tape.KindCancel
			ref := "unknown"
			if len(ids) > 0 {
				ref = ids[r.IntN(len(ids))]
			}
			e.Ref, _ = tape.ParseTradeID([]byte(ref))
		default:
			e.Kind, e.Last, e.Size = tape.KindCorrection, price(), tape.Size(r.Int64N(1e10))
			ref := "unknown"
			if len(ids) > 0 {
				ref = ids[r.IntN(len(ids))]
			}
			e.Ref, _ = tape.ParseTradeID([]byte(ref))
			id := ref
			if r.IntN(2) == 0 {
				id = fmt.Sprint("c", len(out))
				ids = append(ids, id)
			}
			e.TradeID, _ = tape.ParseTradeID([]byte(id))
		}
		out = append(out, e)
	}
	return out
}

// TestCheckpointRoundTrip checks the property the fold stage relies on:
// fold(events[:k]) -> checkpoint -> parse -> fold(events[k:]) equals
// fold(events), quote by quote and in the final checkpoint's bytes, for
// random event sequences and random k.
func TestCheckpointRoundTrip(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 1))
		events := randomEvents(r, "RND", 50+r.IntN(400))
		k := r.IntN(len(events) + 1)

		whole := tape.NewFold("RND")
		var quotes []tape.Quote
		for i := range events {
			whole.Apply(&events[i], tape.Seq{Partition: 1, Offset: int64(i)})
			quotes = append(quotes, whole.Quote())
		}

		first := tape.NewFold("RND")
		for i := range events[:k] {
			first.Apply(&events[i], tape.Seq{Partition: 1, Offset: int64(i)})
		}
		cp := first.AppendCheckpoint(nil)
		restored, err := tape.ParseCheckpoint(cp)
		if err != nil {
			t.Fatalf("seed %d: ParseCheckpoint: %v\n%s", seed, err, cp)
		}
		if again := restored.AppendCheckpoint(nil); !bytes.Equal(again, cp) {
			t.Fatalf("seed %d: checkpoint does not round-trip:\n%s\n%s", seed, cp, again)
		}
		// A restarted stage re-reads from the checkpoint's position; the
		// event at that position is a repeat and must change nothing.
		if k > 0 && restored.Apply(&events[k-1], tape.Seq{Partition: 1, Offset: int64(k - 1)}) {
			t.Fatalf("seed %d: the event at the checkpoint's position was applied again", seed)
		}
		for i := k; i < len(events); i++ {
			restored.Apply(&events[i], tape.Seq{Partition: 1, Offset: int64(i)})
			if got := restored.Quote(); got != quotes[i] {
				t.Fatalf("seed %d, k %d, event %d (%s):\n got %s\nwant %s", seed, k, i, events[i].AppendJSON(nil), got.AppendJSON(nil), quotes[i].AppendJSON(nil))
			}
		}
		if a, b := restored.AppendCheckpoint(nil), whole.AppendCheckpoint(nil); !bytes.Equal(a, b) {
			t.Fatalf("seed %d: final checkpoints differ:\n%s\n%s", seed, a, b)
		}
	}
}

// TestCheckpointSize fills a fold to every bound, with long prices and
// sizes, and checks its checkpoint stays under MaxCheckpointBytes.
func TestCheckpointSize(t *testing.T) {
	f := tape.NewFold("ABCDEFGHIJKLMNOPQRSTUVWX")
	at := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	e := tape.Event{Symbol: "ABCDEFGHIJKLMNOPQRSTUVWX", Kind: tape.KindQuote | tape.KindTrade, Sides: tape.BothSides,
		Bid: tape.MaxPrice - 1, Ask: tape.MaxPrice, BidSize: tape.MaxSize, AskSize: tape.MaxSize, Size: tape.MaxSize - 1,
		Source: strings.Repeat("s", tape.MaxSourceLen), Origin: strings.Repeat("o", tape.MaxOriginLen)}
	for i := range 2 * tape.MaxFoldTrades {
		e.Time = at.Add(time.Duration(i) * time.Nanosecond)
		e.Last = tape.MaxPrice - tape.Price(i*12345678)
		e.TradeID, _ = tape.ParseTradeID([]byte(fmt.Sprintf("%048d", i)))
		f.Apply(&e, tape.Seq{Partition: 1 << 30, Offset: 1<<62 + int64(i)})
	}
	cp := f.AppendCheckpoint(nil)
	if len(cp) > tape.MaxCheckpointBytes {
		t.Fatalf("checkpoint of %d bytes, above MaxCheckpointBytes (%d)", len(cp), tape.MaxCheckpointBytes)
	}
	if _, err := tape.ParseCheckpoint(cp); err != nil {
		t.Fatalf("ParseCheckpoint of a full fold: %v", err)
	}
	t.Logf("a full checkpoint is %d bytes", len(cp))
}

func TestParseCheckpointRejects(t *testing.T) {
	at := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	f := tape.NewFold("AAPL")
	for i, p := range []string{"10.00", "10.50", "9.50"} {
		e := tradeAt("AAPL", p, "100", at.Add(time.Duration(i)*time.Second), withID(fmt.Sprint(i)))
		f.Apply(&e, tape.Seq{Partition: 0, Offset: int64(i)})
	}
	good := string(f.AppendCheckpoint(nil))
	if _, err := tape.ParseCheckpoint([]byte(good)); err != nil {
		t.Fatalf("good checkpoint: %v\n%s", err, good)
	}
	for _, tt := range []struct{ name, from, to string }{
		{"other version", `{"v":1,`, `{"v":2,`},
		{"levels out of order", `["9.50",1],["10.00",1]`, `["10.00",1],["9.50",1]`},
		{"a zero count", `["9.50",1]`, `["9.50",0]`},
		{"statistics that disagree with the ladder", `"high":"10.50"`, `"high":"11.00"`},
		{"a key twice", `"trades":[[`, `"trades":[[1,"1.00","1",0],[1,"1.00","1",0],[`},
		{"unknown flags", `"100",0]`, `"100",99]`},
		{"a row too short", `["9.50",1]`, `["9.50"]`},
		{"capped not a bool", `"capped":false`, `"capped":0`},
		{"quote not an object", `"quote":{`, `"quote":[{`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.from) {
				t.Fatalf("%q not in %s", tt.from, good)
			}
			bad := strings.Replace(good, tt.from, tt.to, 1)
			if _, err := tape.ParseCheckpoint([]byte(bad)); err == nil {
				t.Fatalf("accepted %s", bad)
			}
		})
	}
	if _, err := tape.ParseCheckpoint(bytes.Repeat([]byte(" "), tape.MaxCheckpointBytes+1)); err == nil {
		t.Fatal("accepted a checkpoint above MaxCheckpointBytes")
	}
}
