package tape_test

import (
	"testing"

	"tape"
)

// TestPriceChangeIsExactAtTheExtremes: the change shown next to a price
// is exact decimal arithmetic, whatever the magnitudes.
func TestPriceChangeIsExactAtTheExtremes(t *testing.T) {
	for _, tt := range []struct {
		name, last, open, diff, pct string
	}{
		{"ordinary", "187.43", "186.10", "+1.33", "+0.71"},
		{"large prices", "1500000000", "1480000000", "+20000000.00", "+1.35"},
		{"huge move", "10000000", "100", "+9999900.00", "+9999900.00"},
		{"down", "99.00", "100.00", "-1.00", "-1.00"},
		{"unchanged", "5.00", "5.00", "+0.00", "+0.00"},
		{"rounds half away from zero", "100.005", "100", "+0.005", "+0.01"},
		{"tiny move rounds to zero", "100.001", "100", "+0.001", "+0.00"},
		{"tiny fall keeps its sign", "99.999", "100", "-0.001", "-0.00"},
		{"sub-penny", "0.00001235", "0.00001234", "+0.00000001", "+0.08"},
		{"negative open", "-10.00", "-37.63", "+27.63", "+73.43"},
		{"crosses zero", "-1.00", "1.00", "-2.00", "-200.00"},
		{"largest apart", "92233720368.54775807", "-92233720368.54775807", "+184467440737.09551614", "+200.00"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			diff, pct, ok := tape.PriceChange(tape.MustPrice(tt.last), tape.MustPrice(tt.open))
			if !ok || diff != tt.diff || pct != tt.pct {
				t.Fatalf("PriceChange(%s, %s) = %s (%s%%) %v, want %s (%s%%)", tt.last, tt.open, diff, pct, ok, tt.diff, tt.pct)
			}
		})
	}
	if _, _, ok := tape.PriceChange(tape.MustPrice("1"), 0); ok {
		t.Fatal("a change without an open price")
	}
}
