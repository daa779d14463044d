package tape

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeLayout is how tape writes times: RFC 3339, UTC, always nine
// fractional digits, so that every timestamp has the same width.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Kind says which fields of an Event are set. An event may carry both.
type Kind uint8

const (
	// KindQuote marks a top-of-book update: Bid, Ask and their sizes.
	KindQuote Kind = 1 << iota
	// KindTrade marks a trade: Last, Size, and the day statistics.
	KindTrade
)

// String returns "quote", "trade" or "quote+trade".
func (k Kind) String() string {
	switch k {
	case KindQuote:
		return "quote"
	case KindTrade:
		return "trade"
	case KindQuote | KindTrade:
		return "quote+trade"
	}
	return "none"
}

// Event is one normalised market-data update, as carried on the quotes
// topic (key = symbol). Events are partial: a quote updates the book, a
// trade the last price; a Quote accumulates them.
type Event struct {
	Symbol  Symbol
	Kind    Kind
	Bid     Price
	Ask     Price
	BidSize int64
	AskSize int64
	Last    Price
	Size    int64
	// Volume is the cumulative day volume after this trade, 0 if unknown.
	Volume int64
	// Open, High and Low are the day statistics after this trade, 0 if unknown.
	Open Price
	High Price
	Low  Price
	// Time is the exchange or feed time of the update.
	Time time.Time
	// Source names the feed, such as "polygon".
	Source string
	// Origin identifies the raw input the event came from, so that a repeat
	// after a crash can be recognised and dropped.
	Origin string
}

// Quote is the current state of one symbol: the last book, the last trade
// and the day's statistics.
type Quote struct {
	Symbol   Symbol
	Bid      Price
	Ask      Price
	BidSize  int64
	AskSize  int64
	Last     Price
	LastSize int64
	Volume   int64
	Open     Price
	High     Price
	Low      Price
	// Time is the feed time of the last update applied.
	Time   time.Time
	Source string
	Origin string
}

// Book states of a quote; crossed and locked books are real market states
// and are shown, not rejected.
const (
	StateNormal  = ""
	StateLocked  = "locked"
	StateCrossed = "crossed"
)

// Limits on the free-text fields of an event.
const (
	MaxSourceLen = 32
	MaxOriginLen = 128
)

