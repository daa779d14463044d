package ui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

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
	// DefaultDrain spreads stream closes at shutdown over this window.
	DefaultDrain = 30 * time.Second
	// MaxQueryBytes bounds the query string of any request.
	MaxQueryBytes = 2048
	// maxLastEventID bounds the Last-Event-ID header; longer ones are
	// treated as unknown (the client gets a snapshot).
	maxLastEventID = 1024
)

// Quotes is what the handlers need from a node's quote state; stream.Hub
// provides it through a small adapter in cmd/tape.
type Quotes interface {
	// Quotes returns the current quotes of symbols (all when empty).
	Quotes(symbols []tape.Symbol) []tape.Quote
	// Recent returns the last quotes of one symbol, oldest first.
	Recent(symbol tape.Symbol) []tape.Quote
	// Subscribe opens a stream, resuming from lastEventID when it can.
	Subscribe(symbols []tape.Symbol, lastEventID string) (Stream, error)
	// Ready reports whether the node has caught up.
	Ready() bool
}

// Stream is one open event stream.
type Stream interface {
	// Wake is signalled when events are waiting or the stream has ended.
	Wake() <-chan struct{}
	// WriteTo writes the waiting events; an error ends the stream.
	WriteTo(w io.Writer) (int64, error)
	// Close releases the stream.
	Close()
}

// Config configures a Server. Zero fields take defaults.
type Config struct {
	// NodeID names this node in pages and headers.
	NodeID string
	// DefaultSymbols is the dashboard's watchlist without ?symbols=; when
	// empty the dashboard shows every known symbol, up to MaxSymbols.
	DefaultSymbols []tape.Symbol
	Heartbeat      time.Duration
	Retry          time.Duration
	MaxSymbols     int
	// MaxStreamsPerIP bounds the streams of one client address (then 429).
	MaxStreamsPerIP int
	// RejectUnknown answers 400 for symbols the node has never seen.
	RejectUnknown bool
	// CORSOrigins lists origins allowed to read /events and /api/quotes
	// from other sites; empty means none (CORS off).
	CORSOrigins []string
	// TrustedProxies are the addresses or CIDRs of load balancers whose
	// X-Forwarded-For names the client, for per-client limits.
	TrustedProxies []string
	// Drain is the window over which streams are closed at shutdown, so
	// clients do not reconnect to the other nodes all at once; zero closes
	// them at once (a lone node, tests).
	Drain time.Duration
	// Metrics, if set, writes more Prometheus metrics after the server's own.
	Metrics func(w io.Writer)
	Logger  *slog.Logger
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
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server is a web node's HTTP side: pages, the SSE stream, the JSON API,
// health and metrics. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	quotes Quotes
	app    *fiber.App

	draining atomic.Bool
	stop     chan struct{} // closed when streams must end
	stopOnce sync.Once
	streams  sync.WaitGroup

	connMu       sync.Mutex // guards the fields below
	conns        []*sseConn // streams served by the writer pool
	drainStarted bool
	beating      bool // the heartbeat goroutine runs

	ipMu    sync.Mutex // guards perIP
	perIP   map[string]int
	allowed map[string]bool // CORS origins

	requests atomic.Int64
	errors4  atomic.Int64
	errors5  atomic.Int64
	open     atomic.Int64
}

// New returns a server over quotes.
func New(cfg Config, quotes Quotes) *Server {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, quotes: quotes, stop: make(chan struct{}), perIP: map[string]int{}, allowed: map[string]bool{}}
	for _, o := range cfg.CORSOrigins {
		s.allowed[o] = true
	}
	s.app = fiber.New(fiber.Config{
		AppName:                 "tape",
		DisableStartupMessage:   true,
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		ProxyHeader:             fiber.HeaderXForwardedFor,
		// No WriteTimeout: it would cut every SSE stream.
		ReadTimeout:    10 * time.Second,
		IdleTimeout:    120 * time.Second,
		ReadBufferSize: 8192,
		BodyLimit:      64 << 10,
		ErrorHandler:   s.errorHandler,
	})
	// Streams take their connections over (hijackStream); fasthttp must
	// leave them open when its hijack handler returns.
	s.app.Server().KeepHijackedConns = true
	s.app.Use(s.guard)
	s.app.Get("/", s.dashboard)
	s.app.Get("/s/+", s.symbolPage)
	s.app.Get("/events", s.cors, s.events)
	s.app.Get("/api/quotes", s.cors, s.apiQuotes)
	s.app.Options("/events", s.cors)
	s.app.Options("/api/quotes", s.cors)
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/readyz", s.readyz)
	s.app.Get("/metrics", s.metrics)
	s.app.Get("/static/:name", s.static)
	return s
}

