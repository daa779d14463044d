package feed

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"tape"
)

// formats lists the format names in the order Formats reports them.
var formats = []string{tape.FormatTape, tape.FormatPolygon, tape.FormatAlpaca, tape.FormatFinnhub, tape.FormatFIX, tape.FormatCSV}

// Formats returns the names of the formats an Encoder writes.
func Formats() []string { return slices.Clone(formats) }

var (
	// ErrUnsupported reports an event the format cannot carry, such as a
	// quote in Finnhub's trades-only stream. Callers skip such events.
	ErrUnsupported = errors.New("feed: the format cannot carry this event")
	// ErrFormat reports an unknown format name.
	ErrFormat = errors.New("feed: unknown format")
)

// Encoder writes events as raw messages of one format, numbering them as
// the vendor would (FIX MsgSeqNum, trade ids), from 1. It is not safe for
// concurrent use.
type Encoder struct {
	format string
	seq    int64 // of the last message written
}

// NewEncoder returns an encoder for the named format.
func NewEncoder(format string) (*Encoder, error) {
	if !slices.Contains(formats, format) {
		return nil, fmt.Errorf("%w %q (want one of %v)", ErrFormat, format, formats)
	}
	return &Encoder{format: format}, nil
}

// Format returns the encoder's format name.
func (e *Encoder) Format() string { return e.format }

// Encode appends one raw message for ev in the named format to dst, as the
// first message of a session (sequence number 1). Use an Encoder to write
// a stream.
func Encode(format string, dst []byte, ev tape.Event) ([]byte, error) {
	e, err := NewEncoder(format)
	if err != nil {
		return dst, err
	}
	return e.Append(dst, ev)
}

// Append appends one raw message for ev to dst, without a line end. The
// event is validated first, which also guarantees that its symbol needs no
// escaping in any format. On error dst is returned unchanged and the
// sequence does not advance.
//
// The message shapes, for a quote and a trade:
//
//	tape     {"symbol":"AAPL","kind":"quote","bid":"187.42",...,"ts":"2026-11-20T14:30:00.123456789Z","source":"feed","origin":""}
//	polygon  {"ev":"Q","sym":"AAPL","bx":12,"bp":187.42,"bs":300,"ax":19,"ap":187.44,"as":200,"c":0,"t":1795185000123}
//	         {"ev":"T","sym":"AAPL","x":12,"i":"7","z":3,"p":187.43,"s":100,"c":[0],"t":1795185000123}
//	alpaca   [{"T":"q","S":"AAPL","bx":"Q","bp":187.42,"bs":300,"ax":"Z","ap":187.44,"as":200,"c":["R"],"z":"C","t":"2026-11-20T14:30:00.123456789Z"}]
//	         [{"T":"t","S":"AAPL","i":7,"x":"Q","p":187.43,"s":100,"c":["@"],"z":"C","t":"2026-11-20T14:30:00.123456789Z"}]
//	finnhub  {"type":"trade","data":[{"s":"AAPL","p":187.43,"t":1795185000123,"v":100,"c":["1"]}]}
//	fix      8=FIX.4.4|9=..|35=X|49=FEED|56=TAPE|34=7|52=20261120-14:30:00.123|268=2|279=0|269=0|55=AAPL|270=187.42|271=300|279=0|269=1|...|10=..|
//	csv      AAPL,2026-11-20T14:30:00.123456789Z,187.42,187.44,,
//	         AAPL,2026-11-20T14:30:00.123456789Z,,,187.43,100
//
// FIX separates fields with SOH (0x01), shown as | here. Prices are exact
// decimals, written as JSON numbers where the vendor sends numbers.
// Polygon, Finnhub and FIX carry milliseconds, so their times are truncated
// to the millisecond. Exchange codes are synthetic but stable: derived from
// the symbol and time. An event that is both a quote and a trade becomes an
// array of two objects in Polygon and Alpaca, and its trade alone in
// Finnhub. FIX writes the sides a quote states, a removed side as a Delete
// (279=2); the other formats send the whole book, so a side not stated or
// removed is written as no quote (0 in Polygon and Alpaca, empty in CSV).
// Trades in tape's format carry the sequence number as their id, as
// Polygon and Alpaca trades do.
func (e *Encoder) Append(dst []byte, ev tape.Event) ([]byte, error) {
	if err := ev.Validate(); err != nil {
		return dst, fmt.Errorf("feed: %w", err)
	}
	if e.format == tape.FormatFinnhub && ev.Kind&tape.KindTrade == 0 {
		return dst, ErrUnsupported
	}
	seq := e.seq + 1
	switch e.format {
	case tape.FormatTape:
		ev.Origin = ""
		if ev.Kind&tape.KindTrade != 0 && ev.TradeID.IsZero() {
			var num [20]byte
			ev.TradeID, _ = tape.MakeTradeID(nil, strconv.AppendInt(num[:0], seq, 10))
		}
		dst = ev.AppendJSON(dst)
	case tape.FormatPolygon:
		dst = appendPolygon(dst, &ev, seq)
	case tape.FormatAlpaca:
		dst = appendAlpaca(dst, &ev, seq)
	case tape.FormatFinnhub:
		dst = appendFinnhub(dst, &ev)
	case tape.FormatFIX:
		dst = appendFIX(dst, &ev, seq)
	case tape.FormatCSV:
		dst = appendCSV(dst, &ev)
	}
	e.seq = seq
	return dst, nil
}

