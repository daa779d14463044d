package stream

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"tape"
)

// Defaults for Config.
const (
	DefaultHistorySize      = 200_000
	DefaultHistoryAge       = 15 * time.Minute
	DefaultSubscriberBuffer = 512
	DefaultStallTimeout     = 30 * time.Second
	DefaultMaxSubscribers   = 10_000
	DefaultMaxSymbols       = 100
	DefaultResumeGrace      = 2 * time.Second
)

// Config tunes a Hub. Zero fields take the Default values.
type Config struct {
	// HistorySize and HistoryAge bound the events kept for resuming
	// streams; a client whose gap is older gets a fresh snapshot.
	HistorySize int
	HistoryAge  time.Duration
	// SubscriberBuffer is how many events wait for one subscriber before
	// it is conflated to the latest value per symbol.
	SubscriberBuffer int
	// StallTimeout is how long a subscriber may stay conflated without
	// draining before it is disconnected.
	StallTimeout time.Duration
	// MaxSubscribers and MaxSymbols bound streams per node and symbols per stream.
	MaxSubscribers int
	MaxSymbols     int
	// ResumeGrace is how long a token ahead of this node's offsets (a
	// client coming from a node a little further along) may wait for this
	// node to catch up before it gets a snapshot instead.
	ResumeGrace time.Duration
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.HistorySize, DefaultHistorySize)
	def(&c.SubscriberBuffer, DefaultSubscriberBuffer)
	def(&c.MaxSubscribers, DefaultMaxSubscribers)
	def(&c.MaxSymbols, DefaultMaxSymbols)
	if c.HistoryAge == 0 {
		c.HistoryAge = DefaultHistoryAge
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.ResumeGrace == 0 {
		c.ResumeGrace = DefaultResumeGrace
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.HistorySize < 0, c.HistoryAge < 0:
		return errors.New("stream: history limits must not be negative")
	case c.SubscriberBuffer < 1:
		return errors.New("stream: subscriber buffer must be at least 1")
	case c.MaxSubscribers < 1, c.MaxSymbols < 1:
		return errors.New("stream: subscriber limits must be at least 1")
	}
	return nil
}

// Errors returned by Subscribe and reported by Subscriber.WriteTo.
var (
	ErrNotReady = fmt.Errorf("stream: node is catching up: %w", tape.ErrUnavailable)
	ErrFull     = fmt.Errorf("stream: node is full: %w", tape.ErrFull)
	ErrClosed   = fmt.Errorf("stream: hub closed: %w", tape.ErrUnavailable)
	ErrSlow     = errors.New("stream: subscriber too slow")
)

// SnapshotReason says why a stream began with a snapshot.
const (
	ReasonNew     = "new"     // no Last-Event-ID
	ReasonExpired = "expired" // the gap is older than the node's history
	ReasonUnknown = "unknown" // the token is corrupt, from another cluster or from the future
)

// An Encoder frames one event for the wire; ui's SSE framer is one.
type Encoder interface {
	AppendEvent(dst []byte, event string, id, data []byte) []byte
}

// frame is one encoded event, shared by every subscriber that gets it.
type frame struct {
	seq       uint64
	partition int
	offset    int64
	symbol    tape.Symbol
	at        time.Time // when the node applied it
	wire      []byte    // the whole encoded event
	id        []byte    // the token
	data      []byte    // the JSON
}

// symbolState is the hub's view of one symbol.
type symbolState struct {
	quote tape.Quote
	fold  tape.Fold // until the hub reads folded quotes
	// seen is the newest origin applied per raw partition, to drop
	// repeats an ingester produced again after a crash.
	seen map[int]tape.OriginPos
	// recent is a ring of the last RecentTicks quotes, for charts.
	recent []tape.Quote
	next   int
}

// RecentTicks is how many past quotes a hub keeps per symbol for charts.
const RecentTicks = 120

