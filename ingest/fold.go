package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// fold runs the fold stage until ctx ends: it joins FoldGroup over the
// events topic and owns every partition the group assigns it.
func (in *Ingester) fold(ctx context.Context, sk *sink, meta *kafka.Client, parts int) error {
	cfg := in.cfg
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                cfg.FoldGroup,
		Brokers:           cfg.Brokers,
		Topics:            []string{cfg.EventsTopic},
		HeartbeatInterval: min(3*time.Second, cfg.SessionTimeout/3),
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  30 * time.Second,
		JoinGroupBackoff:  time.Second,
		StartOffset:       kafka.FirstOffset, // unused: the marker says where to start
		Timeout:           10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("ingest: join group %s: %w", cfg.FoldGroup, err)
	}
	defer group.Close()
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			cfg.Logger.Warn("ingest: fold group", "group", cfg.FoldGroup, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		for _, pa := range gen.Assignments[cfg.EventsTopic] {
			if pa.ID >= parts {
				cfg.Logger.Error("ingest: events partition beyond the quotes topic's; the partition counts changed", "partition", pa.ID, "partitions", parts)
				continue
			}
			fp := &foldPartition{in: in, sk: sk, meta: meta, p: pa.ID, parts: parts, gen: gen}
			gen.Start(fp.own)
		}
	}
}

// symState is the fold state of one symbol with its fold position: the
// offset in the events partition of the last event folded into it (-1
// when unknown, as for a quote written before checkpoints existed).
type symState struct {
	f   *tape.Fold
	seq int64
}

// foldPartition is the fold of one owned partition p of the events topic:
// partition p of the quotes topic and of the latest topic are written by
// it alone.
type foldPartition struct {
	in   *Ingester
	sk   *sink
	meta *kafka.Client
	p    int
	// parts is the events topic's partition count this stage started
	// with: which partition a symbol belongs to (CRC32 of it, modulo).
	parts int
	gen   *kafka.Generation
	ln    lane

	state map[tape.Symbol]*symState
	dirty map[tape.Symbol]bool // changed since the last checkpoint
	times []time.Time          // feed times of the batch's quotes, for Config.Latency
	// next is the offset after the last event folded; marked is the
	// offset the last marker written says the checkpoints are complete to.
	next, marked int64
	// sinceFlush counts events folded since the last checkpoint.
	sinceFlush int
	lastFlush  time.Time
}

// own folds partition p until ctx ends (the generation ends). A failure
// (restore, fetch) starts over from the checkpoints after a backoff; the
// lane stays busy meanwhile, so a partition that keeps failing is reported
// as stalled. It returns only when ctx ends: the consumer group ends a
// generation as soon as any of its functions returns.
func (fp *foldPartition) own(ctx context.Context) {
	in := fp.in
	name := fmt.Sprintf("%s/%d", in.cfg.EventsTopic, fp.p)
	fp.ln = in.health.lane(name)
	defer fp.ln.remove()
	fp.sk = fp.sk.withFailing(fp.ln)
	in.owned.Add(1)
	defer in.owned.Add(-1)
	for attempt := 1; ; attempt++ {
		err := fp.run(ctx)
		if ctx.Err() != nil {
			return
		}
		in.cfg.Logger.Warn("ingest: fold", "partition", name, "err", err)
		fp.ln.failed(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff(attempt, fp.sk.rnd)):
		}
	}
}

