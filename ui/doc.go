// Package ui owns what a browser sees: the Fiber server, the templ pages
// (watchlist, symbol page), the SSE stream and its framing, the JSON API,
// health, readiness and metrics, and the embedded front end. It reads
// quotes through the small Quotes interface, so it does not import the
// stream package; cmd/tape wires them.
//
// A Server is safe for concurrent use. Each SSE stream runs on its own
// goroutine, writing chunked frames straight to the connection it took
// over after the handshake; the stream's heartbeat is the only way a dead
// client is noticed. Feed data reaches HTML only through templ's escaping.
package ui
