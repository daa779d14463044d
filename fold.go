package tape

import (
	"slices"
	"time"
)

// Bounds on what a Fold remembers per symbol. Together they bound its
// memory (about 70 KiB at most) and its checkpoint (MaxCheckpointBytes).
const (
	// MaxFoldTrades is how many of the trading day's latest trades a fold
	// remembers by id, price, size and conditions. A repeat of one of
	// them is dropped; a cancel or correction of one is applied exactly.
	// A repeat of an older trade counts again, and a cancel or correction
	// of an older trade (or of an earlier day's) changes nothing: the
	// fold never takes back what it cannot prove it added.
	MaxFoldTrades = 2048
	// MaxFoldLevels bounds the day's price ladder: the distinct prices of
	// trades eligible for high and low, each with its count of trades.
	// Past the bound the middle level is dropped, keeping the lowest and
	// highest 128, so high and low stay exact unless cancels empty more
	// than 128 levels at one end; then the nearest kept level is shown.
	MaxFoldLevels = 256
	// MaxFoldEdges bounds the windows of the day's earliest trades
	// eligible for the open and of the latest trades eligible for the
	// last price. Cancelling one of them shows the next; if cancels empty
	// a window, open or last is shown as unknown (null) until the next
	// eligible trade.
	MaxFoldEdges = 16
)

// Fold is the state of one symbol built from its events, in the order
// the fold stage reads them: the book, the last trade and the trading
// day's statistics. Every rule of how an event changes a quote lives
// here, once:
//
//   - Repeats: an event at a fold position (Seq) not after the last one
//     applied is dropped, as is a trade whose id the fold remembers (the
//     same trade in one array, in two messages, or in a raw message a
//     producer wrote twice).
//   - Time never goes back: a quote older than the book is dropped; a late
//     trade counts in volume, high and low but moves last only if it is
//     the latest eligible trade; Quote.Time is the newest time seen.
//   - Sale conditions: a trade updates only what Event.Ineligible allows.
//   - Cancels and corrections take the trade out (and put the corrected
//     one in) as if the original had never counted, restoring high, low,
//     open and last from the ladder and windows.
//   - One-sided quotes and FIX deletes: a stated side with no price is
//     removed, never left stale.
//   - Trading days: an event of a later day starts it (volume, open,
//     high and low restart; the book and last stay); events of an earlier
//     day are dropped.
//   - Volume saturates at MaxSize and then stays there for the day; it
//     never wraps, and the symbol keeps updating.
//
// Apply depends only on the events and their order (never on the clock
// or map order), and the whole state round-trips through AppendCheckpoint
// and ParseCheckpoint, so a fold restored from a checkpoint and fed the
// events after it equals one that saw them all. The zero Fold is ready to
// use. A Fold is not safe for concurrent use.
type Fold struct {
	q        Quote     // Seq unused: see seq
	seq      Seq       // position of the last event applied
	hasSeq   bool      //
	bookTime time.Time // time of the last quote applied
	capped   bool      // the day's volume reached MaxSize
	ord      uint64    // trades folded so far: the order of equal times
	levels   []level   // ascending price; the day's high/low-eligible trades
	first    []edge    // ascending (time, ord): the day's earliest open-eligible trades
	latest   []edge    // ascending (time, ord): the latest last-eligible trades, kept across days
	trades   []foldTrade
	head     int     // the oldest trade's slot once trades is full
	index    []int32 // open addressing by key: trades slot + 1, 0 empty
	print    Print   // the trade the event being applied added, if any
}

// foldTrade is a remembered trade.
type foldTrade struct {
	key       uint64 // TradeID.key
	price     Price
	size      Size
	skip      Updates
	cancelled bool
}

// level is one rung of the price ladder.
type level struct {
	price Price
	count uint32
}

// edge is a trade in the open or last window.
type edge struct {
	key   uint64 // 0 if the trade had no id (then it cannot be cancelled)
	price Price
	size  Size
	time  int64 // Unix nanoseconds
	ord   uint64
}

