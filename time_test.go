package tape_test

import (
	"math"
	"testing"
	"time"

	"tape"
)

// AppendTime writes what AppendFormat with TimeLayout writes, at the
// edges of days, months, leap years, centuries and the epoch.
func TestAppendTimeMatchesTimeLayout(t *testing.T) {
	cases := []time.Time{
		time.Unix(0, 0),
		time.Unix(-1, 999_999_999),
		time.Date(2026, 11, 20, 14, 30, 1, 123_000_000, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 1, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2100, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 8, 2, 30, 0, 0, time.FixedZone("EST", -5*3600)),
	}
	for _, tm := range cases {
		want := tm.UTC().Format(tape.TimeLayout)
		if got := string(tape.AppendTime([]byte("x"), tm)); got != "x"+want {
			t.Errorf("AppendTime(%v) = %q, want %q", tm, got[1:], want)
		}
	}
}

func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1763649001), int64(123_000_000))
	f.Add(int64(-62167219200), int64(5))
	f.Add(int64(math.MaxInt64/2), int64(0))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		want := tm.UTC().Format(tape.TimeLayout)
		if got := string(tape.AppendTime(nil, tm)); got != want {
			t.Fatalf("AppendTime(%d, %d) = %q, want %q", sec, nsec, got, want)
		}
	})
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2026, 11, 20, 14, 30, 1, 123_000_000, time.UTC)
	buf := make([]byte, 0, 64)
	b.Run("AppendTime", func(b *testing.B) {
		for b.Loop() {
			buf = tape.AppendTime(buf[:0], tm)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = tm.UTC().AppendFormat(buf[:0], tape.TimeLayout)
		}
	})
}
