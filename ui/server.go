package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	fiberrecover "github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"

	"tape"
)

// Defaults for Config.
const (
	DefaultHeartbeat  = 15 * time.Second
	DefaultRetry      = 2 * time.Second
	DefaultMaxSymbols = 100
	// DefaultMaxStreamsPerIP allows a trading floor behind one NAT address
	// plenty of pages while stopping one client from taking a node.
	DefaultMaxStreamsPerIP = 200
	// DefaultStreamOpensPerSecond is how fast one client may open streams
	// once its burst (MaxStreamsPerIP) is spent: a page reconnecting after
	// a failure opens one; a loop opens thousands.
	DefaultStreamOpensPerSecond = 5
	// DefaultDrain spreads stream closes at shutdown over this window.
	DefaultDrain = 30 * time.Second
	// DefaultStallTimeout is how long a stream's socket may refuse what
	// is written to it before the client is disconnected.
	DefaultStallTimeout = 30 * time.Second
	// MaxLastEventID bounds the Last-Event-ID header (and the lastEventId
	// parameter); longer ones are treated as unknown (the client gets a
	// snapshot).
	MaxLastEventID = 1024
	// DefaultPageSize and MaxPageSize bound a listing of every symbol
	// (/api/quotes without symbols).
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Quotes is what the handlers need from a node's quote state; stream.Hub
// provides it through a small adapter in cmd/tape.
type Quotes interface {
	// Quotes returns the current quotes of symbols, in order; symbols
	// without a quote are left out.
	Quotes(symbols []tape.Symbol) []tape.Quote
	// Page returns up to limit quotes of the symbols after the symbol
	// after ("" for the first page), in symbol order, and whether more
	// follow.
	Page(after tape.Symbol, limit int) ([]tape.Quote, bool)
	// Recent returns the last quotes of one symbol, oldest first.
	Recent(symbol tape.Symbol) []tape.Price
	// Subscribe opens a stream, resuming from lastEventID when it can.
	Subscribe(symbols []tape.Symbol, lastEventID string, opts StreamOptions) (Stream, error)
	// Ready reports whether the node has caught up.
	Ready() bool
	// FeedStale reports since when and why the node's quotes are stale
	// (its broker is unreachable, say): a short reason for operators, ""
	// while they are live.
	FeedStale() (since time.Time, reason string)
}

// Stream is one open event stream, written by the server's writer pool.
type Stream interface {
	// SetNotify sets a function called, without blocking, when events
	// start waiting or the stream ends; once per transition.
	SetNotify(fn func())
	// OnSlow sets a function called when the stream is ended because the
	// client does not read: it closes the connection.
	OnSlow(fn func())
	// WriteTo writes the waiting events; an error ends the stream.
	WriteTo(w io.Writer) (int64, error)
	// Close releases the stream.
	Close()
}

// StreamOptions are what a client chose for its stream.
type StreamOptions struct {
	// Delta: quote events after the first of a symbol carry only what
	// changed (encoding=delta; tape.AppendDelta).
	Delta bool
	// MaxRate caps the stream at that many quotes per symbol per second,
	// each the latest of its symbol (max_rate); 0 for no cap.
	MaxRate float64
}

// Config configures a Server. Zero fields take defaults.
type Config struct {
	// NodeID names this node in pages and headers.
	NodeID string
	// DefaultSymbols is the dashboard's watchlist without ?symbols=; when
	// empty the dashboard shows the first MaxSymbols known symbols.
	DefaultSymbols []tape.Symbol
	Heartbeat      time.Duration
	Retry          time.Duration
	MaxSymbols     int
	// MaxStreamsPerIP bounds the streams of one client address (then 429).
	MaxStreamsPerIP int
	// StreamOpensPerSecond is how fast one client may open streams after
	// a burst of MaxStreamsPerIP (then 429 with Retry-After).
	StreamOpensPerSecond float64
	// StallTimeout disconnects a client whose socket takes nothing for
	// this long.
	StallTimeout time.Duration
	// RejectUnknown answers 400 from /api/quotes for symbols the node has
	// never seen (a likely typo). Streams accept them and wait.
	RejectUnknown bool
	// CORSOrigins lists origins allowed to read /events and /api/quotes
	// from other sites; empty means none (CORS off); "*" allows any (the
	// data is public and no request carries credentials). A page fails
	// over to another node of its "nodes" list only where that node
	// allows the page's origin.
	CORSOrigins []string
	// TrustedProxies are the addresses or CIDRs of load balancers whose
	// X-Forwarded-For names the client, for per-client limits.
	TrustedProxies []string
	// Drain is the window over which streams are closed at shutdown, so
	// clients do not reconnect to the other nodes all at once; zero closes
	// them at once (a lone node, tests).
	Drain time.Duration
	// Writers is the number of writer goroutines that write every stream
	// (default GOMAXPROCS, at least 2).
	Writers int
	// Metrics, if set, is what GET /metrics serves (a registry holding
	// the server's own Collector and the process's); nil serves the
	// server's metrics only.
	Metrics prometheus.Gatherer
	// Auth, if set, requires a signed token on pages, streams and the
	// API, and limits each to the symbols its token lists.
	Auth   *Auth
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Retry == 0 {
		c.Retry = DefaultRetry
	}
	if c.MaxSymbols == 0 {
		c.MaxSymbols = DefaultMaxSymbols
	}
	if c.MaxStreamsPerIP == 0 {
		c.MaxStreamsPerIP = DefaultMaxStreamsPerIP
	}
	if c.StreamOpensPerSecond == 0 {
		c.StreamOpensPerSecond = DefaultStreamOpensPerSecond
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Writers == 0 {
		c.Writers = max(runtime.GOMAXPROCS(0), 2)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every field outside its range, naming it.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	durIn := func(name string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s is %s, want %s to %s", name, v, lo, hi))
		}
	}
	intIn := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s is %d, want %d to %d", name, v, lo, hi))
		}
	}
	durIn("Heartbeat", c.Heartbeat, 100*time.Millisecond, 10*time.Minute)
	durIn("Retry", c.Retry, 100*time.Millisecond, 5*time.Minute)
	durIn("Drain", c.Drain, 0, 10*time.Minute)
	durIn("StallTimeout", c.StallTimeout, time.Second, time.Hour)
	intIn("MaxSymbols", c.MaxSymbols, 1, 10_000)
	intIn("MaxStreamsPerIP", c.MaxStreamsPerIP, 1, 1_000_000)
	intIn("Writers", c.Writers, 1, 1024)
	if !(c.StreamOpensPerSecond >= 0.01 && c.StreamOpensPerSecond <= 1e6) { // NaN too
		errs = append(errs, fmt.Errorf("StreamOpensPerSecond is %g, want 0.01 to 1000000", c.StreamOpensPerSecond))
	}
	if !validNodeID(c.NodeID) {
		errs = append(errs, fmt.Errorf("NodeID %q: want up to 64 of A-Z a-z 0-9 . _ : -", c.NodeID))
	}
	if _, err := parseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("TrustedProxies: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ui: %w", err)
	}
	return nil
}