func (a edge) before(b edge) bool { return a.time < b.time || a.time == b.time && a.ord < b.ord }

// NewFold returns an empty fold for sym.
func NewFold(sym Symbol) *Fold {
	f := &Fold{}
	f.q.Symbol = sym
	return f
}

// Quote returns the fold's current quote, with the position of the last
// event applied as its Seq.
func (f *Fold) Quote() Quote {
	q := f.q
	q.Seq = NoSeq
	if f.hasSeq {
		q.Seq = f.seq
	}
	return q
}

// Apply folds e, read at position at of the fold stage's input (NoSeq
// when there is none, as in tests), and reports whether the quote
// changed. It returns false, changing nothing but the position, for a
// repeat, a quote older than the book, an event of an earlier trading
// day, a cancel or correction of a trade the fold does not remember, and
// an event of another symbol.
func (f *Fold) Apply(e *Event, at Seq) bool {
	if at.IsSet() {
		if f.hasSeq && at.Partition == f.seq.Partition && !at.After(f.seq) {
			return false // a position already applied: a repeat after a restart
		}
		f.seq, f.hasSeq = at, true
	}
	switch {
	case f.q.Symbol == "":
		f.q.Symbol = e.Symbol
	case e.Symbol != f.q.Symbol:
		return false
	}
	day := e.Day
	if day == 0 {
		day = DefaultSession(e.class()).Day(e.Time)
	}
	changed := false
	f.print = Print{}
	switch {
	case day < f.q.Day:
		return false
	case day > f.q.Day:
		f.roll(day)
		changed = true
	}
	switch e.Kind {
	case KindQuote:
		changed = f.quote(e) || changed
	case KindTrade:
		changed = f.trade(e) || changed
	case KindQuote | KindTrade:
		q := f.quote(e)
		changed = f.trade(e) || q || changed
	case KindCancel:
		changed = f.cancel(e) || changed
	case KindCorrection:
		changed = f.correct(e) || changed
	}
	if !changed {
		return false
	}
	f.q.Kind, f.q.Source, f.q.Origin = e.Kind, e.Source, e.Origin
	f.q.Print = f.print
	if e.Time.After(f.q.Time) {
		f.q.Time = e.Time
	}
	return true
}

// roll starts trading day day: the day's statistics restart; the book,
// the last trade and its window stay (the last price is the previous
// close until a trade of the new day), but no earlier trade can be
// cancelled any more.
func (f *Fold) roll(day Day) {
	f.q.Day = day
	f.q.Volume, f.q.Open, f.q.High, f.q.Low = 0, 0, 0, 0
	f.capped = false
	f.levels, f.first = f.levels[:0], f.first[:0]
	f.trades, f.head = f.trades[:0], 0
	clear(f.index)
	for i := range f.latest {
		f.latest[i].key = 0
	}
}

func (f *Fold) quote(e *Event) bool {
	if e.Time.Before(f.bookTime) {
		return false
	}
	f.bookTime = e.Time
	sides := e.StatedSides()
	if sides&SideBid != 0 {
		f.q.Bid, f.q.BidSize = e.Bid, e.BidSize
		if e.Bid == 0 {
			f.q.BidSize = 0
		}
	}
	if sides&SideAsk != 0 {
		f.q.Ask, f.q.AskSize = e.Ask, e.AskSize
		if e.Ask == 0 {
			f.q.AskSize = 0
		}
	}
	return true
}

func (f *Fold) trade(e *Event) bool {
	var key uint64
	if !e.TradeID.IsZero() {
		key = e.TradeID.key()
		if f.find(key) >= 0 {
			return false
		}
	}
	ord := f.nextOrd()
	f.add(foldTrade{key: key, price: e.Last, size: e.Size, skip: e.Ineligible}, e.Time.UnixNano(), ord, key != 0)
	f.print = Print{Price: e.Last, Size: e.Size, Time: e.Time, Counts: AllUpdates &^ e.Ineligible}
	if n := len(f.latest); n == 0 || f.latest[n-1].ord != ord {
		f.print.Counts &^= UpdatesLast // a late report: last stays
	}
	return true
}

