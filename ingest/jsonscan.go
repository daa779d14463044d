package ingest

import (
	"unicode/utf16"
	"unicode/utf8"

	"tape"
)

// maxJSONDepth bounds how deeply arrays and objects may nest. Feed messages
// need three levels (message array, event object, condition array); the
// limit keeps hostile input from driving the scanner's recursion deep.
const maxJSONDepth = 16

// maxKeyLen is the longest escaped key the scanner decodes. Every key a
// format looks at is at most nine characters, which is 54 bytes even when
// each is written as \uXXXX; longer escaped keys are passed on raw and
// simply match nothing.
const maxKeyLen = 64

var (
	errJSONSyntax   = &tape.Error{Code: tape.ECodeJSON, Message: "malformed JSON"}
	errJSONEnd      = &tape.Error{Code: tape.ECodeJSON, Message: "truncated JSON"}
	errJSONDepth    = &tape.Error{Code: tape.ECodeJSON, Message: "JSON nested too deeply"}
	errJSONTrailing = &tape.Error{Code: tape.ECodeJSON, Message: "trailing data after JSON value"}
	errJSONShape    = &tape.Error{Code: tape.ECodeJSON, Message: "expected an object or an array of objects"}
	errJSONElement  = &tape.Error{Code: tape.ECodeJSON, Message: "array element is not an object"}
)

// jsonKind is the type of a JSON value; the zero kind means "absent".
type jsonKind uint8

const (
	jsonAbsent jsonKind = iota
	jsonString
	jsonNumber
	jsonBool
	jsonNull
	jsonObject
	jsonArray
)

// jsonValue is one value as it appears in the message, without copying.
// For a string, raw holds the bytes between the quotes, still escaped if
// escaped is set; for any other kind it holds the value's full text.
type jsonValue struct {
	raw     []byte
	kind    jsonKind
	escaped bool
}

// text returns the string's content, unescaping into buf when needed. It
// never grows buf: it reports false if the value is not a string or its
// content does not fit, which callers treat as an invalid field.
func (v jsonValue) text(buf []byte) ([]byte, bool) {
	if v.kind != jsonString {
		return nil, false
	}
	if !v.escaped {
		return v.raw, true
	}
	return unescape(buf[:0], v.raw)
}

// jsonScanner reads JSON from a byte slice without allocating. It stops at
// the first syntax error and keeps it in err; once err is set every method
// is a no-op, so callers check err once after a loop rather than after
// every step.
//
// Objects and arrays are walked with a counter that the caller keeps,
// which is what lets the scanner tell "{" followed by a key from a "," that
// must precede every later one:
//
//	sc.openObject()
//	for i := 0; ; i++ {
//		key, ok := sc.member(i)
//		if !ok {
//			break
//		}
//		v := sc.value()
//	}
type jsonScanner struct {
	data  []byte
	pos   int
	depth int
	err   error
	// keyBuf holds the most recent key when it had to be unescaped.
	keyBuf [maxKeyLen]byte
}

func (s *jsonScanner) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

