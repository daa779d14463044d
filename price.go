package tape

import (
	"errors"
	"math"
	"strconv"
)

// PriceDecimals is the number of decimal places a Price holds exactly.
// Eight places cover crypto quotes (satoshis) as well as equities and FX.
const PriceDecimals = 8

const priceScale = 100_000_000 // 10^PriceDecimals

// MaxPrice is the largest price tape accepts (about 92 billion).
const MaxPrice = Price(math.MaxInt64)

// Price is an exact decimal price in units of 10^-8. It never passes
// through a binary float, so "187.42" stays "187.42" from the vendor's bytes
// to the trader's screen. The zero Price means "no price".
type Price int64

var (
	errPriceSyntax = errors.New("not a decimal number")
	errPriceRange  = errors.New("out of range")
)

// ParsePrice parses a decimal number such as "187.42", "-0.5", "1e3" or
// "1.2345E-4" exactly. Digits beyond the eighth decimal place are rounded
// half away from zero; vendors that send float artefacts such as
// 187.42000000000002 get 187.42. Whether a negative price is acceptable
// depends on the instrument (see AssetClass); ParsePrice only reads it.
func ParsePrice(s []byte) (Price, error) {
	u, err := parseDecimal(s)
	return Price(u), err
}

// parseDecimal reads a decimal number in units of 10^-8 (PriceDecimals
// and SizeDecimals are equal), exactly, rounding half away from zero past
// the eighth decimal place.
func parseDecimal(s []byte) (int64, error) {
	if len(s) == 0 || len(s) > 64 {
		return 0, errPriceSyntax
	}
	i, neg := 0, false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i++
	}
	// digits holds the mantissa's digits (integer then fraction part);
	// point is how many of them stand before the decimal point.
	digStart := i
	point, ndig, sawDot := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			ndig++
			if !sawDot {
				point++
			}
		} else if c == '.' && !sawDot {
			sawDot = true
		} else {
			break
		}
	}
	if ndig == 0 {
		return 0, errPriceSyntax
	}
	digEnd := i
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return 0, errPriceSyntax
		}
		e, ok := smallInt(s[i+1:])
		if !ok || e > 30 || e < -30 {
			return 0, errPriceSyntax
		}
		point += e
	}
	// A digit at index j (0-based, dots skipped) has place value
	// 10^(point-1-j); keep those down to 10^-8 and round on the next one.
	var units uint64
	j := 0
	roundUp := false
	for k := digStart; k < digEnd; k++ {
		c := s[k]
		if c == '.' {
			continue
		}
		power := point - 1 - j
		j++
		d := uint64(c - '0')
		if power < -PriceDecimals {
			roundUp = power == -PriceDecimals-1 && d >= 5
			break
		}
		if units > (math.MaxInt64-d)/10 {
			return 0, errPriceRange
		}
		units = units*10 + d
	}
	// Pad when the last digit sat above 10^-8 (such as "187" or "1e3").
	for power := point - j; power > -PriceDecimals; power-- {
		if units > math.MaxInt64/10 {
			return 0, errPriceRange
		}
		units *= 10
	}
	if roundUp {
		units++
	}
	if units > math.MaxInt64 {
		return 0, errPriceRange
	}
	if neg {
		return -int64(units), nil
	}
	return int64(units), nil
}

// smallInt parses an optionally signed exponent without allocating, as
// strconv.Atoi would; values beyond ±1000 come back as ±1001.
func smallInt(b []byte) (int, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = min(n*10+int(c-'0'), 1001)
	}
	if neg {
		n = -n
	}
	return n, true
}

// MustPrice is ParsePrice for constants in tests and examples; it panics on
// bad input.
func MustPrice(s string) Price {
	p, err := ParsePrice([]byte(s))
	if err != nil {
		panic("tape: bad price " + strconv.Quote(s))
	}
	return p
}

// PriceFromInt returns units * 10^-decimals as a Price, for vendors that send
// integer prices with an implied scale.
func PriceFromInt(units int64, decimals int) (Price, error) {
	if decimals < 0 || decimals > PriceDecimals {
		return 0, errPriceRange
	}
	mul := int64(1)
	for range PriceDecimals - decimals {
		mul *= 10
	}
	if units > math.MaxInt64/mul || units < math.MinInt64/mul {
		return 0, errPriceRange
	}
	return Price(units * mul), nil
}

// AppendText appends the price in plain decimal notation with at least two
// decimal places and no trailing zeros beyond them: 187.5 is "187.50",
// 0.00001234 is "0.00001234".
func (p Price) AppendText(dst []byte) []byte { return appendDecimal(dst, int64(p), 2) }

// appendDecimal writes units of 10^-8 in plain decimal notation with at
// least minFrac decimal places and no trailing zeros beyond them.
func appendDecimal(dst []byte, v int64, minFrac int) []byte {
	u := uint64(v)
	if v < 0 {
		dst = append(dst, '-')
		u = -u // also right for math.MinInt64
	}
	whole, frac := u/priceScale, u%priceScale
	dst = strconv.AppendUint(dst, whole, 10)
	var buf [PriceDecimals]byte
	for i := PriceDecimals - 1; i >= 0; i-- {
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := PriceDecimals
	for end > minFrac && buf[end-1] == '0' {
		end--
	}
	if end == 0 {
		return dst
	}
	dst = append(dst, '.')
	return append(dst, buf[:end]...)
}

// String returns the price as AppendText writes it.
func (p Price) String() string { return string(p.AppendText(make([]byte, 0, 24))) }

// MarshalText implements encoding.TextMarshaler.
func (p Price) MarshalText() ([]byte, error) { return p.AppendText(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Price) UnmarshalText(b []byte) error {
	v, err := ParsePrice(b)
	if err != nil {
		return err
	}
	*p = v
	return nil
}
