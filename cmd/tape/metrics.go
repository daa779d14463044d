package main

import (
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tape/ingest"
	"tape/stream"
)

// newRegistry returns a registry holding the Go runtime's and the
// process's collectors and cs: one per process, so that two nodes run in
// one test process do not share counters.
func newRegistry(cs ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	return reg
}

// adminMux serves /metrics from reg and, when pprof is set, the runtime
// profiles under /debug/pprof/ (never on the public listener: a profile
// shows internals and costs CPU).
func adminMux(reg prometheus.Gatherer, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// hubCollector exposes a web node's stream.Hub: its counters are atomics
// the hub adds to per event; everything else is read at scrape time.
type hubCollector struct{ h *stream.Hub }

var (
	descHubCounters = []struct {
		d *prometheus.Desc
		v func(*stream.Stats) int64
	}{
		{prometheus.NewDesc("tape_stream_events_applied_total", "Records of the quotes topic applied.", nil, nil), func(s *stream.Stats) int64 { return s.Applied.Load() }},
		{prometheus.NewDesc("tape_stream_events_invalid_total", "Records on the quotes topic that did not parse.", nil, nil), func(s *stream.Stats) int64 { return s.Invalid.Load() }},
		{prometheus.NewDesc("tape_stream_events_repeated_total", "Quotes dropped as a fold stage's repeats (a fold position already applied).", nil, nil), func(s *stream.Stats) int64 { return s.Repeats.Load() }},
		{prometheus.NewDesc("tape_stream_events_stale_total", "Quotes older than the symbol's current one, kept out of it.", nil, nil), func(s *stream.Stats) int64 { return s.Stale.Load() }},
		{prometheus.NewDesc("tape_stream_symbols_evicted_total", "Symbols forgotten (idle, or over --symbol-limit).", nil, nil), func(s *stream.Stats) int64 { return s.Evicted.Load() }},
		{prometheus.NewDesc("tape_sse_events_queued_total", "Events queued to streams (each delivery to each stream).", nil, nil), func(s *stream.Stats) int64 { return s.Delivered.Load() }},
		{prometheus.NewDesc("tape_sse_events_sent_total", "Events queued to streams and not replaced by a newer one before their writer took them.", nil, nil), func(s *stream.Stats) int64 { return s.Delivered.Load() - s.Conflated.Load() }},
		{prometheus.NewDesc("tape_sse_conflated_updates_total", "Updates replaced by a newer one of the same symbol for a stream that read too slowly.", nil, nil), func(s *stream.Stats) int64 { return s.Conflated.Load() }},
		{prometheus.NewDesc("tape_sse_resumes_total", "Streams resumed exactly from a Last-Event-ID.", nil, nil), func(s *stream.Stats) int64 { return s.Resumed.Load() }},
		{prometheus.NewDesc("tape_sse_snapshots_total", "Streams that began with a snapshot.", nil, nil), func(s *stream.Stats) int64 { return s.Snapshots.Load() }},
	}
	descHubGauges = []struct {
		d *prometheus.Desc
		v func(*stream.Stats) int64
	}{
		{prometheus.NewDesc("tape_stream_symbols", "Symbols this node keeps.", nil, nil), func(s *stream.Stats) int64 { return s.Symbols.Load() }},
		{prometheus.NewDesc("tape_stream_subscribers", "Subscribers the hub holds (each open stream is one).", nil, nil), func(s *stream.Stats) int64 { return s.Subscribed.Load() }},
		{prometheus.NewDesc("tape_stream_history_events", "Events kept for resuming streams.", nil, nil), func(s *stream.Stats) int64 { return s.History.Load() }},
	}
	descLag      = prometheus.NewDesc("tape_stream_kafka_lag_messages", "Records of the quotes topic this node has yet to apply, per partition, up to the newest log end it has seen.", []string{"partition"}, nil)
	descQuoteAge = prometheus.NewDesc("tape_stream_quote_age_seconds", "Seconds since the feed time of the newest quote this node applied (its staleness; absent before the first quote).", nil, nil)
	descStale    = prometheus.NewDesc("tape_stream_feed_stale", "1 while the Kafka broker cannot be reached.", nil, nil)
)

func (c hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range descHubCounters {
		ch <- m.d
	}
	for _, m := range descHubGauges {
		ch <- m.d
	}
	ch <- descLag
	ch <- descQuoteAge
	ch <- descStale
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	for _, m := range descHubCounters {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v(s)))
	}
	for _, m := range descHubGauges {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.GaugeValue, float64(m.v(s)))
	}
	for p, lag := range c.h.Lag() {
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), strconv.Itoa(p))
	}
	if t := c.h.Newest(); !t.IsZero() {
		ch <- prometheus.MustNewConstMetric(descQuoteAge, prometheus.GaugeValue, time.Since(t).Seconds())
	}
	stale := 0.0
	if _, err := c.h.FeedState(); err != nil {
		stale = 1
	}
	ch <- prometheus.MustNewConstMetric(descStale, prometheus.GaugeValue, stale)
}

