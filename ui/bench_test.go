package ui_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
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

// BenchmarkAPIQuotes requests /api/quotes for two symbols over loopback
// HTTP with keep-alive: the cost of a request, including copying what
// Fiber hands out (the server runs with Immutable).
//
//	go test -run '^$' -bench APIQuotes -benchmem ./ui
func BenchmarkAPIQuotes(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := ui.New(ui.Config{}, newFake())
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	req := []byte("GET /api/quotes?symbols=AAPL,MSFT HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}
