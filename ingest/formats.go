package ingest

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"tape"
)

// MaxMessageBytes is the largest message a Format reads. Normalize of a
// larger one returns a single Reject with Index -1 and code ECodeTooBig.
const MaxMessageBytes = 1 << 20

// newFormat returns the named format reading instruments as inst says.
func newFormat(name string, inst *tape.Instruments) (Format, bool) {
	switch name {
	case tape.FormatTape:
		return &tapeFormat{inst: inst}, true
	case tape.FormatPolygon:
		return &polygonFormat{inst: inst}, true
	case tape.FormatAlpaca:
		return &alpacaFormat{inst: inst}, true
	case tape.FormatFinnhub:
		return &finnhubFormat{inst: inst}, true
	case tape.FormatFIX:
		return &fixFormat{inst: inst}, true
	case tape.FormatCSV:
		return &csvFormat{inst: inst}, true
	}
	return nil, false
}

// registry holds one instance of each format with the default
// instruments. Formats hold no mutable state, so the instances are
// shared.
var registry = func() map[string]Format {
	m := make(map[string]Format)
	for _, name := range []string{tape.FormatTape, tape.FormatPolygon, tape.FormatAlpaca, tape.FormatFinnhub, tape.FormatFIX, tape.FormatCSV} {
		m[name], _ = newFormat(name, nil)
	}
	return m
}()

var sortedNames = func() []string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}()

// Lookup returns the format with the given name, reading instruments by
// tape's default rules (see tape.Instruments). The Format is shared and
// safe for concurrent use.
func Lookup(name string) (Format, bool) {
	f, ok := registry[name]
	return f, ok
}

// FormatWith returns the named format reading instruments as inst says:
// which symbols are futures (and may trade below zero), crypto or FX, and
// so their trading days. inst must not change while the Format is in use;
// nil means tape's default rules. The Format is safe for concurrent use.
func FormatWith(name string, inst *tape.Instruments) (Format, bool) {
	return newFormat(name, inst)
}

// Formats returns the names of all formats, sorted.
func Formats() []string { return slices.Clone(sortedNames) }

// bom is the UTF-8 byte order mark some tools put before text. Every
// format ignores one at the start of a message (RFC 8259, section 8.1,
// lets JSON parsers do so) and CSV also before each line.
var bom = []byte("\xef\xbb\xbf")

// Sniff guesses the format of a message that arrived without a format
// header, from the way it starts: "8=FIX" is FIX, a JSON object (or array
// of objects) is told apart by the keys of its first object, and a line
// shaped like symbol,timestamp,number,number,... is CSV. It returns "" when
// it cannot tell. Sniff only guesses; Normalize still checks everything.
func Sniff(msg []byte) string {
	msg = bytes.TrimPrefix(msg, bom)
	msg = bytes.TrimLeft(msg, " \t\r\n")
	switch {
	case len(msg) == 0:
		return ""
	case bytes.HasPrefix(msg, []byte("8=FIX")):
		return tape.FormatFIX
	case msg[0] == '{' || msg[0] == '[':
		return sniffJSON(msg)
	case looksLikeCSV(msg):
		return tape.FormatCSV
	}
	return ""
}

// sniffJSON names the format whose keys the first object in msg uses. It
// decides at the first telling key, so a message cut short after it still
// sniffs.
func sniffJSON(msg []byte) string {
	var m tape.JSONMessage
	m.Reset(msg)
	if _, isObject, ok := m.Next(); !ok || !isObject {
		return ""
	}
	for key, _, ok := m.Member(); ok; key, _, ok = m.Member() {
		switch string(key) {
		case "ev", "sym":
			return tape.FormatPolygon
		case "T", "S":
			return tape.FormatAlpaca
		case "type", "data":
			return tape.FormatFinnhub
		case "symbol", "kind", "ts":
			return tape.FormatTape
		}
	}
	return ""
}

// looksLikeCSV reports whether the first line of msg is a CSV header or
// reads as symbol,timestamp,price,price[,...].
func looksLikeCSV(msg []byte) bool {
	line, _, _ := bytes.Cut(msg, []byte("\n"))
	var f [4][]byte
	for i := range f {
		var ok bool
		f[i], line, ok = bytes.Cut(line, []byte(","))
		if !ok && i < len(f)-1 {
			return false
		}
	}
	if bytes.EqualFold(f[0], []byte("symbol")) {
		return true
	}
	return tickerLike(f[0]) &&
		len(f[1]) > 0 && isDigit(f[1][0]) &&
		(len(f[2]) == 0 || numberLike(f[2])) &&
		(len(f[3]) == 0 || numberLike(bytes.TrimRight(f[3], "\r")))
}

// tickerLike is a loose form of the symbol pattern, enough for sniffing.
func tickerLike(b []byte) bool {
	if len(b) == 0 || len(b) > tape.MaxSymbolLen {
		return false
	}
	for _, c := range b {
		if !isDigit(c) && !('a' <= c|0x20 && c|0x20 <= 'z') && strings.IndexByte("./:_=^-", c) < 0 {
			return false
		}
	}
	return true
}

