package stream_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tape"
	"tape/stream"
	"tape/ui"
)

// A market-sized node: scaleSymbols symbols, scaleFrames events in the
// history, over 6 partitions.
const (
	scaleSymbols = 200_000
	scaleFrames  = 200_000
	scaleParts   = 6
)

// scaleHub returns a hub holding frames events spread evenly over symbols
// symbols, and the symbols.
func scaleHub(b *testing.B, symbols, frames int) (*stream.Hub, []tape.Symbol) {
	b.Helper()
	h, err := stream.NewHub(stream.Config{HistorySize: frames, SymbolLimit: symbols + 1, HistoryAge: time.Hour, MaxResume: frames}, ui.SSE{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	h.Init(42, make([]int64, scaleParts), make([]int64, scaleParts))
	syms := make([]tape.Symbol, symbols)
	for i := range syms {
		syms[i] = tape.Symbol(fmt.Sprintf("S%06d", i))
	}
	next := make([]int64, scaleParts)
	batch := make([][]stream.Record, scaleParts)
	for i := range frames {
		sym := syms[i%symbols]
		p := i % scaleParts
		q := tape.Quote{Symbol: sym, Kind: tape.KindQuote, Bid: tape.MustPrice("100.01"), Ask: tape.MustPrice("100.02"),
			Time: t0.Add(time.Duration(i)), Source: "bench", Seq: tape.Seq{Partition: p, Offset: next[p]}}
		batch[p] = append(batch[p], stream.Record{Offset: next[p], Value: q.AppendJSON(nil), HighWater: next[p] + 1})
		next[p]++
		if len(batch[p]) == 16 {
			h.ApplyBatch(p, batch[p])
			batch[p] = batch[p][:0]
		}
	}
	for p, recs := range batch {
		h.ApplyBatch(p, recs)
	}
	return h, syms
}

type recordingWriter struct{ b []byte }

func (w *recordingWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// BenchmarkResumeAtScale resumes a 10-symbol watchlist from a token older
// than the whole history, with 200,000 symbols and 200,000 events held:
// the cost of one reconnect.
//
//	go test -run '^$' -bench ResumeAtScale -benchmem ./stream
func BenchmarkResumeAtScale(b *testing.B) {
	for _, tc := range []struct {
		name    string
		symbols int
	}{{"200k-symbols", scaleSymbols}, {"1k-symbols", 1000}} {
		b.Run(tc.name, func(b *testing.B) {
			h, syms := scaleHub(b, tc.symbols, scaleFrames)
			// A token from the start of the history: every event of the
			// watchlist is missed.
			token := oldestToken(b, h)
			watch := syms[:10]
			sent := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				sub, err := h.Subscribe(watch, token)
				if err != nil {
					b.Fatal(err)
				}
				var w countingWriter
				sub.WriteTo(&w)
				sent += w.writes
				sub.Close()
			}
			b.ReportMetric(float64(sent)/float64(b.N), "events/resume")
		})
	}
}

// oldestToken is a token for offsets 0 in every partition.
func oldestToken(b *testing.B, h *stream.Hub) string {
	b.Helper()
	g, _ := stream.NewHub(stream.Config{}, sse{})
	defer g.Close()
	g.Init(42, make([]int64, scaleParts), make([]int64, scaleParts))
	sub, _ := g.Subscribe([]tape.Symbol{"X"}, "")
	var w recordingWriter
	sub.WriteTo(&w)
	return parseEvents(b, w.b)[0].ID
}

// BenchmarkPageAtScale lists one page of 100 quotes from a random place in
// a universe of 200,000 symbols.
//
//	go test -run '^$' -bench PageAtScale -benchmem ./stream
func BenchmarkPageAtScale(b *testing.B) {
	h, syms := scaleHub(b, scaleSymbols, scaleFrames)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		qs, _ := h.Page(syms[rng.IntN(len(syms))], 100)
		if len(qs) == 0 {
			b.Fatal("empty page")
		}
	}
}

// BenchmarkApplyDelayUnderResumes applies events at full speed while 300
// resumes a second (each of a 10-symbol watchlist from the start of the
// history) run beside it, and reports the worst and the 99th percentile
// time one ApplyBatch of 16 records took: the delay the Kafka apply path
// sees.
//
//	go test -run '^$' -bench ApplyDelayUnderResumes -benchtime 20000x ./stream
func BenchmarkApplyDelayUnderResumes(b *testing.B) {
	for _, rate := range []int{0, 300} {
		b.Run(fmt.Sprintf("resumes=%d", rate), func(b *testing.B) { applyDelay(b, rate) })
	}
}

func applyDelay(b *testing.B, rate int) {
	h, syms := scaleHub(b, scaleSymbols, scaleFrames)
	token := oldestToken(b, h)
	stop := make(chan struct{})
	var resumes atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		if rate == 0 {
			return
		}
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			watch := syms[(i*10)%len(syms):][:10]
			sub, err := h.Subscribe(watch, token)
			if err != nil {
				continue
			}
			sub.WriteTo(io.Discard)
			sub.Close()
			resumes.Add(1)
		}
	})
	next := make([]int64, scaleParts)
	for p := range next {
		next[p] = h.Offset(p)
	}
	delays := make([]time.Duration, 0, b.N)
	recs := make([]stream.Record, 16)
	began := time.Now()
	b.ResetTimer()
	for i := range b.N {
		p := i % scaleParts
		for j := range recs {
			sym := syms[(i*16+j)%len(syms)]
			q := tape.Quote{Symbol: sym, Kind: tape.KindQuote, Bid: tape.MustPrice("100.03"), Ask: tape.MustPrice("100.04"),
				Time: t0.Add(time.Hour), Source: "bench", Seq: tape.Seq{Partition: p, Offset: next[p]}}
			recs[j] = stream.Record{Offset: next[p], Value: q.AppendJSON(nil), HighWater: next[p] + 1}
			next[p]++
		}
		t := time.Now()
		h.ApplyBatch(p, recs)
		delays = append(delays, time.Since(t))
		if i%64 == 0 {
			time.Sleep(time.Millisecond) // a feed, not a tight loop: let resumes interleave
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds()), "max-µs")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(resumes.Load())/time.Since(began).Seconds(), "resumes/s")
}