func (s *jsonScanner) skipSpace() {
	for s.pos < len(s.data) && s.data[s.pos] <= ' ' {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte that is not white space, or 0 at the end.
func (s *jsonScanner) peek() byte {
	s.skipSpace()
	if s.err != nil || s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// finish checks that nothing but white space follows the value just read.
func (s *jsonScanner) finish() {
	if s.peek() != 0 {
		s.fail(errJSONTrailing)
	}
}

// open consumes the bracket c that must come next.
func (s *jsonScanner) open(c byte) bool {
	switch s.peek() {
	case c:
	case 0:
		s.fail(errJSONEnd)
		return false
	default:
		s.fail(errJSONSyntax)
		return false
	}
	if s.depth >= maxJSONDepth {
		s.fail(errJSONDepth)
		return false
	}
	s.depth++
	s.pos++
	return true
}

// next consumes what separates the i'th item of an object or array from
// the one before: nothing before the first, a comma before the others. It
// reports false, having consumed the closing bracket, when there is no
// i'th item.
func (s *jsonScanner) next(i int, closing byte) bool {
	c := s.peek()
	switch {
	case s.err != nil:
		return false
	case c == 0:
		s.fail(errJSONEnd)
		return false
	case c == closing:
		s.pos++
		s.depth--
		return false
	case i == 0:
		return true
	case c == ',':
		s.pos++
		return true
	}
	s.fail(errJSONSyntax)
	return false
}

// openObject consumes the '{' that must come next.
func (s *jsonScanner) openObject() bool { return s.open('{') }

// openArray consumes the '[' that must come next.
func (s *jsonScanner) openArray() bool { return s.open('[') }

// member reads the key of the i'th member of the object being walked and
// the colon after it, leaving the scanner at the value. It reports false
// after the closing brace or on error.
func (s *jsonScanner) member(i int) ([]byte, bool) {
	if !s.next(i, '}') {
		return nil, false
	}
	if s.peek() != '"' {
		s.fail(errJSONSyntax)
		return nil, false
	}
	raw, escaped := s.str()
	if s.peek() != ':' {
		s.fail(errJSONSyntax)
		return nil, false
	}
	s.pos++
	if escaped && len(raw) <= maxKeyLen {
		if k, ok := unescape(s.keyBuf[:0], raw); ok {
			return k, true
		}
	}
	return raw, s.err == nil
}

// element reports whether the array being walked has an i'th element,
// leaving the scanner at it.
func (s *jsonScanner) element(i int) bool { return s.next(i, ']') }

// value reads the next value. Objects and arrays are checked for syntax
// and skipped, and come back as their full text.
func (s *jsonScanner) value() jsonValue {
	c := s.peek()
	if s.err != nil {
		return jsonValue{}
	}
	start := s.pos
	switch {
	case c == '"':
		raw, escaped := s.str()
		return jsonValue{raw: raw, kind: jsonString, escaped: escaped}
	case c == '-' || '0' <= c && c <= '9':
		n := numberLen(s.data[s.pos:])
		if n < 0 {
			s.fail(errJSONSyntax)
			return jsonValue{}
		}
		s.pos += n
		return jsonValue{raw: s.data[start:s.pos], kind: jsonNumber}
	case c == '{':
		s.skipObject()
		return jsonValue{raw: s.data[start:s.pos], kind: jsonObject}
	case c == '[':
		s.skipArray()
		return jsonValue{raw: s.data[start:s.pos], kind: jsonArray}
	case c == 't':
		return s.literal("true", jsonBool)
	case c == 'f':
		return s.literal("false", jsonBool)
	case c == 'n':
		return s.literal("null", jsonNull)
	case c == 0:
		s.fail(errJSONEnd)
	default:
		s.fail(errJSONSyntax)
	}
	return jsonValue{}
}

func (s *jsonScanner) skipObject() {
	if !s.openObject() {
		return
	}
	for i := 0; ; i++ {
		if _, ok := s.member(i); !ok {
			return
		}
		s.value()
	}
}

func (s *jsonScanner) skipArray() {
	if !s.openArray() {
		return
	}
	for i := 0; s.element(i); i++ {
		s.value()
	}
}

func (s *jsonScanner) literal(word string, kind jsonKind) jsonValue {
	end := s.pos + len(word)
	if end > len(s.data) || string(s.data[s.pos:end]) != word {
		s.fail(errJSONSyntax)
		return jsonValue{}
	}
	v := jsonValue{raw: s.data[s.pos:end], kind: kind}
	s.pos = end
	return v
}

// str reads the string at the scanner's position and returns its content
// between the quotes, and whether it holds escapes.
func (s *jsonScanner) str() (raw []byte, escaped bool) {
	start := s.pos + 1
	for i := start; i < len(s.data); i++ {
		c := s.data[i]
		if !strSpecial[c] {
			continue
		}
		switch {
		case c == '"':
			s.pos = i + 1
			return s.data[start:i], escaped
		case c == '\\':
			n := escapeLen(s.data[i:])
			if n < 0 {
				s.fail(errJSONSyntax)
				return nil, false
			}
			escaped = true
			i += n - 1
		default: // a control character
			s.fail(errJSONSyntax)
			return nil, false
		}
	}
	s.fail(errJSONEnd)
	return nil, false
}

// strSpecial marks the bytes that end the fast path through a string.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// escapeLen returns the length of the escape sequence b starts with, or -1
// if it is not a valid one.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) >= 6 && hex4(b[2:6]) >= 0 {
			return 6
		}
	}
	return -1
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape appends the content of an escaped string, already checked by
// str, to dst. It reports false instead of growing dst past its capacity.
// Lone surrogates become U+FFFD, as encoding/json does.
func unescape(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if len(dst) == cap(dst) {
				return dst, false
			}
			dst = append(dst, c)
			i++
			continue
		}
		var r rune
		switch raw[i+1] {
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			r = hex4(raw[i+2:])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+8 <= len(raw) && raw[i+2] == '\\' && raw[i+3] == 'u' {
					r2 = utf16.DecodeRune(r, hex4(raw[i+4:]))
				}
				if r2 != utf8.RuneError {
					i += 6
				}
				r = r2
			}
		default: // '"', '\\', '/'
			r = rune(raw[i+1])
		}
		i += 2
		if cap(dst)-len(dst) < utf8.RuneLen(r) {
			return dst, false
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst, true
}

