package tape_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"tape"
)

// jsonSeeds are documents for the JSON fuzz targets: what tape reads, and
// what trips parsers.
var jsonSeeds = []string{
	`{"symbol":"AAPL","kind":"quote","bid":"187.42","bid_size":"100","ask":null,"ts":"2024-01-02T15:04:05.123456789Z"}`,
	`[{"ev":"T","sym":"MSFT","x":4,"i":"12345","p":1.14125e2,"s":100.0,"c":[0,12],"t":1536036818784}]`,
	`{"a":"\u00e9\ud83d\ude00\ud800x\\\"\/\b\f\n\r\t","b":-0.0e+1,"c":[true,false,null,{},[]]}`,
	`{"\u0065v":1,"ev":2}`, `"\xff"`, `0`, `-`, `01`, `1.`, `.5`, `1e`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `nul`, `[`, `"`,
	`{"a":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}`, " \t\n\r{}\n", "{\"a\":\"\x01\"}", `["\u12"]`,
}

// FuzzJSON checks tape's JSON scanner against encoding/json: both must
// accept the same documents (except ones nested more than 16 levels, which
// tape refuses), and read the same strings, numbers and structure.
func FuzzJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := tape.ParseJSON(b)
		valid := json.Valid(b)
		if valid && nesting(b) > 16 {
			if err == nil {
				t.Fatalf("accepted a document nested %d levels", nesting(b))
			}
			return
		}
		if (err == nil) != valid {
			t.Fatalf("tape says %v, encoding/json says valid=%v, for %q", err, valid, b)
		}
		if err != nil {
			if tape.ErrorCode(err) != tape.ECodeJSON {
				t.Fatalf("error %v has code %q", err, tape.ErrorCode(err))
			}
			return
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		got, ok := tree(v)
		if !ok {
			return // a key too long to unescape in place: documented
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("for %q\ntape reads          %#v\nencoding/json reads %#v", b, got, want)
		}
	})
}

// tree builds what encoding/json decodes into an any from a JSONValue:
// duplicate keys keep the last value, invalid UTF-8 becomes U+FFFD.
func tree(v tape.JSONValue) (any, bool) {
	switch v.Kind() {
	case tape.JSONString:
		s, ok := v.Text(make([]byte, 0, 4*len(v.Raw())+4))
		if !ok {
			panic("a string did not fit four times its raw length")
		}
		return string([]rune(string(s))), true
	case tape.JSONNumber:
		n, _ := v.Number()
		return json.Number(n), true
	case tape.JSONBool:
		return string(v.Raw()) == "true", true
	case tape.JSONNull:
		return nil, true
	case tape.JSONArray:
		out := []any{}
		for it := v.Elements(); ; {
			e, more := it.Next()
			if !more {
				break
			}
			x, ok := tree(e)
			if !ok {
				return nil, false
			}
			out = append(out, x)
		}
		return out, true
	case tape.JSONObject:
		out := map[string]any{}
		for it := v.Members(); ; {
			k, e, more := it.Next()
			if !more {
				break
			}
			if len(k) > 64 && bytes.IndexByte(k, '\\') >= 0 {
				return nil, false
			}
			x, ok := tree(e)
			if !ok {
				return nil, false
			}
			out[string([]rune(string(k)))] = x
		}
		return out, true
	}
	panic(fmt.Sprintf("kind %d", v.Kind()))
}

// nesting returns how deeply arrays and objects nest in a valid document.
func nesting(b []byte) int {
	depth, most, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			most = max(most, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return most
}

// FuzzParseEvent checks that whatever ParseEvent accepts is valid and
// survives the trip through AppendJSON unchanged, and that a fold takes it.
func FuzzParseEvent(f *testing.F) {
	at := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	for _, e := range []tape.Event{
		quoteAt("AAPL", "187.42", "", at), tradeAt("BTC-USD", "65000.5", "0.011467", at, withID("CBSE:1")),
		cancelOf("AAPL", "V:1", at), correctionOf("AAPL", "V:1", "V:2", "10", "1", at),
		tradeAt("CL=F", "-37.63", "1", at, withSkip(tape.UpdatesLast)),
	} {
		f.Add(e.AppendJSON(nil))
	}
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := tape.ParseEvent(b)
		if err != nil {
			if tape.ErrorCode(err) == tape.ECodeInvalid {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("accepted an invalid event: %v", err)
		}
		again, err := tape.ParseEvent(e.AppendJSON(nil))
		if err != nil || again != e {
			t.Fatalf("round trip of %s: %+v, %v\nwant %+v", e.AppendJSON(nil), again, err, e)
		}
		var fold tape.Fold
		fold.Apply(&e, tape.NoSeq)
		q := fold.Quote()
		if _, err := tape.ParseQuote(q.AppendJSON(nil)); err != nil {
			t.Fatalf("the fold's quote does not parse: %v", err)
		}
	})
}

