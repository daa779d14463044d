package stream_test

import (
	"fmt"
	"io"
	"testing"

	"tape"
	"tape/stream"
	"tape/ui"
)

// BenchmarkApplyFanOut applies one quote and queues it to n subscribers
// of its symbol, each of which then drains it as its connection's writer
// would. ns/op and allocs/op are per event; divide by n for per delivery.
//
//	go test -run '^$' -bench ApplyFanOut -benchmem ./stream
func BenchmarkApplyFanOut(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 5000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			h, err := stream.NewHub(stream.Config{MaxSubscribers: n, HistorySize: 10_000}, ui.SSE{})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			if err := h.Init(42, []int64{0, 0, 0}, []int64{0, 0, 0}); err != nil {
				b.Fatal(err)
			}
			recs := feed(b.N, "AAPL") // origins never repeat: a repeat is dropped
			subs := make([]*stream.Subscriber, n)
			for i := range subs {
				if subs[i], err = h.Subscribe([]tape.Symbol{"AAPL"}, ""); err != nil {
					b.Fatal(err)
				}
				subs[i].WriteTo(io.Discard) // the snapshot
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r := recs[i]
				h.Apply(r.p, int64(i), r.value, int64(i)+1)
				for _, s := range subs {
					s.WriteTo(io.Discard)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkWriteToCoalesced drains k waiting events into one writer, as
// one flush of a connection: the cost per event falls as k grows.
func BenchmarkWriteToCoalesced(b *testing.B) {
	for _, k := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("events=%d", k), func(b *testing.B) {
			h, err := stream.NewHub(stream.Config{HistorySize: 10_000}, ui.SSE{})
			if err != nil {
				b.Fatal(err)
			}
			h.Init(42, []int64{0, 0, 0}, []int64{0, 0, 0})
			sub, err := h.Subscribe([]tape.Symbol{"AAPL"}, "")
			if err != nil {
				b.Fatal(err)
			}
			sub.WriteTo(io.Discard)
			recs := feed(b.N*k, "AAPL")
			w := &countingWriter{}
			off := int64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for range k {
					r := recs[off]
					h.Apply(r.p, off, r.value, off+1)
					off++
				}
				b.StartTimer()
				sub.WriteTo(w)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k), "ns/event")
			b.ReportMetric(float64(w.writes)/float64(b.N*k), "Write-calls/event") // one per frame; the connection buffer makes them one syscall
		})
	}
}

type countingWriter struct{ writes int }

func (w *countingWriter) Write(p []byte) (int, error) { w.writes++; return len(p), nil }
