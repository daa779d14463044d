package tape

import (
	"errors"
	"sync"
	"sync/atomic"
)

// MaxSymbolLen is the longest symbol tape accepts.
const MaxSymbolLen = 24

// Symbol is an upper-case instrument identifier such as "AAPL", "BRK.B",
// "BTC-USD", "EUR/USD", "ES=F" or "^GSPC".
//
// The accepted pattern is ^[A-Z0-9^][A-Z0-9./:_=^-]{0,23}$ after
// upper-casing. It admits real tickers and nothing that could break HTML
// (< > & " '), SSE or log lines (control characters, spaces), or the
// comma-separated ?symbols= list.
type Symbol string

// ErrSymbol reports a symbol that does not match the accepted pattern.
var ErrSymbol = errors.New("tape: invalid symbol")

// ParseSymbol upper-cases and validates b. It allocates only when b is valid.
func ParseSymbol(b []byte) (Symbol, error) {
	if len(b) == 0 || len(b) > MaxSymbolLen {
		return "", ErrSymbol
	}
	var buf [MaxSymbolLen]byte
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if !symbolByte(c, i == 0) {
			return "", ErrSymbol
		}
		buf[i] = c
	}
	return Symbol(buf[:len(b)]), nil
}

var errSymbol = Errorf(ECodeSymbol, "invalid symbol")

// validSymbol reports whether s is already a valid, upper-case symbol,
// without allocating.
func validSymbol(s string) bool {
	if len(s) == 0 || len(s) > MaxSymbolLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !symbolByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

// ParseSymbolString is ParseSymbol for a string.
func ParseSymbolString(s string) (Symbol, error) {
	if validSymbol(s) {
		return Symbol(s), nil
	}
	if len(s) > MaxSymbolLen {
		return "", ErrSymbol
	}
	return ParseSymbol([]byte(s))
}

func symbolByte(c byte, first bool) bool {
	switch {
	case 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '^':
		return true
	case first:
		return false
	}
	switch c {
	case '.', '/', ':', '_', '=', '-':
		return true
	}
	return false
}

// maxInternedSymbols bounds the symbols InternSymbol keeps, so that a
// feed sending endless distinct symbols cannot grow the table without
// limit. Symbols beyond it are still accepted; they just cost an
// allocation each.
const maxInternedSymbols = 1 << 14

// symbols maps raw symbol bytes (as sent, any case) to validated Symbols.
// A sync.Map rather than a mutex-guarded map because every message reads
// it and almost none write: its loads take no lock, and a lookup keyed by
// string(b) does not allocate.
var symbols struct {
	m sync.Map     // string(raw bytes) -> Symbol
	n atomic.Int64 // entries in m; concurrent stores may overshoot the bound by a few
}

// InternSymbol is ParseSymbol for the hot paths of parsers: a symbol seen
// before comes back as the same string, without allocating. Its error is
// an *Error with code ECodeSymbol.
func InternSymbol(b []byte) (Symbol, error) {
	if len(b) == 0 || len(b) > MaxSymbolLen {
		return "", errSymbol
	}
	if s, ok := symbols.m.Load(string(b)); ok {
		return s.(Symbol), nil
	}
	s, err := ParseSymbol(b)
	if err != nil {
		return "", errSymbol
	}
	if symbols.n.Load() < maxInternedSymbols {
		key := string(s)
		if key != string(b) { // a lower-case spelling gets its own entry
			key = string(b)
		}
		if _, loaded := symbols.m.LoadOrStore(key, s); !loaded {
			symbols.n.Add(1)
		}
	}
	return s, nil
}
