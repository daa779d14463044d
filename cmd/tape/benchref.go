package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"tape"
	"tape/bench"
	"tape/ui"
)

// The reference writer is the floor tape's fan-out is judged against: a
// bare Go program, no framework, no Kafka, that encodes each quote once
// (the same shape and size as a node's events in the run's --encoding,
// full quotes or deltas, in a body that ends at the close as a node's
// does) and writes it to every stream of its symbol with one write per
// delivery. `tape bench --reference` runs it as a
// child process after the node's run, with the same streams, symbols,
// rate and duration, and reports the CPU per delivery of both and their
// ratio, so the figure holds for the machine and the moment it ran on.

// refReport is what the reference run measured.
type refReport struct {
	PID            int     `json:"pid"`
	CPUSeconds     float64 `json:"cpu_s"`
	Events         int64   `json:"events"`
	USPerDelivery  float64 `json:"us_per_delivery"`
	BytesPerEvent  float64 `json:"bytes_per_event"`
	LatencyP99MS   float64 `json:"latency_p99_ms"`
	RSSPerConnKB   float64 `json:"rss_per_conn_kb"`
	RatioNodeToRef float64 `json:"node_to_reference"` // the node's µs per delivery over the reference's
}

// runReference runs the reference writer as a child process and loads it
// as the node was loaded.
func runReference(ctx context.Context, c benchConfig, universe []string) (refReport, error) {
	var rr refReport
	self, err := os.Executable()
	if err != nil {
		return rr, err
	}
	base := time.Now().UnixMilli() - benchEpochMilli
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "bench", "--serve-reference", "127.0.0.1:0",
		"--symbols", strings.Join(universe, ","), "--rate", strconv.FormatFloat(c.rate, 'g', -1, 64),
		"--reference-base", strconv.FormatInt(base, 10), "--encoding", c.encoding)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return rr, err
	}
	// The child ends when this pipe closes, which it does when this
	// process ends, however it ends.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return rr, err
	}
	defer stdin.Close()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return rr, err
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return rr, fmt.Errorf("bench: reference writer: %v", err)
	}
	target := strings.TrimSpace(line)
	pid := cmd.Process.Pid
	before, _ := bench.ReadProc(pid)
	load, err := bench.Start(ctx, bench.Config{
		Target: target, Subscribers: c.subscribers, Base: base,
		Symbols: func(i int) []string {
			s := make([]string, c.perSub)
			for j := range s {
				s[j] = universe[(i*c.perSub+j)%len(universe)]
			}
			return s
		},
	})
	if err != nil {
		return rr, err
	}
	time.Sleep(time.Second)
	connected, _ := bench.ReadProc(pid)
	select {
	case <-time.After(c.warmup):
	case <-ctx.Done():
		return rr, ctx.Err()
	}
	p0, _ := bench.ReadProc(pid)
	load.Record(true)
	select {
	case <-time.After(c.duration):
	case <-ctx.Done():
		return rr, ctx.Err()
	}
	p1, _ := bench.ReadProc(pid)
	load.Record(false)
	res := load.Finish(nil)
	rr.PID = pid
	rr.CPUSeconds = round((p1.CPU - p0.CPU).Seconds(), 2)
	rr.Events = res.Events
	if res.Events > 0 {
		rr.USPerDelivery = round(float64((p1.CPU-p0.CPU).Microseconds())/float64(res.Events), 3)
	}
	if res.AllEvents > 0 {
		rr.BytesPerEvent = round(float64(res.Bytes)/float64(res.AllEvents), 1)
	}
	rr.LatencyP99MS = round(float64(load.Latency.Quantile(0.99).Microseconds())/1000, 3)
	if res.Connected > 0 {
		rr.RSSPerConnKB = round(float64(connected.RSS-before.RSS)/1024/float64(res.Connected), 2)
	}
	return rr, nil
}

// serveReference is the child: it prints its base URL on stdout, then
// serves streams until its parent ends it or closes its stdin.
func serveReference(ctx context.Context, addr string, universe []string, rate float64, base int64, delta bool, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	r := &refWriter{subs: make(map[string][]net.Conn), seq: make([]int64, len(universe)), universe: universe,
		delta: delta, last: make([]time.Time, len(universe))}
	for i := range r.seq {
		r.seq[i] = base
	}
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go r.produce(ctx, rate)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go r.open(conn)
	}
}

