package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/feed"
	"tape/replay"
)

// feedFlushInterval is how often a live feed produces what has come due:
// often enough that quotes leave within a few milliseconds of their
// timestamps, seldom enough that each produce round trip carries several
// messages at high rates.
const feedFlushInterval = 5 * time.Millisecond

// feedMaxBatch bounds the messages produced in one request, so that a
// feed that fell behind (a slow broker) catches up in steps instead of
// holding a backlog in memory.
const feedMaxBatch = 2 * replay.DefaultBatchSize

// feedDrainTimeout is how long a stopped live feed still waits for the
// produce request in flight, so that what was recorded was also sent.
const feedDrainTimeout = 2 * time.Second

// feedCheckEvery is how many events an unpaced (--no-kafka) run generates
// between looks at whether it was stopped.
const feedCheckEvery = 4096

func runFeed(ctx context.Context, args []string, env environ) error {
	fs := flagSet("feed", "A synthetic live feed adapter: a random-walk market of real-looking symbols, produced to the raw topic in a vendor's format at a steady rate. The same --seed gives the same market.", env)
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	topic := fs.String("topic-raw", tape.TopicRaw, "topic to produce to")
	symbols := fs.String("symbols", strconv.Itoa(feed.DefaultNumSymbols), "how many symbols (taken from a built-in list of tickers, crypto and FX), or a comma-separated list of them")
	rate := fs.Float64("rate", feed.DefaultRate, "messages a second over all symbols (with --format finnhub only the trades among them are sent)")
	format := fs.String("format", tape.FormatPolygon, "message format: "+strings.Join(feed.Formats(), ", "))
	seed := fs.Int64("seed", 1, "random seed; the same seed gives the same market")
	tradeRatio := fs.Float64("trade-ratio", feed.DefaultTradeRatio, "share of messages that are trades")
	start := fs.String("start", "", "time of the session's start, RFC 3339 (default now)")
	duration := fs.Duration("duration", 0, "stop after this much feed time (0: until stopped)")
	record := fs.String("record", "", "also write every message as one line to this file (gzip if it ends in .gz; - for standard output)")
	noKafka := fs.Bool("no-kafka", false, "only --record, as fast as possible; event times still advance at --rate")
	burst := fs.Float64("open-burst", 0, "at the start, this many times --rate, fading to --rate (the rush at the open; 0: steady)")
	burstDecay := fs.Duration("burst-decay", feed.DefaultBurstDecay, "time constant of the --open-burst fade")
	halts := fs.String("halt", "", "trading halts, comma-separated SYMBOL@OFFSET+DURATION from the start, as GME@12m+5m")
	malformed := fs.Int("malformed-every", 0, "damage every Nth message (N, 2N, ...: cut short or prefixed with junk), to test bad input (0: none)")
	history := fs.String("history-file", "", "instead of a synthetic market, convert this table of real prices (vega-datasets CSV: sp500-2000.csv, stocks.csv, sp500.csv) into --record, in --format; sends nothing")
	historySymbol := fs.String("history-symbol", "SPX", "symbol of a --history-file table without a symbol column")
	if err := parse(fs, args, env); err != nil {
		return err
	}
	if *history != "" {
		return convertHistory(*history, *historySymbol, *format, *record, env)
	}

	cfg := feed.Config{Rate: *rate, Seed: *seed, TradeRatio: *tradeRatio, Start: time.Now(), OpenBurst: *burst, BurstDecay: *burstDecay}
	if *malformed < 0 {
		return fmt.Errorf("feed: --malformed-every must not be negative")
	}
	if n, err := strconv.Atoi(strings.TrimSpace(*symbols)); err == nil {
		if n <= 0 {
			return fmt.Errorf("feed: --symbols must be a positive number or a list of symbols")
		}
		cfg.NumSymbols = n
	} else {
		for _, s := range strings.Split(*symbols, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cfg.Symbols = append(cfg.Symbols, s)
			}
		}
	}
	if *start != "" {
		t, err := time.Parse(time.RFC3339Nano, *start)
		if err != nil {
			return fmt.Errorf("feed: --start %q: want an RFC 3339 time such as 2026-11-20T14:30:00Z", *start)
		}
		cfg.Start = t
	}
	if *halts != "" {
		for _, h := range strings.Split(*halts, ",") {
			halt, err := parseHalt(strings.TrimSpace(h), cfg.Start)
			if err != nil {
				return err
			}
			cfg.Halts = append(cfg.Halts, halt)
		}
	}
	if *duration < 0 {
		return fmt.Errorf("feed: --duration must not be negative")
	}
	if *noKafka && (*record == "" || *duration == 0) {
		return fmt.Errorf("feed: --no-kafka needs --record FILE and a --duration")
	}
	gen, err := feed.New(cfg)
	if err != nil {
		return err
	}
	enc, err := feed.NewEncoder(*format)
	if err != nil {
		return err
	}
	var bl []string
	if !*noKafka {
		if bl, err = brokerList(*brokers); err != nil {
			return err
		}
	}

	src := &feedSource{gen: gen, enc: enc, topic: *topic, start: cfg.Start.UTC(), malformEvery: int64(*malformed), warn: env.stderr}
	src.at = src.start
	src.next = gen.Next()
	if *duration > 0 {
		src.end = src.start.Add(*duration)
	}
	summary := env.stdout
	if *record != "" {
		rec, err := createRecording(*record, env.stdout)
		if err != nil {
			return err
		}
		if *record == "-" {
			summary = env.stderr // stdout carries the messages
		}
		src.rec = rec
		defer rec.Close() // after an error; the happy path checks Close's error
	}

	began := time.Now()
	if *noKafka {
		err = src.unpaced(ctx)
	} else {
		fmt.Fprintf(env.stderr, "tape feed: %s messages for %d symbols (%s) to %s at %s, %g a second; Ctrl-C stops\n",
			*format, len(gen.Symbols()), symbolSummary(gen.Symbols()), *topic, strings.Join(bl, ","), cfg.Rate)
		w := replay.NewWriter(bl)
		err = src.live(ctx, w, began)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if src.rec != nil {
		if cerr := src.rec.Close(); err == nil {
			err = cerr
		}
	}
	if words := kafkaWords(err, bl); words != err && src.sent == 0 {
		// Nothing reached the broker: a summary of zeros would only hide
		// the cause.
		return words
	}
	wall := time.Since(began)
	fmt.Fprintf(summary, "tape feed: %d %s messages in %s (%.0f msg/s), %s of feed time from %s",
		src.sent, *format, wall.Round(time.Millisecond), float64(src.sent)/max(wall.Seconds(), 1e-9),
		src.at.Sub(src.start).Round(time.Millisecond), src.start.Format(time.RFC3339))
	if src.skipped > 0 {
		fmt.Fprintf(summary, "; %d quotes not sent (%s carries trades only)", src.skipped, *format)
	}
	fmt.Fprintln(summary)
	return kafkaWords(err, bl)
}

