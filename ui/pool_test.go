package ui_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"tape/ui"
)

// stream returns the i-th stream opened.
func (f *fakeQuotes) stream(i int) *fakeStream {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.streams[i]
}

// rawStream opens /events on its own connection, with a receive buffer of
// rcvbuf bytes when not zero, and returns the connection and the body.
func rawStream(t *testing.T, base string, rcvbuf int) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if rcvbuf > 0 {
		conn.(*net.TCPConn).SetReadBuffer(rcvbuf)
	}
	io.WriteString(conn, "GET /events?symbols=AAPL HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReaderSize(conn, 64<<10)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("stream: %s", res.Status)
	}
	return conn, bufio.NewReaderSize(res.Body, 64<<10)
}

// readUntil reads lines from r until one contains want.
func readUntil(t *testing.T, conn net.Conn, r *bufio.Reader, want string, within time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(within))
	for {
		line, err := r.ReadString('\n')
		if strings.Contains(line, want) {
			return
		}
		if err != nil {
			t.Fatalf("waiting for %q: %v", want, err)
		}
	}
}

// TestStalledClientsNeverDelayAFastOne: more stalled clients than the pool
// has writers, each with megabytes waiting that its socket cannot take. If
// a stalled client held a writer, every writer would be held and the fast
// client's events would wait. They must arrive at once, and the stalled
// clients must get all their data, in order, once they read again.
func TestStalledClientsNeverDelayAFastOne(t *testing.T) {
	q := newFake()
	base, _ := serve(t, ui.Config{}, q)
	nslow := runtime.GOMAXPROCS(0) + 3
	type slowClient struct {
		conn net.Conn
		body *bufio.Reader
	}
	var slow []slowClient
	for i := range nslow {
		conn, body := rawStream(t, base, 16<<10)
		readUntil(t, conn, body, "data: {}", 5*time.Second)
		if line, err := body.ReadString('\n'); line != "\n" || err != nil {
			t.Fatalf("stream %d: %q %v after the snapshot", i, line, err)
		}
		slow = append(slow, slowClient{conn, body})
	}
	fastConn, fast := rawStream(t, base, 0)
	readUntil(t, fastConn, fast, "event: snapshot", 5*time.Second)

	// 8 MiB per stalled client: more than a loopback socket's send and
	// receive buffers hold.
	payload := func(i int) []byte {
		var b bytes.Buffer
		for j := 0; b.Len() < 8<<20; j++ {
			fmt.Fprintf(&b, "event: quote\ndata: %d/%d %s\n\n", i, j, strings.Repeat("x", 200))
		}
		return b.Bytes()
	}
	want := make([][]byte, nslow)
	for i := range nslow {
		want[i] = payload(i)
		q.stream(i).send(want[i])
	}
	time.Sleep(200 * time.Millisecond) // let the writers hit the full sockets

	fs := q.stream(nslow)
	for i := range 20 {
		began := time.Now()
		fs.send(fmt.Appendf(nil, "event: quote\ndata: fast %d\n\n", i))
		readUntil(t, fastConn, fast, fmt.Sprintf("data: fast %d", i), 5*time.Second)
		if d := time.Since(began); d > time.Second {
			t.Fatalf("fast client's event %d took %s behind %d stalled clients", i, d, nslow)
		}
	}

	// The stalled clients read again and get everything.
	var wg sync.WaitGroup
	errs := make(chan error, nslow)
	for i, c := range slow {
		wg.Go(func() {
			c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			got := make([]byte, len(want[i]))
			if _, err := io.ReadFull(c.body, got); err != nil {
				errs <- fmt.Errorf("stalled client %d: %v", i, err)
				return
			}
			if !bytes.Equal(got, want[i]) {
				at := 0
				for at < len(got) && got[at] == want[i][at] {
					at++
				}
				errs <- fmt.Errorf("stalled client %d: data differs at byte %d: %q", i, at, got[at:min(at+40, len(got))])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHeartbeatsReachIdleStreamsOnly: with the writer pool, an idle stream
// gets heartbeat comments; a stream written to within the interval needs none.
func TestHeartbeatsReachIdleStreamsOnly(t *testing.T) {
	q := newFake()
	base, _ := serve(t, ui.Config{Heartbeat: 100 * time.Millisecond}, q)
	idleConn, idle := rawStream(t, base, 0)
	busyConn, busy := rawStream(t, base, 0)
	readUntil(t, idleConn, idle, "event: snapshot", 5*time.Second)
	readUntil(t, busyConn, busy, "event: snapshot", 5*time.Second)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				q.stream(1).send([]byte("event: quote\ndata: 1\n\n"))
			case <-stop:
				return
			}
		}
	})
	busyBeats := make(chan int, 1)
	wg.Go(func() {
		n := 0
		busyConn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			line, err := busy.ReadString('\n')
			if err != nil {
				break
			}
			if strings.HasPrefix(line, ":") {
				n++
			}
		}
		busyBeats <- n
	})
	comments := 0
	idleConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for comments < 5 {
		line, err := idle.ReadString('\n')
		if err != nil {
			t.Fatalf("%d heartbeats on the idle stream, want 5: %v", comments, err)
		}
		if strings.HasPrefix(line, ":") {
			comments++
		}
	}
	close(stop)
	busyConn.Close()
	wg.Wait()
	// On a loaded machine the busy stream may pause for a whole interval
	// now and then; it must not get a heartbeat every interval.
	if n := <-busyBeats; n > 2 {
		t.Errorf("busy stream got %d heartbeats while the idle one got %d", n, comments)
	}
}

// TestDrainEndsPoolStreams: at drain every stream gets a retry hint and the
// last chunk, its connection closes and it is released, including a
// stream whose client stopped reading with data still waiting.
func TestDrainEndsPoolStreams(t *testing.T) {
	q := newFake()
	base, srv := serve(t, ui.Config{Drain: 300 * time.Millisecond, Retry: time.Second}, q)
	const n = 10
	type client struct {
		conn net.Conn
		body *bufio.Reader
	}
	var clients []client
	for range n {
		conn, body := rawStream(t, base, 16<<10)
		readUntil(t, conn, body, "event: snapshot", 5*time.Second)
		clients = append(clients, client{conn, body})
	}
	// The last client stops reading with 8 MiB waiting.
	q.stream(n - 1).send(bytes.Repeat([]byte("event: quote\ndata: x\n\n"), 8<<20/22))
	time.Sleep(100 * time.Millisecond)

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Drain(ctx)
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("drain took %s with a 300ms window", took)
	}
	for i, c := range clients[:n-1] {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(c.body) // ends cleanly at the last chunk
		if err != nil || !strings.Contains(string(rest), "retry: ") {
			t.Errorf("stream %d ended with %v after %q, want a retry hint and the last chunk", i, err, rest)
		}
	}
	for i := range n {
		if !q.stream(i).isClosed() {
			t.Errorf("stream %d not released", i)
		}
	}
}
