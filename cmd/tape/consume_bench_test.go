package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/replay"
	"tape/stream"
	"tape/ui"
)

// BenchmarkNodeCatchUp measures a web node's input capacity against the
// real broker: a backlog of b.N folded quotes (1,000 symbols, 6
// partitions) is produced first, then the timer runs while a hub with no
// subscribers reads and applies all of it (Consume, as `tape serve`
// does). It reports events per second and the CPU this process used per
// event.
//
//	TAPE_TEST_BROKERS=127.0.0.1:29092 go test -run '^$' -bench NodeCatchUp -benchtime 1000000x ./cmd/tape
func BenchmarkNodeCatchUp(b *testing.B) {
	brokers := testBrokers(b)
	id := uniqueID(b)
	tt := newTopics(b, brokers, id, 6)
	n := b.N
	w := replay.NewWriter(strings.Split(brokers, ","))
	w.BatchSize = 5000
	defer w.Close()
	base := time.Now().Add(-time.Minute)
	next := map[int]int64{}
	batch := make([]kafka.Message, 0, 5000)
	syms := make([]tape.Symbol, 1000)
	for i := range syms {
		syms[i] = tape.Symbol(fmt.Sprintf("C%03d", i))
	}
	for i := range n {
		sym := syms[i%len(syms)]
		p := symPartition(string(sym), 6) // where the writer's CRC32 balancer puts it
		q := tape.Quote{Symbol: sym, Kind: tape.KindQuote, Bid: tape.Price(100_00000000 + int64(i%5000)*1_000_000),
			Ask: tape.Price(100_01000000 + int64(i%5000)*1_000_000), BidSize: tape.MustSize("100"), AskSize: tape.MustSize("200"),
			Time: base.Add(time.Duration(i) * time.Microsecond), Source: "polygon", Origin: "feeds.raw/0/1/0",
			Seq: tape.Seq{Partition: p, Offset: next[p]}}
		next[p]++
		batch = append(batch, kafka.Message{Topic: tt.quotes, Key: []byte(sym), Value: q.AppendJSON(nil)})
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.WriteMessages(b.Context(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	hub, err := stream.NewHub(stream.Config{HistorySize: max(n, 1), HistoryAge: time.Hour}, ui.SSE{})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	began := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- hub.Consume(ctx, stream.KafkaConfig{Brokers: strings.Split(brokers, ","), Topic: tt.quotes, LatestTopic: tt.latest, Group: "bench-" + id})
	}()
	for hub.Stats().Applied.Load()+hub.Stats().Repeats.Load()+hub.Stats().Invalid.Load() < int64(n) {
		time.Sleep(5 * time.Millisecond)
		if time.Since(began) > 10*time.Minute {
			b.Fatalf("applied %d of %d in 10 minutes", hub.Stats().Applied.Load(), n)
		}
	}
	elapsed := time.Since(began)
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cancel()
	<-done
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	b.ReportMetric(cpu.Seconds()*1e6/float64(n), "cpu-µs/event")
	b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
}
