package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// DefaultBatchSize is the most messages produced in one request.
const DefaultBatchSize = 2000

// DefaultProgressEvery is how often Config.Progress is called by default.
const DefaultProgressEvery = 250 * time.Millisecond

// drainTimeout is how long a stopped replay still waits for the messages
// it has read to be acknowledged, so that it can say exactly where it
// stopped.
const drainTimeout = 5 * time.Second

// ErrLost reports that some records were not acknowledged by the broker;
// each was reported through Config.Failed.
var ErrLost = errors.New("replay: records lost")

// Stamp returns the feed time and the first symbol of a raw message in
// the given format; the ingest package provides it.
type Stamp func(format string, msg []byte) (time.Time, tape.Symbol, error)

// Producer is what a replay writes to; *kafka.Writer is one. It must
// report per-message failures as kafka.WriteErrors, as kafka-go does, and
// must not keep the messages' Values after WriteMessages returns: the
// replay reuses their memory.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

var _ Producer = (*kafka.Writer)(nil)

// Position is a line of a recording.
type Position struct {
	File string
	Line int // from 1
}

func (p Position) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// ParsePosition reads "FILE:LINE" or just "LINE" (the File is then empty).
func ParsePosition(s string) (Position, error) {
	file, num := "", s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		file, num = s[:i], s[i+1:]
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return Position{}, fmt.Errorf("replay: position %q: want FILE:LINE or LINE, with LINE from 1", s)
	}
	return Position{File: file, Line: n}, nil
}

// Config configures a replay.
type Config struct {
	Brokers []string
	Topic   string
	// Format names the format of every line; empty means from the file name.
	Format string
	// Speed scales the recording's pace: 1 is real time, 10 ten times
	// faster; 0 or +Inf is as fast as the broker takes it.
	Speed float64
	// Rate, if set, ignores timestamps and sends this many messages a second.
	Rate float64
	// Loop replays the files again and again until ctx ends.
	Loop bool
	// From and To, if set, keep only messages stamped in [From, To). A
	// line without a time follows the line before it.
	From, To time.Time
	// Symbols, if set, keeps only messages whose first symbol is listed.
	Symbols []tape.Symbol
	// Resume starts at this line of this file (the first file if File is
	// empty); lines before it are read but not sent. Loops start over
	// from the top.
	Resume Position
	Stamp  Stamp
	// Sniff, if set, names the format of a file whose name does not,
	// from its first line (ingest.Sniff).
	Sniff func(msg []byte) string
	// Rewrite, if set, moves every message's timestamps by shift so that
	// the message reads as sent now (the demo and --rewrite-time use it).
	Rewrite func(format string, msg []byte, shift time.Duration) ([]byte, error)
	// FS, if set, is where files are read from instead of the OS.
	FS fs.FS
	// Stdin is the file named "-"; nil means os.Stdin.
	Stdin io.Reader
	// BatchSize bounds the messages of one produce call; 0 means
	// DefaultBatchSize. One call is in flight at a time, so that every
	// symbol's messages stay in order even when the producer retries.
	BatchSize int
	// Progress, if set, is called every ProgressEvery (and once at the
	// end with Done set), from Run's goroutine.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Failed, if set, is called for every record the broker did not take;
	// by default each is logged at error level.
	Failed func(pos Position, err error)
	Logger *slog.Logger
	// Writer, if set, is used instead of a new one (the demo shares one).
	Writer Producer
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case len(c.Brokers) == 0 && c.Writer == nil:
		return errors.New("replay: no brokers")
	case c.Stamp == nil:
		return errors.New("replay: no timestamp reader")
	case c.Speed < 0 || c.Rate < 0 || math.IsNaN(c.Speed) || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return errors.New("replay: speed and rate must be positive")
	case !c.From.IsZero() && !c.To.IsZero() && !c.From.Before(c.To):
		return errors.New("replay: the window's start must be before its end")
	case c.BatchSize < 0 || c.ProgressEvery < 0:
		return errors.New("replay: batch size and progress interval must not be negative")
	case c.Resume.Line < 0:
		return errors.New("replay: resume line must be positive")
	}
	return nil
}

// Summary reports what a replay did.
type Summary struct {
	Messages int64         // produced and acknowledged
	Errors   int64         // records the broker did not take (lost)
	Skipped  int64         // lines without a readable time or symbol, produced unpaced
	Filtered int64         // lines left out by From, To, Symbols or Resume
	Wall     time.Duration // time spent
	// Next is where a replay stopped early would go on: the first line
	// not yet acknowledged. Zero after a complete run.
	Next Position
	// Stopped reports that ctx ended the replay before its end.
	Stopped bool
}

