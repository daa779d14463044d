package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"tape"
	"tape/ingest"
	"tape/stream"
)

type ingestConfig struct {
	brokers   string
	names     topicNames
	group     string
	batch     int
	maxFuture time.Duration
	maxAge    time.Duration
	session   time.Duration
	addr      string
	logLevel  string
}

func runIngest(ctx context.Context, args []string, env environ) error {
	fs := flagSet("ingest", "Run one normaliser: it reads raw vendor messages in the consumer group tape-ingest and produces quotes. Start several to share the partitions.", env)
	var c ingestConfig
	fs.StringVar(&c.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	c.names.register(fs)
	fs.StringVar(&c.group, "group", ingest.DefaultGroup, "consumer group shared by all ingesters")
	fs.IntVar(&c.batch, "batch", ingest.DefaultBatchSize, "most raw messages normalised per produce and commit")
	fs.DurationVar(&c.maxFuture, "max-future", ingest.DefaultMaxFuture, "reject events stamped further in the future")
	fs.DurationVar(&c.maxAge, "max-age", 0, "reject events older than this (0: any age, for replays)")
	fs.DurationVar(&c.session, "session-timeout", ingest.DefaultSessionTimeout, "how long the group waits for a silent ingester before another takes its partitions (6s to 30m on default brokers)")
	fs.StringVar(&c.addr, "addr", "", "serve /healthz and /metrics on this address (off when empty)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args, env); err != nil {
		return err
	}
	log, err := newLogger(env.stderr, c.logLevel)
	if err != nil {
		return err
	}
	return runIngester(ctx, c, env, log)
}

func runIngester(ctx context.Context, c ingestConfig, env environ, log *slog.Logger) error {
	brokers, err := brokerList(c.brokers)
	if err != nil {
		return err
	}
	in, err := ingest.New(ingest.Config{
		Brokers: brokers, RawTopic: c.names.raw, QuotesTopic: c.names.quotes,
		LatestTopic: c.names.latest, DLQTopic: c.names.dlq, Group: c.group,
		BatchSize: c.batch, MaxFuture: c.maxFuture, MaxAge: c.maxAge, SessionTimeout: c.session,
		Seed: func(ctx context.Context) ([]tape.Quote, error) {
			return stream.LoadLatest(ctx, brokers, c.names.latest, 0)
		},
		Logger: log,
	})
	if err != nil {
		return err
	}
	if c.addr != "" {
		ln, err := net.Listen("tcp", c.addr)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, `{"status":"ok"}`) })
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			in.WriteMetrics(w)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		if env.ready != nil {
			env.ready("ingest-http", ln.Addr().String())
		}
	}
	log.Info("ingester running", "group", c.group, "from", c.names.raw, "to", c.names.quotes)
	err = in.Run(ctx)
	s := in.Stats()
	log.Info("ingester stopped", "raw", s.Raw, "events", s.Events, "rejected", s.Rejected)
	return err
}
