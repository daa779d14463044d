package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// Defaults for KafkaConfig.
const (
	// DefaultMaxWait is the fetch long-poll. Shorter waits turn idle polls
	// into read timeouts that back off for 100 ms; longer ones slow Close.
	DefaultMaxWait = 500 * time.Millisecond
	// DefaultProbeEvery is how often the node asks the cluster for the
	// topic's metadata: how it notices an unreachable broker and
	// partitions added to the topic.
	DefaultProbeEvery = time.Second
	// DefaultBrokerTimeout is how long the broker may not answer before
	// the node says its quotes are stale.
	DefaultBrokerTimeout = 3 * time.Second
)

// KafkaConfig says where a node reads quotes from.
type KafkaConfig struct {
	Brokers     []string
	Topic       string
	LatestTopic string
	// Group names the consumer group the node commits its offsets to,
	// "tape-web-<node id>", so that lag tools see how far behind it is.
	// The node never joins it: it reads every partition directly.
	Group   string
	MaxWait time.Duration
	// ProbeEvery and BrokerTimeout: see DefaultProbeEvery and
	// DefaultBrokerTimeout.
	ProbeEvery    time.Duration
	BrokerTimeout time.Duration
	Logger        *slog.Logger
}

func (c KafkaConfig) withDefaults() KafkaConfig {
	if c.Topic == "" {
		c.Topic = tape.TopicQuotes
	}
	if c.LatestTopic == "" {
		c.LatestTopic = tape.TopicLatest
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.ProbeEvery == 0 {
		c.ProbeEvery = DefaultProbeEvery
	}
	if c.BrokerTimeout == 0 {
		c.BrokerTimeout = DefaultBrokerTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c KafkaConfig) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("stream: no brokers")
	case c.Group == "":
		return errors.New("stream: no consumer group")
	case c.ProbeEvery < 0, c.BrokerTimeout < 0, c.MaxWait < 0:
		return errors.New("stream: Kafka timings must not be negative")
	}
	return nil
}

// ErrBrokerUnreachable reports that the broker has not answered for
// KafkaConfig.BrokerTimeout.
var ErrBrokerUnreachable = errors.New("stream: Kafka broker unreachable")

// Consume fills the hub from Kafka until ctx ends: it seeds last values
// from the compacted latest topic, reads the quotes topic from HistoryAge
// ago so that resumes have history, and then follows every partition
// live, reading each directly (no consumer group on the data path, so a
// group's session timeout can never hold quotes back). It probes the
// cluster every ProbeEvery: a broker that does not answer for
// BrokerTimeout makes the hub report its feed stale (and a log line says
// so) until it answers again, and partitions added to the topic are read
// from their start. Offsets are committed to Group for lag monitoring
// only: a node's state lives in memory, so on start it always rebuilds
// from the topics rather than from a committed offset.
func (h *Hub) Consume(ctx context.Context, cfg KafkaConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	// The transport refreshes its metadata every few seconds: of the one
	// topic this client asks about, not of every topic in the cluster.
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second,
		Transport: &kafka.Transport{MetadataTopics: []string{cfg.Topic}}}

	parts, clusterID, err := waitTopic(ctx, client, cfg.Topic, log, h.SetFeedError)
	if err != nil {
		return err
	}
	latest, err := LoadLatest(ctx, cfg.Brokers, cfg.LatestTopic, cfg.MaxWait)
	if err != nil {
		return err
	}
	// Oldest first, so that if the universe is bounded the newest stay.
	sort.SliceStable(latest, func(i, j int) bool { return latest[i].Time.Before(latest[j].Time) })
	for _, q := range latest {
		h.Seed(q)
	}
	var starts, ends []int64
	err = retry(ctx, log, func() (err error) {
		starts, ends, err = historyOffsets(ctx, client, cfg.Topic, parts, time.Now().Add(-h.cfg.HistoryAge))
		return err
	})
	if err != nil {
		return err
	}
	if err := h.Init(Fingerprint(clusterID, cfg.Topic), starts, ends); err != nil {
		return err
	}
	log.Info("stream: loaded", "symbols", len(latest), "partitions", parts, "from", starts, "to", ends)

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for p := range parts {
		wg.Go(func() { h.follow(ctx, cfg, p) })
	}
	w := watcher{h: h, cfg: cfg, client: client, parts: parts, follow: func(p int) { wg.Go(func() { h.follow(ctx, cfg, p) }) }}
	w.run(ctx)
	return nil
}

