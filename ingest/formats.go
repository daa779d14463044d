package ingest

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tape"
)

// MaxMessageBytes is the largest message a Format reads. Normalize of a
// larger one returns a single Reject with Index -1 and code ECodeTooBig.
const MaxMessageBytes = 1 << 20

// registry holds one instance of each format. Formats keep only
// concurrency-safe caches, so the instances are shared.
var registry = map[string]Format{
	tape.FormatTape:    &tapeFormat{},
	tape.FormatPolygon: &polygonFormat{},
	tape.FormatAlpaca:  &alpacaFormat{},
	tape.FormatFinnhub: &finnhubFormat{},
	tape.FormatFIX:     &fixFormat{},
	tape.FormatCSV:     &csvFormat{},
}

var sortedNames = func() []string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}()

// Lookup returns the format with the given name. The Format is shared and
// safe for concurrent use.
func Lookup(name string) (Format, bool) {
	f, ok := registry[name]
	return f, ok
}

// Formats returns the names of all formats, sorted.
func Formats() []string { return slices.Clone(sortedNames) }

// Sniff guesses the format of a message that arrived without a format
// header, from the way it starts: "8=FIX" is FIX, a JSON object (or array
// of objects) is told apart by the keys of its first object, and a line
// shaped like symbol,timestamp,number,number,... is CSV. It returns "" when
// it cannot tell. Sniff only guesses; Normalize still checks everything.
func Sniff(msg []byte) string {
	msg = bytes.TrimPrefix(msg, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
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
	sc := jsonScanner{data: msg}
	if sc.peek() == '[' && (!sc.openArray() || !sc.element(0)) {
		return ""
	}
	if !sc.openObject() {
		return ""
	}
	for i := 0; ; i++ {
		key, ok := sc.member(i)
		if !ok {
			return ""
		}
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
		sc.value()
	}
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
	errSize        = &tape.Error{Code: tape.ECodeSize, Message: "size must be a non-negative integer"}
	errTime        = &tape.Error{Code: tape.ECodeTime, Message: "invalid timestamp"}
	errNoTime      = &tape.Error{Code: tape.ECodeTime, Message: "missing timestamp"}
	errUnsupported = &tape.Error{Code: tape.ECodeField, Message: "unsupported event"}
	errNoType      = &tape.Error{Code: tape.ECodeField, Message: "missing event type"}
	errFeedError   = &tape.Error{Code: tape.ECodeField, Message: "feed reported an error"}
	errFieldType   = &tape.Error{Code: tape.ECodeField, Message: "field has the wrong type"}
	errUnknownKind = &tape.Error{Code: tape.ECodeField, Message: "unknown kind"}
)

// maxCachedSymbols bounds each format's symbol cache, so that a feed
// sending endless distinct symbols cannot grow it without limit. Symbols
// beyond it are still accepted; they just cost an allocation each.
const maxCachedSymbols = 1 << 14

// symbolCache maps a feed's raw symbol bytes to validated tape.Symbols, so
// that the hot path does not allocate a string per event. A sync.Map rather
// than a mutex-guarded map because every message reads it and almost none
// write: its loads take no lock, and a lookup keyed by string(b) does not
// allocate.
type symbolCache struct {
	m sync.Map     // string(raw bytes) -> tape.Symbol
	n atomic.Int64 // entries in m; concurrent stores may overshoot the bound by a few
}

// symbol returns b as a validated, upper-cased Symbol.
func (c *symbolCache) symbol(b []byte) (tape.Symbol, error) {
	if len(b) == 0 || len(b) > tape.MaxSymbolLen {
		return "", errSymbol
	}
	if s, ok := c.m.Load(string(b)); ok {
		return s.(tape.Symbol), nil
	}
	s, err := tape.ParseSymbol(b)
	if err != nil {
		return "", errSymbol
	}
	if c.n.Load() < maxCachedSymbols {
		key := string(s)
		if key != string(b) { // a lower-case spelling gets its own entry
			key = string(b)
		}
		if _, loaded := c.m.LoadOrStore(key, s); !loaded {
			c.n.Add(1)
		}
	}
	return s, nil
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

// parseRFC3339 parses an RFC 3339 timestamp such as
// 2021-02-22T15:51:44.208123Z or 2021-02-22T10:51:44-05:00 and returns it
// in UTC. Unlike time.Parse it never allocates (time.Parse does for
// offsets that are not whole hours and, through the string conversion,
// for long inputs). It accepts a subset of what time.Parse accepts: no
// comma before the fraction, offsets below 24 hours; fraction digits past
// the ninth are dropped, as time.Parse does.
func parseRFC3339(b []byte) (time.Time, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := atoi(b[0:4])
	month, ok2 := atoi(b[5:7])
	day, ok3 := atoi(b[8:10])
	hour, ok4 := atoi(b[11:13])
	minute, ok5 := atoi(b[14:16])
	sec, ok6 := atoi(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validDate(year, month, day) || !validClock(hour, minute, sec) {
		return time.Time{}, false
	}
	b = b[19:]
	nsec := 0
	if b[0] == '.' {
		n := digitsLen(b[1:])
		var ok bool
		if nsec, ok = fraction(b[1 : 1+n]); !ok {
			return time.Time{}, false
		}
		b = b[1+n:]
	}
	var offset int // seconds east of UTC
	switch {
	case len(b) == 1 && b[0] == 'Z':
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		oh, ok1 := atoi(b[1:3])
		om, ok2 := atoi(b[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if b[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	t = t.Add(-time.Duration(offset) * time.Second)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false // tape writes four-digit years only
	}
	return t, true
}

// fraction converts the digits after a decimal point to nanoseconds,
// ignoring digits past the ninth.
func fraction(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	ns := 0
	for i := range 9 {
		ns *= 10
		if i < len(b) {
			ns += int(b[i] - '0')
		}
	}
	return ns, true
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

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func validDate(year, month, day int) bool {
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}

// validClock rejects leap seconds as time.Parse does.
func validClock(hour, minute, sec int) bool {
	return hour <= 23 && minute <= 59 && sec <= 59
}

// maxSizeExp bounds the exponent parseSize accepts; no int64 needs more.
const maxSizeExp = 30

// parseSize parses a non-negative whole quantity. Vendors that send sizes
// as JSON numbers may write 100 as 100.0 or 1e2, and those are accepted;
// a fractional quantity such as 1.5 is not, nor is a negative one.
func parseSize(b []byte) (int64, bool) {
	if n := digitsLen(b); n == len(b) && n > 0 && n <= 18 {
		var v int64 // the common case; 18 digits cannot overflow
		for _, c := range b {
			v = v*10 + int64(c-'0')
		}
		return v, true
	}
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	mant, exp, hasExp := b, 0, false
	if i := bytes.IndexAny(b, "eE"); i >= 0 {
		mant, hasExp = b[:i], true
		e := b[i+1:]
		neg := len(e) > 0 && e[0] == '-'
		if len(e) > 0 && (e[0] == '-' || e[0] == '+') {
			e = e[1:]
		}
		var ok bool
		if exp, ok = atoi(e); !ok || exp > maxSizeExp {
			return 0, false
		}
		if neg {
			exp = -exp
		}
	}
	whole, frac, _ := bytes.Cut(mant, []byte("."))
	frac = bytes.TrimRight(frac, "0")
	if len(whole)+len(frac) == 0 || (hasExp && len(mant) == 0) {
		return 0, false
	}
	// The value is the digits of whole and frac read as one integer,
	// times 10^scale.
	scale := exp - len(frac)
	var n uint64
	digits := len(whole) + len(frac)
	if scale < 0 {
		digits += scale // the last -scale digits must be zeros
		if digits < 0 {
			digits = 0
		}
	}
	for i := range len(whole) + len(frac) {
		c := digitAt(whole, frac, i)
		if !isDigit(c) {
			return 0, false
		}
		if i >= digits {
			if c != '0' {
				return 0, false
			}
			continue
		}
		if n > (1<<63-1-uint64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	for ; scale > 0; scale-- {
		if n > (1<<63-1)/10 {
			return 0, false
		}
		n *= 10
	}
	if neg && n != 0 { // -0 and -0.0 are zero
		return 0, false
	}
	return int64(n), true
}

func digitAt(whole, frac []byte, i int) byte {
	if i < len(whole) {
		return whole[i]
	}
	return frac[i-len(whole)]
}

// jsonPrice reads a price sent as a JSON number; null or absent is no
// price. The number's own text goes to tape.ParsePrice, so it stays exact.
func jsonPrice(v jsonValue) (tape.Price, error) {
	switch v.kind {
	case jsonAbsent, jsonNull:
		return 0, nil
	case jsonNumber:
		p, err := tape.ParsePrice(v.raw)
		if err != nil {
			return 0, errPrice
		}
		return p, nil
	}
	return 0, errPrice
}

// jsonSize reads a size sent as a JSON number; null or absent is zero.
func jsonSize(v jsonValue) (int64, error) {
	switch v.kind {
	case jsonAbsent, jsonNull:
		return 0, nil
	case jsonNumber:
		if n, ok := parseSize(v.raw); ok {
			return n, nil
		}
	}
	return 0, errSize
}

// jsonUnixTime reads a Unix timestamp in ms, µs or ns sent as a number.
func jsonUnixTime(v jsonValue) (time.Time, error) {
	switch v.kind {
	case jsonAbsent, jsonNull:
		return time.Time{}, errNoTime
	case jsonNumber:
		if n, ok := parseSize(v.raw); ok {
			if t, ok := unixTime(n); ok {
				return t, nil
			}
		}
	}
	return time.Time{}, errTime
}

// jsonRFC3339 reads an RFC 3339 timestamp sent as a string.
func jsonRFC3339(v jsonValue) (time.Time, error) {
	if v.kind == jsonAbsent || v.kind == jsonNull {
		return time.Time{}, errNoTime
	}
	var buf [48]byte
	b, ok := v.text(buf[:])
	if !ok {
		return time.Time{}, errTime
	}
	t, ok := parseRFC3339(b)
	if !ok {
		return time.Time{}, errTime
	}
	return t, nil
}

// jsonSymbol reads a symbol sent as a string.
func (c *symbolCache) jsonSymbol(v jsonValue) (tape.Symbol, error) {
	if v.kind == jsonAbsent || v.kind == jsonNull {
		return "", errNoSymbol
	}
	var buf [tape.MaxSymbolLen]byte
	b, ok := v.text(buf[:])
	if !ok {
		return "", errSymbol
	}
	return c.symbol(b)
}

// jsonText returns the content of a short string field such as an event
// type, or nil if the value is not a string that fits in buf.
func jsonText(v jsonValue, buf []byte) []byte {
	if b, ok := v.text(buf); ok {
		return b
	}
	return nil
}

// validated appends e to dst if tape accepts it.
func validated(dst []tape.Event, e *tape.Event) ([]tape.Event, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	return append(dst, *e), nil
}