func (st *symbolState) record(q tape.Quote) {
	if len(st.recent) < RecentTicks {
		st.recent = append(st.recent, q)
		return
	}
	st.recent[st.next] = q
	st.next = (st.next + 1) % RecentTicks
}

// Hub keeps the current quote of every symbol and a bounded history of
// encoded events, and fans events out to subscribers. Events are encoded
// once; a subscriber never blocks the hub: when its buffer is full it is
// conflated to the latest event per symbol, and if it stays stalled it is
// disconnected. All methods are safe for concurrent use.
type Hub struct {
	cfg Config
	enc Encoder

	mu          sync.Mutex // guards every field below
	fingerprint uint32
	offsets     []int64 // next offset to apply, per partition
	starts      []int64 // oldest offset whose events history still holds
	ends        []int64 // newest log end seen, per partition
	readyAt     []int64 // log end at start-up; ready once offsets reach it
	ready       bool
	closed      bool
	seq         uint64
	quotes      map[tape.Symbol]*symbolState
	history     []*frame // ring buffer
	head, size  int      // oldest index and count in history
	subs        map[tape.Symbol]map[*Subscriber]struct{}
	nsubs       int
	scratch     []byte
	vec         []int64
	// While deferring (ApplyBatch), subscribers to notify are collected
	// in deferred and notified once the batch is applied.
	deferring bool
	deferred  []*Subscriber

	stats Stats
}

// Stats are the hub's counters, for metrics.
type Stats struct {
	Applied    atomic.Int64 // events applied
	Invalid    atomic.Int64 // records on the quotes topic that did not parse
	Repeats    atomic.Int64 // events dropped as repeats of an origin already applied
	Delivered  atomic.Int64 // events queued to subscribers
	Conflated  atomic.Int64 // events replaced by a newer one for a slow subscriber
	Slow       atomic.Int64 // subscribers disconnected for stalling
	Resumed    atomic.Int64 // streams resumed from a token
	Snapshots  atomic.Int64 // streams that began with a snapshot
	Subscribed atomic.Int64 // streams currently open
}

// NewHub returns a hub that frames events with enc.
func NewHub(cfg Config, enc Encoder) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Hub{
		cfg:     cfg,
		enc:     enc,
		quotes:  make(map[tape.Symbol]*symbolState),
		history: make([]*frame, min(cfg.HistorySize, 1024)),
		subs:    make(map[tape.Symbol]map[*Subscriber]struct{}),
	}, nil
}

// Config returns the hub's configuration with defaults applied.
func (h *Hub) Config() Config { return h.cfg }

// Stats returns the hub's counters.
func (h *Hub) Stats() *Stats { return &h.stats }

// Init sets the partition layout: the fingerprint of cluster and topic, the
// offset each partition is read from, and each partition's log end at
// start-up. Seeded quotes are kept.
func (h *Hub) Init(fingerprint uint32, starts, ends []int64) error {
	if len(starts) == 0 || len(starts) > maxPartitions || len(ends) != len(starts) {
		return fmt.Errorf("stream: %d partitions (want 1 to %d)", len(starts), maxPartitions)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fingerprint = fingerprint
	h.offsets = slices.Clone(starts)
	h.starts = slices.Clone(starts)
	h.ends = slices.Clone(ends)
	h.readyAt = slices.Clone(ends)
	h.checkReadyLocked()
	return nil
}

// Seed sets the starting value of a symbol, from the quotes.latest topic.
func (h *Hub) Seed(q tape.Quote) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stateLocked(q.Symbol)
	if !q.Time.Before(st.quote.Time) {
		// The seed does not mark its origin as seen: the history read
		// next replays events up to it, and they must reach the history
		// (applying them again is harmless, volume is stamped upstream).
		st.quote = q
	}
}

func (h *Hub) stateLocked(sym tape.Symbol) *symbolState {
	st := h.quotes[sym]
	if st == nil {
		st = &symbolState{quote: tape.Quote{Symbol: sym}, seen: make(map[int]tape.OriginPos, 1)}
		h.quotes[sym] = st
	}
	return st
}