// Validate reports the first problem with e, as an *Error.
func (e *Event) Validate() error {
	if !validSymbol(string(e.Symbol)) {
		return errSymbol
	}
	if e.Kind == 0 || e.Kind&^(KindQuote|KindTrade) != 0 {
		return Errorf(ECodeEmpty, "neither a quote nor a trade")
	}
	if e.Kind&KindQuote != 0 {
		if e.Bid < 0 || e.Ask < 0 || (e.Bid == 0 && e.Ask == 0) {
			return Errorf(ECodePrice, "bid and ask must be positive")
		}
		if e.BidSize < 0 || e.AskSize < 0 {
			return Errorf(ECodeSize, "sizes must not be negative")
		}
	}
	if e.Kind&KindTrade != 0 {
		if e.Last <= 0 || e.Open < 0 || e.High < 0 || e.Low < 0 {
			return Errorf(ECodePrice, "trade price must be positive")
		}
		if e.Size < 0 || e.Volume < 0 {
			return Errorf(ECodeSize, "sizes must not be negative")
		}
	}
	if e.Time.IsZero() {
		return Errorf(ECodeTime, "missing timestamp")
	}
	if len(e.Source) > MaxSourceLen || !printable(e.Source) {
		return Errorf(ECodeField, "invalid source")
	}
	if len(e.Origin) > MaxOriginLen || !printable(e.Origin) {
		return Errorf(ECodeField, "invalid origin")
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// State returns StateLocked, StateCrossed or StateNormal.
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

// Apply folds e into q. A trade on a later UTC day than q's last update
// starts a new day: volume and day statistics restart.
func (q *Quote) Apply(e *Event) {
	if q.Symbol == "" {
		q.Symbol = e.Symbol
	}
	if e.Kind&KindTrade != 0 && !q.Time.IsZero() && utcDay(e.Time) > utcDay(q.Time) {
		q.Volume, q.Open, q.High, q.Low = 0, 0, 0, 0
	}
	// A one-sided quote (a FIX incremental, say) leaves the other side.
	if e.Kind&KindQuote != 0 && e.Bid != 0 {
		q.Bid, q.BidSize = e.Bid, e.BidSize
	}
	if e.Kind&KindQuote != 0 && e.Ask != 0 {
		q.Ask, q.AskSize = e.Ask, e.AskSize
	}
	if e.Kind&KindTrade != 0 {
		q.Last, q.LastSize = e.Last, e.Size
		if e.Volume > 0 {
			q.Volume = e.Volume
		} else {
			q.Volume += e.Size
		}
		q.Open = firstNonZero(e.Open, q.Open, e.Last)
		q.High = firstNonZero(e.High, max(q.High, e.Last))
		q.Low = firstNonZero(e.Low, minPositive(q.Low, e.Last))
	}
	q.Time, q.Source, q.Origin = e.Time, e.Source, e.Origin
}

func utcDay(t time.Time) int64 { return t.Unix() / 86400 }

func firstNonZero(ps ...Price) Price {
	for _, p := range ps {
		if p != 0 {
			return p
		}
	}
	return 0
}

func minPositive(a, b Price) Price {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// AppendJSON appends e as the JSON object carried on the quotes topic.
// Prices are strings so that no reader turns them into binary floats.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = appendString(dst, string(e.Symbol))
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, e.Kind.String()...)
	dst = append(dst, '"')
	if e.Kind&KindQuote != 0 {
		dst = appendPrice(dst, `,"bid":`, e.Bid)
		dst = appendInt(dst, `,"bid_size":`, e.BidSize)
		dst = appendPrice(dst, `,"ask":`, e.Ask)
		dst = appendInt(dst, `,"ask_size":`, e.AskSize)
	}
	if e.Kind&KindTrade != 0 {
		dst = appendPrice(dst, `,"last":`, e.Last)
		dst = appendInt(dst, `,"size":`, e.Size)
		dst = appendInt(dst, `,"volume":`, e.Volume)
		dst = appendPrice(dst, `,"open":`, e.Open)
		dst = appendPrice(dst, `,"high":`, e.High)
		dst = appendPrice(dst, `,"low":`, e.Low)
	}
	dst = append(dst, `,"ts":"`...)
	dst = e.Time.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, `","source":`...)
	dst = appendString(dst, e.Source)
	dst = append(dst, `,"origin":`...)
	dst = appendString(dst, e.Origin)
	return append(dst, '}')
}

// AppendJSON appends q as the JSON object of the contract: the SSE quote
// event, /api/quotes and the quotes.latest topic.
func (q *Quote) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = appendString(dst, string(q.Symbol))
	dst = appendPrice(dst, `,"bid":`, q.Bid)
	dst = appendPrice(dst, `,"ask":`, q.Ask)
	dst = appendInt(dst, `,"bid_size":`, q.BidSize)
	dst = appendInt(dst, `,"ask_size":`, q.AskSize)
	dst = appendPrice(dst, `,"last":`, q.Last)
	dst = appendInt(dst, `,"last_size":`, q.LastSize)
	dst = appendInt(dst, `,"volume":`, q.Volume)
	dst = appendPrice(dst, `,"open":`, q.Open)
	dst = appendPrice(dst, `,"high":`, q.High)
	dst = appendPrice(dst, `,"low":`, q.Low)
	dst = append(dst, `,"state":"`...)
	dst = append(dst, q.State()...)
	dst = append(dst, `","ts":"`...)
	dst = q.Time.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, `","source":`...)
	dst = appendString(dst, q.Source)
	dst = append(dst, `,"origin":`...)
	dst = appendString(dst, q.Origin)
	return append(dst, '}')
}

// MarshalJSON implements json.Marshaler.
func (q Quote) MarshalJSON() ([]byte, error) { return q.AppendJSON(nil), nil }

// MarshalJSON implements json.Marshaler.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

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

func appendInt(dst []byte, key string, v int64) []byte {
	dst = append(dst, key...)
	return strconv.AppendInt(dst, v, 10)
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

// jsonPrice holds a price's JSON text, a number or a string, unparsed.
type jsonPrice []byte

func (p *jsonPrice) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' {
		b = b[1 : len(b)-1]
	}
	*p = append((*p)[:0], b...)
	return nil
}

