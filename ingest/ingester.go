package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// Defaults for Config.
const (
	DefaultGroup     = "tape-ingest"
	DefaultFoldGroup = "tape-fold"
	DefaultBatchSize = 1000
	DefaultMaxWait   = 500 * time.Millisecond
	// DefaultMaxFuture rejects events stamped more than this ahead of the
	// ingester's clock. The fold never lets an older quote replace a newer
	// book, so one event stamped minutes ahead would hold a symbol's book
	// until the clock caught up: the window is what clock skew between a
	// feed and this machine needs, not more.
	DefaultMaxFuture = 10 * time.Second
	// DefaultSessionTimeout bounds how long a dead ingester's partitions
	// wait before another takes them over: the least a default broker
	// allows (group.min.session.timeout.ms, 6 s).
	DefaultSessionTimeout = 6 * time.Second
	// DefaultStallAfter is how long a partition may fail to progress
	// before the ingester reports it and turns not ready.
	DefaultStallAfter = 30 * time.Second
	// DefaultBrokerTimeout is how long no broker may answer before the
	// ingester reports it and turns not ready.
	DefaultBrokerTimeout = 3 * time.Second
	// DefaultCheckpointInterval and DefaultCheckpointEvents bound the
	// time and the events between two checkpoints of a fold partition,
	// and so what a new owner refolds after a crash.
	DefaultCheckpointInterval = time.Second
	DefaultCheckpointEvents   = 10_000
)

// Config configures an Ingester. Zero fields take the defaults.
type Config struct {
	Brokers     []string
	RawTopic    string
	EventsTopic string
	QuotesTopic string
	LatestTopic string
	DLQTopic    string
	// Group is the normalisers' consumer group over RawTopic; FoldGroup
	// the folds' over EventsTopic.
	Group     string
	FoldGroup string
	BatchSize int
	MaxWait   time.Duration
	// MaxFuture rejects events stamped further ahead of this machine's clock.
	MaxFuture time.Duration
	// MaxAge, if set, rejects events older than this; replays of recorded
	// sessions are historical, so by default any age is accepted.
	MaxAge time.Duration
	// SessionTimeout is how long a group waits for a silent member
	// before giving its partitions to another ingester.
	SessionTimeout time.Duration
	// DLQMaxBytes is how much of a raw message a dead letter carries
	// (default DefaultDLQMaxBytes); the origin headers locate the rest.
	DLQMaxBytes int
	// MaxRequestBytes bounds one produce request (default
	// DefaultMaxRequestBytes); keep it under the broker's message.max.bytes.
	MaxRequestBytes int
	// StallAfter, BrokerTimeout: see DefaultStallAfter, DefaultBrokerTimeout.
	StallAfter    time.Duration
	BrokerTimeout time.Duration
	// CheckpointInterval and CheckpointEvents: see DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	CheckpointEvents   int
	// Latency, if set, observes for every quote the broker acknowledged
	// the seconds from its feed time to that acknowledgement (a
	// prometheus.Histogram fits). Replays of old sessions observe their age.
	Latency interface{ Observe(seconds float64) }
	Logger  *slog.Logger
}

func (c Config) withDefaults() Config {
	str := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	str(&c.RawTopic, tape.TopicRaw)
	str(&c.EventsTopic, tape.TopicEvents)
	str(&c.QuotesTopic, tape.TopicQuotes)
	str(&c.LatestTopic, tape.TopicLatest)
	str(&c.DLQTopic, tape.TopicDLQ)
	str(&c.Group, DefaultGroup)
	str(&c.FoldGroup, DefaultFoldGroup)
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.BatchSize, DefaultBatchSize)
	def(&c.DLQMaxBytes, DefaultDLQMaxBytes)
	def(&c.MaxRequestBytes, DefaultMaxRequestBytes)
	def(&c.CheckpointEvents, DefaultCheckpointEvents)
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&c.MaxWait, DefaultMaxWait)
	dur(&c.MaxFuture, DefaultMaxFuture)
	dur(&c.SessionTimeout, DefaultSessionTimeout)
	dur(&c.StallAfter, DefaultStallAfter)
	dur(&c.BrokerTimeout, DefaultBrokerTimeout)
	dur(&c.CheckpointInterval, DefaultCheckpointInterval)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// deadLetterSlack is what a dead letter may add to its raw bytes: key,