// numberLen returns the length of the JSON number that b starts with, or
// -1 if b does not start with one.
func numberLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i += digitsLen(b[i:])
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		n := digitsLen(b[i+1:])
		if n == 0 {
			return -1
		}
		i += 1 + n
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		n := digitsLen(b[i:])
		if n == 0 {
			return -1
		}
		i += n
	}
	return i
}

// isJSONNumber reports whether b is exactly one JSON number.
func isJSONNumber(b []byte) bool { return numberLen(b) == len(b) }

func digitsLen(b []byte) int {
	for i, c := range b {
		if c < '0' || c > '9' {
			return i
		}
	}
	return len(b)
}

// jsonMessage walks a feed message that is one JSON object or an array of
// them, the shape of every JSON format but Finnhub's. Each format's
// Normalize drives it with a loop that calls the format's own object
// decoder directly, which keeps the scanner on the stack:
//
//	var m jsonMessage
//	m.start(dst, msg)
//	for m.next() {
//		dst = m.done(f.decode(&m.sc, dst))
//	}
//	return m.end(dst)
type jsonMessage struct {
	sc      jsonScanner
	base    int  // len(dst) before the message, for rolling back
	array   bool // the message is an array rather than one object
	index   int  // the current element's Index for Rejects
	handed  bool // the one object of a non-array message was handed out
	err     error
	rejects []Reject
}

// start prepares to walk msg, whose events are appended to dst.
func (m *jsonMessage) start(dst []tape.Event, msg []byte) {
	m.base = len(dst)
	m.index = -1
	m.sc.data = msg
	switch {
	case len(msg) > MaxMessageBytes:
		m.err = errTooBig
	case m.sc.peek() == 0:
		m.err = errEmpty
	case m.sc.peek() == '[':
		m.array = true
		m.sc.openArray()
	case m.sc.peek() != '{':
		m.err = errJSONShape
	}
}

// next positions the scanner at the next object and reports whether there
// is one. Array elements that are not objects become Rejects.
func (m *jsonMessage) next() bool {
	if m.err != nil || m.sc.err != nil {
		return false
	}
	if !m.array {
		more := !m.handed
		m.handed = true
		return more
	}
	for {
		m.index++
		if !m.sc.element(m.index) {
			return false
		}
		if m.sc.peek() == '{' {
			return true
		}
		m.sc.value()
		m.reject(errJSONElement)
	}
}

// done records the outcome of decoding the current object and passes the
// events through.
func (m *jsonMessage) done(dst []tape.Event, err error) []tape.Event {
	if err != nil && m.sc.err == nil {
		m.reject(err)
	}
	return dst
}

func (m *jsonMessage) reject(err error) {
	m.rejects = append(m.rejects, Reject{Index: m.index, Err: err})
}

// end finishes the walk. A message with a syntax error anywhere is not
// read at all: its events are taken back and it gets one Reject.
func (m *jsonMessage) end(dst []tape.Event) ([]tape.Event, []Reject) {
	if m.err == nil {
		m.sc.finish()
		m.err = m.sc.err
	}
	if m.err != nil {
		return dst[:m.base], []Reject{{Index: -1, Err: m.err}}
	}
	return dst, m.rejects
}
