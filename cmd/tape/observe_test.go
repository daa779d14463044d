package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/segmentio/kafka-go"
)

// TestMetricsOfANodeAndAnIngester runs an ingester and a web node on the
// real broker, feeds them good and bad input, and reads what an operator
// would scrape: the process and Go collectors, every metric of the
// issue by its Prometheus name, and the right values.
func TestMetricsOfANodeAndAnIngester(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	ing := start(t, []string{"ingest-http"}, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id,
		"--fold-group", "tape-fold-" + id, "--admin-addr", "127.0.0.1:0"}, tt.flags()...)...)
	web := start(t, []string{"http", "admin"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id,
		"--drain", "0s", "--reject-unknown=false", "--admin-addr", "127.0.0.1:0", "--admin-pprof"}, tt.flags()...)...)
	base := "http://" + web.addrs["http"]
	waitReady(t, base)
	sse := openSSE(t, base+"/events?symbols=AAPL", "")
	sse.next(t, 10*time.Second) // snapshot

	now := time.Now().UTC()
	polygon := []kafka.Header{{Key: "format", Value: []byte("polygon")}}
	produce(t, brokers, tt.raw,
		kafka.Message{Key: []byte("AAPL"), Value: []byte(`{"ev":"Q","sym":"AAPL","bp":`), Headers: polygon},
		kafka.Message{Key: []byte("AAPL"), Value: []byte(`junk`), Headers: []kafka.Header{{Key: "format", Value: []byte("no such format")}}},
		kafka.Message{Key: []byte("AAPL"), Value: fmt.Appendf(nil, `{"ev":"T","sym":"AAPL","x":4,"i":"1","p":187.42,"s":100,"t":%d}`, now.UnixMilli()), Headers: polygon},
		kafka.Message{Key: []byte("AAPL"), Value: fmt.Appendf(nil, `{"ev":"T","sym":"AAPL","x":4,"i":"2","p":187.43,"s":50,"t":%d}`, now.UnixMilli()), Headers: polygon},
	)
	nextQuote(t, sse, 30*time.Second)
	nextQuote(t, sse, 30*time.Second)

	admin := "http://" + ing.addrs["ingest-http"]
	ingestWant := map[string]float64{
		`tape_ingest_accepted_total{format="polygon"}`:                         2,
		`tape_ingest_rejected_total{format="polygon",reason="bad_json"}`:       1,
		`tape_ingest_rejected_total{format="unknown",reason="unknown_format"}`: 1,
		`tape_ingest_feed_to_write_seconds_count`:                              2,
		`tape_ingest_raw_total`:                                                4,
	}
	pollMetrics(t, admin+"/metrics", ingestWant)
	m := scrape(t, admin+"/metrics")
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "tape_ingest_ready", `tape_ingest_feed_to_write_seconds_bucket{le="+Inf"}`} {
		if _, ok := m[name]; !ok {
			t.Errorf("ingester /metrics has no %s", name)
		}
	}

	webWant := map[string]float64{
		`tape_stream_kafka_lag_messages{partition="0"}`: 0,
		`tape_sse_events_sent_total`:                    2,
		`tape_sse_streams`:                              1,
		`tape_stream_feed_stale`:                        0,
		`tape_ready`:                                    1,
	}
	pollMetrics(t, base+"/metrics", webWant)
	// The admin listener serves the same registry, and the profiles.
	m = scrape(t, "http://"+web.addrs["admin"]+"/metrics")
	if age, ok := m["tape_stream_quote_age_seconds"]; !ok || age < 0 || age > 600 {
		t.Errorf("tape_stream_quote_age_seconds = %v (present %v), want the seconds since the last trade", age, ok)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", `tape_sse_sent_bytes_total`} {
		if _, ok := m[name]; !ok {
			t.Errorf("web node admin /metrics has no %s", name)
		}
	}
	if res, err := http.Get("http://" + web.addrs["admin"] + "/debug/pprof/goroutine?debug=1"); err != nil || res.StatusCode != 200 {
		t.Errorf("pprof on the admin listener: %v %v", res, err)
	}
	if res, err := http.Get(base + "/debug/pprof/"); err != nil || res.StatusCode != 404 {
		t.Errorf("pprof on the public listener: %v %v, want 404", res, err)
	}

	// A rejected request is counted by its reason.
	if res, err := http.Get(base + "/events"); err != nil || res.StatusCode != 400 {
		t.Fatalf("/events without symbols: %v %v", res, err)
	}
	pollMetrics(t, base+"/metrics", map[string]float64{`tape_http_rejected_requests_total{reason="missing_symbols",status="400"}`: 1})

	// The client going away is a disconnect by reason.
	sse.res.Body.Close()
	pollMetrics(t, base+"/metrics", map[string]float64{`tape_sse_streams`: 0})
	m = scrape(t, base+"/metrics")
	if m[`tape_sse_disconnects_total{reason="client_closed"}`]+m[`tape_sse_disconnects_total{reason="write_failed"}`] != 1 {
		t.Errorf("disconnects after the client left: %v", grepMetrics(m, "tape_sse_disconnects_total"))
	}
}