// watcher probes the cluster for a node: whether the broker answers and
// how many partitions the topic has.
type watcher struct {
	h      *Hub
	cfg    KafkaConfig
	client *kafka.Client
	parts  int         // partitions read so far
	follow func(p int) // starts reading partition p
	down   bool        // the hub was told its feed is stale
	layout error       // the topic has more partitions than a node reads
	commit atomic.Bool // a commit of offsets is in flight
}

// run probes every ProbeEvery until ctx ends. One probe at a time runs on
// its own goroutine: a request to a frozen broker may outlive its
// context, and must not hold this loop.
func (w *watcher) run(ctx context.Context) {
	type answer struct {
		n   int
		err error
	}
	answers := make(chan answer, 1)
	probing := false
	tick := time.NewTicker(w.cfg.ProbeEvery)
	defer tick.Stop()
	lastAnswer, lastCommit := time.Now(), time.Now()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-answers:
			probing = false
			if a.err != nil {
				lastErr = a.err
				break
			}
			lastAnswer = time.Now()
			if a.n > w.parts {
				w.grow(a.n)
			}
		case <-tick.C:
			if !probing {
				probing = true
				go func() {
					pctx, cancel := context.WithTimeout(ctx, w.cfg.BrokerTimeout)
					defer cancel()
					n, err := topicPartitions(pctx, w.client, w.cfg.Topic)
					answers <- answer{n, err}
				}()
			}
		}
		now := time.Now()
		silent := now.Sub(lastAnswer)
		fault := w.layout
		if fault == nil && silent >= w.cfg.BrokerTimeout {
			cause := lastErr
			if cause == nil {
				cause = fmt.Errorf("no answer for %s", silent.Round(time.Millisecond))
			}
			fault = fmt.Errorf("%w: %v", ErrBrokerUnreachable, cause)
		}
		w.report(fault, silent)
		if fault == nil && now.Sub(lastCommit) >= time.Second && w.commit.CompareAndSwap(false, true) {
			lastCommit = now
			parts := w.parts
			go func() {
				defer w.commit.Store(false)
				w.h.commitOffsets(ctx, w.client, w.cfg, parts)
			}()
		}
	}
}

// grow starts reading partitions added to the topic, or, past what a
// node can read, records the fault: the quotes of symbols there would
// freeze unnoticed.
func (w *watcher) grow(n int) {
	log := w.cfg.Logger
	if err := w.h.AddPartitions(n); err != nil {
		if w.layout == nil {
			log.Error("stream: partitions added to the topic cannot be read; this node's quotes are incomplete", "topic", w.cfg.Topic, "partitions", n, "err", err)
		}
		w.layout = err
		return
	}
	log.Info("stream: partitions added to the topic; reading them from their start", "topic", w.cfg.Topic, "from", w.parts, "to", n)
	for p := w.parts; p < n; p++ {
		w.follow(p)
	}
	w.parts = n
}

// report tells the hub (and the log, once) when the feed becomes stale
// or live again.
func (w *watcher) report(fault error, silent time.Duration) {
	switch {
	case fault == nil && w.down:
		w.down = false
		w.h.SetFeedError(nil)
		w.cfg.Logger.Info("stream: Kafka broker reachable again; quotes are live", "topic", w.cfg.Topic)
	case fault != nil && !w.down:
		w.down = true
		w.h.SetFeedError(fault)
		if w.layout == nil {
			w.cfg.Logger.Error("stream: Kafka broker unreachable; streams are told their quotes are stale",
				"brokers", w.cfg.Brokers, "silent", silent.Round(time.Millisecond), "err", fault)
		}
	}
}

// topicPartitions returns the topic's partition count, from a request the
// broker must answer now (the transport serves metadata from a cache that
// it refreshes every few seconds, which is soon enough for partitions
// added, but says nothing of whether the broker answers).
func topicPartitions(ctx context.Context, client *kafka.Client, topic string) (int, error) {
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(0)}}})
	if err != nil {
		return 0, err
	}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return 0, po.Error
		}
	}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, err
	}
	if len(meta.Topics) != 1 {
		return 0, fmt.Errorf("stream: metadata for %d topics", len(meta.Topics))
	}
	if meta.Topics[0].Error != nil {
		return 0, meta.Topics[0].Error
	}
	return len(meta.Topics[0].Partitions), nil
}

