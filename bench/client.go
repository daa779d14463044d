package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config.
const (
	DefaultDialConcurrency = 200
	DefaultConnectTimeout  = 30 * time.Second
	// readBufferSize is each connection's buffers (one for HTTP framing,
	// one for events): small, since a flush rarely holds more than a few
	// events; a bigger snapshot grows the event buffer.
	readBufferSize = 4096
)

// Config describes a load.
type Config struct {
	// Target is the node's base URL, such as http://127.0.0.1:8080.
	Target string
	// Subscribers is how many SSE streams to open.
	Subscribers int
	// Symbols returns the symbols of subscriber i.
	Symbols func(i int) []string
	// Base is the sequence number every symbol starts from: the producer
	// encodes base+1, base+2, ... in each quote's bid_size, so values at
	// or below Base are from earlier runs.
	Base int64
	// DialConcurrency bounds connections being opened at once.
	DialConcurrency int
	// ConnectTimeout bounds opening all streams.
	ConnectTimeout time.Duration
	// Query is added to every stream's URL, such as "&max_rate=5".
	Query string
}

// Load is a set of open SSE streams and what they received.
type Load struct {
	cfg        Config
	host, path string

	// Latency is the time from a quote's ts to its receipt, recorded
	// while Recording.
	Latency   Histogram
	recording atomic.Bool
	closing   atomic.Bool

	events     atomic.Int64 // quote events received while recording
	all        atomic.Int64 // quote events received
	bytes      atomic.Int64
	snapshots  atomic.Int64
	heartbeats atomic.Int64
	gaps       atomic.Int64
	dups       atomic.Int64
	ended      atomic.Int64 // streams the server ended
	refused    atomic.Int64

	mu   sync.Mutex // guards subs
	subs []*sub
	wg   sync.WaitGroup
}

// sub is one stream's state, touched only by its goroutine until Finish.
type sub struct {
	conn net.Conn
	open bool // got its snapshot
	syms []string
	last []int64 // highest sequence seen per symbol
	// ts holds per symbol the ts the stream last gave (deltas send the
	// tail of it that changed).
	ts [][30]byte
}

// setTS keeps ts as symbol k's.
func (s *sub) setTS(k int, ts []byte) {
	if s.ts == nil {
		s.ts = make([][30]byte, len(s.syms))
	}
	copy(s.ts[k][:], ts)
}

// applyTail applies a delta's ts tail ("N:TAIL") to symbol k's ts and
// returns the whole ts.
func (s *sub) applyTail(k int, tail []byte) []byte {
	if s.ts == nil {
		s.ts = make([][30]byte, len(s.syms))
	}
	i := bytes.IndexByte(tail, ':')
	n, err := strconv.Atoi(string(tail[:max(i, 0)]))
	if i < 0 || err != nil || n < 0 || n+len(tail)-i-1 != 30 {
		return nil
	}
	copy(s.ts[k][n:], tail[i+1:])
	return s.ts[k][:]
}

func (s *sub) index(sym []byte) int {
	for i, v := range s.syms {
		if v == string(sym) {
			return i
		}
	}
	return -1
}

// Start opens cfg.Subscribers streams and returns once each has received
// its snapshot, or failed. Streams that could not open are counted as
// refused; Start fails only if none opened.
func Start(ctx context.Context, cfg Config) (*Load, error) {
	u, err := url.Parse(cfg.Target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("bench: target %q: want http://host:port", cfg.Target)
	}
	if cfg.DialConcurrency <= 0 {
		cfg.DialConcurrency = DefaultDialConcurrency
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	l := &Load{cfg: cfg, host: u.Host, path: u.Path + "/events"}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	sem := make(chan struct{}, cfg.DialConcurrency)
	results := make(chan error, cfg.Subscribers)
	for i := range cfg.Subscribers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results <- ctx.Err()
			continue
		}
		syms := cfg.Symbols(i)
		s := &sub{syms: syms, last: make([]int64, len(syms))}
		for j := range s.last {
			s.last[j] = cfg.Base
		}
		var once sync.Once
		ready := func(err error) { once.Do(func() { <-sem; results <- err }) }
		l.wg.Go(func() { l.run(ctx, s, ready) })
	}
	var errs []error
	for range cfg.Subscribers {
		if err := <-results; err != nil {
			l.refused.Add(1)
			if len(errs) < 3 {
				errs = append(errs, err)
			}
		}
	}
	if l.refused.Load() == int64(cfg.Subscribers) {
		l.Close()
		return nil, fmt.Errorf("bench: no stream opened: %w", errors.Join(errs...))
	}
	return l, nil
}

