package stream

import (
	"io"
	"slices"
	"sync"
	"time"

	"tape"
)

// Subscriber is one open stream. The hub queues encoded events into it
// without ever blocking; the connection's writer is told that events wait
// by the function set with SetNotify (called once per transition from
// drained to waiting, no goroutine needed) and calls WriteTo, which writes
// every waiting event in one go. Safe for concurrent use by the hub and
// one writer.
type Subscriber struct {
	hub     *Hub
	symbols []tape.Symbol
	// floor is the token this stream resumed from, until this node's
	// offsets pass it. Guarded by hub.mu.
	floor []int64
	// With Options.Delta, last holds per symbol (in symbols' order) the
	// hub sequence number of the last quote queued for the client, 0
	// when unknown. Guarded by hub.mu; delta never changes.
	delta bool
	last  []uint64

	mu sync.Mutex // guards the fields below
	// queue holds events in order, at most Config.SubscriberBuffer.
	queue []*frame
	spare []*frame
	// pending holds the latest event per key (symbol) once queue is full
	// (conflation); it drains after queue, in event order.
	pending   map[string]*frame
	lastDrain time.Time
	err       error
	onSlow    func()
	notify    func()
	// signalled is set when notify was called and WriteTo has not run
	// since: the writer already knows, so pushes do not call it again.
	signalled bool
	// every is the rate cap's interval (SetMaxRate), 0 for none. With a
	// cap, quotes wait in pending (the latest per symbol) and are written
	// together once per interval: no earlier than release, by a timer
	// armed while they wait.
	every   time.Duration
	release time.Time
	timer   *time.Timer
	armed   bool
}

// SetMaxRate caps the stream at perSecond quotes per symbol per second
// (tape.MinMaxRate to tape.MaxMaxRate; 0 removes the cap), as market-data servers
// offer for phones and wide watchlists: updates that come faster are
// conflated to the latest of their symbol, and the stream sends what
// waits at most once every 1/perSecond seconds, in event order, so that
// ids stay in order and a resume misses nothing that was not sent. Other
// events (snapshot, status) are not held. A value out of range is
// clamped.
func (s *Subscriber) SetMaxRate(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if perSecond <= 0 || perSecond != perSecond {
		s.every = 0
		return
	}
	perSecond = min(max(perSecond, tape.MinMaxRate), tape.MaxMaxRate)
	s.every = time.Duration(float64(time.Second) / perSecond)
}

// SetNotify sets a function called when events start waiting or the
// stream ends, once per transition: after a call, no other until WriteTo
// has run. It is called with the hub's locks held, so it must be quick and
// must not call back into the hub or the subscriber. If events already
// wait, fn is called at once.
func (s *Subscriber) SetNotify(fn func()) {
	s.mu.Lock()
	s.notify = fn
	s.signalled = false
	waiting := len(s.queue) > 0 || len(s.pending) > 0 || s.err != nil
	if waiting {
		s.signalled = true
	}
	s.mu.Unlock()
	if waiting {
		fn()
	}
}

// OnSlow sets a function called (on its own goroutine) when the stream is
// ended for stalling: the connection's writer may be blocked in a write
// that only closing the connection ends.
func (s *Subscriber) OnSlow(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSlow = fn
}

func newSubscriber(h *Hub, symbols []tape.Symbol) *Subscriber {
	return &Subscriber{
		hub:       h,
		symbols:   symbols,
		lastDrain: time.Now(),
	}
}

// What push did with an event.
const (
	pushQueued    = iota // queued in order, or dropped because the stream ended
	pushPending          // the queue is full: kept as the latest of its key
	pushConflated        // as pushPending, replacing an older event of its key
)

// push queues f and says how. Once the queue is full, events are
// conflated: only the latest per key waits. Stalls are judged by the
// hub's ticker (stalled), not here, so a quiet symbol cannot hide one.
// d, when not nil, is f's delta: it is queued instead unless it would
// replace a waiting event of its key, which the client then never gets
// (delta reports whether it was).
func (s *Subscriber) push(f, d *frame, now time.Time, cfg Config) (how int, delta bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return pushQueued, false
	}
	if d != nil {
		if _, waiting := s.pending[f.key]; !waiting {
			f, delta = d, true
		}
	}
	how = pushQueued
	capped := s.every > 0 && f.partition >= 0
	// Under a rate cap, what is not a quote is not held behind quotes.
	room := len(s.queue) < cfg.SubscriberBuffer && (len(s.pending) == 0 || s.every > 0)
	if !capped && room {
		s.queue = append(s.queue, f)
	} else {
		if s.pending == nil {
			s.pending = make(map[string]*frame)
		}
		how = pushPending
		if _, ok := s.pending[f.key]; ok {
			how = pushConflated
		}
		s.pending[f.key] = f
		if capped && now.Before(s.release) {
			// Not yet: the timer tells the writer when.
			s.armLocked(now)
			return how, delta
		}
	}
	// push runs with the hub's lock held: hub.deferring is safe to read.
	if s.notify != nil && s.hub.deferring {
		if !s.signalled {
			s.signalled = true
			s.hub.deferred = append(s.hub.deferred, s)
		}
		return how, delta
	}
	s.signalLocked()
	return how, delta
}

