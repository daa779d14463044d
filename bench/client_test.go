package bench

import (
	"testing"
	"time"

	"tape"
)

// TestLoadCountsQuotesAsTheNodeWritesThem: the client reads the sequence
// number from bid_size as tape encodes quotes (sizes are decimal
// strings), so it counts events, gaps and duplicates, not nothing.
func TestLoadCountsQuotesAsTheNodeWritesThem(t *testing.T) {
	l := &Load{cfg: Config{Base: 100}}
	l.recording.Store(true)
	s := &sub{syms: []string{"AAPL"}, last: []int64{0}}
	now := time.Now()
	frame := func(name string, seq int64) []byte {
		q := tape.Quote{Symbol: "AAPL", Bid: tape.MustPrice("1.5"), BidSize: tape.Size(seq) * 100_000_000, Time: now, Source: "bench"}
		data := q.AppendJSON(nil)
		if name == "snapshot" {
			data = append(append([]byte(`{"reason":"new","quotes":[`), data...), "]}"...)
		}
		return append(append([]byte("id: x\nevent: "+name+"\ndata: "), data...), '\n')
	}
	if !l.event(s, frame("snapshot", 101), now) || s.last[0] != 101 {
		t.Fatalf("snapshot: last %d, want 101", s.last[0])
	}
	for _, seq := range []int64{102, 104, 104} { // 103 missing, 104 twice
		l.event(s, frame("quote", seq), now)
	}
	if got := [3]int64{l.events.Load(), l.gaps.Load(), l.dups.Load()}; got != [3]int64{2, 1, 1} {
		t.Fatalf("events, gaps, duplicates = %v, want [2 1 1]", got)
	}
}

// TestLoadCountsDeltas: a delta event (no name, short keys) is counted
// like a full quote.
func TestLoadCountsDeltas(t *testing.T) {
	l := &Load{cfg: Config{Base: 100}}
	l.recording.Store(true)
	s := &sub{syms: []string{"AAPL"}, last: []int64{101}}
	t0 := time.Now().Add(-3 * time.Second)
	s.setTS(0, tape.AppendTime(nil, t0))
	for _, seq := range []int64{102, 103} {
		l.recording.Store(seq == 103) // the first arrives during the warm-up
		prev := tape.Quote{Symbol: "AAPL", BidSize: tape.Size(seq-1) * 100_000_000, Time: t0.Add(time.Duration(seq-102) * time.Second)}
		q := prev
		q.BidSize, q.Time = tape.Size(seq)*100_000_000, prev.Time.Add(time.Second)
		l.event(s, append(append([]byte("id: x\ndata: "), q.AppendDelta(nil, &prev)...), '\n'), time.Now())
	}
	if got := [3]int64{l.events.Load(), l.gaps.Load(), s.last[0]}; got != [3]int64{1, 0, 103} {
		t.Fatalf("events, gaps, last = %v, want [1 0 103]", got)
	}
	// The ts the tails make is the quote's own (t0+2s): latency ~1 s.
	if n, lo := l.Latency.Count(), l.Latency.Quantile(0); n != 1 || lo < 900*time.Millisecond || lo > 1500*time.Millisecond {
		t.Fatalf("latency samples %d, lowest %v: want 1 near 1s", n, lo)
	}
}
