package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tape"
	"tape/ui"
)

// fakeQuotes is a hand-written ui.Quotes.
type fakeQuotes struct {
	mu         sync.Mutex
	quotes     map[tape.Symbol]tape.Quote
	ready      bool
	staleSince time.Time
	err        error
	streams    []*fakeStream
	// subscribed holds the symbols and id of every Subscribe, in order.
	subscribed []subscription
}

func (f *fakeQuotes) Quotes(syms []tape.Symbol) []tape.Quote {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []tape.Quote
	for _, s := range syms {
		if q, ok := f.quotes[s]; ok {
			out = append(out, q)
		}
	}
	if len(syms) == 0 {
		for _, q := range f.quotes {
			out = append(out, q)
		}
	}
	return out
}

func (f *fakeQuotes) Recent(tape.Symbol) []tape.Price { return nil }
func (f *fakeQuotes) Ready() bool                     { f.mu.Lock(); defer f.mu.Unlock(); return f.ready }
func (f *fakeQuotes) FeedStale() (time.Time, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.staleSince.IsZero() {
		return f.staleSince, ""
	}
	return f.staleSince, "broker unreachable"
}

// Page lists the quotes in symbol order after after.
func (f *fakeQuotes) Page(after tape.Symbol, limit int) ([]tape.Quote, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var syms []tape.Symbol
	for s := range f.quotes {
		if s > after {
			syms = append(syms, s)
		}
	}
	slices.Sort(syms)
	var out []tape.Quote
	for _, s := range syms[:min(limit, len(syms))] {
		out = append(out, f.quotes[s])
	}
	return out, len(syms) > limit
}

func (f *fakeQuotes) Subscribe(syms []tape.Symbol, lastID string, opts ui.StreamOptions) (ui.Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.subscribed = append(f.subscribed, subscription{syms, lastID})
	s := &fakeStream{opts: opts}
	s.queue = []byte("event: snapshot\ndata: {}\n\n")
	f.streams = append(f.streams, s)
	return s, nil
}

type subscription struct {
	symbols []tape.Symbol
	lastID  string
}

// fakeStream is a hand-written ui.Stream: tests queue bytes with send.
type fakeStream struct {
	mu     sync.Mutex
	queue  []byte
	closed bool
	notify func()
	onSlow func()
	opts   ui.StreamOptions // immutable
}

func (s *fakeStream) SetNotify(fn func()) {
	s.mu.Lock()
	s.notify = fn
	s.mu.Unlock()
	fn()
}

func (s *fakeStream) OnSlow(fn func()) { s.mu.Lock(); s.onSlow = fn; s.mu.Unlock() }

// send queues b and tells the writer.
func (s *fakeStream) send(b []byte) {
	s.mu.Lock()
	s.queue = append(s.queue, b...)
	fn := s.notify
	s.mu.Unlock()
	fn()
}

func (s *fakeStream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *fakeStream) WriteTo(w io.Writer) (int64, error) {
	s.mu.Lock()
	b := s.queue
	s.queue = nil
	s.mu.Unlock()
	n, err := w.Write(b)
	return int64(n), err
}
func (s *fakeStream) Close() { s.mu.Lock(); s.closed = true; s.mu.Unlock() }

func newFake() *fakeQuotes {
	return &fakeQuotes{ready: true, quotes: map[tape.Symbol]tape.Quote{
		"AAPL": {Symbol: "AAPL", Bid: tape.MustPrice("187.42"), Ask: tape.MustPrice("187.44"), Last: tape.MustPrice("187.43"),
			Time: time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC), Source: `</td><script>alert(1)</script>`},
		"MSFT": {Symbol: "MSFT", Bid: tape.MustPrice("0.3"), Ask: tape.MustPrice("0.30000001"), Time: time.Unix(1, 0).UTC(), Source: "x"},
	}}
}

// serve runs a server on a real port until the test ends.
func serve(t *testing.T, cfg ui.Config, q ui.Quotes) (string, *ui.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ui.New(cfg, q)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String(), srv
}