// armLocked makes sure the writer hears of the quotes held by the rate
// cap at the release time.
func (s *Subscriber) armLocked(now time.Time) {
	if s.armed || s.err != nil {
		return
	}
	s.armed = true
	d := s.release.Sub(now)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.released)
	} else {
		s.timer.Reset(d)
	}
}

// released runs on the timer: the held quotes may go.
func (s *Subscriber) released() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	if len(s.pending) > 0 {
		s.signalLocked()
	}
}

// Results of stalled.
const (
	stallNo      = iota // conflating, but within the timeout
	stallDrained        // nothing conflated waits any more
	stallYes            // conflated and not drained for the timeout
)

// stalled judges a conflating subscriber as of now.
func (s *Subscriber) stalled(now time.Time, timeout time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil || len(s.pending) == 0:
		return stallDrained
	case now.Sub(s.lastDrain) > timeout:
		return stallYes
	}
	return stallNo
}

// failSlow ends the stream with ErrSlow and lets its writer know.
func (s *Subscriber) failSlow() {
	s.mu.Lock()
	s.failLocked(ErrSlow)
	fn := s.onSlow
	s.mu.Unlock()
	if fn != nil {
		go fn()
	}
}

// callNotify calls the notify function, for a notification the hub deferred.
func (s *Subscriber) callNotify() {
	s.mu.Lock()
	fn := s.notify
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// signalLocked tells the writer that events wait or the stream ended.
func (s *Subscriber) signalLocked() {
	if s.notify != nil && !s.signalled {
		s.signalled = true
		s.notify()
	}
}

// Symbols returns the symbols of the stream.
func (s *Subscriber) Symbols() []tape.Symbol { return s.symbols }

// WriteTo writes every waiting event to w. Once the stream has ended it
// returns the reason (ErrSlow, ErrClosed) after writing what was waiting.
func (s *Subscriber) WriteTo(w io.Writer) (int64, error) {
	s.mu.Lock()
	batch := s.queue
	s.queue = s.spare[:0]
	var late []*frame
	now := time.Now()
	if s.every > 0 && now.Before(s.release) {
		// The rate cap holds pending until release (a status or a
		// snapshot woke the writer early).
		if len(s.pending) > 0 {
			s.armLocked(now)
		}
	} else if len(s.pending) > 0 {
		s.release = now.Add(s.every)
		late = make([]*frame, 0, len(s.pending))
		for _, f := range s.pending {
			late = append(late, f)
		}
		clear(s.pending)
	}
	s.lastDrain = now
	s.signalled = false
	err := s.err
	s.mu.Unlock()

	slices.SortFunc(late, func(a, b *frame) int { return int(a.seq - b.seq) })
	var n int64
	var werr error
	for _, list := range [][]*frame{batch, late} {
		for _, f := range list {
			if werr != nil {
				break
			}
			k, e := w.Write(f.wire())
			n += int64(k)
			werr = e
			if f.owned { // a snapshot, written: its buffer goes back
				releaseOwned(f)
			}
		}
	}
	clear(batch)
	s.mu.Lock()
	if cap(batch) <= 4*s.hub.cfg.SubscriberBuffer {
		s.spare = batch[:0]
	}
	s.mu.Unlock()
	if werr != nil {
		return n, werr
	}
	return n, err
}

// Err returns why the stream ended, or nil while it is open.
func (s *Subscriber) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Subscriber) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocked(err)
}

func (s *Subscriber) failLocked(err error) {
	if s.err == nil {
		s.err = err
		if s.timer != nil {
			s.timer.Stop()
		}
		s.signalLocked()
	}
}

// Close ends the stream and releases it from the hub. Safe to call twice.
func (s *Subscriber) Close() {
	s.fail(ErrClosed)
	s.hub.unsubscribe(s)
}
