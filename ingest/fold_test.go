package ingest_test

import (
	"testing"

	"tape"
	"tape/ingest"
)

// TestMarkerIsNoQuote checks that a web node reading the latest topic
// skips the fold's marker record.
func TestMarkerIsNoQuote(t *testing.T) {
	if _, err := tape.ParseSymbolString(tape.LatestMarkerKey); err == nil {
		t.Fatalf("marker key %q is a valid symbol", tape.LatestMarkerKey)
	}
	v := ingest.MarkerValue("feeds.events", 3, 1207, 6)
	if q, err := tape.ParseCheckpointQuote(v); err == nil {
		t.Fatalf("marker %s reads as quote %+v", v, q)
	}
	if string(v) != `{"topic":"feeds.events","partition":3,"next":1207,"partitions":6}` {
		t.Fatalf("marker %s", v)
	}
}
