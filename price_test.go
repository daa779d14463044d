package tape_test

import (
	"testing"

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
