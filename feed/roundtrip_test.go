package feed_test

import (
	"errors"
	"testing"
	"time"

	"tape"
	"tape/feed"
	"tape/ingest"
)

// TestIngestReadsWhatFeedWrites feeds every format through the ingest
// package's reader for it: the same symbols, prices and sizes must come
// out, at the format's time resolution.
func TestIngestReadsWhatFeedWrites(t *testing.T) {
	for _, format := range feed.Formats() {
		t.Run(format, func(t *testing.T) {
			reader, ok := ingest.Lookup(format)
			if !ok {
				t.Fatalf("ingest has no format %q", format)
			}
			enc, err := feed.NewEncoder(format)
			if err != nil {
				t.Fatal(err)
			}
			resolution := time.Nanosecond
			switch format {
			case tape.FormatPolygon, tape.FormatFinnhub, tape.FormatFIX:
				resolution = time.Millisecond
			}
			g := mustGenerator(t, feed.Config{Seed: 1, NumSymbols: 60, Start: session})
			for i := range 3000 {
				ev := g.Next()
				msg, err := enc.Append(nil, ev)
				if errors.Is(err, feed.ErrUnsupported) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				got, rejects := reader.Normalize(nil, msg)
				if len(rejects) > 0 || len(got) != 1 {
					t.Fatalf("event %d: %s: events %+v, rejects %+v", i, msg, got, rejects)
				}
				want := ev
				want.Time = ev.Time.Truncate(resolution)
				if format == tape.FormatCSV {
					want.BidSize, want.AskSize = 0, 0 // CSV has no quote sizes
				}
				r := got[0]
				if r.Symbol != want.Symbol || r.Kind != want.Kind || r.Bid != want.Bid || r.Ask != want.Ask ||
					r.BidSize != want.BidSize || r.AskSize != want.AskSize || r.Last != want.Last ||
					r.Size != want.Size || !r.Time.Equal(want.Time) {
					t.Fatalf("event %d: %s\nread  %+v\nwrote %+v", i, msg, r, want)
				}
			}
		})
	}
}