// venue is an exchange as Polygon and Alpaca name it.
type venue struct {
	polygon int
	alpaca  string
}

// venues are the lit exchanges quotes and trades are attributed to.
var venues = [...]venue{
	{12, "Q"}, // Nasdaq
	{10, "N"}, // NYSE
	{11, "P"}, // NYSE Arca
	{19, "Z"}, // Cboe BZX
	{8, "K"},  // Cboe EDGX
	{15, "V"}, // IEX
	{21, "U"}, // MEMX
}

// tapes are the SIP tapes a symbol's listing falls under: A (NYSE), B
// (Arca and others), C (Nasdaq).
var tapes = [...]venue{{1, "A"}, {2, "B"}, {3, "C"}}

// hash is FNV-1a over the symbol, then the time, so that exchange codes
// look random but the same event always encodes to the same bytes.
func hash(sym tape.Symbol, t time.Time) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(sym); i++ {
		h = (h ^ uint64(sym[i])) * 1099511628211
	}
	if !t.IsZero() {
		h = (h ^ uint64(t.UnixNano())) * 1099511628211
		h ^= h >> 29
	}
	return h
}

func venuesOf(ev *tape.Event) (bid, ask venue) {
	h := hash(ev.Symbol, ev.Time)
	return venues[h%uint64(len(venues))], venues[h/16%uint64(len(venues))]
}

func tapeOf(sym tape.Symbol) venue { return tapes[hash(sym, time.Time{})%uint64(len(tapes))] }

