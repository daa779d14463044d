package tape

import (
	"time"
	"unicode/utf8"
	"unsafe"
)

// Quote is the current state of one symbol as its Fold builds it: the
// book, the last trade and the trading day's statistics, with the fold
// position it reflects. It is what web nodes show.
type Quote struct {
	Symbol Symbol
	// Kind is the kind of the event that produced this quote.
	Kind     Kind
	Bid      Price
	Ask      Price
	BidSize  Size
	AskSize  Size
	Last     Price
	LastSize Size
	// Volume, Open, High and Low are the statistics of trading day Day.
	Volume Size
	Open   Price
	High   Price
	Low    Price
	Day    Day
	// Time is the newest feed time of the events applied; it never goes
	// back.
	Time   time.Time
	Source string
	Origin string
	// Seq is the fold position, set by the fold stage (NoSeq if none).
	Seq Seq
	// Print is the trade this quote reports, when its event was a trade
	// the fold counted (Kind has KindTrade and the trade was no repeat);
	// the zero Print otherwise. Last may not be this trade: a late report
	// or a trade whose conditions exclude the last price leaves it.
	Print Print
}

// Print is one trade as time and sales and bars show it: its price, size
// and feed time, and the statistics it counted in (its sale conditions'
// Updates; UpdatesLast only if it became the last trade, which a late
// report does not).
type Print struct {
	Price  Price
	Size   Size
	Time   time.Time
	Counts Updates
}

// IsZero reports whether p is no trade.
func (p Print) IsZero() bool { return p.Time.IsZero() }

// Book states of a quote; crossed and locked books are real market states
// and are shown, not rejected.
const (
	StateNormal  = ""
	StateLocked  = "locked"
	StateCrossed = "crossed"
)

// State returns StateLocked, StateCrossed or StateNormal. A book with a
// side missing is normal.
func (q *Quote) State() string {
	switch {
	case q.Bid == 0 || q.Ask == 0:
		return StateNormal
	case q.Bid == q.Ask:
		return StateLocked
	case q.Bid > q.Ask:
		return StateCrossed
	}
	return StateNormal
}

