package stream_test

import (
	"bytes"
	"testing"

	"tape"
	"tape/stream"
)

// TestNotifyOncePerTransition: a writer pool is told once that a stream
// has something waiting, however many events arrive before it writes, and
// told again for events after that; and when the stream ends.
func TestNotifyOncePerTransition(t *testing.T) {
	h := newHub(t, stream.Config{})
	recs := feed(20, "AAA", "BB")
	sub, err := h.Subscribe([]tape.Symbol{"AAA", "BB"}, "")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	sub.SetNotify(func() { calls++ })
	if calls != 1 {
		t.Fatalf("%d calls for the waiting snapshot, want 1", calls)
	}
	apply(h, recs[:10])
	if calls != 1 {
		t.Fatalf("%d calls before the writer drained, want 1", calls)
	}
	var buf bytes.Buffer
	if _, err := sub.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if evs := parseEvents(t, buf.Bytes()); len(evs) != 11 {
		t.Fatalf("%d events, want the snapshot and 10 quotes", len(evs))
	}
	apply(h, recs[10:])
	if calls != 2 {
		t.Fatalf("%d calls after new events, want 2", calls)
	}
	buf.Reset()
	sub.WriteTo(&buf)
	h.Close()
	if calls != 3 {
		t.Fatalf("%d calls after the hub closed, want 3", calls)
	}
	if _, err := sub.WriteTo(&buf); err != stream.ErrClosed {
		t.Fatalf("WriteTo after close: %v, want ErrClosed", err)
	}
}

// TestApplyBatchNotifiesOnceAfterTheBatch: records applied together reach
// a writer as one notification, made after the last record is queued.
func TestApplyBatchNotifiesOnceAfterTheBatch(t *testing.T) {
	h := newHub(t, stream.Config{})
	recs := feed(9, "AAA") // partition 0
	sub, err := h.Subscribe([]tape.Symbol{"AAA"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sub.WriteTo(&buf) // the snapshot
	var waitingAtCall []int
	sub.SetNotify(func() {
		var b bytes.Buffer
		sub.WriteTo(&b) // a writer would, later; here it counts what waits
		waitingAtCall = append(waitingAtCall, len(parseEvents(t, b.Bytes())))
	})
	batch := make([]stream.Record, len(recs))
	for i, r := range recs {
		batch[i] = stream.Record{Offset: r.off, Value: r.value, HighWater: r.off + 1}
	}
	h.ApplyBatch(0, batch)
	if len(waitingAtCall) != 1 || waitingAtCall[0] != len(recs) {
		t.Fatalf("notifications saw %v events waiting, want one with all %d", waitingAtCall, len(recs))
	}
	sub.SetNotify(func() {}) // the counting writer above must not run inside Close
}