// Offset returns the next offset the hub will apply in partition p.
func (h *Hub) Offset(p int) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p < 0 || p >= len(h.offsets) {
		return -1
	}
	return h.offsets[p]
}

// Ready reports whether the hub has caught up with the log ends it saw at
// start-up in every partition.
func (h *Hub) Ready() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ready && !h.closed
}

func (h *Hub) checkReadyLocked() {
	if h.ready || h.offsets == nil {
		return
	}
	for p, end := range h.readyAt {
		if h.offsets[p] < end {
			return
		}
	}
	h.ready = true
}

// Apply applies the record at partition p, offset off of the quotes topic,
// whose log end was highWater when it was read. Records below the hub's
// offset (a re-delivery) are ignored.
func (h *Hub) Apply(p int, off int64, value []byte, highWater int64) {
	h.ApplyBatch(p, []Record{{Offset: off, Value: value, HighWater: highWater}})
}

// Record is one record of the quotes topic, for ApplyBatch.
type Record struct {
	Offset    int64
	Value     []byte
	HighWater int64 // the partition's log end when the record was read
}

// ApplyBatch applies records of partition p in order, as Apply does, and
// tells writers about waiting events only once all are applied, so that a
// stream that gets several of them can send them in one write. Records
// should be what is at hand (a fetched batch), not waited for.
func (h *Hub) ApplyBatch(p int, recs []Record) {
	now := time.Now()
	h.mu.Lock()
	h.deferring = true
	for _, r := range recs {
		h.applyLocked(p, r.Offset, r.Value, r.HighWater, now)
	}
	h.checkReadyLocked()
	h.deferring = false
	woken := h.deferred
	h.deferred = nil
	h.mu.Unlock()
	for i, sub := range woken {
		sub.callNotify()
		woken[i] = nil
	}
	h.mu.Lock()
	if h.deferred == nil && cap(woken) <= 4*h.cfg.MaxSubscribers {
		h.deferred = woken[:0]
	}
	h.mu.Unlock()
}

func (h *Hub) applyLocked(p int, off int64, value []byte, highWater int64, now time.Time) {
	if p < 0 || p >= len(h.offsets) || off < h.offsets[p] {
		return
	}
	ev, err := tape.ParseEvent(value)
	h.offsets[p] = off + 1
	h.ends[p] = max(h.ends[p], highWater, off+1)
	if err != nil {
		h.stats.Invalid.Add(1)
		return
	}
	st := h.stateLocked(ev.Symbol)
	if _, pos, ok := tape.ParseOrigin(ev.Origin); ok {
		if last, seen := st.seen[pos.Partition]; seen && !last.Before(pos) {
			h.stats.Repeats.Add(1)
			return
		}
		st.seen[pos.Partition] = pos
	}
	st.fold.Apply(&ev, tape.NoSeq)
	st.quote = st.fold.Quote()
	st.record(st.quote)
	h.stats.Applied.Add(1)
	h.seq++

	h.scratch = st.quote.AppendJSON(h.scratch[:0])
	f := h.newFrameLocked("quote", h.offsets, h.scratch)
	f.seq, f.partition, f.offset, f.symbol, f.at = h.seq, p, off, ev.Symbol, now
	h.pushHistoryLocked(f)
	for sub := range h.subs[ev.Symbol] {
		h.deliverLocked(sub, f, now)
	}
}

// newFrameLocked encodes an event whose id is the token for offsets. The
// frame keeps its own copies of id and data so that a resume can re-encode
// it with another id.
func (h *Hub) newFrameLocked(event string, offsets []int64, data []byte) *frame {
	id := appendToken(make([]byte, 0, 16+6*len(offsets)), h.fingerprint, offsets)
	return &frame{
		id:   id,
		data: slices.Clone(data),
		wire: h.enc.AppendEvent(make([]byte, 0, len(id)+len(data)+32), event, id, data),
	}
}

