package stream

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
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
	// DefaultMaxResume bounds the events one resume replays: a client that
	// missed more gets a snapshot instead, which costs one event.
	DefaultMaxResume = 20_000
	// DefaultSymbolLimit bounds the symbols a node keeps. A full US equity
	// and options-root universe is well below it.
	DefaultSymbolLimit = 250_000
	// DefaultSymbolIdle is how long a symbol may go without an update before
	// it is forgotten: long enough to keep yesterday's quiet names through
	// a weekend.
	DefaultSymbolIdle = 96 * time.Hour
	// DefaultMaxCharts bounds the symbols whose bars and trades a node
	// keeps: at most ~105 KB each (bars.go), ~430 MB in all.
	DefaultMaxCharts = 4096
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
	// MaxResume is the most events one resume replays; a client that
	// missed more of its symbols' events gets a snapshot.
	MaxResume int
	// SymbolLimit is the most symbols the hub keeps; past it, the symbol
	// updated longest ago that no stream watches is forgotten.
	SymbolLimit int
	// SymbolIdle forgets symbols not updated for this long (by this
	// node's clock) that no stream watches.
	SymbolIdle time.Duration
	// MaxCharts is the most symbols whose bars and time and sales the
	// hub keeps; past it, the chart of the symbol traded longest ago is
	// dropped.
	MaxCharts int
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.HistorySize, DefaultHistorySize)
	def(&c.SubscriberBuffer, DefaultSubscriberBuffer)
	def(&c.MaxSubscribers, DefaultMaxSubscribers)
	def(&c.MaxSymbols, DefaultMaxSymbols)
	def(&c.MaxResume, DefaultMaxResume)
	def(&c.SymbolLimit, DefaultSymbolLimit)
	def(&c.MaxCharts, DefaultMaxCharts)
	defDur(&c.HistoryAge, DefaultHistoryAge)
	defDur(&c.StallTimeout, DefaultStallTimeout)
	defDur(&c.ResumeGrace, DefaultResumeGrace)
	defDur(&c.SymbolIdle, DefaultSymbolIdle)
	return c
}

// Limits of Config fields, checked by Validate.
const (
	MaxHistorySize    = 50_000_000
	MaxSubscriberBuf  = 1 << 16
	MaxSubscribersCap = 1_000_000
	MaxSymbolsCap     = 10_000
	MaxSymbolLimit    = 50_000_000
	MaxChartsCap      = 1_000_000
)

// Validate reports the first field outside its range, naming it.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	intIn := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s is %d, want %d to %d", name, v, lo, hi))
		}
	}
	durIn := func(name string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s is %s, want %s to %s", name, v, lo, hi))
		}
	}
	intIn("HistorySize", c.HistorySize, 1, MaxHistorySize)
	durIn("HistoryAge", c.HistoryAge, time.Second, 7*24*time.Hour)
	intIn("SubscriberBuffer", c.SubscriberBuffer, 1, MaxSubscriberBuf)
	durIn("StallTimeout", c.StallTimeout, time.Second, time.Hour)
	intIn("MaxSubscribers", c.MaxSubscribers, 1, MaxSubscribersCap)
	intIn("MaxSymbols", c.MaxSymbols, 1, MaxSymbolsCap)
	durIn("ResumeGrace", c.ResumeGrace, time.Millisecond, time.Minute)
	intIn("MaxResume", c.MaxResume, 1, MaxHistorySize)
	intIn("SymbolLimit", c.SymbolLimit, 1, MaxSymbolLimit)
	durIn("SymbolIdle", c.SymbolIdle, time.Minute, 365*24*time.Hour)
	intIn("MaxCharts", c.MaxCharts, 1, MaxChartsCap)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stream: %w", err)
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
	ReasonExpired = "expired" // the gap is older than the node's history, or longer than MaxResume events
	ReasonUnknown = "unknown" // the token is corrupt, from another cluster or from the future
)

// An Encoder frames one event for the wire; ui's SSE framer is one.
type Encoder interface {
	AppendEvent(dst []byte, event string, id, data []byte) []byte
}

