package tape_test

import (
	"testing"
	"time"

	"tape"
)

func TestTradingDays(t *testing.T) {
	utc := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	var in tape.Instruments
	for _, tt := range []struct {
		sym, at, want string
	}{
		// US equities: the New York date, in winter (EST) and summer (EDT).
		{"AAPL", "2026-01-05T20:00:00Z", "2026-01-05"}, // Monday 15:00 EST
		{"AAPL", "2026-01-06T00:30:00Z", "2026-01-05"}, // Monday 19:30 EST
		{"AAPL", "2026-01-06T04:59:59Z", "2026-01-05"}, // Monday 23:59:59 EST
		{"AAPL", "2026-01-06T05:00:00Z", "2026-01-06"}, // Tuesday midnight EST
		{"AAPL", "2026-01-06T14:30:00Z", "2026-01-06"}, // Tuesday 09:30 EST
		{"AAPL", "2026-03-10T00:30:00Z", "2026-03-09"}, // Monday 20:30 EDT
		{"AAPL", "2026-03-10T03:59:59Z", "2026-03-09"}, // Monday 23:59:59 EDT
		{"AAPL", "2026-03-10T04:00:00Z", "2026-03-10"}, // Tuesday midnight EDT
		{"AAPL", "2026-03-08T06:59:59Z", "2026-03-08"}, // the night DST begins: 01:59:59 EST
		{"AAPL", "2026-03-08T07:00:00Z", "2026-03-08"}, // 03:00 EDT
		{"AAPL", "2026-11-01T05:59:59Z", "2026-11-01"}, // the night DST ends: 01:59:59 EDT
		{"AAPL", "2026-11-01T06:00:00Z", "2026-11-01"}, // 01:00 EST again
		// FX: the day rolls at 17:00 New York, winter and summer.
		{"EUR/USD", "2026-01-05T21:59:59Z", "2026-01-05"}, // 16:59:59 EST
		{"EUR/USD", "2026-01-05T22:00:00Z", "2026-01-06"}, // 17:00 EST
		{"EUR/USD", "2026-07-06T20:59:59Z", "2026-07-06"}, // 16:59:59 EDT
		{"EUR/USD", "2026-07-06T21:00:00Z", "2026-07-07"}, // 17:00 EDT
		{"EUR/USD", "2026-01-04T22:00:00Z", "2026-01-05"}, // Sunday 17:00: Monday's session
		{"EUR/USD", "2026-01-31T22:00:00Z", "2026-02-01"}, // a roll across a month end
		// Crypto: the UTC date.
		{"BTC-USD", "2026-01-05T23:59:59Z", "2026-01-05"},
		{"BTC-USD", "2026-01-06T00:00:00Z", "2026-01-06"},
		// Futures: CME Globex rolls at 17:00 Chicago.
		{"CL=F", "2020-04-20T18:30:00Z", "2020-04-20"}, // 13:30 CDT
		{"CL=F", "2020-04-20T22:00:00Z", "2020-04-21"}, // 17:00 CDT
		{"ES=F", "2026-12-31T23:00:00Z", "2027-01-01"}, // 17:00 CST on New Year's Eve
	} {
		got := in.Day(tape.Symbol(tt.sym), utc(tt.at))
		if got.String() != tt.want {
			t.Errorf("%s at %s: day %s, want %s", tt.sym, tt.at, got, tt.want)
		}
	}
}

func TestParseDay(t *testing.T) {
	d, err := tape.ParseDay([]byte("2024-02-29"))
	if err != nil || d != tape.MakeDay(2024, 2, 29) || d.String() != "2024-02-29" {
		t.Fatalf("ParseDay: %v %v", d, err)
	}
	for _, bad := range []string{"", "2023-02-29", "2024-13-01", "2024-1-01", "20240101", "0000-01-01", "2024-01-01T"} {
		if _, err := tape.ParseDay([]byte(bad)); err == nil {
			t.Errorf("ParseDay(%q) accepted", bad)
		}
	}
}

