package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tape"
	"tape/ingest"
)

// Each test here feeds the ingester input or a broker that used to stop
// all ingestion, then a valid quote, which must come out on the quotes
// topic within seconds: nothing stalls ingest.

// startIngest runs an in-process ingester with its admin listener on port
// 0 and returns the admin base URL.
func startIngest(t *testing.T, brokers string, tt testTopics, id string, extra ...string) (*started, string) {
	t.Helper()
	args := append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id,
		"--admin-addr", "127.0.0.1:0"}, tt.flags()...)
	s := start(t, []string{"ingest-http"}, append(args, extra...)...)
	return s, "http://" + s.addrs["ingest-http"]
}

// validQuote is a Polygon quote of sym stamped now.
func validQuote(sym string) kafka.Message {
	return kafka.Message{Key: []byte(sym), Headers: []kafka.Header{{Key: tape.HeaderFormat, Value: []byte("polygon")}},
		Value: fmt.Appendf(nil, `{"ev":"Q","sym":"%s","bx":4,"bp":100.10,"bs":1,"ax":7,"ap":100.20,"as":2,"t":%d}`, sym, time.Now().UnixMilli())}
}

// waitForQuote reads the quotes topic until a quote of sym arrives and
// returns it, failing the test after timeout.
func waitForQuote(t *testing.T, brokers, topic, sym string, timeout time.Duration) quoteRecord {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: strings.Split(brokers, ","), Topic: topic, GroupID: "wait-" + uniqueID(t),
		StartOffset: kafka.FirstOffset, MaxWait: 250 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("no quote of %s on %s within %s: %v", sym, topic, timeout, err)
		}
		if string(m.Key) == sym {
			return parseQuoteRecord(t, m.Value)
		}
	}
}

// quoteRecord is a record of the quotes topic as a reader sees it.
type quoteRecord struct {
	Symbol   string `json:"symbol"`
	Kind     string `json:"kind"`
	Bid      string `json:"bid"`
	Ask      string `json:"ask"`
	Last     string `json:"last"`
	LastSize shares `json:"last_size"`
	Volume   shares `json:"volume"`
	Origin   string `json:"origin"`
	Seq      string `json:"seq"`
}

// shares is a size the tests use whole: JSON "125000" reads as 125000.
type shares int64

func (s *shares) UnmarshalText(b []byte) error {
	var v tape.Size
	if err := v.UnmarshalText(b); err != nil {
		return err
	}
	*s = shares(wholeUnits(v))
	return nil
}

// wholeUnits returns a size in whole units (shares), dropping any fraction.
func wholeUnits(v tape.Size) int64 { return int64(v) / 100_000_000 }

func parseQuoteRecord(t testing.TB, b []byte) quoteRecord {
	t.Helper()
	var q quoteRecord
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatalf("quotes record %s: %v", b, err)
	}
	return q
}

// adminGet fetches an admin path and returns the status and body.
func adminGet(t *testing.T, base, path string) (int, string) {
	t.Helper()
	res, err := http.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", base, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// readiness is the body of an ingester's /readyz.
type readiness struct {
	Status string
	Faults []ingest.Fault
}

// waitReadiness polls /readyz until ok says yes, and returns what it saw.
func waitReadiness(t *testing.T, base string, timeout time.Duration, what string, ok func(code int, r readiness) bool) readiness {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body := adminGet(t, base, "/readyz")
		var r readiness
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("/readyz %d %q: %v", code, body, err)
		}
		if ok(code, r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz is %d %s after %s; want %s", code, body, timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hasFault(r readiness, kind, text string) bool {
	for _, f := range r.Faults {
		if f.Kind == kind && strings.Contains(f.Cause, text) {
			return true
		}
	}
	return false
}

// labelled reads the metric line `name{label}` from /metrics (0 if absent).
func labelled(t *testing.T, base, name, label string) int64 {
	t.Helper()
	_, body := adminGet(t, base, "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+"{"+label+"} "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			return n
		}
	}
	return 0
}

// deadLettersOf returns the dead letters whose origin is raw offset off.
func deadLettersOf(msgs []kafka.Message, off int64) []kafka.Message {
	var out []kafka.Message
	for _, m := range msgs {
		if header(m, tape.HeaderOriginOffset) == fmt.Sprint(off) {
			out = append(out, m)
		}
	}
	return out
}

