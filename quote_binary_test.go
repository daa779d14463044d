package tape_test

import (
	"testing"
	"time"

	"tape"
)

// TestBinaryQuoteGivesBackTheSameJSON: the binary form a node keeps in
// its history writes the very JSON the quote had, for ordinary and edge
// values, and is a fraction of its size.
func TestBinaryQuoteGivesBackTheSameJSON(t *testing.T) {
	full, err := tape.ParseQuote(benchQuote)
	if err != nil {
		t.Fatal(err)
	}
	late := full
	late.Print.Counts = tape.UpdatesVolume // a late report: volume only
	far := full
	far.Time, far.Print.Time = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)
	negative := tape.Quote{Symbol: "CL", Kind: tape.KindTrade, Last: tape.MustPrice("-37.63"), Low: tape.MustPrice("-40.32"),
		Time: time.Unix(1587400000, 0), Seq: tape.NoSeq, Source: "a \"quoted\" vendor"}
	for name, q := range map[string]tape.Quote{
		"full": full, "late report": late, "far times": far, "negative prices": negative,
		"bare": {Symbol: "X", Seq: tape.NoSeq},
	} {
		bin, _ := q.AppendBinary(nil)
		var got tape.Quote
		if err := got.UnmarshalBinary(bin); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if g, w := got.AppendJSON(nil), q.AppendJSON(nil); string(g) != string(w) {
			t.Errorf("%s:\n got %s\nwant %s", name, g, w)
		}
		if name == "full" && 3*len(bin) > len(q.AppendJSON(nil)) {
			t.Errorf("binary form %d bytes for %d of JSON", len(bin), len(q.AppendJSON(nil)))
		}
		for cut := range bin {
			if err := new(tape.Quote).UnmarshalBinary(bin[:cut]); err == nil {
				t.Fatalf("%s: truncated to %d of %d bytes, accepted", name, cut, len(bin))
			}
		}
	}
}
