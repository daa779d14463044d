package ui

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Streams on taken-over connections are written by a small pool of writer
// goroutines shared by every stream of the process, not by a goroutine per
// connection. A stream with something to send (events, a heartbeat, its
// end) is put on a ready queue once, on its transition from idle; a worker
// takes it, gathers everything waiting into one chunk and sends it with one
// non-blocking write. A write the socket cannot take whole (a slow client)
// never blocks a worker: the stream's unsent remainder goes to a goroutine
// of its own that waits for the socket, and the stream returns to the pool
// once it is sent. Meanwhile the hub conflates what the client has not
// read, so memory per client stays bounded.

// A stream's sched counts notifications since a worker last took it: 0 is
// idle; the notification that moves it from 0 queues it. A worker sets it
// to 1 when it starts and, when done, back to 0 unless something arrived
// meanwhile (then it queues the stream again). connDead ends counting.
const connDead = 1 << 30

// writerPool is the ready queue and its workers. A Server owns one.
type writerPool struct {
	mu      sync.Mutex // guards the fields below
	cond    sync.Cond
	queue   []*sseConn
	waiting int  // workers parked on cond
	stopped bool // workers exit once the queue is empty
}

// newWriterPool starts n workers; at least two, so that one slow gather
// cannot hold up every stream.
func newWriterPool(n int) *writerPool {
	p := &writerPool{}
	p.cond.L = &p.mu
	for range max(n, 2) {
		go p.work()
	}
	return p
}

// stop ends the workers once they have written what is queued.
func (p *writerPool) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.cond.Broadcast()
}

// push queues c; the caller owns c's turn (see sseConn.sched).
func (p *writerPool) push(c *sseConn) {
	p.mu.Lock()
	p.queue = append(p.queue, c)
	wake := p.waiting > 0
	p.mu.Unlock()
	if wake {
		p.cond.Signal()
	}
}

// batchSize bounds how many streams a worker takes off the queue at once.
const batchSize = 32

func (p *writerPool) work() {
	w := &poolWorker{pool: p}
	var batch []*sseConn
	for {
		p.mu.Lock()
		for len(p.queue) == 0 {
			if p.stopped {
				p.mu.Unlock()
				return
			}
			p.waiting++
			p.cond.Wait()
			p.waiting--
		}
		n := min(len(p.queue), batchSize)
		batch = append(batch[:0], p.queue[:n]...)
		rest := copy(p.queue, p.queue[n:])
		clear(p.queue[rest:])
		p.queue = p.queue[:rest]
		if rest > 0 && p.waiting > 0 {
			p.cond.Signal() // share the work
		}
		p.mu.Unlock()
		for i, c := range batch {
			w.serveSafely(c)
			batch[i] = nil
		}
	}
}

// poolWorker is one writer goroutine's state: the buffer chunks are
// gathered in, reused for every stream it serves.
type poolWorker struct {
	pool *writerPool
	buf  []byte
	raw  rawWrite
}

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ b *[]byte }