func appendPolygon(dst []byte, ev *tape.Event, seq int64) []byte {
	both := ev.Kind == tape.KindQuote|tape.KindTrade
	if both {
		dst = append(dst, '[')
	}
	bx, ax := venuesOf(ev)
	ms := ev.Time.UnixMilli()
	if ev.Kind&tape.KindQuote != 0 {
		dst = append(dst, `{"ev":"Q","sym":"`...)
		dst = append(dst, ev.Symbol...)
		dst = append(dst, `","bx":`...)
		dst = strconv.AppendInt(dst, int64(bx.polygon), 10)
		dst = append(dst, `,"bp":`...)
		dst = ev.Bid.AppendText(dst)
		dst = append(dst, `,"bs":`...)
		dst = ev.BidSize.AppendText(dst)
		dst = append(dst, `,"ax":`...)
		dst = strconv.AppendInt(dst, int64(ax.polygon), 10)
		dst = append(dst, `,"ap":`...)
		dst = ev.Ask.AppendText(dst)
		dst = append(dst, `,"as":`...)
		dst = ev.AskSize.AppendText(dst)
		dst = append(dst, `,"c":0,"t":`...)
		dst = strconv.AppendInt(dst, ms, 10)
		dst = append(dst, '}')
	}
	if both {
		dst = append(dst, ',')
	}
	if ev.Kind&tape.KindTrade != 0 {
		dst = append(dst, `{"ev":"T","sym":"`...)
		dst = append(dst, ev.Symbol...)
		dst = append(dst, `","x":`...)
		dst = strconv.AppendInt(dst, int64(bx.polygon), 10)
		dst = append(dst, `,"i":"`...)
		dst = strconv.AppendInt(dst, seq, 10)
		dst = append(dst, `","z":`...)
		dst = strconv.AppendInt(dst, int64(tapeOf(ev.Symbol).polygon), 10)
		dst = append(dst, `,"p":`...)
		dst = ev.Last.AppendText(dst)
		dst = append(dst, `,"s":`...)
		dst = ev.Size.AppendText(dst)
		dst = append(dst, `,"c":[0],"t":`...)
		dst = strconv.AppendInt(dst, ms, 10)
		dst = append(dst, '}')
	}
	if both {
		dst = append(dst, ']')
	}
	return dst
}

func appendAlpaca(dst []byte, ev *tape.Event, seq int64) []byte {
	bx, ax := venuesOf(ev)
	z := tapeOf(ev.Symbol).alpaca
	dst = append(dst, '[')
	if ev.Kind&tape.KindQuote != 0 {
		dst = append(dst, `{"T":"q","S":"`...)
		dst = append(dst, ev.Symbol...)
		dst = append(dst, `","bx":"`...)
		dst = append(dst, bx.alpaca...)
		dst = append(dst, `","bp":`...)
		dst = ev.Bid.AppendText(dst)
		dst = append(dst, `,"bs":`...)
		dst = ev.BidSize.AppendText(dst)
		dst = append(dst, `,"ax":"`...)
		dst = append(dst, ax.alpaca...)
		dst = append(dst, `","ap":`...)
		dst = ev.Ask.AppendText(dst)
		dst = append(dst, `,"as":`...)
		dst = ev.AskSize.AppendText(dst)
		dst = append(dst, `,"c":["R"],"z":"`...)
		dst = append(dst, z...)
		dst = append(dst, `","t":"`...)
		dst = tape.AppendTime(dst, ev.Time)
		dst = append(dst, `"}`...)
	}
	if ev.Kind == tape.KindQuote|tape.KindTrade {
		dst = append(dst, ',')
	}
	if ev.Kind&tape.KindTrade != 0 {
		dst = append(dst, `{"T":"t","S":"`...)
		dst = append(dst, ev.Symbol...)
		dst = append(dst, `","i":`...)
		dst = strconv.AppendInt(dst, seq, 10)
		dst = append(dst, `,"x":"`...)
		dst = append(dst, bx.alpaca...)
		dst = append(dst, `","p":`...)
		dst = ev.Last.AppendText(dst)
		dst = append(dst, `,"s":`...)
		dst = ev.Size.AppendText(dst)
		dst = append(dst, `,"c":["@"],"z":"`...)
		dst = append(dst, z...)
		dst = append(dst, `","t":"`...)
		dst = tape.AppendTime(dst, ev.Time)
		dst = append(dst, `"}`...)
	}
	return append(dst, ']')
}

func appendFinnhub(dst []byte, ev *tape.Event) []byte {
	dst = append(dst, `{"type":"trade","data":[{"s":"`...)
	dst = append(dst, ev.Symbol...)
	dst = append(dst, `","p":`...)
	dst = ev.Last.AppendText(dst)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, ev.Time.UnixMilli(), 10)
	dst = append(dst, `,"v":`...)
	dst = ev.Size.AppendText(dst)
	return append(dst, `,"c":["1"]}]}`...)
}

