package ingest_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"tape"
	"tape/ingest"
)

// Seeds beside the corpora in testdata/fuzz: one realistic message per
// shape, so that the fuzzer starts from the structure it has to break.
var fuzzSeeds = map[string][]string{
	tape.FormatPolygon: {
		`{"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"t":1536036818784}`,
		`[{"ev":"T","sym":"msft","x":4,"i":"12345","z":3,"p":1.14125e2,"s":100.0,"c":[0,12],"t":1536036818784123456},{"ev":"status","status":"connected"}]`,
		`[{"ev":"AM","sym":"\u004dSFT"},1,null,{"ev":"Q","bp":-1}]`,
	},
	tape.FormatAlpaca: {
		`[{"T":"q","S":"AAPL","bx":"V","bp":187.1,"bs":2,"ax":"V","ap":187.2,"as":3,"c":["R"],"t":"2021-02-22T15:51:44.208Z","z":"C"}]`,
		`[{"T":"t","S":"AAPL","i":52983525029461,"x":"V","p":187.14,"s":100,"c":["@"],"t":"2021-02-22T10:51:44.208123456-05:00","z":"C"},{"T":"success","msg":"connected"}]`,
		`{"T":"error","code":406,"msg":"connection limit exceeded"}`,
	},
	tape.FormatFinnhub: {
		`{"data":[{"c":["1","12"],"p":187.14,"s":"AAPL","t":1575526691134,"v":100}],"type":"trade"}`,
		`{"type":"ping"}`,
		`{"type":"trade","data":[{"c":null,"p":7296.89,"s":"BINANCE:BTCUSDT","t":1575526691134,"v":0.011467},1]}`,
	},
	tape.FormatTape: {
		`{"symbol":"AAPL","kind":"quote","bid":"187.42","bid_size":100,"ask":"187.44","ask_size":200,"ts":"2024-01-02T15:04:05.123456789Z"}`,
		`[{"symbol":"brk.b","last":412.5,"size":3,"volume":9,"open":"410","high":"413","low":"409.5","ts":"2024-01-02T10:04:05.5-05:00"},{"symbol":"X","kind":"quote+trade","bid":null}]`,
	},
	tape.FormatFIX: {
		fixMessage("\x01", "35=W", "49=VENUE", "56=TAPE", "34=12", "52=20240102-15:04:05.123", "55=AAPL", "268=3",
			"269=0", "270=187.42", "271=100", "269=1", "270=187.44", "271=200", "269=2", "270=187.43", "271=50", "273=15:04:04.5"),
		fixMessage("|", "35=X", "52=20240102-15:04:05.123", "268=3", "279=0", "269=0", "55=AAPL", "270=187.42", "271=100",
			"279=2", "269=1", "55=AAPL", "270=187.44", "279=0", "269=2", "55=MSFT", "270=411.5", "271=3", "272=20240102", "273=15:04:05"),
		fixMessage("|", "35=0", "52=20240102-15:04:05.123"),
	},
	tape.FormatCSV: {
		"symbol,ts,bid,ask,last,size\r\nAAPL,2024-01-02T15:04:05.123Z,187.42,187.44,187.43,50\r\nmsft,1704207845123,,,411.5,7\r\n",
		"AAPL,1704207845123,187.42,,,\n<b>,x,1,2,3,4,5\n",
	},
}