// Serve serves HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Drain fails readiness and refuses new streams at once, then closes the
// open ones at random moments over the drain window, each with a jittered
// retry hint, so that clients reconnect to other nodes spread out rather
// than in one stampede. It returns when every stream has ended or ctx ends.
func (s *Server) Drain(ctx context.Context) {
	s.draining.Store(true)
	s.stopOnce.Do(func() { close(s.stop) })
	s.drainStreams()
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Shutdown drains (see Drain) and stops the server, waiting at most until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Drain(ctx)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	return s.app.ShutdownWithTimeout(max(time.Until(deadline), 100*time.Millisecond))
}

// guard applies limits common to every request.
func (s *Server) guard(c *fiber.Ctx) error {
	s.requests.Add(1)
	if len(c.Request().URI().QueryString()) > MaxQueryBytes {
		return errorf(fiber.StatusRequestURITooLong, "too_long", "query string longer than %d bytes", MaxQueryBytes)
	}
	c.Set("X-Content-Type-Options", "nosniff")
	if s.cfg.NodeID != "" {
		c.Set("X-Tape-Node", s.cfg.NodeID)
	}
	return c.Next()
}

// events serves GET /events?symbols=A,B: the SSE stream.
func (s *Server) events(c *fiber.Ctx) error {
	syms, err := s.symbols(c.Query("symbols"), true)
	if err != nil {
		return err
	}
	if s.draining.Load() {
		return s.fail(tape.ErrUnavailable)
	}
	if err := s.known(syms); err != nil {
		return err
	}
	ip := c.IP()
	if !s.acquireIP(ip) {
		return &httpError{Status: fiber.StatusTooManyRequests, Code: "too_many_streams", RetryAfter: 10,
			Message: fmt.Sprintf("this client already has %d streams open on this node", s.cfg.MaxStreamsPerIP)}
	}
	lastID := c.Get("Last-Event-ID")
	if lastID == "" {
		lastID = c.Query("lastEventId") // for clients that cannot set headers
	}
	if len(lastID) > maxLastEventID {
		lastID = "-" // unknown token: the client gets a snapshot
	}
	sub, err := s.quotes.Subscribe(syms, strings.Clone(lastID))
	if err != nil {
		s.releaseIP(ip)
		return s.fail(err)
	}
	if k, ok := sub.(interface{ OnSlow(func()) }); ok {
		// A stalled client may block its writer in a write; closing the
		// connection is what frees it.
		conn, log := c.Context().Conn(), s.cfg.Logger
		remote, n := conn.RemoteAddr().String(), len(syms)
		k.OnSlow(func() {
			log.Warn("ui: disconnected a stalled stream; it resumes from its last id when it returns",
				"client", remote, "symbols", n)
			conn.Close()
		})
	}
	c.Set("Content-Type", "text/event-stream")
	c.Set("Cache-Control", "no-cache")
	c.Set("X-Accel-Buffering", "no")
	s.streams.Add(1)
	s.open.Add(1)
	end := func() {
		sub.Close()
		s.releaseIP(ip)
		s.open.Add(-1)
		s.streams.Done()
	}
	if c.Method() != fiber.MethodGet { // HEAD: let Fiber skip the body
		heartbeat, retry := s.cfg.Heartbeat, s.cfg.Retry
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			defer end()
			s.serveStream(w, sub, heartbeat, retry)
		})
		return nil
	}
	// The writer pool serves the stream after this handler returns: the
	// callback must not touch c.
	takeOver(c, func(conn net.Conn, head []byte) {
		if err := s.startStream(conn, head, sub, ip); err != nil {
			s.cfg.Logger.Error("ui: cannot stream", "err", err)
			conn.Close()
			end()
		}
	})
	return nil
}

