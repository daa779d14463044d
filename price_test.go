package tape_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tape"
)

func TestParsePrice(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "plain", in: "187.42", want: "187.42"},
		{name: "integer", in: "187", want: "187.00"},
		{name: "one decimal", in: "187.5", want: "187.50"},
		{name: "eight decimals", in: "0.00001234", want: "0.00001234"},
		{name: "float artefact rounds away", in: "187.42000000000002", want: "187.42"},
		{name: "rounds half up at ninth place", in: "0.000000015", want: "0.00000002"},
		{name: "rounds down below half", in: "0.000000014", want: "0.00000001"},
		{name: "exponent", in: "1.5e2", want: "150.00"},
		{name: "negative exponent", in: "12345E-4", want: "1.2345"},
		{name: "leading plus", in: "+3.10", want: "3.10"},
		{name: "negative", in: "-0.5", want: "-0.50"},
		{name: "leading dot", in: ".25", want: "0.25"},
		{name: "trailing dot", in: "25.", want: "25.00"},
		{name: "tiny rounds to zero", in: "1e-30", want: "0.00"},
		{name: "largest", in: "92233720368.54775807", want: "92233720368.54775807"},
		{name: "overflow", in: "92233720368.54775808", wantErr: true},
		{name: "huge exponent", in: "1e300", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "sign only", in: "-", wantErr: true},
		{name: "dot only", in: ".", wantErr: true},
		{name: "two dots", in: "1.2.3", wantErr: true},
		{name: "letters", in: "12a", wantErr: true},
		{name: "NaN", in: "NaN", wantErr: true},
		{name: "Inf", in: "Inf", wantErr: true},
		{name: "hex", in: "0x10", wantErr: true},
		{name: "space", in: " 1", wantErr: true},
		{name: "bad exponent", in: "1e", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tape.ParsePrice([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParsePrice(%q) = %s, want error", tt.in, p)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePrice(%q): %v", tt.in, err)
			}
			if got := p.String(); got != tt.want {
				t.Errorf("ParsePrice(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestPriceRoundTrip(t *testing.T) {
	for _, s := range []string{"0.01", "1.10", "99999.99", "0.00000001", "65432.12345678", "3.14159265"} {
		p := tape.MustPrice(s)
		again, err := tape.ParsePrice([]byte(p.String()))
		if err != nil || again != p {
			t.Errorf("%s: round trip gave %s, %v", s, again, err)
		}
	}
}

func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"187.42", "1e3", "-0.5", "0.000000015", "92233720368.54775807", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := tape.ParsePrice([]byte(s))
		if err != nil {
			return
		}
		again, err := tape.ParsePrice([]byte(p.String()))
		if err != nil || again != p {
			t.Fatalf("%q parsed to %s, which re-parses to %s, %v", s, p, again, err)
		}
	})
}

