package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
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
	watchlist string
	heartbeat time.Duration
	drain     time.Duration
	perIP     int
	opens     float64
	unknown   bool
	cors      string
	proxies   string
	publicURL string
	hub       stream.Config
	logLevel  string
	// adminAddr, if set, serves /metrics and (with pprof) /debug/pprof/
	// apart from the public listener; serve registers these, demo not.
	adminAddr string
	pprof     bool
	auth      authFlags
}

func (c *nodeConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", ":8080", "HTTP listen address")
	fs.StringVar(&c.nodeID, "node-id", "", "this node's id; names its consumer group tape-web-<id> (default host name and HTTP port)")
	fs.StringVar(&c.watchlist, "watchlist", "", "default watchlist of the dashboard, comma-separated (default the first known symbols)")
	fs.DurationVar(&c.heartbeat, "heartbeat", ui.DefaultHeartbeat, "heartbeat comment interval on idle streams (100ms to 10m)")
	fs.DurationVar(&c.drain, "drain", ui.DefaultDrain, "at shutdown, close streams spread over this window so clients do not stampede other nodes (0 to 10m)")
	fs.IntVar(&c.perIP, "max-streams-per-ip", ui.DefaultMaxStreamsPerIP, "most SSE streams of one client address (then 429)")
	fs.Float64Var(&c.opens, "stream-opens-per-ip", ui.DefaultStreamOpensPerSecond, "streams one client address may open a second once it has opened --max-streams-per-ip (then 429)")
	fs.BoolVar(&c.unknown, "reject-unknown", true, "answer 400 from /api/quotes for symbols this node has never seen (streams accept them and wait)")
	fs.StringVar(&c.cors, "cors-origins", "", "origins allowed to read /events and /api/quotes cross-site, comma-separated, or * for any: pages fail over to another node only where it allows their origin (default none)")
	fs.StringVar(&c.proxies, "trusted-proxies", "", "load balancer addresses or CIDRs whose X-Forwarded-For names the client, comma-separated")
	fs.DurationVar(&c.hub.HistoryAge, "history", stream.DefaultHistoryAge, "how far back a reconnecting client can resume exactly")
	fs.IntVar(&c.hub.HistorySize, "history-size", stream.DefaultHistorySize, "most events kept for resuming")
	fs.IntVar(&c.hub.MaxSubscribers, "max-streams", stream.DefaultMaxSubscribers, "most SSE streams on this node (then 503)")
	fs.DurationVar(&c.hub.StallTimeout, "stall-timeout", stream.DefaultStallTimeout, "disconnect a client that has not read for this long while its updates are conflated")
	fs.IntVar(&c.hub.MaxSymbols, "max-symbols", stream.DefaultMaxSymbols, "most symbols in one stream")
	fs.IntVar(&c.hub.SymbolLimit, "symbol-limit", stream.DefaultSymbolLimit, "most symbols this node keeps; past it the one updated longest ago that no stream watches is forgotten")
	fs.DurationVar(&c.hub.SymbolIdle, "symbol-idle", stream.DefaultSymbolIdle, "forget a symbol no stream watches after this long without an update")
	fs.IntVar(&c.hub.MaxResume, "max-resume", stream.DefaultMaxResume, "most events one reconnecting stream is replayed; a longer gap gets a snapshot")
	fs.StringVar(&c.publicURL, "public-url", "", "this node's base URL as browsers reach it (http[s]://host[:port]), announced in its heartbeat so pages can move to it when their node is gone (default from --addr, localhost when it names no host)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
}

// publicBase checks --public-url, or derives it from the address the
// node listens on, and returns it as scheme://host[:port].
func (c *nodeConfig) publicBase(listening string) (string, error) {
	if c.publicURL == "" {
		return "http://" + browsable(listening), nil
	}
	u, err := url.Parse(c.publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--public-url is %q, want http[s]://host[:port] with no path, query or credentials", c.publicURL)
	}
	return u.Scheme + "://" + u.Host, nil
}

func runServe(ctx context.Context, args []string, env environ) error {
	fs := flagSet("serve", "Run one web node: it reads every partition of the quotes topic (committing its offsets to the group tape-web-<node id> for lag monitoring) and serves the dashboard, the SSE stream and the JSON API.", env)
	var c nodeConfig
	fs.StringVar(&c.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	c.names.register(fs)
	c.register(fs)
	fs.StringVar(&c.adminAddr, "admin-addr", "", "serve /metrics (and /debug/pprof/ with --admin-pprof) on this address too, apart from --addr (off when empty)")
	fs.BoolVar(&c.pprof, "admin-pprof", false, "serve the Go runtime's profiles under /debug/pprof/ on --admin-addr")
	c.auth.register(fs)
	logFormat := registerLogFormat(fs)
	if err := parse(fs, args, env); err != nil {
		return err
	}
	log, err := newLoggerFormat(env.stderr, c.logLevel, *logFormat)
	if err != nil {
		return err
	}
	return serveNode(ctx, c, env, log)
}

// validate checks the flags that ui and stream do not: each message
// names the flag and its range. Those of ui and stream are checked by
// their Validate, whose field names the flags map to (flagError).
func (c *nodeConfig) validate() error {
	switch {
	case c.perIP < 1:
		return fmt.Errorf("--max-streams-per-ip is %d, want at least 1", c.perIP)
	case c.drain < 0 || c.drain > 10*time.Minute:
		return fmt.Errorf("--drain is %s, want 0s to 10m", c.drain)
	case c.heartbeat < 100*time.Millisecond || c.heartbeat > 10*time.Minute:
		return fmt.Errorf("--heartbeat is %s, want 100ms to 10m", c.heartbeat)
	case !(c.opens >= 0.01 && c.opens <= 1e6): // NaN too
		return fmt.Errorf("--stream-opens-per-ip is %g, want 0.01 to 1000000", c.opens)
	}
	// The flags' defaults are the Config defaults, so a zero here was
	// given on purpose; in a Config it would silently mean the default.
	for _, f := range []struct {
		name string
		v    int
	}{{"--max-streams", c.hub.MaxSubscribers}, {"--max-symbols", c.hub.MaxSymbols}, {"--history-size", c.hub.HistorySize},
		{"--symbol-limit", c.hub.SymbolLimit}, {"--max-resume", c.hub.MaxResume}} {
		if f.v < 1 {
			return fmt.Errorf("%s is %d, want at least 1", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"--history", c.hub.HistoryAge}, {"--stall-timeout", c.hub.StallTimeout}, {"--symbol-idle", c.hub.SymbolIdle}} {
		if f.v <= 0 {
			return fmt.Errorf("%s is %s, want more than 0", f.name, f.v)
		}
	}
	return flagError(c.hub.Validate())
}

// flagError rewrites a Config field name in err as the flag that sets it.
func flagError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for field, flag := range map[string]string{
		"HistorySize": "--history-size", "HistoryAge": "--history", "StallTimeout": "--stall-timeout",
		"MaxSubscribers": "--max-streams", "MaxSymbols": "--max-symbols", "MaxResume": "--max-resume",
		"SymbolLimit": "--symbol-limit", "SymbolIdle": "--symbol-idle", "TrustedProxies": "--trusted-proxies",
		"NodeID": "--node-id", "MaxStreamsPerIP": "--max-streams-per-ip", "Heartbeat": "--heartbeat", "Drain": "--drain",
		"StreamOpensPerSecond": "--stream-opens-per-ip",
	} {
		msg = strings.ReplaceAll(msg, field+" ", flag+" ")
		msg = strings.ReplaceAll(msg, field+":", flag+":")
	}
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, "stream: "), "ui: ")
	return errors.New(msg)
}

