package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"tape"
	"tape/stream"
	"tape/ui"
)

// nodeConfig is one web node's configuration.
type nodeConfig struct {
	brokers   string
	names     topicNames
	addr      string
	nodeID    string
	symbols   string
	heartbeat time.Duration
	drain     time.Duration
	perIP     int
	unknown   bool
	cors      string
	proxies   string
	hub       stream.Config
	logLevel  string
}

func (c *nodeConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", ":8080", "HTTP listen address")
	fs.StringVar(&c.nodeID, "node-id", "", "this node's id; names its consumer group tape-web-<id> (default host name and HTTP port)")
	fs.StringVar(&c.symbols, "symbols", "", "default watchlist, comma-separated (default every known symbol)")
	fs.DurationVar(&c.heartbeat, "heartbeat", ui.DefaultHeartbeat, "heartbeat comment interval on idle streams")
	fs.DurationVar(&c.drain, "drain", ui.DefaultDrain, "at shutdown, close streams spread over this window so clients do not stampede other nodes")
	fs.IntVar(&c.perIP, "max-streams-per-ip", ui.DefaultMaxStreamsPerIP, "most SSE streams of one client address (then 429)")
	fs.BoolVar(&c.unknown, "reject-unknown", true, "answer 400 for symbols this node has never seen")
	fs.StringVar(&c.cors, "cors-origins", "", "origins allowed to read /events and /api/quotes cross-site, comma-separated (default none)")
	fs.StringVar(&c.proxies, "trusted-proxies", "", "load balancer addresses or CIDRs whose X-Forwarded-For names the client, comma-separated")
	fs.DurationVar(&c.hub.HistoryAge, "history", stream.DefaultHistoryAge, "how far back a reconnecting client can resume exactly")
	fs.IntVar(&c.hub.HistorySize, "history-size", stream.DefaultHistorySize, "most events kept for resuming")
	fs.IntVar(&c.hub.MaxSubscribers, "max-streams", stream.DefaultMaxSubscribers, "most SSE streams on this node (then 503)")
	fs.DurationVar(&c.hub.StallTimeout, "stall-timeout", stream.DefaultStallTimeout, "disconnect a client that has not read for this long while its updates are conflated")
	fs.IntVar(&c.hub.MaxSymbols, "max-symbols", stream.DefaultMaxSymbols, "most symbols in one stream")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
}

func runServe(ctx context.Context, args []string, env environ) error {
	fs := flagSet("serve", "Run one web node: it reads quotes from Kafka in its own consumer group and serves the dashboard, the SSE stream and the JSON API.", env)
	var c nodeConfig
	fs.StringVar(&c.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	c.names.register(fs)
	c.register(fs)
	if err := parse(fs, args, env); err != nil {
		return err
	}
	log, err := newLogger(env.stderr, c.logLevel)
	if err != nil {
		return err
	}
	return serveNode(ctx, c, env, log)
}

// serveNode runs a web node until ctx ends, then drains it.
func serveNode(ctx context.Context, c nodeConfig, env environ, log *slog.Logger) error {
	brokers, err := brokerList(c.brokers)
	if err != nil {
		return err
	}
	watch, err := parseSymbols(c.symbols)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	if c.nodeID == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		c.nodeID = host + "-" + port
	}
	hub, err := stream.NewHub(c.hub, ui.SSE{})
	if err != nil {
		ln.Close()
		return err
	}
	srv := ui.New(ui.Config{
		NodeID:          c.nodeID,
		DefaultSymbols:  watch,
		Heartbeat:       c.heartbeat,
		MaxSymbols:      c.hub.MaxSymbols,
		MaxStreamsPerIP: c.perIP,
		RejectUnknown:   c.unknown,
		CORSOrigins:     splitList(c.cors),
		TrustedProxies:  splitList(c.proxies),
		Drain:           c.drain,
		Metrics:         func(w io.Writer) { writeHubMetrics(w, hub) },
		Logger:          log,
	}, hubQuotes{hub})
	log = log.With("node", c.nodeID)

	// The consumer outlives ctx: streams kept open through the drain must
	// go on receiving quotes, or they would show stale prices as live.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	consumed := make(chan error, 1)
	go func() {
		consumed <- hub.Consume(cctx, stream.KafkaConfig{
			Brokers: brokers, Topic: c.names.quotes, LatestTopic: c.names.latest,
			Group: "tape-web-" + c.nodeID, Logger: log,
		})
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("web node listening", "addr", ln.Addr().String(), "group", "tape-web-"+c.nodeID)
	if env.ready != nil {
		env.ready("http", ln.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-consumed:
		runErr = fmt.Errorf("consume: %w", err)
		consumed <- nil
	case err := <-served:
		runErr = fmt.Errorf("serve: %w", err)
		served <- nil
	}
	log.Info("draining", "window", c.drain)
	sctx, scancel := context.WithTimeout(context.Background(), c.drain+5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	hub.Close()
	cancel()
	<-consumed
	log.Info("web node stopped")
	return runErr
}

// hubQuotes adapts stream.Hub to ui.Quotes.
type hubQuotes struct{ *stream.Hub }

func (h hubQuotes) Subscribe(symbols []tape.Symbol, lastEventID string) (ui.Stream, error) {
	sub, err := h.Hub.Subscribe(symbols, lastEventID)
	if err != nil {
		return nil, err
	}
	return sub, nil
}

func writeHubMetrics(w io.Writer, h *stream.Hub) {
	s := h.Stats()
	for _, m := range []struct {
		name, help string
		v          int64
	}{
		{"tape_stream_events_applied_total", "Events applied from the quotes topic.", s.Applied.Load()},
		{"tape_stream_events_invalid_total", "Records on the quotes topic that did not parse.", s.Invalid.Load()},
		{"tape_stream_events_repeated_total", "Events dropped as repeats of an origin already applied.", s.Repeats.Load()},
		{"tape_stream_deliveries_total", "Events queued to subscribers.", s.Delivered.Load()},
		{"tape_stream_conflated_total", "Events replaced by a newer one for a slow subscriber.", s.Conflated.Load()},
		{"tape_stream_slow_disconnects_total", "Subscribers disconnected for stalling.", s.Slow.Load()},
		{"tape_stream_resumes_total", "Streams resumed exactly from a Last-Event-ID.", s.Resumed.Load()},
		{"tape_stream_snapshots_total", "Streams that began with a snapshot.", s.Snapshots.Load()},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", m.name, m.help, m.name, m.name, m.v)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseSymbols(s string) ([]tape.Symbol, error) {
	var out []tape.Symbol
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		sym, err := tape.ParseSymbolString(f)
		if err != nil {
			return nil, fmt.Errorf("invalid symbol %q", f)
		}
		out = append(out, sym)
	}
	return out, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, errors.New("--log-level must be debug, info, warn or error")
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