// ingestCollector exposes an ingester's counters, read at scrape time.
type ingestCollector struct{ in *ingest.Ingester }

var (
	descIngestCounters = []struct {
		d *prometheus.Desc
		v func(*ingest.Stats) int64
	}{
		{prometheus.NewDesc("tape_ingest_raw_total", "Raw feed messages consumed.", nil, nil), func(s *ingest.Stats) int64 { return s.Raw }},
		{prometheus.NewDesc("tape_ingest_events_total", "Normalised events produced to the events topic.", nil, nil), func(s *ingest.Stats) int64 { return s.Events }},
		{prometheus.NewDesc("tape_ingest_produce_retries_total", "Produce attempts that failed for a retriable reason and were retried.", nil, nil), func(s *ingest.Stats) int64 { return s.Retries }},
		{prometheus.NewDesc("tape_fold_events_total", "Events folded.", nil, nil), func(s *ingest.Stats) int64 { return s.Folded }},
		{prometheus.NewDesc("tape_fold_repeats_total", "Events the fold dropped as repeats.", nil, nil), func(s *ingest.Stats) int64 { return s.Repeats }},
		{prometheus.NewDesc("tape_fold_quotes_total", "Folded quotes produced.", nil, nil), func(s *ingest.Stats) int64 { return s.Quotes }},
		{prometheus.NewDesc("tape_fold_checkpoints_total", "Checkpoints (changed symbols and the marker) written.", nil, nil), func(s *ingest.Stats) int64 { return s.Checkpoints }},
		{prometheus.NewDesc("tape_fold_restores_total", "Partitions whose fold state was restored from the latest topic.", nil, nil), func(s *ingest.Stats) int64 { return s.Restores }},
		{prometheus.NewDesc("tape_fold_invalid_total", "Records of the events topic that did not parse.", nil, nil), func(s *ingest.Stats) int64 { return s.Invalid }},
	}
	descFoldPartitions = prometheus.NewDesc("tape_fold_partitions", "Partitions of the events topic this ingester folds.", nil, nil)
	descIngestReady    = prometheus.NewDesc("tape_ingest_ready", "1 when the ingester has no fault (see /readyz).", nil, nil)
	descAccepted       = prometheus.NewDesc("tape_ingest_accepted_total", "Events normalised from raw messages, by format.", []string{"format"}, nil)
	descRejected       = prometheus.NewDesc("tape_ingest_rejected_total", "Rejected parts of raw messages (dead-lettered), by format (unknown for a format header tape does not know) and reason.", []string{"format", "reason"}, nil)
	descRefused        = prometheus.NewDesc("tape_ingest_refused_total", "Records the broker refused for good, by topic.", []string{"topic"}, nil)
	descFaults         = prometheus.NewDesc("tape_ingest_faults_total", "Faults begun (each made the ingester not ready), by kind.", []string{"kind"}, nil)
)

// newLatencyHistogram is tape_ingest_feed_to_write_seconds: from a quote's
// feed time to the broker's acknowledgement of the folded quote.
func newLatencyHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tape_ingest_feed_to_write_seconds",
		Help:    "Seconds from a quote's feed time to the acknowledgement of its folded quote on the quotes topic (replays of old sessions fall in +Inf).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
}

func (c ingestCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range descIngestCounters {
		ch <- m.d
	}
	for _, d := range []*prometheus.Desc{descFoldPartitions, descIngestReady, descAccepted, descRejected, descRefused, descFaults} {
		ch <- d
	}
}

func (c ingestCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.in.Stats()
	for _, m := range descIngestCounters {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v(&s)))
	}
	ch <- prometheus.MustNewConstMetric(descFoldPartitions, prometheus.GaugeValue, float64(s.Owned))
	ready := 0.0
	if len(c.in.Faults()) == 0 {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descIngestReady, prometheus.GaugeValue, ready)
	for f, n := range s.Accepted {
		ch <- prometheus.MustNewConstMetric(descAccepted, prometheus.CounterValue, float64(n), f)
	}
	for k, n := range s.Rejects {
		ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(n), k.Format, k.Reason)
	}
	for t, n := range s.Refused {
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(n), t)
	}
	for k, n := range s.Faults {
		ch <- prometheus.MustNewConstMetric(descFaults, prometheus.CounterValue, float64(n), k)
	}
}

var (
	_ prometheus.Collector = hubCollector{}
	_ prometheus.Collector = ingestCollector{}
)
