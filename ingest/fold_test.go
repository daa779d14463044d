package ingest_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"tape"
	"tape/ingest"
)

func foldTrade(sym string, raw, offset int, price string, size int64, at time.Time) tape.Event {
	return tape.Event{
		Symbol: tape.Symbol(sym), Kind: tape.KindTrade, Last: tape.MustPrice(price), Size: size, Time: at,
		Source: "polygon", Origin: string(tape.AppendOrigin(nil, "feeds.raw", raw, int64(offset), 0)),
	}
}

// TestFolderSumsSizesOnceAndCheckpointsExactly folds trades from two raw
// partitions, with repeats, checkpoints, restores and goes on: volume is
// the sum of the sizes of distinct trades throughout.
func TestFolderSumsSizesOnceAndCheckpointsExactly(t *testing.T) {
	day := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	f := ingest.NewFolder("VOL")
	steps := []struct {
		ev      tape.Event
		applied bool
		volume  int64
	}{
		{foldTrade("VOL", 0, 10, "10.00", 100, day), true, 100},
		{foldTrade("VOL", 1, 5, "10.50", 20, day.Add(time.Second)), true, 120},
		{foldTrade("VOL", 0, 10, "10.00", 100, day), false, 120}, // a repeat after a normaliser crash
		{foldTrade("VOL", 0, 11, "9.50", 3, day.Add(2*time.Second)), true, 123},
		{foldTrade("VOL", 1, 4, "10.40", 7, day), false, 123}, // older than what partition 1 gave
	}
	for i, s := range steps {
		ev := s.ev
		if got := f.Apply(&ev); got != s.applied {
			t.Fatalf("step %d: Apply = %v, want %v", i, got, s.applied)
		}
		if q := f.Quote(); q.Volume != s.volume {
			t.Fatalf("step %d: volume %d, want %d", i, q.Volume, s.volume)
		}
	}
	cp := ingest.CheckpointRecord(f, 3, 41)
	q, err := tape.ParseQuote(cp)
	if err != nil {
		t.Fatalf("a checkpoint must read as a quote (web nodes seed from it): %v\n%s", err, cp)
	}
	if want := f.Quote(); q.Volume != 123 || q.High != tape.MustPrice("10.50") || q.Low != tape.MustPrice("9.50") || q.Last != want.Last || q.Origin != want.Origin {
		t.Fatalf("checkpoint reads as %+v, want %+v", q, want)
	}
	var seq struct{ Seq string }
	json.Unmarshal(cp, &seq)
	if p, off, ok := ingest.ParseSeq(seq.Seq); !ok || p != 3 || off != 41 {
		t.Fatalf("checkpoint seq %q, want 3/41", seq.Seq)
	}
	r, err := ingest.RestoreFolder(cp)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []struct {
		ev      tape.Event
		applied bool
		volume  int64
	}{
		{foldTrade("VOL", 0, 11, "9.50", 3, day.Add(2*time.Second)), false, 123}, // refolded after the restore
		{foldTrade("VOL", 1, 6, "10.60", 1000, day.Add(3*time.Second)), true, 1123},
	} {
		ev := s.ev
		if got := r.Apply(&ev); got != s.applied || r.Quote().Volume != s.volume {
			t.Fatalf("after restore, step %d: Apply = %v volume %d, want %v %d", i, got, r.Quote().Volume, s.applied, s.volume)
		}
	}
}

func TestQuoteRecordCarriesKindAndSeq(t *testing.T) {
	q := tape.Quote{Symbol: "AAPL", Bid: tape.MustPrice("187.42"), Ask: tape.MustPrice("187.44"), Last: tape.MustPrice("187.43"),
		LastSize: 100, Volume: 125000, Time: time.Date(2026, 11, 20, 14, 30, 1, 123000000, time.UTC), Source: "polygon", Origin: "feeds.raw/2/1207/0"}
	rec := ingest.QuoteRecord(&q, tape.KindTrade, 3, 1207)
	var got struct {
		Symbol, Kind, Seq, Origin string
		Volume                    int64
	}
	if err := json.Unmarshal(rec, &got); err != nil {
		t.Fatalf("%s: %v", rec, err)
	}
	if got.Symbol != "AAPL" || got.Kind != "trade" || got.Seq != "3/1207" || got.Volume != 125000 || got.Origin != q.Origin {
		t.Fatalf("record %s", rec)
	}
	// Web nodes that still read quotes as events see the folded values.
	ev, err := tape.ParseEvent(rec)
	if err != nil || ev.Kind != tape.KindTrade || ev.Volume != 125000 || ev.Last != q.Last {
		t.Fatalf("ParseEvent(%s) = %+v, %v", rec, ev, err)
	}
}

func TestSeq(t *testing.T) {
	for _, tc := range []struct {
		in  string
		p   int
		off int64
		ok  bool
	}{
		{"3/1207", 3, 1207, true},
		{"0/0", 0, 0, true},
		{string(ingest.AppendSeq(nil, 11, 1<<40)), 11, 1 << 40, true},
		{"", 0, 0, false},
		{"3", 0, 0, false},
		{"3/", 0, 0, false},
		{"/5", 0, 0, false},
		{"-1/5", 0, 0, false},
		{"1/-5", 0, 0, false},
		{"1/5/7", 0, 0, false},
		{"x/5", 0, 0, false},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			p, off, ok := ingest.ParseSeq(tc.in)
			if ok != tc.ok || ok && (p != tc.p || off != tc.off) {
				t.Errorf("ParseSeq(%q) = %d, %d, %v; want %d, %d, %v", tc.in, p, off, ok, tc.p, tc.off, tc.ok)
			}
		})
	}
}

// TestMarkerIsNoQuote checks that a web node reading the latest topic
// skips the fold's marker record.
func TestMarkerIsNoQuote(t *testing.T) {
	if _, err := tape.ParseSymbolString(tape.LatestMarkerKey); err == nil {
		t.Fatalf("marker key %q is a valid symbol", tape.LatestMarkerKey)
	}
	v := ingest.MarkerValue("feeds.events", 3, 1207)
	if q, err := tape.ParseQuote(v); err == nil {
		t.Fatalf("marker %s reads as quote %+v", v, q)
	}
	if string(v) != `{"topic":"feeds.events","partition":3,"next":1207}` {
		t.Fatalf("marker %s", v)
	}
}