// feedSource turns generated events into messages as they come due.
type feedSource struct {
	gen   *feed.Generator
	enc   *feed.Encoder
	rec   *recording // nil when not recording
	warn  io.Writer  // where a broker outage is said
	topic string
	start time.Time
	end   time.Time  // zero: no end
	next  tape.Event // generated, not yet due
	at    time.Time  // feed time reached: the last event taken

	buf           []byte
	batch         []kafka.Message
	sent, skipped int64
	malformEvery  int64 // damage every Nth message; 0: none
	messages      int64 // encoded so far, the line number of a recording
}

// due encodes the events stamped up to until, into at most limit
// messages, and appends those to the batch (when batch is true) and the
// recording. done reports that until has passed the end of the session.
func (s *feedSource) due(until time.Time, limit int, batch bool) (done bool, err error) {
	for n := 0; n < limit; {
		ev := s.next
		if !s.end.IsZero() && !ev.Time.Before(s.end) {
			if until.Before(s.end) {
				return false, nil
			}
			s.at = s.end
			return true, nil
		}
		if ev.Time.After(until) {
			return false, nil
		}
		s.next = s.gen.Next()
		s.at = ev.Time
		s.buf, err = s.enc.Append(s.buf[:0], ev)
		if errors.Is(err, feed.ErrUnsupported) {
			s.skipped++
			continue
		}
		if err != nil {
			return true, err
		}
		s.messages++
		if s.malformEvery > 0 && s.messages%s.malformEvery == 0 {
			s.buf = feed.Malform(s.buf, int(s.messages/s.malformEvery))
		}
		if s.rec != nil {
			if err := s.rec.line(s.buf); err != nil {
				return true, err
			}
		}
		if batch {
			s.batch = append(s.batch, kafka.Message{
				Topic:   s.topic,
				Key:     []byte(ev.Symbol),
				Value:   bytes.Clone(s.buf),
				Headers: []kafka.Header{{Key: tape.HeaderFormat, Value: []byte(s.enc.Format())}},
			})
		} else {
			s.sent++
		}
		n++
	}
	return false, nil
}

