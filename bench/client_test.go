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
	now := time.Now()
	for _, seq := range []int64{102, 103} {
		prev := tape.Quote{Symbol: "AAPL", BidSize: tape.Size(seq-1) * 100_000_000, Time: now}
		q := prev
		q.BidSize, q.Time = tape.Size(seq)*100_000_000, now.Add(time.Millisecond)
		l.event(s, append(append([]byte("id: x\ndata: "), q.AppendDelta(nil, &prev)...), '\n'), now)
	}
	if got := [3]int64{l.events.Load(), l.gaps.Load(), s.last[0]}; got != [3]int64{2, 0, 103} {
		t.Fatalf("events, gaps, last = %v, want [2 0 103]", got)
	}
}
