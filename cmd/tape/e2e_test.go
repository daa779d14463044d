package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// node starts an ingester and a web node on a test's own topics and
// returns the node's base URL once it is ready.
func node(t *testing.T, brokers string, tt testTopics, id string) string {
	t.Helper()
	start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id}, tt.flags()...)...)
	web := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id, "--drain", "0s", "--reject-unknown=false", "--heartbeat", "1s"}, tt.flags()...)...)
	base := "http://" + web.addrs["http"]
	waitReady(t, base)
	return base
}

type quoteJSON struct {
	Symbol   string `json:"symbol"`
	Bid      string `json:"bid"`
	Ask      string `json:"ask"`
	BidSize  shares `json:"bid_size"`
	AskSize  shares `json:"ask_size"`
	Last     string `json:"last"`
	LastSize shares `json:"last_size"`
	Volume   shares `json:"volume"`
	TS       string `json:"ts"`
	Source   string `json:"source"`
	Origin   string `json:"origin"`
	Seq      string `json:"seq"` // the fold position: one record of the quotes topic
}

// nextQuote returns the next quote event's quote.
func nextQuote(t *testing.T, c *sseClient, timeout time.Duration) (quoteJSON, sseEvent) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ev := c.next(t, time.Until(deadline))
		if ev.Event != "quote" {
			continue
		}
		var q quoteJSON
		if err := json.Unmarshal([]byte(ev.Data), &q); err != nil {
			t.Fatalf("quote event data %q: %v", ev.Data, err)
		}
		return q, ev
	}
}

func TestKcatPolygonQuoteReachesBrowserStream(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	base := node(t, brokers, tt, id)

	sse := openSSE(t, base+"/events?symbols=MSFT,AAPL", "")
	if ev := sse.next(t, 10*time.Second); ev.Event != "snapshot" || ev.ID == "" {
		t.Fatalf("first event %+v, want a snapshot with an id", ev)
	}
	ts := time.Now().Truncate(time.Millisecond).UTC()
	msg := fmt.Sprintf(`[{"ev":"status","status":"connected"},{"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"t":%d}]`, ts.UnixMilli())
	kcat(t, msg+"\n", "-b", brokers, "-P", "-t", tt.raw, "-k", "MSFT", "-H", "format=polygon")

	q, ev := nextQuote(t, sse, 30*time.Second)
	want := quoteJSON{Symbol: "MSFT", Bid: "114.125", Ask: "114.128", BidSize: 100, AskSize: 160,
		TS: ts.Format("2006-01-02T15:04:05.000000000Z"), Source: "polygon", Origin: q.Origin, Seq: q.Seq}
	if !regexp.MustCompile(`^\d+/\d+$`).MatchString(q.Seq) {
		t.Fatalf("seq %q: want the fold position, partition/offset", q.Seq)
	}
	if q != want {
		t.Fatalf("quote\n got %+v\nwant %+v", q, want)
	}
	if !strings.HasPrefix(q.Origin, tt.raw+"/") || ev.ID == "" {
		t.Fatalf("origin %q id %q: want the raw topic position and a resume id", q.Origin, ev.ID)
	}

	// The same quote through the JSON API.
	res, err := http.Get(base + "/api/quotes?symbols=MSFT")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var api struct{ Quotes []quoteJSON }
	json.NewDecoder(res.Body).Decode(&api)
	if len(api.Quotes) != 1 || api.Quotes[0] != q {
		t.Fatalf("/api/quotes = %+v, want [%+v]", api.Quotes, q)
	}
}

func TestMalformedMessageGoesToDLQAndTheNextOneFlows(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	base := node(t, brokers, tt, id)
	sse := openSSE(t, base+"/events?symbols=AAPL", "")
	sse.next(t, 10*time.Second) // snapshot

	now := time.Now().UTC()
	polygon := []kafka.Header{{Key: "format", Value: []byte("polygon")}}
	produce(t, brokers, tt.raw,
		kafka.Message{Key: []byte("AAPL"), Value: []byte(`{"ev":"Q","sym":"AAPL","bp":`), Headers: polygon},
		kafka.Message{Key: []byte("AAPL"), Value: []byte(`{"ev":"T","sym":"<script>","p":1,"s":1,"t":1}`), Headers: polygon},
		kafka.Message{Key: []byte("AAPL"), Value: []byte(`\x00\x01 binary`), Headers: []kafka.Header{{Key: "format", Value: []byte("nope")}}},
		kafka.Message{Key: []byte("AAPL"), Value: fmt.Appendf(nil, `{"ev":"T","sym":"AAPL","x":4,"i":"1","p":187.42,"s":100,"t":%d}`, now.UnixMilli()), Headers: polygon},
	)

	q, _ := nextQuote(t, sse, 30*time.Second)
	if q.Symbol != "AAPL" || q.Last != "187.42" || q.LastSize != 100 || q.Volume != 100 {
		t.Fatalf("valid trade after bad ones: %+v", q)
	}
	dlq := readTopic(t, brokers, tt.dlq, 3, 30*time.Second)
	if len(dlq) != 3 {
		t.Fatalf("dead letters: %d, want 3", len(dlq))
	}
	sort.Slice(dlq, func(i, j int) bool { return dlq[i].Offset < dlq[j].Offset })
	for i, wantReason := range []string{"bad_json", "bad_symbol", "unknown_format"} {
		m := dlq[i]
		if got := header(m, tape.HeaderReason); got != wantReason {
			t.Errorf("dead letter %d: reason %q, want %q (%s)", i, got, wantReason, m.Value)
		}
		if header(m, tape.HeaderOriginTopic) != tt.raw || header(m, tape.HeaderOriginOffset) != fmt.Sprint(i) || header(m, tape.HeaderOriginPartition) != "0" {
			t.Errorf("dead letter %d: origin %s/%s/%s, want %s/0/%d", i,
				header(m, tape.HeaderOriginTopic), header(m, tape.HeaderOriginPartition), header(m, tape.HeaderOriginOffset), tt.raw, i)
		}
		if header(m, tape.HeaderError) == "" {
			t.Errorf("dead letter %d has no error message", i)
		}
	}
}

