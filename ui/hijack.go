package ui

import (
	"bufio"
	"io"
	"net"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// flushWriter is what a stream loop writes to: Fiber's stream writer, or
// the connection it took over (connWriter).
type flushWriter interface {
	io.Writer
	Flush() error
}

// hijackStream answers the request with a chunked event stream written by
// fn on its own goroutine, straight to the connection: Fiber's stream
// writer would add a second goroutine, a pipe and two buffers per
// connection, and a copy and a write system call per chunk. The response
// headers set on c so far are sent with the first flush. fn must not touch c.
func hijackStream(c *fiber.Ctx, fn func(w flushWriter)) {
	if c.Method() != fiber.MethodGet { // HEAD: let Fiber skip the body
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) { fn(w) })
		return
	}
	h := &c.Response().Header
	h.SetContentLength(-1) // Transfer-Encoding: chunked
	h.SetConnectionClose() // the stream ends with the connection
	head := append([]byte(nil), h.Header()...)
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(conn net.Conn) {
		// fasthttp keeps the connection's read buffer until this returns
		// (the server sets KeepHijackedConns), so the stream runs elsewhere.
		if u, ok := conn.(interface{ UnsafeConn() net.Conn }); ok {
			conn = u.UnsafeConn() // the *net.TCPConn, for writev
		}
		go func() {
			w := &connWriter{conn: conn, head: head}
			defer w.end()
			fn(w)
		}()
	})
}

// chunkRoom is the space kept in front of a chunk for its size line: up
// to eight hex digits and CRLF.
const chunkRoom = 10

// maxPooledChunk bounds the buffers kept for reuse; a slow client's
// rare big flush should not pin memory.
const maxPooledChunk = 64 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// connWriter writes an HTTP/1.1 chunked body to a connection: Write
// gathers, Flush sends it as one chunk in one system call. An idle stream
// holds no buffer. Not safe for concurrent use.
type connWriter struct {
	conn net.Conn
	head []byte  // response headers, until the first flush
	buf  *[]byte // the chunk being gathered, from chunkPool; nil when idle
	err  error
}

func (w *connWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.buf == nil {
		w.buf = chunkPool.Get().(*[]byte)
		*w.buf = append((*w.buf)[:0], make([]byte, chunkRoom)...)
	}
	*w.buf = append(*w.buf, p...)
	return len(p), nil
}

func (w *connWriter) Flush() error {
	if w.err != nil || w.buf == nil {
		return w.err
	}
	b := *w.buf
	size := len(b) - chunkRoom
	var line [chunkRoom]byte
	n := len(line) - 2
	line[n], line[n+1] = '\r', '\n'
	for v := size; ; v >>= 4 {
		n--
		line[n] = "0123456789abcdef"[v&0xf]
		if v < 16 {
			break
		}
	}
	start := n // the size line ends where the data begins
	copy(b[start:], line[n:])
	b = append(b, '\r', '\n')
	if w.head != nil {
		bufs := net.Buffers{w.head, b[start:]}
		_, w.err = bufs.WriteTo(w.conn)
		w.head = nil
	} else {
		_, w.err = w.conn.Write(b[start:])
	}
	if cap(b) <= maxPooledChunk {
		*w.buf = b[:0]
		chunkPool.Put(w.buf)
	}
	w.buf = nil
	return w.err
}

// end sends the last chunk and closes the connection.
func (w *connWriter) end() {
	if w.err == nil && w.head == nil {
		w.conn.Write([]byte("0\r\n\r\n"))
	}
	w.conn.Close()
}
