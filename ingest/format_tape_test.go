package ingest_test

import (
	"testing"
	"time"

	"tape"
)

func TestNormalizeTape(t *testing.T) {
	const src = tape.FormatTape
	ts := time.Date(2024, 1, 2, 15, 4, 5, 123456789, time.UTC)
	const aaplQ = `{"symbol":"AAPL","kind":"quote","bid":"187.42","bid_size":"100","ask":"187.44","ask_size":"200","ts":"2024-01-02T15:04:05.123456789Z"}`
	q := quote(src, "AAPL", "187.42", "187.44", 100, 200, ts)
	tr := trade(src, "AAPL", "187.43", 50, ts)
	bidOnly := tape.Event{Symbol: "AAPL", Kind: tape.KindQuote, Sides: tape.SideBid, Bid: price("187.42"), BidSize: units(100), Time: ts, Source: src}
	runNormalizeCases(t, src, []normalizeCase{
		{name: "quote", msg: aaplQ, want: []tape.Event{q}},
		{name: "array", msg: "[" + aaplQ + "," + aaplQ + "]", want: []tape.Event{q, q}},
		{name: "numbers as well as strings", msg: `{"symbol":"AAPL","bid":187.42,"bid_size":100,"ask":1.8744e2,"ask_size":200,"ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{q}},
		{name: "kind inferred from last", msg: `{"symbol":"AAPL","last":"187.43","size":"50","ts":"2024-01-02T15:04:05.123456789Z"}`, want: []tape.Event{tr}},
		{name: "empty kind is inferred", msg: `{"symbol":"AAPL","kind":"","last":"187.43","size":50,"ts":"2024-01-02T15:04:05.123456789Z"}`, want: []tape.Event{tr}},
		{name: "quote and trade", msg: `{"symbol":"AAPL","bid":"187.42","bid_size":"100","ask":"187.44","ask_size":"200","last":"187.43","size":"50","ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{{Symbol: "AAPL", Kind: tape.KindQuote | tape.KindTrade, Sides: tape.BothSides, Bid: price("187.42"), Ask: price("187.44"),
				BidSize: units(100), AskSize: units(200), Last: price("187.43"), Size: units(50), Time: ts, Source: src}}},
		{name: "day statistics of older events are ignored", msg: `{"symbol":"AAPL","kind":"trade","last":"187.43","size":50,"volume":-1,"open":"185","high":"188.1","low":"x","ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{tr}},
		{name: "last_size when size is missing", msg: `{"symbol":"AAPL","last":"187.43","last_size":50,"ts":"2024-01-02T15:04:05.123456789Z"}`, want: []tape.Event{tr}},
		{name: "a side not stated is left as it was", msg: `{"symbol":"AAPL","kind":"quote","bid":"187.42","bid_size":"100","ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{bidOnly}},
		{name: "a null side is removed", msg: `{"symbol":"AAPL","kind":"quote","bid":null,"ask":"187.44","ask_size":"200","ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{quote(src, "AAPL", "", "187.44", 0, 200, ts)}},
		{name: "fractional size", msg: `{"symbol":"BTC-USD","last":"65432.10","size":"0.011467","ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{{Symbol: "BTC-USD", Kind: tape.KindTrade, Last: price("65432.1"), Size: tape.MustSize("0.011467"), Time: ts, Source: src}}},
		{name: "trade id and conditions", msg: `{"symbol":"AAPL","last":"187.43","size":"50","id":"Q:77","updates":"volume","ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{{Symbol: "AAPL", Kind: tape.KindTrade, Last: price("187.43"), Size: units(50), TradeID: mustTradeID("Q:77"),
				Ineligible: tape.AllUpdates &^ tape.UpdatesVolume, Time: ts, Source: src}}},
		{name: "cancel", msg: `{"symbol":"AAPL","kind":"cancel","ref":"Q:77","ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{{Symbol: "AAPL", Kind: tape.KindCancel, Ref: mustTradeID("Q:77"), Time: ts, Source: src}}},
		{name: "correction", msg: `{"symbol":"AAPL","kind":"correction","ref":"Q:77","id":"Q:78","last":"187.40","size":"60","ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{{Symbol: "AAPL", Kind: tape.KindCorrection, Ref: mustTradeID("Q:77"), TradeID: mustTradeID("Q:78"), Last: price("187.4"), Size: units(60), Time: ts, Source: src}}},
		{name: "cancel without ref", msg: `{"symbol":"AAPL","kind":"cancel","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "bad updates", msg: `{"symbol":"AAPL","last":"1","updates":"all","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "source and origin are not taken", msg: `{"symbol":"AAPL","last":"187.43","size":50,"ts":"2024-01-02T15:04:05.123456789Z","source":"<evil>","origin":"x/1/2/3"}`,
			want: []tape.Event{tr}},
		{name: "class and day are the instruments' own", msg: `{"symbol":"AAPL","class":"future","day":"1999-01-01","last":"-1","ts":"2024-01-02T15:04:05Z"}`,
			rejects: rejects(-1, tape.ECodePrice)},
		{name: "size 50.0", msg: `{"symbol":"AAPL","last":"187.43","size":50.0,"ts":"2024-01-02T15:04:05.123456789Z"}`, want: []tape.Event{tr}},
		{name: "size not a number", msg: `{"symbol":"AAPL","last":"187.43","size":"fifty","ts":"2024-01-02T15:04:05.123456789Z"}`, rejects: rejects(-1, tape.ECodeSize)},
		{name: "negative size", msg: `{"symbol":"AAPL","last":"187.43","size":"-1","ts":"2024-01-02T15:04:05.123456789Z"}`, rejects: rejects(-1, tape.ECodeSize)},
		{name: "huge size", msg: `{"symbol":"AAPL","last":"187.43","size":9223372036854775807,"ts":"2024-01-02T15:04:05.123456789Z"}`, rejects: rejects(-1, tape.ECodeSize)},
		{name: "price string that is not a number", msg: `{"symbol":"AAPL","last":"187.43abc","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodePrice)},
		{name: "empty price string", msg: `{"symbol":"AAPL","last":"","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodePrice)},
		{name: "price string 1e3", msg: `{"symbol":"AAPL","last":"1e3","ts":"2024-01-02T15:04:05.123456789Z"}`,
			want: []tape.Event{trade(src, "AAPL", "1000", 0, ts)}},
		{name: "negative price", msg: `{"symbol":"AAPL","last":"-1","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodePrice)},
		{name: "negative futures price", msg: `{"symbol":"CL=F","last":"-37.63","size":"1","ts":"2020-04-20T18:30:00Z"}`,
			want: []tape.Event{trade(src, "CL=F", "-37.63", 1, time.Date(2020, 4, 20, 18, 30, 0, 0, time.UTC))}},
		{name: "unknown kind", msg: `{"symbol":"AAPL","kind":"bar","last":"1","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "kind of the wrong type", msg: `{"symbol":"AAPL","kind":1,"last":"1","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodeField)},
		{name: "trade kind without last", msg: `{"symbol":"AAPL","kind":"trade","bid":"1","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodePrice)},
		{name: "quote kind without sides", msg: `{"symbol":"AAPL","kind":"quote","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodePrice)},
		{name: "no prices at all", msg: `{"symbol":"AAPL","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodeEmpty)},
		{name: "missing ts", msg: `{"symbol":"AAPL","last":"1"}`, rejects: rejects(-1, tape.ECodeTime)},
		{name: "ts not RFC 3339", msg: `{"symbol":"AAPL","last":"1","ts":"Tue, 02 Jan 2024 15:04:05 GMT"}`, rejects: rejects(-1, tape.ECodeTime)},
		{name: "lowercase symbol", msg: `{"symbol":"aapl","last":"187.43","size":50,"ts":"2024-01-02T15:04:05.123456789Z"}`, want: []tape.Event{tr}},
		{name: "symbol with script", msg: `{"symbol":"<script>","last":"1","ts":"2024-01-02T15:04:05Z"}`, rejects: rejects(-1, tape.ECodeSymbol)},
		{name: "array with a bad element", msg: `[{"symbol":"AAPL\n","last":"1","ts":"2024-01-02T15:04:05Z"},` + aaplQ + `]`,
			want: []tape.Event{q}, rejects: rejects(0, tape.ECodeSymbol)},
		{name: "empty array", msg: "[]"},
		{name: "truncated", msg: aaplQ[:len(aaplQ)-1], rejects: rejects(-1, tape.ECodeJSON)},
		{name: "trailing brace", msg: aaplQ + "}", rejects: rejects(-1, tape.ECodeJSON)},
	})
}

func mustTradeID(s string) tape.TradeID {
	id, err := tape.ParseTradeID([]byte(s))
	if err != nil {
		panic(err)
	}
	return id
}

// TestTapeAgreesWithParseEvent checks that the tape format reads what
// tape.ParseEvent reads, including everything Event.AppendJSON writes.
func TestTapeAgreesWithParseEvent(t *testing.T) {
	ts := time.Date(2024, 1, 2, 15, 4, 5, 123456789, time.UTC)
	f := mustLookup(t, tape.FormatTape)
	msgs := []string{
		`{"symbol":"AAPL","bid":"187.42","ask":"187.44","ts":"2024-01-02T15:04:05Z"}`,
		`{"symbol":"brk.b","kind":"trade","last":412.5,"size":3,"volume":9,"id":"N:1","ts":"2024-01-02T10:04:05.5-05:00"}`,
		`{"symbol":"EUR/USD","kind":"quote","bid":"1.0921","ask":null,"bid_size":1000000,"ts":"2024-01-02T15:04:05.000000001Z"}`,
	}
	for _, e := range []tape.Event{
		quote("x", "AAPL", "187.42", "187.44", 100, 200, ts),
		trade("x", "^GSPC", "4769.83", 0, ts),
		{Symbol: "ES=F", Kind: tape.KindQuote | tape.KindTrade, Sides: tape.SideAsk, Ask: 2, Last: 3, Size: 4, TradeID: mustTradeID("7"), Time: ts, Origin: "feeds.raw/1/2/3"},
	} {
		msgs = append(msgs, string(e.AppendJSON(nil)))
	}
	for _, msg := range msgs {
		want, err := tape.ParseEvent([]byte(msg))
		if err != nil {
			t.Fatalf("ParseEvent(%s): %v", msg, err)
		}
		want.Source, want.Origin = tape.FormatTape, ""
		got, rejects := f.Normalize(nil, []byte(msg))
		if len(rejects) > 0 || len(got) != 1 {
			t.Fatalf("Normalize(%s) = %+v, %v", msg, got, rejects)
		}
		got[0].Class, got[0].Day = tape.ClassNone, 0
		if want.TradeID.IsZero() {
			got[0].TradeID = tape.TradeID{}
		}
		if !sameEvent(got[0], want) {
			t.Errorf("Normalize(%s) = %+v\nParseEvent gives %+v", msg, got[0], want)
		}
	}
}