// AppendJSON appends q as the JSON object of the contract: the SSE quote
// event, /api/quotes and the quotes topics:
//
//	{"symbol":"AAPL","kind":"trade","bid":"187.42","ask":"187.44","bid_size":"100","ask_size":"300",
//	 "last":"187.43","last_size":"100","volume":"125000","open":"186.10","high":"188.00","low":"185.95",
//	 "state":"","day":"2026-11-20","ts":"2026-11-20T14:30:01.123000000Z","source":"polygon",
//	 "origin":"feeds.raw/2/1207/0","seq":"3/5521",
//	 "print":{"price":"187.43","size":"100","ts":"2026-11-20T14:30:01.123000000Z","counts":"last,high_low,open,volume"}}
//
// Prices and sizes are decimal strings; a missing price is null, a
// missing day or seq is null, and print is null unless the quote reports
// a trade (Print).
func (q *Quote) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = appendString(dst, string(q.Symbol))
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, q.Kind.String()...)
	dst = append(dst, '"')
	dst = appendPrice(dst, `,"bid":`, q.Bid)
	dst = appendPrice(dst, `,"ask":`, q.Ask)
	dst = appendSize(dst, `,"bid_size":`, q.BidSize)
	dst = appendSize(dst, `,"ask_size":`, q.AskSize)
	dst = appendPrice(dst, `,"last":`, q.Last)
	dst = appendSize(dst, `,"last_size":`, q.LastSize)
	dst = appendSize(dst, `,"volume":`, q.Volume)
	dst = appendPrice(dst, `,"open":`, q.Open)
	dst = appendPrice(dst, `,"high":`, q.High)
	dst = appendPrice(dst, `,"low":`, q.Low)
	dst = append(dst, `,"state":"`...)
	dst = append(dst, q.State()...)
	dst = append(dst, `","day":`...)
	dst = appendDayJSON(dst, q.Day)
	dst = append(dst, `,"ts":"`...)
	dst = AppendTime(dst, q.Time)
	dst = append(dst, `","source":`...)
	dst = appendString(dst, q.Source)
	dst = append(dst, `,"origin":`...)
	dst = appendString(dst, q.Origin)
	dst = append(dst, `,"seq":`...)
	if q.Seq.IsSet() {
		dst = append(dst, '"')
		dst = q.Seq.AppendText(dst)
		dst = append(dst, '"')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"print":`...)
	dst = q.Print.appendJSON(dst)
	return append(dst, '}')
}

// appendDayJSON writes d as a JSON string, null for no day.
func appendDayJSON(dst []byte, d Day) []byte {
	if d == 0 {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = d.AppendText(dst)
	return append(dst, '"')
}

// appendJSON writes the print as JSON, null for no trade.
func (p *Print) appendJSON(dst []byte) []byte {
	if p.IsZero() {
		return append(dst, "null"...)
	}
	dst = appendPrice(dst, `{"price":`, p.Price)
	dst = appendSize(dst, `,"size":`, p.Size)
	dst = append(dst, `,"ts":"`...)
	dst = AppendTime(dst, p.Time)
	dst = append(dst, `","counts":"`...)
	dst = p.Counts.AppendText(dst)
	return append(dst, `"}`...)
}

// Mark is the price a sparkline or a mover ranks the quote by: the last
// trade, or while nothing has traded the bid/ask midpoint (rounded toward
// zero to the price unit); 0 when there is neither.
func (q *Quote) Mark() Price {
	if q.Last != 0 {
		return q.Last
	}
	if q.Bid != 0 && q.Ask != 0 {
		return q.Bid/2 + q.Ask/2
	}
	return 0
}

// MarshalJSON implements json.Marshaler.
func (q Quote) MarshalJSON() ([]byte, error) { return q.AppendJSON(nil), nil }

// quoteFields are the members of a quote object, unparsed.
type quoteFields struct {
	symbol, kind, bid, ask, bidSize, askSize, last, lastSize JSONValue
	volume, open, high, low, day, ts, source, origin, seq    JSONValue
	print                                                    JSONValue
}

func (f *quoteFields) set(key []byte, v JSONValue) {
	switch string(key) {
	case "symbol":
		f.symbol = v
	case "kind":
		f.kind = v
	case "bid":
		f.bid = v
	case "ask":
		f.ask = v
	case "bid_size":
		f.bidSize = v
	case "ask_size":
		f.askSize = v
	case "last":
		f.last = v
	case "last_size":
		f.lastSize = v
	case "volume":
		f.volume = v
	case "open":
		f.open = v
	case "high":
		f.high = v
	case "low":
		f.low = v
	case "day":
		f.day = v
	case "ts":
		f.ts = v
	case "source":
		f.source = v
	case "origin":
		f.origin = v
	case "seq":
		f.seq = v
	case "print":
		f.print = v
	}
}

// ParseQuote parses a quote object as Quote.AppendJSON writes it, and the
// older form whose sizes were JSON numbers and which had no kind, day or
// seq (Seq is then NoSeq). "state" is derived, so it is not read. Errors
// are *Error. It allocates only the origin string: symbols and common
// sources are interned.
func ParseQuote(b []byte) (Quote, error) {
	return parseQuote(b, false)
}

// ParseQuoteView is ParseQuote without the allocation of the origin: the
// quote's Origin is a view of b's bytes, valid only while b is unchanged.
// A caller that keeps the quote past that must copy Origin first; a web
// node copies it into a buffer of the symbol's own, so that applying a
// record allocates nothing.
func ParseQuoteView(b []byte) (Quote, error) {
	return parseQuote(b, true)
}

func parseQuote(b []byte, view bool) (Quote, error) {
	var q Quote
	var f quoteFields
	sc := jsonScanner{data: b}
	for i := sc.startObject(); ; i++ {
		key, ok := sc.member(i)
		if !ok {
			break
		}
		f.set(key, sc.value())
	}
	if err := sc.end(); err != nil {
		return q, err
	}
	return q, f.quote(&q, view)
}

func (f *quoteFields) quote(q *Quote, view bool) error {
	var err error
	if q.Symbol, err = jsonSymbol(f.symbol); err != nil {
		return err
	}
	var buf [16]byte
	if f.kind.Present() {
		k, ok := f.kind.Text(buf[:])
		if !ok {
			return errBadKind
		}
		if len(k) > 0 {
			if q.Kind, ok = parseKind(k); !ok {
				return errBadKind
			}
		}
	}
	for _, p := range [...]struct {
		dst *Price
		v   JSONValue
	}{{&q.Bid, f.bid}, {&q.Ask, f.ask}, {&q.Last, f.last}, {&q.Open, f.open}, {&q.High, f.high}, {&q.Low, f.low}} {
		if *p.dst, err = jsonDecimalPrice(p.v); err != nil {
			return err
		}
	}
	for _, s := range [...]struct {
		dst *Size
		v   JSONValue
	}{{&q.BidSize, f.bidSize}, {&q.AskSize, f.askSize}, {&q.LastSize, f.lastSize}, {&q.Volume, f.volume}} {
		if *s.dst, err = jsonDecimalSize(s.v); err != nil {
			return err
		}
	}
	if f.day.Present() {
		d, ok := f.day.Text(buf[:])
		if !ok {
			return errBadDay
		}
		if q.Day, err = ParseDay(d); err != nil {
			return err
		}
	}
	if q.Time, err = jsonTime(f.ts); err != nil {
		return err
	}
	if q.Source, err = jsonFreeText(f.source, MaxSourceLen, errSource); err != nil {
		return err
	}
	if view && f.origin.kind == JSONString && !f.origin.escaped && len(f.origin.raw) > 0 {
		if len(f.origin.raw) > MaxOriginLen {
			return errOrigin
		}
		q.Origin = unsafe.String(unsafe.SliceData(f.origin.raw), len(f.origin.raw))
	} else if q.Origin, err = jsonFreeText(f.origin, MaxOriginLen, errOrigin); err != nil {
		return err
	}
	if !printable(q.Source) {
		return errSource
	}
	if !printable(q.Origin) {
		return errOrigin
	}
	q.Seq = NoSeq
	if f.seq.Present() {
		var sb [48]byte
		s, ok := f.seq.Text(sb[:])
		if !ok {
			return errSeq
		}
		if q.Seq, err = ParseSeq(s); err != nil {
			return err
		}
	}
	if f.print.Present() {
		return parsePrint(f.print, &q.Print)
	}
	return nil
}

var errPrint = &Error{Code: ECodeInvalid, Message: "invalid print: want an object with price, size, ts and counts"}

// parsePrint reads the "print" object of a quote, without allocating.
func parsePrint(v JSONValue, p *Print) error {
	if v.Kind() != JSONObject {
		return errPrint
	}
	var price, size, ts, counts JSONValue
	m := v.Members()
	for {
		key, val, ok := m.Next()
		if !ok {
			break
		}
		switch string(key) {
		case "price":
			price = val
		case "size":
			size = val
		case "ts":
			ts = val
		case "counts":
			counts = val
		}
	}
	if m.Err() != nil {
		return errPrint
	}
	var err error
	if p.Price, err = jsonDecimalPrice(price); err != nil {
		return err
	}
	if p.Price == 0 {
		return errPrint
	}
	if p.Size, err = jsonDecimalSize(size); err != nil {
		return err
	}
	if p.Time, err = jsonTime(ts); err != nil {
		return err
	}
	if counts.Present() {
		var buf [64]byte
		b, ok := counts.Text(buf[:])
		if !ok {
			return errPrint
		}
		if p.Counts, ok = ParseUpdates(b); !ok {
			return errPrint
		}
	}
	return nil
}

// appendPrice writes a price field; the zero price, meaning "none", is null.
func appendPrice(dst []byte, key string, p Price) []byte {
	dst = append(dst, key...)
	if p == 0 {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = p.AppendText(dst)
	return append(dst, '"')
}

// appendSize writes a size field as a decimal string.
func appendSize(dst []byte, key string, s Size) []byte {
	dst = append(dst, key...)
	dst = append(dst, '"')
	dst = s.AppendText(dst)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Besides what JSON requires it
// escapes <, >, & and U+2028/2029, so the output is safe inside HTML
// <script> blocks and JavaScript source; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
