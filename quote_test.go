package tape_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tape"
)

func TestQuoteJSON(t *testing.T) {
	q := tape.Quote{
		Symbol: "AAPL", Kind: tape.KindTrade, Bid: px("187.42"), Ask: px("187.44"), BidSize: sz("100"), AskSize: sz("300"),
		Last: px("187.43"), LastSize: sz("100"), Volume: sz("125000"), Open: px("186.1"), High: px("188"), Low: px("185.95"),
		Day: tape.MakeDay(2026, 11, 20), Time: time.Date(2026, 11, 20, 14, 30, 1, 123e6, time.UTC), Source: "polygon",
		Origin: "feeds.raw/2/1207/0", Seq: tape.Seq{Partition: 3, Offset: 5521},
		Print: tape.Print{Price: px("187.43"), Size: sz("100"), Time: time.Date(2026, 11, 20, 14, 30, 1, 123e6, time.UTC), Counts: tape.AllUpdates},
	}
	const want = `{"symbol":"AAPL","kind":"trade","bid":"187.42","ask":"187.44","bid_size":"100","ask_size":"300",` +
		`"last":"187.43","last_size":"100","volume":"125000","open":"186.10","high":"188.00","low":"185.95",` +
		`"state":"","day":"2026-11-20","ts":"2026-11-20T14:30:01.123000000Z","source":"polygon",` +
		`"origin":"feeds.raw/2/1207/0","seq":"3/5521",` +
		`"print":{"price":"187.43","size":"100","ts":"2026-11-20T14:30:01.123000000Z","counts":"last,high_low,open,volume"}}`
	got := q.AppendJSON(nil)
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	back, err := tape.ParseQuote(got)
	if err != nil || back != q {
		t.Fatalf("ParseQuote: %+v, %v\nwant %+v", back, err, q)
	}
	var generic map[string]any
	if err := json.Unmarshal(got, &generic); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
}