func (h *Hub) pushHistoryLocked(f *frame) {
	limit := h.cfg.HistorySize
	if limit == 0 {
		return
	}
	oldest := f.at.Add(-h.cfg.HistoryAge)
	for h.size > 0 && (h.size >= limit || h.history[h.head].at.Before(oldest)) {
		h.evictLocked()
	}
	if h.size == len(h.history) { // grow the ring up to limit
		grown := make([]*frame, min(limit, 2*len(h.history)))
		for i := range h.size {
			grown[i] = h.history[(h.head+i)%len(h.history)]
		}
		h.history, h.head = grown, 0
	}
	h.history[(h.head+h.size)%len(h.history)] = f
	h.size++
}

func (h *Hub) evictLocked() {
	f := h.history[h.head]
	h.history[h.head] = nil
	h.head = (h.head + 1) % len(h.history)
	h.size--
	h.starts[f.partition] = max(h.starts[f.partition], f.offset+1)
}

// deliverLocked queues f for sub, honouring the subscriber's resume floor:
// events the client already has are skipped, and while this node's offsets
// trail the token the client resumed from, ids carry the larger of both so
// that a later resume elsewhere neither repeats nor skips.
func (h *Hub) deliverLocked(sub *Subscriber, f *frame, now time.Time) {
	if sub.floor != nil {
		if f.offset < sub.floor[f.partition] {
			return
		}
		_, vec, err := parseToken(f.id, h.vec)
		if err != nil || len(vec) != len(sub.floor) {
			return
		}
		h.vec = vec
		dominated := true
		for i, o := range vec {
			if o < sub.floor[i] {
				vec[i], dominated = sub.floor[i], false
			}
		}
		if dominated {
			sub.floor = nil
		} else {
			f = &frame{seq: f.seq, partition: f.partition, offset: f.offset, symbol: f.symbol, at: f.at,
				wire: h.enc.AppendEvent(nil, "quote", appendToken(nil, h.fingerprint, vec), f.data)}
		}
	}
	h.stats.Delivered.Add(1)
	if sub.push(f, now, h.cfg) {
		h.stats.Conflated.Add(1)
	}
}

// Quotes returns the current quotes of symbols, or of every known symbol
// when symbols is empty, sorted by symbol. Symbols with no quote are left out.
func (h *Hub) Quotes(symbols []tape.Symbol) []tape.Quote {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.quotesLocked(symbols)
}

