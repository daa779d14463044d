package ingest_test

import (
	"strings"
	"testing"
	"time"

	"tape"
)

func TestNormalizePolygon(t *testing.T) {
	const src = tape.FormatPolygon
	ms := time.UnixMilli(1536036818784).UTC()
	q := func(sym, bid, ask string, bs, as int64) tape.Event { return quote(src, sym, bid, ask, bs, as, ms) }
	tr := func(sym, last string, size int64) tape.Event { return trade(src, sym, last, size, ms) }
	const (
		msftQ = `{"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"z":3,"t":1536036818784}`
		msftT = `{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[14,41],"t":1536036818784}`
	)
	// withField replaces the value of key in the MSFT quote or trade.
	withField := func(msg, key, value string) string {
		i := strings.Index(msg, `"`+key+`":`)
		j := i + len(key) + 3
		k := j + strings.IndexAny(msg[j:], ",}")
		return msg[:j] + value + msg[k:]
	}
	runNormalizeCases(t, src, []normalizeCase{
		{name: "quote", msg: msftQ, want: []tape.Event{q("MSFT", "114.125", "114.128", 100, 160)}},
		{name: "trade", msg: msftT, want: []tape.Event{tr("MSFT", "114.125", 100)}},
		{
			name: "array mixing quotes and trades",
			msg:  "[" + msftQ + ",\n " + msftT + "," + withField(msftQ, "sym", `"AAPL"`) + "]",
			want: []tape.Event{q("MSFT", "114.125", "114.128", 100, 160), tr("MSFT", "114.125", 100), q("AAPL", "114.125", "114.128", 100, 160)},
		},
		{name: "white space everywhere", msg: " [ { \"ev\" : \"T\" , \"sym\" : \"MSFT\" , \"p\" : 1 , \"t\" : 1536036818784 } ] \n",
			want: []tape.Event{tr("MSFT", "1", 0)}},
		{name: "time in microseconds", msg: withField(msftT, "t", "1536036818784123"),
			want: []tape.Event{trade(src, "MSFT", "114.125", 100, time.UnixMicro(1536036818784123))}},
		{name: "time in nanoseconds", msg: withField(msftT, "t", "1536036818784123456"),
			want: []tape.Event{trade(src, "MSFT", "114.125", 100, time.Unix(0, 1536036818784123456))}},
		{name: "time in seconds is rejected", msg: withField(msftT, "t", "1536036818"), rejects: rejects(-1, tape.ECodeTime)},
		{name: "time as a string", msg: withField(msftT, "t", `"1536036818784"`), rejects: rejects(-1, tape.ECodeTime)},
		{name: "fractional time", msg: withField(msftT, "t", "1536036818784.5"), rejects: rejects(-1, tape.ECodeTime)},
		{name: "time too large for int64", msg: withField(msftT, "t", "99999999999999999999"), rejects: rejects(-1, tape.ECodeTime)},
		{name: "missing time", msg: `{"ev":"T","sym":"MSFT","p":114.125,"s":100}`, rejects: rejects(-1, tape.ECodeTime)},
		{name: "status is control traffic", msg: `[{"ev":"status","status":"auth_success","message":"authenticated"}]`},
		{name: "status beside data", msg: `[{"ev":"status","status":"connected"},` + msftT + `]`, want: []tape.Event{tr("MSFT", "114.125", 100)}},
		{name: "unsupported event", msg: `[{"ev":"AM","sym":"MSFT","v":10204,"o":114.11},` + msftT + `]`,
			want: []tape.Event{tr("MSFT", "114.125", 100)}, rejects: rejects(0, tape.ECodeField)},
		{name: "missing event type", msg: `{"sym":"MSFT","p":114.125,"t":1536036818784}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "event type of the wrong type", msg: withField(msftT, "ev", "1"), rejects: rejects(-1, tape.ECodeField)},
		{name: "missing optional sizes", msg: `{"ev":"Q","sym":"MSFT","bp":114.125,"ap":114.128,"t":1536036818784}`,
			want: []tape.Event{q("MSFT", "114.125", "114.128", 0, 0)}},
		{name: "null fields are absent", msg: `{"ev":"Q","sym":"MSFT","bp":114.125,"bs":null,"ap":null,"t":1536036818784}`,
			want: []tape.Event{q("MSFT", "114.125", "", 0, 0)}},
		{name: "one-sided quote", msg: `{"ev":"Q","sym":"MSFT","ap":114.128,"as":160,"t":1536036818784}`,
			want: []tape.Event{q("MSFT", "", "114.128", 0, 160)}},
		{name: "quote without prices", msg: `{"ev":"Q","sym":"MSFT","bs":1,"t":1536036818784}`, rejects: rejects(-1, tape.ECodePrice)},
		{name: "trade without price", msg: `{"ev":"T","sym":"MSFT","s":1,"t":1536036818784}`, rejects: rejects(-1, tape.ECodePrice)},
		{name: "missing symbol", msg: `{"ev":"T","p":114.125,"t":1536036818784}`, rejects: rejects(-1, tape.ECodeSymbol)},
		{name: "symbol of the wrong type", msg: withField(msftT, "sym", "42"), rejects: rejects(-1, tape.ECodeSymbol)},
		{name: "price as a string", msg: withField(msftT, "p", `"114.125"`), rejects: rejects(-1, tape.ECodePrice)},
		{name: "price as an array", msg: withField(msftT, "p", `[114.125]`), rejects: rejects(-1, tape.ECodePrice)},
		{name: "price as a bool", msg: withField(msftT, "p", `true`), rejects: rejects(-1, tape.ECodePrice)},
		{name: "negative price", msg: withField(msftT, "p", "-114.125"), rejects: rejects(-1, tape.ECodePrice)},
		{name: "negative bid", msg: withField(msftQ, "bp", "-1"), rejects: rejects(-1, tape.ECodePrice)},
		{name: "zero trade price", msg: withField(msftT, "p", "0"), rejects: rejects(-1, tape.ECodePrice)},
		{name: "NaN is not JSON", msg: withField(msftT, "p", "NaN"), rejects: rejects(-1, tape.ECodeJSON)},
		{name: "NaN in a string", msg: withField(msftT, "p", `"NaN"`), rejects: rejects(-1, tape.ECodePrice)},
		{name: "Infinity is not JSON", msg: withField(msftT, "p", "Infinity"), rejects: rejects(-1, tape.ECodeJSON)},
		{name: "huge price", msg: withField(msftT, "p", "1e30"), rejects: rejects(-1, tape.ECodePrice)},
		{name: "price above MaxPrice", msg: withField(msftT, "p", "92233720369"), rejects: rejects(-1, tape.ECodePrice)},
		{name: "exponent notation", msg: withField(msftT, "p", "1.14125e2"), want: []tape.Event{tr("MSFT", "114.125", 100)}},
		{name: "exponent 1e3", msg: withField(msftT, "p", "1e3"), want: []tape.Event{tr("MSFT", "1000", 100)}},
		{name: "float artefact rounds", msg: withField(msftT, "p", "187.42000000000002"), want: []tape.Event{tr("MSFT", "187.42", 100)}},
		{name: "tiny price", msg: withField(msftT, "p", "0.00000001"), want: []tape.Event{tr("MSFT", "0.00000001", 100)}},
		{name: "price below a unit rounds to zero", msg: withField(msftT, "p", "0.000000001"), rejects: rejects(-1, tape.ECodePrice)},
		{name: "leading zero is not JSON", msg: withField(msftT, "p", "0114.1"), rejects: rejects(-1, tape.ECodeJSON)},
		{name: "size 100.0 is 100", msg: withField(msftT, "s", "100.0"), want: []tape.Event{tr("MSFT", "114.125", 100)}},
		{name: "size 1e2 is 100", msg: withField(msftT, "s", "1e2"), want: []tape.Event{tr("MSFT", "114.125", 100)}},
		{name: "fractional size", msg: withField(msftT, "s", "1.5"), want: []tape.Event{{Symbol: "MSFT", Kind: tape.KindTrade, Last: price("114.125"), Size: tape.MustSize("1.5"), Time: ms, Source: src}}},
		{name: "fractional size as ds", msg: withField(msftT, "s", `0,"ds":"0.25"`), want: []tape.Event{{Symbol: "MSFT", Kind: tape.KindTrade, Last: price("114.125"), Size: tape.MustSize("0.25"), Time: ms, Source: src}}},
		{name: "negative size", msg: withField(msftT, "s", "-100"), rejects: rejects(-1, tape.ECodeSize)},
		{name: "size as a string", msg: withField(msftT, "s", `"100"`), rejects: rejects(-1, tape.ECodeSize)},
		{name: "size overflows", msg: withField(msftQ, "bs", "9223372036854775808"), rejects: rejects(-1, tape.ECodeSize)},
		{name: "huge size is rejected with a reason", msg: "[" + withField(msftT, "s", "9223372036854775807") + "," + msftT + "]",
			want: []tape.Event{tr("MSFT", "114.125", 100)}, rejects: rejects(0, tape.ECodeSize)},
		{name: "largest size", msg: withField(msftT, "s", "92233720368.54775807"), want: []tape.Event{{Symbol: "MSFT", Kind: tape.KindTrade, Last: price("114.125"), Size: tape.MaxSize, Time: ms, Source: src}}},
		{name: "conditions not an array", msg: `{"ev":"T","sym":"MSFT","p":1,"c":"x","t":1536036818784}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "condition not a number", msg: `{"ev":"T","sym":"MSFT","p":1,"c":["1"],"t":1536036818784}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "trade id too long", msg: withField(msftT, "i", `"`+strings.Repeat("9", 60)+`"`), rejects: rejects(-1, tape.ECodeField)},
		{name: "lowercase symbol", msg: withField(msftT, "sym", `"msft"`), want: []tape.Event{tr("MSFT", "114.125", 100)}},
		{name: "escaped symbol", msg: withField(msftT, "sym", `"\u004dSFT"`), want: []tape.Event{tr("MSFT", "114.125", 100)}},
		{name: "escaped key", msg: `{"\u0065v":"T","sym":"MSFT","p":1,"t":1536036818784}`, want: []tape.Event{tr("MSFT", "1", 0)}},
		{name: "class share symbol", msg: withField(msftT, "sym", `"BRK.B"`), want: []tape.Event{tr("BRK.B", "114.125", 100)}},
		{name: "script in symbol", msg: withField(msftT, "sym", `"<script>alert(1)</script>"`), rejects: rejects(-1, tape.ECodeSymbol)},
		{name: "short script in symbol", msg: withField(msftT, "sym", `"<b>"`), rejects: rejects(-1, tape.ECodeSymbol)},
		{name: "CR LF in symbol", msg: withField(msftT, "sym", `"MS\r\nFT"`), rejects: rejects(-1, tape.ECodeSymbol)},
		{name: "raw newline in string is not JSON", msg: withField(msftT, "sym", "\"MS\nFT\""), rejects: rejects(-1, tape.ECodeJSON)},
		{name: "empty symbol", msg: withField(msftT, "sym", `""`), rejects: rejects(-1, tape.ECodeSymbol)},
		{name: "symbol too long", msg: withField(msftT, "sym", `"ABCDEFGHIJKLMNOPQRSTUVWXYZ"`), rejects: rejects(-1, tape.ECodeSymbol)},
		{name: "unknown fields skipped", msg: `{"ev":"T","x":{"a":[1,{"b":null}],"c":"\"}"},"sym":"MSFT","p":1,"t":1536036818784}`,
			want: []tape.Event{tr("MSFT", "1", 0)}},
		{name: "duplicate key, last wins", msg: `{"ev":"T","sym":"AAPL","sym":"MSFT","p":1,"t":1536036818784}`, want: []tape.Event{tr("MSFT", "1", 0)}},
		{name: "bad element keeps the others", msg: "[" + withField(msftT, "sym", `"<b>"`) + "," + msftQ + "]",
			want: []tape.Event{q("MSFT", "114.125", "114.128", 100, 160)}, rejects: rejects(0, tape.ECodeSymbol)},
		{name: "element that is not an object", msg: "[1," + msftT + `,"x",null]`,
			want:    []tape.Event{tr("MSFT", "114.125", 100)},
			rejects: []wantReject{{0, tape.ECodeJSON}, {2, tape.ECodeJSON}, {3, tape.ECodeJSON}}},
		{name: "empty array", msg: "[]"},
		{name: "empty object", msg: "{}", rejects: rejects(-1, tape.ECodeField)},
		{name: "empty message", msg: "", rejects: rejects(-1, tape.ECodeEmpty)},
		{name: "only white space", msg: " \r\n", rejects: rejects(-1, tape.ECodeEmpty)},
		{name: "scalar message", msg: `"Q"`, rejects: rejects(-1, tape.ECodeJSON)},
		{name: "deeply nested garbage", msg: nested(100000), rejects: rejects(-1, tape.ECodeJSON)},
		{name: "deeply nested field", msg: withField(msftQ, "c", nested(50)), rejects: rejects(-1, tape.ECodeJSON)},
		{name: "moderately nested field", msg: withField(msftQ, "c", nested(10)), want: []tape.Event{q("MSFT", "114.125", "114.128", 100, 160)}},
		{name: "truncated JSON takes back every event", msg: "[" + msftQ + "," + msftT[:40], rejects: rejects(-1, tape.ECodeJSON)},
		{name: "truncated string", msg: `{"ev":"T","sym":"MSF`, rejects: rejects(-1, tape.ECodeJSON)},
		{name: "truncated escape", msg: `{"ev":"T","sym":"MSF\`, rejects: rejects(-1, tape.ECodeJSON)},
		{name: "bad escape", msg: withField(msftT, "sym", `"\x41"`), rejects: rejects(-1, tape.ECodeJSON)},
		{name: "trailing garbage", msg: msftT + "x", rejects: rejects(-1, tape.ECodeJSON)},
		{name: "trailing brace", msg: msftT + "}", rejects: rejects(-1, tape.ECodeJSON)},
		{name: "second value", msg: msftT + msftT, rejects: rejects(-1, tape.ECodeJSON)},
		{name: "trailing comma", msg: "[" + msftT + ",]", rejects: rejects(-1, tape.ECodeJSON)},
		{name: "missing comma", msg: `{"ev":"T" "sym":"MSFT"}`, rejects: rejects(-1, tape.ECodeJSON)},
		{name: "missing colon", msg: `{"ev" "T"}`, rejects: rejects(-1, tape.ECodeJSON)},
		{name: "single quotes", msg: `{'ev':'T'}`, rejects: rejects(-1, tape.ECodeJSON)},
	})
}