// frame is one encoded event, shared by every subscriber that gets it.
// Frames are immutable once made. A frame and its bytes come from the
// hub's arena (arena.go): framing an event allocates nothing of its own,
// and a retained event costs its wire bytes plus this header.
type frame struct {
	seq    uint64
	offset int64
	at     int64  // when the node applied it, Unix nanoseconds
	key    string // conflation key: the symbol, or a name for other events
	// buf holds the whole encoded event (buf[:wireLen]), in which the
	// token and the JSON stand verbatim at idAt and dataAt; when the
	// encoder had to change the JSON (line ends), a copy follows the
	// wire and dataAt points there.
	buf             []byte
	partition       int32 // -1 for events not from the topic (snapshot, status)
	wireLen         int32
	dataAt, dataLen int32
	idAt, idLen     uint16
	owned           bool // it belongs to one stream (ownedFrameLocked)
}

// wire is the whole encoded event.
func (f *frame) wire() []byte { return f.buf[:f.wireLen:f.wireLen] }

// id is the event's token (empty when it has none).
func (f *frame) id() []byte { return f.buf[f.idAt : f.idAt+f.idLen : f.idAt+f.idLen] }

// data is the event's JSON as given to the encoder.
func (f *frame) data() []byte {
	return f.buf[f.dataAt : f.dataAt+f.dataLen : f.dataAt+f.dataLen]
}

// Conflation keys of events that are not quotes; they cannot be symbols.
const (
	keySnapshot = "#snapshot"
	keyStatus   = "#status"
	keyNodes    = "#nodes"
)

// Hub keeps the current quote of every symbol and a bounded history of
// encoded events, and fans events out to subscribers. Events are encoded
// once; a subscriber never blocks the hub: when its buffer is full it is
// conflated to the latest event per symbol, and if it stays stalled it is
// disconnected. All methods are safe for concurrent use.
//
// Work under the hub's lock is bounded by what one call touches: an
// event, one stream's symbols, one page of a listing, the events one
// resume sends. Nothing walks every symbol or the whole history.
type Hub struct {
	cfg Config
	enc Encoder

	mu          sync.Mutex // guards every field below
	fingerprint uint32
	offsets     []int64 // next offset to apply, per partition
	starts      []int64 // oldest offset whose events history still holds, per partition
	firstRead   []int64 // the offset reading began at, per partition: where Backfill stops
	ends        []int64 // newest log end seen, per partition
	readyAt     []int64 // log end at start-up; ready once offsets reach it
	ready       bool
	closed      bool
	seq         uint64
	symbols     universe
	movers      movers    // symbols by move and by volume (movers.go)
	charts      chartList // symbols with bars, by last trade (bars.go)
	nodes       *frame    // the live web nodes, for every new stream (nodes.go)
	newest      time.Time // the feed time of the newest quote held: the feed's clock
	hist        history
	subs        map[tape.Symbol]map[*Subscriber]int32 // the symbol's index in the subscriber's list
	nsubs       int
	conflating  map[*Subscriber]struct{} // subscribers that may hold conflated events
	feedErr     error                    // why the quotes topic cannot be read; nil while it can
	feedSince   time.Time
	scratch     []byte
	idBuf       []byte
	prevQuote   tape.Quote
	// History's binary quotes come from arena; frames, which are only
	// delivered, from passing, so that they never hold a history block
	// alive and their own blocks die soon after they are written.
	arena   arena
	passing arena
	vec     []int64
	// While deferring (ApplyBatch), subscribers to notify are collected
	// in deferred and notified once the batch is applied.
	deferring bool
	deferred  []*Subscriber

	stop  chan struct{} // closed by Close: ends the ticker
	stats Stats
}

// Stats are the hub's counters, for metrics.
type Stats struct {
	Applied    atomic.Int64 // events applied
	Invalid    atomic.Int64 // records on the quotes topic that did not parse
	Repeats    atomic.Int64 // events dropped as repeats of an origin already applied
	Stale      atomic.Int64 // events older than the symbol's current quote, kept out of it
	Delivered  atomic.Int64 // events queued to subscribers
	Conflated  atomic.Int64 // events replaced by a newer one for a slow subscriber
	Deltas     atomic.Int64 // quote events sent as deltas (Options.Delta)
	Slow       atomic.Int64 // subscribers disconnected for stalling
	Resumed    atomic.Int64 // streams resumed from a token
	Snapshots  atomic.Int64 // streams that began with a snapshot
	Subscribed atomic.Int64 // streams currently open
	Symbols    atomic.Int64 // symbols kept
	Evicted    atomic.Int64 // symbols forgotten (idle or over SymbolLimit)
	History    atomic.Int64 // events in the history
}

