package stream_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"tape"
	"tape/stream"
)

// TestMaxRateConflatesEachSymbolToItsLatest: a stream capped at 4 quotes
// per symbol per second, fed 200 a second per symbol, gets no two quotes
// of a symbol closer than 250 ms, and ends with the latest of each.
func TestMaxRateConflatesEachSymbolToItsLatest(t *testing.T) {
	h := newHub(t, stream.Config{StallTimeout: time.Hour})
	syms := []tape.Symbol{"AAA", "BB"}
	sub, err := h.Subscribe(syms, "")
	if err != nil {
		t.Fatal(err)
	}
	const rate = 4
	every := time.Second / rate
	sub.SetMaxRate(rate)
	drain(t, sub) // the snapshot

	type delivery struct {
		before, after time.Time
		value         string
	}
	var (
		mu   sync.Mutex
		got  = map[string][]delivery{}
		wake = make(chan struct{}, 1)
	)
	sub.SetNotify(func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case <-stop:
				return
			case <-wake:
			}
			var buf bytes.Buffer
			before := time.Now()
			sub.WriteTo(&buf)
			after := time.Now()
			mu.Lock()
			for _, ev := range parseEvents(t, buf.Bytes()) {
				if ev.Name != "quote" {
					continue
				}
				v := symbolOf(t, ev)
				sym, _, _ := strings.Cut(v, "@")
				got[sym] = append(got[sym], delivery{before, after, v})
			}
			mu.Unlock()
		}
	}()

	recs := feed(600, "AAA", "BB")
	for _, r := range recs {
		h.Apply(r.p, r.off, r.value, r.off+1)
		time.Sleep(2500 * time.Microsecond)
	}
	want := map[string]string{}
	for _, r := range recs[len(recs)-2:] {
		ev, _ := tape.ParseEvent(r.value)
		want[string(ev.Symbol)] = string(ev.Symbol) + "@" + ev.Bid.String()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		done := true
		for sym, v := range want {
			if d := got[sym]; len(d) == 0 || d[len(d)-1].value != v {
				done = false
			}
		}
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the latest quotes %v never arrived; got %v", want, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	<-writerDone

	mu.Lock()
	defer mu.Unlock()
	for sym, ds := range got {
		// The writer's clock brackets the node's: each release is at
		// least every after the one before it.
		for i := 1; i < len(ds); i++ {
			if gap := ds[i].after.Sub(ds[i-1].before); gap < every {
				t.Errorf("%s: quotes %d and %d sent %v apart, want at least %v", sym, i-1, i, gap, every)
			}
		}
		if len(ds) >= 300 {
			t.Errorf("%s: %d quotes sent of 300: not conflated", sym, len(ds))
		}
	}
	if h.Stats().Conflated.Load() == 0 {
		t.Error("no conflation counted")
	}
}
