package ingest_test

import (
	"testing"
	"time"

	"tape"
)

func TestNormalizeFinnhub(t *testing.T) {
	const src = tape.FormatFinnhub
	ms := time.UnixMilli(1575526691134).UTC()
	const aapl = `{"c":["1","12"],"p":187.14,"s":"AAPL","t":1575526691134,"v":100}`
	runNormalizeCases(t, src, []normalizeCase{
		{name: "trade", msg: `{"data":[` + aapl + `],"type":"trade"}`, want: []tape.Event{trade(src, "AAPL", "187.14", 100, ms)}},
		{name: "type first", msg: `{"type":"trade","data":[` + aapl + `]}`, want: []tape.Event{trade(src, "AAPL", "187.14", 100, ms)}},
		{
			name: "several trades",
			msg:  `{"data":[` + aapl + `,{"c":null,"p":7296.89,"s":"BINANCE:BTCUSDT","t":1575526691135,"v":3},{"p":0.5,"s":"OANDA:EUR_USD","t":1575526691136}],"type":"trade"}`,
			want: []tape.Event{
				trade(src, "AAPL", "187.14", 100, ms),
				trade(src, "BINANCE:BTCUSDT", "7296.89", 3, ms.Add(time.Millisecond)),
				trade(src, "OANDA:EUR_USD", "0.5", 0, ms.Add(2*time.Millisecond)),
			},
		},
		{name: "fractional crypto volume", msg: `{"data":[{"c":null,"p":7296.89,"s":"BINANCE:BTCUSDT","t":1575526691134,"v":0.011467},` + aapl + `],"type":"trade"}`,
			want: []tape.Event{{Symbol: "BINANCE:BTCUSDT", Kind: tape.KindTrade, Last: price("7296.89"), Size: tape.MustSize("0.011467"), Time: ms, Source: src},
				trade(src, "AAPL", "187.14", 100, ms)}},
		{name: "huge volume", msg: `{"data":[{"p":1,"s":"AAPL","t":1575526691134,"v":9223372036854775807},` + aapl + `],"type":"trade"}`,
			want: []tape.Event{trade(src, "AAPL", "187.14", 100, ms)}, rejects: rejects(0, tape.ECodeSize)},
		{name: "ping", msg: `{"type":"ping"}`},
		{name: "ping with data is still a ping", msg: `{"data":[{"s":"<b>"}],"type":"ping"}`},
		{name: "empty data", msg: `{"data":[],"type":"trade"}`},
		{name: "trade without data", msg: `{"type":"trade"}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "data not an array", msg: `{"data":{"s":"AAPL"},"type":"trade"}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "missing type", msg: `{"data":[` + aapl + `]}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "unsupported type", msg: `{"type":"news","data":[]}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "error type", msg: `{"type":"error","msg":"Invalid symbol"}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "bad elements keep the others", msg: `{"data":[1,{"p":-1,"s":"AAPL","t":1575526691134},` + aapl + `,{"p":1,"s":"AAPL"}],"type":"trade"}`,
			want:    []tape.Event{trade(src, "AAPL", "187.14", 100, ms)},
			rejects: []wantReject{{0, tape.ECodeJSON}, {1, tape.ECodePrice}, {3, tape.ECodeTime}}},
		{name: "missing price", msg: `{"data":[{"s":"AAPL","t":1575526691134}],"type":"trade"}`, rejects: rejects(0, tape.ECodePrice)},
		{name: "lowercase symbol", msg: `{"data":[{"p":1,"s":"aapl","t":1575526691134}],"type":"trade"}`, want: []tape.Event{trade(src, "AAPL", "1", 0, ms)}},
		{name: "symbol with CR LF", msg: `{"data":[{"p":1,"s":"AA\r\nPL","t":1575526691134}],"type":"trade"}`, rejects: rejects(0, tape.ECodeSymbol)},
		{name: "array message", msg: `[{"type":"ping"}]`, rejects: rejects(-1, tape.ECodeJSON)},
		{name: "empty", msg: "", rejects: rejects(-1, tape.ECodeEmpty)},
		{name: "truncated", msg: `{"data":[` + aapl, rejects: rejects(-1, tape.ECodeJSON)},
		{name: "trailing garbage", msg: `{"type":"ping"}{"type":"ping"}`, rejects: rejects(-1, tape.ECodeJSON)},
		{name: "deeply nested garbage", msg: `{"data":` + nested(10000) + `,"type":"trade"}`, rejects: rejects(-1, tape.ECodeJSON)},
	})
}
