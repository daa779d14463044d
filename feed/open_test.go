package feed_test

import (
	"bytes"
	"testing"
	"time"

	"tape"
	"tape/feed"
	"tape/ingest"
)

// TestOpenBurstAndHalt checks what the open30m recordings are meant to
// show: a rush at the open that fades, and a halted symbol that goes
// quiet and reopens with a quote.
func TestOpenBurstAndHalt(t *testing.T) {
	g := mustGenerator(t, open30m)
	halt := open30m.Halts[0]
	perMinute := map[int]int{}
	symbols := map[tape.Symbol]bool{}
	var afterHalt *tape.Event
	for ev := g.Next(); ev.Time.Before(session.Add(30 * time.Minute)); ev = g.Next() {
		perMinute[int(ev.Time.Sub(session)/time.Minute)]++
		symbols[ev.Symbol] = true
		if ev.Symbol != tape.Symbol(halt.Symbol) {
			continue
		}
		if !ev.Time.Before(halt.From) && ev.Time.Before(halt.To) {
			t.Fatalf("%s event during its halt: %+v", halt.Symbol, ev)
		}
		if afterHalt == nil && !ev.Time.Before(halt.To) {
			afterHalt = &ev
		}
	}
	if len(symbols) != 60 {
		t.Errorf("%d symbols traded, want 60", len(symbols))
	}
	if afterHalt == nil || afterHalt.Kind != tape.KindQuote {
		t.Errorf("first %s event after the halt: %+v, want a quote", halt.Symbol, afterHalt)
	}
	if first, later := perMinute[0], perMinute[20]; float64(first) < 2.5*float64(later) {
		t.Errorf("events in the first minute %d, in minute 20 %d: want a burst at the open", first, later)
	}
}

// TestMalformedAreRejected checks that every message feed.Malform damages
// is one the ingest package rejects, in every format.
func TestMalformedAreRejected(t *testing.T) {
	for _, format := range feed.Formats() {
		t.Run(format, func(t *testing.T) {
			reader, _ := ingest.Lookup(format)
			lines := bytes.Split(recordSession(t, open30m, format, session.Add(5*time.Minute), 97), []byte("\n"))
			bad := 0
			for i, line := range lines[:len(lines)-1] {
				evs, rejects := reader.Normalize(nil, line)
				valid := len(rejects) == 0 && len(evs) == 1
				if wantValid := (i+1)%97 != 0; valid != wantValid {
					t.Fatalf("line %d %q: valid %v, want %v", i+1, line, valid, wantValid)
				}
				if !valid {
					bad++
				}
			}
			if bad == 0 {
				t.Fatal("no malformed lines")
			}
			t.Logf("%d of %d lines malformed", bad, len(lines)-1)
		})
	}
}
