package ingest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"tape"
	"tape/ingest"
)

// The cases of the "market-data semantics" issue, each as its vendor
// sends it: raw messages go through the vendor's format (the events are
// checked) and then through a tape.Fold, and the quote a trader would see
// is checked field by field, as its JSON shows it.

// at is "NOW" in the cases: Friday 2026-11-20 15:00:00Z, 10:00 in New York.
var at = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

func ms(t time.Time) int64 { return t.UnixMilli() }

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func polygonTrade(sym, id, p, s, conds string, t time.Time) string {
	return fmt.Sprintf(`{"ev":"T","sym":%q,"x":4,"i":%q,"z":3,"p":%s,"s":%s,"c":[%s],"t":%d}`, sym, id, p, s, conds, ms(t))
}

func alpacaTrade(sym string, id int64, p, s string, t time.Time) string {
	return fmt.Sprintf(`{"T":"t","S":%q,"i":%d,"x":"V","p":%s,"s":%s,"c":["@"],"t":%q,"z":"C"}`, sym, id, p, s, rfc(t))
}

func alpacaQuote(sym, bp, bs, ap, as string, t time.Time) string {
	return fmt.Sprintf(`[{"T":"q","S":%q,"bx":"V","bp":%s,"bs":%s,"ax":"V","ap":%s,"as":%s,"c":["R"],"t":%q,"z":"C"}]`, sym, bp, bs, ap, as, rfc(t))
}

func finnhubTrade(sym, p, v string, t time.Time) string {
	return fmt.Sprintf(`{"data":[{"s":%q,"p":%s,"t":%d,"v":%s,"c":["1"]}],"type":"trade"}`, sym, p, ms(t), v)
}

func fixX(fields ...string) string {
	return fixMessage("|", append([]string{"35=X", "49=VENUE", "56=TAPE", "34=2", "52=" + at.Format("20060102-15:04:05.000")}, fields...)...)
}

// step is one raw message and what must be seen after it.
type step struct {
	format  string
	msg     string
	events  int               // events the message must give
	rejects []wantReject      // and rejects
	want    map[string]string // quote fields after it, as JSON shows them ("null" for null)
}

type marketCase struct {
	name  string
	sym   tape.Symbol // the symbol whose quote is checked
	inst  *tape.Instruments
	steps []step
}

