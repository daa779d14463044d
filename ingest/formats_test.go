package ingest_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tape"
	"tape/ingest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// normalizeCase is one message and what Normalize must make of it.
type normalizeCase struct {
	name    string
	msg     string
	want    []tape.Event
	rejects []wantReject
}

type wantReject struct {
	index int
	code  string
}

func mustLookup(tb testing.TB, name string) ingest.Format {
	tb.Helper()
	f, ok := ingest.Lookup(name)
	if !ok {
		tb.Fatalf("Lookup(%q) found nothing", name)
	}
	return f
}

// runNormalizeCases checks each case twice: into a nil dst, and appended
// to events already in dst, which must be left alone.
func runNormalizeCases(t *testing.T, format string, cases []normalizeCase) {
	t.Helper()
	f := mustLookup(t, format)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, rejects := f.Normalize(nil, []byte(tc.msg))
			checkEvents(t, got, tc.want)
			checkRejects(t, rejects, tc.rejects)

			prior := tape.Event{Symbol: "PRIOR", Kind: tape.KindTrade, Last: 1, Size: 1, Time: time.Unix(1, 0)}
			got, _ = f.Normalize([]tape.Event{prior}, []byte(tc.msg))
			if len(got) == 0 || got[0] != prior {
				t.Fatalf("Normalize changed the events already in dst: %+v", got)
			}
			checkEvents(t, got[1:], tc.want)
			for i := range got[1:] {
				if err := got[1+i].Validate(); err != nil {
					t.Errorf("event %d does not validate: %v", i, err)
				}
				if got[1+i].Source != format || got[1+i].Origin != "" {
					t.Errorf("event %d: Source %q, Origin %q; want %q and none", i, got[1+i].Source, got[1+i].Origin, format)
				}
			}
		})
	}
}

// checkEvents compares events with what a case wants. A want that leaves
// Class, Day or TradeID zero does not check them: every format sets them,
// and TestInstrumentsAndDays and TestTradeIDs check them on their own.
func checkEvents(t *testing.T, got, want []tape.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\ngot  %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		g := got[i]
		if want[i].Class == tape.ClassNone {
			g.Class = tape.ClassNone
		}
		if want[i].Day == 0 {
			g.Day = 0
		}
		if want[i].TradeID.IsZero() {
			g.TradeID = tape.TradeID{}
		}
		if !sameEvent(g, want[i]) {
			t.Errorf("event %d:\ngot  %s\nwant %s", i, g.AppendJSON(nil), want[i].AppendJSON(nil))
		}
	}
}

func sameEvent(a, b tape.Event) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return a == b
}

func checkRejects(t *testing.T, got []ingest.Reject, want []wantReject) {
	t.Helper()
	var g []wantReject
	for _, r := range got {
		g = append(g, wantReject{r.Index, tape.ErrorCode(r.Err)})
	}
	if !slices.Equal(g, want) {
		t.Errorf("rejects %v (%v), want %v", g, got, want)
	}
}

// quote is a quote of the whole top of book, as most formats send; sizes
// are whole units.
func quote(src, sym, bid, ask string, bidSize, askSize int64, t time.Time) tape.Event {
	return tape.Event{Symbol: tape.Symbol(sym), Kind: tape.KindQuote, Sides: tape.BothSides, Bid: price(bid), Ask: price(ask),
		BidSize: units(bidSize), AskSize: units(askSize), Time: t, Source: src}
}

func trade(src, sym, last string, size int64, t time.Time) tape.Event {
	return tape.Event{Symbol: tape.Symbol(sym), Kind: tape.KindTrade, Last: price(last), Size: units(size), Time: t, Source: src}
}

// units is n whole units as a Size.
func units(n int64) tape.Size {
	s, err := tape.SizeFromInt(n, 0)
	if err != nil {
		panic(err)
	}
	return s
}

// price is tape.MustPrice with "" for no price.
func price(s string) tape.Price {
	if s == "" {
		return 0
	}
	return tape.MustPrice(s)
}

func rejects(index int, code string) []wantReject { return []wantReject{{index, code}} }

// nested returns n opening brackets and n closing ones.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestFormats(t *testing.T) {
	want := []string{"alpaca", "csv", "finnhub", "fix", "polygon", "tape"}
	if got := ingest.Formats(); !slices.Equal(got, want) {
		t.Fatalf("Formats() = %v, want %v", got, want)
	}
	for _, name := range want {
		if f := mustLookup(t, name); f.Name() != name {
			t.Errorf("Lookup(%q).Name() = %q", name, f.Name())
		}
	}
	for _, name := range []string{"", "Polygon", "json", "nasdaq"} {
		if _, ok := ingest.Lookup(name); ok {
			t.Errorf("Lookup(%q) found a format", name)
		}
	}
	ingest.Formats()[0] = "changed"
	if ingest.Formats()[0] != "alpaca" {
		t.Error("Formats returns its internal slice")
	}
}

