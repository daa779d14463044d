package tape

import (
	"slices"
	"strconv"
)

// CheckpointVersion is the version AppendCheckpoint writes and
// ParseCheckpoint reads.
const CheckpointVersion = 1

// MaxCheckpointBytes bounds a checkpoint's size: a fold at every bound
// (MaxFoldTrades trades, MaxFoldLevels levels, full windows) with the
// longest prices, sizes and texts writes less. ParseCheckpoint refuses
// anything larger.
const MaxCheckpointBytes = 256 << 10

var errCheckpoint = &Error{Code: ECodeInvalid, Message: "invalid fold checkpoint"}

// AppendCheckpoint appends the fold's whole state as one JSON object, for
// the compacted topic the fold stage restores from:
//
//	{"v":1,"quote":{...Quote.AppendJSON...},"book_ts":"2026-11-20T14:30:01.000000000Z","capped":false,"ord":42,
//	 "levels":[["187.42",3],["187.43",1]],
//	 "first":[[key,"187.42","100",unix_ns,ord],...],
//	 "latest":[[key,"187.43","100",unix_ns,ord],...],
//	 "trades":[[key,"187.42","100",flags],...]}
//
// The quote carries the fold position (its seq). levels is the price
// ladder (price, trades), first and latest the open and last windows,
// trades the remembered trades oldest first, each with its id's 64-bit
// key and flags = Updates the trade may not update, plus 16 if it was
// cancelled. It is at most MaxCheckpointBytes long.
func (f *Fold) AppendCheckpoint(dst []byte) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, CheckpointVersion, 10)
	dst = append(dst, `,"quote":`...)
	q := f.Quote()
	dst = q.AppendJSON(dst)
	dst = append(dst, `,"book_ts":"`...)
	dst = AppendTime(dst, f.bookTime)
	dst = append(dst, `","capped":`...)
	dst = strconv.AppendBool(dst, f.capped)
	dst = append(dst, `,"ord":`...)
	dst = strconv.AppendUint(dst, f.ord, 10)
	dst = append(dst, `,"levels":[`...)
	for i, l := range f.levels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `["`...)
		dst = l.price.AppendText(dst)
		dst = append(dst, `",`...)
		dst = strconv.AppendUint(dst, uint64(l.count), 10)
		dst = append(dst, ']')
	}
	dst = append(dst, `],"first":`...)
	dst = appendEdges(dst, f.first)
	dst = append(dst, `,"latest":`...)
	dst = appendEdges(dst, f.latest)
	dst = append(dst, `,"trades":[`...)
	for i := range f.trades {
		t := &f.trades[(f.head+i)%len(f.trades)]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = strconv.AppendUint(dst, t.key, 10)
		dst = append(dst, `,"`...)
		dst = t.price.AppendText(dst)
		dst = append(dst, `","`...)
		dst = t.size.AppendText(dst)
		dst = append(dst, `",`...)
		flags := uint64(t.skip)
		if t.cancelled {
			flags |= cancelledFlag
		}
		dst = strconv.AppendUint(dst, flags, 10)
		dst = append(dst, ']')
	}
	return append(dst, "]}"...)
}

// cancelledFlag marks a cancelled trade in a checkpoint's flags.
const cancelledFlag = 16

func appendEdges(dst []byte, w []edge) []byte {
	dst = append(dst, '[')
	for i, e := range w {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = strconv.AppendUint(dst, e.key, 10)
		dst = append(dst, `,"`...)
		dst = e.price.AppendText(dst)
		dst = append(dst, `","`...)
		dst = e.size.AppendText(dst)
		dst = append(dst, `",`...)
		dst = strconv.AppendInt(dst, e.time, 10)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, e.ord, 10)
		dst = append(dst, ']')
	}
	return append(dst, ']')
}

// checkpointFields are the members of a checkpoint, unparsed.
type checkpointFields struct {
	v, quote, bookTS, capped, ord, levels, first, latest, trades JSONValue
}

func (c *checkpointFields) set(key []byte, v JSONValue) {
	switch string(key) {
	case "v":
		c.v = v
	case "quote":
		c.quote = v
	case "book_ts":
		c.bookTS = v
	case "capped":
		c.capped = v
	case "ord":
		c.ord = v
	case "levels":
		c.levels = v
	case "first":
		c.first = v
	case "latest":
		c.latest = v
	case "trades":
		c.trades = v
	}
}

// ParseCheckpoint restores a fold from what AppendCheckpoint wrote. It
// checks the bounds and order AppendCheckpoint guarantees, so a fold it
// returns behaves like the one that wrote the checkpoint; anything else
// is an error.
func ParseCheckpoint(b []byte) (*Fold, error) {
	if len(b) > MaxCheckpointBytes {
		return nil, errCheckpoint
	}
	var c checkpointFields
	sc := jsonScanner{data: b}
	for i := sc.startObject(); ; i++ {
		key, ok := sc.member(i)
		if !ok {
			break
		}
		c.set(key, sc.value())
	}
	if err := sc.end(); err != nil {
		return nil, err
	}
	f := &Fold{}
	if !f.restore(&c) {
		return nil, errCheckpoint
	}
	return f, nil
}

