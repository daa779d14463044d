package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"tape/replay"
)

const open30m = "../../testdata/feeds/open30m.polygon.jsonl.gz"

func TestScanSpan(t *testing.T) {
	span, err := scanSpan(context.Background(), open30m, "")
	if err != nil {
		t.Fatal(err)
	}
	want := fileSpan{lines: 46289,
		first: time.Date(2026, 11, 20, 14, 30, 0, 23_000_000, time.UTC),
		last:  time.Date(2026, 11, 20, 14, 59, 59, 955_000_000, time.UTC)}
	if span.lines != want.lines || !span.first.Equal(want.first) || !span.last.Equal(want.last) {
		t.Fatalf("span %d lines %s to %s, want %d %s to %s", span.lines, span.first, span.last, want.lines, want.first, want.last)
	}
}

// TestReplayBarIsSmoothAndFitsEightyColumns replays, in reports, a
// 30-minute gzip recording whose bytes arrive in three chunks: the bar
// follows the lines (5 %, 10 %, … not 35.7 %, 71.4 %, 100 %), and at 80
// columns every redraw keeps the percentage, rate and ETA.
func TestReplayBarIsSmoothAndFitsEightyColumns(t *testing.T) {
	span, err := scanSpan(context.Background(), open30m, "")
	if err != nil {
		t.Fatal(err)
	}
	follow := &replayProgress{file: open30m, speed: 50}
	follow.span.Store(&span)
	var out strings.Builder
	bar := &progressBar{w: &out, bar: true, follow: follow, width: func() int { return 80 }}
	for i := 1; i <= 19; i++ {
		line := span.lines * i / 20
		read := int64(math.Ceil(float64(i)/20*3)) * 250_000 // the file's bytes come in 3 chunks
		bar.update(replay.Progress{
			Position: replay.Position{File: open30m, Line: line}, Messages: int64(line),
			Recorded: span.first.Add(time.Duration(i) * 90 * time.Second),
			Read:     read, Size: 733_992, Elapsed: time.Duration(i) * 1800 * time.Millisecond,
		})
	}
	redraws := strings.Split(strings.TrimPrefix(out.String(), "\r"), "\r")
	if len(redraws) != 19 {
		t.Fatalf("%d redraws", len(redraws))
	}
	for i, r := range redraws {
		r = strings.TrimSuffix(r, "\x1b[K")
		if len(r) > 79 {
			t.Errorf("redraw %q is %d columns", r, len(r))
		}
		pct := fmt.Sprintf("%5.1f%%", float64(5*(i+1)))
		// Feed time left over the pace: (30 min - 90 s × (i+1)) / 50.
		eta := "ETA " + (time.Duration(float64(span.last.Sub(span.first.Add(time.Duration(i+1)*90*time.Second))) / 50)).Round(time.Second).String()
		for _, want := range []string{pct, "msg/s", eta} {
			if !strings.Contains(r, want) {
				t.Errorf("redraw %d %q lacks %q", i, r, want)
			}
		}
	}
}

// TestReplayProgressFallsBackToBytes: until the lines are counted (or for
// standard input), the fraction is the bytes read.
func TestReplayProgressFallsBackToBytes(t *testing.T) {
	follow := &replayProgress{file: "-", speed: math.Inf(1)}
	p := replay.Progress{Position: replay.Position{File: "-", Line: 10}, Read: 25, Size: 100, Elapsed: time.Second}
	if f := follow.fraction(p); f != 0.25 {
		t.Errorf("fraction %v", f)
	}
	if left, ok := follow.eta(p); !ok || left != 3*time.Second {
		t.Errorf("eta %v %v", left, ok)
	}
}
