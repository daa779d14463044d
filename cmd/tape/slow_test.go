package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestSlowClientDoesNotHoldBackAFastOne: one client stops reading (a tiny
// receive window, nothing read) while a feed bursts. A fast client on the
// same node still gets every event in order; when the slow client reads
// again it converges to the latest value of every symbol, and the node
// conflated its backlog instead of holding it.
func TestSlowClientDoesNotHoldBackAFastOne(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id}, tt.flags()...)...)
	web := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id,
		"--reject-unknown=false", "--drain", "0s", "--stall-timeout", "10m"}, tt.flags()...)...)
	addr := web.addrs["http"]
	waitReady(t, "http://"+addr)

	syms := []string{"SA", "SB", "SC", "SD", "SE"}
	path := "/events?symbols=" + strings.Join(syms, ",")
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// A small receive buffer, but above the loopback MSS: below it the
	// kernel would never reopen the window and the test would measure TCP.
	slow.(*net.TCPConn).SetReadBuffer(128 << 10)
	fmt.Fprintf(slow, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	fast := openSSE(t, "http://"+addr+path, "")
	fast.next(t, 10*time.Second)

	const n = 20000
	pad := strings.Repeat("x", 24) // a longer source makes each event ~450 bytes
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		sym := syms[i%len(syms)]
		msgs[i] = kafka.Message{Key: []byte(sym), Headers: []kafka.Header{{Key: "format", Value: []byte("tape")}},
			Value: fmt.Appendf(nil, `{"symbol":%q,"bid":"%d.01","ask":"%d.02","ts":%q,"source":%q}`, sym, 1000+i, 1000+i, time.Now().UTC().Format(time.RFC3339Nano), pad)}
	}
	// Paced at 2,000 events a second, which a reading client keeps up with.
	for i := 0; i < n; i += 500 {
		produce(t, brokers, tt.raw, msgs[i:i+500]...)
		time.Sleep(250 * time.Millisecond)
	}

	got, _ := collect(t, fast, n, 60*time.Second)
	if len(got) != n {
		t.Fatalf("fast client got %d of %d events", len(got), n)
	}
	for sym, evs := range bySymbol(got) {
		for i := 1; i < len(evs); i++ {
			if bidOf(evs[i]) <= bidOf(evs[i-1]) {
				t.Fatalf("%s out of order: %s after %s", sym, evs[i], evs[i-1])
			}
		}
	}

	// Now the slow client reads: it must end on the latest value of each symbol.
	want := map[string]string{}
	for i := n - len(syms); i < n; i++ {
		want[syms[i%len(syms)]] = fmt.Sprintf("%d.01", 1000+i)
	}
	latest := map[string]string{}
	slow.SetReadDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReaderSize(slow, 64<<10)
	events := 0
	for !sameMap(latest, want) {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("slow client after %d events holds %v, want %v: %v\n%s", events, latest, want, err, get(t, "http://"+addr+"/metrics"))
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(data, `"bid"`) {
			var q quoteJSON
			if json.Unmarshal([]byte(data), &q) == nil && q.Symbol != "" {
				latest[q.Symbol] = q.Bid
				events++
			}
		}
	}
	metrics := get(t, "http://"+addr+"/metrics")
	conflated := metricValue(t, metrics, "tape_sse_conflated_updates_total")
	t.Logf("slow client read %d events to converge; %d events conflated", events, conflated)
	if conflated == 0 || events >= n {
		t.Fatalf("the slow client's backlog was not conflated (%d conflated, %d read)", conflated, events)
	}
}

func bidOf(e string) float64 {
	_, b, _ := strings.Cut(e, "@")
	f, _ := strconv.ParseFloat(b, 64)
	return f
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

func metricValue(t *testing.T, text, name string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\d+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no metric %s in:\n%s", name, text)
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	return v
}