// unpaced generates the whole session as fast as it can, for recordings.
func (s *feedSource) unpaced(ctx context.Context) error {
	for {
		done, err := s.due(s.end, feedCheckEvery, false)
		if done || err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil // stopped: what was recorded stays a valid recording
		}
	}
}

// live produces events in real time: feed time runs from start at the
// wall clock's pace since began. Every few milliseconds, what has come
// due goes out in one produce request, which waits for every in-sync
// replica.
// feedRetryMax bounds the wait between two attempts to write a batch
// while the broker is away.
const feedRetryMax = 5 * time.Second

// write produces the batch. Once the feed has sent anything, a failure
// (the broker went away) is retried with backoff until it lands or ctx
// ends, said once on warn: like any adapter, the feed rides out an
// outage. A batch that landed but whose acknowledgement was lost lands
// twice, byte for byte; the fold counts its trades once. A feed that has
// never reached the broker fails at once.
func (s *feedSource) write(ctx, wctx context.Context, w *kafka.Writer) error {
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := w.WriteMessages(wctx, s.batch...)
		if err == nil {
			if attempt > 0 && s.warn != nil {
				fmt.Fprintf(s.warn, "tape feed: the broker answers again after %d attempts\n", attempt+1)
			}
			return nil
		}
		if s.sent == 0 || ctx.Err() != nil {
			return fmt.Errorf("feed: produce: %w", err)
		}
		if attempt == 0 && s.warn != nil {
			fmt.Fprintf(s.warn, "tape feed: cannot produce (%v); retrying until the broker answers\n", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("feed: produce: %w", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, feedRetryMax)
	}
}

func (s *feedSource) live(ctx context.Context, w *kafka.Writer, began time.Time) error {
	tick := time.NewTicker(feedFlushInterval)
	defer tick.Stop()
	// Produce with a context that outlives ctx by feedDrainTimeout: a
	// Ctrl-C stops generating at once but lets the last batch land.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(feedDrainTimeout, cancel) })
	defer stop()
	for {
		done, err := s.due(s.start.Add(time.Since(began)), feedMaxBatch, true)
		if err != nil {
			return err
		}
		if len(s.batch) > 0 {
			if err := s.write(ctx, wctx, w); err != nil {
				return err
			}
			s.sent += int64(len(s.batch))
			full := len(s.batch) == feedMaxBatch
			clear(s.batch)
			s.batch = s.batch[:0]
			if full {
				continue // behind: no pause until caught up
			}
		}
		if done || ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// convertHistory writes a table of real prices as a recording.
func convertHistory(table, symbol, format, record string, env environ) error {
	if record == "" {
		return fmt.Errorf("feed: --history-file needs --record FILE")
	}
	f, err := os.Open(table)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	defer f.Close()
	evs, err := feed.ReadHistory(f, symbol)
	if err != nil {
		return fmt.Errorf("feed: %s: %w", table, err)
	}
	enc, err := feed.NewEncoder(format)
	if err != nil {
		return err
	}
	rec, err := createRecording(record, env.stdout)
	if err != nil {
		return err
	}
	defer rec.Close()
	var buf []byte
	for _, ev := range evs {
		if buf, err = enc.Append(buf[:0], ev); err != nil {
			return fmt.Errorf("feed: %s: %s at %s: %w", table, ev.Symbol, ev.Time.Format(time.RFC3339), err)
		}
		if err := rec.line(buf); err != nil {
			return err
		}
	}
	if err := rec.Close(); err != nil {
		return err
	}
	out := env.stdout
	if record == "-" {
		out = env.stderr
	}
	if len(evs) > 0 {
		fmt.Fprintf(out, "tape feed: %d %s trades from %s, %s to %s\n", len(evs), format, table,
			evs[0].Time.Format(time.DateOnly), evs[len(evs)-1].Time.Format(time.DateOnly))
	}
	return nil
}

// parseHalt reads SYMBOL@OFFSET+DURATION, as GME@12m+5m: a halt from
// OFFSET after start, for DURATION.
func parseHalt(s string, start time.Time) (feed.Halt, error) {
	sym, rest, ok1 := strings.Cut(s, "@")
	off, dur, ok2 := strings.Cut(rest, "+")
	o, err1 := time.ParseDuration(off)
	d, err2 := time.ParseDuration(dur)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || o < 0 || d <= 0 {
		return feed.Halt{}, fmt.Errorf("feed: --halt %q: want SYMBOL@OFFSET+DURATION, as GME@12m+5m", s)
	}
	return feed.Halt{Symbol: sym, From: start.Add(o), To: start.Add(o + d)}, nil
}

// recording is a file of one message per line, gzip-compressed when its
// name ends in .gz.
type recording struct {
	w    *bufio.Writer
	gz   *gzip.Writer // nil when not compressing
	file *os.File     // nil for standard output
	name string
	done bool
}

func createRecording(name string, stdout io.Writer) (*recording, error) {
	r := &recording{name: name}
	var out io.Writer = stdout
	if name != "-" {
		f, err := os.Create(name)
		if err != nil {
			return nil, fmt.Errorf("feed: %w", err)
		}
		r.file, out = f, f
	}
	if strings.HasSuffix(name, ".gz") {
		// A zero header (no name, no time) keeps recordings of the same
		// seed byte-identical.
		r.gz = gzip.NewWriter(out)
		out = r.gz
	}
	r.w = bufio.NewWriterSize(out, 64<<10)
	return r, nil
}

func (r *recording) line(msg []byte) error {
	_, err := r.w.Write(msg)
	if err == nil {
		err = r.w.WriteByte('\n')
	}
	if err != nil {
		return fmt.Errorf("feed: record %s: %w", r.name, err)
	}
	return nil
}

// Close flushes and closes the recording; closing again does nothing.
func (r *recording) Close() error {
	if r.done {
		return nil
	}
	r.done = true
	err := r.w.Flush()
	if r.gz != nil {
		err = errors.Join(err, r.gz.Close())
	}
	if r.file != nil {
		err = errors.Join(err, r.file.Close())
	}
	if err != nil {
		return fmt.Errorf("feed: record %s: %w", r.name, err)
	}
	return nil
}

// symbolSummary lists the first few symbols for the start-up line.
func symbolSummary(syms []tape.Symbol) string {
	const show = 8
	names := make([]string, 0, show+1)
	for i, s := range syms {
		if i == show {
			names = append(names, "...")
			break
		}
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}