// TestPolygonArrayOf150AggregatesIsOneDeadLetterAndLaterQuotesFlow is the
// message that once froze every price: 150 rejected elements in one ~25 KB
// array. It becomes one dead letter carrying every reason, and the quote
// after it comes out.
func TestPolygonArrayOf150AggregatesIsOneDeadLetterAndLaterQuotesFlow(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	_, admin := startIngest(t, brokers, tt, id)

	raw := polygonAggregates(150)
	polygon, _ := ingest.Lookup(tape.FormatPolygon)
	if _, rejects := polygon.Normalize(nil, raw); len(rejects) != 150 {
		t.Fatalf("polygon rejects %d of the 150 aggregates; this test needs each rejected", len(rejects))
	}
	produce(t, brokers, tt.raw,
		kafka.Message{Key: []byte("XAGG"), Value: raw, Headers: []kafka.Header{{Key: tape.HeaderFormat, Value: []byte("polygon")}}},
		validQuote("AFTER"))
	if q := waitForQuote(t, brokers, tt.quotes, "AFTER", 30*time.Second); q.Bid != "100.10" || q.Ask != "100.20" {
		t.Fatalf("quote after the aggregates: %+v", q)
	}

	dlq := readTopic(t, brokers, tt.dlq, 1, 30*time.Second)
	if n := topicSize(t, brokers, tt.dlq); len(dlq) != 1 || n != 1 {
		t.Fatalf("%d dead letters (topic holds %d), want one for the whole message", len(dlq), n)
	}
	dl := dlq[0]
	if !bytes.Equal(dl.Value, raw) || header(dl, tape.HeaderTruncated) != "" {
		t.Errorf("dead letter holds %d bytes (truncated %q), want the %d-byte message whole", len(dl.Value), header(dl, tape.HeaderTruncated), len(raw))
	}
	for k, want := range map[string]string{
		tape.HeaderRejectCount: "150", tape.HeaderFormat: "polygon", tape.HeaderOriginTopic: tt.raw,
		tape.HeaderOriginPartition: "0", tape.HeaderOriginOffset: "0", tape.HeaderOriginalLength: fmt.Sprint(len(raw)),
	} {
		if got := header(dl, k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	var reasons []struct {
		Index  int
		Reason string
	}
	if err := json.Unmarshal([]byte(header(dl, tape.HeaderReasons)), &reasons); err != nil || len(reasons) != 150 {
		t.Fatalf("reasons header lists %d (%v), want 150", len(reasons), err)
	}
	for i, r := range reasons {
		if r.Index != i || r.Reason != header(dl, tape.HeaderReason) {
			t.Fatalf("reason %d = %+v, want index %d, reason %q", i, r, i, header(dl, tape.HeaderReason))
		}
	}
	if n := labelled(t, admin, "tape_ingest_rejected_total", fmt.Sprintf(`format="polygon",reason=%q`, reasons[0].Reason)); n != 150 {
		t.Errorf("tape_ingest_rejected_total{format=polygon,reason=%q} = %d, want 150", reasons[0].Reason, n)
	}
	waitReadiness(t, admin, 30*time.Second, "200 ready", func(code int, _ readiness) bool { return code == http.StatusOK })
}

// polygonAggregates is a Polygon array of n aggregate objects.
func polygonAggregates(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(polygonAggregate(i))
	}
	b.WriteByte(']')
	return b.Bytes()
}

func polygonAggregate(i int) string {
	return fmt.Sprintf(`{"ev":"A","sym":"XAGG%03d","v":4110,"av":9470157,"op":0.4488,"vw":0.4466,"o":0.4477,"c":0.4458,"h":0.4478,"l":0.4457,"a":0.4466,"z":686,"s":1610144868000,"e":1610144869000}`, i%1000)
}

// aggregatesOfSize is a Polygon array of aggregates exactly size bytes
// long (padded with JSON whitespace), and how many aggregates it holds.
func aggregatesOfSize(size int) ([]byte, int) {
	b := make([]byte, 0, size)
	b = append(b, '[')
	n := 0
	for {
		next := polygonAggregate(n)
		if len(b)+1+len(next)+1 > size {
			break
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, next...)
		n++
	}
	for len(b) < size-1 {
		b = append(b, ' ')
	}
	return append(b, ']'), n
}

// TestRawMessageAtTheBrokerSizeLimitIsDeadLetteredAndLaterQuotesFlow
// produces the largest raw message the broker accepts (found by asking
// it), a Polygon array of rejected aggregates: its dead letter carries
// the first DLQMaxBytes and says how long the original was, and the quote
// after it comes out.
func TestRawMessageAtTheBrokerSizeLimitIsDeadLetteredAndLaterQuotesFlow(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	probe := newTopics(t, brokers, id+"-probe", 1)
	client := &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Timeout: 30 * time.Second, Transport: &kafka.Transport{}}
	limit := topicConfig(t, client, tt.raw, "max.message.bytes")
	headers := []kafka.Header{{Key: tape.HeaderFormat, Value: []byte("polygon")}}
	accepts := func(size int) bool {
		v, _ := aggregatesOfSize(size)
		deadline := time.Now().Add(30 * time.Second)
		for {
			res, err := client.Produce(context.Background(), &kafka.ProduceRequest{Topic: probe.raw, RequiredAcks: kafka.RequireAll,
				Records: kafka.NewRecordReader(kafka.Record{Time: time.Now(), Key: kafka.NewBytes([]byte("XAGG")), Value: kafka.NewBytes(v), Headers: headers})})
			if err == nil {
				err = res.Error
			}
			var kerr kafka.Error
			if errors.As(err, &kerr) && kerr.Temporary() && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond) // a new topic's leader is not known yet
				continue
			}
			if err != nil && !errors.Is(err, kafka.MessageSizeTooLarge) {
				t.Fatalf("produce %d bytes: %v", size, err)
			}
			return err == nil
		}
	}
	// The record batch (header, record framing, key, headers) must fit
	// the limit, so the largest value is a little under it.
	lo, hi := limit-1000, limit
	if !accepts(lo) || accepts(hi) {
		t.Fatalf("broker limit %d: want %d bytes accepted and %d refused", limit, lo, hi)
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; accepts(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	raw, n := aggregatesOfSize(lo)
	t.Logf("max.message.bytes %d: largest raw value accepted %d bytes (%d aggregates)", limit, lo, n)

	_, admin := startIngest(t, brokers, tt, id)
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(brokers, ",")...), Topic: tt.raw, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, BatchBytes: int64(limit), Transport: &kafka.Transport{}}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte("XAGG"), Value: raw, Headers: headers}); err != nil {
		t.Fatalf("produce the %d-byte message: %v", len(raw), err)
	}
	produce(t, brokers, tt.raw, validQuote("AFTER"))
	waitForQuote(t, brokers, tt.quotes, "AFTER", 60*time.Second)

	dls := deadLettersOf(readTopic(t, brokers, tt.dlq, 1, 30*time.Second), 0)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters for the large message, want 1", len(dls))
	}
	dl := dls[0]
	for k, want := range map[string]string{
		tape.HeaderTruncated: "true", tape.HeaderOriginalLength: fmt.Sprint(len(raw)), tape.HeaderRejectCount: fmt.Sprint(n),
		tape.HeaderOriginTopic: tt.raw, tape.HeaderOriginOffset: "0",
	} {
		if got := header(dl, k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if !bytes.Equal(dl.Value, raw[:ingest.DefaultDLQMaxBytes]) {
		t.Errorf("dead letter value: %d bytes, want the first %d of the message", len(dl.Value), ingest.DefaultDLQMaxBytes)
	}
	if n := labelled(t, admin, "tape_ingest_refused_total", fmt.Sprintf("topic=%q", tt.dlq)); n != 0 {
		t.Errorf("the broker refused %d dead letters", n)
	}
}

func topicConfig(t *testing.T, client *kafka.Client, topic, name string) int {
	t.Helper()
	res, err := client.DescribeConfigs(context.Background(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{name}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == name {
				v, err := strconv.Atoi(e.ConfigValue)
				if err != nil {
					t.Fatalf("%s %s = %q", topic, name, e.ConfigValue)
				}
				return v
			}
		}
	}
	t.Fatalf("%s has no %s", topic, name)
	return 0
}

// TestMissingDLQTopicIsReportedAndLaterQuotesFlow runs an ingester whose
// dead-letter topic does not exist: it says so once, is not ready, counts
// what it could not dead-letter, and the quotes after bad input come out.
func TestMissingDLQTopicIsReportedAndLaterQuotesFlow(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	missing := "missing-dlq-" + id
	s, admin := startIngest(t, brokers, tt, id, "--topic-dlq", missing)

	bad := kafka.Message{Key: []byte("BAD"), Value: []byte(`{"ev":"Q","sym":"BAD<>","bp":1,"ap":2,"t":1}`), Headers: []kafka.Header{{Key: tape.HeaderFormat, Value: []byte("polygon")}}}
	produce(t, brokers, tt.raw, bad, validQuote("AFTER1"))
	waitForQuote(t, brokers, tt.quotes, "AFTER1", 30*time.Second)
	if n := labelled(t, admin, "tape_ingest_refused_total", fmt.Sprintf("topic=%q", missing)); n != 1 {
		t.Errorf("tape_ingest_refused_total{topic=%q} = %d, want 1", missing, n)
	}
	if n := labelled(t, admin, "tape_ingest_rejected_total", `format="polygon",reason="bad_symbol"`); n != 1 {
		t.Errorf("tape_ingest_rejected_total{reason=\"bad_symbol\"} = %d, want 1", n)
	}
	waitReadiness(t, admin, 10*time.Second, "503 naming the missing topic", func(code int, r readiness) bool {
		return code == http.StatusServiceUnavailable && hasFault(r, ingest.FaultRefused, missing)
	})

	// More bad input: still counted, still moving on, and said only once.
	produce(t, brokers, tt.raw, bad, bad, bad, validQuote("AFTER2"))
	waitForQuote(t, brokers, tt.quotes, "AFTER2", 30*time.Second)
	if n := labelled(t, admin, "tape_ingest_refused_total", fmt.Sprintf("topic=%q", missing)); n != 4 {
		t.Errorf("tape_ingest_refused_total{topic=%q} = %d, want 4", missing, n)
	}
	if n := linesWith(s.out.String(), "not ready", missing); n != 1 {
		t.Errorf("the missing topic was logged %d times, want once:\n%s", n, s.out.String())
	}
}

// TestPartitionThatCannotProgressMakesIngesterNotReadyUntilItRecovers has
// the broker (an in-process one, so that the test can) answer every write
// to the events topic with Not Enough Replicas, a retriable error: the
// ingester retries, reports the stalled partition once with the cause and
// turns not ready; when writes succeed again, the waiting quote comes out,
// exactly once, and the ingester is ready again.
func TestPartitionThatCannotProgressMakesIngesterNotReadyUntilItRecovers(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()[0]
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	var failing atomic.Bool
	failing.Store(true)
	refuseProduce(cluster, tt.events, kafka.NotEnoughReplicas, &failing)
	s, admin := startIngest(t, brokers, tt, id, "--stall-after", "2s")
	produce(t, brokers, tt.raw, validQuote("WAITING"))

	r := waitReadiness(t, admin, 30*time.Second, "503 with a stalled raw partition", func(code int, r readiness) bool {
		return code == http.StatusServiceUnavailable && hasFault(r, ingest.FaultStall, tt.raw)
	})
	if !hasFault(r, ingest.FaultStall, "Not Enough Replicas") {
		t.Errorf("stall faults %+v do not name the cause (Not Enough Replicas)", r.Faults)
	}
	if n := labelled(t, admin, "tape_ingest_faults_total", `kind="stall"`); n != 1 {
		t.Errorf("tape_ingest_faults_total{kind=\"stall\"} = %d, want 1", n)
	}
	if n := topicSize(t, brokers, tt.quotes); n != 0 {
		t.Fatalf("quotes holds %d records while events cannot be written", n)
	}

	failing.Store(false)
	q := waitForQuote(t, brokers, tt.quotes, "WAITING", 60*time.Second)
	if q.Bid != "100.10" {
		t.Errorf("quote %+v", q)
	}
	waitReadiness(t, admin, 30*time.Second, "200 ready", func(code int, _ readiness) bool { return code == http.StatusOK })
	if n := topicSize(t, brokers, tt.events); n != 1 {
		t.Errorf("events topic holds %d records, want the one event once", n)
	}
	out := s.out.String()
	if n := linesWith(out, "not ready: ", "cannot progress"); n != 1 {
		t.Errorf("the stall was logged %d times, want once:\n%s", n, out)
	}
	if n := linesWith(out, "recovered: "+tt.raw); n != 1 {
		t.Errorf("the recovery was logged %d times, want once:\n%s", n, out)
	}
}

// linesWith counts the lines of out that hold every one of parts.
func linesWith(out string, parts ...string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// freezer makes a broker stop answering without closing its connections,
// as a broker does that is stopped (SIGSTOP) or cut off by a network
// partition.
type freezer struct {
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
}

func newFreezer() *freezer {
	f := &freezer{}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *freezer) set(frozen bool) {
	f.mu.Lock()
	f.frozen = frozen
	f.mu.Unlock()
	f.cond.Broadcast()
}

func (f *freezer) wait() {
	f.mu.Lock()
	for f.frozen {
		f.cond.Wait()
	}
	f.mu.Unlock()
}

type freezeListener struct {
	net.Listener
	f *freezer
}

func (l freezeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return freezeConn{c, l.f}, nil
}

type freezeConn struct {
	net.Conn
	f *freezer
}

func (c freezeConn) Read(p []byte) (int, error) {
	c.f.wait()
	n, err := c.Conn.Read(p)
	c.f.wait() // a request that arrives while frozen is not handled
	return n, err
}

func (c freezeConn) Write(p []byte) (int, error) {
	c.f.wait()
	return c.Conn.Write(p)
}

// TestUnreachableBrokerIsNoticedWithinSeconds freezes the broker (an
// in-process one, so that the test can): the ingester turns not ready and
// says so once, within seconds; when the broker answers again it is ready
// again, says so once, and quotes flow.
func TestUnreachableBrokerIsNoticedWithinSeconds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fz := newFreezer()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(string, string) (net.Listener, error) {
		return freezeListener{ln, fz}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fz.set(false); cluster.Close() })
	brokers := cluster.ListenAddrs()[0]
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 2)
	s, admin := startIngest(t, brokers, tt, id, "--session-timeout", "6s")
	produce(t, brokers, tt.raw, validQuote("BEFORE"))
	waitForQuote(t, brokers, tt.quotes, "BEFORE", 30*time.Second)
	waitReadiness(t, admin, 30*time.Second, "200 ready", func(code int, _ readiness) bool { return code == http.StatusOK })

	fz.set(true)
	frozen := time.Now()
	waitReadiness(t, admin, 30*time.Second, "503 naming the broker", func(code int, r readiness) bool {
		return code == http.StatusServiceUnavailable && hasFault(r, ingest.FaultBroker, brokers)
	})
	t.Logf("noticed after %s", time.Since(frozen).Round(100*time.Millisecond))
	time.Sleep(2 * time.Second) // stay down a little longer: still said once
	fz.set(false)
	waitReadiness(t, admin, 60*time.Second, "200 ready", func(code int, _ readiness) bool { return code == http.StatusOK })
	produce(t, brokers, tt.raw, validQuote("AFTER"))
	waitForQuote(t, brokers, tt.quotes, "AFTER", 60*time.Second)

	out := s.out.String()
	if n := strings.Count(out, "not ready: no broker"); n != 1 {
		t.Errorf("the unreachable broker was logged %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "recovered: no broker"); n != 1 {
		t.Errorf("the broker's return was logged %d times, want once:\n%s", n, out)
	}
}