func (w appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// heartbeatLine is an SSE comment: it keeps proxies from closing an idle
// stream, and a write to a dead client fails, which is how it is noticed.
var heartbeatLine = []byte(": \n\n")

// maxKeptBuffer bounds a worker's buffer between streams.
const maxKeptBuffer = 64 << 10

// serveSafely serves c; a panic ends that stream only, never the node.
func (w *poolWorker) serveSafely(c *sseConn) {
	defer func() {
		if e := recover(); e != nil {
			c.srv.panics.Add(1)
			c.srv.cfg.Logger.Error("ui: stream writer panicked; the stream is closed", "panic", fmt.Sprint(e))
			w.buf = nil
			c.finish(endPanic)
		}
	}()
	w.serve(c)
}

// serve gathers and sends everything c has waiting; the caller owns c's turn.
func (w *poolWorker) serve(c *sseConn) {
	c.sched.Store(1)
	if c.gone.Load() { // the client closed its end: nothing to send
		c.finish(endClientClosed)
		return
	}
	// Room in front of the chunk for the response headers (first write
	// only) and the chunk's size line, filled in once the size is known.
	room := len(c.head)
	b := w.buf[:0]
	if cap(b) < room+512 {
		b = make([]byte, 0, max(room+512, 4096))
	}
	b = b[:room]
	if c.head != nil {
		b = AppendRetry(b, c.retry.Milliseconds())
	}
	_, err := c.sub.WriteTo(appendWriter{&b})
	ending := err != nil
	why := endClosed
	if c.slowEnded.Load() {
		why = endSlow
	}
	if !ending && c.closing.Load() {
		why = endDrain
		ending = true
		jitter := time.Duration(rand.Int64N(int64(max(c.retry, time.Second))))
		b = AppendRetry(b, (c.retry + jitter).Milliseconds())
	}
	if c.beat.Swap(false) && len(b) == room {
		b = append(b, heartbeatLine...)
	}
	start := room
	if len(b) > room && c.head != nil { // the first write sends the headers
		start -= len(c.head)
		copy(b[start:], c.head)
		c.head = nil
	}
	out := b[start:]
	if cap(b) <= maxKeptBuffer {
		w.buf = b[:0]
	} else {
		w.buf = nil
	}
	if len(out) > 0 {
		n, werr := w.raw.to(c, out)
		c.srv.bytesSent.Add(int64(n))
		switch {
		case werr == syscall.EAGAIN:
			// The socket is full: the rest waits for it on its own
			// goroutine, and this worker moves on.
			rest := append([]byte(nil), out[n:]...)
			go c.writeSlow(rest, ending, why)
			return
		case werr != nil:
			c.finish(endWriteFailed)
			return
		}
		c.wrote.Store(true)
	}
	if ending {
		c.finish(why)
		return
	}
	c.release()
}

// sseConn is one stream on a taken-over connection.
type sseConn struct {
	srv    *Server
	pool   *writerPool
	conn   net.Conn
	raw    syscall.RawConn
	sub    Stream
	client netip.Addr
	retry  time.Duration
	stall  time.Duration
	head   []byte // response headers, until the first write
	index  int    // in srv.conns; guarded by srv.connMu

	sched   atomic.Int32
	wrote   atomic.Bool // written since the last heartbeat check
	beat    atomic.Bool // a heartbeat is due
	closing atomic.Bool // its moment in the drain window has come
	gone    atomic.Bool // the client closed the connection
	freed   atomic.Bool // its client slot was given back
	slow    atomic.Bool // a goroutine of its own is writing

	slowEnded atomic.Bool // the hub ended it for not reading (OnSlow)
}

// notify queues c to be served, unless it is already queued or being served.
func (c *sseConn) notify() {
	if c.sched.Add(1) == 1 {
		c.pool.push(c)
	}
}

// release ends the turn of whoever served c, queueing it again if it was
// notified meanwhile.
func (c *sseConn) release() {
	if !c.sched.CompareAndSwap(1, 0) {
		c.sched.Store(1)
		c.pool.push(c)
	}
}

// to writes p to c's socket without waiting: it returns EAGAIN with the
// count written when the socket's buffer is full.
//
// The function given to RawConn.Control is made once per worker: a
// closure made per write escapes to the heap, an allocation per write.
func (w *rawWrite) to(c *sseConn, p []byte) (int, error) {
	if w.fn == nil {
		w.fn = w.write
	}
	w.p, w.n, w.err = p, 0, nil
	err := c.raw.Control(w.fn)
	n, werr := w.n, w.err
	w.p, w.err = nil, nil
	if err != nil {
		return n, err
	}
	return n, werr
}

// rawWrite is a worker's write to a socket's descriptor.
type rawWrite struct {
	p   []byte
	n   int
	err error
	fn  func(fd uintptr)
}

func (w *rawWrite) write(fd uintptr) {
	for len(w.p) > 0 {
		k, e := syscall.Write(int(fd), w.p)
		if k > 0 {
			w.n += k
			w.p = w.p[k:]
		}
		if e == syscall.EINTR {
			continue
		}
		if e != nil {
			w.err = e
			return
		}
		if k <= 0 {
			w.err = syscall.EIO
			return
		}
	}
}

// writeSlow sends p, waiting for the socket at most the stall timeout (a
// client that reads nothing for that long is disconnected, whether or not
// anything new is sent to it), then gives c back to the pool.
func (c *sseConn) writeSlow(p []byte, ending bool, why disconnectReason) {
	c.slow.Store(true)
	grace := c.stall
	if c.closing.Load() {
		grace = drainWriteGrace
	}
	c.conn.SetWriteDeadline(time.Now().Add(grace))
	n, err := c.conn.Write(p)
	c.srv.bytesSent.Add(int64(n))
	c.conn.SetWriteDeadline(time.Time{})
	c.slow.Store(false)
	if err != nil || ending {
		switch {
		case err == nil:
		case c.closing.Load():
			why = endDrain
		case c.slowEnded.Load():
			why = endSlow
		case errors.Is(err, os.ErrDeadlineExceeded):
			why = endStalled
		default:
			why = endWriteFailed
		}
		if why == endStalled {
			c.srv.cfg.Logger.Warn("ui: disconnected a stream whose client read nothing; it resumes from its last id when it returns",
				"client", c.conn.RemoteAddr().String(), "for", grace)
		}
		c.finish(why)
		return
	}
	c.wrote.Store(true)
	c.release()
}

// drainWriteGrace is how long a stream whose client reads slowly may take
// to send what it has once its moment in the drain window came.
const drainWriteGrace = time.Second

// finish ends the stream for the reason why and frees what it held; only
// the owner of c's turn calls it, once.
func (c *sseConn) finish(why disconnectReason) {
	c.srv.disconnects[why].Add(1)
	c.sched.Store(connDead)
	c.sub.Close() // before the client sees the connection close
	c.conn.Close()
	s := c.srv
	s.unregister(c)
	c.freeSlot()
	s.open.Add(-1)
	s.streams.Done()
}

// startDrain marks c to end: it is served once more with a retry hint and
// the last chunk.
func (c *sseConn) startDrain() {
	c.closing.Store(true)
	if c.slow.Load() {
		// Its own goroutine waits for the client to read: bound the wait.
		c.conn.SetWriteDeadline(time.Now().Add(drainWriteGrace))
	}
	c.notify()
}

// peerClosed reports whether the client closed or reset the connection.
// An SSE client sends nothing after its request, so a read that would
// return end-of-file (or an error) means it is gone; it peeks, so nothing
// is consumed, and never blocks.
func (c *sseConn) peerClosed() bool {
	var buf [1]byte
	closed := false
	err := c.raw.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == nil:
			closed = n == 0
		case err == syscall.EAGAIN, err == syscall.EINTR:
		default:
			closed = true
		}
	})
	return closed || err != nil
}

