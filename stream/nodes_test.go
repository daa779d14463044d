package stream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/stream"
)

func TestNodesAgeOutAndReportWebChanges(t *testing.T) {
	var mu sync.Mutex
	var reports [][]string
	n := stream.NewNodes(func(web []tape.Heartbeat) {
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		for _, hb := range web {
			ids = append(ids, fmt.Sprintf("%s %s %v", hb.ID, hb.URL, hb.Ready))
		}
		reports = append(reports, ids)
	})
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	web := func(id, url string, ready bool, at time.Time) tape.Heartbeat {
		return tape.Heartbeat{ID: id, Role: tape.RoleWeb, URL: url, Ready: ready, At: at, EveryMS: 2000}
	}
	n.Put(web("b", "http://b:8080", true, now), false, now)
	n.Put(web("a", "http://a:8080", false, now), false, now)
	n.Put(tape.Heartbeat{ID: "i", Role: tape.RoleIngest, At: now, EveryMS: 2000}, false, now)
	n.Put(web("a", "http://a:8080", false, now.Add(time.Second)), false, now.Add(time.Second)) // no change
	n.Put(web("a", "http://a:8080", true, now.Add(2*time.Second)), false, now.Add(2*time.Second))
	// An old heartbeat read back from the compacted topic is no live node.
	n.Put(web("old", "http://old:8080", true, now.Add(-time.Hour)), false, now.Add(2*time.Second))

	var ids []string
	for _, hb := range n.List(now.Add(2 * time.Second)) {
		ids = append(ids, hb.Role+":"+hb.ID)
	}
	if got := strings.Join(ids, " "); got != "web:a web:b ingest:i" {
		t.Errorf("list %q", got)
	}
	// b stops sending and is gone after three intervals (6 s); a leaves
	// with a tombstone.
	n.Put(web("a", "http://a:8080", true, now.Add(6500*time.Millisecond)), false, now.Add(6500*time.Millisecond))
	n.Put(tape.Heartbeat{ID: "a"}, true, now.Add(7*time.Second))
	if got := n.List(now.Add(7 * time.Second)); len(got) != 0 {
		t.Errorf("after b aged out and a left: %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	want := `[[b http://b:8080 true] [a http://a:8080 false b http://b:8080 true] [a http://a:8080 true b http://b:8080 true] [a http://a:8080 true] []]`
	if got := fmt.Sprint(reports); got != want {
		t.Errorf("reports\n got %s\nwant %s", got, want)
	}
}

func TestNodesEventReachesEveryStream(t *testing.T) {
	h := newHub(t, stream.Config{})
	apply(h, feed(2, "AAPL", "MSFT"))
	before, err := h.Subscribe([]tape.Symbol{"AAPL"}, "")
	if err != nil {
		t.Fatal(err)
	}
	drain(t, before)
	web := []tape.Heartbeat{{ID: "web-1", Role: tape.RoleWeb, URL: "http://127.0.0.1:8081", Ready: true, At: t0, EveryMS: 2000}}
	h.SetNodes(stream.NodesEvent(web))
	evs := drain(t, before)
	if len(evs) != 1 || evs[0].Name != "nodes" || evs[0].ID != "" {
		t.Fatalf("open stream got %v", evs)
	}
	var body struct {
		Nodes []map[string]any `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(evs[0].Data), &body); err != nil || len(body.Nodes) != 1 || body.Nodes[0]["url"] != "http://127.0.0.1:8081" || body.Nodes[0]["every_ms"] != 2000.0 {
		t.Fatalf("nodes data %s (%v)", evs[0].Data, err)
	}
	after, err := h.Subscribe([]tape.Symbol{"MSFT"}, "")
	if err != nil {
		t.Fatal(err)
	}
	evs = drain(t, after)
	if len(evs) != 2 || evs[0].Name != "snapshot" || evs[1].Name != "nodes" {
		t.Fatalf("new stream begins with %v", evs)
	}
}

// TestHeartbeatsThroughKafka publishes two processes' heartbeats to a
// real broker and follows them: both appear, and one that stops leaves.
func TestHeartbeatsThroughKafka(t *testing.T) {
	brokers := os.Getenv("TAPE_TEST_BROKERS")
	if brokers == "" {
		t.Skip("TAPE_TEST_BROKERS is not set; make test starts a broker")
	}
	topic := fmt.Sprintf("nodes-test-%d", time.Now().UnixNano())
	client := &kafka.Client{Addr: kafka.TCP(brokers), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	res, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}},
	}}})
	if err != nil || res.Errors[topic] != nil {
		t.Fatalf("create %s: %v %v", topic, err, res)
	}
	cfg := stream.NodesConfig{Brokers: []string{brokers}, Topic: topic, Every: 200 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	webCtx, stopWeb := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		stream.Publish(webCtx, cfg, func() tape.Heartbeat {
			return tape.Heartbeat{ID: "web-9", Role: tape.RoleWeb, URL: "http://127.0.0.1:9", Ready: true, Streams: 4}
		})
	})
	wg.Go(func() {
		stream.Publish(ctx, cfg, func() tape.Heartbeat {
			return tape.Heartbeat{ID: "ingest-9", Role: tape.RoleIngest, RawPerSec: 12.5}
		})
	})
	webs := make(chan int, 100)
	n := stream.NewNodes(func(web []tape.Heartbeat) { webs <- len(web) })
	wg.Go(func() { n.Follow(ctx, cfg) })

	waitFor := func(what string, ok func([]tape.Heartbeat) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			l := n.List(time.Now())
			if ok(l) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: list is %+v", what, l)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("both heard", func(l []tape.Heartbeat) bool {
		return len(l) == 2 && l[0].ID == "web-9" && l[0].Streams == 4 && l[0].URL == "http://127.0.0.1:9" && l[1].ID == "ingest-9" && l[1].RawPerSec == 12.5
	})
	stopWeb()
	waitFor("web node left", func(l []tape.Heartbeat) bool { return len(l) == 1 && l[0].ID == "ingest-9" })
	var seen []int
	for len(webs) > 0 {
		seen = append(seen, <-webs)
	}
	if fmt.Sprint(seen) != "[1 0]" {
		t.Errorf("web lists reported: %v, want [1 0]", seen)
	}
}
