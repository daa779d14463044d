package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"runtime"
	rpprof "runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/bench"
	"tape/stream"
)

// benchConfig is one `tape bench` scenario.
type benchConfig struct {
	target      string
	serverPID   int
	brokers     string
	names       topicNames
	subscribers int
	perSub      int
	symbols     int
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	via         string
	pprofAddr   string
	cpuProfile  string
	maxRate     float64
	encoding    string
	reference   bool
	serveRef    string // the reference writer's own listen address (child)
	refBase     int64
	// The rest of a full market: quotes for symbols no stream watches.
	bgRate    float64
	bgSymbols int
}

// benchReport is the one JSON line `tape bench` prints.
type benchReport struct {
	Target      string  `json:"target"`
	InProcess   bool    `json:"in_process"`
	Note        string  `json:"note,omitempty"`
	Via         string  `json:"via"`
	Subscribers int     `json:"subscribers"`
	PerSub      int     `json:"symbols_per_sub"`
	Symbols     int     `json:"symbols"`
	Rate        float64 `json:"rate"`
	MaxRate     float64 `json:"max_rate,omitempty"`
	// BytesPerEvent is what the streams received (events, snapshots,
	// heartbeats) per quote event, in bytes.
	BytesPerEvent float64 `json:"bytes_per_event"`
	DurationS     float64 `json:"duration_s"`
	Produced      int64   `json:"produced"`
	// BackgroundProduced counts the quotes of --background-rate produced
	// during the measured window (symbols no stream watches): the input a
	// node follows beside its streams.
	BackgroundProduced int64        `json:"background_produced,omitempty"`
	EventsPerS         float64      `json:"events_per_s"`
	Latency            benchLatency `json:"latency_ms"`
	bench.Result
	// KafkaLatency is what a plain consumer of the same topic sees from ts
	// to receipt: the part of Latency that is not the node's.
	KafkaLatency benchLatency `json:"kafka_latency_ms"`
	Server       benchProc    `json:"server"`
	// Reference is the bare-socket writer's run with the same load
	// (--reference).
	Reference *refReport `json:"reference,omitempty"`
	Client    benchProc  `json:"client"`
	// LoadAvg is the machine's 1-minute load average before and after:
	// other work on the machine shows here.
	LoadAvg []float64 `json:"loadavg"`
}

type benchLatency struct {
	P50     float64 `json:"p50"`
	P99     float64 `json:"p99"`
	P999    float64 `json:"p999"`
	Max     float64 `json:"max"`
	Samples int64   `json:"samples"`
}

type benchProc struct {
	PID            int     `json:"pid,omitempty"`
	CPUSeconds     float64 `json:"cpu_s"` // during the measured window
	Cores          float64 `json:"cores"`
	RSSBeforeKB    int64   `json:"rss_before_kb,omitempty"`    // before any stream
	RSSConnectedKB int64   `json:"rss_connected_kb,omitempty"` // every stream open, before the load
	RSSAfterKB     int64   `json:"rss_after_kb,omitempty"`     // after the load, streams still open
	RSSPerConnKB   float64 `json:"rss_per_conn_kb,omitempty"`  // (connected - before) / streams
	USPerDelivery  float64 `json:"us_per_delivery,omitempty"`  // CPU µs per quote event received
	Threads        int     `json:"threads,omitempty"`
}

