package tape

import (
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds tape's one JSON reader: an allocation-free scanner used
// by ParseEvent, ParseQuote, ParseCheckpoint and, through JSONMessage and
// JSONValue, by every JSON feed format in package ingest.

// maxJSONDepth bounds how deeply arrays and objects may nest. Feed messages
// need three levels (message array, event object, condition array) and a
// checkpoint four; the limit keeps hostile input from driving the
// scanner's recursion deep. encoding/json allows 10 000 levels, so deeper
// documents are the one place the two disagree.
const maxJSONDepth = 16

// maxKeyLen is the longest escaped key the scanner decodes. Every key tape
// looks at is at most nine characters, which is 54 bytes even when each is
// written as \uXXXX; longer escaped keys are passed on raw and simply
// match nothing.
const maxKeyLen = 64

var (
	errJSONSyntax   = &Error{Code: ECodeJSON, Message: "malformed JSON"}
	errJSONEnd      = &Error{Code: ECodeJSON, Message: "truncated JSON"}
	errJSONDepth    = &Error{Code: ECodeJSON, Message: "JSON nested too deeply"}
	errJSONTrailing = &Error{Code: ECodeJSON, Message: "trailing data after JSON value"}
	errJSONShape    = &Error{Code: ECodeJSON, Message: "expected an object or an array of objects"}
	errJSONEmpty    = &Error{Code: ECodeEmpty, Message: "empty message"}
)

// JSONKind is the type of a JSON value; the zero kind means "absent".
type JSONKind uint8

// The kinds of JSON values.
const (
	JSONAbsent JSONKind = iota
	JSONString
	JSONNumber
	JSONBool
	JSONNull
	JSONObject
	JSONArray
)

// JSONValue is one value of a JSON document as it appears in the input,
// without copying: it is valid as long as the input is. The zero
// JSONValue is an absent value.
type JSONValue struct {
	// raw holds, for a string, the bytes between the quotes, still escaped
	// if escaped is set; for any other kind the value's full text.
	raw     []byte
	kind    JSONKind
	escaped bool
}

// Kind returns the value's kind, JSONAbsent for the zero JSONValue.
func (v JSONValue) Kind() JSONKind { return v.kind }

// Present reports whether the value is there and not null.
func (v JSONValue) Present() bool { return v.kind != JSONAbsent && v.kind != JSONNull }

// Raw returns the value's text as it appears in the input: for a string
// the bytes between the quotes, escapes included.
func (v JSONValue) Raw() []byte { return v.raw }

// Text returns a string's content, unescaping into buf when needed. It
// never grows buf: it reports false if the value is not a string or its
// content does not fit, which callers treat as an invalid field.
func (v JSONValue) Text(buf []byte) ([]byte, bool) {
	if v.kind != JSONString {
		return nil, false
	}
	if !v.escaped {
		return v.raw, true
	}
	return unescape(buf[:0], v.raw)
}

// Number returns a number's text, such as "-1.5e3", or false for any
// other kind.
func (v JSONValue) Number() ([]byte, bool) {
	if v.kind != JSONNumber {
		return nil, false
	}
	return v.raw, true
}

// decimal returns the text of a decimal sent as a number or as a string
// holding one, the two ways tape's own JSON accepts prices and sizes.
func (v JSONValue) decimal() ([]byte, bool) {
	switch {
	case v.kind == JSONNumber:
		return v.raw, true
	case v.kind == JSONString && !v.escaped && isJSONNumber(v.raw):
		return v.raw, true
	}
	return nil, false
}

// Members returns an iterator over the members of an object value. For
// any other kind the iterator yields nothing.
func (v JSONValue) Members() JSONMembers {
	m := JSONMembers{}
	if v.kind == JSONObject {
		m.sc.data = v.raw
		m.sc.openObject()
	} else {
		m.i = -1
	}
	return m
}

// Elements returns an iterator over the elements of an array value. For
// any other kind the iterator yields nothing.
func (v JSONValue) Elements() JSONElements {
	a := JSONElements{}
	if v.kind == JSONArray {
		a.sc.data = v.raw
		a.sc.openArray()
	} else {
		a.i = -1
	}
	return a
}

// ParseJSON reads b as exactly one JSON value of any kind, with white
// space around it. It accepts what encoding/json accepts, except values
// nested more than 16 levels deep.
func ParseJSON(b []byte) (JSONValue, error) {
	sc := jsonScanner{data: b}
	v := sc.value()
	sc.finish()
	if sc.err != nil {
		return JSONValue{}, sc.err
	}
	return v, nil
}

// JSONMembers iterates over the members of an object, in order:
//
//	for m := v.Members(); ; {
//		key, val, ok := m.Next()
//		if !ok {
//			break
//		}
//		...
//	}
//
// A key is unescaped when it has escapes (into the iterator, so it is
// valid until the next call); escaped keys longer than 64 bytes come back
// raw and match nothing a format looks for.
type JSONMembers struct {
	sc jsonScanner
	i  int // the next member's index; -1 when there are none
}

// Next returns the next member, or false after the last one or on error.
func (m *JSONMembers) Next() (key []byte, v JSONValue, ok bool) {
	if m.i < 0 {
		return nil, JSONValue{}, false
	}
	key, ok = m.sc.member(m.i)
	if !ok {
		m.i = -1
		return nil, JSONValue{}, false
	}
	m.i++
	v = m.sc.value()
	if m.sc.err != nil {
		m.i = -1
		return nil, JSONValue{}, false
	}
	return key, v, true
}

// Err returns the syntax error that ended the iteration, if any.
func (m *JSONMembers) Err() error { return m.sc.err }

// JSONElements iterates over the elements of an array, in order.
type JSONElements struct {
	sc jsonScanner
	i  int // the next element's index; -1 when there are none
}

// Next returns the next element, or false after the last one or on error.
func (a *JSONElements) Next() (JSONValue, bool) {
	if a.i < 0 || !a.sc.element(a.i) {
		a.i = -1
		return JSONValue{}, false
	}
	a.i++
	v := a.sc.value()
	if a.sc.err != nil {
		a.i = -1
		return JSONValue{}, false
	}
	return v, true
}

// Err returns the syntax error that ended the iteration, if any.
func (a *JSONElements) Err() error { return a.sc.err }

// JSONMessage walks a feed message that is one JSON object or an array of
// them, the shape of most vendors' messages, in one pass and without
// allocating:
//
//	var m tape.JSONMessage
//	m.Reset(msg)
//	for {
//		index, isObject, ok := m.Next()
//		if !ok {
//			break
//		}
//		for key, v, ok := m.Member(); ok; key, v, ok = m.Member() {
//			...
//		}
//	}
//	if err := m.Err(); err != nil { ... } // the whole message is bad
//
// A syntax error anywhere ends the walk and is reported by Err; the
// objects read before it must then be discarded, since the message cannot
// be trusted.
type JSONMessage struct {
	sc       jsonScanner
	array    bool // the message is an array rather than one object
	handed   bool // the one object of a non-array message was handed out
	inObject bool // Next opened an object whose members are not all read
	member   int  // the next member's index in the current object
	index    int  // the current element's index
	done     bool // Next reached the end of the message
	err      error
}

// Reset starts a walk over msg. A message that is empty (or white space)
// or that is neither an object nor an array is reported by Err.
func (m *JSONMessage) Reset(msg []byte) {
	*m = JSONMessage{index: -1}
	m.sc.data = msg
	switch m.sc.peek() {
	case 0:
		m.err = errJSONEmpty
	case '[':
		m.array = true
		m.sc.openArray()
	case '{':
	default:
		m.err = errJSONShape
	}
}

// Next moves to the next object: the message itself, or the next element
// of the array. index is the element's position in the array, -1 for a
// message that is one object. An element that is not an object is
// skipped and reported with isObject false. Next reports false at the end
// of the message or on error.
func (m *JSONMessage) Next() (index int, isObject, ok bool) {
	if m.inObject {
		for _, _, more := m.Member(); more; _, _, more = m.Member() {
		}
	}
	if m.err != nil || m.sc.err != nil {
		return 0, false, false
	}
	if !m.array {
		if m.handed {
			m.done = true
			return 0, false, false
		}
		m.handed = true
		m.openObject()
		return -1, true, m.sc.err == nil
	}
	m.index++
	if !m.sc.element(m.index) {
		m.done = m.sc.err == nil
		return 0, false, false
	}
	if m.sc.peek() != '{' {
		m.sc.value()
		return m.index, false, m.sc.err == nil
	}
	m.openObject()
	return m.index, true, m.sc.err == nil
}

func (m *JSONMessage) openObject() {
	m.sc.openObject()
	m.inObject, m.member = true, 0
}

// Member returns the next member of the current object, or false after
// its last member or on error. Keys are as JSONMembers.Next returns them.
func (m *JSONMessage) Member() (key []byte, v JSONValue, ok bool) {
	if !m.inObject {
		return nil, JSONValue{}, false
	}
	key, ok = m.sc.member(m.member)
	if !ok {
		m.inObject = false
		return nil, JSONValue{}, false
	}
	m.member++
	v = m.sc.value()
	if m.sc.err != nil {
		m.inObject = false
		return nil, JSONValue{}, false
	}
	return key, v, true
}

// Err returns what made the message unreadable: a syntax error anywhere
// in it (trailing data is checked once Next has reported the end), an
// empty message, or one that is neither an object nor an array. It is nil
// for a well-formed message.
func (m *JSONMessage) Err() error {
	if m.err != nil {
		return m.err
	}
	if m.done && m.sc.err == nil {
		m.sc.finish()
	}
	return m.sc.err
}

// SyntaxErr returns the syntax error met so far, if any, without
// checking the rest of the message: for telling, inside the walk, a bad
// field from a message that cannot be read at all.
func (m *JSONMessage) SyntaxErr() error { return m.sc.err }

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

// peek returns the next byte that is not white space, or 0 at the end. A
// NUL byte in the input comes back as 0xff, which is as invalid, so that
// it is never taken for the end.
func (s *jsonScanner) peek() byte {
	s.skipSpace()
	if s.err != nil || s.pos >= len(s.data) {
		return 0
	}
	if c := s.data[s.pos]; c != 0 {
		return c
	}
	return 0xff
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
func (s *jsonScanner) value() JSONValue {
	c := s.peek()
	if s.err != nil {
		return JSONValue{}
	}
	start := s.pos
	switch {
	case c == '"':
		raw, escaped := s.str()
		return JSONValue{raw: raw, kind: JSONString, escaped: escaped}
	case c == '-' || '0' <= c && c <= '9':
		n := numberLen(s.data[s.pos:])
		if n < 0 {
			s.fail(errJSONSyntax)
			return JSONValue{}
		}
		s.pos += n
		return JSONValue{raw: s.data[start:s.pos], kind: JSONNumber}
	case c == '{':
		s.skipObject()
		return JSONValue{raw: s.data[start:s.pos], kind: JSONObject}
	case c == '[':
		s.skipArray()
		return JSONValue{raw: s.data[start:s.pos], kind: JSONArray}
	case c == 't':
		return s.literal("true", JSONBool)
	case c == 'f':
		return s.literal("false", JSONBool)
	case c == 'n':
		return s.literal("null", JSONNull)
	case c == 0:
		s.fail(errJSONEnd)
	default:
		s.fail(errJSONSyntax)
	}
	return JSONValue{}
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

func (s *jsonScanner) literal(word string, kind JSONKind) JSONValue {
	end := s.pos + len(word)
	if end > len(s.data) || string(s.data[s.pos:end]) != word {
		s.fail(errJSONSyntax)
		return JSONValue{}
	}
	v := JSONValue{raw: s.data[s.pos:end], kind: kind}
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