func TestParseQuote(t *testing.T) {
	ts := time.Date(2026, 11, 20, 14, 30, 1, 123e6, time.UTC)
	tests := []struct {
		name, in string
		want     tape.Quote
		code     string
	}{
		{name: "older form with numeric sizes, no kind, day or seq",
			in: `{"symbol":"AAPL","bid":"187.42","ask":"187.44","bid_size":100,"ask_size":300,"last":"187.43","last_size":100,"volume":125000,"open":"186.10","high":"188.00","low":"185.95","state":"","ts":"2026-11-20T14:30:01.123000000Z","source":"polygon","origin":"feeds.raw/2/1207/0"}`,
			want: tape.Quote{Symbol: "AAPL", Bid: px("187.42"), Ask: px("187.44"), BidSize: sz("100"), AskSize: sz("300"), Last: px("187.43"),
				LastSize: sz("100"), Volume: sz("125000"), Open: px("186.1"), High: px("188"), Low: px("185.95"), Time: ts, Source: "polygon",
				Origin: "feeds.raw/2/1207/0", Seq: tape.NoSeq}},
		{name: "nulls and fractions", in: `{"symbol":"BTC-USD","kind":"quote","bid":null,"ask":"65000.5","ask_size":"0.011467","seq":null,"day":null,"ts":"2026-11-20T14:30:01.123Z"}`,
			want: tape.Quote{Symbol: "BTC-USD", Kind: tape.KindQuote, Ask: px("65000.5"), AskSize: sz("0.011467"), Time: ts, Seq: tape.NoSeq}},
		{name: "a late odd lot's print", in: `{"symbol":"A","kind":"trade","print":{"price":"10.5","size":"7","ts":"2026-11-20T14:30:00Z","counts":"volume"},"ts":"2026-11-20T14:30:01.123Z"}`,
			want: tape.Quote{Symbol: "A", Kind: tape.KindTrade, Time: ts, Seq: tape.NoSeq,
				Print: tape.Print{Price: px("10.5"), Size: sz("7"), Time: time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC), Counts: tape.UpdatesVolume}}},
		{name: "print null", in: `{"symbol":"A","print":null,"ts":"2026-11-20T14:30:01.123Z"}`, want: tape.Quote{Symbol: "A", Time: ts, Seq: tape.NoSeq}},
		{name: "print not an object", in: `{"symbol":"A","print":"10","ts":"2026-11-20T14:30:01Z"}`, code: tape.ECodeInvalid},
		{name: "print without price", in: `{"symbol":"A","print":{"size":"1","ts":"2026-11-20T14:30:01Z"},"ts":"2026-11-20T14:30:01Z"}`, code: tape.ECodeInvalid},
		{name: "print without time", in: `{"symbol":"A","print":{"price":"1","size":"1"},"ts":"2026-11-20T14:30:01Z"}`, code: tape.ECodeTime},
		{name: "print with unknown counts", in: `{"symbol":"A","print":{"price":"1","size":"1","ts":"2026-11-20T14:30:01Z","counts":"all"},"ts":"2026-11-20T14:30:01Z"}`, code: tape.ECodeInvalid},
		{name: "not an object", in: `[1]`, code: tape.ECodeJSON},
		{name: "empty", in: ` `, code: tape.ECodeEmpty},
		{name: "bad symbol", in: `{"symbol":"<b>","ts":"2026-11-20T14:30:01Z"}`, code: tape.ECodeSymbol},
		{name: "negative size", in: `{"symbol":"A","volume":"-1","ts":"2026-11-20T14:30:01Z"}`, code: tape.ECodeSize},
		{name: "bad seq", in: `{"symbol":"A","seq":"3-5","ts":"2026-11-20T14:30:01Z"}`, code: tape.ECodeField},
		{name: "bad day", in: `{"symbol":"A","day":"2026-02-30","ts":"2026-11-20T14:30:01Z"}`, code: tape.ECodeTime},
		{name: "missing ts", in: `{"symbol":"A"}`, code: tape.ECodeTime},
		{name: "trailing data", in: `{"symbol":"A","ts":"2026-11-20T14:30:01Z"}{}`, code: tape.ECodeJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tape.ParseQuote([]byte(tt.in))
			if code := tape.ErrorCode(err); code != tt.code {
				t.Fatalf("ParseQuote: code %q (%v), want %q", code, err, tt.code)
			}
			if tt.code == "" && got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestQuoteJSONEscapesForHTML(t *testing.T) {
	q := tape.Quote{Symbol: "A", Last: tape.MustPrice("1"), Source: "</script><b>&\u2028", Time: time.Unix(1, 0)}
	b := q.AppendJSON(nil)
	for _, bad := range []string{"<", ">", "&", "\u2028"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("JSON %s contains %q unescaped", b, bad)
		}
	}
	back, err := tape.ParseQuote(b)
	if err != nil || back.Source != q.Source {
		t.Fatalf("ParseQuote: %+v, %v", back, err)
	}
}

func TestQuoteState(t *testing.T) {
	for _, tt := range []struct{ bid, ask, want string }{
		{"10", "10.02", tape.StateNormal}, {"10", "10", tape.StateLocked}, {"10.01", "10", tape.StateCrossed},
		{"10", "", tape.StateNormal}, {"", "10", tape.StateNormal},
	} {
		q := tape.Quote{}
		if tt.bid != "" {
			q.Bid = px(tt.bid)
		}
		if tt.ask != "" {
			q.Ask = px(tt.ask)
		}
		if got := q.State(); got != tt.want {
			t.Errorf("bid %q ask %q: state %q, want %q", tt.bid, tt.ask, got, tt.want)
		}
	}
}

func TestOrigin(t *testing.T) {
	id := string(tape.AppendOrigin(nil, "feeds.raw", 3, 1207, 2))
	if id != "feeds.raw/3/1207/2" {
		t.Fatalf("origin %q", id)
	}
	topic, pos, ok := tape.ParseOrigin(id)
	if !ok || topic != "feeds.raw" || pos != (tape.OriginPos{Partition: 3, Offset: 1207, Index: 2}) {
		t.Fatalf("ParseOrigin(%q) = %q %+v %v", id, topic, pos, ok)
	}
	for _, bad := range []string{"", "x", "a/b/c/d", "/1/2/3", "t/1/2/", "t/-1/2/3", "vendor-seq-991"} {
		if _, _, ok := tape.ParseOrigin(bad); ok {
			t.Errorf("ParseOrigin(%q) accepted", bad)
		}
	}
}

func TestSeq(t *testing.T) {
	s, err := tape.ParseSeq([]byte("3/5521"))
	if err != nil || s != (tape.Seq{Partition: 3, Offset: 5521}) || s.String() != "3/5521" {
		t.Fatalf("ParseSeq: %+v %v", s, err)
	}
	for _, bad := range []string{"", "3", "3/", "/5", "-1/5", "3/-5", "03/5", "3/05", "3/5/6", "2147483648/1", "1/9223372036854775808", "a/b"} {
		if _, err := tape.ParseSeq([]byte(bad)); tape.ErrorCode(err) != tape.ECodeField {
			t.Errorf("ParseSeq(%q): %v, want bad_field", bad, err)
		}
	}
	p3 := func(off int64) tape.Seq { return tape.Seq{Partition: 3, Offset: off} }
	for _, tt := range []struct {
		a, b tape.Seq
		want bool
	}{
		{p3(6), p3(5), true}, {p3(5), p3(5), false}, {p3(4), p3(5), false},
		{tape.Seq{Partition: 2, Offset: 9}, p3(5), false}, {p3(0), tape.NoSeq, true}, {tape.NoSeq, p3(0), false},
		{tape.Seq{}, tape.NoSeq, true},
	} {
		if got := tt.a.After(tt.b); got != tt.want {
			t.Errorf("%v.After(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestParseQuoteWithPrintAllocates checks that a print costs ParseQuote
// no allocation: it still allocates only the origin string.
func TestParseQuoteWithPrintAllocates(t *testing.T) {
	with := []byte(`{"symbol":"AAPL","kind":"trade","bid":"187.42","ask":"187.44","last":"187.43","volume":"125000","ts":"2026-11-20T14:30:01.123000000Z","source":"polygon","origin":"feeds.raw/2/1207/0","seq":"3/5521","print":{"price":"187.43","size":"100","ts":"2026-11-20T14:30:01.123000000Z","counts":"last,high_low,open,volume"}}`)
	without := []byte(`{"symbol":"AAPL","kind":"trade","bid":"187.42","ask":"187.44","last":"187.43","volume":"125000","ts":"2026-11-20T14:30:01.123000000Z","source":"polygon","origin":"feeds.raw/2/1207/0","seq":"3/5521"}`)
	tape.InternSymbol([]byte("AAPL"))
	base := testing.AllocsPerRun(100, func() { tape.ParseQuote(without) })
	got := testing.AllocsPerRun(100, func() { tape.ParseQuote(with) })
	if got > base {
		t.Fatalf("ParseQuote with a print: %v allocations, without: %v", got, base)
	}
}