func TestMarketCases(t *testing.T) {
	mon := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday in winter
	dupPolygon := polygonTrade("MSFT", "52983527388739", "281.1", "2", "14", at)
	futures := &tape.Instruments{FutureRoots: []string{"CL"}}
	cases := []marketCase{
		{name: "duplicate trade in one Polygon array", sym: "MSFT", steps: []step{
			{format: tape.FormatPolygon, msg: "[" + dupPolygon + "," + dupPolygon + "]", events: 2,
				want: map[string]string{"volume": "2", "last": "281.10", "last_size": "2"}},
		}},
		{name: "duplicate trade in two Polygon messages", sym: "MSFT", steps: []step{
			{format: tape.FormatPolygon, msg: dupPolygon, events: 1, want: map[string]string{"volume": "2"}},
			{format: tape.FormatPolygon, msg: dupPolygon, events: 1, want: map[string]string{"volume": "2"}},
		}},
		{name: "a producer retry of an Alpaca message", sym: "AAPL", steps: []step{
			{format: tape.FormatAlpaca, msg: "[" + alpacaTrade("AAPL", 7, "187.14", "100", at) + "]", events: 1, want: map[string]string{"volume": "100"}},
			{format: tape.FormatAlpaca, msg: "[" + alpacaTrade("AAPL", 7, "187.14", "100", at) + "]", events: 1, want: map[string]string{"volume": "100"}},
		}},
		{name: "a producer retry of a Finnhub message (no trade ids)", sym: "AAPL", steps: []step{
			{format: tape.FormatFinnhub, msg: `{"data":[{"s":"AAPL","p":187.14,"t":1795186800000,"v":100},{"s":"AAPL","p":187.14,"t":1795186800000,"v":100}],"type":"trade"}`,
				events: 2, want: map[string]string{"volume": "200"}}, // two identical prints in one message are two trades
			{format: tape.FormatFinnhub, msg: `{"data":[{"s":"AAPL","p":187.14,"t":1795186800000,"v":100},{"s":"AAPL","p":187.14,"t":1795186800000,"v":100}],"type":"trade"}`,
				events: 2, want: map[string]string{"volume": "200"}}, // the same message again counts nothing
		}},
		{name: "a producer retry of a CSV message (no trade ids)", sym: "XCSV", steps: []step{
			{format: tape.FormatCSV, msg: "XCSV,1795186800000,,,10.01,100\nXCSV,1795186800001,,,10.02,50\n", events: 2, want: map[string]string{"volume": "150"}},
			{format: tape.FormatCSV, msg: "XCSV,1795186800000,,,10.01,100\nXCSV,1795186800001,,,10.02,50\n", events: 2, want: map[string]string{"volume": "150"}},
		}},
		{name: "a producer retry of a FIX trade with an MDEntryID", sym: "AAPL", steps: []step{
			{format: tape.FormatFIX, msg: fixX("268=1", "279=0", "269=2", "55=AAPL", "270=187.43", "271=50", "278=E1"), events: 1, want: map[string]string{"volume": "50"}},
			{format: tape.FormatFIX, msg: fixX("268=1", "279=0", "269=2", "55=AAPL", "270=187.43", "271=50", "278=E1"), events: 1, want: map[string]string{"volume": "50"}},
		}},
		{name: "late report", sym: "LATE", steps: []step{
			{format: tape.FormatPolygon, msg: polygonTrade("LATE", "1", "20.50", "100", "14", at), events: 1},
			{format: tape.FormatPolygon, msg: polygonTrade("LATE", "2", "20.25", "300", "14", at.Add(-10*time.Minute)), events: 1,
				want: map[string]string{"last": "20.50", "last_size": "100", "ts": "2026-11-20T15:00:00.000000000Z", "volume": "400", "low": "20.25"}},
		}},
		{name: "sale conditions (Polygon ids)", sym: "CND", steps: []step{
			{format: tape.FormatPolygon, msg: polygonTrade("CND", "1", "109.41", "200", "0", at), events: 1},
			{format: tape.FormatPolygon, msg: `{"ev":"T","sym":"CND","x":4,"i":"2","z":3,"p":114.6247,"s":125984,"c":[53,52,41],"t":` + fmt.Sprint(ms(at.Add(time.Second))) + `}`, events: 1,
				want: map[string]string{"last": "109.41", "high": "109.41", "volume": "126184"}},
		}},
		{name: "sale conditions (Alpaca SIP letters, tape A)", sym: "CND", steps: []step{
			{format: tape.FormatAlpaca, msg: "[" + alpacaTrade("CND", 1, "109.41", "200", at) + "]", events: 1},
			{format: tape.FormatAlpaca, msg: `[{"T":"t","S":"CND","i":2,"x":"N","p":114.6247,"s":125984,"c":[" ","7","V"],"t":"` + rfc(at.Add(time.Second)) + `","z":"A"}]`, events: 1,
				want: map[string]string{"last": "109.41", "high": "109.41", "volume": "126184"}},
		}},
		{name: "sale conditions (FIX TradeCondition)", sym: "CND", steps: []step{
			{format: tape.FormatFIX, msg: fixX("268=2", "279=0", "269=2", "55=CND", "270=109.41", "271=200", "278=1",
				"279=0", "269=2", "55=CND", "270=114.6247", "271=125984", "278=2", "277=a"), events: 2,
				want: map[string]string{"last": "109.41", "high": "109.41", "volume": "126184"}},
		}},
		{name: "cancel (Alpaca)", sym: "CXL", steps: []step{
			{format: tape.FormatAlpaca, msg: "[" + alpacaTrade("CXL", 71684334236465, "70.00", "100", at) + "," +
				alpacaTrade("CXL", 71684334236466, "73.28", "20100", at.Add(time.Second)) + "," +
				alpacaTrade("CXL", 71684334236467, "70.01", "100", at.Add(2*time.Second)) + "]", events: 3,
				want: map[string]string{"volume": "20300", "high": "73.28"}},
			{format: tape.FormatAlpaca, msg: `[{"T":"x","S":"CXL","i":71684334236466,"x":"V","p":73.28,"s":20100,"a":"C","t":"` + rfc(at.Add(5*time.Second)) + `","z":"C"}]`, events: 1,
				want: map[string]string{"volume": "200", "high": "70.01", "low": "70.00", "open": "70.00", "last": "70.01", "kind": "cancel"}},
		}},
		{name: "cancel (FIX trade delete)", sym: "CXL", steps: []step{
			{format: tape.FormatFIX, msg: fixX("268=2", "279=0", "269=2", "55=CXL", "270=70.00", "271=100", "1003=A",
				"279=0", "269=2", "55=CXL", "270=73.28", "271=20100", "1003=B"), events: 2},
			{format: tape.FormatFIX, msg: fixX("268=1", "279=2", "269=2", "55=CXL", "1003=B"), events: 1,
				want: map[string]string{"volume": "100", "high": "70.00", "last": "70.00"}},
		}},
		{name: "cancel (tape's own JSON)", sym: "CXL", steps: []step{
			{format: tape.FormatTape, msg: `[{"symbol":"CXL","last":"70.00","size":"100","id":"A","ts":"2026-11-20T15:00:00Z"},{"symbol":"CXL","last":"73.28","size":"20100","id":"B","ts":"2026-11-20T15:00:01Z"}]`, events: 2},
			{format: tape.FormatTape, msg: `{"symbol":"CXL","kind":"cancel","ref":"B","ts":"2026-11-20T15:00:05Z"}`, events: 1,
				want: map[string]string{"volume": "100", "high": "70.00", "last": "70.00"}},
		}},
		{name: "correction (Alpaca)", sym: "IWM", steps: []step{
			{format: tape.FormatAlpaca, msg: `[{"T":"t","S":"IWM","i":79372207866957,"x":"D","p":208.65,"s":14950,"c":["@"],"t":"2022-01-20T17:26:08.000760661Z","z":"B"}]`, events: 1},
			{format: tape.FormatAlpaca, msg: `[{"T":"c","S":"IWM","x":"D","oi":79372207866957,"op":208.65,"os":14950,"oc":["@"],"ci":79372223926359,"cp":208.75,"cs":15000,"cc":["@"],"z":"B","t":"2022-01-20T17:30:00Z"}]`,
				events: 1, want: map[string]string{"volume": "15000", "last": "208.75", "last_size": "15000", "high": "208.75", "low": "208.75", "kind": "correction"}},
		}},
		{name: "correction (FIX trade change)", sym: "COR", steps: []step{
			{format: tape.FormatFIX, msg: fixX("268=1", "279=0", "269=2", "55=COR", "270=50.00", "271=100", "1003=T1"), events: 1},
			{format: tape.FormatFIX, msg: fixX("268=1", "279=1", "269=2", "55=COR", "270=50.05", "271=300", "1003=T1"), events: 1,
				want: map[string]string{"volume": "300", "last": "50.05", "high": "50.05"}},
		}},
		{name: "one-sided quote (Alpaca)", sym: "ONE", steps: []step{
			{format: tape.FormatAlpaca, msg: alpacaQuote("ONE", "187.10", "2", "187.20", "3", at), events: 1},
			{format: tape.FormatAlpaca, msg: alpacaQuote("ONE", "187.05", "2", "0", "0", at.Add(time.Second)), events: 1,
				want: map[string]string{"bid": "187.05", "ask": "null", "ask_size": "0", "state": ""}},
		}},
		{name: "one-sided quote (Polygon)", sym: "ONE", steps: []step{
			{format: tape.FormatPolygon, msg: `{"ev":"Q","sym":"ONE","bp":187.10,"bs":2,"ap":187.20,"as":3,"t":1795186800000}`, events: 1},
			{format: tape.FormatPolygon, msg: `{"ev":"Q","sym":"ONE","bp":187.25,"bs":2,"t":1795186800001}`, events: 1,
				want: map[string]string{"bid": "187.25", "ask": "null", "state": ""}},
		}},
		{name: "one-sided quote (CSV)", sym: "ONE", steps: []step{
			{format: tape.FormatCSV, msg: "ONE,1795186800000,187.10,187.20,,", events: 1},
			{format: tape.FormatCSV, msg: "ONE,1795186800001,187.25,,,", events: 1, want: map[string]string{"bid": "187.25", "ask": "null", "state": ""}},
		}},
		{name: "FIX delete", sym: "AAPL", steps: []step{
			{format: tape.FormatFIX, msg: fixMessage("|", "35=W", "49=VENUE", "56=TAPE", "34=1", "52=20261120-15:00:00.000", "55=AAPL", "268=2",
				"269=0", "270=100.00", "271=100", "269=1", "270=100.02", "271=200"), events: 1,
				want: map[string]string{"bid": "100.00", "ask": "100.02"}},
			{format: tape.FormatFIX, msg: fixX("268=1", "279=2", "269=0", "55=AAPL"), events: 1,
				want: map[string]string{"bid": "null", "bid_size": "0", "ask": "100.02"}},
		}},
		{name: "trading day of a US equity", sym: "DAY", steps: []step{
			{format: tape.FormatPolygon, msg: polygonTrade("DAY", "1", "10.00", "100", "0", mon.Add(20*time.Hour)), events: 1,
				want: map[string]string{"day": "2026-01-05", "open": "10.00", "volume": "100"}},
			{format: tape.FormatPolygon, msg: polygonTrade("DAY", "2", "10.50", "100", "0", mon.Add(24*time.Hour+30*time.Minute)), events: 1,
				want: map[string]string{"day": "2026-01-05", "open": "10.00", "high": "10.50", "volume": "200"}},
			{format: tape.FormatPolygon, msg: polygonTrade("DAY", "3", "11.00", "7", "0", mon.Add(38*time.Hour+30*time.Minute)), events: 1,
				want: map[string]string{"day": "2026-01-06", "open": "11.00", "high": "11.00", "low": "11.00", "volume": "7"}},
		}},
		{name: "CSV with a byte order mark", sym: "XCSVA", steps: []step{
			{format: tape.FormatCSV, msg: "\xef\xbb\xbfXCSVA,2026-11-20T15:00:00Z,10.00,10.02,10.01,100\r\n", events: 1,
				want: map[string]string{"bid": "10.00", "ask": "10.02", "last": "10.01", "volume": "100"}},
			{format: tape.FormatCSV, msg: "\xef\xbb\xbfsymbol,ts,bid,ask,last,size\r\nXCSVA,2026-11-20T15:00:01Z,,,10.03,5\r\n", events: 1,
				want: map[string]string{"last": "10.03", "volume": "105"}},
		}},
		{name: "fractional size (Finnhub crypto)", sym: "BINANCE:BTCUSDT", steps: []step{
			{format: tape.FormatFinnhub, msg: finnhubTrade("BINANCE:BTCUSDT", "7296.89", "0.011467", at), events: 1,
				want: map[string]string{"last": "7296.89", "last_size": "0.011467", "volume": "0.011467"}},
		}},
		{name: "negative futures price (CL=F)", sym: "CL=F", steps: []step{
			{format: tape.FormatPolygon, msg: polygonTrade("CL=F", "1", "-37.63", "1", "0", at), events: 1,
				want: map[string]string{"last": "-37.63", "low": "-37.63"}},
		}},
		{name: "negative futures price (configured root CL)", sym: "CLK0", inst: futures, steps: []step{
			{format: tape.FormatFIX, msg: fixX("268=1", "279=0", "269=2", "55=CLK0", "270=-37.63", "271=1"), events: 1,
				want: map[string]string{"last": "-37.63"}},
			{format: tape.FormatCSV, msg: "CLK0,1795186800000,-37.70,-37.60,,", events: 1,
				want: map[string]string{"bid": "-37.70", "ask": "-37.60", "state": ""}},
		}},
		{name: "negative price of a share", sym: "AAPL", steps: []step{
			{format: tape.FormatPolygon, msg: polygonTrade("AAPL", "1", "-37.63", "1", "0", at), rejects: rejects(-1, tape.ECodePrice)},
			{format: tape.FormatTape, msg: `{"symbol":"AAPL","last":"-37.63","ts":"2026-11-20T15:00:00Z"}`, rejects: rejects(-1, tape.ECodePrice)},
			{format: tape.FormatFIX, msg: fixX("268=1", "279=0", "269=2", "55=AAPL", "270=-37.63", "271=1"), rejects: rejects(0, tape.ECodePrice)},
		}},
		{name: "huge size", sym: "HUGE", steps: []step{
			{format: tape.FormatPolygon, msg: polygonTrade("HUGE", "1", "10.00", "100", "0", at), events: 1},
			{format: tape.FormatPolygon, msg: "[" + polygonTrade("HUGE", "2", "10.10", "9223372036854775807", "0", at.Add(time.Second)) + "," +
				polygonTrade("HUGE", "3", "10.20", "5", "0", at.Add(2*time.Second)) + "]", events: 1, rejects: rejects(0, tape.ECodeSize),
				want: map[string]string{"last": "10.20", "volume": "105"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			folds := map[tape.Symbol]*tape.Fold{}
			for i, s := range c.steps {
				f, ok := ingest.FormatWith(s.format, c.inst)
				if !ok {
					t.Fatalf("no format %q", s.format)
				}
				events, rjs := f.Normalize(nil, []byte(s.msg))
				checkRejects(t, rjs, s.rejects)
				if len(events) != s.events {
					t.Fatalf("step %d: %d events, want %d: %+v", i, len(events), s.events, events)
				}
				for j := range events {
					fold := folds[events[j].Symbol]
					if fold == nil {
						fold = tape.NewFold(events[j].Symbol)
						folds[events[j].Symbol] = fold
					}
					fold.Apply(&events[j], tape.NoSeq)
				}
				if s.want == nil {
					continue
				}
				fold := folds[c.sym]
				if fold == nil {
					t.Fatalf("step %d: no quote of %s", i, c.sym)
				}
				q := fold.Quote()
				checkQuote(t, i, q.AppendJSON(nil), s.want)
			}
		})
	}
}

// checkQuote compares fields of a quote's JSON with what a case wants.
func checkQuote(t *testing.T, step int, js []byte, want map[string]string) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatalf("step %d: quote is not JSON: %v: %s", step, err, js)
	}
	var diffs []string
	for k, w := range want {
		g := "null"
		if v := got[k]; v != nil {
			g = fmt.Sprint(v)
		}
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: %s, want %s", k, g, w))
		}
	}
	if len(diffs) > 0 {
		t.Errorf("step %d: %s\nquote %s", step, strings.Join(diffs, "; "), js)
	}
}