// reapClosed ends the streams of client whose connections the client
// closed, and reports how many; for a client at its stream limit, whose
// count may still hold streams it closed a moment ago.
func (s *Server) reapClosed(client netip.Addr) int {
	var mine []*sseConn
	s.connMu.Lock()
	for _, c := range s.conns {
		if c.client == client {
			mine = append(mine, c)
		}
	}
	s.connMu.Unlock()
	n := 0
	for _, c := range mine {
		if !c.gone.Load() && c.peerClosed() {
			c.gone.Store(true)
			c.freeSlot() // now: the writer ends the stream when it gets to it
			c.notify()
			n++
		}
	}
	return n
}

// freeSlot gives c's client slot back, once.
func (c *sseConn) freeSlot() {
	if c.freed.CompareAndSwap(false, true) {
		c.srv.clients.release(c.client)
	}
}

// errNotTCP reports a taken-over connection without a file descriptor.
var errNotTCP = errors.New("ui: stream connection has no file descriptor")

// startStream registers a stream on a taken-over connection with the pool.
func (s *Server) startStream(conn net.Conn, head []byte, sub Stream, client netip.Addr) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return errNotTCP
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	c := &sseConn{srv: s, pool: s.pool, conn: conn, raw: raw, sub: sub, client: client,
		retry: s.cfg.Retry, stall: s.cfg.StallTimeout, head: head}
	s.streams.Add(1)
	s.open.Add(1)
	c.sched.Store(1) // this goroutine's turn, until the first push below
	s.register(c)
	// The hub ends a stream it has conflated for too long; its writer may
	// be blocked in a write that only closing the connection ends.
	remote, log := conn.RemoteAddr().String(), s.cfg.Logger
	sub.OnSlow(func() {
		c.slowEnded.Store(true)
		log.Warn("ui: disconnected a stalled stream; it resumes from its last id when it returns", "client", remote)
		conn.Close()
	})
	sub.SetNotify(c.notify)
	// The first write sends the headers and the retry hint even when no
	// event waits yet; notifications until then only counted.
	c.pool.push(c)
	return nil
}

func (s *Server) register(c *sseConn) {
	s.connMu.Lock()
	c.index = len(s.conns)
	s.conns = append(s.conns, c)
	draining := s.drainStarted
	if !s.beating {
		s.beating = true
		go s.heartbeats()
	}
	s.connMu.Unlock()
	if draining {
		time.AfterFunc(time.Duration(rand.Int64N(int64(s.cfg.Drain)+1)), c.startDrain)
	}
}

func (s *Server) unregister(c *sseConn) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	i := c.index
	if i < 0 || i >= len(s.conns) || s.conns[i] != c {
		return
	}
	last := len(s.conns) - 1
	s.conns[i] = s.conns[last]
	s.conns[i].index = i
	s.conns[last] = nil
	s.conns = s.conns[:last]
	c.index = -1
}

// drainStreams gives every stream a random moment in the drain window at
// which it ends.
func (s *Server) drainStreams() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.drainStarted {
		return
	}
	s.drainStarted = true
	for _, c := range s.conns {
		time.AfterFunc(time.Duration(rand.Int64N(int64(s.cfg.Drain)+1)), c.startDrain)
	}
}

// heartbeats sends a comment on every stream nothing was written to for
// half the heartbeat interval, checking twice an interval: no stream goes
// much longer than an interval without a write, and busy streams get none.
// A dead client is found when a write fails.
func (s *Server) heartbeats() {
	tick := time.NewTicker(max(s.cfg.Heartbeat/2, time.Millisecond))
	defer tick.Stop()
	var due []*sseConn
	for range tick.C {
		s.connMu.Lock()
		if len(s.conns) == 0 && s.drainStarted {
			s.beating = false
			s.connMu.Unlock()
			return
		}
		for _, c := range s.conns {
			if !c.wrote.Swap(false) {
				due = append(due, c)
			}
		}
		s.connMu.Unlock()
		for i, c := range due {
			// An idle stream's client may have gone without a write
			// failing yet: look before writing to it.
			if c.peerClosed() {
				c.gone.Store(true)
			} else {
				c.beat.Store(true)
			}
			c.notify()
			due[i] = nil
		}
		due = due[:0]
	}
}