// validNodeID reports whether id can go into a header and a group name
// as it is.
func validNodeID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// maxQueryBytes is the longest query string the server accepts: enough
// for the largest watchlist it accepts (MaxSymbols symbols of
// tape.MaxSymbolLen characters, each percent-encoded, comma-separated), a
// lastEventId and other parameters. The page's own stream URL always fits.
func (c Config) maxQueryBytes() int {
	return len("symbols=") + c.MaxSymbols*(3*tape.MaxSymbolLen+3) +
		len("&lastEventId=") + 3*MaxLastEventID + 512
}

// Server is a web node's HTTP side: pages, the SSE stream, the JSON API,
// health and metrics. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	quotes   Quotes
	app      *fiber.App
	pool     *writerPool
	trusted  trustedProxies
	clients  *clientLimits
	maxQuery int

	draining atomic.Bool
	streams  sync.WaitGroup

	connMu       sync.Mutex // guards the fields below
	conns        []*sseConn // streams served by the writer pool
	drainStarted bool
	beating      bool // the heartbeat goroutine runs

	allowed map[string]bool // CORS origins

	requests    atomic.Int64
	open        atomic.Int64
	panics      atomic.Int64
	bytesSent   atomic.Int64                       // bytes written to streams, headers included
	disconnects [numDisconnectReasons]atomic.Int64 // streams ended, by reason

	rejectMu sync.Mutex       // guards rejected
	rejected map[reject]int64 // error responses by status and code
}

