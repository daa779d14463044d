package ingest_test

import (
	"testing"
	"time"

	"tape"
)

func TestNormalizeCSV(t *testing.T) {
	const src = tape.FormatCSV
	ts := time.Date(2024, 1, 2, 15, 4, 5, 123_000_000, time.UTC)
	both := tape.Event{Symbol: "AAPL", Kind: tape.KindQuote | tape.KindTrade, Sides: tape.BothSides, Bid: price("187.42"), Ask: price("187.44"),
		Last: price("187.43"), Size: units(50), Time: ts, Source: src}
	runNormalizeCases(t, src, []normalizeCase{
		{name: "quote", msg: "AAPL,2024-01-02T15:04:05.123Z,187.42,187.44,,\n", want: []tape.Event{quote(src, "AAPL", "187.42", "187.44", 0, 0, ts)}},
		{name: "trade", msg: "AAPL,2024-01-02T15:04:05.123Z,,,187.43,50", want: []tape.Event{trade(src, "AAPL", "187.43", 50, ts)}},
		{name: "quote and trade", msg: "AAPL,2024-01-02T15:04:05.123Z,187.42,187.44,187.43,50\n", want: []tape.Event{both}},
		{name: "header and CRLF", msg: "symbol,ts,bid,ask,last,size\r\nAAPL,1704207845123,187.42,187.44,187.43,50\r\nMSFT,1704207845123,,,411.5,7\r\n",
			want: []tape.Event{both, trade(src, "MSFT", "411.5", 7, ts)}},
		{name: "only a header", msg: "Symbol,TS,Bid,Ask,Last,Size\n"},
		{name: "blank lines and spaces", msg: "\n AAPL , 1704207845123 , 187.42 , 187.44 , 187.43 , 50 \n\n", want: []tape.Event{both}},
		{name: "unix microseconds", msg: "AAPL,1704207845123000,,,187.43,50", want: []tape.Event{trade(src, "AAPL", "187.43", 50, ts)}},
		{name: "bid only", msg: "AAPL,1704207845123,187.42,,,", want: []tape.Event{quote(src, "AAPL", "187.42", "", 0, 0, ts)}},
		{name: "size without last is ignored", msg: "AAPL,1704207845123,187.42,187.44,,9", want: []tape.Event{quote(src, "AAPL", "187.42", "187.44", 0, 0, ts)}},
		{name: "lowercase symbol", msg: "aapl,1704207845123,,,187.43,50", want: []tape.Event{trade(src, "AAPL", "187.43", 50, ts)}},
		{name: "exponent price", msg: "AAPL,1704207845123,,,1e3,", want: []tape.Event{trade(src, "AAPL", "1000", 0, ts)}},
		{name: "bad line keeps the others", msg: "symbol,ts,bid,ask,last,size\nAAPL,yesterday,1,2,,\nAAPL,1704207845123,,,187.43,50\n<b>,1704207845123,,,1,1\n",
			want: []tape.Event{trade(src, "AAPL", "187.43", 50, ts)}, rejects: []wantReject{{1, tape.ECodeTime}, {3, tape.ECodeSymbol}}},
		{name: "too few fields", msg: "AAPL,1704207845123,187.42,187.44", rejects: rejects(0, tape.ECodeField)},
		{name: "too many fields", msg: "AAPL,1704207845123,187.42,187.44,,,", rejects: rejects(0, tape.ECodeField)},
		{name: "no prices", msg: "AAPL,1704207845123,,,,5", rejects: rejects(0, tape.ECodeEmpty)},
		{name: "missing symbol", msg: ",1704207845123,,,1,5", rejects: rejects(0, tape.ECodeSymbol)},
		{name: "missing time", msg: "AAPL,,,,1,5", rejects: rejects(0, tape.ECodeTime)},
		{name: "time in seconds", msg: "AAPL,1704207845,,,1,5", rejects: rejects(0, tape.ECodeTime)},
		{name: "bad price", msg: "AAPL,1704207845123,,,1.2.3,5", rejects: rejects(0, tape.ECodePrice)},
		{name: "NaN price", msg: "AAPL,1704207845123,,,NaN,5", rejects: rejects(0, tape.ECodePrice)},
		{name: "negative bid", msg: "AAPL,1704207845123,-1,2,,", rejects: rejects(0, tape.ECodePrice)},
		{name: "huge price", msg: "AAPL,1704207845123,,,99999999999999999999,", rejects: rejects(0, tape.ECodePrice)},
		{name: "fractional size", msg: "AAPL,1704207845123,,,1,0.5", want: []tape.Event{{Symbol: "AAPL", Kind: tape.KindTrade, Last: price("1"), Size: tape.MustSize("0.5"), Time: ts, Source: src}}},
		{name: "huge size", msg: "AAPL,1704207845123,,,1,9223372036854775807\nAAPL,1704207845123,,,187.43,50", want: []tape.Event{trade(src, "AAPL", "187.43", 50, ts)},
			rejects: rejects(0, tape.ECodeSize)},
		{name: "byte order mark", msg: "\xef\xbb\xbfXCSVA,2024-01-02T15:04:05.123Z,10.00,10.02,10.01,100\r\n",
			want: []tape.Event{{Symbol: "XCSVA", Kind: tape.KindQuote | tape.KindTrade, Sides: tape.BothSides, Bid: price("10"), Ask: price("10.02"),
				Last: price("10.01"), Size: units(100), Time: ts, Source: src}}},
		{name: "header with a byte order mark", msg: "\xef\xbb\xbfsymbol,ts,bid,ask,last,size\r\nAAPL,2024-01-02T15:04:05.123Z,,,187.43,50\r\n",
			want: []tape.Event{trade(src, "AAPL", "187.43", 50, ts)}},
		{name: "negative futures price", msg: "CL=F,1704207845123,,,-37.63,1", want: []tape.Event{trade(src, "CL=F", "-37.63", 1, ts)}},
		{name: "symbol with CR inside", msg: "AA\rPL,1704207845123,,,1,5", rejects: rejects(0, tape.ECodeSymbol)},
		{name: "quoted field", msg: "\"AAPL\",1704207845123,,,1,5", rejects: rejects(0, tape.ECodeSymbol)},
		{name: "empty", msg: "", rejects: rejects(-1, tape.ECodeEmpty)},
		{name: "blank", msg: "\r\n\r\n", rejects: rejects(-1, tape.ECodeEmpty)},
	})
}
