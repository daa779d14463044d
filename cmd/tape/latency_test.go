package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// BenchmarkRawToSSE measures the whole path on a real broker: a raw
// Polygon trade produced to feeds.raw, through the ingester, the quotes
// topic and a web node, to an SSE client over HTTP. It reports latency
// percentiles from the produce call to the client's receipt.
//
//	TAPE_TEST_BROKERS=127.0.0.1:29092 go test -run '^$' -bench RawToSSE -benchtime 2000x ./cmd/tape
func BenchmarkRawToSSE(b *testing.B) {
	brokers := testBrokers(b)
	id := uniqueID(b)
	tt := newTopics(b, brokers, id, 3)
	start(b, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id, "--log-level", "warn"}, tt.flags()...)...)
	web := start(b, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id, "--drain", "0s", "--reject-unknown=false", "--log-level", "warn"}, tt.flags()...)...)
	base := "http://" + web.addrs["http"]
	waitReady(b, base)
	sse := openSSE(b, base+"/events?symbols=LAT", "")
	sse.next(b, 10*time.Second) // snapshot

	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(brokers, ",")...), Topic: tt.raw, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.CRC32Balancer{}, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	defer w.Close()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		now := time.Now()
		msg := fmt.Appendf(nil, `{"ev":"T","sym":"LAT","i":"%d","p":%d.5,"s":1,"t":%d}`, i, 100+i%50, now.UnixMilli())
		if err := w.WriteMessages(b.Context(), kafka.Message{Key: []byte("LAT"), Value: msg,
			Headers: []kafka.Header{{Key: "format", Value: []byte("polygon")}}}); err != nil {
			b.Fatal(err)
		}
		ev := sse.next(b, 10*time.Second)
		if ev.Event != "quote" || !strings.Contains(ev.Data, fmt.Sprintf(`"last":"%d.50"`, 100+i%50)) {
			b.Fatalf("event %d: %+v", i, ev)
		}
		lat = append(lat, ev.At.Sub(now))
		time.Sleep(2 * time.Millisecond) // ~ a few hundred messages a second, not a flood
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