// TestInstrumentsAndDays checks the class and trading day every format
// stamps, with the default instruments and with FormatWith's.
func TestInstrumentsAndDays(t *testing.T) {
	eve := time.Date(2026, 1, 6, 0, 30, 0, 0, time.UTC) // Monday 19:30 in New York
	custom := &tape.Instruments{Symbols: map[tape.Symbol]tape.AssetClass{"XYZ": tape.ClassCrypto}}
	for _, tt := range []struct {
		format, msg string
		inst        *tape.Instruments
		class       tape.AssetClass
		day         string
	}{
		{tape.FormatPolygon, polygonTrade("AAPL", "1", "1", "1", "0", eve), nil, tape.ClassEquity, "2026-01-05"},
		{tape.FormatPolygon, polygonTrade("X:BTCUSD", "1", "1", "1", "0", eve), nil, tape.ClassCrypto, "2026-01-06"},
		{tape.FormatAlpaca, "[" + alpacaTrade("EUR/USD", 1, "1.08", "1", eve) + "]", nil, tape.ClassFX, "2026-01-06"}, // after 17:00 New York
		{tape.FormatFinnhub, finnhubTrade("OANDA:EUR_USD", "1.08", "0", eve), nil, tape.ClassFX, "2026-01-06"},
		{tape.FormatCSV, "CL=F,1767659400000,,,60.1,1", nil, tape.ClassFuture, "2026-01-06"}, // 18:30 Chicago: the next trade date
		{tape.FormatTape, `{"symbol":"XYZ","last":"1","ts":"2026-01-06T00:30:00Z"}`, custom, tape.ClassCrypto, "2026-01-06"},
		{tape.FormatTape, `{"symbol":"XYZ","last":"1","ts":"2026-01-06T00:30:00Z"}`, nil, tape.ClassEquity, "2026-01-05"},
		{tape.FormatFIX, fixMessage("|", "35=W", "52=20260106-00:30:00.000", "55=ES=F", "268=1", "269=2", "270=6000.25", "271=1"), nil, tape.ClassFuture, "2026-01-06"},
	} {
		f, _ := ingest.FormatWith(tt.format, tt.inst)
		events, rjs := f.Normalize(nil, []byte(tt.msg))
		if len(rjs) > 0 || len(events) != 1 {
			t.Errorf("%s %s: %+v %v", tt.format, tt.msg, events, rjs)
			continue
		}
		if e := events[0]; e.Class != tt.class || e.Day.String() != tt.day {
			t.Errorf("%s %s: class %q day %s, want %q %s", tt.format, e.Symbol, e.Class, e.Day, tt.class, tt.day)
		}
	}
}