func runBench(ctx context.Context, args []string, env environ) error {
	fs := flagSet("bench", "Load-test a web node: open SSE subscribers, produce quotes through Kafka at a steady rate, and print one JSON line with delivery rate, latency from each quote's ts to its receipt, gaps, duplicates, and the node's CPU and memory. Without --target it runs its own node (and, with --via raw, an ingester) in this process; a separate `tape serve` gives honest numbers.", env)
	var c benchConfig
	fs.StringVar(&c.target, "target", "", "base URL of a running node, such as http://127.0.0.1:8080 (default: a node in this process)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "pid of the --target node, for CPU and memory (default: the process listening on its port)")
	fs.StringVar(&c.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	c.names.register(fs)
	fs.IntVar(&c.subscribers, "subscribers", 1000, "SSE streams to open")
	fs.IntVar(&c.perSub, "symbols-per-sub", 10, "symbols in each stream")
	symbols := fs.String("symbols", "10", "the symbol universe: how many (named B00000, B00001, ...) or a comma-separated list; subscriber i takes symbols-per-sub of them from i*symbols-per-sub on")
	fs.Float64Var(&c.rate, "rate", 100, "quotes a second over all symbols (0: idle streams)")
	fs.Float64Var(&c.maxRate, "max-rate", 0, "cap every stream at this many quotes per symbol per second (/events?max_rate=); 0: no cap")
	fs.StringVar(&c.encoding, "encoding", "full", "the streams' encoding: full quotes, or delta (/events?encoding=delta)")
	fs.BoolVar(&c.reference, "reference", false, "after the node, run a bare-socket reference writer (a child process: one pre-encoded write per delivery) with the same load and report both CPU costs per delivery and their ratio")
	fs.StringVar(&c.serveRef, "serve-reference", "", "internal: be the reference writer on this address")
	fs.Int64Var(&c.refBase, "reference-base", 0, "internal: the reference writer's first sequence number")
	fs.Float64Var(&c.bgRate, "background-rate", 0, "also produce this many quotes a second for symbols no stream watches (the rest of a full market, named U00000, U00001, ...), to measure a node's input while it serves")
	fs.IntVar(&c.bgSymbols, "background-symbols", 1000, "how many symbols --background-rate spreads over")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "measured time")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "time the producer runs before measuring")
	fs.StringVar(&c.via, "via", "quotes", "quotes: canonical events straight to the quotes topic (the node alone); raw: Polygon messages to the raw topic (through an ingester)")
	fs.StringVar(&c.pprofAddr, "pprof", "", "serve net/http/pprof on this address (in-process mode only)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured window to this file (in-process mode only)")
	if err := parse(fs, args, env); err != nil {
		return err
	}
	var universe []string
	if n, err := strconv.Atoi(strings.TrimSpace(*symbols)); err == nil {
		if n < 1 || n > 99999 {
			return errors.New("bench: --symbols must be 1 to 99999, or a list of symbols")
		}
		for i := range n {
			universe = append(universe, fmt.Sprintf("B%05d", i))
		}
	} else {
		list, err := parseSymbols(*symbols)
		if err != nil {
			return fmt.Errorf("bench: --symbols: %w", err)
		}
		for _, s := range list {
			universe = append(universe, string(s))
		}
	}
	c.symbols = len(universe)
	if c.serveRef != "" {
		return serveReference(ctx, c.serveRef, universe, c.rate, c.refBase, c.encoding == "delta", env.stdout)
	}
	switch {
	case c.via != "quotes" && c.via != "raw":
		return errors.New("bench: --via must be quotes or raw")
	case c.subscribers < 1, c.perSub < 1, c.symbols < c.perSub, c.symbols > 99999:
		return errors.New("bench: want --subscribers ≥ 1 and 1 ≤ --symbols-per-sub ≤ --symbols ≤ 99999")
	case !(c.rate >= 0 && c.rate <= 1e7), c.duration <= 0, c.warmup < 0: // NaN too
		return errors.New("bench: --rate must not be negative, --duration must be positive")
	case !(c.bgRate >= 0 && c.bgRate <= 1e7), c.bgSymbols < 1 || c.bgSymbols > 99999:
		return errors.New("bench: --background-rate must be 0 to 1e7, --background-symbols 1 to 99999")
	case c.encoding != "full" && c.encoding != "delta":
		return errors.New("bench: --encoding must be full or delta")
	case c.maxRate != 0 && !(c.maxRate >= tape.MinMaxRate && c.maxRate <= tape.MaxMaxRate):
		return fmt.Errorf("bench: --max-rate must be 0 or %g to %g", tape.MinMaxRate, tape.MaxMaxRate)
	case c.target != "" && (c.pprofAddr != "" || c.cpuProfile != ""):
		return errors.New("bench: --pprof and --cpuprofile profile the in-process node; drop them with --target")
	}
	brokers, err := brokerList(c.brokers)
	if err != nil {
		return err
	}
	// Each stream is a file descriptor here, and in the node too when it
	// runs in this process.
	bench.RaiseFileLimit(uint64(2*c.subscribers + 1024))
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	rep := benchReport{Target: c.target, Via: c.via, Subscribers: c.subscribers, PerSub: c.perSub,
		Symbols: c.symbols, Rate: c.rate, MaxRate: c.maxRate, DurationS: c.duration.Seconds()}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodeDone := make(chan error, 2)
	nodes := 0
	if c.target == "" {
		rep.InProcess = true
		rep.Note = "node, ingester and load client share this process: server CPU and RSS include the client; use --target with a separate tape serve for honest numbers"
		rep.Target, err = startBenchNode(ctx, c, brokers, env, log, nodeDone, &nodes)
		if err != nil {
			return err
		}
	}
	defer func() {
		cancel()
		for range nodes {
			<-nodeDone
		}
	}()
	if err := waitNodeReady(ctx, rep.Target, 60*time.Second); err != nil {
		return err
	}
	pid := os.Getpid()
	if !rep.InProcess {
		if pid, err = targetPID(c); err != nil {
			return err
		}
	}
	rep.LoadAvg = append(rep.LoadAvg, loadAvg())

	// Numbers start past any earlier run's: milliseconds since a recent
	// epoch, so that a size of that many whole shares still fits a
	// tape.Size (at most 92,233,720,368 shares: until 2028).
	base := time.Now().UnixMilli() - benchEpochMilli
	prod := newBenchProducer(c, brokers, universe, base)
	// A node refuses streams for symbols it has never seen: give each one
	// quote (numbered base, which clients ignore) before subscribing.
	if err := prod.seed(ctx, rep.Target); err != nil {
		return err
	}
	before, _ := bench.ReadProc(pid)
	load, err := bench.Start(ctx, bench.Config{
		Target: rep.Target, Subscribers: c.subscribers, Base: base, Query: streamQuery(c),
		Symbols: func(i int) []string {
			out := make([]string, c.perSub)
			for j := range out {
				out[j] = universe[(i*c.perSub+j)%c.symbols]
			}
			return out
		},
	})
	if err != nil {
		return err
	}
	runtime.GC()
	time.Sleep(time.Second) // let connection set-up settle before reading RSS
	connected, _ := bench.ReadProc(pid)

	var stopProfile func()
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		stopProfile = func() { rpprof.StopCPUProfile() }
		defer func() { stopProfile() }()
		if c.warmup == 0 {
			rpprof.StartCPUProfile(f)
		} else {
			defer time.AfterFunc(c.warmup, func() { rpprof.StartCPUProfile(f) }).Stop()
		}
	}

	prodDone := make(chan error, 1)
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	var probe bench.Histogram
	var probeOn atomic.Bool
	probeDone := make(chan struct{})
	if c.rate > 0 {
		go func() { defer close(probeDone); kafkaProbe(pctx, c, brokers, &probe, &probeOn) }()
	} else {
		close(probeDone)
	}
	var bg *benchProducer
	bgDone := make(chan error, 1)
	if c.bgRate > 0 {
		bc := c
		bc.rate, bc.via = c.bgRate, "quotes"
		names := make([]string, c.bgSymbols)
		for i := range names {
			names[i] = fmt.Sprintf("U%05d", i)
		}
		bg = newBenchProducer(bc, brokers, names, base)
		bg.w.BatchSize = 10000
		go func() { bgDone <- bg.run(pctx) }()
	} else {
		bgDone <- nil
	}
	if c.rate > 0 {
		go func() { prodDone <- prod.run(pctx) }()
	} else {
		go func() { <-pctx.Done(); prodDone <- nil }() // idle streams: nothing to produce
	}
	select {
	case <-time.After(c.warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	var bg0 int64
	if bg != nil {
		bg0 = bg.written.Load()
	}
	self0, _ := bench.ReadProc(os.Getpid())
	srv0, _ := bench.ReadProc(pid)
	t0 := time.Now()
	load.Record(true)
	probeOn.Store(true)
	select {
	case <-time.After(c.duration):
	case err := <-prodDone:
		return fmt.Errorf("bench: producer stopped: %v", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	srv1, _ := bench.ReadProc(pid)
	self1, _ := bench.ReadProc(os.Getpid())
	if bg != nil {
		rep.BackgroundProduced = bg.written.Load() - bg0
	}
	elapsed := time.Since(t0)
	load.Record(false)
	probeOn.Store(false)
	if stopProfile != nil {
		stopProfile()
		stopProfile = func() {}
	}
	pcancel()
	<-probeDone
	if err := <-bgDone; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("bench: background producer: %w", err)
	}
	if err := <-prodDone; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("bench: producer: %w", err)
	}
	// Let what is in flight arrive: until nothing came for a second.
	for last, quiet := load.Received(), 0; quiet < 4; {
		time.Sleep(250 * time.Millisecond)
		if n := load.Received(); n == last {
			quiet++
		} else {
			last, quiet = n, 0
		}
	}
	after, _ := bench.ReadProc(pid)
	res := load.Finish(prod.last())

	rep.Result = res
	rep.Produced = prod.sent
	rep.EventsPerS = round(float64(res.Events)/elapsed.Seconds(), 1)
	if res.AllEvents > 0 {
		rep.BytesPerEvent = round(float64(res.Bytes)/float64(res.AllEvents), 1)
	}
	ms := func(d time.Duration) float64 { return round(float64(d.Microseconds())/1000, 3) }
	lat := func(h *bench.Histogram) benchLatency {
		return benchLatency{P50: ms(h.Quantile(0.50)), P99: ms(h.Quantile(0.99)),
			P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Samples: h.Count()}
	}
	rep.Latency = lat(&load.Latency)
	rep.KafkaLatency = lat(&probe)
	rep.LoadAvg = append(rep.LoadAvg, loadAvg())
	rep.Server = benchProc{PID: pid, CPUSeconds: round((srv1.CPU - srv0.CPU).Seconds(), 2),
		Cores:       round((srv1.CPU-srv0.CPU).Seconds()/elapsed.Seconds(), 3),
		RSSBeforeKB: before.RSS >> 10, RSSConnectedKB: connected.RSS >> 10, RSSAfterKB: after.RSS >> 10,
		Threads: after.Threads}
	if res.Connected > 0 {
		rep.Server.RSSPerConnKB = round(float64(connected.RSS-before.RSS)/1024/float64(res.Connected), 2)
	}
	if !rep.InProcess {
		rep.Client = benchProc{CPUSeconds: round((self1.CPU - self0.CPU).Seconds(), 2),
			Cores: round((self1.CPU-self0.CPU).Seconds()/elapsed.Seconds(), 3)}
	}
	if res.Events > 0 {
		rep.Server.USPerDelivery = round(float64((srv1.CPU-srv0.CPU).Microseconds())/float64(res.Events), 3)
	}
	if c.reference {
		rr, err := runReference(ctx, c, universe)
		if err != nil {
			return err
		}
		if rr.USPerDelivery > 0 {
			rr.RatioNodeToRef = round(rep.Server.USPerDelivery/rr.USPerDelivery, 2)
		}
		rep.Reference = &rr
		rep.LoadAvg = append(rep.LoadAvg, loadAvg())
	}
	line, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, string(line))
	return nil
}