// Rate returns the effective messages per second.
func (s Summary) Rate() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.Messages) / s.Wall.Seconds()
}

// Progress is a replay's state, for a progress bar or log line.
type Progress struct {
	Position               // the last line read
	Messages, Errors int64 // so far, over all files and loops
	Filtered         int64
	// Recorded is the feed time of the last stamped message read.
	Recorded time.Time
	// Read and Size are the bytes of the current file read so far and its
	// size; Size is 0 when unknown (standard input from a pipe).
	Read, Size int64
	Elapsed    time.Duration
	Done       bool
}

// Fraction returns how far through the current file the replay is, in
// [0, 1], or -1 if the size is unknown.
func (p Progress) Fraction() float64 {
	if p.Size <= 0 {
		return -1
	}
	return min(float64(p.Read)/float64(p.Size), 1)
}

// FormatOf returns the format named in a recording's file name: the part
// before ".jsonl", ".txt", ".csv" or ".fix" (and ".gz"), as in
// "session.polygon.jsonl.gz"; "" if there is none.
func FormatOf(name string) string {
	base := strings.TrimSuffix(filepath.Base(name), ".gz")
	ext := filepath.Ext(base)
	switch ext {
	case ".csv":
		return "csv"
	case ".fix":
		return "fix"
	case ".jsonl", ".txt", ".ndjson":
		base = strings.TrimSuffix(base, ext)
		return strings.TrimPrefix(filepath.Ext(base), ".")
	}
	return ""
}

// Run replays the files in order (once, or forever with Loop) and returns
// a summary. A file that cannot be read gives an error naming it and the
// line; what was produced before it stays produced. When ctx ends, Run
// waits briefly for what it has sent to be acknowledged and returns a nil
// error with Summary.Stopped set and Summary.Next the place to resume.
// If the broker refused some records, Run goes on and returns ErrLost.
func Run(ctx context.Context, cfg Config, files ...string) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.ProgressEvery == 0 {
		cfg.ProgressEvery = DefaultProgressEvery
	}
	if cfg.Failed == nil {
		log := cfg.Logger
		cfg.Failed = func(pos Position, err error) {
			log.Error("replay: record lost", "at", pos.String(), "err", err)
		}
	}
	if cfg.Loop && slices.Contains(files, "-") {
		return Summary{}, errors.New("replay: cannot loop over standard input")
	}
	if cfg.Resume.File != "" && !slices.Contains(files, cfg.Resume.File) {
		return Summary{}, fmt.Errorf("replay: resume from %s: not one of the files replayed", cfg.Resume)
	}
	w := cfg.Writer
	if w == nil {
		kw := NewWriter(cfg.Brokers)
		defer kw.Close()
		w = kw
	}
	// Produce with a context that outlives ctx by drainTimeout: a stop
	// (Ctrl-C) must not cut a produce call short, or the replay could not
	// tell whether its batch arrived, and a resume would send it twice.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(drainTimeout, cancel) })()
	p := &player{cfg: cfg, w: w, wctx: wctx, start: time.Now(), pace: Pacer{Speed: cfg.Speed, Rate: cfg.Rate}}
	p.lastProgress = p.start
	if len(cfg.Symbols) > 0 {
		p.symbols = make(map[tape.Symbol]bool, len(cfg.Symbols))
		for _, s := range cfg.Symbols {
			p.symbols[s] = true
		}
	}
	err := p.run(ctx, files)
	p.sum.Wall = time.Since(p.start)
	if err == nil && p.sum.Errors > 0 {
		err = fmt.Errorf("%w: %d of %d", ErrLost, p.sum.Errors, p.sum.Errors+p.sum.Messages)
	}
	p.progress(true)
	return p.sum, err
}

func (p *player) run(ctx context.Context, files []string) error {
	resume := p.cfg.Resume
	if resume.Line > 0 && resume.File == "" && len(files) > 0 {
		resume.File = files[0]
	}
	for {
		before := p.sum.Messages + p.sum.Errors
		for _, f := range files {
			from := 1
			if resume.Line > 0 {
				if f != resume.File {
					continue
				}
				from, resume = resume.Line, Position{}
			}
			if err := p.playFile(ctx, f, from); err != nil {
				return err
			}
			if p.sum.Stopped {
				return nil
			}
		}
		if !p.cfg.Loop {
			return nil
		}
		if p.sum.Messages+p.sum.Errors == before {
			return errors.New("replay: nothing to loop over: no line of the files passes the filters")
		}
		if ctx.Err() != nil {
			p.sum.Stopped = true
			return nil
		}
	}
}