func (l *Load) run(ctx context.Context, s *sub, ready func(error)) {
	defer ready(errors.New("bench: stream ended before its snapshot"))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", l.host)
	if err != nil {
		ready(err)
		return
	}
	s.conn = conn
	l.mu.Lock()
	l.subs = append(l.subs, s)
	l.mu.Unlock()
	if l.closing.Load() {
		conn.Close()
	}
	q := ""
	for i, sym := range s.syms {
		if i > 0 {
			q += ","
		}
		q += sym
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	_, err = fmt.Fprintf(conn, "GET %s?symbols=%s%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n", l.path, q, l.cfg.Query, l.host)
	if err != nil {
		ready(err)
		return
	}
	br := bufio.NewReaderSize(conn, readBufferSize)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		ready(err)
		return
	}
	if res.StatusCode != http.StatusOK {
		ready(fmt.Errorf("bench: GET /events: %s", res.Status))
		return
	}
	body := res.Body
	buf := make([]byte, readBufferSize)
	start, end := 0, 0
	for {
		if end == len(buf) {
			if start > 0 {
				end = copy(buf, buf[start:end])
				start = 0
			} else {
				buf = append(buf, make([]byte, len(buf))...)
			}
		}
		n, err := body.Read(buf[end:])
		now := time.Now()
		end += n
		l.bytes.Add(int64(n))
		for {
			i := bytes.Index(buf[start:end], sep)
			if i < 0 {
				break
			}
			if l.event(s, buf[start:start+i], now) {
				if stop() {
					conn.SetDeadline(time.Time{})
				}
				s.open = true
				ready(nil)
			}
			start += i + len(sep)
		}
		if start == end {
			start, end = 0, 0
		}
		if err != nil {
			if !l.closing.Load() {
				l.ended.Add(1)
			}
			return
		}
	}
}

var (
	sep       = []byte("\n\n")
	keyEvent  = []byte("event: ")
	keyData   = []byte("data: ")
	keySymbol = []byte(`"symbol":"`)
	keySize   = []byte(`"bid_size":`)
	keyTS     = []byte(`"ts":"`)
	// The same fields in a delta event (encoding=delta).
	fullKeys  = quoteKeys{keySymbol, keySize, keyTS, false}
	deltaKeys = quoteKeys{[]byte(`"s":"`), []byte(`"bs":`), []byte(`"t":"`), true}
)

// quoteKeys are where a quote event has the fields the load reads.
// In a delta, ts is the tail that changed (tail).
type quoteKeys struct {
	symbol, size, ts []byte
	tail             bool
}

// event handles one event and reports whether it was the snapshot.
func (l *Load) event(s *sub, ev []byte, now time.Time) (snapshot bool) {
	var name, data []byte
	for len(ev) > 0 {
		line := ev
		if i := bytes.IndexByte(ev, '\n'); i >= 0 {
			line, ev = ev[:i], ev[i+1:]
		} else {
			ev = nil
		}
		switch {
		case bytes.HasPrefix(line, keyEvent):
			name = line[len(keyEvent):]
		case bytes.HasPrefix(line, keyData):
			data = line[len(keyData):] // quote JSON is one line
		case len(line) > 0 && line[0] == ':':
			l.heartbeats.Add(1)
		}
	}
	switch string(name) {
	case "quote":
		l.quote(s, data, now, fullKeys)
	case "":
		if data != nil { // a delta: a quote event without a name
			l.quote(s, data, now, deltaKeys)
		}
	case "snapshot":
		l.snapshots.Add(1)
		// Each quote object is flat: its bid_size follows its symbol.
		for {
			i := bytes.Index(data, keySymbol)
			if i < 0 {
				break
			}
			data = data[i+len(keySymbol):]
			sym := upTo(data, '"')
			if k := s.index(sym); k >= 0 {
				if tsb, ok := field(data, keyTS, '"'); ok {
					s.setTS(k, tsb)
				}
				if seq, ok := field(data, keySize, ','); ok {
					if v, err := strconv.ParseInt(string(unquote(seq)), 10, 64); err == nil && v > s.last[k] {
						s.last[k] = v
					}
				}
			}
		}
		return true
	}
	return false
}