// reasons and the other headers.
const deadLetterSlack = MaxDeadLetterKey + MaxReasonsBytes + 2<<10

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("ingest: no brokers")
	case c.BatchSize < 0, c.MaxFuture < 0, c.MaxAge < 0, c.DLQMaxBytes < 0, c.MaxRequestBytes < 0,
		c.StallAfter < 0, c.BrokerTimeout < 0, c.CheckpointInterval < 0, c.CheckpointEvents < 0:
		return errors.New("ingest: limits must not be negative")
	}
	c = c.withDefaults()
	if c.DLQMaxBytes+deadLetterSlack > c.MaxRequestBytes {
		return fmt.Errorf("ingest: a dead letter of %d bytes plus headers does not fit a request of %d bytes", c.DLQMaxBytes, c.MaxRequestBytes)
	}
	return nil
}

// Ingester runs two stages, each a member of its own consumer group, so
// that ingesters started anywhere share both:
//
//   - the normaliser reads raw feed messages (Group over RawTopic),
//     turns them into events and produces them to EventsTopic keyed by
//     symbol, with one dead letter per message it could not wholly
//     accept. It keeps no state.
//   - the fold (FoldGroup over EventsTopic) owns each assigned partition:
//     it restores the state of the partition's symbols from the same
//     partition of LatestTopic, folds every event and produces the folded
//     quote to the same partition of QuotesTopic, and checkpoints to
//     LatestTopic. A symbol's day statistics thus have one owner.
//
// The normaliser commits a raw offset only after its output is
// acknowledged by all in-sync replicas; the fold checkpoints only what is
// acknowledged. A crash repeats work, with the same origin ids and fold
// positions, so downstream drops the repeats. Output the broker refuses
// for good is dead-lettered and the partition moves on; a partition that
// cannot progress for StallAfter, or brokers that do not answer, make the
// ingester not ready (Faults).
//
// Run is not safe to call concurrently; every other method is.
type Ingester struct {
	cfg    Config
	health *health

	raw, events, batches, retries                  atomic.Int64
	folded, repeats, quotes, checkpoints, restores atomic.Int64
	owned, invalid                                 atomic.Int64
	mu                                             sync.Mutex // guards rejected, rejects, accepted and refused
	rejected                                       map[string]int64
	rejects                                        map[FormatReason]int64
	accepted                                       map[string]int64 // events normalised, by format
	refused                                        map[string]int64 // records refused for good, by topic
}

// FormatReason is a format's name (or "unknown") and a reason code: the
// key of rejections counted per format.
type FormatReason struct{ Format, Reason string }

// New returns an ingester for cfg.
func New(cfg Config) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	in := &Ingester{
		cfg:      cfg,
		health:   newHealth(cfg.Logger),
		rejected: make(map[string]int64),
		rejects:  make(map[FormatReason]int64),
		accepted: make(map[string]int64),
		refused:  make(map[string]int64),
	}
	in.health.raiseLogged("starting", FaultStarting, "starting: waiting for the topics", 0, false)
	return in, nil
}

// Faults returns why the ingester is not ready; none means ready.
func (in *Ingester) Faults() []Fault { return in.health.Faults() }