// NewWriter returns the writer a replay produces with: acks from all
// in-sync replicas, and the CRC32 partitioner of librdkafka and kcat, so a
// replayed message lands where a kcat-produced one with the same key would.
func NewWriter(brokers []string) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     &kafka.CRC32Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
		// A replay's produce call is one batch per partition: the
		// writer must not split it further.
		BatchSize:   DefaultBatchSize,
		BatchBytes:  16 << 20,
		MaxAttempts: 5,
		Transport:   &kafka.Transport{},
	}
}

type player struct {
	cfg     Config
	w       Producer
	wctx    context.Context // for produce calls
	start   time.Time
	pace    Pacer
	symbols map[tape.Symbol]bool // nil: all
	sum     Summary

	batch []kafka.Message
	lines []int // the line of each message in batch
	// pending is the batch being produced, if any; the spares are the
	// slices of the one before, to reuse.
	pending    *inflight
	spareMsgs  []kafka.Message
	spareLines []int
	slab       []byte // the values of batch
	spareSlab  []byte

	// Where the replay is: the current file, the last line handled (sent
	// to the batch, left out or blank) and the last line up to which
	// everything handled was also acknowledged.
	file        string
	read, acked int
	inWindow    bool // the last stamped line was in [From, To)
	recorded    time.Time
	size        int64
	counter     *countingReader

	lastProgress time.Time
}

func (p *player) open(name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		in := p.cfg.Stdin
		if in == nil {
			in = os.Stdin
		}
		var size int64
		if f, ok := in.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				size = st.Size()
			}
		}
		return io.NopCloser(in), size, nil
	}
	var f fs.File
	var err error
	if p.cfg.FS != nil {
		f, err = p.cfg.FS.Open(name)
	} else {
		f, err = os.Open(name)
	}
	if err != nil {
		return nil, 0, err
	}
	var size int64
	if st, err := f.Stat(); err == nil {
		if st.IsDir() {
			f.Close()
			return nil, 0, fmt.Errorf("%s is a directory", name)
		}
		size = st.Size()
	}
	return f, size, nil
}

func (p *player) playFile(ctx context.Context, name string, from int) error {
	format := p.cfg.Format
	if format == "" {
		format = FormatOf(name)
	}
	if format == "" && p.cfg.Sniff == nil {
		return fmt.Errorf("replay: %s: cannot tell the format from the name; use --format", name)
	}
	f, size, err := p.open(name)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	p.counter = &countingReader{r: f}
	p.file, p.size, p.read, p.acked = name, size, 0, 0
	p.inWindow = p.cfg.From.IsZero()
	p.pace.Restart() // each file (and each loop) is paced from its start
	r, err := NewReader(p.counter)
	if err != nil {
		return fmt.Errorf("%s:1: %w", name, err)
	}
	for {
		if ctx.Err() != nil {
			return p.stop()
		}
		msg, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// What was read before the bad line still goes out.
			return errors.Join(fmt.Errorf("%s:%d: %w", name, r.Line(), err), p.drain())
		}
		line := r.Line()
		if format == "" && len(msg) > 0 {
			if format = p.cfg.Sniff(msg); format == "" {
				return fmt.Errorf("replay: %s:%d: cannot tell the format from the name or the first line; use --format", name, line)
			}
		}
		if len(msg) > 0 && line < from {
			p.sum.Filtered++
		} else if len(msg) > 0 {
			if err := p.send(ctx, format, msg, line); err != nil {
				if ctx.Err() != nil {
					return p.stop()
				}
				return err
			}
		}
		p.read = line
		if time.Since(p.lastProgress) >= p.cfg.ProgressEvery {
			p.progress(false)
		}
	}
	if err := p.drain(); err != nil {
		if ctx.Err() != nil {
			return p.stop()
		}
		return err
	}
	return nil
}

// stop drains what was read when ctx ended and records where to resume.
func (p *player) stop() error {
	err := p.drain()
	p.sum.Stopped = true
	p.sum.Next = Position{File: p.file, Line: p.acked + 1}
	return err
}