// TestIngesterKilledMidStreamLosesNothing kills a real ingester process
// with SIGKILL while it works through a backlog, between fetches, produces,
// commits and checkpoints, starts another, and checks that every raw
// message came out on the quotes topic, and that each symbol's volume, as
// its quotes show it once repeats are dropped, counts every trade once.
func TestIngesterKilledMidStreamLosesNothing(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	const n = 30000
	base := time.Now().Add(-time.Hour).UTC()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		sym := fmt.Sprintf("S%02d", i%40)
		msgs[i] = kafka.Message{Key: []byte(sym), Headers: []kafka.Header{{Key: "format", Value: []byte("polygon")}},
			Value: fmt.Appendf(nil, `{"ev":"T","sym":"%s","x":1,"i":"%d","p":%d.25,"s":1,"t":%d}`, sym, i, 10+i%90, base.Add(time.Duration(i)*time.Millisecond).UnixMilli())}
	}
	produce(t, brokers, tt.raw, msgs...)

	args := append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id, "--batch", "200"}, tt.flags()...)
	first := startProcess(t, args...)
	waitForOffsets(t, brokers, tt.quotes, n/5, 60*time.Second)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	startProcess(t, args...)

	// Read quotes until every raw position has its event (or time is up):
	// repeats are allowed, gaps are not.
	want := rawOrigins(t, brokers, tt, n)
	seen, total := quoteOrigins(t, brokers, tt, id, want, 120*time.Second)
	var missing []string
	for origin := range want {
		if seen[origin] == 0 {
			missing = append(missing, origin)
		}
	}
	t.Logf("%d raw, %d quotes read, %d distinct origins, %d repeats after the kill", len(want), total, len(seen), total-len(seen))
	if len(want) != n || len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("%d of %d raw messages have no quote, e.g. %v", len(missing), len(want), missing[:min(5, len(missing))])
	}
	volumes := map[string]int64{}
	for i := range 40 {
		volumes[fmt.Sprintf("S%02d", i)] = n / 40 // trades of size 1
	}
	waitForVolumes(t, brokers, tt.latest, volumes, 60*time.Second)
	checkRunningVolumes(t, brokers, tt, 3, volumes)
}

// startProcess runs this test binary as `tape args...` in its own process.
func startProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TAPE_TEST_AS_MAIN=1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("tape %s output:\n%s", args[0], out.String())
		}
	})
	return cmd
}

// waitForOffsets waits until topic holds at least n messages.
func waitForOffsets(t testing.TB, brokers, topic string, n int64, timeout time.Duration) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Transport: &kafka.Transport{}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		meta, err := client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(meta.Topics) == 1 {
			var reqs []kafka.OffsetRequest
			for _, p := range meta.Topics[0].Partitions {
				reqs = append(reqs, kafka.LastOffsetOf(p.ID))
			}
			res, err := client.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
			if err == nil {
				var total int64
				for _, po := range res.Topics[topic] {
					total += po.LastOffset
				}
				if total >= n {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not reach %d messages within %s", topic, n, timeout)
}

func TestDemoServesRenderedPricesAndStreams(t *testing.T) {
	demo := start(t, []string{"http", "kafka"}, "demo", "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + demo.addrs["http"]
	waitReady(t, base)

	var quotes []quoteJSON
	deadline := time.Now().Add(30 * time.Second)
	for len(quotes) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("demo has %d quotes after 30s", len(quotes))
		}
		time.Sleep(200 * time.Millisecond)
		quotes = apiQuotes(t, base)
	}
	page := get(t, base+"/")
	after := apiQuotes(t, base)
	rendered := 0
	for _, q := range quotes {
		if !strings.Contains(page, `data-symbol="`+q.Symbol+`"`) {
			t.Errorf("dashboard has no row for %s", q.Symbol)
			continue
		}
		for _, a := range after {
			if a.Symbol != q.Symbol {
				continue
			}
			// The price may tick between the two API calls; the page shows one of them.
			for _, bid := range []string{q.Bid, a.Bid} {
				if bid != "" && strings.Contains(page, `data-field="bid">`+bid+`<`) {
					rendered++
					break
				}
			}
		}
	}
	if rendered < len(quotes)/2 {
		t.Fatalf("only %d of %d symbols show their current bid in the server-rendered page", rendered, len(quotes))
	}

	sse := openSSE(t, base+"/events?symbols="+quotes[0].Symbol, "")
	if ev := sse.next(t, 10*time.Second); ev.Event != "snapshot" || !strings.Contains(ev.Data, `"symbol":"`+quotes[0].Symbol+`"`) {
		t.Fatalf("first event %+v, want a snapshot holding %s", ev, quotes[0].Symbol)
	}
	q, _ := nextQuote(t, sse, 30*time.Second)
	if q.Symbol != quotes[0].Symbol || q.Source != "polygon" {
		t.Fatalf("demo quote %+v", q)
	}
}

func apiQuotes(t *testing.T, base string) []quoteJSON {
	t.Helper()
	var api struct{ Quotes []quoteJSON }
	if err := json.Unmarshal([]byte(get(t, base+"/api/quotes")), &api); err != nil {
		t.Fatal(err)
	}
	return api.Quotes
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", url, res.Status, b)
	}
	return string(b)
}
