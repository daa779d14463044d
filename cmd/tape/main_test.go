package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestMain lets the test binary run as the tape command itself, so tests
// can start real tape processes and kill them.
func TestMain(m *testing.M) {
	if os.Getenv("TAPE_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testBrokers returns the Kafka broker integration tests run against. In
// CI a missing broker fails the test: it is never a silent skip.
func testBrokers(t testing.TB) string {
	t.Helper()
	b := os.Getenv("TAPE_TEST_BROKERS")
	if b == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TAPE_TEST_BROKERS is not set; make test starts a broker and sets it")
		}
		t.Skip("TAPE_TEST_BROKERS is not set; run make test, which starts a Kafka broker")
	}
	return b
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueID names a test's topics and groups so tests never share state.
func uniqueID(t testing.TB) string {
	name := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1_000_000_000)
}

// testTopics are one test's topic names, as flags.
type testTopics struct{ raw, quotes, latest, dlq, events, nodes string }

func newTopics(t testing.TB, brokers, id string, partitions int) testTopics {
	t.Helper()
	tt := testTopics{"raw-" + id, "quotes-" + id, "latest-" + id, "dlq-" + id, "events-" + id, "nodes-" + id}
	runOK(t, append([]string{"topics", "--brokers", brokers, "--partitions", fmt.Sprint(partitions), "--raw-partitions", fmt.Sprint(partitions)}, tt.flags()...)...)
	return tt
}

func (tt testTopics) flags() []string {
	return []string{"--topic-raw", tt.raw, "--topic-quotes", tt.quotes, "--topic-latest", tt.latest, "--topic-dlq", tt.dlq, "--topic-events", tt.events, "--topic-nodes", tt.nodes}
}

// runOK runs a tape command to completion and fails the test on error.
func runOK(t testing.TB, args ...string) string {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := runEnv(ctx, args, environ{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}); err != nil {
		t.Fatalf("tape %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// started is a tape command running in this process.
type started struct {
	addrs map[string]string
	out   *syncBuffer
}

// start runs a tape command in the background until the test ends and
// waits for the listeners named in want.
func start(t testing.TB, want []string, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{addrs: map[string]string{}, out: &syncBuffer{}}
	var mu sync.Mutex
	readyc := make(chan struct{}, 8)
	env := environ{stdout: s.out, stderr: s.out, getenv: func(string) string { return "" },
		ready: func(name, addr string) {
			mu.Lock()
			s.addrs[name] = addr
			mu.Unlock()
			readyc <- struct{}{}
		}}
	done := make(chan error, 1)
	go func() { done <- runEnv(ctx, args, env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("tape %s: %v", args[0], err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("tape %s did not stop within 30s", args[0])
		}
		if t.Failed() {
			t.Logf("output of tape %s:\n%s", args[0], s.out.String())
		}
	})
	deadline := time.After(60 * time.Second)
	for {
		mu.Lock()
		all := true
		for _, w := range want {
			all = all && s.addrs[w] != ""
		}
		mu.Unlock()
		if all {
			return s
		}
		select {
		case <-readyc:
		case err := <-done:
			t.Fatalf("tape %s exited: %v\n%s", args[0], err, s.out.String())
		case <-deadline:
			t.Fatalf("tape %s: no %v listener within 60s\n%s", args[0], want, s.out.String())
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitReady polls a web node's /readyz until it answers 200.
func waitReady(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not ready within 60s (last: %v)", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sseEvent is one server-sent event as read by a client.
type sseEvent struct {
	ID, Event, Data string
	At              time.Time
}

// sseClient reads an SSE stream over real HTTP.
type sseClient struct {
	res    *http.Response
	events chan sseEvent
}

func openSSE(t testing.TB, url, lastID string) *sseClient {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %s %s", url, res.Status, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("GET %s: Content-Type %q", url, ct)
	}
	c := &sseClient{res: res, events: make(chan sseEvent, 10000)}
	t.Cleanup(func() { res.Body.Close() })
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if ev.Event != "" || ev.Data != "" {
					ev.At = time.Now()
					c.events <- ev
				}
				ev = sseEvent{}
				continue
			}
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "id":
				ev.ID = v
			case "event":
				ev.Event = v
			case "data":
				if ev.Data != "" {
					ev.Data += "\n"
				}
				ev.Data += v
			}
		}
	}()
	return c
}

// next returns the next event, failing the test after timeout.
func (c *sseClient) next(t testing.TB, timeout time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			t.Fatal("SSE stream ended")
		}
		return ev
	case <-time.After(timeout):
		t.Fatalf("no SSE event within %s", timeout)
	}
	return sseEvent{}
}

// readTopic reads every message of topic (all partitions) until want
// messages arrived or timeout passed.
func readTopic(t testing.TB, brokers, topic string, want int, timeout time.Duration) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: strings.Split(brokers, ","), Topic: topic, GroupID: "reader-" + uniqueID(t),
		StartOffset: kafka.FirstOffset, MaxWait: 250 * time.Millisecond, CommitInterval: time.Second,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []kafka.Message
	for len(out) < want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			break
		}
		out = append(out, m)
	}
	return out
}

// produce writes messages with a plain kafka-go writer, as a feed
// adapter using another client would.
func produce(t testing.TB, brokers, topic string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(brokers, ",")...), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.CRC32Balancer{}, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// kcat runs the kcat command-line client, a Kafka producer tape did not
// write (librdkafka underneath).
func kcat(t testing.TB, stdin string, args ...string) {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed; make test-deps installs it")
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, out)
	}
}

// rawOrigins returns the origin id the event of every message on the raw
// topic must carry (one event per message), reading n messages.
func rawOrigins(t testing.TB, brokers string, tt testTopics, n int) map[string]bool {
	t.Helper()
	want := map[string]bool{}
	for _, m := range readTopic(t, brokers, tt.raw, n, 60*time.Second) {
		want[fmt.Sprintf("%s/%d/%d/0", tt.raw, m.Partition, m.Offset)] = true
	}
	return want
}

// quoteOrigins reads the quotes topic until every origin in want has been
// seen or timeout passes, and returns how often each origin came and how
// many quotes were read. Repeats (after a crash) are counted, not hidden.
func quoteOrigins(t testing.TB, brokers string, tt testTopics, id string, want map[string]bool, timeout time.Duration) (map[string]int, int) {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: strings.Split(brokers, ","), Topic: tt.quotes, GroupID: "check-" + id,
		StartOffset: kafka.FirstOffset, MaxWait: 250 * time.Millisecond, CommitInterval: time.Second})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	seen := map[string]int{}
	total, found := 0, 0
	for found < len(want) {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			break
		}
		var q struct{ Origin string }
		if err := json.Unmarshal(m.Value, &q); err != nil {
			t.Fatalf("quote %s: %v", m.Value, err)
		}
		if seen[q.Origin]++; seen[q.Origin] == 1 && want[q.Origin] {
			found++
		}
		total++
	}
	return seen, total
}
