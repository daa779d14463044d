package feed_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tape/feed"
	"tape/replay"
)

// TestRecordings checks that the bundled recordings are what the generator
// makes today, so a change to the market or an encoder cannot silently
// leave them stale, and that replay tells each file's format from its
// name. testdata/README.md has the commands that regenerate them.
func TestRecordings(t *testing.T) {
	tests := []struct {
		file     string
		format   string
		duration time.Duration
	}{
		{"session.tape.jsonl.gz", feed.FormatTape, 5 * time.Minute},
		{"session.polygon.jsonl.gz", feed.FormatPolygon, 5 * time.Minute},
		{"session.alpaca.jsonl.gz", feed.FormatAlpaca, time.Minute},
		{"session.finnhub.jsonl.gz", feed.FormatFinnhub, time.Minute},
		{"session.fix.txt.gz", feed.FormatFIX, time.Minute},
		{"session.csv.gz", feed.FormatCSV, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if got := replay.FormatOf(tt.file); got != tt.format {
				t.Errorf("replay.FormatOf(%q) = %q, want %q", tt.file, got, tt.format)
			}
			got := readGzip(t, filepath.Join("..", "testdata", "feeds", tt.file))
			cfg := feed.Config{NumSymbols: 8, Rate: 40, Seed: 1, Start: session}
			want := recordSession(t, cfg, tt.format, session.Add(tt.duration))
			if !bytes.Equal(got, want) {
				line := bytes.Count(got[:commonPrefix(got, want)], []byte("\n")) + 1
				t.Fatalf("differs from a fresh session from line %d; regenerate it as testdata/README.md says", line)
			}
		})
	}
}

// recordSession encodes the events before end, one message a line, as
// "tape feed --no-kafka --record" writes them.
func recordSession(tb testing.TB, cfg feed.Config, format string, end time.Time) []byte {
	tb.Helper()
	g := mustGenerator(tb, cfg)
	enc, err := feed.NewEncoder(format)
	if err != nil {
		tb.Fatal(err)
	}
	var out []byte
	for ev := g.Next(); ev.Time.Before(end); ev = g.Next() {
		out, err = enc.Append(out, ev)
		if errors.Is(err, feed.ErrUnsupported) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, '\n')
	}
	return out
}

func readGzip(tb testing.TB, name string) []byte {
	tb.Helper()
	f, err := os.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return b
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
