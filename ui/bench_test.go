package ui_test

import (
	"testing"

	"tape"
	"tape/ui"
)

// BenchmarkSSEFraming frames one quote event, as the hub does once per
// event for all subscribers.
//
//	go test -run '^$' -bench SSEFraming -benchmem ./ui
func BenchmarkSSEFraming(b *testing.B) {
	q := tape.Quote{Symbol: "AAPL", Bid: tape.MustPrice("187.42"), Ask: tape.MustPrice("187.44"),
		BidSize: 100, AskSize: 300, Last: tape.MustPrice("187.43"), LastSize: 10, Volume: 1_234_567}
	data := q.AppendJSON(nil)
	id := []byte("1AAAAKgAAAAYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"quote", data},
		{"multiline", []byte("line one\r\nline two\rline three\nline four")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var dst []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for range b.N {
				dst = ui.SSE{}.AppendEvent(dst[:0], "quote", id, bc.data)
			}
		})
	}
}