// run restores the partition's state and folds until ctx ends or a read
// fails.
func (fp *foldPartition) run(ctx context.Context) error {
	in, cfg := fp.in, fp.in.cfg
	fp.ln.begin(fmt.Sprintf("restoring from %s/%d", cfg.LatestTopic, fp.p))
	if err := fp.restore(ctx); err != nil {
		return err
	}
	in.restores.Add(1)
	fp.ln.done()

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        cfg.Brokers,
		Topic:          cfg.EventsTopic,
		Partition:      fp.p,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        cfg.MaxWait,
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
		QueueCapacity:  cfg.BatchSize,
	})
	defer r.Close()
	if err := r.SetOffset(fp.next); err != nil {
		return err
	}
	msgs := make(chan kafka.Message, cfg.BatchSize)
	readErr := make(chan error, 1)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		defer close(msgs)
		for {
			m, err := r.ReadMessage(rctx)
			if err != nil {
				readErr <- err
				return
			}
			msgs <- m
		}
	}()

	tick := time.NewTicker(cfg.CheckpointInterval)
	defer tick.Stop()
	batch := make([]kafka.Message, 0, cfg.BatchSize)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if time.Since(fp.lastFlush) >= cfg.CheckpointInterval {
				if err := fp.checkpoint(ctx); err != nil {
					return err
				}
			}
		case m, ok := <-msgs:
			if !ok {
				if err := <-readErr; ctx.Err() == nil {
					return fmt.Errorf("read %s/%d: %w", cfg.EventsTopic, fp.p, err)
				}
				return nil
			}
			batch = append(batch[:0], m)
			batch = gather(batch, msgs, cfg.BatchSize)
			if err := fp.foldBatch(ctx, batch); err != nil {
				return err
			}
			if fp.sinceFlush >= cfg.CheckpointEvents || time.Since(fp.lastFlush) >= cfg.CheckpointInterval {
				if err := fp.checkpoint(ctx); err != nil {
					return err
				}
			}
		}
	}
}

// foldBatch folds a batch of events and produces a quote for each that
// changed its symbol's state. Once it returns, the quotes are
// acknowledged (or dead-lettered, if refused for good).
func (fp *foldPartition) foldBatch(ctx context.Context, batch []kafka.Message) error {
	in, cfg := fp.in, fp.in.cfg
	out := make([]record, 0, len(batch))
	var bad []record
	fp.times = fp.times[:0]
	dlq := in.dlqPartitions(ctx, fp.meta)
	for i, m := range batch {
		fp.next = m.Offset + 1
		ev, err := tape.ParseEvent(m.Value)
		if err != nil {
			// Not written by a normaliser: someone else produced to the
			// events topic.
			in.invalid.Add(1)
			bad = in.appendDeadLetter(dlq, bad, m, i, tape.FormatTape, []Reject{{Index: -1, Err: err}})
			continue
		}
		st := fp.state[ev.Symbol]
		if st == nil {
			st = &symState{f: tape.NewFold(ev.Symbol), seq: -1}
			fp.state[ev.Symbol] = st
		}
		if m.Offset <= st.seq || !st.f.Apply(&ev, tape.Seq{Partition: fp.p, Offset: m.Offset}) {
			// Already in the checkpoint this state was restored from, or
			// a repeat the folder recognised.
			in.repeats.Add(1)
			continue
		}
		st.seq = m.Offset
		fp.dirty[ev.Symbol] = true
		fp.sinceFlush++
		in.folded.Add(1)
		q := st.f.Quote()
		if cfg.Latency != nil {
			fp.times = append(fp.times, q.Time)
		}
		out = append(out, record{
			topic: cfg.QuotesTopic, partition: fp.p, key: []byte(ev.Symbol),
			value: q.AppendJSON(make([]byte, 0, 320)),
			src:   i, elem: -1,
		})
	}
	out = append(out, bad...)
	if len(out) == 0 {
		return nil
	}
	fp.ln.begin(fmt.Sprintf("writing %d quotes to %s/%d", len(out), cfg.QuotesTopic, fp.p))
	refused, err := fp.sk.write(ctx, out, false)
	if err != nil {
		return err
	}
	produced := len(out) - len(bad)
	for _, rf := range refused {
		if rf.rec.topic == cfg.QuotesTopic {
			produced--
		}
	}
	in.quotes.Add(int64(produced))
	if cfg.Latency != nil {
		// Refused quotes (rare: dead-lettered) are observed too.
		now := time.Now()
		for _, t := range fp.times {
			cfg.Latency.Observe(now.Sub(t).Seconds())
		}
	}
	if len(refused) > 0 {
		if err := in.deadLetterRefused(ctx, fp.sk, fp.meta, batch, refused); err != nil {
			return err
		}
	}
	fp.ln.done()
	return nil
}

// marker is the value of the LatestMarkerKey record of a partition of
// the latest topic: the checkpoints of that partition reflect every event
// of Topic/Partition before offset Next, with Partitions partitions in
// the topic (0 in markers written before it was recorded).
type marker struct {
	Topic      string `json:"topic"`
	Partition  int    `json:"partition"`
	Next       int64  `json:"next"`
	Partitions int    `json:"partitions,omitempty"`
}