func TestInstrumentClasses(t *testing.T) {
	var def *tape.Instruments
	for sym, want := range map[string]tape.AssetClass{
		"AAPL": tape.ClassEquity, "BRK.B": tape.ClassEquity, "BRK-B": tape.ClassEquity, "^GSPC": tape.ClassEquity,
		"CLZ6": tape.ClassEquity, "CL=F": tape.ClassFuture, "ES=F": tape.ClassFuture,
		"EUR/USD": tape.ClassFX, "USD-JPY": tape.ClassFX, "C:EURUSD": tape.ClassFX, "EURUSD=X": tape.ClassFX, "OANDA:EUR_USD": tape.ClassFX,
		"BTC-USD": tape.ClassCrypto, "BTC/USD": tape.ClassCrypto, "ETH-BTC": tape.ClassCrypto, "SOL/USDT": tape.ClassCrypto,
		"X:BTCUSD": tape.ClassCrypto, "BINANCE:BTCUSDT": tape.ClassCrypto,
	} {
		if got := def.Class(tape.Symbol(sym)); got != want {
			t.Errorf("default class of %s = %q, want %q", sym, got, want)
		}
	}
	in, err := tape.ParseInstruments("future=CL,NG; crypto=DOGEUSD; equity=BTC-USD; session.fx=Europe/London@22:00")
	if err != nil {
		t.Fatal(err)
	}
	for sym, want := range map[string]tape.AssetClass{
		"CL": tape.ClassFuture, "CLZ6": tape.ClassFuture, "CLK20": tape.ClassFuture, "CL=F": tape.ClassFuture, "NGF7": tape.ClassFuture,
		"CLX": tape.ClassEquity, "CLZ": tape.ClassEquity, "CLZ123": tape.ClassEquity,
		"DOGEUSD": tape.ClassCrypto, "BTC-USD": tape.ClassEquity, "AAPL": tape.ClassEquity,
	} {
		if got := in.Class(tape.Symbol(sym)); got != want {
			t.Errorf("configured class of %s = %q, want %q", sym, got, want)
		}
	}
	if got := in.Day("EUR/USD", time.Date(2026, 1, 5, 22, 0, 0, 0, time.UTC)).String(); got != "2026-01-06" {
		t.Errorf("London 22:00 roll at 22:00Z: %s", got)
	}
	if got := in.Day("EUR/USD", time.Date(2026, 7, 6, 21, 0, 0, 0, time.UTC)).String(); got != "2026-07-07" {
		t.Errorf("London 22:00 roll in summer time (21:00Z): %s", got)
	}
	for _, bad := range []string{"bond=X", "future", "future=<b>", "session.fx=Nowhere/City@17:00", "session.fx=America/New_York@25:00", "session.bond=UTC@00:00"} {
		if _, err := tape.ParseInstruments(bad); err == nil {
			t.Errorf("ParseInstruments(%q) accepted", bad)
		}
	}
}

func TestConditionTables(t *testing.T) {
	updates := func(skip tape.Updates) string { return (tape.AllUpdates &^ skip).String() }
	for _, tt := range []struct {
		name string
		skip tape.Updates
		want string
	}{
		{"polygon regular", tape.PolygonCondition(0), "last,high_low,open,volume"},
		{"polygon QCT, contingent, trade-thru exempt", tape.PolygonCondition(53) | tape.PolygonCondition(52) | tape.PolygonCondition(41), "volume"},
		{"polygon odd lot", tape.PolygonCondition(37), "volume"},
		{"polygon form T", tape.PolygonCondition(12), "volume"},
		{"polygon sold out of sequence", tape.PolygonCondition(33), "high_low,volume"},
		{"polygon official close", tape.PolygonCondition(15), ""},
		{"polygon corrected consolidated close", tape.PolygonCondition(38), "last,high_low,open"},
		{"polygon unknown id counts in volume only", tape.PolygonCondition(999), "volume"},
		{"UTP odd lot", tape.UTPCondition('I'), "volume"},
		{"UTP bunched (B)", tape.UTPCondition('B'), "last,high_low,open,volume"},
		{"CTA average price (B)", tape.CTACondition('B'), "volume"},
		{"CTA regular blank", tape.CTACondition(' '), "last,high_low,open,volume"},
		{"CTA derivatively priced", tape.CTACondition('4'), "high_low,volume"},
		{"CTA unknown letter", tape.CTACondition('J'), "volume"},
		{"FIX volume only", tape.FIXCondition([]byte("a")), "volume"},
		{"FIX sold out of sequence", tape.FIXCondition([]byte("M")), "high_low,volume"},
		{"FIX official closing price", tape.FIXCondition([]byte("AJ")), ""},
	} {
		if got := updates(tt.skip); got != tt.want {
			t.Errorf("%s: updates %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, s := range []string{"", "volume", "last,high_low,open,volume", "open,last"} {
		u, ok := tape.ParseUpdates([]byte(s))
		back, _ := tape.ParseUpdates(u.AppendText(nil))
		if !ok || back != u {
			t.Errorf("ParseUpdates(%q) = %v %v", s, u, ok)
		}
	}
	if _, ok := tape.ParseUpdates([]byte("volume,")); ok {
		t.Error(`ParseUpdates("volume,") accepted`)
	}
}