// New returns a server over quotes. It fails when cfg is out of range.
func New(cfg Config, quotes Quotes) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	trusted, _ := parseTrustedProxies(cfg.TrustedProxies)
	s := &Server{
		cfg: cfg, quotes: quotes, trusted: trusted, allowed: map[string]bool{},
		clients:  newClientLimits(cfg.MaxStreamsPerIP, cfg.StreamOpensPerSecond, cfg.MaxStreamsPerIP),
		maxQuery: cfg.maxQueryBytes(),
		pool:     newWriterPool(cfg.Writers),
		rejected: map[reject]int64{},
	}
	for _, o := range cfg.CORSOrigins {
		s.allowed[o] = true
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "tape",
		DisableStartupMessage: true,
		// Fiber hands out strings that point into fasthttp's request
		// buffers, which later requests reuse. Immutable copies them, so
		// nothing a handler keeps (a stream's symbols, its resume token,
		// a client's key) can change under it.
		Immutable: true,
		// No WriteTimeout: it would cut every SSE stream.
		ReadTimeout:    10 * time.Second,
		IdleTimeout:    120 * time.Second,
		ReadBufferSize: s.maxQuery + 8192,
		BodyLimit:      64 << 10,
		ErrorHandler:   s.errorHandler,
	})
	// Streams take their connections over (takeOver); fasthttp must
	// leave them open when its hijack handler returns.
	s.app.Server().KeepHijackedConns = true
	s.app.Use(fiberrecover.New(fiberrecover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			s.panics.Add(1)
			s.cfg.Logger.Error("ui: handler panicked", "path", c.Path(), "panic", fmt.Sprint(e))
		},
	}))
	s.app.Use(s.guard)
	s.app.Get("/", s.authorize, s.whenReady, s.dashboard)
	s.app.Get("/events", s.cors, s.authorize, s.events)
	s.app.Get("/api/quotes", s.cors, s.authorize, s.whenReady, s.apiQuotes)
	s.app.Options("/events", s.cors)
	s.app.Options("/api/quotes", s.cors)
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/readyz", s.readyz)
	s.app.Get("/metrics", adaptor.HTTPHandler(s.metricsHandler()))
	s.app.Get("/static/:name", s.static)
	// market data and pages (market.go)
	s.routeMarket()
	return s, nil
}

// Serve serves HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Drain fails readiness and refuses new streams at once, then closes the
// open ones at random moments over the drain window, each with a jittered
// retry hint, so that clients reconnect to other nodes spread out rather
// than in one stampede. It returns when every stream has ended or ctx ends.
func (s *Server) Drain(ctx context.Context) {
	s.draining.Store(true)
	s.drainStreams()
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Shutdown drains (see Drain), stops the server and its writers, waiting
// at most until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Drain(ctx)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	err := s.app.ShutdownWithTimeout(max(time.Until(deadline), 100*time.Millisecond))
	s.pool.stop()
	return err
}

// guard applies limits common to every request.
func (s *Server) guard(c *fiber.Ctx) error {
	s.requests.Add(1)
	if len(c.Request().URI().QueryString()) > s.maxQuery {
		return errorf(fiber.StatusRequestURITooLong, "too_long", "query string longer than %d bytes", s.maxQuery)
	}
	// Security headers on every answer; pages add their CSP (render).
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.cfg.NodeID != "" {
		c.Set("X-Tape-Node", s.cfg.NodeID)
	}
	return c.Next()
}

