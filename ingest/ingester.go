package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// Defaults for Config.
const (
	DefaultGroup     = "tape-ingest"
	DefaultBatchSize = 1000
	DefaultMaxWait   = 500 * time.Millisecond
	DefaultMaxFuture = 5 * time.Minute
	// DefaultSessionTimeout bounds how long a dead ingester's partitions
	// wait before another takes them over.
	DefaultSessionTimeout = 10 * time.Second
)

// Config configures an Ingester. Zero fields take the defaults.
type Config struct {
	Brokers     []string
	RawTopic    string
	QuotesTopic string
	LatestTopic string
	DLQTopic    string
	Group       string
	BatchSize   int
	MaxWait     time.Duration
	// MaxFuture rejects events stamped further ahead of this machine's clock.
	MaxFuture time.Duration
	// MaxAge, if set, rejects events older than this; replays of recorded
	// sessions are historical, so by default any age is accepted.
	MaxAge time.Duration
	// SessionTimeout is how long the group waits for a silent member
	// before giving its partitions to another ingester.
	SessionTimeout time.Duration
	// Seed returns the last quote of every symbol (from quotes.latest), so
	// that day volume and statistics continue across restarts.
	Seed   func(ctx context.Context) ([]tape.Quote, error)
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	str := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	str(&c.RawTopic, tape.TopicRaw)
	str(&c.QuotesTopic, tape.TopicQuotes)
	str(&c.LatestTopic, tape.TopicLatest)
	str(&c.DLQTopic, tape.TopicDLQ)
	str(&c.Group, DefaultGroup)
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = DefaultMaxFuture
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("ingest: no brokers")
	case c.BatchSize < 0, c.MaxFuture < 0, c.MaxAge < 0:
		return errors.New("ingest: limits must not be negative")
	}
	return nil
}

// Ingester consumes raw feed messages in the consumer group, normalises
// them, produces events to the quotes topic and last values to the latest
// topic, and dead-letters what it cannot accept. It commits a raw offset
// only after everything produced from it is acknowledged by all in-sync
// replicas, so a crash repeats work and never loses it; repeats carry the
// same origin ids and are dropped downstream.
//
// Run is not safe to call concurrently; Stats and WriteMetrics are.
type Ingester struct {
	cfg Config

	// state is the fold per symbol as this ingester has built it, for the
	// last values it produces. Only Run's goroutine touches it.
	state map[tape.Symbol]*tape.Fold

	raw, events, batches, retries atomic.Int64
	mu                            sync.Mutex // guards rejected
	rejected                      map[string]int64
}

// New returns an ingester for cfg.
func New(cfg Config) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Ingester{
		cfg:      cfg.withDefaults(),
		state:    make(map[tape.Symbol]*tape.Fold),
		rejected: make(map[string]int64),
	}, nil
}

// Run ingests until ctx ends. It returns nil on cancellation.
func (in *Ingester) Run(ctx context.Context) error {
	cfg := in.cfg
	if cfg.Seed != nil {
		quotes, err := cfg.Seed(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ingest: load last values: %w", err)
		}
		_ = quotes // a quote cannot restore a fold; the fold stage will own this
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.Group,
		Topic:             cfg.RawTopic,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           cfg.MaxWait,
		StartOffset:       kafka.FirstOffset, // a new group reads everything: nothing lost
		CommitInterval:    0,                 // CommitMessages commits synchronously, after produce
		HeartbeatInterval: min(3*time.Second, cfg.SessionTimeout/3),
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  30 * time.Second,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
		QueueCapacity:     cfg.BatchSize,
	})
	defer r.Close()
	w := &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...),
		// CRC32 is librdkafka's (and kcat's) partitioner, so a symbol lands
		// on the same partition whoever produces it.
		Balancer:     &kafka.CRC32Balancer{},
		RequiredAcks: kafka.RequireAll,
		// Each WriteMessages call is a whole batch already; the writer's own
		// linger only adds latency.
		BatchTimeout: 100 * time.Microsecond,
		BatchSize:    cfg.BatchSize,
		BatchBytes:   16 << 20,
		MaxAttempts:  5,
		// Its own transport: the shared default caches topic metadata.
		Transport: &kafka.Transport{},
	}
	defer w.Close()

	msgs := make(chan kafka.Message, cfg.BatchSize)
	fetchErr := make(chan error, 1)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		defer close(msgs)
		for {
			m, err := r.FetchMessage(fctx)
			if err != nil {
				fetchErr <- err
				return
			}
			msgs <- m
		}
	}()

	// Commits run beside the loop: a batch's offsets are handed over only
	// after its output is acknowledged, and the committer coalesces them,
	// so the next batch is produced while the last one is committed.
	commits := make(chan []kafka.Message, 64)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		in.commitLoop(r, commits)
	}()
	defer func() { close(commits); <-committed }()

	batch := make([]kafka.Message, 0, cfg.BatchSize)
	for {
		m, ok := <-msgs
		if !ok {
			if err := <-fetchErr; ctx.Err() == nil {
				return fmt.Errorf("ingest: fetch: %w", err)
			}
			return nil
		}
		batch = append(batch[:0], m)
		batch = gather(batch, msgs, cfg.BatchSize)
		out := in.process(batch)
		if err := in.produce(ctx, w, out); err != nil {
			return nil // cancelled: the batch is not committed and will be repeated
		}
		commits <- lastPerPartition(batch)
		in.batches.Add(1)
	}
}

