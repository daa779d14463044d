package main

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// collect reads quote events until the stream has n of them or times out,
// returning them and the id of the last.
func collect(t *testing.T, c *sseClient, n int, timeout time.Duration) ([]string, string) {
	t.Helper()
	var got []string
	last := ""
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return got, last
			}
			if ev.Event != "quote" {
				continue
			}
			var q quoteJSON
			json.Unmarshal([]byte(ev.Data), &q)
			got = append(got, q.Symbol+"@"+q.Bid)
			last = ev.ID
		case <-deadline:
			return got, last
		}
	}
	return got, last
}

func bySymbol(events []string) map[string][]string {
	m := map[string][]string{}
	for _, e := range events {
		sym, _, _ := strings.Cut(e, "@")
		m[sym] = append(m[sym], e)
	}
	return m
}

// TestResumeOnAnotherNodeAfterAKill: a client reads from node A, A is
// killed with SIGKILL, and the client reconnects to node B, and also to a
// node C started after the kill, with its last event id. What it got from
// A and then B (or C) equals, per symbol and in order, what a client that
// stayed on B got: nothing missed, nothing twice.
func TestResumeOnAnotherNodeAfterAKill(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id}, tt.flags()...)...)
	addrA := freeAddr(t)
	nodeA := startProcess(t, append([]string{"serve", "--brokers", brokers, "--addr", addrA, "--node-id", id + "-a", "--reject-unknown=false", "--drain", "0s"}, tt.flags()...)...)
	b := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id + "-b", "--reject-unknown=false", "--drain", "0s"}, tt.flags()...)...)
	baseA, baseB := "http://"+addrA, "http://"+b.addrs["http"]
	waitReady(t, baseA)
	waitReady(t, baseB)

	syms := []string{"RA", "RB", "RC", "RD", "RE", "RF"}
	url := "/events?symbols=" + strings.Join(syms, ",")
	stay := openSSE(t, baseB+url, "")
	mover := openSSE(t, baseA+url, "")
	stay.next(t, 10*time.Second)
	mover.next(t, 10*time.Second)

	// A feed of n quotes over the symbols, produced in small steps.
	const n = 600
	go func() {
		w := &kafka.Writer{Addr: kafka.TCP(strings.Split(brokers, ",")...), Topic: tt.raw, RequiredAcks: kafka.RequireAll,
			Balancer: &kafka.CRC32Balancer{}, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
		defer w.Close()
		for i := 0; i < n; i += 10 {
			var batch []kafka.Message
			for j := i; j < i+10; j++ {
				sym := syms[j%len(syms)]
				batch = append(batch, kafka.Message{Key: []byte(sym), Headers: []kafka.Header{{Key: "format", Value: []byte("tape")}},
					Value: fmt.Appendf(nil, `{"symbol":%q,"bid":"%d.01","ask":"%d.02","ts":%q}`, sym, 100+j, 100+j, time.Now().UTC().Format(time.RFC3339Nano))})
			}
			if err := w.WriteMessages(t.Context(), batch...); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	fromA, lastID := collect(t, mover, n/3, 30*time.Second)
	if len(fromA) < n/3 || lastID == "" {
		t.Fatalf("client got %d events from A, want %d", len(fromA), n/3)
	}
	if err := nodeA.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	nodeA.Wait()

	want, _ := collect(t, stay, n, 60*time.Second)
	if len(want) != n {
		t.Fatalf("the client that stayed on B got %d of %d events", len(want), n)
	}
	check := func(name string, got []string) {
		t.Helper()
		w, g := bySymbol(want), bySymbol(got)
		for _, s := range syms {
			if !slices.Equal(g[s], w[s]) {
				t.Errorf("%s, %s:\n got %v\nwant %v", name, s, g[s], w[s])
			}
		}
	}
	onB := openSSE(t, baseB+url, lastID)
	rest, _ := collect(t, onB, n-len(fromA), 30*time.Second)
	check("A then B", append(slices.Clone(fromA), rest...))

	// A node started after the kill rebuilds its history from Kafka and
	// resumes the same token just as exactly.
	c := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id + "-c", "--reject-unknown=false", "--drain", "0s"}, tt.flags()...)...)
	waitReady(t, "http://"+c.addrs["http"])
	onC := openSSE(t, "http://"+c.addrs["http"]+url, lastID)
	if ev := onC.next(t, 10*time.Second); ev.Event != "quote" {
		t.Fatalf("resume on a fresh node began with %q, want the missed quotes", ev.Event)
	} else {
		var q quoteJSON
		json.Unmarshal([]byte(ev.Data), &q)
		restC, _ := collect(t, onC, n-len(fromA)-1, 30*time.Second)
		check("A then a restarted node", append(append(slices.Clone(fromA), q.Symbol+"@"+q.Bid), restC...))
	}

	// A node whose history is shorter than the gap says so with a snapshot.
	d := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id + "-d", "--reject-unknown=false", "--drain", "0s", "--history-size", "10"}, tt.flags()...)...)
	waitReady(t, "http://"+d.addrs["http"])
	onD := openSSE(t, "http://"+d.addrs["http"]+url, lastID)
	if ev := onD.next(t, 10*time.Second); ev.Event != "snapshot" || !strings.Contains(ev.Data, `"reason":"expired"`) {
		t.Fatalf("resume past the history began with %s %.80s, want a snapshot with reason expired", ev.Event, ev.Data)
	}
}