// fuzzNormalize checks what must hold for any input: no panic, only
// valid events, rejects that carry a tape error code, and the same answer
// every time, whatever dst already holds. extra, if not nil, checks more.
func fuzzNormalize(f *testing.F, name string, extra func(*testing.T, ingest.Format, []tape.Event)) {
	for _, s := range fuzzSeeds[name] {
		f.Add([]byte(s))
	}
	format := mustLookup(f, name)
	f.Fuzz(func(t *testing.T, msg []byte) {
		orig := bytes.Clone(msg)
		events, rejects := format.Normalize(nil, msg)
		if !bytes.Equal(msg, orig) {
			t.Fatal("Normalize modified the message")
		}
		for i := range events {
			e := &events[i]
			if err := e.Validate(); err != nil {
				t.Errorf("event %d does not validate: %v\n%+v", i, err, *e)
			}
			if e.Source != name || e.Origin != "" {
				t.Errorf("event %d: Source %q, Origin %q", i, e.Source, e.Origin)
			}
			var def *tape.Instruments
			if e.Class != def.Class(e.Symbol) || e.Day != def.Day(e.Symbol, e.Time) {
				t.Errorf("event %d: class %q day %s, want %q %s", i, e.Class, e.Day, def.Class(e.Symbol), def.Day(e.Symbol, e.Time))
			}
			if e.Kind&tape.KindTrade != 0 && e.TradeID.IsZero() {
				t.Errorf("event %d: a trade without an identity", i)
			}
		}
		folds := map[tape.Symbol]*tape.Fold{}
		for i := range events {
			f := folds[events[i].Symbol]
			if f == nil {
				f = tape.NewFold(events[i].Symbol)
				folds[events[i].Symbol] = f
			}
			f.Apply(&events[i], tape.NoSeq)
		}
		for _, r := range rejects {
			if code := tape.ErrorCode(r.Err); code == "" || code == tape.ECodeInvalid || r.Index < -1 {
				t.Errorf("reject %+v has no tape error code or a bad index", r)
			}
		}
		prior := []tape.Event{{Symbol: "PRIOR"}}
		again, rejectsAgain := format.Normalize(prior, msg)
		if len(again) == 0 || again[0].Symbol != "PRIOR" {
			t.Fatal("Normalize dropped the events already in dst")
		}
		if !slices.EqualFunc(again[1:], events, sameEvent) || !slices.EqualFunc(rejectsAgain, rejects, sameReject) {
			t.Errorf("Normalize is not deterministic:\n%+v %v\n%+v %v", events, rejects, again[1:], rejectsAgain)
		}
		if extra != nil {
			extra(t, format, events)
		}
	})
}

func sameReject(a, b ingest.Reject) bool {
	return a.Index == b.Index && tape.ErrorCode(a.Err) == tape.ErrorCode(b.Err) && tape.ErrorMessage(a.Err) == tape.ErrorMessage(b.Err)
}

func FuzzNormalizePolygon(f *testing.F) { fuzzNormalize(f, tape.FormatPolygon, nil) }
func FuzzNormalizeAlpaca(f *testing.F)  { fuzzNormalize(f, tape.FormatAlpaca, nil) }
func FuzzNormalizeFinnhub(f *testing.F) { fuzzNormalize(f, tape.FormatFinnhub, nil) }
func FuzzNormalizeFIX(f *testing.F)     { fuzzNormalize(f, tape.FormatFIX, nil) }
func FuzzNormalizeCSV(f *testing.F)     { fuzzNormalize(f, tape.FormatCSV, nil) }

// FuzzNormalizeTape also checks that every event survives the trip through
// tape's own JSON unchanged.
func FuzzNormalizeTape(f *testing.F) {
	fuzzNormalize(f, tape.FormatTape, func(t *testing.T, format ingest.Format, events []tape.Event) {
		for _, e := range events {
			js := e.AppendJSON(nil)
			again, rejects := format.Normalize(nil, js)
			if len(rejects) > 0 || len(again) != 1 || !sameEvent(again[0], e) {
				t.Errorf("round trip of %+v through %s gives %+v %v", e, js, again, rejects)
			}
		}
	})
}

// FuzzSniff checks that Sniff names a registered format or nothing.
func FuzzSniff(f *testing.F) {
	for _, seeds := range fuzzSeeds {
		for _, s := range seeds {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		got := ingest.Sniff(msg)
		if _, ok := ingest.Lookup(got); got != "" && !ok {
			t.Errorf("Sniff = %q, not a format", got)
		}
		if again := ingest.Sniff(msg); again != got {
			t.Errorf("Sniff is not deterministic: %q then %q", got, again)
		}
	})
}

// FuzzTimestamp checks the formats' own RFC 3339 parser against
// time.Parse: it may refuse more, but whatever it accepts must mean the
// same instant.
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{"2021-02-22T15:51:44.208Z", "2021-02-22T10:51:44.208123456-05:00", "2024-02-29T23:59:59+14:00",
		"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59", "2021-02-22T15:51:44,208Z"} {
		f.Add(s)
	}
	format := mustLookup(f, tape.FormatAlpaca)
	f.Fuzz(func(t *testing.T, ts string) {
		if strings.ContainsAny(ts, "\"\\") || strings.ContainsFunc(ts, func(r rune) bool { return r < 0x20 }) {
			return // not what this target is about; it would break the JSON around it
		}
		events, _ := format.Normalize(nil, []byte(`{"T":"t","S":"AAPL","p":1,"t":"`+ts+`"}`))
		if len(events) == 0 {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("%q accepted, but time.Parse says %v", ts, err)
		}
		if !events[0].Time.Equal(want) {
			t.Errorf("%q: got %v, time.Parse gives %v", ts, events[0].Time, want)
		}
	})
}