// kafkaProbe reads the topic the node reads, partition by partition from
// its end as the node does, and records each quote's latency from ts
// while on.
func kafkaProbe(ctx context.Context, c benchConfig, brokers []string, h *bench.Histogram, on *atomic.Bool) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.names.quotes}})
	if err != nil || len(meta.Topics) != 1 {
		return
	}
	var wg sync.WaitGroup
	for _, part := range meta.Topics[0].Partitions {
		wg.Go(func() {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: c.names.quotes, Partition: part.ID,
				MinBytes: 1, MaxBytes: 8 << 20, MaxWait: stream.DefaultMaxWait, ReadBackoffMin: 50 * time.Millisecond})
			defer r.Close()
			if r.SetOffset(kafka.LastOffset) != nil {
				return
			}
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				if !on.Load() {
					continue
				}
				if q, err := tape.ParseQuote(m.Value); err == nil {
					h.Record(now.Sub(q.Time))
				}
			}
		})
	}
	wg.Wait()
}

func loadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// startBenchNode runs a web node (and for --via raw an ingester) in this
// process and returns its base URL.
func startBenchNode(ctx context.Context, c benchConfig, brokers []string, env environ, log *slog.Logger, done chan error, n *int) (string, error) {
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	err := ensureTopics(tctx, brokers, topicsConfig{names: c.names, partitions: 6, rawPartitions: 6, replication: 1}, io.Discard)
	tcancel()
	if err != nil {
		return "", err
	}
	if c.pprofAddr != "" {
		ln, err := net.Listen("tcp", c.pprofAddr)
		if err != nil {
			return "", err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		context.AfterFunc(ctx, func() { srv.Close() })
		fmt.Fprintf(env.stderr, "bench: pprof on http://%s/debug/pprof/\n", ln.Addr())
	}
	id := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1_000_000_000)
	addr := make(chan string, 1)
	// The node's defaults are serve's, from its own flags.
	var nc nodeConfig
	nfs := flag.NewFlagSet("serve", flag.ContinueOnError)
	nc.register(nfs)
	if err := nfs.Parse(nil); err != nil {
		return "", err
	}
	nc.brokers, nc.names, nc.addr, nc.nodeID, nc.logLevel = c.brokers, c.names, "127.0.0.1:0", id, "warn"
	nc.drain = 0 // the streams are the bench's own: no need to spread their closing
	nc.heartbeat = 15 * time.Second
	nc.hub.MaxSubscribers = max(stream.DefaultMaxSubscribers, c.subscribers+16)
	nc.perIP = c.subscribers + 16 // every stream comes from this one address
	nc.opens = 1_000_000          // and opens in one burst
	nc.unknown = true
	nenv := env
	nenv.ready = func(name, a string) {
		if name == "http" {
			addr <- a
		}
	}
	*n++
	go func() { done <- serveNode(ctx, nc, nenv, log) }()
	if c.via == "raw" {
		*n++
		ic := ingestConfig{brokers: c.brokers, names: c.names, group: "tape-ingest-" + id, logLevel: "warn"}
		go func() { done <- runIngester(ctx, ic, env, log) }()
	}
	select {
	case a := <-addr:
		return "http://" + a, nil
	case err := <-done:
		*n--
		return "", fmt.Errorf("bench: node: %w", err)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func targetPID(c benchConfig) (int, error) {
	if c.serverPID > 0 {
		return c.serverPID, nil
	}
	u, err := url.Parse(c.target)
	if err != nil || u.Port() == "" {
		return 0, fmt.Errorf("bench: --target %q: want http://host:port", c.target)
	}
	port, _ := strconv.Atoi(u.Port())
	return bench.ListeningPID(port)
}

func waitNodeReady(ctx context.Context, base string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(res.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s/readyz: %v", base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// benchProducer produces quotes round-robin over the universe at a steady
// rate, each carrying its symbol's next sequence number in bid_size and
// the produce time in ts.
type benchProducer struct {
	c        benchConfig
	w        *kafka.Writer
	universe []string
	seq      []int64
	base     int64
	sent     int64
	written  atomic.Int64 // sent and acknowledged, for readers on other goroutines
}

func newBenchProducer(c benchConfig, brokers []string, universe []string, base int64) *benchProducer {
	topic := c.names.quotes
	if c.via == "raw" {
		topic = c.names.raw
	}
	return &benchProducer{c: c, universe: universe, base: base, seq: make([]int64, len(universe)),
		w: &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.CRC32Balancer{},
			RequiredAcks: kafka.RequireOne, BatchTimeout: time.Millisecond, BatchSize: 1000,
			Transport: &kafka.Transport{}}}
}

// seed produces one quote per symbol and waits until the node knows them all.
func (p *benchProducer) seed(ctx context.Context, target string) error {
	var batch []kafka.Message
	for i := range p.universe {
		batch = append(batch, p.message(i, p.base, time.Now()))
		if len(batch) == 1000 || i == len(p.universe)-1 {
			if err := p.w.WriteMessages(ctx, batch...); err != nil {
				return fmt.Errorf("bench: produce: %w", err)
			}
			batch = batch[:0]
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for lo := 0; lo < len(p.universe); {
		hi := min(lo+100, len(p.universe))
		res, err := http.Get(target + "/api/quotes?symbols=" + strings.Join(p.universe[lo:hi], ","))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				lo = hi
				continue
			}
			err = errors.New(res.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the node did not see the seeded symbols: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// message returns the quote numbered seq for symbol i, stamped now.
func (p *benchProducer) message(i int, seq int64, now time.Time) kafka.Message {
	sym := p.universe[i]
	cents := 10000 + seq%100
	if p.c.via == "raw" {
		return kafka.Message{Key: []byte(sym), Headers: []kafka.Header{{Key: "format", Value: []byte("polygon")}},
			Value: fmt.Appendf(nil, `{"ev":"Q","sym":"%s","bp":%d.%02d,"bs":%d,"ap":%d.%02d,"as":1,"t":%d}`,
				sym, cents/100, cents%100, seq, cents/100+1, cents%100, now.UnixNano())}
	}
	ev := tape.Event{Symbol: tape.Symbol(sym), Kind: tape.KindQuote, Sides: tape.BothSides,
		Bid: tape.Price(cents * 1_000_000), Ask: tape.Price((cents + 100) * 1_000_000),
		BidSize: tape.Size(seq) * 100_000_000, AskSize: 100_000_000, Time: now, Source: "bench"}
	return kafka.Message{Key: []byte(sym), Value: ev.AppendJSON(nil)}
}

// benchEpochMilli (2025-10-09) is where the producer's numbering starts.
const benchEpochMilli = 1_760_000_000_000

// benchTick is how often the producer sends what has come due.
const benchTick = time.Millisecond

func (p *benchProducer) run(ctx context.Context) error {
	defer p.w.Close()
	start := time.Now()
	var batch []kafka.Message
	for {
		due := int64(time.Since(start).Seconds() * p.c.rate)
		batch = batch[:0]
		for ; p.sent < due && len(batch) < p.w.BatchSize; p.sent++ {
			i := int(p.sent % int64(len(p.universe)))
			p.seq[i]++
			batch = append(batch, p.message(i, p.base+p.seq[i], time.Now()))
		}
		if len(batch) > 0 {
			// Not ctx: a produce cut short would leave numbers unsent that
			// clients then count as gaps.
			wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := p.w.WriteMessages(wctx, batch...)
			cancel()
			if err != nil {
				return err
			}
			p.written.Store(p.sent)
		}
		next := start.Add(time.Duration(float64(p.sent+1) / p.c.rate * float64(time.Second)))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(time.Until(next), benchTick)):
		}
	}
}

// last returns the last sequence number sent per symbol.
func (p *benchProducer) last() map[string]int64 {
	out := make(map[string]int64, len(p.universe))
	for i, sym := range p.universe {
		out[sym] = p.base + p.seq[i]
	}
	return out
}

// streamQuery is what the stream URLs add for --encoding and --max-rate.
func streamQuery(c benchConfig) string {
	q := "&encoding=" + c.encoding
	if c.maxRate > 0 {
		q += "&max_rate=" + strconv.FormatFloat(c.maxRate, 'g', -1, 64)
	}
	return q
}
