package stream

import (
	"strings"
	"time"
	"unsafe"

	"github.com/google/btree"

	"tape"
)

// symbolState is the hub's view of one symbol.
type symbolState struct {
	sym tape.Symbol
	// quote is the newest state (by fold position); framed is the
	// position of the newest record framed, to drop a fold stage's
	// repeats after a crash.
	quote  tape.Quote
	framed tape.Seq
	origin []byte // the bytes of quote.Origin (keepOrigin)
	// live is the hub sequence number of the frame that made quote (0
	// when quote came from elsewhere, a seed): a delta follows only it.
	live uint64
	// recent is a ring of the marks (Quote.Mark) of the last RecentTicks
	// updates, for sparklines: 8 bytes an update, not a whole quote.
	recent     []tape.Price
	recentNext int
	// chart holds bars and time and sales (bars.go), once it trades;
	// mover is where it stands among movers (movers.go).
	chart *chart
	mover moverPlace
	// kept are the positions of this symbol's events in the history,
	// oldest first (kept[khead:]), so that a resume finds them without a
	// scan; mixed is set once they span partitions (partitions were
	// added).
	kept  []uint64
	khead int
	mixed bool
	// touched is this node's clock at the last update; prev and next link
	// the universe's list ordered by it.
	touched    time.Time
	prev, next *symbolState
}

// keepOrigin copies q's origin, which may be a view of the record being
// applied (tape.ParseQuoteView), into the symbol's own buffer and points
// q's at it, so that keeping a symbol's current quote allocates nothing.
// The buffer is overwritten by the next update: the current quote is read
// under the hub's lock, and whatever leaves it goes through current.
func (st *symbolState) keepOrigin(q *tape.Quote) {
	st.origin = append(st.origin[:0], q.Origin...)
	q.Origin = viewString(st.origin)
}

// current returns the symbol's current quote with an origin of its own,
// for use outside the hub's lock.
func (st *symbolState) current() tape.Quote {
	q := st.quote
	q.Origin = strings.Clone(q.Origin)
	return q
}

// viewString is b's bytes as a string without a copy: b must not change
// while the string is in use (see keepOrigin).
func viewString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// RecentTicks is how many past marks a hub keeps per symbol for
// sparklines.
const RecentTicks = 120

func (st *symbolState) record(q *tape.Quote) {
	m := q.Mark()
	if m == 0 {
		return
	}
	if len(st.recent) < RecentTicks {
		st.recent = append(st.recent, m)
		return
	}
	st.recent[st.recentNext] = m
	st.recentNext = (st.recentNext + 1) % RecentTicks
}

// universe holds the symbols a hub knows: a map for lookups, a B-tree in
// symbol order for paged listings, and a list ordered by last update for
// eviction. Every operation is O(1) or O(log n). Guarded by the hub's lock.
type universe struct {
	byName     map[tape.Symbol]*symbolState
	ordered    *btree.BTreeG[*symbolState]
	head, tail *symbolState // least and most recently updated
}

func newUniverse() universe {
	return universe{
		byName:  make(map[tape.Symbol]*symbolState),
		ordered: btree.NewG(32, func(a, b *symbolState) bool { return a.sym < b.sym }),
	}
}

func (u *universe) len() int                         { return len(u.byName) }
func (u *universe) get(sym tape.Symbol) *symbolState { return u.byName[sym] }

func (u *universe) add(sym tape.Symbol, now time.Time) *symbolState {
	st := &symbolState{sym: sym, quote: tape.Quote{Symbol: sym, Seq: tape.NoSeq}, framed: tape.NoSeq, touched: now}
	u.byName[sym] = st
	u.ordered.ReplaceOrInsert(st)
	u.pushBack(st)
	return st
}

func (u *universe) remove(st *symbolState) {
	delete(u.byName, st.sym)
	u.ordered.Delete(st)
	u.unlink(st)
}

// touch marks st updated at now, moving it to the back of the list.
func (u *universe) touch(st *symbolState, now time.Time) {
	st.touched = now
	if u.tail != st {
		u.unlink(st)
		u.pushBack(st)
	}
}

func (u *universe) pushBack(st *symbolState) {
	st.prev, st.next = u.tail, nil
	if u.tail != nil {
		u.tail.next = st
	} else {
		u.head = st
	}
	u.tail = st
}

func (u *universe) unlink(st *symbolState) {
	if st.prev != nil {
		st.prev.next = st.next
	} else if u.head == st {
		u.head = st.next
	}
	if st.next != nil {
		st.next.prev = st.prev
	} else if u.tail == st {
		u.tail = st.prev
	}
	st.prev, st.next = nil, nil
}

// ascend calls fn with the symbols after after, in order, until it
// returns false.
func (u *universe) ascend(after tape.Symbol, fn func(*symbolState) bool) {
	if after == "" {
		u.ordered.Ascend(fn)
		return
	}
	u.ordered.AscendGreaterOrEqual(&symbolState{sym: after}, func(st *symbolState) bool {
		return st.sym == after || fn(st)
	})
}

// evictOneLocked forgets the least recently updated symbol that no stream
// watches, if it was updated before now-idle (any age when idle is 0). A
// symbol some stream watches is moved to the back instead. It reports
// whether it forgot one. Frames of a forgotten symbol still in the history
// can no longer be found by a resume, so the history's start in their
// partitions moves past them: a resume from before gets a snapshot rather
// than a silent gap.
func (h *Hub) evictOneLocked(now time.Time, idle time.Duration) bool {
	u := &h.symbols
	for tries := 0; u.head != nil && tries < 64; tries++ {
		st := u.head
		if idle > 0 && now.Sub(st.touched) < idle {
			return false
		}
		if len(h.subs[st.sym]) > 0 {
			u.touch(st, now)
			continue
		}
		for _, pos := range st.kept[st.khead:] {
			if e := h.hist.at(pos); int(e.partition) < len(h.starts) {
				h.starts[e.partition] = max(h.starts[e.partition], e.offset+1)
			}
		}
		u.remove(st)
		h.movers.remove(st)
		h.dropChartLocked(st)
		h.stats.Evicted.Add(1)
		h.stats.Symbols.Store(int64(u.len()))
		return true
	}
	return false
}
