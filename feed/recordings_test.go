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

	"tape"
	"tape/feed"
	"tape/replay"
)

// TestRecordings checks that the bundled recordings are what the generator
// makes today, so a change to the market or an encoder cannot silently
// leave them stale, and that replay tells each file's format from its
// name. testdata/README.md has the commands that regenerate them.
func TestRecordings(t *testing.T) {
	small := feed.Config{NumSymbols: 8, Rate: 40, Seed: 1, Start: session}
	tests := []struct {
		file     string
		format   string
		duration time.Duration
		cfg      feed.Config
		malform  int
	}{
		{"session.tape.jsonl.gz", tape.FormatTape, 5 * time.Minute, small, 0},
		{"session.polygon.jsonl.gz", tape.FormatPolygon, 5 * time.Minute, small, 0},
		{"session.alpaca.jsonl.gz", tape.FormatAlpaca, time.Minute, small, 0},
		{"session.finnhub.jsonl.gz", tape.FormatFinnhub, time.Minute, small, 0},
		{"session.fix.txt.gz", tape.FormatFIX, time.Minute, small, 0},
		{"session.csv.gz", tape.FormatCSV, time.Minute, small, 0},
		{"open30m.tape.jsonl.gz", tape.FormatTape, 30 * time.Minute, open30m, open30mMalformEvery},
		{"open30m.polygon.jsonl.gz", tape.FormatPolygon, 30 * time.Minute, open30m, open30mMalformEvery},
		{"open30m.alpaca.jsonl.gz", tape.FormatAlpaca, 30 * time.Minute, open30m, open30mMalformEvery},
		{"open30m.finnhub.jsonl.gz", tape.FormatFinnhub, 30 * time.Minute, open30m, open30mMalformEvery},
		{"open30m.fix.txt.gz", tape.FormatFIX, 30 * time.Minute, open30m, open30mMalformEvery},
		{"open30m.csv.gz", tape.FormatCSV, 30 * time.Minute, open30m, open30mMalformEvery},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if got := replay.FormatOf(tt.file); got != tt.format {
				t.Errorf("replay.FormatOf(%q) = %q, want %q", tt.file, got, tt.format)
			}
			got := readGzip(t, filepath.Join("..", "testdata", "feeds", tt.file))
			want := recordSession(t, tt.cfg, tt.format, session.Add(tt.duration), tt.malform)
			if !bytes.Equal(got, want) {
				line := bytes.Count(got[:commonPrefix(got, want)], []byte("\n")) + 1
				t.Fatalf("differs from a fresh session from line %d; regenerate it as testdata/README.md says", line)
			}
		})
	}
}

// open30m is the market of the open30m.* recordings: the first half hour
// after the open, with its burst and a halt (testdata/README.md).
var open30m = feed.Config{NumSymbols: 60, Rate: 20, Seed: 7, Start: session, OpenBurst: 4, BurstDecay: 3 * time.Minute,
	Halts: []feed.Halt{{Symbol: "GME", From: session.Add(12 * time.Minute), To: session.Add(17 * time.Minute)}}}

// open30mMalformEvery is --malformed-every of the open30m.* recordings.
const open30mMalformEvery = 4999

// recordSession encodes the events before end, one message a line, as
// "tape feed --no-kafka --record" writes them, damaging every
// malformEvery-th message (if not 0) with feed.Malform.
func recordSession(tb testing.TB, cfg feed.Config, format string, end time.Time, malformEvery int) []byte {
	tb.Helper()
	g := mustGenerator(tb, cfg)
	enc, err := feed.NewEncoder(format)
	if err != nil {
		tb.Fatal(err)
	}
	var out, msg []byte
	n := 0
	for ev := g.Next(); ev.Time.Before(end); ev = g.Next() {
		msg, err = enc.Append(msg[:0], ev)
		if errors.Is(err, feed.ErrUnsupported) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		if n++; malformEvery > 0 && n%malformEvery == 0 {
			msg = feed.Malform(msg, n/malformEvery)
		}
		out = append(append(out, msg...), '\n')
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
