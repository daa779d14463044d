package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"tape"
	"tape/ingest"
	"tape/stream"
)

type ingestConfig struct {
	brokers            string
	names              topicNames
	group              string
	foldGroup          string
	batch              int
	maxFuture          time.Duration
	maxAge             time.Duration
	session            time.Duration
	dlqMaxBytes        int
	stallAfter         time.Duration
	checkpointInterval time.Duration
	checkpointEvents   int
	adminAddr          string
	pprof              bool
	nodeID             string
	logLevel           string
	logFormat          string
}

func runIngest(ctx context.Context, args []string, env environ) error {
	fs := flagSet("ingest", "Run one ingester: it normalises raw vendor messages (consumer group tape-ingest) into events, and folds the events of the symbols it owns into quotes and day statistics (consumer group tape-fold). Start several to share both.", env)
	var c ingestConfig
	fs.StringVar(&c.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	c.names.register(fs)
	fs.StringVar(&c.group, "group", ingest.DefaultGroup, "consumer group of the normalisers, over the raw topic")
	fs.StringVar(&c.foldGroup, "fold-group", ingest.DefaultFoldGroup, "consumer group of the folds, over the events topic")
	fs.IntVar(&c.batch, "batch", ingest.DefaultBatchSize, "most messages normalised or folded per produce")
	fs.DurationVar(&c.maxFuture, "max-future", ingest.DefaultMaxFuture, "reject events stamped further in the future")
	fs.DurationVar(&c.maxAge, "max-age", 0, "reject events older than this (0: any age, for replays)")
	fs.DurationVar(&c.session, "session-timeout", ingest.DefaultSessionTimeout, "how long the groups wait for a silent ingester before another takes its partitions (6s to 30m on default brokers)")
	fs.IntVar(&c.dlqMaxBytes, "dlq-max-bytes", ingest.DefaultDLQMaxBytes, "most bytes of a raw message a dead letter carries (the origin headers locate the whole message)")
	fs.DurationVar(&c.stallAfter, "stall-after", ingest.DefaultStallAfter, "a partition that cannot progress for this long makes the ingester not ready")
	fs.DurationVar(&c.checkpointInterval, "checkpoint-interval", ingest.DefaultCheckpointInterval, "most time between two checkpoints of a fold partition")
	fs.IntVar(&c.checkpointEvents, "checkpoint-events", ingest.DefaultCheckpointEvents, "most events folded between two checkpoints of a fold partition")
	fs.StringVar(&c.adminAddr, "admin-addr", "", "serve /healthz, /readyz and /metrics (and /debug/pprof/ with --admin-pprof) on this address (off when empty)")
	fs.BoolVar(&c.pprof, "admin-pprof", false, "serve the Go runtime's profiles under /debug/pprof/ on --admin-addr")
	fs.StringVar(&c.nodeID, "node-id", "", "this process's id on every log line (default host name and process id)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	logFormat := registerLogFormat(fs)
	if err := parse(fs, args, env); err != nil {
		return err
	}
	log, err := newLoggerFormat(env.stderr, c.logLevel, *logFormat)
	if err != nil {
		return err
	}
	if c.nodeID == "" {
		host, _ := os.Hostname()
		c.nodeID = host + "-" + strconv.Itoa(os.Getpid())
	}
	return runIngester(ctx, c, env, log.With("node", c.nodeID))
}

func runIngester(ctx context.Context, c ingestConfig, env environ, log *slog.Logger) error {
	brokers, err := brokerList(c.brokers)
	if err != nil {
		return err
	}
	if c.pprof && c.adminAddr == "" {
		return errors.New("--admin-pprof needs --admin-addr")
	}
	latency := newLatencyHistogram()
	in, err := ingest.New(ingest.Config{
		Brokers: brokers, RawTopic: c.names.raw, EventsTopic: c.names.events, QuotesTopic: c.names.quotes,
		LatestTopic: c.names.latest, DLQTopic: c.names.dlq, Group: c.group, FoldGroup: c.foldGroup,
		BatchSize: c.batch, MaxFuture: c.maxFuture, MaxAge: c.maxAge, SessionTimeout: c.session,
		DLQMaxBytes: c.dlqMaxBytes, StallAfter: c.stallAfter,
		CheckpointInterval: c.checkpointInterval, CheckpointEvents: c.checkpointEvents,
		Latency: latency, Logger: log,
	})
	if err != nil {
		return err
	}
	if c.adminAddr != "" {
		reg := newRegistry(ingestCollector{in}, latency)
		stop, err := serveAdmin(c.adminAddr, ingestAdmin(in, adminMux(reg, c.pprof)), env, "ingest-http")
		if err != nil {
			return err
		}
		defer stop()
	}
	log.Info("ingester running", "group", c.group, "fold-group", c.foldGroup, "from", c.names.raw, "via", c.names.events, "to", c.names.quotes)
	// The ingester announces itself on the heartbeat topic (its rates and
	// rejects show on every web node's /cluster) until it stops.
	hctx, leave := context.WithCancel(ctx)
	var beats sync.WaitGroup
	beats.Go(func() {
		stream.Publish(hctx, stream.NodesConfig{Brokers: brokers, Topic: c.names.nodes, Logger: log}, ingestBeat(processID("ingest"), in))
	})
	err = in.Run(ctx)
	leave()
	beats.Wait()
	s := in.Stats()
	log.Info("ingester stopped", "raw", s.Raw, "events", s.Events, "rejected", s.Rejected, "folded", s.Folded, "quotes", s.Quotes)
	return err
}

// ingestBeat returns an ingester's heartbeat: raw messages, quotes and
// rejects per second since the beat before, rejects in all, readiness.
func ingestBeat(id string, in *ingest.Ingester) func() tape.Heartbeat {
	var last ingest.Stats
	var lastRejected int64
	var lastAt time.Time
	return func() tape.Heartbeat {
		now, st := time.Now(), in.Stats()
		var rejected int64
		for _, n := range st.Rejected {
			rejected += n
		}
		hb := tape.Heartbeat{ID: id, Role: tape.RoleIngest, Ready: len(in.Faults()) == 0, Rejected: rejected}
		if !hb.Ready {
			hb.Status = "faults: see /readyz"
		}
		if dt := now.Sub(lastAt).Seconds(); !lastAt.IsZero() && dt > 0 {
			hb.RawPerSec = float64(st.Raw-last.Raw) / dt
			hb.QuotesPerSec = float64(st.Quotes-last.Quotes) / dt
			hb.RejectsPerSec = float64(rejected-lastRejected) / dt
		}
		last, lastRejected, lastAt = st, rejected, now
		return hb
	}
}

// processes numbers the ingesters and replays one process runs (the
// demo, tests), so that each has its own heartbeat id.
var processes atomic.Int64

// processID names a part of this process on the heartbeat topic: role,
// host name, process id and a number, in the characters an id allows.
func processID(role string) string {
	host, _ := os.Hostname()
	id := []byte(fmt.Sprintf("%s-%s-%d-%d", role, host, os.Getpid(), processes.Add(1)))
	for i, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			id[i] = '-'
		}
	}
	if len(id) > 64 {
		id = id[len(id)-64:]
	}
	return string(id)
}

// ingestAdmin adds an ingester's liveness and readiness to mux (which
// serves its metrics). /readyz answers 503 with the faults (a stalled
// partition, brokers that do not answer, a topic that refuses writes)
// while there are any.
func ingestAdmin(in *ingest.Ingester, mux *http.ServeMux) http.Handler {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		faults := in.Faults()
		w.Header().Set("Content-Type", "application/json")
		body := struct {
			Status string         `json:"status"`
			Faults []ingest.Fault `json:"faults,omitempty"`
		}{"ready", faults}
		if len(faults) > 0 {
			body.Status = "not ready"
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(body)
	})
	return mux
}
