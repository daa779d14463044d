package stream

import (
	"github.com/google/btree"

	"tape"
)

// MaxMovers is the most symbols one list of Movers holds.
const MaxMovers = 50

// movers keeps every symbol with a last price and an open ordered by its
// move since the open, and every symbol with volume ordered by volume, so
// that the top of either list is read in O(log n + k) and one quote moves
// one symbol in O(log n): no sort of all symbols, per request or per
// event. Guarded by the hub's lock.
type movers struct {
	byChange *btree.BTreeG[moverKey]
	byVolume *btree.BTreeG[moverKey]
}

// moverKey orders symbols by a value, then by name.
type moverKey struct {
	v  float64 // the move as a fraction of |open|, or the volume
	st *symbolState
}

func lessMover(a, b moverKey) bool {
	if a.v != b.v {
		return a.v < b.v
	}
	return a.st.sym < b.st.sym
}

func newMovers() movers {
	return movers{byChange: btree.NewG(32, lessMover), byVolume: btree.NewG(32, lessMover)}
}

// moverPlace is where a symbol stands in movers, to find it again.
type moverPlace struct {
	change, volume     float64
	inChange, inVolume bool
}

// update places st by its current quote.
func (m *movers) update(st *symbolState) {
	m.remove(st)
	q := &st.quote
	if q.Last != 0 && q.Open != 0 {
		o := float64(q.Open)
		if o < 0 {
			o = -o
		}
		st.mover.change, st.mover.inChange = (float64(q.Last)-float64(q.Open))/o, true
		m.byChange.ReplaceOrInsert(moverKey{st.mover.change, st})
	}
	if q.Volume > 0 {
		st.mover.volume, st.mover.inVolume = float64(q.Volume), true
		m.byVolume.ReplaceOrInsert(moverKey{st.mover.volume, st})
	}
}

// remove takes st out of movers.
func (m *movers) remove(st *symbolState) {
	if st.mover.inChange {
		m.byChange.Delete(moverKey{st.mover.change, st})
	}
	if st.mover.inVolume {
		m.byVolume.Delete(moverKey{st.mover.volume, st})
	}
	st.mover = moverPlace{}
}

// Movers are the symbols that moved most since their open and traded
// most, each list best first.
type Movers struct {
	Gainers, Losers, Active []tape.Quote
}

// Movers returns up to n (at most MaxMovers) top gainers (up the most
// since the open, in percent), losers and most active (by volume) of
// every symbol the node keeps. It costs O(log symbols + n) under the
// hub's lock.
func (h *Hub) Movers(n int) Movers {
	n = min(max(n, 1), MaxMovers)
	var out Movers
	h.mu.Lock()
	defer h.mu.Unlock()
	h.movers.byChange.Descend(func(k moverKey) bool {
		if k.v <= 0 || len(out.Gainers) == n {
			return false
		}
		out.Gainers = append(out.Gainers, k.st.current())
		return true
	})
	h.movers.byChange.Ascend(func(k moverKey) bool {
		if k.v >= 0 || len(out.Losers) == n {
			return false
		}
		out.Losers = append(out.Losers, k.st.current())
		return true
	})
	h.movers.byVolume.Descend(func(k moverKey) bool {
		if len(out.Active) == n {
			return false
		}
		out.Active = append(out.Active, k.st.current())
		return true
	})
	return out
}

// MaxSearch is the most symbols one Search returns.
const MaxSearch = 20

// Search returns up to n (at most MaxSearch) symbols with a quote that
// begin with prefix, in symbol order. It costs O(log symbols + n) under
// the hub's lock, however many symbols there are.
func (h *Hub) Search(prefix string, n int) []tape.Symbol {
	n = min(max(n, 1), MaxSearch)
	var out []tape.Symbol
	h.mu.Lock()
	defer h.mu.Unlock()
	visit := func(st *symbolState) bool {
		if len(st.sym) < len(prefix) || string(st.sym[:len(prefix)]) != prefix || len(out) == n {
			return false
		}
		if !st.quote.Time.IsZero() {
			out = append(out, st.sym)
		}
		return true
	}
	if prefix == "" {
		h.symbols.ordered.Ascend(visit)
	} else {
		h.symbols.ordered.AscendGreaterOrEqual(&symbolState{sym: tape.Symbol(prefix)}, visit)
	}
	return out
}
