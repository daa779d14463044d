package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// tapeQuote returns a raw message in tape's own format, as a feed adapter
// would produce it.
func tapeQuote(sym, bid string) kafka.Message {
	return kafka.Message{Key: []byte(sym), Headers: []kafka.Header{{Key: tape.HeaderFormat, Value: []byte(tape.FormatTape)}},
		Value: fmt.Appendf(nil, `{"symbol":%q,"bid":%q,"ask":"%s9","ts":%q,"source":"t"}`, sym, bid, bid, time.Now().UTC().Format(time.RFC3339Nano))}
}

// TestStreamsKeepTheirOwnSymbolsUnderRequestChurn: three streams with
// different watchlists (different lengths, some needing URL decoding) on
// one node, while 240 other requests naming other symbols run, with
// garbage collection all but off (GOGC=4000, as the report had it): each
// stream keeps receiving its own symbols and only those; after all close,
// the node counts no stream and accepts streams up to its limit again.
func TestStreamsKeepTheirOwnSymbolsUnderRequestChurn(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(4000))
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id}, tt.flags()...)...)
	web := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id,
		"--drain", "0s", "--reject-unknown=false", "--heartbeat", "200ms", "--max-streams", "5"}, tt.flags()...)...)
	base := "http://" + web.addrs["http"]
	waitReady(t, base)

	watch := [][]string{{"AAPL"}, {"BRK.B", "EUR/USD", "ES=F"}, {"^GSPC", "MSFT", "X"}}
	others := []string{"NVDA", "TSLA", "GME", "AMZN"}
	var seed []kafka.Message
	for _, list := range append(watch, others) {
		for _, s := range list {
			seed = append(seed, tapeQuote(s, "10.00"))
		}
	}
	produce(t, brokers, tt.raw, seed...)

	streams := make([]*sseClient, len(watch))
	for i, list := range watch {
		var enc []string
		for _, s := range list {
			enc = append(enc, url.QueryEscape(strings.ToLower(s)))
		}
		streams[i] = openSSE(t, base+"/events?symbols="+strings.Join(enc, ","), "")
		streams[i].next(t, 10*time.Second) // the snapshot
	}

	var wg sync.WaitGroup
	for i := range 240 {
		wg.Go(func() {
			sym := others[i%len(others)]
			path := "/api/quotes?symbols=" + sym
			if i%3 == 0 {
				path = "/?symbols=" + sym + "," + others[(i+1)%len(others)]
			}
			res, err := http.Get(base + path)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
	wg.Wait()

	// One more quote for every symbol, watched or not.
	var update []kafka.Message
	for _, list := range append(watch, others) {
		for _, s := range list {
			update = append(update, tapeQuote(s, "11.00"))
		}
	}
	produce(t, brokers, tt.raw, update...)
	for i, list := range watch {
		want := map[string]bool{}
		for _, s := range list {
			want[s] = true
		}
		got := map[string]bool{}
		for len(got) < len(want) {
			q, _ := nextQuote(t, streams[i], 20*time.Second)
			if !want[q.Symbol] {
				t.Fatalf("stream %d (%v) received %s", i, list, q.Symbol)
			}
			if q.Bid == "11.00" {
				got[q.Symbol] = true
			}
		}
	}

	for _, s := range streams {
		s.res.Body.Close()
	}
	deadline := time.Now().Add(15 * time.Second)
	for metric(t, base, "tape_sse_streams") != 0 || metric(t, base, "tape_stream_subscribers") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after every stream closed the node counts %d streams, %d subscribers",
				metric(t, base, "tape_sse_streams"), metric(t, base, "tape_stream_subscribers"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 5 {
		c := openSSE(t, base+"/events?symbols=AAPL", "")
		c.next(t, 10*time.Second)
		_ = i
	}
	res, err := http.Get(base + "/events?symbols=AAPL")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Fatalf("a sixth stream on a node of five: %s, want 503", res.Status)
	}
}

// produceTo writes quote records straight to one partition of the quotes
// topic, as a fold stage does.
func produceTo(t *testing.T, brokers, topic string, partition int, quotes ...tape.Quote) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(brokers, ",")...), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer:     kafka.BalancerFunc(func(kafka.Message, ...int) int { return partition }),
		BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	defer w.Close()
	var msgs []kafka.Message
	for _, q := range quotes {
		msgs = append(msgs, kafka.Message{Key: []byte(q.Symbol), Value: q.AppendJSON(nil)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce to %s/%d: %v", topic, partition, err)
	}
}

func foldedQuote(sym, bid string, p int, off int64) tape.Quote {
	return tape.Quote{Symbol: tape.Symbol(sym), Kind: tape.KindQuote, Bid: tape.MustPrice(bid), Ask: tape.MustPrice(bid) + tape.MustPrice("0.01"),
		Time: time.Now().UTC(), Source: "t", Seq: tape.Seq{Partition: p, Offset: off}}
}

// TestPartitionAddedToQuotesReachesStreams: partitions added to the quotes
// topic while a node runs are read from their start: their symbols reach
// streams, and a resume token from before they existed resumes exactly.
func TestPartitionAddedToQuotesReachesStreams(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 2)
	web := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id,
		"--drain", "0s", "--reject-unknown=false"}, tt.flags()...)...)
	base := "http://" + web.addrs["http"]
	waitReady(t, base)
	c := openSSE(t, base+"/events?symbols=OLDP,NEWP", "")
	c.next(t, 10*time.Second)
	produceTo(t, brokers, tt.quotes, 0, foldedQuote("OLDP", "1.00", 0, 0))
	_, ev := nextQuote(t, c, 10*time.Second)
	token := ev.ID

	client := &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	res, err := client.CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: tt.quotes, Count: 4}}})
	if err != nil || res.Errors[tt.quotes] != nil {
		t.Fatalf("add partitions: %v %v", err, res.Errors)
	}
	// The node notices within its probe interval; until then a record on a
	// new partition simply waits there.
	produceTo(t, brokers, tt.quotes, 3, foldedQuote("NEWP", "5.00", 3, 0))
	q, ev := nextQuote(t, c, 20*time.Second)
	if q.Symbol != "NEWP" || q.Bid != "5.00" {
		t.Fatalf("live stream got %+v, want NEWP 5.00 from the added partition", q)
	}
	if !strings.Contains(get(t, base+"/metrics"), "tape_stream_events_applied_total 2") {
		t.Fatal("the node did not apply the added partition's record")
	}

	// A client that left before the partitions were added resumes with
	// exactly what it missed, from the new partition too.
	r := openSSE(t, base+"/events?symbols=OLDP,NEWP", token)
	q, _ = nextQuote(t, r, 10*time.Second)
	if q.Symbol != "NEWP" || q.Bid != "5.00" {
		t.Fatalf("resume from before the partitions existed got %+v, want NEWP 5.00", q)
	}
}