func numberLike(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return false
		}
	}
	return len(b) > 0
}

// Rejection reasons shared by the formats. They are constants so that a
// stream of bad messages costs no allocation; do not modify them.
var (
	errTooBig      = &tape.Error{Code: tape.ECodeTooBig, Message: "message larger than 1 MiB"}
	errEmpty       = &tape.Error{Code: tape.ECodeEmpty, Message: "empty message"}
	errSymbol      = &tape.Error{Code: tape.ECodeSymbol, Message: "invalid symbol"}
	errNoSymbol    = &tape.Error{Code: tape.ECodeSymbol, Message: "missing symbol"}
	errPrice       = &tape.Error{Code: tape.ECodePrice, Message: "invalid price"}
	errNoPrice     = &tape.Error{Code: tape.ECodePrice, Message: "missing price"}
	errNoBook      = &tape.Error{Code: tape.ECodePrice, Message: "quote without a bid or an ask"}
	errSize        = &tape.Error{Code: tape.ECodeSize, Message: "size is not a decimal number"}
	errTime        = &tape.Error{Code: tape.ECodeTime, Message: "invalid timestamp"}
	errNoTime      = &tape.Error{Code: tape.ECodeTime, Message: "missing timestamp"}
	errUnsupported = &tape.Error{Code: tape.ECodeField, Message: "unsupported event"}
	errNoType      = &tape.Error{Code: tape.ECodeField, Message: "missing event type"}
	errFeedError   = &tape.Error{Code: tape.ECodeField, Message: "feed reported an error"}
	errConditions  = &tape.Error{Code: tape.ECodeField, Message: "invalid trade conditions"}
	errTradeID     = &tape.Error{Code: tape.ECodeField, Message: "invalid trade id"}
	errNoTradeID   = &tape.Error{Code: tape.ECodeField, Message: "cancel or correction without a trade id"}
	errJSONElement = &tape.Error{Code: tape.ECodeJSON, Message: "array element is not an object"}
)

// prepare completes e as every format does: its source, its instrument's
// class and trading day (from inst), and a content identity for a trade
// whose format gave it no id (tape.ContentTradeID, counting identical
// trades among prior, the message's events before it). Then it validates
// e, so that a negative price is accepted only for a class that allows
// it.
func prepare(e *tape.Event, prior []tape.Event, source string, inst *tape.Instruments) error {
	e.Source = source
	e.Class = inst.Class(e.Symbol)
	e.Day = inst.Session(e.Class).Day(e.Time)
	if e.Kind&tape.KindTrade != 0 && e.TradeID.IsZero() {
		e.TradeID = tape.ContentTradeID(e, occurrence(prior, e))
	}
	return e.Validate()
}

// accept prepares e and appends it to dst if tape accepts it; base is
// where the message's events start in dst.
func accept(dst []tape.Event, base int, e *tape.Event, source string, inst *tape.Instruments) ([]tape.Event, error) {
	if err := prepare(e, dst[base:], source, inst); err != nil {
		return dst, err
	}
	return append(dst, *e), nil
}

// occurrence counts the trades among the last tape.ContentWindow events
// of prior that have e's content.
func occurrence(prior []tape.Event, e *tape.Event) int {
	n := 0
	for i := max(0, len(prior)-tape.ContentWindow); i < len(prior); i++ {
		if prior[i].Kind&tape.KindTrade != 0 && tape.SameContent(&prior[i], e) {
			n++
		}
	}
	return n
}

// jsonWalk walks a message that is one JSON object or an array of them,
// the shape of every JSON format but Finnhub's, collecting Rejects. Each
// format's Normalize drives it with a loop that calls the format's own
// object decoder directly:
//
//	var w jsonWalk
//	w.start(dst, msg)
//	for w.next() {
//		dst = w.done(f.decode(&w.m, dst, w.base))
//	}
//	return w.end(dst)
type jsonWalk struct {
	m       tape.JSONMessage
	base    int // len(dst) before the message, for rolling back
	index   int // the current element's Index for Rejects
	tooBig  bool
	rejects []Reject
}

// start prepares to walk msg, whose events are appended to dst.
func (w *jsonWalk) start(dst []tape.Event, msg []byte) {
	w.base = len(dst)
	if len(msg) > MaxMessageBytes {
		w.tooBig = true
		return
	}
	w.m.Reset(bytes.TrimPrefix(msg, bom))
}

// next moves to the next object and reports whether there is one. Array
// elements that are not objects become Rejects.
func (w *jsonWalk) next() bool {
	for !w.tooBig {
		index, isObject, ok := w.m.Next()
		if !ok {
			return false
		}
		w.index = index
		if isObject {
			return true
		}
		w.reject(errJSONElement)
	}
	return false
}

// done records the outcome of decoding the current object and passes the
// events through.
func (w *jsonWalk) done(dst []tape.Event, err error) []tape.Event {
	if err != nil && w.m.SyntaxErr() == nil {
		w.reject(err)
	}
	return dst
}

func (w *jsonWalk) reject(err error) {
	w.rejects = append(w.rejects, Reject{Index: w.index, Err: err})
}

