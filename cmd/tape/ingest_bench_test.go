package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape/replay"
)

// BenchmarkIngestThroughput measures one ingester against the real broker:
// a backlog of raw Polygon messages (four quotes to a trade, 200 symbols)
// is produced first, then the timer runs while one in-process ingester
// turns it into quotes. It reports raw messages per second and the CPU
// seconds this process used per million messages.
//
//	TAPE_TEST_BROKERS=127.0.0.1:29092 go test -run '^$' -bench IngestThroughput -benchtime 200000x ./cmd/tape
func BenchmarkIngestThroughput(b *testing.B) {
	brokers := testBrokers(b)
	id := uniqueID(b)
	tt := newTopics(b, brokers, id, 6)
	n := b.N
	w := replay.NewWriter(strings.Split(brokers, ","))
	w.BatchSize = 5000
	defer w.Close()
	base := time.Now().Add(-time.Hour)
	batch := make([]kafka.Message, 0, 5000)
	for i := range n {
		sym := fmt.Sprintf("B%03d", i%200)
		t := base.Add(time.Duration(i) * time.Microsecond).UnixNano()
		var v []byte
		if i%5 == 4 {
			v = fmt.Appendf(nil, `{"ev":"T","sym":"%s","x":4,"i":"%d","z":3,"p":%d.25,"s":100,"c":[0,12],"t":%d}`, sym, i, 100+i%50, t)
		} else {
			v = fmt.Appendf(nil, `{"ev":"Q","sym":"%s","bx":4,"bp":%d.12,"bs":100,"ax":7,"ap":%d.14,"as":200,"c":0,"t":%d}`, sym, 100+i%50, 100+i%50, t)
		}
		batch = append(batch, kafka.Message{Topic: tt.raw, Key: []byte(sym), Value: v, Headers: []kafka.Header{{Key: "format", Value: []byte("polygon")}}})
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.WriteMessages(b.Context(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	began := time.Now()
	start(b, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id, "--log-level", "warn"}, tt.flags()...)...)
	waitForOffsets(b, brokers, tt.quotes, int64(n), 10*time.Minute)
	elapsed := time.Since(began)
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	b.ReportMetric(cpu.Seconds()*1e6/float64(n), "cpu-µs/msg")
}
