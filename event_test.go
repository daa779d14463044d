package tape_test

import (
	"encoding/json"
	"testing"
	"time"

	"tape"
)

func TestEventJSONRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 20, 14, 30, 1, 123456789, time.UTC)
	events := []tape.Event{
		{Symbol: "AAPL", Kind: tape.KindQuote, Sides: tape.BothSides, Class: tape.ClassEquity, Day: tape.MakeDay(2026, 11, 20),
			Bid: px("187.42"), Ask: px("187.44"), BidSize: sz("100"), AskSize: sz("300"), Time: ts, Source: "polygon", Origin: "feeds.raw/0/17/0"},
		{Symbol: "AAPL", Kind: tape.KindQuote, Sides: tape.SideAsk, Time: ts, Source: "fix"},
		{Symbol: "BTC-USD", Kind: tape.KindTrade, Last: px("65432.1"), Size: sz("0.011467"), TradeID: mustID(t, "CBSE:1"),
			Ineligible: tape.UpdatesLast | tape.UpdatesOpen, Time: ts, Source: "tape"},
		{Symbol: "CL=F", Kind: tape.KindTrade, Class: tape.ClassFuture, Last: px("-37.63"), Size: sz("1"), TradeID: mustID(t, "~00ff"), Time: ts},
		{Symbol: "AAPL", Kind: tape.KindCancel, Ref: mustID(t, "V:71684334236466"), Last: px("73.28"), Size: sz("20100"), Time: ts},
		{Symbol: "AAPL", Kind: tape.KindCorrection, Ref: mustID(t, "N:1"), TradeID: mustID(t, "N:2"), Last: px("50.05"), Size: sz("300"), Time: ts},
		{Symbol: "EUR/USD", Kind: tape.KindQuote | tape.KindTrade, Sides: tape.BothSides, Bid: px("1.08"), Ask: px("1.09"), Last: px("1.085"), Time: ts},
	}
	for _, ev := range events {
		t.Run(ev.Kind.String()+" "+string(ev.Symbol), func(t *testing.T) {
			b := ev.AppendJSON(nil)
			if !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
			got, err := tape.ParseEvent(b)
			if err != nil {
				t.Fatalf("ParseEvent(%s): %v", b, err)
			}
			if got != ev {
				t.Fatalf("round trip of %s:\n got %+v\nwant %+v", b, got, ev)
			}
		})
	}
}