// markerValue is the value of a marker record, such as
// {"topic":"feeds.events","partition":3,"next":1207,"partitions":6}. It
// has no "symbol", so tape.ParseQuote (what web nodes read the latest
// topic with) rejects it.
func markerValue(topic string, p int, next int64, parts int) []byte {
	b, _ := json.Marshal(marker{Topic: topic, Partition: p, Next: next, Partitions: parts})
	return b
}

// checkpoint writes the state of every changed symbol, then the marker,
// to the partition's latest topic, in one request when they fit. A
// refused checkpoint keeps its symbol changed and the marker where it was,
// so that a restore refolds from early enough.
func (fp *foldPartition) checkpoint(ctx context.Context) error {
	in, cfg := fp.in, fp.in.cfg
	fp.lastFlush = time.Now()
	if len(fp.dirty) == 0 && fp.marked == fp.next {
		return nil
	}
	syms := slices.Sorted(maps.Keys(fp.dirty))
	recs := make([]record, 0, len(syms)+1)
	for _, sym := range syms {
		st := fp.state[sym]
		recs = append(recs, record{
			topic: cfg.LatestTopic, partition: fp.p, key: []byte(sym),
			value: st.f.AppendCheckpoint(make([]byte, 0, 400)),
		})
	}
	recs = append(recs, record{
		topic: cfg.LatestTopic, partition: fp.p, key: []byte(tape.LatestMarkerKey),
		value: markerValue(cfg.EventsTopic, fp.p, fp.next, fp.parts),
	})
	fp.ln.begin(fmt.Sprintf("checkpointing %d symbols to %s/%d", len(syms), cfg.LatestTopic, fp.p))
	refused, err := fp.sk.write(ctx, recs, true)
	if err != nil {
		return err
	}
	fp.ln.done()
	kept := map[string]bool{}
	for _, rf := range refused {
		kept[string(rf.rec.key)] = true
		if !errors.Is(rf.err, errNotSent) {
			in.reportRefused(rf.rec.topic, rf.err)
		}
	}
	for _, sym := range syms {
		if !kept[string(sym)] {
			delete(fp.dirty, sym)
		}
	}
	fp.sinceFlush = 0
	in.checkpoints.Add(1)
	if !kept[tape.LatestMarkerKey] {
		fp.marked = fp.next
		// For lag monitoring only: the marker is what a new owner reads.
		if err := fp.gen.CommitOffsets(map[string]map[int]int64{cfg.EventsTopic: {fp.p: fp.next}}); err != nil {
			cfg.Logger.Debug("ingest: fold commit", "partition", fp.p, "err", err)
		}
	}
	return nil
}