// Run ingests until ctx ends. It returns nil on cancellation, and an
// error when the topics do not fit together.
func (in *Ingester) Run(ctx context.Context) error {
	cfg := in.cfg
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel, below
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { in.health.watch(ctx, cfg.Brokers, cfg.StallAfter, cfg.BrokerTimeout) })

	// One transport for every produce and metadata request: it keeps
	// connections and the cluster layout.
	transport := &kafka.Transport{MetadataTTL: 5 * time.Second}
	defer transport.CloseIdleConnections()
	meta := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: transport}
	parts, err := in.waitTopics(ctx, meta)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	in.health.clear("starting")

	sk := newSink(cfg.Brokers, transport, cfg.MaxRequestBytes, &in.retries)
	errs := make(chan error, 2)
	wg.Go(func() {
		errs <- in.restarting(ctx, "normaliser", func() error { return in.normalise(ctx, sk, meta, parts) })
	})
	wg.Go(func() { errs <- in.restarting(ctx, "fold", func() error { return in.fold(ctx, sk, meta, parts) }) })
	wg.Go(func() { in.watchLayout(ctx, meta, parts) })
	err = <-errs
	cancel()
	if err2 := <-errs; err == nil {
		err = err2
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// restartMax bounds the wait before a stage that stopped on an error
// (its broker went away: a fetch or a group join failed) starts again.
const restartMax = 10 * time.Second

// restarting runs stage until ctx ends, starting it again after an
// error, so that a broker outage never ends the process: nothing is lost,
// since a stage commits only what it has written, and the health watch
// reports the outage meanwhile.
func (in *Ingester) restarting(ctx context.Context, name string, stage func() error) error {
	wait := 500 * time.Millisecond
	for {
		err := stage()
		if ctx.Err() != nil || err == nil {
			return nil
		}
		in.cfg.Logger.Warn("ingest: stage stopped; starting it again", "stage", name, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, restartMax)
	}
}

// layoutEvery is how often a running ingester checks that the partition
// counts it started with still hold.
const layoutEvery = 10 * time.Second

// watchLayout makes the ingester not ready, with one log line, when
// partitions are added to the events, quotes or latest topics while it
// runs. It goes on with the layout it started with (symbols keep their
// partition, so day statistics stay right) until it is restarted; the
// restarted fold moves each symbol's state to its new partition. That is
// exact only if the fold had caught up when the counts changed, which is
// why the README says to stop ingesters first.
func (in *Ingester) watchLayout(ctx context.Context, meta *kafka.Client, parts int) {
	cfg := in.cfg
	t := time.NewTicker(layoutEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		counts, err := partitionCounts(ctx, meta, []string{cfg.EventsTopic, cfg.QuotesTopic, cfg.LatestTopic})
		if err != nil {
			continue
		}
		for _, topic := range []string{cfg.EventsTopic, cfg.QuotesTopic, cfg.LatestTopic} {
			if n := counts[topic]; n != parts {
				in.health.raise("layout", FaultLayout, fmt.Sprintf(
					"%s now has %d partitions, %d when this ingester started: it goes on with %d; restart every ingester once the fold has caught up (README, Adding partitions)",
					topic, n, parts, parts), 0)
				break
			}
		}
	}
}

// waitTopics waits until the raw, events, quotes and latest topics exist
// and returns the partition count of the last three, which must agree:
// the fold writes partition p of quotes and latest from partition p of
// events. A missing dead-letter topic is reported, not waited for.
func (in *Ingester) waitTopics(ctx context.Context, meta *kafka.Client) (int, error) {
	cfg := in.cfg
	need := []string{cfg.RawTopic, cfg.EventsTopic, cfg.QuotesTopic, cfg.LatestTopic}
	for attempt := 0; ; attempt++ {
		counts, err := partitionCounts(ctx, meta, append(need, cfg.DLQTopic))
		var missing []string
		for _, t := range need {
			if counts[t] == 0 {
				missing = append(missing, t)
			}
		}
		if err == nil && len(missing) == 0 {
			e, q, l := counts[cfg.EventsTopic], counts[cfg.QuotesTopic], counts[cfg.LatestTopic]
			if e != q || e != l {
				return 0, fmt.Errorf("ingest: %s, %s and %s have %d, %d and %d partitions; they must have the same count (tape topics checks it)",
					cfg.EventsTopic, cfg.QuotesTopic, cfg.LatestTopic, e, q, l)
			}
			if counts[cfg.DLQTopic] == 0 {
				in.health.raise("refused "+cfg.DLQTopic, FaultRefused, fmt.Sprintf("dead-letter topic %s does not exist: rejected input is counted, not kept", cfg.DLQTopic), cfg.StallAfter)
			}
			return e, nil
		}
		if err == nil {
			err = fmt.Errorf("missing %s", strings.Join(missing, ", "))
		}
		in.health.raise("starting", FaultStarting, "starting: waiting for the topics: "+err.Error(), 0)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// partitionCounts returns the partition count of each topic that exists.
func partitionCounts(ctx context.Context, meta *kafka.Client, topics []string) (map[string]int, error) {
	res, err := meta.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int, len(topics))
	for _, t := range res.Topics {
		if t.Error == nil {
			counts[t.Name] = len(t.Partitions)
		}
	}
	return counts, nil
}

// normalise runs the normaliser until ctx ends.
func (in *Ingester) normalise(ctx context.Context, sk *sink, meta *kafka.Client, eventParts int) error {
	cfg := in.cfg
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

	ln := in.health.lane(cfg.RawTopic)
	defer ln.remove()
	sk = sk.withFailing(ln)
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
		ln.begin(fmt.Sprintf("writing the output of %d raw messages (partitions %v)", len(batch), partitionsOf(batch)))
		out := in.process(ctx, meta, batch, eventParts)
		refused, err := sk.write(ctx, out, false)
		if err != nil {
			return nil // cancelled: the batch is not committed and will be repeated
		}
		if len(refused) > 0 {
			if err := in.deadLetterRefused(ctx, sk, meta, batch, refused); err != nil {
				return nil
			}
		}
		ln.done()
		commits <- lastPerPartition(batch)
		in.batches.Add(1)
	}
}

func partitionsOf(batch []kafka.Message) []int {
	var ps []int
	for _, m := range batch {
		if !slices.Contains(ps, m.Partition) {
			ps = append(ps, m.Partition)
		}
	}
	slices.Sort(ps)
	return ps
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

// process normalises a batch of raw messages into the records to produce:
// events to the events topic (key = symbol, partition = CRC32 of the
// symbol), and one dead letter per message with rejected parts.
func (in *Ingester) process(ctx context.Context, meta *kafka.Client, batch []kafka.Message, eventParts int) []record {
	cfg := in.cfg
	now := time.Now()
	dlq := in.dlqPartitions(ctx, meta)
	var out []record
	var events []tape.Event
	var rejects []Reject
	// Events accepted per format, counted here and added once per batch:
	// a batch rarely holds more than one format.
	var accepted []formatCount
	defer func() {
		in.mu.Lock()
		for _, a := range accepted {
			in.accepted[a.name] += a.n
		}
		in.mu.Unlock()
	}()
	for i, m := range batch {
		in.raw.Add(1)
		name := header(m, tape.HeaderFormat)
		if name == "" {
			name = Sniff(m.Value)
		}
		f, ok := Lookup(name)
		if !ok {
			rj := []Reject{{Index: -1, Err: tape.Errorf(tape.ECodeFormat, "unknown format %.32q", name)}}
			out = in.appendDeadLetter(dlq, out, m, i, name, rj)
			continue
		}
		events, rejects = f.Normalize(events[:0], m.Value)
		if len(accepted) == 0 || accepted[len(accepted)-1].name != name {
			k := slices.IndexFunc(accepted, func(a formatCount) bool { return a.name == name })
			if k < 0 {
				accepted = append(accepted, formatCount{name: name})
				k = len(accepted) - 1
			}
			accepted[k], accepted[len(accepted)-1] = accepted[len(accepted)-1], accepted[k]
		}
		acc := &accepted[len(accepted)-1]
		for j := range events {
			ev := &events[j]
			if err := in.checkTime(ev.Time, now); err != nil {
				rejects = append(rejects, Reject{Index: j, Err: err})
				continue
			}
			ev.Origin = string(tape.AppendOrigin(nil, m.Topic, m.Partition, m.Offset, j))
			in.events.Add(1)
			acc.n++
			out = append(out, record{
				topic: cfg.EventsTopic, partition: crc32Partition([]byte(ev.Symbol), eventParts),
				key: []byte(ev.Symbol), value: ev.AppendJSON(nil), src: i, elem: j,
			})
		}
		if len(rejects) > 0 {
			slices.SortStableFunc(rejects, func(a, b Reject) int { return a.Index - b.Index })
			out = in.appendDeadLetter(dlq, out, m, i, name, rejects)
		}
	}
	return out
}

// appendDeadLetter counts rejects and appends the dead letter of raw
// message m (batch index src) to out. When the dead-letter topic is not
// there (dlq says how many partitions it has), the dead letter is reported
// as refused instead.
func (in *Ingester) appendDeadLetter(dlq func() (int, error), out []record, m kafka.Message, src int, format string, rejects []Reject) []record {
	label := format
	if _, ok := Lookup(format); !ok {
		label = "unknown" // a header's value: never a label of its own
	}
	in.mu.Lock()
	for _, rj := range rejects {
		code := tape.ErrorCode(rj.Err)
		in.rejected[code]++
		in.rejects[FormatReason{label, code}]++
	}
	in.mu.Unlock()
	dl := NewDeadLetter(Position{m.Topic, m.Partition, m.Offset}, m.Key, m.Value, format, rejects, in.cfg.DLQMaxBytes)
	parts, err := dlq()
	if err != nil {
		in.reportRefused(in.cfg.DLQTopic, err)
		return out
	}
	headers := make([]kafka.Header, len(dl.Headers))
	for i, h := range dl.Headers {
		headers[i] = kafka.Header{Key: h.Key, Value: h.Value}
	}
	// A raw partition's dead letters stay in order on one DLQ partition.
	return append(out, record{
		topic: in.cfg.DLQTopic, partition: m.Partition % parts,
		key: dl.Key, value: dl.Value, headers: headers, src: src, elem: -1,
	})
}

// errNoTopic reports a topic the cluster does not know.
var errNoTopic = kafka.UnknownTopicOrPartition

// dlqPartitions returns a function that looks up the dead-letter topic's
// partition count once, when first called (for one batch).
func (in *Ingester) dlqPartitions(ctx context.Context, meta *kafka.Client) func() (int, error) {
	var (
		done  bool
		parts int
		err   error
	)
	return func() (int, error) {
		if done {
			return parts, err
		}
		done = true
		var counts map[string]int
		if counts, err = partitionCounts(ctx, meta, []string{in.cfg.DLQTopic}); err == nil {
			if parts = counts[in.cfg.DLQTopic]; parts == 0 {
				err = fmt.Errorf("%s: %w", in.cfg.DLQTopic, errNoTopic)
			}
		}
		return parts, err
	}
}

// deadLetterRefused handles records the broker refused for good: each raw
// message whose events were refused gets a dead letter naming them (a
// refused dead letter is reported and dropped; the raw message stays in
// the raw topic).
func (in *Ingester) deadLetterRefused(ctx context.Context, sk *sink, meta *kafka.Client, batch []kafka.Message, refused []refusal) error {
	byMsg := map[int][]Reject{}
	for _, rf := range refused {
		in.reportRefused(rf.rec.topic, rf.err)
		if rf.rec.topic == in.cfg.DLQTopic {
			continue
		}
		byMsg[rf.rec.src] = append(byMsg[rf.rec.src], Reject{
			Index: rf.rec.elem,
			Err:   tape.Errorf(ReasonRefused, "%s refused the event: %v", rf.rec.topic, rf.err),
		})
	}
	if len(byMsg) == 0 {
		return nil
	}
	srcs := slices.Sorted(maps.Keys(byMsg))
	dlq := in.dlqPartitions(ctx, meta)
	var out []record
	for _, src := range srcs {
		m := batch[src]
		name := header(m, tape.HeaderFormat)
		if name == "" {
			name = Sniff(m.Value)
		}
		out = in.appendDeadLetter(dlq, out, m, src, name, byMsg[src])
	}
	refused, err := sk.write(ctx, out, false)
	for _, rf := range refused {
		in.reportRefused(rf.rec.topic, rf.err)
	}
	return err
}

// reportRefused counts a record the broker refused for good and reports
// the topic as refusing writes (logged once, until it has refused nothing
// for StallAfter).
func (in *Ingester) reportRefused(topic string, err error) {
	in.mu.Lock()
	in.refused[topic]++
	in.mu.Unlock()
	in.health.raise("refused "+topic, FaultRefused, fmt.Sprintf("%s refuses writes: %v", topic, err), in.cfg.StallAfter)
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
	// Raw messages read, events normalised, batches done, produce
	// attempts retried.
	Raw, Events, Batches, Retries int64
	// Accepted counts events normalised, by format.
	Accepted map[string]int64
	// Rejects counts rejected parts of raw messages by format and reason.
	Rejects map[FormatReason]int64
	// Rejected counts rejected parts of raw messages by reason code.
	Rejected map[string]int64
	// Refused counts records the broker refused for good, by topic.
	Refused map[string]int64
	// Folded events, Repeats dropped by the fold, Quotes produced,
	// Checkpoints written (flushes), Restores of a partition's state,
	// Invalid records on the events topic.
	Folded, Repeats, Quotes, Checkpoints, Restores, Invalid int64
	// Owned is the number of events partitions this ingester folds now.
	Owned int64
	// Faults counts faults begun, by kind.
	Faults map[string]int64
}

// Stats returns the ingester's counters.
func (in *Ingester) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return Stats{
		Raw: in.raw.Load(), Events: in.events.Load(), Batches: in.batches.Load(), Retries: in.retries.Load(),
		Rejected: maps.Clone(in.rejected), Refused: maps.Clone(in.refused),
		Accepted: maps.Clone(in.accepted), Rejects: maps.Clone(in.rejects),
		Folded: in.folded.Load(), Repeats: in.repeats.Load(), Quotes: in.quotes.Load(),
		Checkpoints: in.checkpoints.Load(), Restores: in.restores.Load(), Invalid: in.invalid.Load(),
		Owned: in.owned.Load(), Faults: in.health.counted(),
	}
}

// formatCount is a count of events of one format within a batch.
type formatCount struct {
	name string
	n    int64
}