// batchLinger is how long the loop waits to fill a batch when messages
// are arriving back to back: a little latency for far fewer produce round
// trips under load. A lone message does not wait.
const batchLinger = time.Millisecond

// gather appends what msgs holds to batch, up to limit. When messages are
// arriving back to back it lingers a moment for more.
func gather(batch []kafka.Message, msgs <-chan kafka.Message, limit int) []kafka.Message {
	for waiting := true; waiting && len(batch) < limit; {
		select {
		case m, ok := <-msgs:
			if !ok {
				return batch
			}
			batch = append(batch, m)
		default:
			waiting = false
		}
	}
	if len(batch) < 2 || len(batch) >= limit {
		return batch
	}
	t := time.NewTimer(batchLinger)
	defer t.Stop()
	for len(batch) < limit {
		select {
		case m, ok := <-msgs:
			if !ok {
				return batch
			}
			batch = append(batch, m)
		case <-t.C:
			return batch
		}
	}
	return batch
}

// lastPerPartition returns the newest message of each partition in batch,
// which is all a commit needs.
func lastPerPartition(batch []kafka.Message) []kafka.Message {
	var out []kafka.Message
	for i := len(batch) - 1; i >= 0; i-- {
		seen := false
		for _, m := range out {
			if m.Partition == batch[i].Partition && m.Topic == batch[i].Topic {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, batch[i])
		}
	}
	return out
}