func TestTooBig(t *testing.T) {
	for _, name := range ingest.Formats() {
		t.Run(name, func(t *testing.T) {
			msg := bytes.Repeat([]byte(" "), ingest.MaxMessageBytes+1)
			events, rejects := mustLookup(t, name).Normalize(nil, msg)
			if len(events) != 0 {
				t.Errorf("got %d events", len(events))
			}
			checkRejects(t, rejects, []wantReject{{-1, tape.ECodeTooBig}})
		})
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		name, msg, want string
	}{
		{"polygon object", `{"ev":"Q","sym":"MSFT","bp":114.125,"ap":114.128,"t":1536036818784}`, "polygon"},
		{"polygon array", `[{"ev":"T","sym":"MSFT","p":114.125,"s":100,"t":1536036818784}]`, "polygon"},
		{"polygon status", `[{"ev":"status","status":"connected","message":"Connected Successfully"}]`, "polygon"},
		{"alpaca array", `[{"T":"q","S":"AAPL","bp":187.1,"ap":187.2,"t":"2021-02-22T15:51:44.208Z"}]`, "alpaca"},
		{"alpaca control", `[{"T":"success","msg":"connected"}]`, "alpaca"},
		{"finnhub data first", `{"data":[{"p":187.14,"s":"AAPL","t":1575526691134,"v":100}],"type":"trade"}`, "finnhub"},
		{"finnhub ping", `{"type":"ping"}`, "finnhub"},
		{"tape", `{"symbol":"AAPL","bid":"187.42","ask":"187.44","ts":"2024-01-02T15:04:05Z"}`, "tape"},
		{"tape symbol T is a value, not a key", `[{"symbol":"T","last":"17.01","ts":"2024-01-02T15:04:05Z"}]`, "tape"},
		{"leading white space and BOM", "\xef\xbb\xbf \r\n\t{\"ev\":\"Q\"}", "polygon"},
		{"decided before truncation", `{"ev":"Q","sym":"MS`, "polygon"},
		{"fix with SOH", "8=FIX.4.4\x019=5\x0135=0\x0110=000\x01", "fix"},
		{"fix with pipes", "8=FIX.4.4|9=5|35=0|10=000|", "fix"},
		{"csv line", "AAPL,2024-01-02T15:04:05Z,187.42,187.44,,\n", "csv"},
		{"csv unix ms", "aapl,1704207845000,,,187.43,100", "csv"},
		{"csv header", "symbol,ts,bid,ask,last,size\r\nAAPL,1704207845000,187.42,187.44,,\r\n", "csv"},
		{"empty", "", ""},
		{"white space", " \n\t", ""},
		{"prose", "hello, world", ""},
		{"json without telling keys", `{"foo":1,"bar":[1,2]}`, ""},
		{"json scalar", `"ev"`, ""},
		{"truncated before a key", `{"e`, ""},
		{"csv-ish but symbol is not", "<b>,2024,1,2", ""},
		{"deep nesting", nested(100000), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ingest.Sniff([]byte(tc.msg)); got != tc.want {
				t.Errorf("Sniff(%.40q) = %q, want %q", tc.msg, got, tc.want)
			}
		})
	}
}

// TestSniffSamples checks that each benchmark sample sniffs as its own
// format, so that a feed without the header still lands right.
func TestSniffSamples(t *testing.T) {
	for _, s := range benchMessages {
		if got := ingest.Sniff([]byte(s.msg)); got != s.format {
			t.Errorf("%s: Sniff = %q, want %q", s.name, got, s.format)
		}
	}
}

// TestGolden normalises each testdata/golden/<format>.*.in file, one
// message per line (FIX with '|'; CSV whole), and compares the events as
// tape writes them, and the rejects, with the .golden file beside it. Run
// with -update to rewrite the golden files after checking the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*.in"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in")
		t.Run(name, func(t *testing.T) {
			format, _, _ := strings.Cut(name, ".")
			f := mustLookup(t, format)
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			msgs := bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n"))
			if format == tape.FormatCSV {
				msgs = [][]byte{raw}
			}
			var out bytes.Buffer
			for i, msg := range msgs {
				events, rejects := f.Normalize(nil, msg)
				fmt.Fprintf(&out, "# message %d\n", i)
				for _, e := range events {
					out.Write(e.AppendJSON(nil))
					out.WriteByte('\n')
				}
				for _, r := range rejects {
					fmt.Fprintf(&out, "reject %d %s: %s\n", r.Index, tape.ErrorCode(r.Err), tape.ErrorMessage(r.Err))
				}
			}
			golden := strings.TrimSuffix(in, ".in") + ".golden"
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from %s:\n%s", golden, out.Bytes())
			}
		})
	}
}
