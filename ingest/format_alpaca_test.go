package ingest_test

import (
	"testing"
	"time"

	"tape"
)

func TestNormalizeAlpaca(t *testing.T) {
	const src = tape.FormatAlpaca
	ts := time.Date(2021, 2, 22, 15, 51, 44, 208_000_000, time.UTC)
	const (
		aaplQ = `{"T":"q","S":"AAPL","bx":"V","bp":187.1,"bs":2,"ax":"V","ap":187.2,"as":3,"c":["R"],"t":"2021-02-22T15:51:44.208Z","z":"C"}`
		aaplT = `{"T":"t","S":"AAPL","i":52983525029461,"x":"V","p":187.14,"s":100,"c":["@"],"t":"2021-02-22T15:51:44.208Z","z":"C"}`
	)
	withTime := func(ts string) string {
		return `[{"T":"t","S":"AAPL","p":187.14,"s":100,"t":` + ts + `}]`
	}
	tr := func(at time.Time) []tape.Event { return []tape.Event{trade(src, "AAPL", "187.14", 100, at)} }
	runNormalizeCases(t, src, []normalizeCase{
		{name: "quote", msg: "[" + aaplQ + "]", want: []tape.Event{quote(src, "AAPL", "187.1", "187.2", 2, 3, ts)}},
		{name: "trade", msg: "[" + aaplT + "]", want: tr(ts)},
		{name: "single object", msg: aaplT, want: tr(ts)},
		{name: "array mixing quotes and trades", msg: "[" + aaplQ + "," + aaplT + "]",
			want: []tape.Event{quote(src, "AAPL", "187.1", "187.2", 2, 3, ts), trade(src, "AAPL", "187.14", 100, ts)}},
		{name: "nanoseconds", msg: withTime(`"2021-02-22T15:51:44.208123456Z"`), want: tr(ts.Add(123456))},
		{name: "no fraction", msg: withTime(`"2021-02-22T15:51:44Z"`), want: tr(ts.Truncate(time.Second))},
		{name: "offset", msg: withTime(`"2021-02-22T10:51:44.208-05:00"`), want: tr(ts)},
		{name: "half-hour offset", msg: withTime(`"2021-02-22T21:21:44.208+05:30"`), want: tr(ts)},
		{name: "leap day", msg: withTime(`"2024-02-29T00:00:00Z"`), want: tr(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC))},
		{name: "no leap day", msg: withTime(`"2023-02-29T00:00:00Z"`), rejects: rejects(0, tape.ECodeTime)},
		{name: "space instead of T", msg: withTime(`"2021-02-22 15:51:44Z"`), rejects: rejects(0, tape.ECodeTime)},
		{name: "no zone", msg: withTime(`"2021-02-22T15:51:44"`), rejects: rejects(0, tape.ECodeTime)},
		{name: "hour 24", msg: withTime(`"2021-02-22T24:00:00Z"`), rejects: rejects(0, tape.ECodeTime)},
		{name: "leap second", msg: withTime(`"2016-12-31T23:59:60Z"`), rejects: rejects(0, tape.ECodeTime)},
		{name: "empty fraction", msg: withTime(`"2021-02-22T15:51:44.Z"`), rejects: rejects(0, tape.ECodeTime)},
		{name: "time as a number", msg: withTime(`1613999504208`), rejects: rejects(0, tape.ECodeTime)},
		{name: "missing time", msg: `[{"T":"t","S":"AAPL","p":187.14}]`, rejects: rejects(0, tape.ECodeTime)},
		{name: "control messages", msg: `[{"T":"success","msg":"connected"},{"T":"success","msg":"authenticated"}]`},
		{name: "subscription", msg: `[{"T":"subscription","trades":["AAPL"],"quotes":["AMD","CLDR"],"bars":["*"]}]`},
		{name: "error message", msg: `[{"T":"error","code":406,"msg":"connection limit exceeded"}]`, rejects: rejects(0, tape.ECodeField)},
		{name: "bars are unsupported", msg: `[{"T":"b","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49378,"t":"2021-02-22T19:15:00Z"},` + aaplT + `]`,
			want: tr(ts), rejects: rejects(0, tape.ECodeField)},
		{name: "missing type", msg: `[{"S":"AAPL","p":187.14,"t":"2021-02-22T15:51:44.208Z"}]`, rejects: rejects(0, tape.ECodeField)},
		{name: "crypto symbol", msg: `[{"T":"q","S":"BTC/USD","bp":51000.5,"bs":2,"ap":51001,"as":1,"t":"2021-02-22T15:51:44.208Z"}]`,
			want: []tape.Event{quote(src, "BTC/USD", "51000.5", "51001", 2, 1, ts)}},
		{name: "fractional crypto size", msg: `[{"T":"t","S":"BTC/USD","p":51000.5,"s":0.0123,"t":"2021-02-22T15:51:44.208Z"}]`,
			want: []tape.Event{{Symbol: "BTC/USD", Kind: tape.KindTrade, Last: price("51000.5"), Size: tape.MustSize("0.0123"), Time: ts, Source: src}}},
		{name: "huge size", msg: `[{"T":"t","S":"AAPL","p":187.14,"s":9223372036854775807,"t":"2021-02-22T15:51:44.208Z"},` + aaplT + `]`,
			want: tr(ts), rejects: rejects(0, tape.ECodeSize)},
		{name: "price as a string", msg: `[{"T":"t","S":"AAPL","p":"187.14","t":"2021-02-22T15:51:44.208Z"}]`, rejects: rejects(0, tape.ECodePrice)},
		{name: "lowercase symbol", msg: `[{"T":"t","S":"aapl","p":187.14,"s":100,"t":"2021-02-22T15:51:44.208Z"}]`, want: tr(ts)},
		{name: "symbol with script", msg: `[{"T":"t","S":"<script>","p":187.14,"t":"2021-02-22T15:51:44.208Z"}]`, rejects: rejects(0, tape.ECodeSymbol)},
		{name: "empty array", msg: "[]"},
		{name: "truncated", msg: "[" + aaplQ + "," + aaplT[:30], rejects: rejects(-1, tape.ECodeJSON)},
		{name: "trailing garbage", msg: "[" + aaplT + "]]", rejects: rejects(-1, tape.ECodeJSON)},
	})
}
