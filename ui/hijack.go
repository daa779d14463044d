package ui

import (
	"net"

	"github.com/gofiber/fiber/v2"
)

// flushWriter is what a stream loop writes to: Fiber's stream writer
// (HEAD requests, see serveStream).
type flushWriter interface {
	Write(p []byte) (int, error)
	Flush() error
}

// takeOver answers a GET with a chunked event stream written straight to
// the connection by the writer pool (see pool.go): Fiber's stream writer
// would add a goroutine, a pipe and two buffers per connection, and a copy
// and a write system call per chunk. fn gets the connection and the
// response headers set on c so far, which the stream's first write sends;
// it runs after the handler returns and must not touch c.
func takeOver(c *fiber.Ctx, fn func(conn net.Conn, head []byte)) {
	h := &c.Response().Header
	h.SetContentLength(-1) // Transfer-Encoding: chunked
	h.SetConnectionClose() // the stream ends with the connection
	head := append([]byte(nil), h.Header()...)
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
