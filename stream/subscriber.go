package stream

import (
	"io"
	"slices"
	"sync"
	"time"

	"tape"
)

// Subscriber is one open stream. The hub queues encoded events into it
// without ever blocking; the connection's writer is told that events wait,
// either by a function set with SetNotify (called once per transition from
// drained to waiting, no goroutine needed) or on the Wake channel, and
// calls WriteTo, which writes every waiting event in one go. Safe for
// concurrent use by the hub and one writer.
type Subscriber struct {
	hub     *Hub
	symbols []tape.Symbol
	// floor is the token this stream resumed from, until this node's
	// offsets pass it. Guarded by hub.mu.
	floor []int64

	mu sync.Mutex // guards the fields below
	// queue holds events in order, at most Config.SubscriberBuffer.
	queue []*frame
	spare []*frame
	// pending holds the latest event per symbol once queue is full
	// (conflation); it drains after queue, in event order.
	pending   map[tape.Symbol]*frame
	lastDrain time.Time
	err       error
	onSlow    func()
	// wake is made on the first call of Wake; a writer that uses
	// SetNotify never needs it.
	wake   chan struct{}
	notify func()
	// signalled is set when notify was called and WriteTo has not run
	// since: the writer already knows, so pushes do not call it again.
	signalled bool
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
		symbols:   slices.Clone(symbols),
		lastDrain: time.Now(),
	}
}

// wants returns a membership test for the subscriber's symbols.
func (s *Subscriber) wants() func(tape.Symbol) bool {
	if len(s.symbols) <= 8 {
		return func(sym tape.Symbol) bool { return slices.Contains(s.symbols, sym) }
	}
	set := make(map[tape.Symbol]struct{}, len(s.symbols))
	for _, sym := range s.symbols {
		set[sym] = struct{}{}
	}
	return func(sym tape.Symbol) bool { _, ok := set[sym]; return ok }
}

// push queues f and reports whether an older event was conflated away. A
// subscriber that has not drained for StallTimeout while conflating is
// failed with ErrSlow.
func (s *Subscriber) push(f *frame, now time.Time, cfg Config) (conflated bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false
	}
	if len(s.queue) < cfg.SubscriberBuffer && len(s.pending) == 0 {
		s.queue = append(s.queue, f)
	} else {
		if now.Sub(s.lastDrain) > cfg.StallTimeout {
			s.failLocked(ErrSlow)
			s.hub.stats.Slow.Add(1)
			if s.onSlow != nil {
				go s.onSlow()
			}
			return false
		}
		if s.pending == nil {
			s.pending = make(map[tape.Symbol]*frame)
		}
		_, conflated = s.pending[f.symbol]
		s.pending[f.symbol] = f
	}
	// push runs with the hub's lock held: hub.deferring is safe to read.
	if s.notify != nil && s.hub.deferring {
		if !s.signalled {
			s.signalled = true
			s.hub.deferred = append(s.hub.deferred, s)
		}
		return conflated
	}
	s.signalLocked()
	return conflated
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
	if s.notify != nil {
		if !s.signalled {
			s.signalled = true
			s.notify()
		}
		return
	}
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Wake is signalled when events are waiting or the stream has ended.
func (s *Subscriber) Wake() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
		if len(s.queue) > 0 || len(s.pending) > 0 || s.err != nil {
			s.wake <- struct{}{}
		}
	}
	return s.wake
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
	if len(s.pending) > 0 {
		late = make([]*frame, 0, len(s.pending))
		for _, f := range s.pending {
			late = append(late, f)
		}
		clear(s.pending)
	}
	s.lastDrain = time.Now()
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
			k, e := w.Write(f.wire)
			n += int64(k)
			werr = e
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
		s.signalLocked()
	}
}

// Close ends the stream and releases it from the hub. Safe to call twice.
func (s *Subscriber) Close() {
	s.fail(ErrClosed)
	s.hub.unsubscribe(s)
}