// whenReady answers 503 with Retry-After while the node catches up or
// drains: what it holds may be older than what it has yet to read.
func (s *Server) whenReady(c *fiber.Ctx) error {
	if !s.quotes.Ready() {
		return s.fail(tape.ErrUnavailable)
	}
	return c.Next()
}

// events serves GET and HEAD /events?symbols=A,B: the SSE stream. A HEAD
// gets the stream's headers and no body, and opens nothing.
func (s *Server) events(c *fiber.Ctx) error {
	if s.draining.Load() || !s.quotes.Ready() {
		return s.fail(tape.ErrUnavailable)
	}
	// Symbols not seen yet are no error here: a watchlist may hold a name
	// that has not traded today, and its stream shows it when it does.
	syms, err := s.symbols(c.Query("symbols"), true)
	if err != nil {
		return err
	}
	opts, err := streamOptions(c.Query("encoding"), c.Query("max_rate"))
	if err != nil {
		return err
	}
	if c.Method() == fiber.MethodHead {
		setStreamHeaders(c)
		return nil
	}
	client := s.requestClient(c)
	if s.clients.full(client) {
		// Streams this client closed without a write failing yet give
		// their slots back here.
		s.reapClosed(client)
	}
	if s.clients.full(client) {
		return s.tooManyStreams()
	}
	if ok, wait := s.clients.allowOpen(client, time.Now()); !ok {
		return &httpError{Status: fiber.StatusTooManyRequests, Code: "too_many_opens",
			RetryAfter: int(max(wait.Seconds()+0.999, 1)),
			Message:    "this client is opening streams faster than this node allows; retry later"}
	}
	lastID := c.Get("Last-Event-ID")
	if lastID == "" {
		lastID = c.Query("lastEventId") // for clients that cannot set headers
	}
	if len(lastID) > MaxLastEventID {
		lastID = "-" // unknown token: the client gets a snapshot
	}
	lastID = strings.Clone(lastID) // kept past the request
	setStreamHeaders(c)
	// The stream is opened on the taken-over connection, after this
	// handler returns: what it needs is copied out of c first, and every
	// resource it takes is taken and released there, so no exit path of
	// the request can leak a slot.
	takeOver(c, func(conn net.Conn, head []byte) {
		s.openStream(conn, head, syms, lastID, opts, client)
	})
	return nil
}

// setStreamHeaders sets the headers of an event stream's response.
func setStreamHeaders(c *fiber.Ctx) {
	c.Set("Content-Type", "text/event-stream")
	c.Set("Cache-Control", "no-cache")
	c.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
}

// openStream subscribes and hands the connection to the writer pool; on
// failure it answers with the error and closes the connection.
func (s *Server) openStream(conn net.Conn, head []byte, syms []tape.Symbol, lastID string, opts StreamOptions, client netip.Addr) {
	var sub Stream
	acquired, started := false, false
	defer func() {
		if e := recover(); e != nil && !started {
			s.panics.Add(1)
			s.cfg.Logger.Error("ui: stream start panicked", "panic", fmt.Sprint(e))
			if sub != nil {
				sub.Close()
			}
			if acquired {
				s.clients.release(client)
			}
			conn.Close()
		}
	}()
	if !s.clients.acquire(client) {
		s.writeRawError(conn, s.tooManyStreams())
		return
	}
	acquired = true
	var err error
	if sub, err = s.quotes.Subscribe(syms, lastID, opts); err != nil {
		sub = nil
		s.clients.release(client)
		s.writeRawError(conn, s.fail(err))
		return
	}
	if err := s.startStream(conn, head, sub, client); err != nil {
		s.cfg.Logger.Error("ui: cannot stream", "err", err)
		sub.Close()
		s.clients.release(client)
		conn.Close()
		return
	}
	started = true
}