// tickEvery is how often the hub checks for stalled subscribers and idle
// symbols, whether or not events arrive.
const tickEvery = time.Second

// NewHub returns a hub that frames events with enc. Close it to stop its
// ticker.
func NewHub(cfg Config, enc Encoder) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg:        cfg,
		enc:        enc,
		symbols:    newUniverse(),
		movers:     newMovers(),
		hist:       history{ring: make([]keptEvent, min(cfg.HistorySize, 1024))},
		subs:       make(map[tape.Symbol]map[*Subscriber]int32),
		conflating: make(map[*Subscriber]struct{}),
		stop:       make(chan struct{}),
	}
	go h.tick()
	return h, nil
}

// Config returns the hub's configuration with defaults applied.
func (h *Hub) Config() Config { return h.cfg }

// Stats returns the hub's counters.
func (h *Hub) Stats() *Stats { return &h.stats }

// Init sets the partition layout: the fingerprint of cluster and topic, the
// offset each partition is read from, and each partition's log end at
// start-up. Seeded quotes are kept.
func (h *Hub) Init(fingerprint uint32, starts, ends []int64) error {
	if len(starts) > maxPartitions {
		return fmt.Errorf("%w: %d", ErrTooManyPartitions, len(starts))
	}
	if len(starts) == 0 || len(ends) != len(starts) {
		return fmt.Errorf("stream: %d partitions (want 1 to %d)", len(starts), maxPartitions)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fingerprint = fingerprint
	h.offsets = slices.Clone(starts)
	h.starts = slices.Clone(starts)
	h.firstRead = slices.Clone(starts)
	h.ends = slices.Clone(ends)
	h.readyAt = slices.Clone(ends)
	h.checkReadyLocked()
	return nil
}

// Partitions returns how many partitions of the quotes topic the hub reads.
func (h *Hub) Partitions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.offsets)
}

// AddPartitions extends the hub to n partitions, for partitions added to
// the quotes topic while the node runs. New partitions are read from
// offset 0; tokens made before they existed stay valid and mean "nothing
// of them seen yet". It never shrinks: Kafka cannot remove partitions.
func (h *Hub) AddPartitions(n int) error {
	if n > maxPartitions {
		return fmt.Errorf("%w: %d", ErrTooManyPartitions, n)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.offsets) < n {
		h.offsets = append(h.offsets, 0)
		h.starts = append(h.starts, 0)
		h.ends = append(h.ends, 0)
		h.readyAt = append(h.readyAt, 0)
	}
	return nil
}

// Seed sets the starting value of a symbol, from the quotes.latest topic.
// A seed older than what the hub holds is ignored.
func (h *Hub) Seed(q tape.Quote) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stateLocked(q.Symbol, time.Now())
	if st == nil {
		return
	}
	if !older(&q, &st.quote) {
		// The seed is not marked framed: the history read next still
		// reaches the history, but no older record replaces the seed.
		// No stream holds it, so no delta may follow it (live 0).
		st.quote, st.live = q, 0
		h.movers.update(st)
		if q.Time.After(h.newest) {
			h.newest = q.Time
		}
	}
}

// Newest returns the feed time of the newest quote the hub holds (zero
// when none): the feed's clock, which during a replay is the recording's.
func (h *Hub) Newest() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.newest
}

// stateLocked returns sym's state, making it if need be; nil when the
// universe is full of watched symbols.
func (h *Hub) stateLocked(sym tape.Symbol, now time.Time) *symbolState {
	if st := h.symbols.get(sym); st != nil {
		return st
	}
	if h.symbols.len() >= h.cfg.SymbolLimit && !h.evictOneLocked(now, 0) {
		return nil
	}
	st := h.symbols.add(sym, now)
	h.stats.Symbols.Store(int64(h.symbols.len()))
	return st
}