// refWriter holds the reference's streams by symbol.
type refWriter struct {
	mu       sync.Mutex
	subs     map[string][]net.Conn
	seq      []int64 // per symbol of universe, the last number sent
	universe []string
	// With delta, quotes after the snapshot are sent as a node's deltas
	// (tape.Quote.AppendDelta) from the one last sent, whose time is last.
	delta bool
	last  []time.Time
}

// open reads a stream's request, answers with a snapshot and registers it.
func (r *refWriter) open(conn net.Conn) {
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		conn.Close()
		return
	}
	for { // the rest of the head
		l, err := br.ReadString('\n')
		if err != nil {
			conn.Close()
			return
		}
		if l == "\r\n" || l == "\n" {
			break
		}
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		conn.Close()
		return
	}
	u, err := url.Parse(f[1])
	if err != nil {
		conn.Close()
		return
	}
	syms := strings.Split(u.Query().Get("symbols"), ",")
	r.mu.Lock()
	defer r.mu.Unlock()
	var snap []byte
	snap = append(snap, `{"reason":"new","quotes":[`...)
	for i, s := range syms {
		if i > 0 {
			snap = append(snap, ',')
		}
		q := r.quoteOf(s)
		snap = q.AppendJSON(snap)
	}
	snap = append(snap, "]}"...)
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(append([]byte(head), refEvent("snapshot", snap)...)); err != nil {
		conn.Close()
		return
	}
	// The floor is a bare write per delivery: no deadline after the head.
	conn.SetWriteDeadline(time.Time{})
	for _, s := range syms {
		r.subs[s] = append(r.subs[s], conn)
	}
}

// quoteOf is what a client holds of sym once the last quote sent is
// applied: its number and, in delta mode, its time.
func (r *refWriter) quoteOf(sym string) tape.Quote {
	for i, s := range r.universe {
		if s == sym {
			if r.last[i].IsZero() {
				r.last[i] = time.Now()
			}
			return refQuote(sym, r.seq[i], r.last[i])
		}
	}
	return refQuote(sym, 0, time.Now())
}

// produce makes rate quotes a second over the universe, in turn, and
// writes each, encoded once, to every stream of its symbol: one write per
// delivery, as the floor is defined.
func (r *refWriter) produce(ctx context.Context, rate float64) {
	if rate <= 0 {
		return
	}
	t0 := time.Now()
	var sent int64
	tick := time.NewTicker(benchTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			due := int64(now.Sub(t0).Seconds() * rate)
			for ; sent < due; sent++ {
				i := int(sent % int64(len(r.universe)))
				r.mu.Lock()
				r.seq[i]++
				sym := r.universe[i]
				q := refQuote(sym, r.seq[i], time.Now())
				var ev []byte
				if r.delta {
					prev := refQuote(sym, r.seq[i]-1, r.last[i])
					ev = refEvent("", q.AppendDelta(nil, &prev))
				} else {
					ev = refEvent("quote", q.AppendJSON(nil))
				}
				r.last[i] = q.Time
				conns := r.subs[sym]
				for k := 0; k < len(conns); k++ {
					if _, err := conns[k].Write(ev); err != nil {
						conns[k].Close()
						conns = append(conns[:k], conns[k+1:]...)
						k--
					}
				}
				r.subs[sym] = conns
				r.mu.Unlock()
			}
		}
	}
}

// refQuote is the quote a node sends for the bench producer's quote
// numbered seq (in bid_size): the same shape and size.
func refQuote(sym string, seq int64, now time.Time) tape.Quote {
	return tape.Quote{Symbol: tape.Symbol(sym), Kind: tape.KindQuote, Bid: tape.MustPrice("100.00"), Ask: tape.MustPrice("101.00"),
		BidSize: tape.Size(seq) * 100_000_000, AskSize: 100_000_000, Time: now, Source: "bench", Seq: tape.NoSeq}
}

// refEvent is one event with a node-sized id, framed as a node frames it;
// no name for a delta.
func refEvent(event string, data []byte) []byte {
	return ui.SSE{}.AppendEvent(nil, event, refID, data)
}

var refID = []byte("2AQjqj8mVBgaAhD2AhD2AhD2AhD2") // a token's length for 6 partitions