// commitOffsets records the node's position in its group, for lag
// monitoring. The node is no member (generation -1), which Kafka accepts
// for a group without members; failures only cost the lag metric.
func (h *Hub) commitOffsets(ctx context.Context, client *kafka.Client, cfg KafkaConfig, parts int) {
	commits := make([]kafka.OffsetCommit, 0, parts)
	for p := range parts {
		if off := h.Offset(p); off >= 0 {
			commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: off})
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	res, err := client.OffsetCommit(cctx, &kafka.OffsetCommitRequest{
		GroupID: cfg.Group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{cfg.Topic: commits},
	})
	if err == nil {
		for _, pr := range res.Topics[cfg.Topic] {
			if pr.Error != nil {
				err = pr.Error
				break
			}
		}
	}
	if err != nil {
		cfg.Logger.Debug("stream: commit offsets for lag", "group", cfg.Group, "err", err)
	}
}

// follow applies partition p until ctx ends, reading it again after an
// error with a jittered backoff (50 ms doubling to 1 s). The first failure
// of a run is logged as a warning, the rest of the run at debug level: the
// watcher already says when the broker is unreachable.
func (h *Hub) follow(ctx context.Context, cfg KafkaConfig, p int) {
	backoff, failing := followBackoffMin, false
	for {
		answered, err := h.followOnce(ctx, cfg, p)
		if ctx.Err() != nil {
			return
		}
		if answered {
			backoff, failing = followBackoffMin, false
		}
		if failing {
			cfg.Logger.Debug("stream: reading partition again", "partition", p, "err", err)
		} else {
			cfg.Logger.Warn("stream: reading partition again", "partition", p, "err", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff/2 + rand.N(backoff/2+1)):
		}
		backoff = min(2*backoff, followBackoffMax)
	}
}

const (
	followBackoffMin = 50 * time.Millisecond
	followBackoffMax = time.Second
)

// Fetch sizes of the partition reader. A fetch answers as soon as one
// byte is there (MinBytes 1: a quote is never held back for a fuller
// fetch) or after MaxWait; a response streams up to fetchMaxBytes, which
// a node catching up fills (about 25,000 records of 330 bytes per round
// trip). Records are copied into a recordSlab of recordSlabSize bytes,
// which is applied, maxApplyBatch records at most, before it could run
// out (slabReserve free bytes left); a batch with a record that does not
// fit is read again with kafka-go's allocating ReadMessage.
const (
	fetchMaxBytes  = 8 << 20
	recordSlabSize = 64 << 10
	slabReserve    = 8 << 10
)

