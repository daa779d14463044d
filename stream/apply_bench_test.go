package stream_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"tape"
	"tape/stream"
	"tape/ui"
)

// BenchmarkApplyBatch is a node's input path without Kafka: records of
// 1,000 symbols over 6 partitions, applied in fetched batches of 256 with
// no subscriber, as a node catching up does. ns/op and allocs/op are per
// event (parse, keep the newest quote, encode once, keep in the history);
// B/retained is the heap the history holds per retained event.
//
//	go test -run '^$' -bench ApplyBatch -benchmem ./stream
func BenchmarkApplyBatch(b *testing.B) {
	const (
		symbols = 1000
		parts   = 6
		batch   = 256
		// history is what the node retains; the events are reused in a
		// loop of that many, offsets always growing.
		history = 100_000
	)
	h, err := stream.NewHub(stream.Config{HistorySize: history, HistoryAge: time.Hour, SymbolLimit: 2 * symbols}, ui.SSE{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	if err := h.Init(42, make([]int64, parts), make([]int64, parts)); err != nil {
		b.Fatal(err)
	}
	// Every event is a new fold position (seq), as on the topic; they
	// are made before the clock starts.
	var values [parts][][]byte
	for i := range history + b.N {
		p, v := applyValue(i, symbols, parts)
		values[p] = append(values[p], v)
	}
	recs := make([]stream.Record, batch)
	offs := make([]int64, parts)
	apply := func(n int) {
		for done := 0; done < n; {
			for p := range parts {
				k := min(batch, n-done, len(values[p])-int(offs[p]))
				for j := range k {
					recs[j] = stream.Record{Offset: offs[p], Value: values[p][offs[p]], HighWater: offs[p] + 1}
					values[p][offs[p]] = nil
					offs[p]++
				}
				h.ApplyBatch(p, recs[:k])
				done += k
				if done >= n {
					break
				}
			}
		}
	}
	apply(history) // fill the history first: steady state
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	apply(b.N)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	values = [parts][][]byte{}
	st := h.Stats()
	if got := st.Applied.Load(); got != int64(history+b.N) {
		b.Fatalf("applied %d of %d", got, history+b.N)
	}
	if b.N >= history {
		b.ReportMetric(retainedPerEvent(b, symbols, parts), "B/retained")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
}

// applyValue is the i-th record of the input: its partition and value.
func applyValue(i, symbols, parts int) (int, []byte) {
	sym := tape.Symbol(fmt.Sprintf("S%04d", i%symbols))
	p := (i % symbols) % parts
	q := tape.Quote{Symbol: sym, Kind: tape.KindTrade, Bid: tape.Price(187_42000000 + int64(i%100)*1_000_000),
		Ask: tape.Price(187_44000000 + int64(i%100)*1_000_000), BidSize: tape.MustSize("100"), AskSize: tape.MustSize("300"),
		Last: tape.MustPrice("187.43"), LastSize: tape.MustSize("100"), Volume: tape.Size(int64(i) * 100_00000000),
		Open: tape.MustPrice("186.10"), High: tape.MustPrice("188.00"), Low: tape.MustPrice("185.95"),
		Day: tape.Day(20251120), Time: t0.Add(time.Duration(i) * time.Microsecond), Source: "polygon",
		Origin: fmt.Sprintf("feeds.raw/2/%d/0", i), Seq: tape.Seq{Partition: p, Offset: int64(i / parts)}}
	return p, q.AppendJSON(nil)
}

// retainedPerEvent is the heap one event in the history costs: the heap
// of a hub that retains 100,000 events less that of one that retains
// 1,000, over the difference, both after the same input (so that what
// every symbol keeps whatever the history, its recent ticks, cancels).
func retainedPerEvent(b *testing.B, symbols, parts int) float64 {
	heap := func(history int) uint64 {
		h, err := stream.NewHub(stream.Config{HistorySize: history, HistoryAge: time.Hour, SymbolLimit: 2 * symbols}, ui.SSE{})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		if err := h.Init(42, make([]int64, parts), make([]int64, parts)); err != nil {
			b.Fatal(err)
		}
		n := 200 * symbols // every symbol's recent ticks full
		for i := range n {
			p, v := applyValue(i, symbols, parts)
			h.Apply(p, int64(i/parts), v, int64(i/parts)+1)
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		runtime.KeepAlive(h)
		return ms.HeapAlloc
	}
	small, large := heap(1_000), heap(100_000)
	return float64(int64(large)-int64(small)) / 99_000
}

// cpuTime is the CPU time the process has used (user and system, every
// thread, the garbage collector included): on a shared machine it is a
// steadier cost than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
