package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"tape"
	"tape/feed"
	"tape/ingest"
	"tape/replay"
	"tape/stream"
)

// demoFeed is the bundled recording the demo replays.
const demoFeed = "testdata/feeds/session.polygon.jsonl.gz"

func runDemo(ctx context.Context, args []string, env environ) error {
	fs := flagSet("demo", "Run everything in one process on an embedded Kafka-protocol broker: topics, an ingester, a web node and a looping replay of the bundled feed, or with --file one replay of a recording as it was recorded. No Java, no Docker, no network.", env)
	kafkaAddr := fs.String("kafka-addr", "127.0.0.1:19092", "where the embedded broker listens, for more tape processes, kcat or any Kafka client")
	speed := speedValue{1}
	fs.Var(&speed, "speed", "replay pace: 1 is real time, 10 ten times faster, max as fast as the broker takes it")
	file := fs.String("file", "", "play this recording once (any format tape replay reads, plain or gzip) instead of looping the bundled feed; its times are kept, so the pages show that session and its trading day")
	format := fs.String("format", "", "format of --file's lines (default from the file name, or else from the first line): "+strings.Join(ingest.Formats(), ", "))
	var from, to timeValue
	fs.Var(&from, "from", "with --file, play only messages stamped at or after this RFC 3339 time")
	fs.Var(&to, "to", "with --file, play only messages stamped before this RFC 3339 time")
	partitions := fs.Int("partitions", 3, "partitions of each topic")
	var node nodeConfig
	node.register(fs)
	if err := parse(fs, args, env); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["drain"] && env.getenv("TAPE_DRAIN") == "" {
		node.drain = 0 // a lone node: there is nowhere else to spread clients to
	}
	if !set["reject-unknown"] && env.getenv("TAPE_REJECT_UNKNOWN") == "" {
		node.unknown = false // the replay has not sent every symbol yet at start
	}
	log, err := newLogger(env.stderr, node.logLevel)
	if err != nil {
		return err
	}
	// Check every setting before anything starts.
	if *partitions < 1 || *partitions > stream.MaxPartitions {
		return fmt.Errorf("--partitions is %d, want 1 to %d", *partitions, stream.MaxPartitions)
	}
	if _, err := parseSymbols(node.watchlist); err != nil {
		return fmt.Errorf("--watchlist: %w", err)
	}
	if err := node.validate(); err != nil {
		return err
	}
	if *file == "" && (*format != "" || !from.t.IsZero() || !to.t.IsZero()) {
		return errors.New("--format, --from and --to go with --file")
	}
	if *file != "" {
		if st, err := os.Stat(*file); err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("--file %s: not a readable file", *file)
		}
		if *format != "" {
			if _, ok := ingest.Lookup(*format); !ok {
				return fmt.Errorf("--format %q is unknown (known: %s)", *format, strings.Join(ingest.Formats(), ", "))
			}
		}
		if !from.t.IsZero() && !to.t.IsZero() && !from.t.Before(to.t) {
			return errors.New("--from must be before --to")
		}
	}
	ln, err := net.Listen("tcp", *kafkaAddr)
	if err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		// A new id each run: resume tokens name the cluster, so a page
		// left open from an earlier run gets a snapshot, not that run's
		// offsets replayed against this one's.
		kfake.ClusterID(fmt.Sprintf("tape-demo-%d", time.Now().UnixNano())),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
	)
	if err != nil {
		ln.Close()
		return fmt.Errorf("embedded broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	fmt.Fprintf(env.stdout, "tape demo: embedded Kafka broker on %s (join with: tape serve --brokers %s --addr :8081)\n", brokers[0], brokers[0])
	if env.ready != nil {
		env.ready("kafka", brokers[0])
	}

	names := topicNames{tape.TopicRaw, tape.TopicQuotes, tape.TopicLatest, tape.TopicDLQ, tape.TopicEvents, tape.TopicNodes}
	if err := ensureTopics(ctx, brokers, topicsConfig{names: names, partitions: *partitions, rawPartitions: *partitions, replication: 1}, io.Discard); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Go(func() {
		c := ingestConfig{brokers: strings.Join(brokers, ","), names: names, group: ingest.DefaultGroup, maxFuture: ingest.DefaultMaxFuture}
		errs <- runIngester(ctx, c, environ{stdout: io.Discard, stderr: env.stderr, getenv: env.getenv}, log.With("part", "ingest"))
	})
	node.brokers, node.names = strings.Join(brokers, ","), names
	nodeEnv := env
	nodeEnv.ready = func(name, addr string) {
		fmt.Fprintf(env.stdout, "tape demo: dashboard at http://%s/\n", browsable(addr))
		if env.ready != nil {
			env.ready(name, addr)
		}
	}
	wg.Go(func() { errs <- serveNode(ctx, node, nodeEnv, log.With("part", "web")) })
	if *file == "" {
		wg.Go(func() {
			_, err := replay.Run(ctx, replay.Config{
				Brokers: brokers, Topic: names.raw, Speed: speed.v, Loop: true,
				FS: tape.Feeds, Stamp: stampOf, Rewrite: newTimeRewriter().rewrite, Logger: log,
			}, demoFeed)
			errs <- err
		})
	} else {
		// The recording plays once, as recorded: nothing else is on the
		// embedded broker, so its session is what the pages show. The
		// replay announces its progress on the heartbeat topic, which
		// every web node shows (/api/cluster, /cluster).
		follow := newReplayProgress(ctx, *file, *format, speed.v, to.t)
		played := make(chan struct{})
		wg.Go(func() {
			defer close(played)
			sum, err := replay.Run(ctx, replay.Config{
				Brokers: brokers, Topic: names.raw, Format: *format, Speed: speed.v, From: from.t, To: to.t,
				Stamp: stampOf, Sniff: ingest.Sniff, Logger: log,
				Progress: follow.update, ProgressEvery: 500 * time.Millisecond,
			}, *file)
			if err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("replay %s: %w", *file, err)
				return
			}
			if ctx.Err() == nil {
				fmt.Fprintf(env.stdout, "tape demo: played %s: %d messages in %s; the pages stay up until stopped\n", *file, sum.Messages, sum.Wall.Round(time.Millisecond))
			}
		})
		wg.Go(func() { announceReplay(ctx, brokers, names.nodes, *file, follow, played, log) })
	}

	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
	}
	cancel()
	wg.Wait()
	if first != nil && !errors.Is(first, context.Canceled) {
		return first
	}
	return nil
}