type apiError struct {
	Error struct {
		Code, Message string
		Symbols       []string
	}
}

func TestBadRequestsGetClearErrors(t *testing.T) {
	base, _ := serve(t, ui.Config{MaxSymbols: 3, RejectUnknown: true}, newFake())
	tests := []struct {
		name, path string
		status     int
		code       string
		symbols    []string
		retryAfter string
	}{
		{"no symbols", "/events", 400, "missing_symbols", nil, ""},
		{"malformed symbols", "/events?symbols=AAPL,%3Cscript%3E,a%0Ab", 400, "bad_symbol", []string{"<script>", "a\nb"}, ""},
		{"too many symbols", "/events?symbols=A,B,C,D", 400, "too_many_symbols", nil, ""},
		{"unknown in the API", "/api/quotes?symbols=ZZZ", 400, "unknown_symbols", []string{"ZZZ"}, ""},
		{"bad symbol page", "/s/%3Cb%3E", 400, "bad_symbol", []string{"<b>"}, ""},
		{"huge query", "/api/quotes?symbols=" + strings.Repeat("A,", 5000), 414, "too_long", nil, ""},
		{"no such asset", "/static/..%2Fserver.go", 404, "not_found", nil, ""},
		{"max_rate not a number", "/events?symbols=AAPL&max_rate=fast", 400, "bad_max_rate", nil, ""},
		{"max_rate zero", "/events?symbols=AAPL&max_rate=0", 400, "bad_max_rate", nil, ""},
		{"max_rate too high", "/events?symbols=AAPL&max_rate=1e9", 400, "bad_max_rate", nil, ""},
		{"max_rate NaN", "/events?symbols=AAPL&max_rate=NaN", 400, "bad_max_rate", nil, ""},
		{"unknown encoding", "/events?symbols=AAPL&encoding=gzip", 400, "bad_encoding", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := http.Get(base + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body apiError
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if res.StatusCode != tt.status || body.Error.Code != tt.code || body.Error.Message == "" {
				t.Fatalf("%d %+v, want %d %s", res.StatusCode, body, tt.status, tt.code)
			}
			if tt.symbols != nil && strings.Join(body.Error.Symbols, "|") != strings.Join(tt.symbols, "|") {
				t.Fatalf("named symbols %q, want %q", body.Error.Symbols, tt.symbols)
			}
		})
	}
}

// TestStreamOptionsReachTheStream: /events?max_rate=2.5&encoding=delta
// opens a stream capped and with deltas (both are the hub's: stream's
// TestMaxRate… and TestDelta…).
func TestStreamOptionsReachTheStream(t *testing.T) {
	f := newFake()
	base, _ := serve(t, ui.Config{}, f)
	for _, tt := range []struct {
		query string
		want  ui.StreamOptions
	}{{"", ui.StreamOptions{}}, {"&max_rate=2.5", ui.StreamOptions{MaxRate: 2.5}},
		{"&encoding=delta", ui.StreamOptions{Delta: true}}, {"&encoding=full&max_rate=1000", ui.StreamOptions{MaxRate: 1000}}} {
		res, err := http.Get(base + "/events?symbols=AAPL" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			t.Fatalf("%s: %s", tt.query, res.Status)
		}
		res.Body.Close()
		f.mu.Lock()
		s := f.streams[len(f.streams)-1]
		f.mu.Unlock()
		if s.opts != tt.want {
			t.Errorf("%q: stream options %+v, want %+v", tt.query, s.opts, tt.want)
		}
	}
}

func TestUnavailableNodeAnswers503WithRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*fakeQuotes)
		want string
	}{
		{"catching up", func(f *fakeQuotes) { f.err = tape.ErrUnavailable }, "2"},
		{"full", func(f *fakeQuotes) { f.err = tape.ErrFull }, "5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			tt.set(f)
			base, _ := serve(t, ui.Config{}, f)
			res, err := http.Get(base + "/events?symbols=AAPL")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 503 || res.Header.Get("Retry-After") != tt.want {
				t.Fatalf("%s Retry-After %q, want 503 and %s", res.Status, res.Header.Get("Retry-After"), tt.want)
			}
		})
	}
}