// TestRegistriesPassPromLint checks every metric name, type and help text
// against Prometheus's own naming rules (promlint).
func TestRegistriesPassPromLint(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	ing := start(t, []string{"ingest-http"}, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id,
		"--fold-group", "tape-fold-" + id, "--admin-addr", "127.0.0.1:0"}, tt.flags()...)...)
	web := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id, "--drain", "0s"}, tt.flags()...)...)
	waitReady(t, "http://"+web.addrs["http"])
	for _, url := range []string{"http://" + web.addrs["http"] + "/metrics", "http://" + ing.addrs["ingest-http"] + "/metrics"} {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		problems, err := promlint.New(res.Body).Lint()
		res.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", url, p.Metric, p.Text)
		}
	}
}

// TestLogFormatAndUnreachableBroker starts a web node against a port
// nothing listens on: every log line is one JSON object naming the node,
// the log says the broker is unreachable, and readiness says so too.
func TestLogFormatAndUnreachableBroker(t *testing.T) {
	web := start(t, []string{"http"}, "serve", "--brokers", "127.0.0.1:1", "--addr", "127.0.0.1:0", "--node-id", "n1",
		"--log-format", "json", "--drain", "0s")
	base := "http://" + web.addrs["http"]
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Status string }
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode == 503 && body.Status == "broker unreachable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %q, want 503 broker unreachable", res.StatusCode, body.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for !strings.Contains(web.out.String(), "unreachable") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line says the broker is unreachable:\n%s", web.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSpace(web.out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["node"] != "n1" {
			t.Errorf("log line without node=n1: %q", line)
		}
		if strings.Contains(line, "waiting for the topic") {
			t.Errorf("an unreachable broker logged as a missing topic: %q", line)
		}
	}
}

// TestFlagsRejectBadLogFormatAndLonePprof checks start-up refusals.
func TestFlagsRejectBadLogFormatAndLonePprof(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"log format", []string{"serve", "--log-format", "xml"}, `--log-format is "xml", want text or json`},
		{"pprof without admin", []string{"serve", "--addr", "127.0.0.1:0", "--admin-pprof"}, "--admin-pprof needs --admin-addr"},
		{"ingest pprof without admin", []string{"ingest", "--admin-pprof"}, "--admin-pprof needs --admin-addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := runEnv(ctx, tc.args, environ{stdout: &out, stderr: &out, getenv: func(string) string { return "" }})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestVersion prints the module version and the Go version.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-v"} {
		out := runOK(t, arg)
		if !regexp.MustCompile(`^tape \S+ \S+ \S+ go1\.\d+`).MatchString(out) {
			t.Fatalf("tape %s printed %q", arg, out)
		}
	}
}

// pollMetrics scrapes url until every metric in want has its value.
func pollMetrics(t *testing.T, url string, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := scrape(t, url)
		var wrong []string
		for k, v := range want {
			if got, ok := m[k]; !ok || got != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v (present %v), want %v", k, got, ok, v))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", url, strings.Join(wrong, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scrape reads a /metrics page into series (name with labels) → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(get(t, url), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", url, line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func grepMetrics(m map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// TestBrokerErrorsInWords checks what an operator reads when the broker
// cannot be reached or refuses: words that say what to do, and no
// summary of zeros before the failure.
func TestBrokerErrorsInWords(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"topics unreachable", []string{"topics", "--brokers", "127.0.0.1:1"}, "the Kafka broker cannot be reached at [127.0.0.1:1]"},
		{"replay unreachable", []string{"replay", "--brokers", "127.0.0.1:1", "--file", "../../testdata/feeds/open30m.alpaca.jsonl.gz", "--progress", "none"}, "the Kafka broker cannot be reached"},
		{"feed unreachable", []string{"feed", "--brokers", "127.0.0.1:1", "--duration", "1s"}, "the Kafka broker cannot be reached"},
	}
	if b := os.Getenv("TAPE_TEST_BROKERS"); b != "" {
		id := uniqueID(t)
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"replication above brokers", append([]string{"topics", "--brokers", b, "--replication", "3"}, newTopicNames(id).flags()...),
			"the replication factor is larger than the number of brokers: lower --replication (Kafka error 38"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			err := runEnv(ctx, tc.args, environ{stdout: &out, stderr: &out, getenv: func(string) string { return "" }})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if strings.Contains(out.String(), " 0 messages") || strings.Contains(out.String(), "0 lost") {
				t.Errorf("a summary of zeros before the failure:\n%s", out.String())
			}
		})
	}
}

func newTopicNames(id string) testTopics {
	return testTopics{"raw-" + id, "quotes-" + id, "latest-" + id, "dlq-" + id, "events-" + id, "nodes-" + id}
}