// timeRewriter moves a one-event message's timestamp by a shift,
// re-encoding it in its own format, so that a recorded session reads as
// live. Its encoders live as long as it does: every trade it writes gets
// a trade id of its own, so a session played again (a loop, a shifted
// copy) is new trades, not repeats of the first pass that the fold would
// drop. Safe for concurrent use.
type timeRewriter struct {
	mu   sync.Mutex
	encs map[string]*feed.Encoder
}

func newTimeRewriter() *timeRewriter { return &timeRewriter{encs: map[string]*feed.Encoder{}} }

// rewrite is a replay.Config.Rewrite.
func (r *timeRewriter) rewrite(format string, msg []byte, shift time.Duration) ([]byte, error) {
	f, ok := ingest.Lookup(format)
	if !ok {
		return nil, fmt.Errorf("unknown format %q", format)
	}
	evs, rejects := f.Normalize(nil, msg)
	if len(evs) != 1 || len(rejects) != 0 {
		return nil, errors.New("not a single event")
	}
	ev := evs[0]
	ev.Time = ev.Time.Add(shift)
	ev.TradeID = tape.TradeID{} // the encoder numbers it afresh
	r.mu.Lock()
	defer r.mu.Unlock()
	enc := r.encs[format]
	if enc == nil {
		var err error
		if enc, err = feed.NewEncoder(format); err != nil {
			return nil, err
		}
		r.encs[format] = enc
	}
	return enc.Append(nil, ev)
}

// browsable turns a listen address such as "[::]:8080" into one a browser
// can open.
func browsable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