var heartbeatLine = []byte(": \n\n")

// serveStream is the loop of a stream written through Fiber (HEAD
// requests; GET streams are served by the writer pool): write events when woken, a
// heartbeat comment when idle (the only way a dead client is noticed),
// and a jittered retry hint at shutdown so clients do not reconnect at once.
func (s *Server) serveStream(w flushWriter, sub Stream, heartbeat, retry time.Duration) {
	w.Write(AppendRetry(nil, retry.Milliseconds()))
	if w.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	stop := s.stop
	var closeAt <-chan time.Time
	for {
		select {
		case <-sub.Wake():
			_, err := sub.WriteTo(w)
			if ferr := w.Flush(); err != nil || ferr != nil {
				return
			}
		case <-tick.C:
			w.Write(heartbeatLine)
			if w.Flush() != nil {
				return
			}
		case <-stop:
			// Keep serving until this stream's moment in the drain window.
			stop = nil
			closeAt = time.After(time.Duration(rand.Int64N(int64(s.cfg.Drain) + 1)))
		case <-closeAt:
			jitter := time.Duration(rand.Int64N(int64(max(retry, time.Second))))
			w.Write(AppendRetry(nil, (retry + jitter).Milliseconds()))
			w.Flush()
			return
		}
	}
}

// acquireIP counts a stream against ip's limit; false when it is full.
func (s *Server) acquireIP(ip string) bool {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.perIP[ip] >= s.cfg.MaxStreamsPerIP {
		return false
	}
	s.perIP[ip]++
	return true
}

func (s *Server) releaseIP(ip string) {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
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

// cors answers cross-origin requests from allowed origins only.
func (s *Server) cors(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin != "" && s.allowed[origin] {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderVary, fiber.HeaderOrigin)
		if c.Method() == fiber.MethodOptions {
			c.Set(fiber.HeaderAccessControlAllowMethods, "GET")
			c.Set(fiber.HeaderAccessControlAllowHeaders, "Last-Event-ID")
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

func (s *Server) readyz(c *fiber.Ctx) error {
	switch {
	case s.draining.Load():
		c.Status(fiber.StatusServiceUnavailable)
		return c.JSON(fiber.Map{"status": "draining"})
	case !s.quotes.Ready():
		c.Status(fiber.StatusServiceUnavailable)
		return c.JSON(fiber.Map{"status": "catching up"})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// apiQuotes serves GET /api/quotes?symbols=A,B.
func (s *Server) apiQuotes(c *fiber.Ctx) error {
	syms, err := s.symbols(c.Query("symbols"), false)
	if err != nil {
		return err
	}
	if err := s.known(syms); err != nil {
		return err
	}
	buf := []byte(`{"quotes":[`)
	for i, q := range s.quotes.Quotes(syms) {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = q.AppendJSON(buf)
	}
	buf = append(buf, "]}"...)
	c.Set("Content-Type", "application/json")
	c.Set("Cache-Control", "no-store")
	return c.Send(buf)
}

// symbols parses a comma-separated symbol list, naming every bad one.
func (s *Server) symbols(raw string, required bool) ([]tape.Symbol, error) {
	if raw == "" {
		if required {
			return nil, errorf(fiber.StatusBadRequest, "missing_symbols", "symbols is required, e.g. ?symbols=AAPL,MSFT")
		}
		return nil, nil
	}
	parts := strings.Split(raw, ",")
	if len(parts) > s.cfg.MaxSymbols {
		return nil, errorf(fiber.StatusBadRequest, "too_many_symbols", "%d symbols requested, the limit is %d", len(parts), s.cfg.MaxSymbols)
	}
	out := make([]tape.Symbol, 0, len(parts))
	var bad []string
	seen := make(map[tape.Symbol]bool, len(parts))
	for _, p := range parts {
		sym, err := tape.ParseSymbolString(strings.TrimSpace(p))
		if err != nil {
			bad = append(bad, p)
			continue
		}
		if !seen[sym] {
			seen[sym] = true
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