func appendCSV(dst []byte, ev *tape.Event) []byte {
	dst = append(dst, ev.Symbol...)
	dst = append(dst, ',')
	dst = tape.AppendTime(dst, ev.Time)
	dst = append(dst, ',')
	if ev.Kind&tape.KindQuote != 0 {
		dst = appendNonZero(dst, ev.Bid)
		dst = append(dst, ',')
		dst = appendNonZero(dst, ev.Ask)
	} else {
		dst = append(dst, ',')
	}
	dst = append(dst, ',')
	if ev.Kind&tape.KindTrade != 0 {
		dst = ev.Last.AppendText(dst)
		dst = append(dst, ',')
		dst = ev.Size.AppendText(dst)
	} else {
		dst = append(dst, ',')
	}
	return dst
}

// appendNonZero writes p, or nothing for the zero price ("none").
func appendNonZero(dst []byte, p tape.Price) []byte {
	if p == 0 {
		return dst
	}
	return p.AppendText(dst)
}

// FIX framing.
const (
	fixSOH         = 0x01
	fixBeginString = "8=FIX.4.4\x01"
	fixSender      = "FEED"
	fixTarget      = "TAPE"
	fixTimeLayout  = "20060102-15:04:05.000" // UTCTimestamp with milliseconds
)

// appendFIX writes a MarketDataIncrementalRefresh (35=X): a quote as a
// new bid and a new offer entry, a trade as a trade entry.
func appendFIX(dst []byte, ev *tape.Event, seq int64) []byte {
	start := len(dst)
	dst = append(dst, fixBeginString...)
	dst = append(dst, "9="...)
	// BodyLength counts from after its own field up to the CheckSum
	// field; write the body first, then move it behind the real length.
	lenAt := len(dst)
	dst = append(dst, "35=X\x0149="+fixSender+"\x0156="+fixTarget+"\x0134="...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, "\x0152="...)
	dst = ev.Time.UTC().AppendFormat(dst, fixTimeLayout)
	dst = append(dst, "\x01268="...)
	n := 0
	if ev.Kind&tape.KindQuote != 0 {
		n += btoi(ev.StatedSides()&tape.SideBid != 0) + btoi(ev.StatedSides()&tape.SideAsk != 0)
	}
	if ev.Kind&tape.KindTrade != 0 {
		n++
	}
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, fixSOH)
	if ev.Kind&tape.KindQuote != 0 {
		if ev.StatedSides()&tape.SideBid != 0 {
			dst = appendFIXEntry(dst, '0', ev.Symbol, ev.Bid, ev.BidSize)
		}
		if ev.StatedSides()&tape.SideAsk != 0 {
			dst = appendFIXEntry(dst, '1', ev.Symbol, ev.Ask, ev.AskSize)
		}
	}
	if ev.Kind&tape.KindTrade != 0 {
		dst = appendFIXEntry(dst, '2', ev.Symbol, ev.Last, ev.Size)
	}

	var num [20]byte
	length := strconv.AppendInt(num[:0], int64(len(dst)-lenAt), 10)
	length = append(length, fixSOH)
	dst = slices.Insert(dst, lenAt, length...)

	sum := 0
	for _, c := range dst[start:] {
		sum += int(c)
	}
	sum %= 256
	dst = append(dst, "10="...)
	dst = append(dst, byte('0'+sum/100), byte('0'+sum/10%10), byte('0'+sum%10))
	return append(dst, fixSOH)
}

// appendFIXEntry writes one MDEntries group; a zero price (a side the
// quote removes) is a Delete.
func appendFIXEntry(dst []byte, typ byte, sym tape.Symbol, px tape.Price, size tape.Size) []byte {
	if px == 0 {
		dst = append(dst, "279=2\x01269="...)
		dst = append(dst, typ)
		dst = append(dst, "\x0155="...)
		dst = append(dst, sym...)
		return append(dst, fixSOH)
	}
	dst = append(dst, "279=0\x01269="...)
	dst = append(dst, typ)
	dst = append(dst, "\x0155="...)
	dst = append(dst, sym...)
	dst = append(dst, "\x01270="...)
	dst = px.AppendText(dst)
	dst = append(dst, "\x01271="...)
	dst = size.AppendText(dst)
	return append(dst, fixSOH)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
