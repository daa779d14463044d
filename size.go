package tape

import (
	"math"
	"strconv"
)

// SizeDecimals is the number of decimal places a Size holds exactly: a
// hundred-millionth, the satoshi, covers fractional crypto quantities
// such as Finnhub's 0.011467 BTC as well as shares and contracts.
const SizeDecimals = PriceDecimals

// MaxSize is the largest size tape accepts, for a trade, a side of the
// book or a day's volume: 92 233 720 368.54775807 units.
const MaxSize = Size(math.MaxInt64)

// Size is an exact, non-negative quantity (shares, contracts, coins) in
// units of 10^-8, like Price. It is written in JSON as a decimal string,
// "100" or "0.011467", so that no reader turns it into a binary float.
type Size int64

var (
	errSizeSyntax   = &Error{Code: ECodeSize, Message: "size is not a decimal number"}
	errSizeNegative = &Error{Code: ECodeSize, Message: "size must not be negative"}
	errSizeRange    = &Error{Code: ECodeSize, Message: "size out of range (above 92233720368.54775807)"}
)

// ParseSize parses a non-negative decimal quantity such as "100", "100.0",
// "1e2" or "0.011467" exactly, rounding past the eighth decimal place as
// ParsePrice does. Its errors are *Error with code ECodeSize, naming the
// reason: not a number, negative, or above MaxSize (a vendor's
// 9223372036854775807 shares is).
func ParseSize(b []byte) (Size, error) {
	u, err := parseDecimal(b)
	switch {
	case err == errPriceRange:
		return 0, errSizeRange
	case err != nil:
		return 0, errSizeSyntax
	case u < 0:
		return 0, errSizeNegative
	}
	return Size(u), nil
}

// MustSize is ParseSize for constants in tests and examples; it panics on
// bad input.
func MustSize(s string) Size {
	v, err := ParseSize([]byte(s))
	if err != nil {
		panic("tape: bad size " + strconv.Quote(s))
	}
	return v
}

// SizeFromInt returns units * 10^-decimals as a Size, for whole or
// implied-decimal quantities, or an error if it is negative or too large.
func SizeFromInt(units int64, decimals int) (Size, error) {
	if units < 0 {
		return 0, errSizeNegative
	}
	p, err := PriceFromInt(units, decimals)
	if err != nil {
		return 0, errSizeRange
	}
	return Size(p), nil
}

// AppendText appends the size in plain decimal notation without trailing
// zeros: "100", "0.011467".
func (s Size) AppendText(dst []byte) []byte { return appendDecimal(dst, int64(s), 0) }

// String returns the size as AppendText writes it.
func (s Size) String() string { return string(s.AppendText(make([]byte, 0, 24))) }

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return s.AppendText(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(b)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// addSize returns a+b, or MaxSize and false if the sum would not fit.
func addSize(a, b Size) (Size, bool) {
	if a > MaxSize-b {
		return MaxSize, false
	}
	return a + b, true
}