// followOnce applies partition p from its leader, read directly through
// one connection (kafka-go's Conn and Batch, no Reader: its per-record
// allocation and two channel hops cost more than the rest of the fetch),
// until an error or ctx ends. Records are copied into one reused slab and
// applied in batches of at most maxApplyBatch, and always before the next
// fetch waits, so that a stream getting several of them is written once
// for all and a record is never held back. answered reports whether a
// fetch succeeded, which resets follow's backoff.
func (h *Hub) followOnce(ctx context.Context, cfg KafkaConfig, p int) (answered bool, err error) {
	conn, err := dialLeader(ctx, cfg.Brokers, cfg.Topic, p)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	// A read blocked on the socket ends when ctx does.
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	if off := h.Offset(p); off >= 0 {
		if _, err := conn.Seek(off, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
			return false, fmt.Errorf("seek: %w", err)
		}
	}
	// The deadline covers a fetch's long poll and then the reading of its
	// response; it is pushed on after each applied batch, whose wait on
	// the hub's lock does not count against the broker.
	window := cfg.MaxWait + cfg.BrokerTimeout
	slab := make([]byte, 0, recordSlabSize)
	recs := make([]Record, 0, maxApplyBatch)
	apply := func() {
		if len(recs) > 0 {
			h.ApplyBatch(p, recs)
			clear(recs)
			recs, slab = recs[:0], slab[:0]
		}
		conn.SetReadDeadline(time.Now().Add(window))
	}
	large := false // read the next batch with ReadMessage: a record did not fit the slab
	for {
		apply()
		// A fetch returns whole record batches: those before from, the
		// start of a batch the fetch began inside, were applied already.
		from, _ := conn.Offset()
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: cfg.MaxWait})
		highWater := batch.HighWaterMark()
		for {
			var rec Record
			if large {
				m, err := batch.ReadMessage()
				if err != nil {
					break
				}
				rec = Record{Offset: m.Offset, Value: m.Value, HighWater: highWater}
			} else {
				n, err := batch.Read(slab[len(slab):cap(slab)])
				if err != nil {
					break
				}
				rec = Record{Offset: batch.Offset() - 1, Value: slab[len(slab) : len(slab)+n : len(slab)+n], HighWater: highWater}
			}
			if rec.Offset < from {
				continue
			}
			if !large {
				slab = slab[:len(slab)+len(rec.Value)]
			}
			recs = append(recs, rec)
			if len(recs) == maxApplyBatch || cap(slab)-len(slab) < slabReserve {
				apply()
			}
		}
		err := batch.Close()
		large = false
		switch {
		case err == nil, errors.Is(err, kafka.RequestTimedOut):
			// RequestTimedOut is how kafka-go reports a fetch that MaxWait
			// ended with no record: a quiet partition, not a fault.
			answered = true
		case errors.Is(err, io.ErrShortBuffer):
			// A record did not fit what is left of the slab; the conn is
			// back at it. The next batch is read with an allocation per
			// record, so any size passes, parsed as any record is.
			answered, large = true, true
			if off, _ := conn.Offset(); off < from {
				if _, err := conn.Seek(from, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
					return answered, fmt.Errorf("seek: %w", err)
				}
			}
		case errors.Is(err, kafka.OffsetOutOfRange):
			// Records the node has not read were deleted (retention),
			// or the log was truncated: go on from the nearest end. The
			// records skipped are missing from history, so resumes
			// through them get a snapshot.
			apply()
			to, serr := h.clampOffset(conn, p)
			if serr != nil {
				return answered, serr
			}
			cfg.Logger.Warn("stream: offset out of range; reading on from the log's edge", "partition", p, "from", h.Offset(p), "to", to)
		default:
			apply()
			return answered, err
		}
	}
}

// clampOffset moves conn to the edge of partition p's log nearest the
// hub's offset and returns it.
func (h *Hub) clampOffset(conn *kafka.Conn, p int) (int64, error) {
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return 0, err
	}
	to := min(max(h.Offset(p), first), last)
	_, err = conn.Seek(to, kafka.SeekAbsolute|kafka.SeekDontCheck)
	return to, err
}

