package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"tape"
	"tape/replay"
	"tape/stream"
)

// clusterAPI is /api/cluster as a page reads it.
type clusterAPI struct {
	Web []struct {
		ID, URL string
		Ready   bool
	}
	Ingest []struct{ ID string }
	Newest *time.Time
}

// webURLs returns the sorted public URLs of a nodes list.
func webURLs(nodes []struct {
	ID, URL string
	Ready   bool
}) string {
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL)
	}
	slices.Sort(urls)
	return strings.Join(urls, " ")
}

// TestNodesFindEachOtherThroughKafka starts an ingester and two web nodes
// that know nothing of each other: through the heartbeat topic each node's
// /api/cluster and /cluster list both nodes (with their --public-url) and
// the ingester, a stream gets them as an "event: nodes", and a node that
// stops leaves the list at once.
func TestNodesFindEachOtherThroughKafka(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id}, tt.flags()...)...)
	a := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id + "-a",
		"--drain", "0s", "--public-url", "http://a.example:8080/"}, tt.flags()...)...)
	base := "http://" + a.addrs["http"]

	// Node b is configured through the environment, and stopped by the test.
	bctx, stopB := context.WithCancel(context.Background())
	bdone := make(chan error, 1)
	go func() {
		env := environ{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
			return map[string]string{"TAPE_PUBLIC_URL": "https://b.example"}[k]
		}}
		bdone <- runEnv(bctx, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id + "-b", "--drain", "0s"}, tt.flags()...), env)
	}()
	t.Cleanup(func() { stopB(); <-bdone })
	waitReady(t, base)

	var cl clusterAPI
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := json.Unmarshal([]byte(get(t, base+"/api/cluster")), &cl); err != nil {
			t.Fatal(err)
		}
		if webURLs(cl.Web) == "http://a.example:8080 https://b.example" && len(cl.Ingest) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/cluster after 60s: %+v", cl)
		}
		time.Sleep(200 * time.Millisecond)
	}
	page := get(t, base+"/cluster")
	for _, want := range []string{`<th scope="row">` + id + `-a</th>`, `<th scope="row">` + id + `-b</th>`, `>https://b.example</a>`, `<th scope="row">` + cl.Ingest[0].ID + `</th>`} {
		if !strings.Contains(page, want) {
			t.Errorf("/cluster lacks %s", want)
		}
	}

	// A stream learns the nodes right after its snapshot, then each change.
	sse := openSSE(t, base+"/events?symbols=NONE", "")
	nodesEvent := func(want string) {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
			ev := sse.next(t, time.Until(end))
			if ev.Event != "nodes" {
				continue
			}
			if ev.ID != "" {
				t.Fatalf("nodes event with an id: %+v", ev)
			}
			var body struct {
				Nodes []struct {
					ID, URL string
					Ready   bool
				}
			}
			if err := json.Unmarshal([]byte(ev.Data), &body); err != nil {
				t.Fatalf("nodes event %q: %v", ev.Data, err)
			}
			if webURLs(body.Nodes) == want {
				return
			}
		}
		t.Fatalf("no nodes event listing %q within 30s", want)
	}
	if ev := sse.next(t, 10*time.Second); ev.Event != "snapshot" {
		t.Fatalf("first event %+v", ev)
	}
	nodesEvent("http://a.example:8080 https://b.example")
	stopB()
	if err := <-bdone; err != nil {
		t.Fatalf("node b: %v", err)
	}
	bdone <- nil
	nodesEvent("http://a.example:8080")
}

func TestPublicURLIsChecked(t *testing.T) {
	for _, tc := range []struct {
		flag, env string
	}{
		{"ftp://a.example", ""},
		{"http://a.example/tape", ""},
		{"http://u:p@a.example", ""},
		{"a.example:8080", ""},
		{"", "javascript:alert(1)"},
	} {
		t.Run(tc.flag+tc.env, func(t *testing.T) {
			args := []string{"--brokers", "127.0.0.1:1", "--addr", "127.0.0.1:0"}
			if tc.flag != "" {
				args = append(args, "--public-url", tc.flag)
			}
			env := environ{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
				return map[string]string{"TAPE_PUBLIC_URL": tc.env}[k]
			}}
			err := runServe(context.Background(), args, env)
			if err == nil || !strings.Contains(err.Error(), "--public-url is") {
				t.Fatalf("serve %v (TAPE_PUBLIC_URL=%q): %v", args, tc.env, err)
			}
		})
	}
}

