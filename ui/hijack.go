package ui

import (
	"bytes"
	"net"

	"github.com/gofiber/fiber/v2"
)

// takeOver answers a GET with an event stream written straight to the
// connection by the writer pool (see pool.go): Fiber's stream writer
// would add a goroutine, a pipe and two buffers per connection, and a copy
// and a write system call per chunk. The body is not chunked: it ends
// when the connection closes (RFC 9112 §6.3, a response with neither a
// length nor chunks), for HTTP/1.0 and 1.1 alike. A stream is the
// connection's last response anyway, and chunk framing cost 6 bytes and
// some formatting per write, 5 % of a delta event. fn gets the connection and the response headers
// set on c so far, which the stream's first write sends; it runs after
// the handler returns and must not touch c.
func takeOver(c *fiber.Ctx, fn func(conn net.Conn, head []byte)) {
	h := &c.Response().Header
	h.SetConnectionClose() // the stream ends with the connection
	// -2 is fasthttp's "until close", which it writes as an obsolete
	// Transfer-Encoding: identity that clients need not know.
	h.SetContentLength(-2)
	head := bytes.Replace(h.Header(), []byte("Transfer-Encoding: identity\r\n"), nil, 1)
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(conn net.Conn) {
		// The server sets KeepHijackedConns: the connection stays open when
		// this returns, and fasthttp releases its read buffer.
		if u, ok := conn.(interface{ UnsafeConn() net.Conn }); ok {
			conn = u.UnsafeConn() // the *net.TCPConn, for its descriptor
		}
		fn(conn, head)
	})
}