func (f *Fold) restore(c *checkpointFields) bool {
	if n, ok := jsonUint(c.v, 1<<31); !ok || n != CheckpointVersion || c.quote.Kind() != JSONObject {
		return false
	}
	q, err := ParseQuote(c.quote.raw)
	if err != nil {
		return false
	}
	f.q, f.seq, f.hasSeq = q, q.Seq, q.Seq.IsSet()
	f.q.Seq = Seq{}
	if f.bookTime, err = jsonTime(c.bookTS); err != nil {
		return false
	}
	switch string(c.capped.raw) {
	case "true":
		f.capped = true
	case "false":
	default:
		return false
	}
	var ok bool
	if f.ord, ok = jsonUint(c.ord, 1<<64-1); !ok {
		return false
	}
	if f.levels, ok = parseLevels(c.levels); !ok {
		return false
	}
	if f.first, ok = parseEdges(c.first, f.ord); !ok {
		return false
	}
	if f.latest, ok = parseEdges(c.latest, f.ord); !ok {
		return false
	}
	if f.trades, ok = parseTrades(c.trades); !ok {
		return false
	}
	if len(f.trades) > 0 {
		f.reindex()
		for i := range f.trades {
			if f.find(f.trades[i].key) != i {
				return false // a key twice
			}
		}
	}
	return f.consistent()
}

// consistent reports whether the statistics in the quote are the ones the
// ladder and windows give, as they are after every Apply.
func (f *Fold) consistent() bool {
	q := f.q
	f.refresh()
	return f.q == q
}

func parseLevels(v JSONValue) ([]level, bool) {
	if v.Kind() != JSONArray {
		return nil, false
	}
	var out []level
	for rows := v.Elements(); ; {
		row, more := rows.Next()
		if !more {
			break
		}
		var cells [2]JSONValue
		if len(out) == MaxFoldLevels || !tuple(row, cells[:]) {
			return nil, false
		}
		p, err := jsonDecimalPrice(cells[0])
		n, ok := jsonUint(cells[1], 1<<31)
		if err != nil || p == 0 || !ok || n == 0 || len(out) > 0 && p <= out[len(out)-1].price {
			return nil, false
		}
		out = append(out, level{price: p, count: uint32(n)})
	}
	return out, true
}

func parseEdges(v JSONValue, maxOrd uint64) ([]edge, bool) {
	if v.Kind() != JSONArray {
		return nil, false
	}
	var out []edge
	for rows := v.Elements(); ; {
		row, more := rows.Next()
		if !more {
			break
		}
		var cells [5]JSONValue
		if len(out) == MaxFoldEdges || !tuple(row, cells[:]) {
			return nil, false
		}
		var e edge
		var ok1, ok2, ok3 bool
		var err1, err2 error
		e.key, ok1 = jsonUint(cells[0], 1<<64-1)
		e.price, err1 = jsonDecimalPrice(cells[1])
		e.size, err2 = jsonDecimalSize(cells[2])
		t, ok2 := jsonInt(cells[3])
		e.time = t
		e.ord, ok3 = jsonUint(cells[4], maxOrd)
		if !ok1 || !ok2 || !ok3 || err1 != nil || err2 != nil || e.price == 0 ||
			len(out) > 0 && !out[len(out)-1].before(e) {
			return nil, false
		}
		out = append(out, e)
	}
	return out, true
}

func parseTrades(v JSONValue) ([]foldTrade, bool) {
	if v.Kind() != JSONArray {
		return nil, false
	}
	var out []foldTrade
	for rows := v.Elements(); ; {
		row, more := rows.Next()
		if !more {
			break
		}
		var cells [4]JSONValue
		if len(out) == MaxFoldTrades || !tuple(row, cells[:]) {
			return nil, false
		}
		var t foldTrade
		var ok1, ok2 bool
		var err1, err2 error
		t.key, ok1 = jsonUint(cells[0], 1<<64-1)
		t.price, err1 = jsonDecimalPrice(cells[1])
		t.size, err2 = jsonDecimalSize(cells[2])
		flags, ok2 := jsonUint(cells[3], uint64(AllUpdates)|cancelledFlag)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || t.key == 0 || t.price == 0 {
			return nil, false
		}
		t.skip, t.cancelled = Updates(flags)&AllUpdates, flags&cancelledFlag != 0
		out = append(out, t)
	}
	return slices.Clip(out), true
}

// tuple reads an array of exactly len(cells) values.
func tuple(v JSONValue, cells []JSONValue) bool {
	if v.Kind() != JSONArray {
		return false
	}
	it := v.Elements()
	for i := range cells {
		var ok bool
		if cells[i], ok = it.Next(); !ok {
			return false
		}
	}
	_, more := it.Next()
	return !more && it.Err() == nil
}

// jsonUint reads a non-negative integer written as a JSON number.
func jsonUint(v JSONValue, limit uint64) (uint64, bool) {
	b, ok := v.Number()
	if !ok {
		return 0, false
	}
	return uintBytes(b, limit)
}

// jsonInt reads an integer written as a JSON number.
func jsonInt(v JSONValue) (int64, bool) {
	b, ok := v.Number()
	if !ok {
		return 0, false
	}
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := uintBytes(b, 1<<63-1)
	if !ok || neg && u == 0 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// ParseCheckpointQuote returns the quote of a checkpoint without restoring
// the rest of the fold: what a web node seeds its last values from. A
// plain quote object (a record written before checkpoints existed) is
// read as the quote.
func ParseCheckpointQuote(b []byte) (Quote, error) {
	if len(b) > MaxCheckpointBytes {
		return Quote{}, errCheckpoint
	}
	var quote JSONValue
	sc := jsonScanner{data: b}
	for i := sc.startObject(); ; i++ {
		key, ok := sc.member(i)
		if !ok {
			break
		}
		if v := sc.value(); string(key) == "quote" {
			quote = v
		}
	}
	if err := sc.end(); err != nil {
		return Quote{}, err
	}
	if quote.Kind() != JSONObject {
		return ParseQuote(b)
	}
	return ParseQuote(quote.Raw())
}
