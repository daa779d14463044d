package feed_test

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"tape"
	"tape/feed"
)

var (
	stamp = time.Date(2026, 11, 20, 14, 30, 0, 123456789, time.UTC)
	quote = tape.Event{
		Symbol: "AAPL", Kind: tape.KindQuote,
		Sides: tape.BothSides, Bid: tape.MustPrice("187.42"), BidSize: tape.MustSize("300"), Ask: tape.MustPrice("187.44"), AskSize: tape.MustSize("200"),
		Time: stamp, Source: feed.Source,
	}
	trade = tape.Event{
		Symbol: "AAPL", Kind: tape.KindTrade, Last: tape.MustPrice("187.5"), Size: tape.MustSize("100"),
		Time: stamp, Source: feed.Source,
	}
	both = tape.Event{
		Symbol: "EUR/USD", Kind: tape.KindQuote | tape.KindTrade,
		Sides: tape.BothSides, Bid: tape.MustPrice("1.08123"), BidSize: tape.MustSize("1000000"), Ask: tape.MustPrice("1.08125"), AskSize: tape.MustSize("500000"),
		Last: tape.MustPrice("1.08124"), Size: tape.MustSize("200000"),
		Time: stamp, Source: feed.Source,
	}
	oneSided = tape.Event{
		Symbol: "BRK.B", Kind: tape.KindQuote, Sides: tape.SideBid, Bid: tape.MustPrice("470.01"), BidSize: tape.MustSize("100"),
		Time: stamp, Source: feed.Source,
	}
)