// Lag returns, per partition of the quotes topic, how many records the
// hub has yet to apply up to the newest log end it has seen; nil before
// it knows the partitions.
func (h *Hub) Lag() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.offsets == nil {
		return nil
	}
	lag := make([]int64, len(h.offsets))
	for p := range lag {
		lag[p] = max(h.ends[p]-h.offsets[p], 0)
	}
	return lag
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

// parsed is a record after parsing, before the hub's lock is taken.
type parsed struct {
	q   tape.Quote
	err error
}

// parsedPool holds the parsing space of ApplyBatch calls (a fetched
// batch is parsed into it), so that a batch makes no allocation; batches
// over maxPooledBatch records are not kept.
var parsedPool = sync.Pool{New: func() any { return new([]parsed) }}

const maxPooledBatch = 4096

// ApplyBatch applies records of partition p in order, as Apply does, and
// tells writers about waiting events only once all are applied, so that a
// stream that gets several of them can send them in one write. Records
// should be what is at hand (a fetched batch), not waited for. Parsing
// happens before the hub's lock is taken.
func (h *Hub) ApplyBatch(p int, recs []Record) {
	scratch := parsedPool.Get().(*[]parsed)
	qs := slices.Grow((*scratch)[:0], len(recs))[:len(recs)]
	defer func() {
		clear(qs) // drop the quotes' strings
		if cap(qs) <= maxPooledBatch {
			*scratch = qs[:0]
			parsedPool.Put(scratch)
		}
	}()
	for i, r := range recs {
		qs[i].q, qs[i].err = tape.ParseQuoteView(r.Value) // origins copied where kept (keepOrigin)
	}
	now := time.Now()
	h.mu.Lock()
	h.deferring = true
	for i, r := range recs {
		h.applyLocked(p, r.Offset, &qs[i], r.HighWater, now)
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

// applyLocked applies one record of the quotes topic: the folded quote of
// its symbol after one event, carrying its fold position (seq). The fold
// stage owns the market rules; a node only keeps, per symbol, the quote
// with the newest position, and frames every record it has not framed
// before, in topic order, so that a resume replays exactly what happened.
func (h *Hub) applyLocked(p int, off int64, pq *parsed, highWater int64, now time.Time) {
	if p < 0 || p >= len(h.offsets) || off < h.offsets[p] {
		return
	}
	h.offsets[p] = off + 1
	h.ends[p] = max(h.ends[p], highWater, off+1)
	if pq.err != nil {
		h.stats.Invalid.Add(1)
		return
	}
	q := &pq.q
	st := h.stateLocked(q.Symbol, now)
	if st == nil {
		h.stats.Invalid.Add(1)
		return
	}
	if q.Seq.IsSet() && st.framed.IsSet() && q.Seq.Partition == st.framed.Partition && q.Seq.Offset <= st.framed.Offset {
		// A fold stage that crashed folded these events again: the same
		// quote at the same position, already framed.
		h.stats.Repeats.Add(1)
		return
	}
	if q.Seq.IsSet() {
		st.framed = q.Seq
	}
	h.addPrintLocked(st, q, true)
	live := !older(q, &st.quote)
	prevLive := st.live
	var prev *tape.Quote // what the symbol's subscribers hold, for deltas
	if live {
		if len(h.subs[q.Symbol]) > 0 {
			// Deltas carry no origin, and the held one is a view of the
			// buffer keepOrigin is about to write over.
			h.prevQuote = st.quote
			h.prevQuote.Origin = ""
			prev = &h.prevQuote
		}
		st.keepOrigin(q)
		st.quote = *q
		st.record(q)
		h.movers.update(st)
		if q.Time.After(h.newest) {
			h.newest = q.Time
		}
	} else {
		// Older than what the node holds (its seed from quotes.latest
		// while it catches up): history for resumes, but never shown as
		// the current value.
		h.stats.Stale.Add(1)
	}
	h.symbols.touch(st, now)
	h.stats.Applied.Add(1)
	h.seq++

	h.pushHistoryLocked(st, q, int32(p), off, h.seq, now.UnixNano())
	if !live {
		return
	}
	st.live = h.seq
	subs := h.subs[q.Symbol]
	if len(subs) == 0 {
		return // framed for no one: a resume frames it from the history
	}
	h.scratch = q.AppendJSON(h.scratch[:0])
	f := h.newFrameLocked("quote", h.offsets, h.scratch)
	f.seq, f.partition, f.offset, f.key, f.at = h.seq, int32(p), off, string(q.Symbol), now.UnixNano()
	var d *frame // the delta from prev, made for the first stream that may take it
	for sub, i := range subs {
		var alt *frame
		if sub.delta {
			// A delta only follows the quote it was made from; the floor
			// of a resume re-encodes ids, which deltas do not take.
			if sub.floor == nil && prevLive != 0 && sub.last[i] == prevLive {
				if d == nil {
					d = h.deltaFrameLocked(f, q, prev)
				}
				alt = d
			}
			sub.last[i] = f.seq
			if sub.floor != nil {
				sub.last[i] = 0
			}
		}
		h.deliverLocked(sub, f, alt, now)
	}
}

// deltaFrameLocked encodes the delta event from prev to q, whose full
// event is f: the same id and position, no event name (an SSE "message").
func (h *Hub) deltaFrameLocked(f *frame, q, prev *tape.Quote) *frame {
	h.scratch = q.AppendDelta(h.scratch[:0], prev)
	d := h.passing.frame()
	encodeFrame(d, &h.passing, h.enc, "", f.id(), h.scratch)
	d.seq, d.partition, d.offset, d.key, d.at = f.seq, f.partition, f.offset, f.key, f.at
	return d
}

// older reports whether a is an earlier state of its symbol than b: an
// earlier fold position in the same partition, or, where positions cannot
// be compared (one has none, or the symbol moved to another partition
// when partitions were added), an earlier feed time.
func older(a, b *tape.Quote) bool {
	if a.Seq.IsSet() && b.Seq.IsSet() && a.Seq.Partition == b.Seq.Partition {
		return a.Seq.Offset < b.Seq.Offset
	}
	return a.Time.Before(b.Time)
}

// newFrameLocked encodes an event whose id is the token for offsets (none
// when offsets is nil), in the passing arena. The frame holds the token
// and data so that a resume can re-encode it with another id.
func (h *Hub) newFrameLocked(event string, offsets []int64, data []byte) *frame {
	h.idBuf = h.idBuf[:0]
	if offsets != nil {
		h.idBuf = appendToken(h.idBuf, h.fingerprint, offsets)
	}
	f := h.passing.frame()
	encodeFrame(f, &h.passing, h.enc, event, h.idBuf, data)
	return f
}

// encodeFrame fills f's bytes: the event framed by enc, with the id and
// the data found in it (copied after it where enc changed the data).
// Bytes come from a when it is not nil.
func encodeFrame(f *frame, a *arena, enc Encoder, event string, id, data []byte) {
	// SSE adds 21 bytes around an event's name, id and data; more when
	// the data has line ends, and then append moves past the room given.
	need := len(id) + len(event) + len(data) + 32
	buf := fillFrame(f, a.room(need), enc, event, id, data)
	a.keep(buf)
	f.buf = buf[:len(buf):len(buf)]
}

// fillFrame appends the event to buf, sets f's places in it and returns
// buf; f.buf is the caller's to set.
func fillFrame(f *frame, buf []byte, enc Encoder, event string, id, data []byte) []byte {
	buf = enc.AppendEvent(buf, event, id, data)
	wireLen := len(buf)
	idAt := 0
	if len(id) > 0 {
		idAt = bytes.Index(buf, id)
	}
	dataAt := -1
	if idAt >= 0 {
		if i := bytes.Index(buf[idAt+len(id):], data); i >= 0 {
			dataAt = idAt + len(id) + i
		}
	}
	if idAt < 0 || dataAt < 0 || len(id) > math.MaxUint16 {
		// The encoder changed them: keep copies after the wire.
		idAt = len(buf)
		buf = append(buf, id...)
		dataAt = len(buf)
		buf = append(buf, data...)
	}
	f.wireLen, f.dataAt, f.dataLen = int32(wireLen), int32(dataAt), int32(len(data))
	f.idAt, f.idLen = uint16(idAt), uint16(len(id))
	return buf
}

// ownedFrames holds frames that belonged to one stream (snapshots) once
// they are written, with their buffers, for the next stream that opens:
// a storm of new streams then reuses a few buffers rather than leaving a
// snapshot's worth of garbage behind each, which is what grew a node's
// heap (and RSS) while streams opened.
var ownedFrames = sync.Pool{New: func() any { return new(frame) }}

// maxOwnedBuf bounds the buffers ownedFrames keeps (a snapshot of 50
// quotes).
const maxOwnedBuf = 16 << 10

// ownedFrameLocked encodes an event for one stream, whose id is the token
// for the hub's offsets, in a frame from ownedFrames; Subscriber.WriteTo
// puts it back once written.
func (h *Hub) ownedFrameLocked(event string, data []byte) *frame {
	f := ownedFrames.Get().(*frame)
	buf := f.buf[:0]
	*f = frame{owned: true}
	h.idBuf = appendToken(h.idBuf[:0], h.fingerprint, h.offsets)
	f.buf = fillFrame(f, buf, h.enc, event, h.idBuf, data)
	return f
}

// releaseOwned puts a written frame from ownedFrameLocked back.
func releaseOwned(f *frame) {
	if f.owned && cap(f.buf) <= maxOwnedBuf {
		f.owned = false
		ownedFrames.Put(f)
	}
}

// deliverLocked queues f, or its delta d when d is not nil and the
// subscriber can take it, for sub, honouring the subscriber's resume floor:
// events the client already has are skipped, and while this node's offsets
// trail the token the client resumed from, ids carry the larger of both so
// that a later resume elsewhere neither repeats nor skips.
func (h *Hub) deliverLocked(sub *Subscriber, f, d *frame, now time.Time) {
	if sub.floor != nil && f.partition >= 0 {
		d = nil
		if int(f.partition) < len(sub.floor) && f.offset < sub.floor[f.partition] {
			return
		}
		vec, err := parseToken(f.id(), h.fingerprint, h.vec)
		if err != nil {
			return
		}
		vec = padOffsets(vec, len(sub.floor))
		h.vec = vec
		dominated := true
		for i, o := range sub.floor {
			if vec[i] < o {
				vec[i], dominated = o, false
			}
		}
		if dominated {
			sub.floor = nil
		} else {
			g := &frame{seq: f.seq, partition: f.partition, offset: f.offset, key: f.key, at: f.at}
			encodeFrame(g, nil, h.enc, "quote", appendToken(nil, h.fingerprint, vec), f.data())
			f = g
		}
	}
	h.pushLocked(sub, f, d, now)
}

// pushLocked queues f, or its delta d, for sub, and counts it.
func (h *Hub) pushLocked(sub *Subscriber, f, d *frame, now time.Time) {
	h.stats.Delivered.Add(1)
	how, delta := sub.push(f, d, now, h.cfg)
	if delta {
		h.stats.Deltas.Add(1)
	}
	switch how {
	case pushConflated:
		h.stats.Conflated.Add(1)
		h.conflating[sub] = struct{}{}
	case pushPending:
		h.conflating[sub] = struct{}{}
	}
}

// padOffsets extends an offset vector from before partitions were added
// with zeros: the client has seen nothing of the new partitions.
func padOffsets(vec []int64, n int) []int64 {
	for len(vec) < n {
		vec = append(vec, 0)
	}
	return vec
}

// Quotes returns the current quotes of symbols, in the order given;
// symbols with no quote are left out.
func (h *Hub) Quotes(symbols []tape.Symbol) []tape.Quote {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.quotesLocked(symbols)
}

func (h *Hub) quotesLocked(symbols []tape.Symbol) []tape.Quote {
	out := make([]tape.Quote, 0, len(symbols))
	for _, s := range symbols {
		if st := h.symbols.get(s); st != nil && !st.quote.Time.IsZero() {
			out = append(out, st.current())
		}
	}
	return out
}

// MaxPage is the most quotes one Page call returns.
const MaxPage = 1000

// Page returns up to limit quotes (at most MaxPage) of the symbols after
// the symbol after ("" for the first page), in symbol order, and whether
// more follow. It costs O(log symbols + limit) under the hub's lock.
func (h *Hub) Page(after tape.Symbol, limit int) (quotes []tape.Quote, more bool) {
	limit = min(max(limit, 1), MaxPage)
	quotes = make([]tape.Quote, 0, min(limit, 64))
	h.mu.Lock()
	defer h.mu.Unlock()
	h.symbols.ascend(after, func(st *symbolState) bool {
		if st.quote.Time.IsZero() {
			return true
		}
		if len(quotes) == limit {
			more = true
			return false
		}
		quotes = append(quotes, st.current())
		return true
	})
	return quotes, more
}

// Recent returns the marks (Quote.Mark) of up to RecentTicks past updates
// of sym, oldest first; updates with no mark are left out.
func (h *Hub) Recent(sym tape.Symbol) []tape.Price {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.symbols.get(sym)
	if st == nil {
		return nil
	}
	out := make([]tape.Price, 0, len(st.recent))
	out = append(out, st.recent[st.recentNext:]...)
	return append(out, st.recent[:st.recentNext]...)
}

// Subscribe opens a stream of events for symbols. With an empty
// lastEventID, or one that cannot be resumed exactly, the stream begins
// with a snapshot event; otherwise with the events the client missed.
// The hub keeps its own copies of the symbols and the id.
func (h *Hub) Subscribe(symbols []tape.Symbol, lastEventID string) (*Subscriber, error) {
	return h.SubscribeWith(symbols, lastEventID, Options{})
}

// Options are a stream's choices.
type Options struct {
	// Delta asks for delta events (tape.Quote.AppendDelta) where the
	// client holds the symbol's previous quote, full quotes elsewhere.
	Delta bool
	// MaxRate caps the stream's quotes per symbol per second
	// (Subscriber.SetMaxRate); 0 for none.
	MaxRate float64
}

// SubscribeWith is Subscribe with options.
func (h *Hub) SubscribeWith(symbols []tape.Symbol, lastEventID string, opts Options) (*Subscriber, error) {
	if len(symbols) > h.cfg.MaxSymbols {
		return nil, fmt.Errorf("stream: %d symbols, limit %d: %w", len(symbols), h.cfg.MaxSymbols, tape.ErrTooMany)
	}
	own := make([]tape.Symbol, len(symbols))
	token := []byte(lastEventID)
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
	// The stream keeps its symbols past the request whose buffers they
	// may point into: the hub's own copy where it knows the symbol, else
	// a copy of its own.
	for i, s := range symbols {
		if st := h.symbols.get(s); st != nil {
			own[i] = st.sym
		} else {
			own[i] = tape.Symbol(strings.Clone(string(s)))
		}
	}
	sub := newSubscriber(h, own)
	sub.SetMaxRate(opts.MaxRate)
	if opts.Delta {
		sub.delta, sub.last = true, make([]uint64, len(own))
	}
	now := time.Now()
	reason := ReasonNew
	if len(token) > 0 {
		reason = h.resumeLocked(sub, token, now)
	}
	if reason != "" {
		h.stats.Snapshots.Add(1)
		sub.push(h.snapshotLocked(own, reason), nil, now, h.cfg)
		// The client holds what the snapshot says: deltas may follow.
		for i := range sub.last {
			if st := h.symbols.get(own[i]); st != nil && !st.quote.Time.IsZero() {
				sub.last[i] = st.live
			}
		}
	} else {
		h.stats.Resumed.Add(1)
	}
	if h.feedErr != nil {
		sub.push(h.statusFrameLocked(), nil, now, h.cfg)
	}
	if h.nodes != nil {
		sub.push(h.nodes, nil, now, h.cfg)
	}
	for i, s := range own {
		m := h.subs[s]
		if m == nil {
			m = make(map[*Subscriber]int32)
			h.subs[s] = m
		}
		m[sub] = int32(i)
	}
	h.nsubs++
	h.stats.Subscribed.Add(1)
	return sub, nil
}

// checkAhead gives sub a snapshot if this node never reached its token.
func (h *Hub) checkAhead(sub *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sub.floor == nil || sub.Err() != nil {
		return
	}
	for p, o := range sub.floor {
		if p >= len(h.offsets) || o > h.offsets[p] {
			sub.floor = nil
			h.stats.Snapshots.Add(1)
			sub.push(h.snapshotLocked(sub.symbols, ReasonUnknown), nil, time.Now(), h.cfg)
			return
		}
	}
}

// snapshotLocked encodes a snapshot event of symbols' current quotes.
func (h *Hub) snapshotLocked(symbols []tape.Symbol, reason string) *frame {
	data := append(h.scratch[:0], `{"reason":"`...)
	data = append(data, reason...)
	data = append(data, `","quotes":[`...)
	n := 0
	for _, s := range symbols {
		st := h.symbols.get(s)
		if st == nil || st.quote.Time.IsZero() {
			continue
		}
		if n > 0 {
			data = append(data, ',')
		}
		data = st.quote.AppendJSON(data)
		n++
	}
	data = append(data, "]}"...)
	h.scratch = data
	f := h.ownedFrameLocked("snapshot", data)
	f.seq, f.partition, f.offset, f.key = h.seq, -1, -1, keySnapshot
	return f
}

// unsubscribe removes sub; called by Subscriber.Close.
func (h *Hub) unsubscribe(sub *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conflating, sub)
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

// Close ends every stream with ErrClosed, refuses new ones and stops the
// hub's ticker.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.stop)
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

// tick runs the hub's periodic work until Close.
func (h *Hub) tick() {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			h.Tick(now)
		}
	}
}

