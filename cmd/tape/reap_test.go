package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(entries)
}

// TestAbruptDisconnectsReturnToBaseline opens 1,000 SSE streams over raw
// TCP, resets them all at once (no FIN, as a crashed browser or a cut
// network would), and checks that the node's goroutines and file
// descriptors return to where they were: heartbeats find the dead clients.
func TestAbruptDisconnectsReturnToBaseline(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	web := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id,
		"--reject-unknown=false", "--drain", "0s", "--heartbeat", "200ms", "--max-streams-per-ip", "2000"}, tt.flags()...)...)
	addr := web.addrs["http"]
	waitReady(t, "http://"+addr)
	runtime.GC()
	time.Sleep(500 * time.Millisecond)
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	const n = 1000
	conns := make([]*net.TCPConn, 0, n)
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		tc := c.(*net.TCPConn)
		fmt.Fprintf(tc, "GET /events?symbols=AB%d HTTP/1.1\r\nHost: x\r\n\r\n", i%50)
		conns = append(conns, tc)
	}
	for i, c := range conns { // every stream is live before the cut
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		status, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.Contains(status, " 200 ") {
			t.Fatalf("stream %d: %q %v", i, status, err)
		}
	}
	peakG := runtime.NumGoroutine()
	for _, c := range conns {
		c.SetLinger(0) // close with RST
		c.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	var g, fd int
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		g, fd = runtime.NumGoroutine(), openFDs(t)
		if g <= baseG+10 && fd <= baseFD+5 {
			t.Logf("goroutines %d -> %d -> %d, fds %d -> %d", baseG, peakG, g, baseFD, fd)
			return
		}
	}
	t.Fatalf("after 1,000 abrupt disconnects: goroutines %d (baseline %d, peak %d), fds %d (baseline %d)", g, baseG, peakG, fd, baseFD)
}
