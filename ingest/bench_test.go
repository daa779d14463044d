package ingest_test

import (
	"testing"

	"tape"
	"tape/ingest"
)

// Realistic single messages, one per format, as a feed sends them.
var benchMessages = []struct {
	name, format, msg string
}{
	{"PolygonQuote", tape.FormatPolygon, `{"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"z":3,"t":1536036818784}`},
	{"PolygonMixed10", tape.FormatPolygon, `[` +
		`{"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"z":3,"t":1536036818784},` +
		`{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],"t":1536036818784},` +
		`{"ev":"Q","sym":"AAPL","bx":11,"bp":187.41,"bs":2,"ax":12,"ap":187.43,"as":4,"c":1,"z":3,"t":1536036818785},` +
		`{"ev":"T","sym":"AAPL","x":12,"i":"72374","z":3,"p":187.42,"s":50,"c":[14,41],"t":1536036818786},` +
		`{"ev":"Q","sym":"NVDA","bx":4,"bp":131.07,"bs":3,"ax":7,"ap":131.09,"as":1,"c":0,"z":3,"t":1536036818787},` +
		`{"ev":"T","sym":"NVDA","x":4,"i":"52983525029461","z":3,"p":131.08,"s":200,"t":1536036818787},` +
		`{"ev":"Q","sym":"SPY","bx":8,"bp":512.11,"bs":10,"ax":8,"ap":512.12,"as":12,"c":0,"z":2,"t":1536036818788},` +
		`{"ev":"T","sym":"SPY","x":8,"i":"9","z":2,"p":512.115,"s":1000,"c":[37],"t":1536036818789},` +
		`{"ev":"Q","sym":"BRK.B","bx":4,"bp":411.5,"bs":1,"ax":4,"ap":411.62,"as":1,"c":0,"z":1,"t":1536036818790},` +
		`{"ev":"T","sym":"BRK.B","x":4,"i":"77","z":1,"p":411.55,"s":5,"c":[0],"t":1536036818791}]`},
	{"AlpacaQuote", tape.FormatAlpaca, `[{"T":"q","S":"AAPL","bx":"V","bp":187.1,"bs":2,"ax":"V","ap":187.2,"as":3,"c":["R"],"t":"2021-02-22T15:51:44.208Z","z":"C"}]`},
	{"FinnhubTrade", tape.FormatFinnhub, `{"data":[{"c":["1","12"],"p":187.14,"s":"AAPL","t":1575526691134,"v":100}],"type":"trade"}`},
	{"TapeQuote", tape.FormatTape, `{"symbol":"AAPL","kind":"quote","bid":"187.42","bid_size":100,"ask":"187.44","ask_size":200,"ts":"2024-01-02T15:04:05.123456789Z"}`},
	{"FIXSnapshot", tape.FormatFIX, fixMessage("\x01", "35=W", "49=VENUE", "56=TAPE", "34=12", "52=20240102-15:04:05.123", "55=AAPL", "268=2",
		"269=0", "270=187.42", "271=100", "269=1", "270=187.44", "271=200")},
	{"CSVQuote", tape.FormatCSV, "AAPL,2024-01-02T15:04:05.123Z,187.42,187.44,,\n"},
}

func BenchmarkNormalize(b *testing.B) {
	for _, bm := range benchMessages {
		b.Run(bm.name, func(b *testing.B) {
			f, ok := ingest.Lookup(bm.format)
			if !ok {
				b.Fatalf("no format %q", bm.format)
			}
			msg := []byte(bm.msg)
			dst, rejects := f.Normalize(nil, msg)
			if len(rejects) > 0 || len(dst) == 0 {
				b.Fatalf("sample does not normalize: %d events, rejects %v", len(dst), rejects)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				dst, _ = f.Normalize(dst[:0], msg)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
