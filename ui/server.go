package ui

import (
	"bufio"
	"context"
	"errors"
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

	requests atomic.Int64
	errors4  atomic.Int64
	errors5  atomic.Int64
	open     atomic.Int64
}

// New returns a server over quotes.
func New(cfg Config, quotes Quotes) *Server {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, quotes: quotes, stop: make(chan struct{})}
	s.app = fiber.New(fiber.Config{
		AppName:               "tape",
		DisableStartupMessage: true,
		// No WriteTimeout: it would cut every SSE stream.
		ReadTimeout:    10 * time.Second,
		IdleTimeout:    120 * time.Second,
		ReadBufferSize: 8192,
		BodyLimit:      64 << 10,
		ErrorHandler:   s.errorHandler,
	})
	s.app.Use(s.guard)
	s.app.Get("/", s.dashboard)
	s.app.Get("/s/+", s.symbolPage)
	s.app.Get("/events", s.events)
	s.app.Get("/api/quotes", s.apiQuotes)
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/readyz", s.readyz)
	s.app.Get("/metrics", s.metrics)
	s.app.Get("/static/:name", s.static)
	return s
}

// Serve serves HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown fails readiness, ends every stream with a retry hint, and stops
// the server, waiting at most until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.stopOnce.Do(func() { close(s.stop) })
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
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
	lastID := c.Get("Last-Event-ID")
	if lastID == "" {
		lastID = c.Query("lastEventId") // for clients that cannot set headers
	}
	if len(lastID) > maxLastEventID {
		lastID = "-" // unknown token: the client gets a snapshot
	}
	sub, err := s.quotes.Subscribe(syms, strings.Clone(lastID))
	if err != nil {
		return s.fail(err)
	}
	c.Set("Content-Type", "text/event-stream")
	c.Set("Cache-Control", "no-cache")
	c.Set("X-Accel-Buffering", "no")
	s.streams.Add(1)
	s.open.Add(1)
	// The writer runs after this handler returns, on another goroutine:
	// it must not touch c.
	heartbeat, retry := s.cfg.Heartbeat, s.cfg.Retry
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.streams.Done()
		defer s.open.Add(-1)
		defer sub.Close()
		s.serveStream(w, sub, heartbeat, retry)
	})
	return nil
}

var heartbeatLine = []byte(": \n\n")

// serveStream is one connection's loop: write events when woken, a
// heartbeat comment when idle (the only way a dead client is noticed),
// and a jittered retry hint at shutdown so clients do not reconnect at once.
func (s *Server) serveStream(w *bufio.Writer, sub Stream, heartbeat, retry time.Duration) {
	w.Write(AppendRetry(nil, retry.Milliseconds()))
	if w.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
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
		case <-s.stop:
			jitter := time.Duration(rand.Int64N(int64(max(retry, time.Second))))
			w.Write(AppendRetry(nil, (retry + jitter).Milliseconds()))
			w.Flush()
			return
		}
	}
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