// privateBroker starts a Kafka broker of its own for a test that must
// stop it, on a free port pair, with a cluster id beginning with "-" (which
// the start script once passed so that it was read as an option). It
// returns the bootstrap address and the broker's pid.
func privateBroker(t *testing.T) (string, int) {
	t.Helper()
	var port int
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1)); err == nil {
			ln2.Close()
			break
		}
	}
	dir := filepath.Join(t.TempDir(), "kafka")
	script, _ := filepath.Abs("../../scripts/kafka")
	env := append(os.Environ(), fmt.Sprintf("TAPE_KAFKA_PORT=%d", port), "TAPE_KAFKA_DIR="+dir,
		"TAPE_KAFKA_CLUSTER_ID=-"+strings.Repeat("A", 21))
	run := func(arg string) error {
		cmd := exec.Command(script, arg)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("scripts/kafka %s: %v\n%s", arg, err, out)
		}
		return nil
	}
	if err := run("up"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := run("down"); err != nil {
			t.Error(err)
		}
	})
	b, err := os.ReadFile(filepath.Join(dir, "kafka.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), pid
}

// TestBrokerOutageIsReportedAndRecoveryTakesSeconds: the real broker is
// frozen (SIGSTOP) for a while. Within seconds the node fails readiness,
// says so in its log, and tells every stream its quotes are stale; once
// the broker runs again (SIGCONT) readiness returns, streams are told the
// quotes are live, and a new quote reaches them within seconds: the node
// waits on no consumer-group session.
func TestBrokerOutageIsReportedAndRecoveryTakesSeconds(t *testing.T) {
	testBrokers(t) // runs where the other broker tests run
	brokers, pid := privateBroker(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 2)
	web := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id,
		"--drain", "0s", "--reject-unknown=false", "--heartbeat", "1s"}, tt.flags()...)...)
	base := "http://" + web.addrs["http"]
	waitReady(t, base)
	c := openSSE(t, base+"/events?symbols=OUT", "")
	c.next(t, 10*time.Second)
	produceTo(t, brokers, tt.quotes, 0, foldedQuote("OUT", "1.00", 0, 0))
	nextQuote(t, c, 10*time.Second)

	readyz := func() (int, string) {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	status := func(want string, within time.Duration) time.Duration {
		t.Helper()
		began := time.Now()
		for {
			ev := c.next(t, within-time.Since(began))
			if ev.Event == "status" {
				var st struct{ Feed string }
				json.Unmarshal([]byte(ev.Data), &st)
				if st.Feed == want {
					return time.Since(began)
				}
			}
		}
	}

	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	defer syscall.Kill(pid, syscall.SIGCONT)
	toStale := status("stale", 20*time.Second)
	code, body := readyz()
	if code != 503 || !strings.Contains(body, "broker unreachable") {
		t.Fatalf("readyz with the broker frozen: %d %s", code, body)
	}
	if !strings.Contains(web.out.String(), "Kafka broker unreachable") {
		t.Fatalf("no log line about the outage:\n%s", web.out.String())
	}
	time.Sleep(time.Until(stopped.Add(8 * time.Second))) // an outage of some seconds

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	toLive := status("live", 30*time.Second)
	produceTo(t, brokers, tt.quotes, 0, foldedQuote("OUT", "2.00", 0, 1))
	q, _ := nextQuote(t, c, 30*time.Second)
	recovered := time.Since(resumed)
	if q.Bid != "2.00" {
		t.Fatalf("after the outage the stream got %+v, want bid 2.00", q)
	}
	for code, _ := readyz(); code != 200; code, _ = readyz() {
		if time.Since(resumed) > 30*time.Second {
			t.Fatalf("readyz still %d 30s after the broker came back", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("broker frozen %s: streams told stale after %s; after it resumed, told live after %s, a new quote delivered after %s",
		resumed.Sub(stopped).Round(time.Millisecond), toStale.Round(time.Millisecond), toLive.Round(time.Millisecond), recovered.Round(time.Millisecond))
	if recovered > 25*time.Second { // a group session timeout was 30s
		t.Fatalf("a new quote took %s after the broker came back, want seconds", recovered)
	}
}
