package stream_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/stream"
)

// TestBackfillOpensChartsWithTheSession starts a node whose history
// window (10 minutes) holds one trade of a session that began two hours
// earlier: Backfill puts the earlier trades in the 1 m bars, while time
// and sales lists only what the node read live.
func TestBackfillOpensChartsWithTheSession(t *testing.T) {
	brokers := os.Getenv("TAPE_TEST_BROKERS")
	if brokers == "" {
		t.Skip("TAPE_TEST_BROKERS is not set; make test starts a broker")
	}
	id := time.Now().UnixNano()
	quotes, latest := fmt.Sprintf("quotes-backfill-%d", id), fmt.Sprintf("latest-backfill-%d", id)
	client := &kafka.Client{Addr: kafka.TCP(brokers), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	res, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: quotes, NumPartitions: 1, ReplicationFactor: 1},
		{Topic: latest, NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}},
	}})
	if err != nil || res.Errors[quotes] != nil || res.Errors[latest] != nil {
		t.Fatalf("create topics: %v %v", err, res)
	}

	now := time.Now().Truncate(time.Minute)
	open := now.Add(-2 * time.Hour)
	tr := &trades{sym: "AAPL", day: tape.MakeDay(2026, 11, 20)}
	recs := []record{
		tr.rec("10", "100", open.Add(5*time.Second), tape.AllUpdates),
		tr.rec("11", "50", open.Add(20*time.Second), tape.AllUpdates),
		tr.rec("9", "10", open.Add(70*time.Second), tape.AllUpdates),
		tr.rec("12", "1", now.Add(-time.Minute), tape.AllUpdates), // in the history window
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		at := open.Add(time.Duration(i) * time.Minute) // the broker's timestamps, which the history window goes by
		if i == len(recs)-1 {
			at = now.Add(-time.Minute)
		}
		msgs[i] = kafka.Message{Key: []byte("AAPL"), Value: r.value, Time: at}
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers), Topic: quotes, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	lw := &kafka.Writer{Addr: kafka.TCP(brokers), Topic: latest, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	if err := lw.WriteMessages(context.Background(), kafka.Message{Key: []byte("AAPL"), Value: recs[len(recs)-1].value}); err != nil {
		t.Fatal(err)
	}
	lw.Close()

	h, err := stream.NewHub(stream.Config{HistoryAge: 10 * time.Minute}, sse{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs lockedBuffer
	cfg := stream.KafkaConfig{Brokers: []string{brokers}, Topic: quotes, LatestTopic: latest, Group: fmt.Sprintf("tape-web-backfill-%d", id),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	defer func() {
		if t.Failed() {
			t.Logf("the node's log:\n%s", logs.String())
		}
	}()
	consumed := make(chan error, 1)
	go func() { consumed <- h.Consume(ctx, cfg) }()
	defer func() { cancel(); <-consumed }()
	// The writes above wait for every replica (a writer without acks lost
	// them on a broker started a moment before). The broker is shared with
	// the other packages' tests: a minute is far above the usual second.
	deadline := time.After(time.Minute)
	for len(h.Trades("AAPL")) == 0 {
		select {
		case err := <-consumed:
			consumed <- err // for the deferred wait
			t.Fatalf("Consume ended before the node read its history: %v", err)
		case <-deadline:
			t.Fatal("the node did not read its history within a minute")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if bars, _, _ := h.Bars("AAPL", 60); len(bars) != 1 {
		t.Fatalf("before backfill: %d bars", len(bars))
	}
	bctx, bcancel := context.WithTimeout(ctx, 30*time.Second)
	defer bcancel()
	if err := h.Backfill(bctx, cfg, now.Add(-stream.MinuteBarsKept*time.Minute)); err != nil {
		t.Fatal(err)
	}
	o := open.Unix()
	assertBars(t, barsOf(t, h, "AAPL", 60), []barText{
		{o, "10", "11", "10", "11", "150"}, {o + 60, "9", "9", "9", "9", "10"}, {now.Add(-time.Minute).Unix(), "12", "12", "12", "12", "1"},
	})
	if got := h.Trades("AAPL"); len(got) != 1 || got[0].Price != tape.MustPrice("12") {
		t.Errorf("time and sales after backfill: %v", got)
	}
	if sec := barsOf(t, h, "AAPL", 1); len(sec) != 1 {
		t.Errorf("1 s bars after backfill: %v", sec)
	}
}