func TestParseSymbol(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ticker", "AAPL", "AAPL"},
		{"lower case", "msft", "MSFT"},
		{"class share", "BRK.B", "BRK.B"},
		{"crypto pair", "BTC-USD", "BTC-USD"},
		{"fx pair", "EUR/USD", "EUR/USD"},
		{"future", "ES=F", "ES=F"},
		{"index", "^GSPC", "^GSPC"},
		{"longest", "ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKLMNOPQRSTUVWX"},
		{"too long", "ABCDEFGHIJKLMNOPQRSTUVWXY", ""},
		{"empty", "", ""},
		{"html", "<script>", ""},
		{"quote", `A"B`, ""},
		{"ampersand", "A&B", ""},
		{"newline", "AAPL\n", ""},
		{"carriage return", "AA\rPL", ""},
		{"space", "AA PL", ""},
		{"comma", "A,B", ""},
		{"leading dot", ".A", ""},
		{"non-ASCII", "ÄPPL", ""},
		{"NUL", "A\x00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tape.ParseSymbolString(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseSymbol(%q) = %q, want error", tt.in, got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("ParseSymbol(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 20, 14, 30, 1, 123456789, time.UTC)
	events := []tape.Event{
		{Symbol: "AAPL", Kind: tape.KindQuote, Bid: tape.MustPrice("187.42"), Ask: tape.MustPrice("187.44"), BidSize: 100, AskSize: 300, Time: ts, Source: "polygon", Origin: "feeds.raw/0/17/0"},
		{Symbol: "BTC-USD", Kind: tape.KindTrade, Last: tape.MustPrice("65432.1"), Size: 2, Volume: 10, Open: tape.MustPrice("65000"), High: tape.MustPrice("66000"), Low: tape.MustPrice("64000"), Time: ts, Source: "tape"},
	}
	for _, ev := range events {
		t.Run(string(ev.Symbol), func(t *testing.T) {
			b := ev.AppendJSON(nil)
			if !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
			got, err := tape.ParseEvent(b)
			if err != nil {
				t.Fatalf("ParseEvent(%s): %v", b, err)
			}
			if got != ev {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, ev)
			}
		})
	}
}

func TestEventJSONIsExact(t *testing.T) {
	ev := tape.Event{Symbol: "X", Kind: tape.KindQuote, Bid: tape.MustPrice("0.1"), Ask: tape.MustPrice("0.3"), Time: time.Unix(0, 5).UTC(), Source: "s"}
	got := string(ev.AppendJSON(nil))
	want := `{"symbol":"X","kind":"quote","bid":"0.10","bid_size":0,"ask":"0.30","ask_size":0,"ts":"1970-01-01T00:00:00.000000005Z","source":"s","origin":""}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestParseEventRejects(t *testing.T) {
	tests := []struct{ name, in, code string }{
		{"not JSON", `{"symbol":`, tape.ECodeJSON},
		{"trailing data", `{"symbol":"A","bid":1,"ask":2,"ts":"2026-01-01T00:00:00Z"} x`, tape.ECodeJSON},
		{"bad symbol", `{"symbol":"<b>","bid":1,"ask":2,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodeSymbol},
		{"no prices", `{"symbol":"A","ts":"2026-01-01T00:00:00Z"}`, tape.ECodeEmpty},
		{"negative bid", `{"symbol":"A","bid":-1,"ask":2,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodePrice},
		{"zero last", `{"symbol":"A","last":0,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodePrice},
		{"price not a number", `{"symbol":"A","last":"abc","ts":"2026-01-01T00:00:00Z"}`, tape.ECodePrice},
		{"fractional size", `{"symbol":"A","last":1,"size":1.5,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodeJSON},
		{"negative size", `{"symbol":"A","last":1,"size":-1,"ts":"2026-01-01T00:00:00Z"}`, tape.ECodeSize},
		{"missing time", `{"symbol":"A","last":1}`, tape.ECodeTime},
		{"bad time", `{"symbol":"A","last":1,"ts":"yesterday"}`, tape.ECodeTime},
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

func TestQuoteApply(t *testing.T) {
	day1 := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	var q tape.Quote
	q.Apply(&tape.Event{Symbol: "A", Kind: tape.KindQuote, Bid: tape.MustPrice("10"), Ask: tape.MustPrice("10.02"), Time: day1})
	q.Apply(&tape.Event{Symbol: "A", Kind: tape.KindTrade, Last: tape.MustPrice("10.01"), Size: 100, Time: day1.Add(time.Second)})
	q.Apply(&tape.Event{Symbol: "A", Kind: tape.KindTrade, Last: tape.MustPrice("10.05"), Size: 50, Time: day1.Add(2 * time.Second)})
	q.Apply(&tape.Event{Symbol: "A", Kind: tape.KindTrade, Last: tape.MustPrice("9.99"), Size: 25, Time: day1.Add(3 * time.Second)})
	if q.Bid != tape.MustPrice("10") || q.Ask != tape.MustPrice("10.02") {
		t.Errorf("book = %s/%s, trades must not change it", q.Bid, q.Ask)
	}
	if q.Last != tape.MustPrice("9.99") || q.LastSize != 25 || q.Volume != 175 {
		t.Errorf("last %s size %d volume %d, want 9.99 25 175", q.Last, q.LastSize, q.Volume)
	}
	if q.Open != tape.MustPrice("10.01") || q.High != tape.MustPrice("10.05") || q.Low != tape.MustPrice("9.99") {
		t.Errorf("open/high/low = %s/%s/%s", q.Open, q.High, q.Low)
	}
	q.Apply(&tape.Event{Symbol: "A", Kind: tape.KindTrade, Last: tape.MustPrice("11"), Size: 5, Time: day1.Add(24 * time.Hour)})
	if q.Volume != 5 || q.Open != tape.MustPrice("11") || q.Low != tape.MustPrice("11") {
		t.Errorf("a new day must restart statistics: volume %d open %s low %s", q.Volume, q.Open, q.Low)
	}
	q.Apply(&tape.Event{Symbol: "A", Kind: tape.KindQuote, Bid: tape.MustPrice("11"), Ask: tape.MustPrice("11"), Time: day1.Add(25 * time.Hour)})
	if q.State() != tape.StateLocked {
		t.Errorf("state %q, want locked", q.State())
	}
	q.Apply(&tape.Event{Symbol: "A", Kind: tape.KindQuote, Bid: tape.MustPrice("11.01"), Ask: tape.MustPrice("11"), Time: day1.Add(26 * time.Hour)})
	if q.State() != tape.StateCrossed {
		t.Errorf("state %q, want crossed", q.State())
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