// TestTradeIDs checks how each format names a trade: by the vendor's id in
// its scope, or by a content identity.
func TestTradeIDs(t *testing.T) {
	for _, tt := range []struct{ format, msg, want string }{
		{tape.FormatPolygon, polygonTrade("AAPL", "52983527388739", "1", "1", "0", at), "4:52983527388739"},
		{tape.FormatPolygon, `{"ev":"T","sym":"AAPL","x":4,"trfi":202,"i":"77","p":1,"t":1795186800000}`, "4/202:77"},
		{tape.FormatAlpaca, "[" + alpacaTrade("AAPL", 71684334236466, "1", "1", at) + "]", "V:71684334236466"},
		{tape.FormatFIX, fixX("268=1", "279=0", "269=2", "55=AAPL", "270=1", "1003=T9", "278=E9"), "T9"},
		{tape.FormatFIX, fixX("268=1", "279=0", "269=2", "55=AAPL", "270=1", "278=E9"), "E9"},
		{tape.FormatTape, `{"symbol":"AAPL","last":"1","id":"Q:1","ts":"2026-11-20T15:00:00Z"}`, "Q:1"},
	} {
		f := mustLookup(t, tt.format)
		events, rjs := f.Normalize(nil, []byte(tt.msg))
		if len(rjs) > 0 || len(events) != 1 || events[0].TradeID.String() != tt.want {
			t.Errorf("%s: %+v %v, want id %s", tt.msg, events, rjs, tt.want)
		}
	}
	// Without ids: the same content in one message is told apart by its
	// occurrence; the same message read twice gives the same ids.
	msg := []byte(`{"data":[{"s":"AAPL","p":1,"t":1795186800000,"v":1},{"s":"AAPL","p":1,"t":1795186800000,"v":1},{"s":"AAPL","p":1,"t":1795186800000,"v":2}],"type":"trade"}`)
	f := mustLookup(t, tape.FormatFinnhub)
	a, _ := f.Normalize(nil, msg)
	b, _ := f.Normalize(nil, msg)
	if len(a) != 3 || a[0].TradeID == a[1].TradeID || a[0].TradeID == a[2].TradeID || !strings.HasPrefix(a[0].TradeID.String(), "~") {
		t.Fatalf("content ids %s %s %s", a[0].TradeID, a[1].TradeID, a[2].TradeID)
	}
	for i := range a {
		if a[i].TradeID != b[i].TradeID {
			t.Fatalf("event %d: id %s, then %s", i, a[i].TradeID, b[i].TradeID)
		}
	}
}