func TestPerClientStreamLimit(t *testing.T) {
	base, _ := serve(t, ui.Config{MaxStreamsPerIP: 2}, newFake())
	for i := range 3 {
		res, err := http.Get(base + "/events?symbols=AAPL")
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if res.StatusCode != 200 {
				t.Fatalf("stream %d: %s", i, res.Status)
			}
			defer res.Body.Close()
			continue
		}
		res.Body.Close()
		if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
			t.Fatalf("third stream from one client: %s, want 429 with Retry-After", res.Status)
		}
	}
}

func TestCORSIsOffUnlessAllowed(t *testing.T) {
	base, _ := serve(t, ui.Config{CORSOrigins: []string{"https://desk.example"}}, newFake())
	for origin, want := range map[string]string{"https://desk.example": "https://desk.example", "https://evil.example": ""} {
		req, _ := http.NewRequest("GET", base+"/api/quotes", nil)
		req.Header.Set("Origin", origin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("Origin %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
		}
	}
}

func TestDashboardRendersPricesExactlyAndEscapesFeedData(t *testing.T) {
	base, _ := serve(t, ui.Config{}, newFake())
	for _, path := range []string{"/?symbols=AAPL,MSFT", "/s/AAPL"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		page := string(b)
		if res.StatusCode != 200 || !strings.Contains(page, ">187.42<") {
			t.Fatalf("%s: %s, page lacks the bid 187.42", path, res.Status)
		}
		if strings.Contains(page, "<script>alert(1)") {
			t.Fatalf("%s: feed data reached the page unescaped", path)
		}
	}
	res, _ := http.Get(base + "/?symbols=AAPL,MSFT")
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), ">0.30<") || !strings.Contains(string(b), ">0.30000001<") || strings.Contains(string(b), "0.30000000000000004") {
		t.Fatal("prices are not shown exactly")
	}
}

func TestHeartbeatKeepsIdleStreamsAlive(t *testing.T) {
	base, _ := serve(t, ui.Config{Heartbeat: 100 * time.Millisecond}, newFake())
	res, err := http.Get(base + "/events?symbols=AAPL")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := bufio.NewReader(res.Body)
	comments := 0
	deadline := time.Now().Add(5 * time.Second)
	for comments < 3 && time.Now().Before(deadline) {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, ":") {
			comments++
		}
	}
	if comments < 3 {
		t.Fatalf("%d heartbeat comments, want 3", comments)
	}
}

func TestDrainSpreadsClosesOverTheWindow(t *testing.T) {
	f := newFake()
	base, srv := serve(t, ui.Config{Drain: time.Second, Retry: time.Second}, f)
	const n = 20
	ends := make(chan time.Time, n)
	retries := make(chan string, n)
	for range n {
		res, err := http.Get(base + "/events?symbols=AAPL")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer res.Body.Close()
			r := bufio.NewReader(res.Body)
			last := ""
			for {
				line, err := r.ReadString('\n')
				if strings.HasPrefix(line, "retry:") {
					last = line
				}
				if err != nil {
					break
				}
			}
			retries <- last
			ends <- time.Now()
		}()
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go srv.Drain(ctx)
	time.Sleep(50 * time.Millisecond)
	if res, err := http.Get(base + "/readyz"); err != nil || res.StatusCode != 503 {
		t.Fatalf("readyz during drain: %v %v, want 503 at once", res.Status, err)
	}
	var first, last time.Time
	hints := map[string]bool{}
	for range n {
		at := <-ends
		hints[<-retries] = true
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	t.Logf("streams closed between %s and %s after the drain began", first.Sub(began), last.Sub(began))
	if last.Sub(first) < 300*time.Millisecond || last.Sub(began) > 3*time.Second {
		t.Fatalf("closes spread over %s (from %s), want most of the 1s window", last.Sub(first), first.Sub(began))
	}
	if len(hints) < n/2 {
		t.Fatalf("%d distinct retry hints for %d streams: want jitter", len(hints), n)
	}
}
