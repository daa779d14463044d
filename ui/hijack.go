package ui

import (
	"bytes"
	"net"

	"github.com/gofiber/fiber/v2"
)

// takeOver answers a GET with an event stream written straight to the
// connection by the writer pool (see pool.go): Fiber's stream writer
// would add a goroutine, a pipe and two buffers per connection, and a copy
// and a write system call per chunk. The body is chunked for HTTP/1.1;
// an HTTP/1.0 client, which knows no chunks, gets a body that ends when
// the connection closes. fn gets the connection and the response headers
// set on c so far, which the stream's first write sends; it runs after
// the handler returns and must not touch c.
func takeOver(c *fiber.Ctx, chunked bool, fn func(conn net.Conn, head []byte)) {
	h := &c.Response().Header
	h.SetConnectionClose() // the stream ends with the connection
	var head []byte
	if chunked {
		h.SetContentLength(-1) // Transfer-Encoding: chunked
		head = append([]byte(nil), h.Header()...)
	} else {
		// -2 is fasthttp's "until close", which it writes as an obsolete
		// Transfer-Encoding: identity that HTTP/1.0 does not know.
		h.SetContentLength(-2)
		head = bytes.Replace(h.Header(), []byte("Transfer-Encoding: identity\r\n"), nil, 1)
	}
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

// chunkRoom is the space kept in front of a chunk for its size line: up
// to eight hex digits and CRLF.
const chunkRoom = 10