func TestEventJSONIsExact(t *testing.T) {
	at := time.Unix(0, 5).UTC()
	for _, tt := range []struct {
		ev   tape.Event
		want string
	}{
		{tape.Event{Symbol: "X", Kind: tape.KindQuote, Bid: px("0.1"), Ask: px("0.3"), Time: at, Source: "s"},
			`{"symbol":"X","kind":"quote","bid":"0.10","bid_size":"0","ask":"0.30","ask_size":"0","ts":"1970-01-01T00:00:00.000000005Z","source":"s","origin":""}`},
		{tape.Event{Symbol: "X", Kind: tape.KindQuote, Sides: tape.BothSides, Bid: px("0.1"), Time: at},
			`{"symbol":"X","kind":"quote","bid":"0.10","bid_size":"0","ask":null,"ask_size":"0","ts":"1970-01-01T00:00:00.000000005Z","source":"","origin":""}`},
		{tape.Event{Symbol: "X", Kind: tape.KindTrade, Class: tape.ClassCrypto, Day: tape.MakeDay(1970, 1, 1), Last: px("2"), Size: sz("0.5"),
			TradeID: mustID(t, "7"), Ineligible: tape.AllUpdates &^ tape.UpdatesVolume, Time: at},
			`{"symbol":"X","kind":"trade","class":"crypto","day":"1970-01-01","last":"2.00","size":"0.5","id":"7","updates":"volume","ts":"1970-01-01T00:00:00.000000005Z","source":"","origin":""}`},
	} {
		if got := string(tt.ev.AppendJSON(nil)); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestParseEventRejects(t *testing.T) {
	tests := []struct{ name, in, code string }{
		{"not JSON", `{"symbol":`, tape.ECodeJSON},
		{"not an object", `["symbol"]`, tape.ECodeJSON},
		{"empty", ``, tape.ECodeEmpty},
		{"trailing data", `{"symbol":"A","bid":1,"ask":2,"ts":"2026-01-01T00:00:00Z"} x`, tape.ECodeJSON},
		{"bad symbol", `{"symbol":"<b>","bid":1,"ask":2,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodeSymbol},
		{"no prices", `{"symbol":"A","ts":"2026-01-01T00:00:00Z"}`, tape.ECodeEmpty},
		{"negative bid of a share", `{"symbol":"A","bid":-1,"ask":2,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodePrice},
		{"negative last of a share", `{"symbol":"A","last":"-37.63","ts":"2026-01-01T00:00:00Z"}`, tape.ECodePrice},
		{"zero last", `{"symbol":"A","last":0,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodePrice},
		{"price not a number", `{"symbol":"A","last":"abc","ts":"2026-01-01T00:00:00Z"}`, tape.ECodePrice},
		{"negative size", `{"symbol":"A","last":1,"size":-1,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodeSize},
		{"huge size", `{"symbol":"A","last":1,"size":"9223372036854775807","ts":"2026-01-01T00:00:00Z"}`, tape.ECodeSize},
		{"missing time", `{"symbol":"A","last":1}`, tape.ECodeTime},
		{"bad time", `{"symbol":"A","last":1,"ts":"yesterday"}`, tape.ECodeTime},
		{"bad day", `{"symbol":"A","last":1,"day":"2026-13-01","ts":"2026-01-01T00:00:00Z"}`, tape.ECodeTime},
		{"bad class", `{"symbol":"A","last":1,"class":"bond","ts":"2026-01-01T00:00:00Z"}`, tape.ECodeField},
		{"bad id", `{"symbol":"A","last":1,"id":"a b","ts":"2026-01-01T00:00:00Z"}`, tape.ECodeField},
		{"cancel without ref", `{"symbol":"A","kind":"cancel","ts":"2026-01-01T00:00:00Z"}`, tape.ECodeField},
		{"correction without price", `{"symbol":"A","kind":"correction","ref":"1","ts":"2026-01-01T00:00:00Z"}`, tape.ECodePrice},
		{"control in source", `{"symbol":"A","last":1,"ts":"2026-01-01T00:00:00Z","source":"a\nb"}`, tape.ECodeField},
		{"unknown kind", `{"symbol":"A","kind":"bar","last":1,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodeField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tape.ParseEvent([]byte(tt.in))
			if got := tape.ErrorCode(err); got != tt.code {
				t.Fatalf("ParseEvent(%s): code %q (%v), want %q", tt.in, got, err, tt.code)
			}
		})
	}
}

func TestNegativePricesByClass(t *testing.T) {
	at := time.Date(2020, 4, 20, 18, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		sym   string
		class tape.AssetClass
		code  string
	}{
		{"CL=F", tape.ClassNone, ""}, // =F is a future by default
		{"CLK0", tape.ClassFuture, ""},
		{"CLK0", tape.ClassNone, tape.ECodePrice}, // not configured: a share
		{"AAPL", tape.ClassNone, tape.ECodePrice},
		{"BTC-USD", tape.ClassNone, tape.ECodePrice},
		{"EUR/USD", tape.ClassFX, tape.ECodePrice},
	} {
		e := tape.Event{Symbol: tape.Symbol(tt.sym), Class: tt.class, Kind: tape.KindTrade, Last: px("-37.63"), Size: sz("1"), Time: at}
		if got := tape.ErrorCode(e.Validate()); got != tt.code {
			t.Errorf("%s (%q) at -37.63: %q, want %q", tt.sym, tt.class, got, tt.code)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct{ in, want, code string }{
		{"100", "100", ""}, {"100.0", "100", ""}, {"1e2", "100", ""}, {"0.011467", "0.011467", ""},
		{"0.000000015", "0.00000002", ""}, {"-0", "0", ""}, {"92233720368.54775807", "92233720368.54775807", ""},
		{"92233720368.54775808", "", tape.ECodeSize}, {"9223372036854775807", "", tape.ECodeSize},
		{"-1", "", tape.ECodeSize}, {"", "", tape.ECodeSize}, {"1.2.3", "", tape.ECodeSize}, {"NaN", "", tape.ECodeSize},
	} {
		got, err := tape.ParseSize([]byte(tt.in))
		if code := tape.ErrorCode(err); code != tt.code || err == nil && got.String() != tt.want {
			t.Errorf("ParseSize(%q) = %s, %v; want %s, code %q", tt.in, got, err, tt.want, tt.code)
		}
	}
	_, err := tape.ParseSize([]byte("9223372036854775807"))
	if msg := tape.ErrorMessage(err); msg != "size out of range (above 92233720368.54775807)" {
		t.Errorf("reason %q", msg)
	}
	if s, err := tape.SizeFromInt(20100, 0); err != nil || s != sz("20100") {
		t.Errorf("SizeFromInt: %s %v", s, err)
	}
	if _, err := tape.SizeFromInt(-1, 0); err == nil {
		t.Error("SizeFromInt(-1) accepted")
	}
}