func (f *Fold) nextOrd() uint64 {
	f.ord++
	return f.ord
}

// add counts trade t, stamped at and ordered by ord, in every statistic
// its conditions allow, and remembers it if told to.
func (f *Fold) add(t foldTrade, at int64, ord uint64, remember bool) {
	if remember {
		f.remember(t)
	}
	if t.skip&UpdatesVolume == 0 && !f.capped {
		var ok bool
		if f.q.Volume, ok = addSize(f.q.Volume, t.size); !ok {
			f.capped = true
		}
	}
	if t.skip&UpdatesHighLow == 0 {
		f.addLevel(t.price)
	}
	e := edge{key: t.key, price: t.price, size: t.size, time: at, ord: ord}
	if t.skip&UpdatesOpen == 0 {
		f.first = keepEarliest(f.first, e)
	}
	if t.skip&UpdatesLast == 0 {
		f.latest = keepLatest(f.latest, e)
	}
	f.refresh()
}

// undo takes trade t out of every statistic it counted in.
func (f *Fold) undo(t foldTrade) {
	if t.skip&UpdatesVolume == 0 && !f.capped {
		f.q.Volume = max(f.q.Volume-t.size, 0)
	}
	if t.skip&UpdatesHighLow == 0 {
		f.removeLevel(t.price)
	}
	f.first = removeEdge(f.first, t.key)
	f.latest = removeEdge(f.latest, t.key)
	f.refresh()
}

// refresh derives open, high, low and last from the ladder and windows.
func (f *Fold) refresh() {
	f.q.Open, f.q.High, f.q.Low = 0, 0, 0
	if len(f.first) > 0 {
		f.q.Open = f.first[0].price
	}
	if n := len(f.levels); n > 0 {
		f.q.Low, f.q.High = f.levels[0].price, f.levels[n-1].price
	}
	f.q.Last, f.q.LastSize = 0, 0
	if n := len(f.latest); n > 0 {
		f.q.Last, f.q.LastSize = f.latest[n-1].price, f.latest[n-1].size
	}
}

func (f *Fold) cancel(e *Event) bool {
	i := f.find(e.Ref.key())
	if i < 0 || f.trades[i].cancelled {
		return false
	}
	f.trades[i].cancelled = true
	f.undo(f.trades[i])
	return true
}

// correct replaces a remembered trade by the corrected one, which keeps
// the original's place in time (so a corrected last trade stays last).
func (f *Fold) correct(e *Event) bool {
	i := f.find(e.Ref.key())
	if i < 0 || f.trades[i].cancelled {
		return false
	}
	orig := f.trades[i]
	at, ord := e.Time.UnixNano(), f.nextOrd()
	if ed, ok := findEdge(f.latest, orig.key); ok {
		at, ord = ed.time, ed.ord
	} else if ed, ok := findEdge(f.first, orig.key); ok {
		at, ord = ed.time, ed.ord
	}
	f.trades[i].cancelled = true
	f.undo(orig)
	key := orig.key
	if !e.TradeID.IsZero() {
		key = e.TradeID.key()
	}
	t := foldTrade{key: key, price: e.Last, size: e.Size, skip: e.Ineligible}
	switch {
	case key == orig.key:
		f.trades[i] = t // the same id with new values: remembered in place
		f.add(t, at, ord, false)
	case f.find(key) >= 0:
		// The corrected trade arrived on its own and counts already.
	default:
		f.add(t, at, ord, true)
	}
	return true
}

// find returns the slot of the remembered trade with key, or -1.
func (f *Fold) find(key uint64) int {
	if len(f.index) == 0 {
		return -1
	}
	mask := len(f.index) - 1
	for i := int(key) & mask; ; i = (i + 1) & mask {
		s := f.index[i]
		if s == 0 {
			return -1
		}
		if f.trades[s-1].key == key {
			return int(s - 1)
		}
	}
}