// wire is the JSON shape shared by events, quotes and tape's own feed
// format. Prices accept strings or numbers and stay exact (json.Number).
type wire struct {
	Symbol   string     `json:"symbol"`
	Kind     string     `json:"kind"`
	Bid      *jsonPrice `json:"bid"`
	Ask      *jsonPrice `json:"ask"`
	BidSize  *int64     `json:"bid_size"`
	AskSize  *int64     `json:"ask_size"`
	Last     *jsonPrice `json:"last"`
	Size     *int64     `json:"size"`
	LastSize *int64     `json:"last_size"`
	Volume   *int64     `json:"volume"`
	Open     *jsonPrice `json:"open"`
	High     *jsonPrice `json:"high"`
	Low      *jsonPrice `json:"low"`
	TS       string     `json:"ts"`
	Source   string     `json:"source"`
	Origin   string     `json:"origin"`
}

// ParseEvent parses one event object in tape's JSON, the format of the
// quotes topic and of tape's own feed format. When "kind" is absent it is
// inferred: bid or ask make a quote, last makes a trade, both make both.
// The result is validated.
func ParseEvent(b []byte) (Event, error) {
	var w wire
	if err := decodeStrict(b, &w); err != nil {
		return Event{}, err
	}
	var e Event
	sym, err := ParseSymbolString(w.Symbol)
	if err != nil {
		return e, Errorf(ECodeSymbol, "invalid symbol")
	}
	e.Symbol = sym
	switch w.Kind {
	case "quote":
		e.Kind = KindQuote
	case "trade":
		e.Kind = KindTrade
	case "quote+trade":
		e.Kind = KindQuote | KindTrade
	case "":
		if present(w.Bid) || present(w.Ask) {
			e.Kind |= KindQuote
		}
		if present(w.Last) {
			e.Kind |= KindTrade
		}
	default:
		return e, Errorf(ECodeField, "unknown kind")
	}
	for _, f := range []struct {
		dst *Price
		src *jsonPrice
	}{{&e.Bid, w.Bid}, {&e.Ask, w.Ask}, {&e.Last, w.Last}, {&e.Open, w.Open}, {&e.High, w.High}, {&e.Low, w.Low}} {
		if f.src == nil || string(*f.src) == "null" {
			continue
		}
		p, err := ParsePrice(*f.src)
		if err != nil {
			return e, Errorf(ECodePrice, "invalid price")
		}
		*f.dst = p
	}
	e.BidSize, e.AskSize, e.Volume = deref(w.BidSize), deref(w.AskSize), deref(w.Volume)
	e.Size = deref(w.Size)
	if w.Size == nil {
		e.Size = deref(w.LastSize)
	}
	if e.Time, err = ParseTime(w.TS); err != nil {
		return e, err
	}
	e.Source, e.Origin = w.Source, w.Origin
	return e, e.Validate()
}

// ParseQuote parses a quote object as written by Quote.AppendJSON.
func ParseQuote(b []byte) (Quote, error) {
	e, err := ParseEvent(b)
	if err != nil && (e.Kind != 0 || ErrorCode(err) != ECodeEmpty) {
		return Quote{}, err
	}
	q := Quote{
		Symbol: e.Symbol, Bid: e.Bid, Ask: e.Ask, BidSize: e.BidSize, AskSize: e.AskSize,
		Last: e.Last, LastSize: e.Size, Volume: e.Volume, Open: e.Open, High: e.High, Low: e.Low,
		Time: e.Time, Source: e.Source, Origin: e.Origin,
	}
	return q, nil
}

// ParseTime parses an RFC 3339 timestamp and returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, Errorf(ECodeTime, "missing timestamp")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, Errorf(ECodeTime, "invalid timestamp")
	}
	return t.UTC(), nil
}

func present(p *jsonPrice) bool { return p != nil && string(*p) != "null" }

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// decodeStrict decodes one JSON value into v, rejecting trailing data.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return Errorf(ECodeJSON, "malformed JSON")
	}
	if len(bytes.TrimSpace(b[d.InputOffset():])) != 0 {
		return Errorf(ECodeJSON, "trailing data after JSON value")
	}
	return nil
}
