package tape

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
//	t    ts                     src  source
//
// origin and seq are not in deltas: they change with every event and are
// for operators, who read full quotes (/api/quotes).
//
// Example: {"s":"AAPL","b":"187.43","bs":"200","t":"2026-11-20T14:30:01.123000000Z"}

// DeltaKeys maps each short key of a delta to the full quote's key.
var DeltaKeys = map[string]string{
	"s": "symbol", "k": "kind", "b": "bid", "a": "ask", "bs": "bid_size", "as": "ask_size",
	"l": "last", "ls": "last_size", "v": "volume", "o": "open", "h": "high", "lo": "low",
	"st": "state", "d": "day", "t": "ts", "src": "source",
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
		if q.Day != 0 {
			dst = append(dst, '"')
			dst = q.Day.AppendText(dst)
			dst = append(dst, '"')
		} else {
			dst = append(dst, "null"...)
		}
	}
	if !q.Time.Equal(prev.Time) {
		dst = append(dst, `,"t":"`...)
		dst = AppendTime(dst, q.Time)
		dst = append(dst, '"')
	}
	if q.Source != prev.Source {
		dst = append(dst, `,"src":`...)
		dst = appendString(dst, q.Source)
	}
	return append(dst, '}')
}