// FuzzParseQuote checks that whatever ParseQuote accepts survives the
// trip through AppendJSON unchanged, and through the binary form a node's
// history keeps, and that ParseQuoteView reads the same.
func FuzzParseQuote(f *testing.F) {
	f.Add([]byte(`{"symbol":"AAPL","kind":"trade","bid":"187.42","ask":"187.44","bid_size":"100","ask_size":"300","last":"187.43","last_size":"100","volume":"125000","open":"186.10","high":"188.00","low":"185.95","state":"","day":"2026-11-20","ts":"2026-11-20T14:30:01.123000000Z","source":"polygon","origin":"feeds.raw/2/1207/0","seq":"3/5521"}`))
	f.Add([]byte(`{"symbol":"AAPL","bid":"187.42","bid_size":100,"volume":125000,"ts":"2026-11-20T14:30:01Z","seq":null}`))
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := tape.ParseQuote(b)
		if view, verr := tape.ParseQuoteView(b); view != q || (verr == nil) != (err == nil) {
			t.Fatalf("ParseQuoteView %+v, %v; ParseQuote %+v, %v", view, verr, q, err)
		}
		if err != nil {
			if tape.ErrorCode(err) == tape.ECodeInvalid {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		again, err := tape.ParseQuote(q.AppendJSON(nil))
		if err != nil || again != q {
			t.Fatalf("round trip of %s: %+v, %v\nwant %+v", q.AppendJSON(nil), again, err, q)
		}
		// The binary form a node keeps in its history gives back the
		// same JSON; arbitrary bytes never make it panic.
		bin, _ := q.AppendBinary(nil)
		var kept tape.Quote
		if err := kept.UnmarshalBinary(bin); err != nil || string(kept.AppendJSON(nil)) != string(q.AppendJSON(nil)) {
			t.Fatalf("binary round trip of %s: %s, %v", q.AppendJSON(nil), kept.AppendJSON(nil), err)
		}
		if sym, ok := tape.BinarySymbol(bin); !ok || string(sym) != string(q.Symbol) {
			t.Fatalf("binary symbol %q %v, want %q", sym, ok, q.Symbol)
		}
		_ = kept.UnmarshalBinary(b)
	})
}

// FuzzParseCheckpoint checks that ParseCheckpoint never panics, that what
// it accepts writes back the same bytes it reads as, and that the fold it
// returns takes events.
func FuzzParseCheckpoint(f *testing.F) {
	at := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	g := tape.NewFold("AAPL")
	for i, ev := range []tape.Event{
		quoteAt("AAPL", "10.00", "10.02", at), tradeAt("AAPL", "10.01", "100", at, withID("1")),
		tradeAt("AAPL", "10.05", "5", at.Add(time.Second), withID("2"), withSkip(tape.UpdatesLast)), cancelOf("AAPL", "1", at.Add(2*time.Second)),
	} {
		g.Apply(&ev, tape.Seq{Partition: 2, Offset: int64(i)})
		f.Add(g.AppendCheckpoint(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fold, err := tape.ParseCheckpoint(b)
		if err != nil {
			return
		}
		cp := fold.AppendCheckpoint(nil)
		again, err := tape.ParseCheckpoint(cp)
		if err != nil || !bytes.Equal(again.AppendCheckpoint(nil), cp) {
			t.Fatalf("checkpoint %s does not round-trip: %v", cp, err)
		}
		q := fold.Quote()
		for i, ev := range []tape.Event{
			tradeAt(string(q.Symbol), "1", "1", q.Time, withID("1")), cancelOf(string(q.Symbol), "1", q.Time),
			correctionOf(string(q.Symbol), "2", "2", "3", "1", q.Time), quoteAt(string(q.Symbol), "1", "", q.Time.Add(time.Hour)),
		} {
			fold.Apply(&ev, tape.Seq{Partition: q.Seq.Partition, Offset: q.Seq.Offset + 1 + int64(i)})
		}
	})
}

// FuzzParseInstruments checks that ParseInstruments never panics and that
// a configuration it accepts classifies any symbol.
func FuzzParseInstruments(f *testing.F) {
	f.Add("future=CL,NG; crypto=DOGEUSD; equity=BTC-USD; session.fx=America/New_York@17:00", "CLZ6")
	f.Add("session.crypto=UTC@00:00", "BTC-USD")
	f.Fuzz(func(t *testing.T, spec, sym string) {
		in, err := tape.ParseInstruments(spec)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid instrument configuration") {
				t.Fatalf("error %v", err)
			}
			return
		}
		s, err := tape.ParseSymbolString(sym)
		if err != nil {
			return
		}
		c := in.Class(s)
		if c.String() == "" {
			t.Fatalf("class of %q: %d", s, c)
		}
		in.Day(s, time.Unix(1e9, 0))
	})
}

// FuzzDecimals checks ParseSize, ParseDay and ParseSeq: no panic, and what
// they accept writes back to text that reads the same.
func FuzzDecimals(f *testing.F) {
	for _, s := range []string{"100", "0.011467", "1e2", "-0", "92233720368.54775807", "2024-02-29", "3/5521", "0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := tape.ParseSize([]byte(s)); err == nil {
			if back, err := tape.ParseSize([]byte(v.String())); err != nil || back != v || v < 0 {
				t.Fatalf("size %q: %s, %v", s, back, err)
			}
		}
		if d, err := tape.ParseDay([]byte(s)); err == nil && d.String() != s {
			t.Fatalf("day %q reads as %s", s, d)
		}
		if q, err := tape.ParseSeq([]byte(s)); err == nil && q.String() != s {
			t.Fatalf("seq %q reads as %s", s, q)
		}
	})
}