// remember stores t, forgetting the oldest trade when the ring is full.
func (f *Fold) remember(t foldTrade) {
	if len(f.trades) < MaxFoldTrades {
		f.trades = append(f.trades, t)
		if 2*len(f.trades) > len(f.index) {
			f.reindex()
			return
		}
		f.indexSlot(len(f.trades) - 1)
		return
	}
	slot := f.head
	f.unindex(slot)
	f.trades[slot] = t
	f.head = (f.head + 1) % MaxFoldTrades
	f.indexSlot(slot)
}

// reindex rebuilds the index at twice the size the ring needs, a power
// of two.
func (f *Fold) reindex() {
	n := 16
	for n < 2*len(f.trades) {
		n *= 2
	}
	if cap(f.index) >= n {
		f.index = f.index[:n]
		clear(f.index)
	} else {
		f.index = make([]int32, n)
	}
	for slot := range f.trades {
		f.indexSlot(slot)
	}
}

func (f *Fold) indexSlot(slot int) {
	mask := len(f.index) - 1
	i := int(f.trades[slot].key) & mask
	for f.index[i] != 0 {
		i = (i + 1) & mask
	}
	f.index[i] = int32(slot + 1)
}

// unindex removes slot from the index, shifting back the entries after
// it so that every key stays reachable from its home position.
func (f *Fold) unindex(slot int) {
	mask := len(f.index) - 1
	i := int(f.trades[slot].key) & mask
	for f.index[i] != int32(slot+1) {
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		s := f.index[j]
		if s == 0 {
			break
		}
		home := int(f.trades[s-1].key) & mask
		// Move s into the hole at i unless its home lies cyclically in (i, j].
		if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
			f.index[i] = s
			i = j
		}
	}
	f.index[i] = 0
}

func (f *Fold) addLevel(p Price) {
	i, found := slices.BinarySearchFunc(f.levels, p, func(l level, p Price) int { return cmpPrice(l.price, p) })
	if found {
		f.levels[i].count++
		return
	}
	f.levels = slices.Insert(f.levels, i, level{price: p, count: 1})
	if len(f.levels) > MaxFoldLevels {
		f.levels = slices.Delete(f.levels, len(f.levels)/2, len(f.levels)/2+1)
	}
}

func (f *Fold) removeLevel(p Price) {
	i, found := slices.BinarySearchFunc(f.levels, p, func(l level, p Price) int { return cmpPrice(l.price, p) })
	if !found {
		return // dropped from the middle of the ladder
	}
	if f.levels[i].count--; f.levels[i].count == 0 {
		f.levels = slices.Delete(f.levels, i, i+1)
	}
}

func cmpPrice(a, b Price) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// keepEarliest inserts e into w (ascending) if it is among the
// MaxFoldEdges earliest.
func keepEarliest(w []edge, e edge) []edge {
	i := edgePos(w, e)
	if i == MaxFoldEdges {
		return w
	}
	w = slices.Insert(w, i, e)
	if len(w) > MaxFoldEdges {
		w = w[:MaxFoldEdges]
	}
	return w
}

// keepLatest inserts e into w (ascending) if it is among the
// MaxFoldEdges latest.
func keepLatest(w []edge, e edge) []edge {
	i := edgePos(w, e)
	if i == 0 && len(w) == MaxFoldEdges {
		return w
	}
	w = slices.Insert(w, i, e)
	if len(w) > MaxFoldEdges {
		w = slices.Delete(w, 0, 1)
	}
	return w
}

func edgePos(w []edge, e edge) int {
	i := len(w)
	for i > 0 && e.before(w[i-1]) {
		i--
	}
	return i
}

func removeEdge(w []edge, key uint64) []edge {
	if key == 0 {
		return w
	}
	return slices.DeleteFunc(w, func(e edge) bool { return e.key == key })
}

func findEdge(w []edge, key uint64) (edge, bool) {
	if key != 0 {
		for _, e := range w {
			if e.key == key {
				return e, true
			}
		}
	}
	return edge{}, false
}