func (p *player) send(ctx context.Context, format string, msg []byte, line int) error {
	ts, sym, err := p.cfg.Stamp(format, msg)
	if err != nil {
		p.sum.Skipped++
		ts, sym = time.Time{}, ""
	}
	if !ts.IsZero() {
		p.recorded = ts
		p.inWindow = (p.cfg.From.IsZero() || !ts.Before(p.cfg.From)) && (p.cfg.To.IsZero() || ts.Before(p.cfg.To))
	}
	if !p.inWindow || (p.symbols != nil && !p.symbols[sym]) {
		p.sum.Filtered++
		return nil
	}
	due := p.pace.Due(ts, time.Now())
	if p.cfg.Rewrite != nil && !ts.IsZero() {
		// A message that cannot be rewritten goes as recorded: the
		// ingester judges it, as it would any feed message.
		if out, err := p.cfg.Rewrite(format, msg, due.Sub(ts)); err == nil {
			msg = out
		}
	}
	if time.Until(due) > time.Millisecond {
		if err := p.flush(); err != nil {
			return err
		}
		if err := p.wait(ctx, due); err != nil {
			return err
		}
	}
	// Values share one buffer per batch: fewer, larger allocations.
	at := len(p.slab)
	p.slab = append(p.slab, msg...)
	p.batch = append(p.batch, kafka.Message{
		Topic:   p.cfg.Topic,
		Key:     []byte(sym),
		Value:   p.slab[at:len(p.slab):len(p.slab)],
		Headers: []kafka.Header{{Key: tape.HeaderFormat, Value: []byte(format)}},
	})
	p.lines = append(p.lines, line)
	if len(p.batch) >= p.cfg.BatchSize {
		return p.flush()
	}
	return nil
}

// wait sleeps until due, waking to report progress.
func (p *player) wait(ctx context.Context, due time.Time) error {
	for {
		d := time.Until(due)
		if d <= 0 {
			return nil
		}
		tick := p.lastProgress.Add(p.cfg.ProgressEvery)
		if p.cfg.Progress != nil && tick.Before(due) {
			d = max(time.Until(tick), 0)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if time.Since(p.lastProgress) >= p.cfg.ProgressEvery {
			p.progress(false)
		}
	}
}

// flush hands the batch to the producer and returns at once, after
// settling the batch handed over before it: one produce call is in flight
// while the next batch is read, and never two, so that each symbol's
// messages stay in order.
func (p *player) flush() error {
	if err := p.settle(); err != nil {
		return err
	}
	if len(p.batch) == 0 {
		p.acked = p.read
		return nil
	}
	f := &inflight{msgs: p.batch, lines: p.lines, slab: p.slab, upTo: max(p.read, p.lines[len(p.lines)-1]), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.err = p.w.WriteMessages(p.wctx, f.msgs...)
	}()
	p.pending = f
	p.batch, p.lines, p.slab = p.spareMsgs[:0], p.spareLines[:0], p.spareSlab[:0]
	p.spareMsgs, p.spareLines, p.spareSlab = nil, nil, nil
	return nil
}

// drain flushes and waits until everything handed over is settled.
func (p *player) drain() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.settle()
}

// inflight is a batch being produced.
type inflight struct {
	msgs  []kafka.Message
	lines []int // the line of each message
	slab  []byte
	upTo  int // the last line handled when it was handed over
	err   error
	done  chan struct{}
}

// settle waits for the batch in flight, if any, and accounts for it.
func (p *player) settle() error {
	f := p.pending
	if f == nil {
		return nil
	}
	<-f.done
	p.pending = nil
	var werrs kafka.WriteErrors
	switch {
	case f.err == nil:
		p.sum.Messages += int64(len(f.msgs))
	case errors.As(f.err, &werrs) && len(werrs) == len(f.msgs):
		for i, e := range werrs {
			if e == nil {
				p.sum.Messages++
				continue
			}
			p.sum.Errors++
			p.cfg.Failed(Position{p.file, f.lines[i]}, e)
		}
	default:
		// Nothing is known to have arrived: stop here, so that a resume
		// from Next sends the batch again.
		p.acked = f.lines[0] - 1
		if p.wctx.Err() != nil {
			return fmt.Errorf("replay: %s:%d-%d: stopped before the broker acknowledged them; they may arrive twice on a resume", p.file, f.lines[0], f.lines[len(f.lines)-1])
		}
		return fmt.Errorf("replay: %s:%d-%d: produce %d messages: %w",
			p.file, f.lines[0], f.lines[len(f.lines)-1], len(f.msgs), f.err)
	}
	p.acked = f.upTo
	clear(f.msgs)
	p.spareMsgs, p.spareLines, p.spareSlab = f.msgs[:0], f.lines[:0], f.slab[:0]
	return nil
}

func (p *player) progress(done bool) {
	p.lastProgress = time.Now()
	if p.cfg.Progress == nil {
		return
	}
	var read int64
	if p.counter != nil {
		read = p.counter.n
	}
	p.cfg.Progress(Progress{
		Position: Position{p.file, p.read},
		Messages: p.sum.Messages, Errors: p.sum.Errors, Filtered: p.sum.Filtered,
		Recorded: p.recorded, Read: read, Size: p.size,
		Elapsed: time.Since(p.start), Done: done,
	})
}

// countingReader counts the bytes read from the file, for the position
// in the recording (compressed bytes for a gzip file).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