// dialLeader connects to the leader of topic's partition p, asking each
// broker in turn.
func dialLeader(ctx context.Context, brokers []string, topic string, p int) (*kafka.Conn, error) {
	d := &kafka.Dialer{Timeout: 10 * time.Second}
	var errs []error
	for _, b := range brokers {
		conn, err := d.DialLeader(ctx, "tcp", b, topic, p)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// maxApplyBatch bounds the records applied before writers are told, which
// bounds the latency batching adds (a record's fan-out is about 0.4 µs
// per subscriber).
const maxApplyBatch = 16

// waitTopic waits until topic exists and returns its partition count and
// the cluster id. A node may start before `tape topics` has run. While
// the broker does not answer, setFeed is given ErrBrokerUnreachable (so
// readiness says so, not "catching up"), and nil once it answers.
func waitTopic(ctx context.Context, client *kafka.Client, topic string, log *slog.Logger, setFeed func(error)) (int, string, error) {
	for attempt := 0; ; attempt++ {
		meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		switch {
		case err == nil:
			setFeed(nil)
		case ctx.Err() == nil:
			setFeed(fmt.Errorf("%w: %v", ErrBrokerUnreachable, err))
		}
		if err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error == nil && len(meta.Topics[0].Partitions) > 0 {
			return len(meta.Topics[0].Partitions), meta.ClusterID, nil
		}
		if attempt%10 == 0 {
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("stream: Kafka broker unreachable; retrying", "brokers", client.Addr.String(), "err", err)
			case err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error != nil:
				log.Warn("stream: waiting for the topic to be created (tape topics)", "topic", topic, "err", meta.Topics[0].Error)
			case err == nil:
				log.Warn("stream: waiting for the topic's partitions", "topic", topic)
			}
		}
		select {
		case <-ctx.Done():
			return 0, "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// retryFor is how long start-up requests are retried: a topic created a
// moment ago may have no partition leader yet.
const retryFor = 30 * time.Second

// retry calls fn until it succeeds, ctx ends or retryFor passes.
func retry(ctx context.Context, log *slog.Logger, fn func() error) error {
	deadline := time.Now().Add(retryFor)
	for {
		err := fn()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		log.Debug("stream: retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// historyOffsets returns, per partition, the first offset at or after
// since (or the log end when nothing is that new) and the log end.
func historyOffsets(ctx context.Context, client *kafka.Client, topic string, parts int, since time.Time) (starts, ends []int64, err error) {
	ask := func(f func(int) kafka.OffsetRequest) ([]kafka.PartitionOffsets, error) {
		reqs := make([]kafka.OffsetRequest, parts)
		for p := range reqs {
			reqs[p] = f(p)
		}
		res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
		if err != nil {
			return nil, fmt.Errorf("stream: list offsets of %s: %w", topic, err)
		}
		out := res.Topics[topic]
		if len(out) != parts {
			return nil, fmt.Errorf("stream: list offsets of %s: %d of %d partitions", topic, len(out), parts)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
		for _, po := range out {
			if po.Error != nil {
				return nil, fmt.Errorf("stream: list offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
		}
		return out, nil
	}
	last, err := ask(kafka.LastOffsetOf)
	if err != nil {
		return nil, nil, err
	}
	byTime, err := ask(func(p int) kafka.OffsetRequest { return kafka.TimeOffsetOf(p, since) })
	if err != nil {
		return nil, nil, err
	}
	starts, ends = make([]int64, parts), make([]int64, parts)
	for p := range parts {
		ends[p] = last[p].LastOffset
		starts[p] = ends[p]
		for off := range byTime[p].Offsets {
			if off >= 0 && off < starts[p] {
				starts[p] = off
			}
		}
	}
	return starts, ends, nil
}

// LoadLatest reads the whole compacted topic of last values (key = symbol)
// and returns the newest quote of every symbol. Records that do not parse
// are skipped.
func LoadLatest(ctx context.Context, brokers []string, topic string, maxWait time.Duration) ([]tape.Quote, error) {
	if maxWait == 0 {
		maxWait = DefaultMaxWait
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	parts, _, err := waitTopic(ctx, client, topic, slog.New(slog.DiscardHandler), func(error) {})
	if err != nil {
		return nil, err
	}
	var ends []int64
	err = retry(ctx, slog.New(slog.DiscardHandler), func() (err error) {
		_, ends, err = historyOffsets(ctx, client, topic, parts, time.Now().Add(time.Hour))
		return err
	})
	if err != nil {
		return nil, err
	}
	var (
		mu     sync.Mutex
		quotes = map[tape.Symbol]tape.Quote{}
		wg     sync.WaitGroup
		errs   = make([]error, parts)
	)
	for p := range parts {
		if ends[p] == 0 {
			continue
		}
		wg.Go(func() {
			errs[p] = readAll(ctx, brokers, topic, p, ends[p], maxWait, func(v []byte) {
				q, err := tape.ParseCheckpointQuote(v)
				if err != nil {
					return
				}
				mu.Lock()
				if old, ok := quotes[q.Symbol]; !ok || !q.Time.Before(old.Time) {
					quotes[q.Symbol] = q
				}
				mu.Unlock()
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]tape.Quote, 0, len(quotes))
	for _, q := range quotes {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out, nil
}

// readAll calls fn with every record of partition p below end.
func readAll(ctx context.Context, brokers []string, topic string, p int, end int64, maxWait time.Duration, fn func([]byte)) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: p,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: maxWait,
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return err
	}
	for idle := 0; r.Offset() < end || r.Offset() < 0; {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := r.ReadMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Compaction can leave the last offsets empty; stop when reads
			// keep finding nothing.
			if idle++; idle >= 3 {
				return nil
			}
			continue
		}
		idle = 0
		fn(m.Value)
		if m.Offset+1 >= end {
			return nil
		}
	}
	return nil
}
