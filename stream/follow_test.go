package stream_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/stream"
)

// lockedBuffer collects log lines from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestQuietPartitionIsFollowedWithoutReconnecting: a fetch that its long
// poll ends with no record is a quiet partition, not a fault. A node
// whose partitions stay quiet for many long polls neither reads them
// again from a new connection nor logs a warning, and a quote that comes
// after the quiet still reaches it.
func TestQuietPartitionIsFollowedWithoutReconnecting(t *testing.T) {
	brokers := os.Getenv("TAPE_TEST_BROKERS")
	if brokers == "" {
		t.Skip("TAPE_TEST_BROKERS is not set; make test starts a broker")
	}
	id := time.Now().UnixNano()
	quotes, latest := fmt.Sprintf("quotes-quiet-%d", id), fmt.Sprintf("latest-quiet-%d", id)
	client := &kafka.Client{Addr: kafka.TCP(brokers), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	res, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: quotes, NumPartitions: 2, ReplicationFactor: 1},
		{Topic: latest, NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}},
	}})
	if err != nil || res.Errors[quotes] != nil || res.Errors[latest] != nil {
		t.Fatalf("create topics: %v %v", err, res)
	}
	h, err := stream.NewHub(stream.Config{}, sse{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var logs lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := stream.KafkaConfig{Brokers: []string{brokers}, Topic: quotes, LatestTopic: latest, Group: fmt.Sprintf("tape-web-quiet-%d", id),
		MaxWait: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	consumed := make(chan error, 1)
	go func() { consumed <- h.Consume(ctx, cfg) }()
	defer func() { cancel(); <-consumed }()
	waitUntil(t, consumed, "the node ready", h.Ready)
	time.Sleep(20 * cfg.MaxWait) // twenty long polls with nothing to read

	q := tape.Quote{Symbol: "QUIET", Kind: tape.KindQuote, Bid: tape.MustPrice("10"), Ask: tape.MustPrice("10.01"), Time: time.Now(), Source: "test", Seq: tape.NoSeq}
	w := &kafka.Writer{Addr: kafka.TCP(brokers), Topic: quotes, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte(q.Symbol), Value: q.AppendJSON(nil)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, consumed, "the quote after the quiet", func() bool { return len(h.Quotes([]tape.Symbol{"QUIET"})) == 1 })
	if n := strings.Count(logs.String(), "reading partition again"); n > 0 {
		t.Errorf("quiet partitions were read again %d times:\n%s", n, logs.String())
	}
}

// waitUntil waits up to a minute (the broker is shared with the other
// packages' tests) for cond, failing early if Consume ends.
func waitUntil(t *testing.T, consumed chan error, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !cond() {
		select {
		case err := <-consumed:
			consumed <- err
			t.Fatalf("Consume ended before %s: %v", what, err)
		case <-deadline:
			t.Fatalf("no %s within a minute", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