// commitLoop commits the offsets it is handed, coalescing whatever queued
// up while the previous commit was in flight. It runs until commits is
// closed; a failed commit is covered by the next one, and a crash before
// it repeats those messages, which is safe.
func (in *Ingester) commitLoop(r *kafka.Reader, commits <-chan []kafka.Message) {
	ctx := context.Background()
	for first := range commits {
		pending := append([]kafka.Message(nil), first...)
	more:
		for {
			select {
			case next, ok := <-commits:
				if !ok {
					break more
				}
				pending = append(pending, next...)
			default:
				break more
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := r.CommitMessages(cctx, pending...); err != nil {
			in.cfg.Logger.Warn("ingest: commit", "err", err)
		}
		cancel()
	}
}

// produce writes out, retrying until it is acknowledged or ctx ends.
func (in *Ingester) produce(ctx context.Context, w *kafka.Writer, out []kafka.Message) error {
	backoff := 100 * time.Millisecond
	for {
		err := w.WriteMessages(ctx, out...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		in.retries.Add(1)
		in.cfg.Logger.Warn("ingest: produce failed, retrying", "messages", len(out), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// process normalises a batch of raw messages into the messages to produce.
func (in *Ingester) process(batch []kafka.Message) []kafka.Message {
	cfg := in.cfg
	now := time.Now()
	var out []kafka.Message
	latest := make(map[tape.Symbol]*tape.Quote)
	var events []tape.Event
	for _, m := range batch {
		in.raw.Add(1)
		name := header(m, tape.HeaderFormat)
		if name == "" {
			name = Sniff(m.Value)
		}
		f, ok := Lookup(name)
		if !ok {
			out = append(out, in.deadLetter(m, name, Reject{Index: -1, Err: tape.Errorf(tape.ECodeFormat, "unknown format %.32q", name)}))
			continue
		}
		var rejects []Reject
		events, rejects = f.Normalize(events[:0], m.Value)
		for _, rj := range rejects {
			out = append(out, in.deadLetter(m, name, rj))
		}
		for i := range events {
			ev := &events[i]
			if err := in.checkTime(ev.Time, now); err != nil {
				out = append(out, in.deadLetter(m, name, Reject{Index: i, Err: err}))
				continue
			}
			ev.Origin = string(tape.AppendOrigin(nil, m.Topic, m.Partition, m.Offset, i))
			q := in.apply(ev)
			latest[ev.Symbol] = q
			in.events.Add(1)
			out = append(out, kafka.Message{Topic: cfg.QuotesTopic, Key: []byte(ev.Symbol), Value: ev.AppendJSON(nil)})
		}
	}
	syms := make([]tape.Symbol, 0, len(latest))
	for s := range latest {
		syms = append(syms, s)
	}
	slices.Sort(syms)
	for _, s := range syms {
		out = append(out, kafka.Message{Topic: cfg.LatestTopic, Key: []byte(s), Value: latest[s].AppendJSON(nil)})
	}
	return out
}

// apply folds ev into the ingester's state. A repeated trade is dropped
// by its id.
func (in *Ingester) apply(ev *tape.Event) *tape.Quote {
	f := in.state[ev.Symbol]
	if f == nil {
		f = tape.NewFold(ev.Symbol)
		in.state[ev.Symbol] = f
	}
	f.Apply(ev, tape.NoSeq)
	q := f.Quote()
	return &q
}

func (in *Ingester) checkTime(t, now time.Time) error {
	if t.After(now.Add(in.cfg.MaxFuture)) {
		return tape.Errorf(tape.ECodeTime, "timestamp more than %s in the future", in.cfg.MaxFuture)
	}
	if in.cfg.MaxAge > 0 && t.Before(now.Add(-in.cfg.MaxAge)) {
		return tape.Errorf(tape.ECodeTime, "timestamp older than %s", in.cfg.MaxAge)
	}
	if t.Year() < 1970 {
		return tape.Errorf(tape.ECodeTime, "timestamp before 1970")
	}
	return nil
}

// deadLetter builds the dead-letter message for one rejected part of m: the
// raw message as it came, with the reason and origin in headers.
func (in *Ingester) deadLetter(m kafka.Message, format string, rj Reject) kafka.Message {
	code := tape.ErrorCode(rj.Err)
	in.mu.Lock()
	in.rejected[code]++
	in.mu.Unlock()
	if len(format) > 32 {
		format = format[:32]
	}
	return kafka.Message{
		Topic: in.cfg.DLQTopic,
		Key:   m.Key,
		Value: m.Value,
		Headers: []kafka.Header{
			{Key: tape.HeaderReason, Value: []byte(code)},
			{Key: tape.HeaderError, Value: []byte(tape.ErrorMessage(rj.Err))},
			{Key: tape.HeaderFormat, Value: []byte(format)},
			{Key: tape.HeaderOriginTopic, Value: []byte(m.Topic)},
			{Key: tape.HeaderOriginPartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
			{Key: tape.HeaderOriginOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
			{Key: tape.HeaderOriginIndex, Value: strconv.AppendInt(nil, int64(rj.Index), 10)},
		},
	}
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Stats is a snapshot of an ingester's counters.
type Stats struct {
	Raw, Events, Batches, Retries int64
	Rejected                      map[string]int64 // by reason code
}

// Stats returns the ingester's counters.
func (in *Ingester) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return Stats{
		Raw: in.raw.Load(), Events: in.events.Load(), Batches: in.batches.Load(), Retries: in.retries.Load(),
		Rejected: maps.Clone(in.rejected),
	}
}

// WriteMetrics writes the ingester's counters in the Prometheus text format.
func (in *Ingester) WriteMetrics(w io.Writer) {
	s := in.Stats()
	fmt.Fprintf(w, "# HELP tape_ingest_raw_total Raw feed messages consumed.\n# TYPE tape_ingest_raw_total counter\ntape_ingest_raw_total %d\n", s.Raw)
	fmt.Fprintf(w, "# HELP tape_ingest_events_total Normalised events produced.\n# TYPE tape_ingest_events_total counter\ntape_ingest_events_total %d\n", s.Events)
	fmt.Fprintf(w, "# HELP tape_ingest_produce_retries_total Produce attempts that failed and were retried.\n# TYPE tape_ingest_produce_retries_total counter\ntape_ingest_produce_retries_total %d\n", s.Retries)
	fmt.Fprintf(w, "# HELP tape_ingest_rejected_total Inputs sent to the dead-letter topic, by reason.\n# TYPE tape_ingest_rejected_total counter\n")
	reasons := make([]string, 0, len(s.Rejected))
	for r := range s.Rejected {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "tape_ingest_rejected_total{reason=%q} %d\n", r, s.Rejected[r])
	}
}