// maxEvictPerTick bounds the idle symbols one tick forgets, which bounds
// the time it holds the lock.
const maxEvictPerTick = 2048

// Tick does the hub's periodic work as of now: it disconnects subscribers
// stalled past StallTimeout (whether or not new events arrive for them),
// forgets idle symbols and ages out history. The hub calls it every
// second; tests may call it directly.
func (h *Hub) Tick(now time.Time) {
	var slow []*Subscriber
	h.mu.Lock()
	for sub := range h.conflating {
		switch sub.stalled(now, h.cfg.StallTimeout) {
		case stallNo:
		case stallDrained:
			delete(h.conflating, sub)
		case stallYes:
			delete(h.conflating, sub)
			slow = append(slow, sub)
		}
	}
	for range maxEvictPerTick {
		if !h.evictOneLocked(now, h.cfg.SymbolIdle) {
			break
		}
	}
	h.hist.expireLocked(h, now.UnixNano()-int64(h.cfg.HistoryAge))
	h.mu.Unlock()
	for _, sub := range slow {
		h.stats.Slow.Add(1)
		sub.failSlow()
	}
}

// SetFeedError records whether the quotes topic can be read: a non-nil
// err means it cannot (the broker is unreachable), nil that it can again.
// Every stream is told on each change with an "event: status", so pages
// show the prices as stale instead of live.
func (h *Hub) SetFeedError(err error) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if (err == nil) == (h.feedErr == nil) {
		if err != nil {
			h.feedErr = err // keep the newest cause, and the first time
		}
		return
	}
	h.feedErr = err
	h.feedSince = now
	h.broadcastLocked(h.statusFrameLocked(), now)
}

// broadcastLocked delivers f to every subscriber once.
func (h *Hub) broadcastLocked(f *frame, now time.Time) {
	seen := make(map[*Subscriber]bool, h.nsubs)
	for _, m := range h.subs {
		for sub := range m {
			if !seen[sub] {
				seen[sub] = true
				h.deliverLocked(sub, f, nil, now)
			}
		}
	}
}

// FeedState returns since when the quotes topic cannot be read and why,
// or a nil error while it can.
func (h *Hub) FeedState() (since time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.feedSince, h.feedErr
}

// statusFrameLocked encodes the feed's state as an "event: status":
// {"feed":"live"} or {"feed":"stale","since":"…"}. It has no id, so it
// does not move a client's resume position.
func (h *Hub) statusFrameLocked() *frame {
	data := []byte(`{"feed":"live"}`)
	if h.feedErr != nil {
		data = append([]byte(`{"feed":"stale","since":"`), tape.AppendTime(nil, h.feedSince)...)
		data = append(data, `"}`...)
	}
	f := h.newFrameLocked("status", nil, data)
	f.seq, f.partition, f.offset, f.key = h.seq, -1, -1, keyStatus
	return f
}