func (h *Hub) quotesLocked(symbols []tape.Symbol) []tape.Quote {
	var out []tape.Quote
	if len(symbols) == 0 {
		out = make([]tape.Quote, 0, len(h.quotes))
		for _, st := range h.quotes {
			if !st.quote.Time.IsZero() {
				out = append(out, st.quote)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
		return out
	}
	out = make([]tape.Quote, 0, len(symbols))
	for _, s := range symbols {
		if st := h.quotes[s]; st != nil && !st.quote.Time.IsZero() {
			out = append(out, st.quote)
		}
	}
	return out
}

// Recent returns up to RecentTicks past quotes of sym, oldest first.
func (h *Hub) Recent(sym tape.Symbol) []tape.Quote {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.quotes[sym]
	if st == nil {
		return nil
	}
	out := make([]tape.Quote, 0, len(st.recent))
	out = append(out, st.recent[st.next:]...)
	return append(out, st.recent[:st.next]...)
}

// Subscribe opens a stream of events for symbols. With an empty
// lastEventID, or one that cannot be resumed exactly, the stream begins
// with a snapshot event; otherwise with the events the client missed.
func (h *Hub) Subscribe(symbols []tape.Symbol, lastEventID string) (*Subscriber, error) {
	if len(symbols) > h.cfg.MaxSymbols {
		return nil, fmt.Errorf("stream: %d symbols, limit %d: %w", len(symbols), h.cfg.MaxSymbols, tape.ErrTooMany)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, ErrClosed
	case !h.ready:
		return nil, ErrNotReady
	case h.nsubs >= h.cfg.MaxSubscribers:
		return nil, ErrFull
	}
	sub := newSubscriber(h, symbols)
	now := time.Now()
	reason := ReasonNew
	if lastEventID != "" {
		reason = h.resumeLocked(sub, []byte(lastEventID), now)
	}
	if reason != "" {
		h.stats.Snapshots.Add(1)
		sub.push(h.snapshotLocked(symbols, reason), now, h.cfg)
	} else {
		h.stats.Resumed.Add(1)
	}
	for _, s := range symbols {
		m := h.subs[s]
		if m == nil {
			m = make(map[*Subscriber]struct{})
			h.subs[s] = m
		}
		m[sub] = struct{}{}
	}
	h.nsubs++
	h.stats.Subscribed.Add(1)
	return sub, nil
}

// resumeLocked queues the events sub missed since token and returns "", or
// returns the reason it cannot and queues nothing.
func (h *Hub) resumeLocked(sub *Subscriber, token []byte, now time.Time) string {
	fp, floor, err := parseToken(token, nil)
	if err != nil || fp != h.fingerprint || len(floor) != len(h.offsets) {
		return ReasonUnknown
	}
	ahead := false
	for p, o := range floor {
		if o < h.starts[p] {
			return ReasonExpired
		}
		ahead = ahead || o > h.offsets[p]
	}
	sub.floor = floor
	want := sub.wants()
	for i := range h.size {
		f := h.history[(h.head+i)%len(h.history)]
		if want(f.symbol) {
			h.deliverLocked(sub, f, now)
		}
	}
	// While this node trails the token, sub.floor filters live events
	// until the node passes the client's position. A token that stays
	// ahead (corrupt, or from a cluster with the same topic name) would
	// filter forever: after the grace period it gets a snapshot.
	if ahead {
		time.AfterFunc(h.cfg.ResumeGrace, func() { h.checkAhead(sub) })
	}
	return ""
}

// checkAhead gives sub a snapshot if this node never reached its token.
func (h *Hub) checkAhead(sub *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sub.floor == nil || sub.Err() != nil {
		return
	}
	for p, o := range sub.floor {
		if o > h.offsets[p] {
			sub.floor = nil
			h.stats.Snapshots.Add(1)
			sub.push(h.snapshotLocked(sub.symbols, ReasonUnknown), time.Now(), h.cfg)
			return
		}
	}
}

// snapshotLocked encodes a snapshot event of symbols' current quotes.
func (h *Hub) snapshotLocked(symbols []tape.Symbol, reason string) *frame {
	data := append(h.scratch[:0], `{"reason":"`...)
	data = append(data, reason...)
	data = append(data, `","quotes":[`...)
	for i, q := range h.quotesLocked(symbols) {
		if i > 0 {
			data = append(data, ',')
		}
		data = q.AppendJSON(data)
	}
	data = append(data, "]}"...)
	h.scratch = data
	f := h.newFrameLocked("snapshot", h.offsets, data)
	f.seq, f.partition, f.offset = h.seq, -1, -1
	return f
}

// unsubscribe removes sub; called by Subscriber.Close.
func (h *Hub) unsubscribe(sub *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	removed := false
	for _, s := range sub.symbols {
		if m := h.subs[s]; m != nil {
			if _, ok := m[sub]; ok {
				delete(m, sub)
				removed = true
			}
			if len(m) == 0 {
				delete(h.subs, s)
			}
		}
	}
	if removed {
		h.nsubs--
		h.stats.Subscribed.Add(-1)
	}
}

// Close ends every stream with ErrClosed and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	var all []*Subscriber
	for _, m := range h.subs {
		for sub := range m {
			all = append(all, sub)
		}
	}
	h.mu.Unlock()
	for _, sub := range all {
		sub.fail(ErrClosed)
	}
}

// Subscribers returns the number of open streams.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nsubs
}