// serveNode runs a web node until ctx ends, then drains it.
func serveNode(ctx context.Context, c nodeConfig, env environ, log *slog.Logger) error {
	brokers, err := brokerList(c.brokers)
	if err != nil {
		return err
	}
	watch, err := parseSymbols(c.watchlist)
	if err != nil {
		return fmt.Errorf("--watchlist: %w", err)
	}
	if err := c.validate(); err != nil {
		return err
	}
	if _, err := c.publicBase(c.addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	public, _ := c.publicBase(ln.Addr().String())
	if c.nodeID == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		c.nodeID = host + "-" + port
	}
	log = log.With("node", c.nodeID)
	if c.pprof && c.adminAddr == "" {
		ln.Close()
		return errors.New("--admin-pprof needs --admin-addr: profiles are never served on the public listener")
	}
	auth, err := c.auth.build(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	hub, err := stream.NewHub(c.hub, ui.SSE{})
	if err != nil {
		ln.Close()
		return flagError(err)
	}
	nodes := stream.NewNodes(func(web []tape.Heartbeat) { hub.SetNodes(stream.NodesEvent(web)) })
	reg := newRegistry(hubCollector{hub})
	srv, err := ui.New(ui.Config{
		NodeID:               c.nodeID,
		DefaultSymbols:       watch,
		Heartbeat:            c.heartbeat,
		MaxSymbols:           c.hub.MaxSymbols,
		MaxStreamsPerIP:      c.perIP,
		StreamOpensPerSecond: c.opens,
		StallTimeout:         c.hub.StallTimeout,
		RejectUnknown:        c.unknown,
		CORSOrigins:          splitList(c.cors),
		TrustedProxies:       splitList(c.proxies),
		Drain:                c.drain,
		Metrics:              reg,
		Auth:                 auth,
		Logger:               log,
	}, hubQuotes{Hub: hub, nodes: nodes})
	if err != nil {
		hub.Close()
		ln.Close()
		return flagError(err)
	}
	reg.MustRegister(srv)
	if c.adminAddr != "" {
		stop, err := serveAdmin(c.adminAddr, adminMux(reg, c.pprof), env, "admin")
		if err != nil {
			hub.Close()
			ln.Close()
			return err
		}
		defer stop()
	}

	// The consumer outlives ctx: streams kept open through the drain must
	// go on receiving quotes, or they would show stale prices as live.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	kcfg := stream.KafkaConfig{
		Brokers: brokers, Topic: c.names.quotes, LatestTopic: c.names.latest,
		Group: "tape-web-" + c.nodeID, Logger: log,
	}
	consumed := make(chan error, 1)
	go func() { consumed <- hub.Consume(cctx, kcfg) }()
	// Heartbeats: the node follows the others for as long as it serves,
	// and announces itself until ctx ends, then leaves at once (a
	// tombstone) so that pages stop choosing it while it drains.
	hbCfg := stream.NodesConfig{Brokers: brokers, Topic: c.names.nodes, Logger: log}
	var beats sync.WaitGroup
	defer beats.Wait()
	beats.Go(func() { nodes.Follow(cctx, hbCfg) })
	// Charts open with the session's 1 m bars, not only the history
	// window's: the trades before it are read once, in the background.
	beats.Go(func() {
		if err := hub.Backfill(cctx, kcfg, time.Now().Add(-stream.MinuteBarsKept*time.Minute)); err != nil && cctx.Err() == nil {
			log.Warn("bars of the session before the history window are missing", "err", err)
		}
	})
	pctx, leave := context.WithCancel(ctx)
	defer leave()
	beats.Go(func() { stream.Publish(pctx, hbCfg, webBeat(c.nodeID, public, hub)) })
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("web node listening", "addr", ln.Addr().String(), "url", public, "group", "tape-web-"+c.nodeID)
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
	leave()
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

// webBeat returns the heartbeat of a web node: its quotes applied per
// second since the beat before, streams, lag and readiness.
func webBeat(id, public string, hub *stream.Hub) func() tape.Heartbeat {
	var lastN int64
	var lastAt time.Time
	return func() tape.Heartbeat {
		now, n := time.Now(), hub.Stats().Applied.Load()
		rate := 0.0
		if !lastAt.IsZero() {
			rate = float64(n-lastN) / now.Sub(lastAt).Seconds()
		}
		lastN, lastAt = n, now
		var lag int64
		for _, l := range hub.Lag() {
			lag += l
		}
		hb := tape.Heartbeat{ID: id, Role: tape.RoleWeb, URL: public, Ready: hub.Ready(),
			Streams: int64(hub.Subscribers()), EventsPerSec: rate, Lag: lag}
		if _, err := hub.FeedState(); err != nil {
			hb.Ready, hb.Status = false, "broker unreachable"
		} else if !hb.Ready {
			hb.Status = "catching up"
		}
		return hb
	}
}

// hubQuotes adapts stream.Hub to ui.Quotes and ui.Market.
type hubQuotes struct {
	*stream.Hub
	nodes *stream.Nodes
}

var (
	_ ui.Quotes = hubQuotes{}
	_ ui.Market = hubQuotes{}
	_ ui.Stream = (*stream.Subscriber)(nil)
)

// Bars returns the hub's bars as ui shows them.
func (h hubQuotes) Bars(sym tape.Symbol, width time.Duration) ([]ui.Bar, tape.Day) {
	bars, day, err := h.Hub.Bars(sym, int(width/time.Second))
	if err != nil {
		return nil, 0
	}
	out := make([]ui.Bar, len(bars))
	for i, b := range bars {
		out[i] = ui.Bar{Time: b.Time, Open: b.Open, High: b.High, Low: b.Low, Close: b.Close, Volume: b.Volume}
	}
	return out, day
}

// Movers returns the hub's movers as ui shows them.
func (h hubQuotes) Movers(n int) ui.Movers {
	m := h.Hub.Movers(n)
	return ui.Movers{Gainers: m.Gainers, Losers: m.Losers, Active: m.Active}
}

// Cluster returns the processes heard from, by role, and the feed clock.
func (h hubQuotes) Cluster() ui.Cluster {
	c := ui.Cluster{Newest: h.Newest()}
	for _, hb := range h.nodes.List(time.Now()) {
		switch hb.Role {
		case tape.RoleWeb:
			c.Web = append(c.Web, hb)
		case tape.RoleIngest:
			c.Ingest = append(c.Ingest, hb)
		case tape.RoleReplay:
			c.Replay = append(c.Replay, hb)
		}
	}
	return c
}

// FeedStale says why, if at all, the hub's quotes are stale.
func (h hubQuotes) FeedStale() (time.Time, string) {
	since, err := h.FeedState()
	switch {
	case err == nil:
		return since, ""
	case errors.Is(err, stream.ErrTooManyPartitions):
		return since, fmt.Sprintf("quotes topic has more than %d partitions", stream.MaxPartitions)
	}
	return since, "broker unreachable"
}

func (h hubQuotes) Subscribe(symbols []tape.Symbol, lastEventID string, opts ui.StreamOptions) (ui.Stream, error) {
	sub, err := h.Hub.SubscribeWith(symbols, lastEventID, stream.Options{Delta: opts.Delta, MaxRate: opts.MaxRate})
	if err != nil {
		return nil, err
	}
	return sub, nil
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

// newLogger returns a text logger at level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	return newLoggerFormat(w, level, "text")
}

// registerLogFormat registers --log-format.
func registerLogFormat(fs *flag.FlagSet) *string {
	return fs.String("log-format", "text", "log lines as text (key=value) or json (one object a line)")
}

// newLoggerFormat returns a logger at level writing text or json lines.
// Nothing is logged per event at info: lines are per fault, per start
// and stop, per client disconnected for a reason.
func newLoggerFormat(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, errors.New("--log-level must be debug, info, warn or error")
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format is %q, want text or json", format)
}

// serveAdmin serves h on addr (an operator's listener: metrics, health,
// profiles) until the returned stop is called.
func serveAdmin(addr string, h http.Handler, env environ, name string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin-addr: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	if env.ready != nil {
		env.ready(name, ln.Addr().String())
	}
	return func() { srv.Close() }, nil
}