func (l *Load) quote(s *sub, data []byte, now time.Time, keys quoteKeys) {
	l.all.Add(1)
	sym, _ := field(data, keys.symbol, '"')
	k := s.index(sym)
	if k < 0 {
		return
	}
	// The ts first: every event moves what the stream holds, counted
	// or not, and a delta's tail applies to it.
	tsb, hasTS := field(data, keys.ts, '"')
	if hasTS {
		if keys.tail { // a delta's "N:TAIL"
			tsb = s.applyTail(k, tsb)
		} else {
			s.setTS(k, tsb)
		}
	}
	seqb, ok := field(data, keys.size, ',')
	if !ok {
		return
	}
	seq, err := strconv.ParseInt(string(unquote(seqb)), 10, 64)
	if err != nil || seq <= l.cfg.Base {
		return
	}
	switch last := s.last[k]; {
	case seq <= last:
		l.dups.Add(1)
		return
	case seq > last+1:
		l.gaps.Add(seq - last - 1)
	}
	s.last[k] = seq
	if !l.recording.Load() {
		return
	}
	l.events.Add(1)
	if hasTS {
		if ts, ok := parseTS(tsb); ok {
			l.Latency.Record(now.Sub(ts))
		}
	}
}

// field returns the bytes after key up to end.
func field(data, key []byte, end byte) ([]byte, bool) {
	i := bytes.Index(data, key)
	if i < 0 {
		return nil, false
	}
	return upTo(data[i+len(key):], end), true
}

// unquote drops the quotes around a JSON string's bytes: sizes are
// decimal strings ("100"), and were numbers before.
func unquote(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}

func upTo(b []byte, end byte) []byte {
	if j := bytes.IndexByte(b, end); j >= 0 {
		return b[:j]
	}
	return b
}

// parseTS parses tape's fixed-width time, 2006-01-02T15:04:05.000000000Z,
// without allocating; other forms go through time.Parse.
func parseTS(b []byte) (time.Time, bool) {
	if len(b) != 30 || b[4] != '-' || b[10] != 'T' || b[19] != '.' || b[29] != 'Z' {
		t, err := time.Parse(time.RFC3339Nano, string(b))
		return t, err == nil
	}
	num := func(lo, hi int) int {
		n := 0
		for _, c := range b[lo:hi] {
			n = n*10 + int(c-'0')
		}
		return n
	}
	return time.Date(num(0, 4), time.Month(num(5, 7)), num(8, 10), num(11, 13), num(14, 16), num(17, 19), num(20, 29), time.UTC), true
}

// Record turns latency and event counting on or off.
func (l *Load) Record(on bool) { l.recording.Store(on) }

// Received returns how many quote events arrived in all.
func (l *Load) Received() int64 { return l.all.Load() }

// Close closes every stream and waits for their goroutines.
func (l *Load) Close() {
	l.closing.Store(true)
	l.mu.Lock()
	for _, s := range l.subs {
		s.conn.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// Result is what a load saw.
type Result struct {
	Connected   int   `json:"connected"`
	Refused     int64 `json:"refused"`
	Ended       int64 `json:"ended_by_server"`
	Events      int64 `json:"events"`      // quote events received while recording
	AllEvents   int64 `json:"events_all"`  // including warm-up and drain
	Expected    int64 `json:"expected"`    // quote events the subscriptions called for
	Gaps        int64 `json:"gaps"`        // sequence numbers skipped, including never delivered
	Undelivered int64 `json:"undelivered"` // of the gaps, those missing at the end of a stream
	Dups        int64 `json:"duplicates"`
	Snapshots   int64 `json:"snapshots"`
	Heartbeats  int64 `json:"heartbeats"`
	Bytes       int64 `json:"bytes"`
}

// Finish closes the load and counts, given the last sequence number the
// producer sent per symbol, what each stream never received.
func (l *Load) Finish(produced map[string]int64) Result {
	l.Close()
	r := Result{
		Refused: l.refused.Load(), Ended: l.ended.Load(),
		Events: l.events.Load(), AllEvents: l.all.Load(), Dups: l.dups.Load(),
		Snapshots: l.snapshots.Load(), Heartbeats: l.heartbeats.Load(), Bytes: l.bytes.Load(),
	}
	for _, s := range l.subs {
		if !s.open {
			continue
		}
		r.Connected++
		for k, sym := range s.syms {
			want := produced[sym]
			r.Expected += max(want-l.cfg.Base, 0)
			if s.last[k] < want {
				r.Undelivered += want - s.last[k]
			}
		}
	}
	r.Gaps = l.gaps.Load() + r.Undelivered
	return r
}
