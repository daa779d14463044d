package ingest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"tape"
)

// fixMessage frames body fields (35= on) as a FIX 4.4 message with the
// given separator, computing BodyLength and CheckSum over the SOH form.
func fixMessage(sep string, fields ...string) string {
	body := strings.Join(fields, sep) + sep
	head := "8=FIX.4.4" + sep + fmt.Sprintf("9=%d", len(body)) + sep
	return head + body + fixChecksum(strings.ReplaceAll(head+body, sep, "\x01")) + sep
}

func fixChecksum(s string) string {
	sum := 0
	for _, c := range []byte(s) {
		sum += int(c)
	}
	return fmt.Sprintf("10=%03d", sum%256)
}

func TestNormalizeFIX(t *testing.T) {
	const src = tape.FormatFIX
	sending := time.Date(2024, 1, 2, 15, 4, 5, 123_000_000, time.UTC)
	header := []string{"35=W", "49=VENUE", "56=TAPE", "34=12", "52=20240102-15:04:05.123"}
	snapshot := func(sep string, fields ...string) string {
		return fixMessage(sep, append(append(header[:len(header):len(header)], "55=AAPL"), fields...)...)
	}
	incremental := func(fields ...string) string {
		return fixMessage("|", append([]string{"35=X", "49=VENUE", "56=TAPE", "34=13", "52=20240102-15:04:05.123"}, fields...)...)
	}
	book := []string{"268=2", "269=0", "270=187.42", "271=100", "269=1", "270=187.44", "271=200"}
	aaplQ := quote(src, "AAPL", "187.42", "187.44", 100, 200, sending)
	valid := snapshot("|", book...)
	pipeLiteral := strings.TrimSuffix(valid, "|")
	pipeLiteral = pipeLiteral[:strings.LastIndex(pipeLiteral, "|")+1]
	pipeLiteral += fixChecksum(pipeLiteral) + "|"

	runNormalizeCases(t, src, []normalizeCase{
		{name: "snapshot with SOH", msg: snapshot("\x01", book...), want: []tape.Event{aaplQ}},
		{name: "snapshot with pipes", msg: valid, want: []tape.Event{aaplQ}},
		{name: "checksum over the pipes themselves", msg: pipeLiteral, want: []tape.Event{aaplQ}},
		{name: "final separator cut off", msg: strings.TrimSuffix(valid, "|"), want: []tape.Event{aaplQ}},
		{name: "line ending", msg: valid + "\r\n", want: []tape.Event{aaplQ}},
		{name: "snapshot with a trade", msg: snapshot("|", "268=3", "269=0", "270=187.42", "271=100", "269=1", "270=187.44", "271=200", "269=2", "270=187.43", "271=50"),
			want: []tape.Event{aaplQ, trade(src, "AAPL", "187.43", 50, sending)}},
		{name: "deeper levels are not the top of the book", msg: snapshot("|", "268=4", "269=0", "270=187.42", "271=100", "269=0", "270=187.41", "271=900",
			"269=1", "270=187.44", "271=200", "269=1", "270=187.45", "271=5"), want: []tape.Event{aaplQ}},
		{name: "other entry types ignored", msg: snapshot("|", "268=3", "269=4", "270=185", "269=0", "270=187.42", "271=100", "269=B", "271=123456"),
			want: []tape.Event{quote(src, "AAPL", "187.42", "", 100, 0, sending)}},
		{name: "entry time and date", msg: snapshot("|", "268=2", "269=0", "270=187.42", "271=100", "272=20240102", "273=15:04:04.5", "269=1", "270=187.44", "271=200", "273=15:04:04.75"),
			want: []tape.Event{quote(src, "AAPL", "187.42", "187.44", 100, 200, time.Date(2024, 1, 2, 15, 4, 4, 750_000_000, time.UTC))}},
		{name: "incremental, two symbols, one side", msg: incremental("268=3",
			"279=0", "269=0", "55=AAPL", "270=187.42", "271=100",
			"279=1", "269=1", "55=AAPL", "270=187.44", "271=200",
			"279=1", "269=0", "55=MSFT", "270=411.5", "271=3"),
			want: []tape.Event{aaplQ, {Symbol: "MSFT", Kind: tape.KindQuote, Sides: tape.SideBid, Bid: price("411.5"), BidSize: units(3), Time: sending, Source: src}}},
		{name: "incremental trade, symbol inherited", msg: incremental("268=2",
			"279=0", "269=2", "55=msft", "270=411.52", "271=100", "273=15:04:05.001",
			"279=0", "269=2", "270=411.53", "271=10.0"),
			want: []tape.Event{trade(src, "MSFT", "411.52", 100, sending.Add(-122*time.Millisecond)), trade(src, "MSFT", "411.53", 10, sending)}},
		{name: "incremental delete is skipped", msg: incremental("268=2", "279=2", "269=0", "55=AAPL", "270=187.40", "279=0", "269=1", "55=AAPL", "270=187.44", "271=200"),
			want: []tape.Event{quote(src, "AAPL", "", "187.44", 0, 200, sending)}},
		{name: "incremental level 2 is skipped", msg: incremental("268=1", "279=1", "269=0", "55=AAPL", "270=187.40", "290=2")},
		{name: "heartbeat is session traffic", msg: fixMessage("|", "35=0", "49=VENUE", "56=TAPE", "34=14", "52=20240102-15:04:05.123")},
		{name: "logon is session traffic", msg: fixMessage("\x01", "35=A", "49=VENUE", "56=TAPE", "34=1", "52=20240102-15:04:05.123", "98=0", "108=30")},
		{name: "bad checksum", msg: strings.Replace(valid, "270=187.42", "270=187.43", 1), rejects: rejects(-1, tape.ECodeField)},
		{name: "checksum not three digits", msg: valid[:strings.LastIndex(valid, "10=")] + "10=1|", rejects: rejects(-1, tape.ECodeField)},
		{name: "missing checksum", msg: valid[:strings.LastIndex(valid, "10=")], rejects: rejects(-1, tape.ECodeField)},
		{name: "bad body length", msg: strings.Replace(valid, "9=", "9=1", 1), rejects: rejects(-1, tape.ECodeField)},
		{name: "fields after NoMDEntries groups missing", msg: snapshot("|", "268=3", "269=0", "270=187.42", "269=1", "270=187.44"), rejects: rejects(-1, tape.ECodeField)},
		{name: "more entries than NoMDEntries", msg: snapshot("|", "268=1", "269=0", "270=187.42", "269=1", "270=187.44"), rejects: rejects(-1, tape.ECodeField)},
		{name: "no NoMDEntries", msg: snapshot("|", "262=req1"), rejects: rejects(-1, tape.ECodeField)},
		{name: "too many entries", msg: snapshot("|", "268=100000"), rejects: rejects(-1, tape.ECodeTooBig)},
		{name: "bad price", msg: snapshot("|", "268=2", "269=0", "270=abc", "269=1", "270=187.44", "271=200"),
			want: []tape.Event{quote(src, "AAPL", "", "187.44", 0, 200, sending)}, rejects: rejects(0, tape.ECodePrice)},
		{name: "exponent is not a FIX price", msg: snapshot("|", "268=1", "269=2", "270=1e3"), rejects: rejects(0, tape.ECodePrice)},
		{name: "negative price", msg: snapshot("|", "268=1", "269=2", "270=-187.43"), rejects: rejects(0, tape.ECodePrice)},
		{name: "zero price", msg: snapshot("|", "268=1", "269=0", "270=0"), rejects: rejects(0, tape.ECodePrice)},
		{name: "missing price", msg: snapshot("|", "268=1", "269=2", "271=5"), rejects: rejects(0, tape.ECodePrice)},
		{name: "fractional size", msg: snapshot("|", "268=1", "269=2", "270=187.43", "271=10.5"),
			want: []tape.Event{{Symbol: "AAPL", Kind: tape.KindTrade, Last: price("187.43"), Size: tape.MustSize("10.5"), Time: sending, Source: src}}},
		{name: "exponent is not a FIX quantity", msg: snapshot("|", "268=1", "269=2", "270=187.43", "271=1e3"), rejects: rejects(0, tape.ECodeSize)},
		{name: "missing entry type", msg: snapshot("|", "268=1", "270=187.43", "271=10"), rejects: rejects(0, tape.ECodeField)},
		{name: "bad symbol", msg: incremental("268=2", "279=0", "269=2", "55=<script>", "270=1", "279=0", "269=2", "55=AAPL", "270=2"),
			want: []tape.Event{trade(src, "AAPL", "2", 0, sending)}, rejects: rejects(0, tape.ECodeSymbol)},
		{name: "missing symbol", msg: incremental("268=1", "279=0", "269=2", "270=1"), rejects: rejects(0, tape.ECodeSymbol)},
		{name: "bad entry time", msg: snapshot("|", "268=1", "269=2", "270=1", "273=25:00:00"), rejects: rejects(0, tape.ECodeTime)},
		{name: "bad sending time", msg: fixMessage("|", "35=W", "52=2024-01-02T15:04:05Z", "55=AAPL", "268=1", "269=2", "270=1"), rejects: rejects(-1, tape.ECodeTime)},
		{name: "no time at all", msg: fixMessage("|", "35=W", "55=AAPL", "268=1", "269=2", "270=1"), rejects: rejects(0, tape.ECodeTime)},
		{name: "entry time without any date", msg: fixMessage("|", "35=W", "55=AAPL", "268=1", "269=2", "270=1", "273=15:04:05"), rejects: rejects(0, tape.ECodeTime)},
		{name: "entry date and time without SendingTime", msg: fixMessage("|", "35=W", "55=AAPL", "268=1", "269=2", "270=1", "272=20240102", "273=15:04:05"),
			want: []tape.Event{trade(src, "AAPL", "1", 0, time.Date(2024, 1, 2, 15, 4, 5, 0, time.UTC))}},
		{name: "field without =", msg: fixMessage("|", "35=W", "52=20240102-15:04:05", "garbage", "268=0"), rejects: rejects(-1, tape.ECodeField)},
		{name: "empty value", msg: fixMessage("|", "35=W", "52=20240102-15:04:05", "55=", "268=0"), rejects: rejects(-1, tape.ECodeField)},
		{name: "MsgType not third", msg: fixMessage("|", "49=VENUE", "35=W", "268=0"), rejects: rejects(-1, tape.ECodeField)},
		{name: "not FIX", msg: "hello|world", rejects: rejects(-1, tape.ECodeFormat)},
		{name: "JSON", msg: `{"ev":"Q"}`, rejects: rejects(-1, tape.ECodeFormat)},
		{name: "empty", msg: "", rejects: rejects(-1, tape.ECodeEmpty)},
		{name: "truncated", msg: valid[:len(valid)/2], rejects: rejects(-1, tape.ECodeField)},
	})
}
