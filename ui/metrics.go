package ui

import (
	"bytes"
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// metrics serves GET /metrics in the Prometheus text format.
func (s *Server) metrics(c *fiber.Ctx) error {
	var b bytes.Buffer
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	counter := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("tape_http_requests_total", "HTTP requests received.", s.requests.Load())
	counter("tape_http_client_errors_total", "Requests answered with a 4xx status.", s.errors4.Load())
	counter("tape_http_server_errors_total", "Requests answered with a 5xx status.", s.errors5.Load())
	gauge("tape_sse_streams", "SSE streams open on this node.", s.open.Load())
	counter("tape_http_panics_total", "Handlers and stream writers that panicked (recovered).", s.panics.Load())
	counter("tape_sse_stalled_disconnects_total", "Streams closed because the client read nothing for the stall timeout.", s.stalled.Load())
	counter("tape_sse_rate_limited_total", "Stream openings refused by the per-client rate.", s.rateLimit.Load())
	ready := int64(0)
	if _, stale := s.quotes.FeedStale(); s.quotes.Ready() && !s.draining.Load() && stale == "" {
		ready = 1
	}
	gauge("tape_ready", "1 when this node accepts streams.", ready)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics(&b)
	}
	c.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	return c.Send(b.Bytes())
}