// streamOptions reads a stream's parameters: encoding full (the
// default) or delta; max_rate absent (no cap) or a number of quotes per
// symbol per second from tape.MinMaxRate to tape.MaxMaxRate.
func streamOptions(encoding, maxRate string) (StreamOptions, error) {
	var o StreamOptions
	switch encoding {
	case "", "full":
	case "delta":
		o.Delta = true
	default:
		return o, errorf(fiber.StatusBadRequest, "bad_encoding", "encoding must be full or delta")
	}
	if maxRate == "" {
		return o, nil
	}
	r, err := strconv.ParseFloat(maxRate, 64)
	if err != nil || len(maxRate) > 16 || !(r >= tape.MinMaxRate && r <= tape.MaxMaxRate) {
		return o, errorf(fiber.StatusBadRequest, "bad_max_rate", "max_rate must be a number of quotes per symbol per second from %g to %g", tape.MinMaxRate, tape.MaxMaxRate)
	}
	o.MaxRate = r
	return o, nil
}

func (s *Server) tooManyStreams() *httpError {
	return &httpError{Status: fiber.StatusTooManyRequests, Code: "too_many_streams", RetryAfter: 10,
		Message: fmt.Sprintf("this client already has %d streams open on this node", s.cfg.MaxStreamsPerIP)}
}

// known returns a 400 naming the symbols the node has never seen, when
// configured to reject them.
func (s *Server) known(syms []tape.Symbol) error {
	if !s.cfg.RejectUnknown || len(syms) == 0 {
		return nil
	}
	have := s.quotes.Quotes(syms)
	if len(have) == len(syms) {
		return nil
	}
	found := make(map[tape.Symbol]bool, len(have))
	for _, q := range have {
		found[q.Symbol] = true
	}
	e := errorf(fiber.StatusBadRequest, "unknown_symbols", "no quotes have been seen for these symbols")
	for _, sym := range syms {
		if !found[sym] {
			e.Symbols = append(e.Symbols, string(sym))
		}
	}
	return e
}