// TestEncodeGolden pins every format's bytes. In FIX goldens "|" stands
// for SOH; no symbol can contain "|".
func TestEncodeGolden(t *testing.T) {
	tests := []struct {
		format string
		ev     tape.Event
		want   string
	}{
		{tape.FormatTape, quote, `{"symbol":"AAPL","kind":"quote","bid":"187.42","bid_size":"300","ask":"187.44","ask_size":"200","ts":"2026-11-20T14:30:00.123456789Z","source":"feed","origin":""}`},
		{tape.FormatTape, trade, `{"symbol":"AAPL","kind":"trade","last":"187.50","size":"100","id":"1","ts":"2026-11-20T14:30:00.123456789Z","source":"feed","origin":""}`},

		{tape.FormatPolygon, quote, `{"ev":"Q","sym":"AAPL","bx":12,"bp":187.42,"bs":300,"ax":11,"ap":187.44,"as":200,"c":0,"t":1795185000123}`},
		{tape.FormatPolygon, trade, `{"ev":"T","sym":"AAPL","x":12,"i":"1","z":2,"p":187.50,"s":100,"c":[0],"t":1795185000123}`},
		{tape.FormatPolygon, both, `[{"ev":"Q","sym":"EUR/USD","bx":11,"bp":1.08123,"bs":1000000,"ax":19,"ap":1.08125,"as":500000,"c":0,"t":1795185000123},{"ev":"T","sym":"EUR/USD","x":11,"i":"1","z":2,"p":1.08124,"s":200000,"c":[0],"t":1795185000123}]`},

		{tape.FormatAlpaca, quote, `[{"T":"q","S":"AAPL","bx":"Q","bp":187.42,"bs":300,"ax":"P","ap":187.44,"as":200,"c":["R"],"z":"B","t":"2026-11-20T14:30:00.123456789Z"}]`},
		{tape.FormatAlpaca, trade, `[{"T":"t","S":"AAPL","i":1,"x":"Q","p":187.50,"s":100,"c":["@"],"z":"B","t":"2026-11-20T14:30:00.123456789Z"}]`},
		{tape.FormatAlpaca, both, `[{"T":"q","S":"EUR/USD","bx":"P","bp":1.08123,"bs":1000000,"ax":"Z","ap":1.08125,"as":500000,"c":["R"],"z":"B","t":"2026-11-20T14:30:00.123456789Z"},{"T":"t","S":"EUR/USD","i":1,"x":"P","p":1.08124,"s":200000,"c":["@"],"z":"B","t":"2026-11-20T14:30:00.123456789Z"}]`},

		{tape.FormatFinnhub, trade, `{"type":"trade","data":[{"s":"AAPL","p":187.50,"t":1795185000123,"v":100,"c":["1"]}]}`},
		{tape.FormatFinnhub, both, `{"type":"trade","data":[{"s":"EUR/USD","p":1.08124,"t":1795185000123,"v":200000,"c":["1"]}]}`},

		{tape.FormatFIX, quote, `8=FIX.4.4|9=135|35=X|49=FEED|56=TAPE|34=1|52=20261120-14:30:00.123|268=2|279=0|269=0|55=AAPL|270=187.42|271=300|279=0|269=1|55=AAPL|270=187.44|271=200|10=031|`},
		{tape.FormatFIX, trade, `8=FIX.4.4|9=96|35=X|49=FEED|56=TAPE|34=1|52=20261120-14:30:00.123|268=1|279=0|269=2|55=AAPL|270=187.50|271=100|10=150|`},
		{tape.FormatFIX, both, `8=FIX.4.4|9=196|35=X|49=FEED|56=TAPE|34=1|52=20261120-14:30:00.123|268=3|279=0|269=0|55=EUR/USD|270=1.08123|271=1000000|279=0|269=1|55=EUR/USD|270=1.08125|271=500000|279=0|269=2|55=EUR/USD|270=1.08124|271=200000|10=155|`},
		{tape.FormatFIX, oneSided, `8=FIX.4.4|9=97|35=X|49=FEED|56=TAPE|34=1|52=20261120-14:30:00.123|268=1|279=0|269=0|55=BRK.B|270=470.01|271=100|10=189|`},

		{tape.FormatCSV, quote, `AAPL,2026-11-20T14:30:00.123456789Z,187.42,187.44,,`},
		{tape.FormatCSV, trade, `AAPL,2026-11-20T14:30:00.123456789Z,,,187.50,100`},
		{tape.FormatCSV, both, `EUR/USD,2026-11-20T14:30:00.123456789Z,1.08123,1.08125,1.08124,200000`},
		{tape.FormatCSV, oneSided, `BRK.B,2026-11-20T14:30:00.123456789Z,470.01,,,`},
	}
	for _, tt := range tests {
		t.Run(tt.format+" "+tt.ev.Kind.String()+" "+strings.ReplaceAll(string(tt.ev.Symbol), "/", ""), func(t *testing.T) {
			got, err := feed.Encode(tt.format, []byte("prefix "), tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			want := "prefix " + tt.want
			if tt.format == tape.FormatFIX {
				want = strings.ReplaceAll(want, "|", "\x01")
			}
			if string(got) != want {
				t.Errorf("got\n%s\nwant\n%s", strings.ReplaceAll(string(got), "\x01", "|"), tt.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		format string
		ev     tape.Event
		want   error // nil: any error that is neither of the sentinels
	}{
		{"finnhub has no quotes", tape.FormatFinnhub, quote, feed.ErrUnsupported},
		{"unknown format", "bloomberg", quote, feed.ErrFormat},
		{"format names are exact", "Polygon", quote, feed.ErrFormat},
		{"no kind", tape.FormatPolygon, tape.Event{Symbol: "AAPL", Time: stamp}, nil},
		{"invalid symbol", tape.FormatCSV, tape.Event{Symbol: "A,B", Kind: tape.KindTrade, Last: 1, Time: stamp}, nil},
		{"no time", tape.FormatFIX, tape.Event{Symbol: "AAPL", Kind: tape.KindTrade, Last: 1}, nil},
		{"no prices", tape.FormatAlpaca, tape.Event{Symbol: "AAPL", Kind: tape.KindQuote, Time: stamp}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("kept")
			got, err := feed.Encode(tt.format, dst, tt.ev)
			switch {
			case err == nil:
				t.Fatalf("no error; wrote %q", got)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("error %v, want %v", err, tt.want)
			case tt.want == nil && (errors.Is(err, feed.ErrUnsupported) || errors.Is(err, feed.ErrFormat)):
				t.Fatalf("error %v, want a validation error", err)
			}
			if string(got) != "kept" {
				t.Fatalf("dst changed to %q", got)
			}
		})
	}
}

// TestEncoderSequence checks that messages are numbered as a FIX session
// numbers them, and that a message not written takes no number.
func TestEncoderSequence(t *testing.T) {
	enc, err := feed.NewEncoder(tape.FormatFIX)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range []tape.Event{quote, {Symbol: "AAPL"}, trade, both} {
		msg, err := enc.Append(nil, ev)
		if err != nil {
			continue
		}
		for _, f := range strings.Split(string(msg), "\x01") {
			if strings.HasPrefix(f, "34=") {
				got = append(got, f)
			}
		}
	}
	if want := []string{"34=1", "34=2", "34=3"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("MsgSeqNum %v, want %v", got, want)
	}
}

// TestFIXFraming checks BodyLength, CheckSum and NoMDEntries of generated
// FIX messages, computed here independently of the encoder.
func TestFIXFraming(t *testing.T) {
	g := mustGenerator(t, feed.Config{Seed: 1, NumSymbols: 60, Start: session})
	enc, err := feed.NewEncoder(tape.FormatFIX)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		msg, err := enc.Append(nil, g.Next())
		if err != nil {
			t.Fatal(err)
		}
		if err := checkFIX(msg); err != nil {
			t.Fatalf("message %d: %v\n%s", i, err, bytes.ReplaceAll(msg, []byte{1}, []byte("|")))
		}
	}
	for _, ev := range []tape.Event{quote, trade, both, oneSided} {
		msg, err := feed.Encode(tape.FormatFIX, nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkFIX(msg); err != nil {
			t.Fatalf("%v: %v", ev.Kind, err)
		}
	}
}

func checkFIX(msg []byte) error {
	const head = "8=FIX.4.4\x019="
	if !bytes.HasPrefix(msg, []byte(head)) || !bytes.HasSuffix(msg, []byte{1}) {
		return errors.New("not framed by 8=FIX.4.4|9= ... SOH")
	}
	lenField, body, _ := bytes.Cut(msg[len(head):], []byte{1})
	trailerAt := bytes.LastIndex(msg, []byte("\x0110=")) + 1
	if trailerAt == 0 || len(msg)-trailerAt != len("10=000\x01") {
		return errors.New("no three-digit CheckSum field at the end")
	}
	bodyLen := len(body) - (len(msg) - trailerAt)
	if n, err := strconv.Atoi(string(lenField)); err != nil || n != bodyLen {
		return fmt.Errorf("BodyLength %s, body has %d bytes", lenField, bodyLen)
	}
	sum := 0
	for _, c := range msg[:trailerAt] {
		sum += int(c)
	}
	if want := fmt.Sprintf("10=%03d\x01", sum%256); string(msg[trailerAt:]) != want {
		return fmt.Errorf("CheckSum %q, want %q", msg[trailerAt:], want)
	}
	fields := strings.Split(string(msg[:len(msg)-1]), "\x01")
	entries, declared := 0, -1
	for _, f := range fields {
		if strings.HasPrefix(f, "269=") {
			entries++
		}
		if n, ok := strings.CutPrefix(f, "268="); ok {
			declared, _ = strconv.Atoi(n)
		}
	}
	if entries != declared || entries == 0 {
		return fmt.Errorf("NoMDEntries %d, %d entries", declared, entries)
	}
	return nil
}
