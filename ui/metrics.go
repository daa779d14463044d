package ui

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// disconnectReason is why a stream ended, a label of
// tape_sse_disconnects_total.
type disconnectReason int

const (
	endClientClosed disconnectReason = iota // the client closed its connection
	endWriteFailed                          // a write to the client failed (reset, broken pipe)
	endStalled                              // the socket took nothing for the stall timeout
	endSlow                                 // the hub conflated it for too long (it did not read)
	endDrain                                // its moment in the drain window came
	endClosed                               // the node's quote state closed it (shutdown)
	endPanic                                // its writer panicked
	numDisconnectReasons
)

var disconnectNames = [numDisconnectReasons]string{
	endClientClosed: "client_closed", endWriteFailed: "write_failed", endStalled: "stalled",
	endSlow: "slow", endDrain: "drain", endClosed: "closed", endPanic: "panic",
}

// reject is the label pair of tape_http_rejected_requests_total. Codes
// come from the server's own error table, never from the request, so the
// set of series stays small.
type reject struct {
	status int
	code   string
}

func (s *Server) countRejected(he *httpError) {
	s.rejectMu.Lock()
	s.rejected[reject{he.Status, he.Code}]++
	s.rejectMu.Unlock()
}

var (
	descRequests    = prometheus.NewDesc("tape_http_requests_total", "HTTP requests received.", nil, nil)
	descRejected    = prometheus.NewDesc("tape_http_rejected_requests_total", "Requests answered with an error, by status and error code (too_many_opens, full, unavailable, forbidden_symbols, ...).", []string{"status", "reason"}, nil)
	descPanics      = prometheus.NewDesc("tape_http_panics_total", "Handlers and stream writers that panicked (recovered).", nil, nil)
	descStreams     = prometheus.NewDesc("tape_sse_streams", "SSE streams open on this node.", nil, nil)
	descBytes       = prometheus.NewDesc("tape_sse_sent_bytes_total", "Bytes written to SSE streams, response headers included.", nil, nil)
	descDisconnects = prometheus.NewDesc("tape_sse_disconnects_total", "SSE streams ended, by reason.", []string{"reason"}, nil)
	descReady       = prometheus.NewDesc("tape_ready", "1 when this node accepts streams (caught up, not draining, broker reachable).", nil, nil)
)

// Describe sends the descriptors of the server's metrics; with Collect it
// makes the Server a prometheus.Collector.
func (s *Server) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descRejected, descPanics, descStreams, descBytes, descDisconnects, descReady} {
		ch <- d
	}
}

// Collect sends the server's metrics, read from its counters at scrape
// time: nothing is counted per event beyond an atomic add.
func (s *Server) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descRequests, s.requests.Load())
	counter(descPanics, s.panics.Load())
	counter(descBytes, s.bytesSent.Load())
	for r := range numDisconnectReasons {
		counter(descDisconnects, s.disconnects[r].Load(), disconnectNames[r])
	}
	s.rejectMu.Lock()
	for k, v := range s.rejected {
		counter(descRejected, v, strconv.Itoa(k.status), k.code)
	}
	s.rejectMu.Unlock()
	ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(s.open.Load()))
	ready := 0.0
	if _, stale := s.quotes.FeedStale(); s.quotes.Ready() && !s.draining.Load() && stale == "" {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
}

var _ prometheus.Collector = (*Server)(nil)

// metricsHandler serves cfg.Metrics, or the server's own metrics alone.
func (s *Server) metricsHandler() http.Handler {
	g := s.cfg.Metrics
	if g == nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(s)
		g = reg
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slogErrorLog{s}})
}

// slogErrorLog sends promhttp's errors to the server's logger.
type slogErrorLog struct{ s *Server }

func (l slogErrorLog) Println(v ...any) { l.s.cfg.Logger.Error("ui: metrics", "err", v) }
