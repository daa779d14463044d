package tape

import "errors"

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
