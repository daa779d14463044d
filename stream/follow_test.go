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

// quoteTopics creates a quotes topic of parts partitions and its
// compacted latest topic on the test broker, named after name, or skips
// the test without a broker.
func quoteTopics(t *testing.T, name string, parts int) (brokers, quotes, latest string) {
	t.Helper()
	brokers = os.Getenv("TAPE_TEST_BROKERS")
	if brokers == "" {
		t.Skip("TAPE_TEST_BROKERS is not set; make test starts a broker")
	}
	id := time.Now().UnixNano()
	quotes, latest = fmt.Sprintf("quotes-%s-%d", name, id), fmt.Sprintf("latest-%s-%d", name, id)
	client := &kafka.Client{Addr: kafka.TCP(brokers), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	res, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: quotes, NumPartitions: parts, ReplicationFactor: 1},
		{Topic: latest, NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}},
	}})
	if err != nil || res.Errors[quotes] != nil || res.Errors[latest] != nil {
		t.Fatalf("create topics: %v %v", err, res)
	}
	return brokers, quotes, latest
}

// writeAcked writes msgs to topic, acknowledged by every replica (a
// writer without acks loses records on a broker started a moment before).
func writeAcked(t *testing.T, brokers, topic string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers), Topic: topic, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// follow runs a hub of configuration hcfg that consumes quotes until the
// test ends; its log is
// printed if the test fails. It returns the hub, Consume's result and
// the log.
func follow(t *testing.T, hcfg stream.Config, cfg stream.KafkaConfig) (*stream.Hub, chan error, *lockedBuffer) {
	t.Helper()
	h, err := stream.NewHub(hcfg, sse{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan error, 1)
	go func() { consumed <- h.Consume(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		<-consumed
		h.Close()
		if t.Failed() {
			t.Logf("the node's log:\n%s", logs.String())
		}
	})
	return h, consumed, logs
}

// TestQuietPartitionIsFollowedWithoutReconnecting: a fetch that its long
// poll ends with no record is a quiet partition, not a fault. A node
// whose partitions stay quiet for many long polls neither reads them
// again from a new connection nor logs a warning, and a quote that comes
// after the quiet still reaches it.
func TestQuietPartitionIsFollowedWithoutReconnecting(t *testing.T) {
	brokers, quotes, latest := quoteTopics(t, "quiet", 2)
	cfg := stream.KafkaConfig{Brokers: []string{brokers}, Topic: quotes, LatestTopic: latest, Group: "tape-web-" + quotes, MaxWait: 50 * time.Millisecond}
	h, consumed, logs := follow(t, stream.Config{}, cfg)
	waitUntil(t, consumed, "the node ready", h.Ready)
	time.Sleep(20 * cfg.MaxWait) // twenty long polls with nothing to read

	q := tape.Quote{Symbol: "QUIET", Kind: tape.KindQuote, Bid: tape.MustPrice("10"), Ask: tape.MustPrice("10.01"), Time: time.Now(), Source: "test", Seq: tape.NoSeq}
	writeAcked(t, brokers, quotes, kafka.Message{Key: []byte(q.Symbol), Value: q.AppendJSON(nil)})
	waitUntil(t, consumed, "the quote after the quiet", func() bool { return len(h.Quotes([]tape.Symbol{"QUIET"})) == 1 })
	if n := strings.Count(logs.String(), "reading partition again"); n > 0 {
		t.Errorf("quiet partitions were read again %d times:\n%s", n, logs.String())
	}
}

// TestOversizedRecordsArePassedAndLaterQuotesFlow: a node copies records
// into a 64 KiB slab. A record that does not fit what is left of it is
// read again, with its batch, by kafka-go's allocating reader, and parsed
// as any record: these are not quotes and are counted invalid, and the
// quote after them reaches the node.
func TestOversizedRecordsArePassedAndLaterQuotesFlow(t *testing.T) {
	brokers, quotes, latest := quoteTopics(t, "oversized", 1)
	var msgs []kafka.Message
	for _, size := range []int{20 << 10, 20 << 10, 20 << 10, 100 << 10} {
		msgs = append(msgs, kafka.Message{Key: []byte("BIG"), Value: bytes.Repeat([]byte("x"), size)})
	}
	q := tape.Quote{Symbol: "AFTER", Kind: tape.KindQuote, Bid: tape.MustPrice("10"), Ask: tape.MustPrice("10.01"), Time: time.Now(), Source: "test", Seq: tape.NoSeq}
	msgs = append(msgs, kafka.Message{Key: []byte(q.Symbol), Value: q.AppendJSON(nil)})
	writeAcked(t, brokers, quotes, msgs...)

	h, consumed, _ := follow(t, stream.Config{}, stream.KafkaConfig{Brokers: []string{brokers}, Topic: quotes, LatestTopic: latest, Group: "tape-web-" + quotes})
	waitUntil(t, consumed, "the quote after the large records", func() bool { return len(h.Quotes([]tape.Symbol{"AFTER"})) == 1 })
	if got := h.Stats().Invalid.Load(); got != 4 {
		t.Errorf("%d records counted invalid, want the 4 that are not quotes", got)
	}
}

// TestStartInsideABatchSkipsItsStartEvenOversized: a node starts reading
// where its history window begins, which may be inside a record batch; a
// fetch returns the whole batch. The records before the start, a record
// larger than the slab among them, are skipped, neither applied nor
// counted, and the quotes after the start all arrive.
func TestStartInsideABatchSkipsItsStartEvenOversized(t *testing.T) {
	brokers, quotes, latest := quoteTopics(t, "inside", 1)
	old := time.Now().Add(-time.Hour) // before the history window, by the broker's timestamps
	quote := func(sym string) []byte {
		q := tape.Quote{Symbol: tape.Symbol(sym), Kind: tape.KindQuote, Bid: tape.MustPrice("10"), Ask: tape.MustPrice("10.01"), Time: time.Now(), Source: "test", Seq: tape.NoSeq}
		return q.AppendJSON(nil)
	}
	msgs := []kafka.Message{ // one call, one record batch
		{Key: []byte("OLD"), Value: quote("OLD"), Time: old},
		{Key: []byte("BIG"), Value: bytes.Repeat([]byte("x"), 100<<10), Time: old},
		{Key: []byte("BIG"), Value: bytes.Repeat([]byte("x"), 20<<10), Time: old},
	}
	for _, sym := range []string{"NEW1", "NEW2", "NEW3"} {
		msgs = append(msgs, kafka.Message{Key: []byte(sym), Value: quote(sym)})
	}
	writeAcked(t, brokers, quotes, msgs...)

	h, consumed, _ := follow(t, stream.Config{HistoryAge: 10 * time.Minute}, stream.KafkaConfig{Brokers: []string{brokers}, Topic: quotes, LatestTopic: latest, Group: "tape-web-" + quotes})
	waitUntil(t, consumed, "the quotes after the start", func() bool { return len(h.Quotes([]tape.Symbol{"NEW1", "NEW2", "NEW3"})) == 3 })
	if got := h.Quotes([]tape.Symbol{"OLD"}); len(got) != 0 {
		t.Errorf("a record before the start was applied: %+v", got)
	}
	if st := h.Stats(); st.Invalid.Load() != 0 || st.Applied.Load() != 3 {
		t.Errorf("applied %d, invalid %d; want the 3 quotes after the start and nothing before it", st.Applied.Load(), st.Invalid.Load())
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