// recordingSymbols returns the symbols of a recording's messages.
func recordingSymbols(t *testing.T, path, format string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := replay.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	syms := map[string]bool{}
	for {
		line, err := r.Next()
		if err == io.EOF {
			return syms
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, sym, err := stampOf(format, line); err == nil {
			syms[string(sym)] = true
		}
	}
}

// TestDemoFilePlaysTheRecording runs tape demo --file on a 30-minute
// recording at 50 times its pace: the node holds that session's symbols
// only, their day is the recording's (2026-11-20), the feed clock is the
// recording's and advances, and the replay's progress is on /api/cluster.
func TestDemoFilePlaysTheRecording(t *testing.T) {
	testBrokers(t) // like every demo test, it runs where the others do
	const file = "../../testdata/feeds/open30m.polygon.jsonl.gz"
	recorded := recordingSymbols(t, file, "polygon")
	demo := start(t, []string{"http", "kafka"}, "demo", "--file", file, "--speed", "50", "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + demo.addrs["http"]
	waitReady(t, base)

	type replayJSON struct {
		File     string
		Fraction float64
		Recorded time.Time
	}
	read := func() (clusterAPI, []replayJSON) {
		var body struct {
			clusterAPI
			Replay []replayJSON
		}
		if err := json.Unmarshal([]byte(get(t, base+"/api/cluster")), &body); err != nil {
			t.Fatal(err)
		}
		return body.clusterAPI, body.Replay
	}
	var first *time.Time
	var firstFraction float64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		cl, rp := read()
		if cl.Newest != nil && len(rp) == 1 && rp[0].Fraction > 0 {
			if first == nil {
				first, firstFraction = cl.Newest, rp[0].Fraction
			} else if cl.Newest.After(*first) && rp[0].Fraction > firstFraction {
				if rp[0].File != "open30m.polygon.jsonl.gz" || rp[0].Recorded.Format(time.DateOnly) != "2026-11-20" {
					t.Errorf("replay %+v", rp[0])
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("feed clock or replay progress did not advance in 60s: %+v %+v", cl, rp)
		}
	}
	if first.Format(time.DateOnly) != "2026-11-20" {
		t.Errorf("feed clock %s, want the recording's day", first)
	}
	quotes := apiQuotes(t, base)
	if len(quotes) < 10 {
		t.Fatalf("%d quotes", len(quotes))
	}
	var days struct {
		Quotes []struct{ Symbol, Day string }
	}
	if err := json.Unmarshal([]byte(get(t, base+"/api/quotes")), &days); err != nil {
		t.Fatal(err)
	}
	for _, q := range days.Quotes {
		if !recorded[q.Symbol] {
			t.Errorf("%s is not in the recording", q.Symbol)
		}
		if q.Day != "2026-11-20" {
			t.Errorf("%s has day %q, want the recording's 2026-11-20", q.Symbol, q.Day)
		}
	}
}

func TestDemoFileFlagsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "2026-11-20T14:30:00Z"}, "go with --file"},
		{[]string{"--file", "no/such/file.polygon.jsonl"}, "not a readable file"},
		{[]string{"--file", "../../testdata/feeds/open30m.csv.gz", "--format", "nasdaq"}, `--format "nasdaq" is unknown`},
		{[]string{"--file", "../../testdata/feeds/open30m.csv.gz", "--from", "2026-11-20T15:00:00Z", "--to", "2026-11-20T14:00:00Z"}, "--from must be before --to"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			env := environ{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
			err := runDemo(context.Background(), append([]string{"--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0"}, tc.args...), env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("demo %v: %v, want %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestReplayAnnouncesItself: tape replay says on the heartbeat topic
// which file it plays, how far it is and the feed time it has reached,
// and leaves when it stops.
func TestReplayAnnouncesItself(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := stream.NewNodes(nil)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		n.Follow(ctx, stream.NodesConfig{Brokers: strings.Split(brokers, ","), Topic: tt.nodes})
	}()
	defer func() { cancel(); <-followed }()

	rctx, stop := context.WithCancel(ctx)
	replayed := make(chan error, 1)
	go func() {
		env := environ{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
		replayed <- runEnv(rctx, []string{"replay", "--brokers", brokers, "--topic-raw", tt.raw, "--topic-nodes", tt.nodes,
			"--file", "../../testdata/feeds/open30m.polygon.jsonl.gz", "--speed", "20", "--progress", "none"}, env)
	}()
	replay := func() *tape.Heartbeat {
		for _, hb := range n.List(time.Now()) {
			if hb.Role == tape.RoleReplay {
				return &hb
			}
		}
		return nil
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if hb := replay(); hb != nil && hb.Fraction > 0 && !hb.Recorded.IsZero() {
			if hb.File != "open30m.polygon.jsonl.gz" || hb.Recorded.Format(time.DateOnly) != "2026-11-20" || hb.Fraction >= 1 {
				t.Errorf("replay heartbeat %+v", *hb)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replay heartbeat with progress within 30s: %+v", n.List(time.Now()))
		}
	}
	stop()
	<-replayed
	for deadline := time.Now().Add(30 * time.Second); replay() != nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stopped replay is still listed after 30s")
		}
	}
}
