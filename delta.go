package tape

import "strconv"

// Delta events carry only what changed in a symbol's quote since the
// previous quote of the same symbol, for streams that ask for them
// (/events?encoding=delta): most updates move one side of the book and
// the time, so a delta is a fifth of a full quote on the wire. A client
// applies a delta to the quote it holds for the symbol by replacing the
// fields the delta names. A stream sends a full quote first, and again
// after a snapshot, a resume or conflation; deltas follow only a quote
// the client was sent.
//
// A delta is a JSON object with the symbol and, for each field that
// changed, its short key and new value in the full quote's form (prices
// and sizes decimal strings, a missing price null):
//
//	s    symbol (always)        k    kind
//	b    bid                    a    ask
//	bs   bid_size               as   ask_size
//	l    last                   ls   last_size
//	v    volume                 o    open
//	h    high                   lo   low
//	st   state                  d    day
//	t    ts (below)             src  source
//	p    print
//
// p is sent with every quote that reports a trade, changed or not (two
// trades may look alike), and as null when the previous one reported a
// trade and this one does not.
//
// A ts is 30 characters of which only the last few usually change, so t
// is "N:TAIL": the new ts is the first N characters of the held ts
// followed by TAIL ("20:223456789Z" after "2026-11-20T14:30:01.123456789Z"
// is 2026-11-20T14:30:01.223456789Z).
//
// origin and seq are not in deltas: they change with every event and are
// for operators, who read full quotes (/api/quotes).
//
// Example: {"s":"AAPL","b":"187.43","bs":"200","t":"20:124Z"}

// DeltaKeys maps each short key of a delta to the full quote's key (t's
// value is a tail: ApplyTimeTail).
var DeltaKeys = map[string]string{
	"s": "symbol", "k": "kind", "b": "bid", "a": "ask", "bs": "bid_size", "as": "ask_size",
	"l": "last", "ls": "last_size", "v": "volume", "o": "open", "h": "high", "lo": "low",
	"st": "state", "d": "day", "t": "ts", "src": "source", "p": "print",
}

// AppendDelta appends the delta from prev to q (both quotes of q.Symbol)
// as JSON: the fields of q that differ from prev.
func (q *Quote) AppendDelta(dst []byte, prev *Quote) []byte {
	dst = append(dst, `{"s":`...)
	dst = appendString(dst, string(q.Symbol))
	if q.Kind != prev.Kind {
		dst = append(dst, `,"k":"`...)
		dst = append(dst, q.Kind.String()...)
		dst = append(dst, '"')
	}
	price := func(key string, a, b Price) {
		if a != b {
			dst = appendPrice(dst, key, a)
		}
	}
	size := func(key string, a, b Size) {
		if a != b {
			dst = appendSize(dst, key, a)
		}
	}
	price(`,"b":`, q.Bid, prev.Bid)
	price(`,"a":`, q.Ask, prev.Ask)
	size(`,"bs":`, q.BidSize, prev.BidSize)
	size(`,"as":`, q.AskSize, prev.AskSize)
	price(`,"l":`, q.Last, prev.Last)
	size(`,"ls":`, q.LastSize, prev.LastSize)
	size(`,"v":`, q.Volume, prev.Volume)
	price(`,"o":`, q.Open, prev.Open)
	price(`,"h":`, q.High, prev.High)
	price(`,"lo":`, q.Low, prev.Low)
	if s := q.State(); s != prev.State() {
		dst = append(dst, `,"st":"`...)
		dst = append(dst, s...)
		dst = append(dst, '"')
	}
	if q.Day != prev.Day {
		dst = append(dst, `,"d":`...)
		dst = appendDayJSON(dst, q.Day)
	}
	if !q.Time.Equal(prev.Time) {
		var a, b [32]byte
		now, was := AppendTime(a[:0], q.Time), AppendTime(b[:0], prev.Time)
		keep := 0
		for keep < len(now) && keep < len(was) && now[keep] == was[keep] {
			keep++
		}
		dst = append(dst, `,"t":"`...)
		dst = strconv.AppendInt(dst, int64(keep), 10)
		dst = append(dst, ':')
		dst = append(dst, now[keep:]...)
		dst = append(dst, '"')
	}
	if q.Source != prev.Source {
		dst = append(dst, `,"src":`...)
		dst = appendString(dst, q.Source)
	}
	if !q.Print.IsZero() || !prev.Print.IsZero() {
		dst = append(dst, `,"p":`...)
		dst = q.Print.appendJSON(dst)
	}
	return append(dst, '}')
}

// ApplyTimeTail returns the ts a delta's t value ("N:TAIL") makes of the
// held ts, and false if tail is malformed or does not fit held.
func ApplyTimeTail(held, tail string) (string, bool) {
	i := 0
	for i < len(tail) && i < 3 && tail[i] >= '0' && tail[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(tail) || tail[i] != ':' {
		return "", false
	}
	n, _ := strconv.Atoi(tail[:i])
	if n > len(held) {
		return "", false
	}
	return held[:n] + tail[i+1:], true
}
