// Package ui owns what a browser sees: the Fiber server, the templ pages
// (watchlist, symbol page), the SSE stream and its framing, the JSON API,
// health, readiness and metrics, and the embedded front end. It reads
// quotes through the small Quotes interface, so it does not import the
// stream package; cmd/tape wires them.
//
// A Server is safe for concurrent use. SSE streams own no goroutine: the
// connection is taken over after the handshake and the server's pool of
// writer goroutines, shared by every stream, writes each stream's waiting frames
// as one chunk when the hub signals it; a stream whose socket is full is
// handed to a goroutine of its own until it drains. One ticker sends
// heartbeats to idle streams, which is how a dead client is noticed. Feed
// data reaches HTML only through templ's escaping.
package ui