// refuseProduce makes cluster answer every produce request to topic with
// code while refusing is set.
func refuseProduce(cluster *kfake.Cluster, topic string, code kafka.Error, refusing *atomic.Bool) {
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		if !refusing.Load() || len(pr.Topics) == 0 || pr.Topics[0].Topic != topic {
			return nil, nil, false
		}
		res := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			t := kmsg.NewProduceResponseTopic()
			t.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				p := kmsg.NewProduceResponseTopicPartition()
				p.Partition = rp.Partition
				p.ErrorCode = int16(code)
				t.Partitions = append(t.Partitions, p)
			}
			res.Topics = append(res.Topics, t)
		}
		return res, nil, true
	})
}

// TestOutputTheBrokerRefusesIsDeadLetteredAndLaterQuotesFlow has the
// broker (in-process) refuse for good, first the events a raw message
// became, then the quote an event became: each is dead-lettered with the
// reason and its origin, and the partition moves on.
func TestOutputTheBrokerRefusesIsDeadLetteredAndLaterQuotesFlow(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()[0]
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	var refuseEvents, refuseQuotes atomic.Bool
	refuseProduce(cluster, tt.events, kafka.InvalidRecord, &refuseEvents)
	refuseProduce(cluster, tt.quotes, kafka.MessageSizeTooLarge, &refuseQuotes)
	_, admin := startIngest(t, brokers, tt, id)

	refuseEvents.Store(true)
	produce(t, brokers, tt.raw, validQuote("DOOMED1"))
	dls := readTopic(t, brokers, tt.dlq, 1, 30*time.Second)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want the refused event's", len(dls))
	}
	for k, want := range map[string]string{
		tape.HeaderReason: ingest.ReasonRefused, tape.HeaderOriginTopic: tt.raw, tape.HeaderOriginOffset: "0", tape.HeaderOriginIndex: "0",
	} {
		if got := header(dls[0], k); got != want {
			t.Errorf("dead letter of the refused event: %s = %q, want %q", k, got, want)
		}
	}
	if e := header(dls[0], tape.HeaderError); !strings.Contains(e, "Invalid Record") {
		t.Errorf("dead letter error %q does not name the broker's reason", e)
	}
	refuseEvents.Store(false)
	refuseQuotes.Store(true)
	produce(t, brokers, tt.raw, validQuote("DOOMED2"))
	dls = readTopic(t, brokers, tt.dlq, 2, 30*time.Second)
	if len(dls) != 2 {
		t.Fatalf("%d dead letters, want the refused quote's too", len(dls))
	}
	for k, want := range map[string]string{
		tape.HeaderReason: ingest.ReasonRefused, tape.HeaderOriginTopic: tt.events, tape.HeaderOriginOffset: "0",
	} {
		if got := header(dls[1], k); got != want {
			t.Errorf("dead letter of the refused quote: %s = %q, want %q", k, got, want)
		}
	}
	refuseQuotes.Store(false)
	produce(t, brokers, tt.raw, validQuote("AFTER"))
	waitForQuote(t, brokers, tt.quotes, "AFTER", 30*time.Second)
	if n := topicSize(t, brokers, tt.quotes); n != 1 {
		t.Errorf("quotes holds %d records, want only AFTER's", n)
	}
	for _, topic := range []string{tt.events, tt.quotes} {
		if n := labelled(t, admin, "tape_ingest_refused_total", fmt.Sprintf("topic=%q", topic)); n != 1 {
			t.Errorf("tape_ingest_refused_total{topic=%q} = %d, want 1", topic, n)
		}
	}
}

// TestJunkOnTheEventsTopicIsDeadLetteredAndFoldingGoesOn has another
// client write junk to the events topic: the fold dead-letters it and
// folds the next event.
func TestJunkOnTheEventsTopicIsDeadLetteredAndFoldingGoesOn(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	_, admin := startIngest(t, brokers, tt, id)
	produce(t, brokers, tt.events, kafka.Message{Key: []byte("JUNK"), Value: []byte(`{"symbol":"JUNK","kind":"trade"`)})
	produce(t, brokers, tt.raw, validQuote("AFTER"))
	waitForQuote(t, brokers, tt.quotes, "AFTER", 30*time.Second)
	dls := readTopic(t, brokers, tt.dlq, 1, 30*time.Second)
	if len(dls) != 1 || header(dls[0], tape.HeaderOriginTopic) != tt.events || header(dls[0], tape.HeaderReason) != tape.ECodeJSON {
		t.Fatalf("dead letters %v, want the junk's with bad_json", dls)
	}
	if _, body := adminGet(t, admin, "/metrics"); !strings.Contains(body, "tape_fold_invalid_total 1\n") {
		t.Errorf("metrics do not count the junk:\n%s", body)
	}
}
