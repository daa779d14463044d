package ui_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"tape/ui"
)

// TestStreamOnTakenOverConnection checks the wire of a stream written
// straight to its connection: a valid HTTP/1.1 response with the headers
// every handler set, whose body is the events as they are (no chunk
// framing) and ends when the connection closes, events in order, and at
// shutdown a retry hint and the connection closed.
func TestStreamOnTakenOverConnection(t *testing.T) {
	f := newFake()
	base, srv := serve(t, ui.Config{NodeID: "n1", CORSOrigins: []string{"https://a.example"}}, f)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /events?symbols=AAPL HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Tape-Node": "n1",
		"Access-Control-Allow-Origin": "https://a.example", "X-Content-Type-Options": "nosniff",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if res.StatusCode != 200 || len(res.TransferEncoding) != 0 || res.ContentLength != -1 || !res.Close {
		t.Fatalf("status %d, transfer encoding %v, length %d, close %v; want 200, none, unknown, close",
			res.StatusCode, res.TransferEncoding, res.ContentLength, res.Close)
	}
	body := bufio.NewReader(res.Body)
	readUntil := func(want string) string {
		t.Helper()
		var got strings.Builder
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(got.String(), want) {
			conn.SetReadDeadline(deadline)
			line, err := body.ReadString('\n')
			got.WriteString(line)
			if err != nil {
				t.Fatalf("reading %q: %v after %q", want, err, got.String())
			}
		}
		return got.String()
	}
	readUntil("event: snapshot\n")

	// Events queued while the writer sleeps arrive together, in order.
	f.streams[0].send([]byte("event: quote\ndata: 1\n\nevent: quote\ndata: 2\n\n"))
	if got := readUntil("data: 2\n"); !strings.Contains(got, "data: 1\n\nevent: quote\ndata: 2\n") {
		t.Fatalf("events out of order: %q", got)
	}

	go srv.Shutdown(context.Background())
	readUntil("retry: ")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(body); err != nil { // the close ends the body cleanly
		t.Fatalf("end of stream: %v (after %q)", err, rest)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open after the stream ended: %v", err)
	}
	if !f.streams[0].isClosed() {
		t.Fatal("stream not released")
	}
}
