package tape

import (
	"math/big"
	"strings"
)

// PriceChange returns how far last moved from open: the difference as
// exact decimal text ("+0.02", "-1.50", at least two decimals, as Price
// writes prices) and that difference as a percentage of |open| with two
// decimals, rounded half away from zero ("+1.35", "-0.07"). ok is false
// when either price is missing (zero).
//
// It computes in arbitrary precision: last − open can exceed the int64
// range when prices are negative, and the percentage's intermediate
// product (difference × 10⁴) overflows int64 for moves above ~9.2 million
// in price units. The page script computes the same with BigInt.
func PriceChange(last, open Price) (diff, percent string, ok bool) {
	if last == 0 || open == 0 {
		return "", "", false
	}
	d := new(big.Int).Sub(big.NewInt(int64(last)), big.NewInt(int64(open)))
	o := new(big.Int).Abs(big.NewInt(int64(open)))
	// Hundredths of a percent: d / |open| × 10⁴, rounded half away from
	// zero: (2·|d|·10⁴ + |open|) / (2·|open|), with d's sign.
	num := new(big.Int).Abs(d)
	num.Mul(num, big.NewInt(2*10_000))
	num.Add(num, o)
	den := new(big.Int).Mul(o, big.NewInt(2))
	hundredths := num.Quo(num, den)
	if d.Sign() < 0 {
		hundredths.Neg(hundredths)
	}
	pct := decimalText(hundredths, 2, 2)
	if d.Sign() < 0 && hundredths.Sign() == 0 {
		// A fall too small to show in hundredths is still a fall: its
		// sign agrees with the change's and the colour.
		pct = "-" + pct
	}
	return signed(decimalText(d, PriceDecimals, 2)), signed(pct), true
}

// signed puts "+" before a text without a "-" ("+0.00" for zero).
func signed(text string) string {
	if strings.HasPrefix(text, "-") {
		return text
	}
	return "+" + text
}

// decimalText writes v × 10^-scale with at least min decimals and no
// trailing zeros beyond them; v's sign is kept.
func decimalText(v *big.Int, scale, min int) string {
	s := new(big.Int).Abs(v).String()
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	whole, frac := s[:len(s)-scale], s[len(s)-scale:]
	for len(frac) > min && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	out := whole + "." + frac
	if v.Sign() < 0 {
		out = "-" + out
	}
	return out
}
