package ui_test

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tape"
	"tape/ui"
)

// rawRequest sends req on a new connection and returns the connection and
// a reader of what comes back.
func rawRequest(t *testing.T, base, req string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// get fetches path and returns the status and body.
func get(t *testing.T, base, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestStreamsKeepTheirSymbolsUnderRequestChurn: streams whose symbols came
// from the query string keep exactly those symbols while hundreds of other
// requests reuse the server's request buffers (with garbage collection
// all but off, so reused memory is not masked), and every slot they took
// is released when they close.
func TestStreamsKeepTheirSymbolsUnderRequestChurn(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(4000))
	f := newFake()
	for _, s := range []string{"BRK.B", "EUR/USD", "ES=F", "^GSPC", "ZZZZZZZZZZZZZZ"} {
		f.quotes[tape.Symbol(s)] = tape.Quote{Symbol: tape.Symbol(s), Bid: tape.MustPrice("1"), Time: time.Unix(1, 0)}
	}
	base, _ := serve(t, ui.Config{MaxStreamsPerIP: 3, Heartbeat: 200 * time.Millisecond}, f)
	lists := [][]string{{"AAPL"}, {"BRK.B", "EUR/USD", "ES=F"}, {"^GSPC", "MSFT"}}
	var bodies []io.Closer
	for i, list := range lists {
		var enc []string
		for _, s := range list {
			enc = append(enc, url.QueryEscape(strings.ToLower(s)))
		}
		res, err := http.Get(base + "/events?symbols=" + strings.Join(enc, ",") + "&lastEventId=token" + fmt.Sprint(i))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("stream %d: %v %v", i, res.Status, err)
		}
		bodies = append(bodies, res.Body)
	}
	var wg sync.WaitGroup
	for i := range 240 {
		wg.Go(func() {
			sym := "ZZZZZZZZZZZZZZ"
			if i%2 == 0 {
				sym = "MSFT"
			}
			res, err := http.Get(base + "/api/quotes?symbols=" + sym + "&pad=" + strings.Repeat("x", i*7))
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
	wg.Wait()
	f.mu.Lock()
	subs := slices.Clone(f.subscribed)
	f.mu.Unlock()
	for i, list := range lists {
		var got []string
		for _, s := range subs[i].symbols {
			got = append(got, string(s))
		}
		if !slices.Equal(got, list) || subs[i].lastID != "token"+fmt.Sprint(i) {
			t.Errorf("stream %d now holds %v and id %q, want %v and token%d", i, got, subs[i].lastID, list, i)
		}
	}
	for _, b := range bodies {
		b.Close()
	}
	// Every slot comes back: the client can open its limit again.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 3; {
		res, err := http.Get(base + "/events?symbols=AAPL")
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode == 200 {
			defer res.Body.Close()
			i++
			continue
		}
		res.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("stream %d after the others closed: %s, want 200", i, res.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEveryExitPathReleasesTheClientSlot: with one stream allowed per
// client, each way a stream can end (or fail to start) leaves the client
// able to open another.
func TestEveryExitPathReleasesTheClientSlot(t *testing.T) {
	f := newFake()
	base, _ := serve(t, ui.Config{MaxStreamsPerIP: 1, StreamOpensPerSecond: 1000, Heartbeat: 200 * time.Millisecond}, f)
	next := func(t *testing.T) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, err := http.Get(base + "/events?symbols=AAPL")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the client's slot was not released: %s", res.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Run("client closes", func(t *testing.T) { next(t) })
	t.Run("subscribe fails", func(t *testing.T) {
		f.mu.Lock()
		f.err = tape.ErrFull
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.err = nil
			f.mu.Unlock()
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, _ := get(t, base, "/events?symbols=AAPL")
			if res.StatusCode == 503 {
				break
			}
			if res.StatusCode != 429 || time.Now().After(deadline) {
				t.Fatalf("%s, want 503 once the last stream is gone", res.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
		f.mu.Lock()
		f.err = nil
		f.mu.Unlock()
		next(t)
	})
	t.Run("HEAD takes none", func(t *testing.T) {
		req, _ := http.NewRequest("HEAD", base+"/events?symbols=AAPL", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("HEAD while the client's one stream is open: %v %v", res, err)
		}
		res.Body.Close()
		next(t)
	})
	t.Run("client vanishes mid-stream", func(t *testing.T) {
		conn, r := rawRequest(t, base, "GET /events?symbols=AAPL HTTP/1.1\r\nHost: x\r\n\r\n")
		r.ReadString('\n')
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close() // a reset: the next heartbeat or event write fails
		next(t)
	})
}

// TestHeadEventsSendsHeadersOnly: HEAD /events answers with the stream's
// headers, no body byte, and subscribes to nothing.
func TestHeadEventsSendsHeadersOnly(t *testing.T) {
	f := newFake()
	base, _ := serve(t, ui.Config{}, f)
	conn, r := rawRequest(t, base, "HEAD /events?symbols=AAPL HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(r, &http.Request{Method: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HEAD: %s %q", res.Status, res.Header.Get("Content-Type"))
	}
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, err := r.ReadByte(); err == nil {
		t.Fatalf("a byte %q after the headers of a HEAD response", b)
	}
	f.mu.Lock()
	n := len(f.subscribed)
	f.mu.Unlock()
	if n != 0 {
		t.Fatalf("HEAD subscribed %d streams", n)
	}
}

// TestHTTP10StreamEndsAtClose: an HTTP/1.0 client, which knows no chunked
// encoding, gets the events as they are and the end of the body at close.
func TestHTTP10StreamEndsAtClose(t *testing.T) {
	f := newFake()
	base, srv := serve(t, ui.Config{}, f)
	conn, r := rawRequest(t, base, "GET /events?symbols=AAPL HTTP/1.0\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(r, &http.Request{Method: "GET", ProtoMajor: 1, ProtoMinor: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TransferEncoding) != 0 || res.ContentLength != -1 || !res.Close {
		t.Fatalf("HTTP/1.0 stream: transfer encoding %v, length %d, close %v; want none, unknown, close",
			res.TransferEncoding, res.ContentLength, res.Close)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		srv.Shutdown(context.Background())
	}()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading to the close: %v", err)
	}
	if !regexp.MustCompile(`^retry: \d+\n\nevent: snapshot\ndata: \{\}\n\n(:[^\n]*\n\n)*retry: \d+\n\n$`).Match(body) {
		t.Fatalf("HTTP/1.0 body %q: want plain SSE, no chunk framing", body)
	}
}

// panicky is a quote state whose listing panics.
type panicky struct{ *fakeQuotes }

func (panicky) Quotes([]tape.Symbol) []tape.Quote { panic("broken quote state") }

// TestAPanicInAHandlerDoesNotTakeTheNodeDown: the request gets a 500, the
// panic is counted, and the node goes on serving.
func TestAPanicInAHandlerDoesNotTakeTheNodeDown(t *testing.T) {
	base, _ := serve(t, ui.Config{}, panicky{newFake()})
	res, body := get(t, base, "/api/quotes?symbols=AAPL")
	if res.StatusCode != 500 || !strings.Contains(body, `"code":"internal"`) || strings.Contains(body, "broken") {
		t.Fatalf("%s %s, want a 500 that leaks nothing", res.Status, body)
	}
	if res, _ := get(t, base, "/healthz"); res.StatusCode != 200 {
		t.Fatalf("after a panic: %s", res.Status)
	}
	if _, m := get(t, base, "/metrics"); !strings.Contains(m, "tape_http_panics_total 1") {
		t.Fatalf("panic not counted:\n%s", m)
	}
}

// TestCatchingUpNodeAnswers503BeforeAnythingElse: while a node catches up
// its pages, API and stream answer 503 with Retry-After, before looking at
// symbols (a cold node knows none yet).
func TestCatchingUpNodeAnswers503BeforeAnythingElse(t *testing.T) {
	f := newFake()
	f.ready = false
	base, _ := serve(t, ui.Config{RejectUnknown: true}, f)
	for _, path := range []string{"/", "/s/AAPL", "/api/quotes", "/api/quotes?symbols=NEVERSEEN", "/events?symbols=NEVERSEEN"} {
		res, body := get(t, base, path)
		if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || !strings.Contains(body, `"unavailable"`) {
			t.Errorf("%s while catching up: %s %s, want 503 unavailable with Retry-After", path, res.Status, body)
		}
	}
}

// TestReadinessReportsAnUnreachableBroker: /readyz fails while the node's
// broker cannot be reached, and says so.
func TestReadinessReportsAnUnreachableBroker(t *testing.T) {
	f := newFake()
	base, _ := serve(t, ui.Config{}, f)
	f.mu.Lock()
	f.staleSince = time.Now()
	f.mu.Unlock()
	res, body := get(t, base, "/readyz")
	if res.StatusCode != 503 || !strings.Contains(body, "broker unreachable") {
		t.Fatalf("readyz with the broker down: %s %s", res.Status, body)
	}
}

// TestConfigurationOutOfRangeIsRefused: settings that cannot work are
// refused at start with the field and its range, never accepted to fail
// later.
func TestConfigurationOutOfRangeIsRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  ui.Config
		want string
	}{
		{"negative drain", ui.Config{Drain: -3 * time.Second}, "Drain is -3s, want 0s to 10m0s"},
		{"negative heartbeat", ui.Config{Heartbeat: -time.Second}, "Heartbeat is -1s"},
		{"tiny heartbeat", ui.Config{Heartbeat: time.Millisecond}, "Heartbeat is 1ms"},
		{"negative streams per client", ui.Config{MaxStreamsPerIP: -1}, "MaxStreamsPerIP is -1, want 1 to"},
		{"bad proxy", ui.Config{TrustedProxies: []string{"lb.example"}}, `TrustedProxies: trusted proxy "lb.example"`},
		{"node id with a line break", ui.Config{NodeID: "a\r\nSet-Cookie: x"}, "NodeID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ui.New(tt.cfg, newFake())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestLargestWatchlistStreams: the longest watchlist the node accepts
// (MaxSymbols symbols of the longest length, full of characters a URL
// escapes) renders a page whose own stream URL the node then serves.
func TestLargestWatchlistStreams(t *testing.T) {
	f := newFake()
	var syms []string
	for i := range ui.DefaultMaxSymbols {
		s := fmt.Sprintf("^%02d/=:/=:/=:/=:/=:/=:/=:", i)[:tape.MaxSymbolLen]
		syms = append(syms, s)
		f.quotes[tape.Symbol(s)] = tape.Quote{Symbol: tape.Symbol(s), Bid: tape.MustPrice("1"), Time: time.Unix(1, 0)}
	}
	base, _ := serve(t, ui.Config{RejectUnknown: true}, f)
	var enc []string
	for _, s := range syms {
		enc = append(enc, url.QueryEscape(s))
	}
	res, page := get(t, base, "/?symbols="+strings.Join(enc, ","))
	if res.StatusCode != 200 {
		t.Fatalf("the page of the largest watchlist: %s", res.Status)
	}
	stream := pageStream(t, page)
	t.Logf("stream URL of %d bytes", len(stream))
	res2, err := http.Get(base + stream)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != 200 {
		t.Fatalf("the page's own stream URL: %s", res2.Status)
	}
	f.mu.Lock()
	got := len(f.subscribed[0].symbols)
	f.mu.Unlock()
	if got != len(syms) {
		t.Fatalf("stream of %d symbols, want %d", got, len(syms))
	}
}

// TestClientThatReadsNothingIsDisconnected: a client whose socket takes
// nothing for the stall timeout is disconnected, though nothing new is
// sent to it (its symbols went quiet).
func TestClientThatReadsNothingIsDisconnected(t *testing.T) {
	f := newFake()
	base, _ := serve(t, ui.Config{StallTimeout: time.Second}, f)
	conn, _ := rawStream(t, base, 4096) // never read
	deadline := time.Now().Add(10 * time.Second)
	for len(f.streams) == 0 || f.stream(0).notify == nil {
		if time.Now().After(deadline) {
			t.Fatal("no stream")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.stream(0).send([]byte(strings.Repeat("event: quote\ndata: x\n\n", 16<<20/22))) // more than the socket holds, then quiet
	for !f.stream(0).isClosed() {
		if time.Now().After(deadline) {
			t.Fatal("a client that reads nothing is still connected")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = conn
	if _, m := get(t, base, "/metrics"); !strings.Contains(m, `tape_sse_disconnects_total{reason="stalled"} 1`) {
		t.Fatalf("not counted:\n%s", m)
	}
}

// TestOneClientOpeningStreamsInALoopIsRefused: past its burst, a client
// opening streams in a loop gets 429 with Retry-After.
func TestOneClientOpeningStreamsInALoopIsRefused(t *testing.T) {
	base, _ := serve(t, ui.Config{MaxStreamsPerIP: 5, StreamOpensPerSecond: 1}, newFake())
	refused := 0
	for range 12 {
		res, err := http.Get(base + "/events?symbols=AAPL")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 429 && res.Header.Get("Retry-After") != "" {
			refused++
		}
	}
	if refused < 5 {
		t.Fatalf("%d of 12 quick openings refused, want the ones past the burst of 5", refused)
	}
}

// TestListingEverySymbolIsPaged: /api/quotes without symbols pages through
// every quote in symbol order.
func TestListingEverySymbolIsPaged(t *testing.T) {
	base, _ := serve(t, ui.Config{}, newFake())
	res, body := get(t, base, "/api/quotes?limit=1")
	if res.StatusCode != 200 || !strings.Contains(body, `"symbol":"AAPL"`) || !strings.HasSuffix(body, `],"next":"AAPL"}`) {
		t.Fatalf("first page: %s %s", res.Status, body)
	}
	_, body = get(t, base, "/api/quotes?limit=1&after=AAPL")
	if !strings.Contains(body, `"symbol":"MSFT"`) || strings.Contains(body, `"next"`) {
		t.Fatalf("last page: %s", body)
	}
	if res, _ := get(t, base, "/api/quotes?limit=5000"); res.StatusCode != 400 {
		t.Fatalf("limit 5000: %s, want 400", res.Status)
	}
}

// TestWatchlistOfASymbolNotSeenYetStreamsIt: a watchlist naming a symbol
// the node has no quote for yet renders its row, and the page's own stream
// includes it, so its first quote reaches the page without a reload.
func TestWatchlistOfASymbolNotSeenYetStreamsIt(t *testing.T) {
	f := newFake()
	base, _ := serve(t, ui.Config{RejectUnknown: true}, f)
	_, page := get(t, base, "/?symbols=AAPL,XLATER")
	stream := pageStream(t, page)
	if !strings.Contains(stream, "XLATER") || !strings.Contains(page, `data-symbol="XLATER"`) {
		t.Fatalf("page stream %s: want the row and the stream of XLATER", stream)
	}
	res, err := http.Get(base + stream)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("the page's stream: %s, want 200", res.Status)
	}
	if res, _ := get(t, base, "/api/quotes?symbols=XLATER"); res.StatusCode != 400 {
		t.Fatalf("/api/quotes of a never-seen symbol: %s, want 400 naming it", res.Status)
	}
}

// TestAClosedStreamFreesItsSlotAtOnce: a client that closed its stream on
// a quiet symbol (no write has failed yet) can open another at once; the
// node does not count the closed one against it.
func TestAClosedStreamFreesItsSlotAtOnce(t *testing.T) {
	f := newFake()
	base, _ := serve(t, ui.Config{MaxStreamsPerIP: 1, StreamOpensPerSecond: 1e6, Heartbeat: 10 * time.Minute}, f)
	for i := range 5 {
		conn, r := rawRequest(t, base, "GET /events?symbols=AAPL HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("stream %d after the previous one closed: %s %s", i, res.Status, b)
		}
		conn.Close()
	}
}

// TestAClosedIdleStreamIsNoticedWithinAHeartbeat: a stream whose client
// closed it and which has nothing to send is ended at the next heartbeat
// check, by looking at the connection, not after writes fail.
func TestAClosedIdleStreamIsNoticedWithinAHeartbeat(t *testing.T) {
	f := newFake()
	base, _ := serve(t, ui.Config{Heartbeat: time.Second}, f)
	conn, r := rawRequest(t, base, "GET /events?symbols=AAPL HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(r, nil); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !f.stream(0).isClosed() {
		if time.Now().After(deadline) {
			t.Fatal("a closed idle stream is still open after 10 heartbeat intervals")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, m := get(t, base, "/metrics"); !strings.Contains(m, "tape_sse_streams 0") {
		t.Fatalf("still counted:\n%s", m)
	}
}

// pageStream returns the stream URL the page's script opens: its <main
// data-symbols>, each symbol escaped as encodeURIComponent does.
func pageStream(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`<main data-symbols="([^"]*)"`).FindStringSubmatch(page)
	if m == nil || m[1] == "" {
		t.Fatal("the page names no symbols to stream")
	}
	var enc []string
	for _, s := range strings.Split(html.UnescapeString(m[1]), ",") {
		enc = append(enc, strings.ReplaceAll(url.QueryEscape(s), "+", "%20"))
	}
	return "/events?symbols=" + strings.Join(enc, ",")
}