// cors answers cross-origin requests from allowed origins only. Pages
// read Retry-After (a refused stream's probe) and X-Tape-Node across
// origins, so both are exposed.
func (s *Server) cors(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin != "" && (s.allowed[origin] || s.allowed["*"]) {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderVary, fiber.HeaderOrigin)
		c.Set(fiber.HeaderAccessControlExposeHeaders, "Retry-After, X-Tape-Node")
		if c.Method() == fiber.MethodOptions {
			c.Set(fiber.HeaderAccessControlAllowMethods, "GET")
			c.Set(fiber.HeaderAccessControlAllowHeaders, "Last-Event-ID, Authorization")
			c.Set(fiber.HeaderAccessControlMaxAge, "600")
			return c.SendStatus(fiber.StatusNoContent)
		}
	}
	if c.Method() == fiber.MethodOptions {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Next()
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz says whether a load balancer should send this node traffic: not
// while it drains, catches up, or cannot reach its broker.
func (s *Server) readyz(c *fiber.Ctx) error {
	body := fiber.Map{"status": "ready"}
	switch since, stale := s.quotes.FeedStale(); {
	case s.draining.Load():
		body["status"] = "draining"
	case stale != "": // before catching up: a node that cannot reach its broker at start says so
		body["status"] = stale
		body["since"] = since.UTC().Format(time.RFC3339)
	case !s.quotes.Ready():
		body["status"] = "catching up"
	default:
		return c.JSON(body)
	}
	c.Status(fiber.StatusServiceUnavailable)
	c.Set("Retry-After", "2")
	return c.JSON(body)
}

// apiQuotes serves GET /api/quotes?symbols=A,B, or without symbols a page
// of every symbol: ?limit=N (default 100, at most 1000) and ?after=SYMBOL,
// the "next" of the page before.
func (s *Server) apiQuotes(c *fiber.Ctx) error {
	syms, err := s.symbols(c.Query("symbols"), false)
	if err != nil {
		return err
	}
	buf := []byte(`{"quotes":[`)
	var next tape.Symbol
	var quotes []tape.Quote
	if len(syms) > 0 {
		if err := s.known(syms); err != nil {
			return err
		}
		quotes = s.quotes.Quotes(syms)
	} else {
		after, limit, err := pageParams(c.Query("after"), c.Query("limit"))
		if err != nil {
			return err
		}
		var more bool
		quotes, more = s.quotes.Page(after, limit)
		if more && len(quotes) > 0 {
			next = quotes[len(quotes)-1].Symbol
		}
	}
	for i := range quotes {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = quotes[i].AppendJSON(buf)
	}
	buf = append(buf, ']')
	if next != "" {
		buf = append(buf, `,"next":"`...)
		buf = append(buf, next...) // a valid symbol needs no escaping
		buf = append(buf, '"')
	}
	buf = append(buf, '}')
	c.Set("Content-Type", "application/json")
	c.Set("Cache-Control", "no-store")
	return c.Send(buf)
}

// pageParams reads a listing's cursor and size.
func pageParams(after, limit string) (tape.Symbol, int, error) {
	n := DefaultPageSize
	if limit != "" {
		v, err := strconv.Atoi(limit)
		if err != nil || v < 1 || v > MaxPageSize {
			return "", 0, errorf(fiber.StatusBadRequest, "bad_limit", "limit must be a whole number from 1 to %d", MaxPageSize)
		}
		n = v
	}
	if after == "" {
		return "", n, nil
	}
	sym, err := tape.ParseSymbolString(after)
	if err != nil {
		e := errorf(fiber.StatusBadRequest, tape.ECodeSymbol, "after must be a symbol")
		e.Symbols = []string{after}
		return "", 0, e
	}
	return sym, n, nil
}

// symbols parses a comma-separated symbol list, naming every bad one.
func (s *Server) symbols(raw string, required bool) ([]tape.Symbol, error) {
	if raw == "" {
		if required {
			return nil, errorf(fiber.StatusBadRequest, "missing_symbols", "symbols is required, e.g. ?symbols=AAPL,MSFT")
		}
		return nil, nil
	}
	n := strings.Count(raw, ",") + 1
	if n > s.cfg.MaxSymbols {
		return nil, errorf(fiber.StatusBadRequest, "too_many_symbols", "%d symbols requested, the limit is %d", n, s.cfg.MaxSymbols)
	}
	// Every stream opening parses its list: no slice of parts and no set
	// for a short list, whose repeats a scan of out finds.
	out := make([]tape.Symbol, 0, n)
	var bad []string
	var seen map[tape.Symbol]bool
	if n > 32 {
		seen = make(map[tape.Symbol]bool, n)
	}
	for p := range strings.SplitSeq(raw, ",") {
		sym, err := tape.ParseSymbolString(strings.TrimSpace(p))
		switch {
		case err != nil:
			bad = append(bad, p)
		case seen != nil && !seen[sym]:
			seen[sym] = true
			out = append(out, sym)
		case seen == nil && !slices.Contains(out, sym):
			out = append(out, sym)
		}
	}
	if len(bad) > 0 {
		e := errorf(fiber.StatusBadRequest, tape.ECodeSymbol, "invalid symbols: a symbol is 1 to %d of A-Z 0-9 . / : _ = ^ -", tape.MaxSymbolLen)
		e.Symbols = bad
		return nil, e
	}
	return out, nil
}

// fail maps an error from the quote state to an HTTP error.
func (s *Server) fail(err error) error {
	for _, m := range errorTable {
		if errors.Is(err, m.kind) {
			e := errorf(m.status, m.code, "%s", m.message)
			e.RetryAfter = m.retryAfter
			return e
		}
	}
	s.cfg.Logger.Error("ui: unexpected error", "err", err)
	return errorf(fiber.StatusInternalServerError, "internal", "internal error")
}