// restore reads partition p of the latest topic from its start: the
// newest marker for this events partition says where folding resumes,
// and each symbol's checkpoint with the highest fold position is its
// state. Without a marker, folding starts at the events partition's
// first offset.
func (fp *foldPartition) restore(ctx context.Context) error {
	cfg := fp.in.cfg
	fp.state = map[tape.Symbol]*symState{}
	fp.dirty = map[tape.Symbol]bool{}
	fp.sinceFlush, fp.lastFlush = 0, time.Now()
	next, markedParts := int64(-1), -1
	var unreadable int
	restoreFrom := func(lp int, migrating bool) error {
		return readPartition(ctx, fp.meta, cfg.LatestTopic, lp, func(key, value []byte) {
			if string(key) == tape.LatestMarkerKey {
				var mk marker
				if !migrating && json.Unmarshal(value, &mk) == nil && mk.Topic == cfg.EventsTopic && mk.Partition == fp.p && mk.Next >= 0 {
					next, markedParts = mk.Next, mk.Partitions
				}
				return
			}
			sym, err := tape.ParseSymbol(key)
			if err != nil || (migrating && crc32Partition(key, fp.parts) != fp.p) {
				return
			}
			if migrating && fp.state[sym] != nil && fp.state[sym].seq >= 0 {
				return // already checkpointed here since the move
			}
			fl, err := tape.ParseCheckpoint(value)
			if err != nil || fl.Quote().Symbol != sym {
				unreadable++
				return
			}
			seq := int64(-1)
			if at := fl.Quote().Seq; at.IsSet() && at.Partition == fp.p {
				seq = at.Offset
			}
			// A checkpoint batch split over requests may leave an older
			// checkpoint after a newer one: the highest fold position wins.
			if old := fp.state[sym]; old == nil || seq >= old.seq {
				fp.state[sym] = &symState{f: fl, seq: seq}
				if migrating {
					fp.dirty[sym] = true // written here at the next checkpoint
				}
			}
		})
	}
	if err := restoreFrom(fp.p, false); err != nil {
		return err
	}
	// Partitions were added since this partition's marker was written (or
	// it has none and others exist): symbols moved between partitions, so
	// their state is in the partition they came from. Take over the
	// checkpoints of every symbol that now belongs here. Exact when the
	// fold had folded every event before the count changed (see README,
	// "Adding partitions").
	if markedParts != fp.parts {
		moved := 0
		for lp := range fp.parts {
			if lp == fp.p {
				continue
			}
			before := len(fp.dirty)
			if err := restoreFrom(lp, true); err != nil {
				return err
			}
			moved += len(fp.dirty) - before
		}
		if moved > 0 {
			cfg.Logger.Warn("ingest: partition counts changed; symbols moved here take their state from their old partition",
				"partition", fp.p, "partitions", fp.parts, "marked", markedParts, "symbols", moved)
		}
	}
	if unreadable > 0 {
		cfg.Logger.Warn("ingest: unreadable checkpoints; those symbols start afresh", "partition", fp.p, "count", unreadable)
	}
	first, last, err := offsets(ctx, fp.meta, cfg.EventsTopic, fp.p)
	if err != nil {
		return err
	}
	switch {
	case next < 0:
		next = first
	case next < first:
		cfg.Logger.Warn("ingest: events deleted before they were folded (retention); folding from the oldest left",
			"partition", fp.p, "marker", next, "first", first)
		next = first
	case next > last:
		cfg.Logger.Warn("ingest: marker past the end of the events partition (topic recreated?); folding from its start",
			"partition", fp.p, "marker", next, "end", last)
		next = first
	}
	fp.next, fp.marked = next, next
	cfg.Logger.Info("ingest: fold restored", "partition", fp.p, "symbols", len(fp.state), "from", next)
	return nil
}

// offsets returns the first and the end offset of a partition.
func offsets(ctx context.Context, client *kafka.Client, topic string, p int) (first, end int64, err error) {
	ask := func(req kafka.OffsetRequest) (kafka.PartitionOffsets, error) {
		res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {req}}})
		if err != nil {
			return kafka.PartitionOffsets{}, err
		}
		for _, po := range res.Topics[topic] {
			if po.Partition == p {
				return po, po.Error
			}
		}
		return kafka.PartitionOffsets{}, fmt.Errorf("list offsets of %s/%d: no answer", topic, p)
	}
	f, err := ask(kafka.FirstOffsetOf(p))
	if err != nil {
		return 0, 0, err
	}
	l, err := ask(kafka.LastOffsetOf(p))
	if err != nil {
		return 0, 0, err
	}
	return f.FirstOffset, l.LastOffset, nil
}

// readPartition calls fn with every record of partition p, from its
// first offset to its end as it was when called.
func readPartition(ctx context.Context, client *kafka.Client, topic string, p int, fn func(key, value []byte)) error {
	off, end, err := offsets(ctx, client, topic, p)
	if err != nil {
		return err
	}
	for off < end {
		res, err := client.Fetch(ctx, &kafka.FetchRequest{
			Topic: topic, Partition: p, Offset: off, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 500 * time.Millisecond,
		})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return fmt.Errorf("read %s/%d at %d: %w", topic, p, off, err)
		}
		got := false
		for {
			rec, err := res.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read %s/%d at %d: %w", topic, p, off, err)
			}
			if rec.Offset < off {
				continue // the start of a batch fetched for a later offset
			}
			if rec.Offset >= end {
				return nil
			}
			var key, value []byte
			if rec.Key != nil {
				key, _ = kafka.ReadAll(rec.Key)
			}
			if rec.Value != nil {
				value, _ = kafka.ReadAll(rec.Value)
			}
			fn(key, value)
			off, got = rec.Offset+1, true
		}
		if !got {
			// Nothing left below end: compaction removed the rest.
			return nil
		}
	}
	return nil
}