// end finishes the walk. A message with a syntax error anywhere is not
// read at all: its events are taken back and it gets one Reject.
func (w *jsonWalk) end(dst []tape.Event) ([]tape.Event, []Reject) {
	if w.tooBig {
		return dst[:w.base], []Reject{{Index: -1, Err: errTooBig}}
	}
	if err := w.m.Err(); err != nil {
		return dst[:w.base], []Reject{{Index: -1, Err: err}}
	}
	return dst, w.rejects
}

// Bounds of Unix timestamps told apart by magnitude: each unit alone
// covers March 1973 to the year 5138, so real timestamps never overlap.
const (
	minUnixMilli = 1e11
	minUnixMicro = 1e14
	minUnixNano  = 1e17
)

// unixTime converts a Unix timestamp in milliseconds, microseconds or
// nanoseconds, told apart by magnitude. Values below 1e11 are rejected:
// they are most likely seconds, which would read as January 1970.
func unixTime(n int64) (time.Time, bool) {
	switch {
	case n < minUnixMilli:
		return time.Time{}, false
	case n < minUnixMicro:
		return time.UnixMilli(n).UTC(), true
	case n < minUnixNano:
		return time.UnixMicro(n).UTC(), true
	}
	return time.Unix(0, n).UTC(), true
}

// atoi parses a short run of decimal digits, nothing else.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseUint parses a non-negative int64, such as a Unix timestamp,
// written as plain digits.
func parseUint(b []byte) (int64, bool) {
	if n := digitsLen(b); n != len(b) || n == 0 || n > 19 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		d := int64(c - '0')
		if v > (1<<63-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitsLen(b []byte) int {
	for i, c := range b {
		if !isDigit(c) {
			return i
		}
	}
	return len(b)
}

// jsonPrice reads a price sent as a JSON number; null or absent is no
// price. The number's own text goes to tape.ParsePrice, so it stays exact.
func jsonPrice(v tape.JSONValue) (tape.Price, error) {
	if !v.Present() {
		return 0, nil
	}
	b, ok := v.Number()
	if !ok {
		return 0, errPrice
	}
	p, err := tape.ParsePrice(b)
	if err != nil {
		return 0, errPrice
	}
	return p, nil
}

// jsonSize reads a size sent as a JSON number, or as a string holding a
// decimal where the vendor sends fractional sizes that way; null or
// absent is zero. Its errors say why (tape.ParseSize).
func jsonSize(v tape.JSONValue) (tape.Size, error) {
	if !v.Present() {
		return 0, nil
	}
	b, ok := v.Number()
	if !ok {
		return 0, errSize
	}
	return tape.ParseSize(b)
}

// jsonUnixTime reads a Unix timestamp in ms, µs or ns sent as a number.
func jsonUnixTime(v tape.JSONValue) (time.Time, error) {
	if !v.Present() {
		return time.Time{}, errNoTime
	}
	if b, ok := v.Number(); ok {
		if n, ok := parseUint(b); ok {
			if t, ok := unixTime(n); ok {
				return t, nil
			}
		}
	}
	return time.Time{}, errTime
}

// jsonRFC3339 reads an RFC 3339 timestamp sent as a string.
func jsonRFC3339(v tape.JSONValue) (time.Time, error) {
	if !v.Present() {
		return time.Time{}, errNoTime
	}
	var buf [48]byte
	b, ok := v.Text(buf[:])
	if !ok {
		return time.Time{}, errTime
	}
	t, err := tape.ParseTimeBytes(b)
	if err != nil {
		return time.Time{}, errTime
	}
	return t, nil
}

// jsonSymbol reads a symbol sent as a string.
func jsonSymbol(v tape.JSONValue) (tape.Symbol, error) {
	if !v.Present() {
		return "", errNoSymbol
	}
	var buf [tape.MaxSymbolLen]byte
	b, ok := v.Text(buf[:])
	if !ok {
		return "", errSymbol
	}
	return tape.InternSymbol(b)
}

// jsonText returns the content of a short string field such as an event
// type, or nil if the value is not a string that fits in buf.
func jsonText(v tape.JSONValue, buf []byte) []byte {
	if b, ok := v.Text(buf); ok {
		return b
	}
	return nil
}

// jsonTradeID reads a vendor's trade id, sent as a string or a number,
// and prefixes it with venue, the id's scope.
func jsonTradeID(venue []byte, v tape.JSONValue) (tape.TradeID, error) {
	if !v.Present() {
		return tape.TradeID{}, nil
	}
	var buf [tape.MaxTradeIDLen]byte
	id, ok := v.Number()
	if !ok {
		if id, ok = v.Text(buf[:]); !ok {
			return tape.TradeID{}, errTradeID
		}
	}
	t, ok := tape.MakeTradeID(venue, id)
	if !ok {
		return tape.TradeID{}, errTradeID
	}
	return t, nil
}

// jsonVenue returns an exchange code sent as a string or a number, for
// scoping trade ids, or nil.
func jsonVenue(v tape.JSONValue, buf []byte) []byte {
	if b, ok := v.Number(); ok {
		return b
	}
	return jsonText(v, buf)
}
