// Package replay produces recorded feeds into Kafka's raw topic, paced by
// the recording's own timestamps or at a fixed rate.
//
// A recording is a text file (optionally gzip-compressed) with one raw
// vendor message per line. Which format the lines are in comes from the
// configuration or the file name ("session.polygon.jsonl.gz").
//
// Run is safe to call from several goroutines with separate Configs.
package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// MaxLineBytes bounds one recorded message.
const MaxLineBytes = 1 << 20

// DefaultBatchSize is the most messages produced in one request.
const DefaultBatchSize = 500

// Stamp returns the feed time and the first symbol of a raw message in
// the given format; the ingest package provides it.
type Stamp func(format string, msg []byte) (time.Time, tape.Symbol, error)

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
	Loop  bool
	Stamp Stamp
	// Rewrite, if set, moves every message's timestamps by shift so that
	// the message reads as sent now (the demo and --rewrite-time use it).
	Rewrite func(format string, msg []byte, shift time.Duration) ([]byte, error)
	// FS, if set, is where files are read from instead of the OS.
	FS     fs.FS
	Logger *slog.Logger
	// Writer, if set, is used instead of a new one (the demo shares one).
	Writer *kafka.Writer
}

// Summary reports what a replay did.
type Summary struct {
	Messages int64         // produced and acknowledged
	Skipped  int64         // lines without a timestamp, produced unpaced
	Wall     time.Duration // time spent
}

// Rate returns the effective messages per second.
func (s Summary) Rate() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.Messages) / s.Wall.Seconds()
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
// line; what was produced before it stays produced.
func Run(ctx context.Context, cfg Config, files ...string) (Summary, error) {
	if len(cfg.Brokers) == 0 && cfg.Writer == nil {
		return Summary{}, errors.New("replay: no brokers")
	}
	if cfg.Stamp == nil {
		return Summary{}, errors.New("replay: no timestamp reader")
	}
	if cfg.Speed < 0 || cfg.Rate < 0 || math.IsNaN(cfg.Speed) || math.IsNaN(cfg.Rate) {
		return Summary{}, errors.New("replay: speed and rate must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := cfg.Writer
	if w == nil {
		w = NewWriter(cfg.Brokers)
		defer w.Close()
	}
	p := &player{cfg: cfg, w: w, start: time.Now()}
	for {
		for _, f := range files {
			if err := p.file(ctx, f); err != nil {
				p.sum.Wall = time.Since(p.start)
				if ctx.Err() != nil {
					return p.sum, nil
				}
				return p.sum, err
			}
		}
		if !cfg.Loop || ctx.Err() != nil {
			break
		}
	}
	p.sum.Wall = time.Since(p.start)
	return p.sum, nil
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
		BatchSize:    DefaultBatchSize,
		MaxAttempts:  5,
		Transport:    &kafka.Transport{},
	}
}

type player struct {
	cfg   Config
	w     *kafka.Writer
	start time.Time
	sum   Summary
	batch []kafka.Message
	// Pacing: the wall time at which the recording time base is due.
	base     time.Time
	baseWall time.Time
	sent     int64
}

func (p *player) file(ctx context.Context, name string) error {
	format := p.cfg.Format
	if format == "" {
		format = FormatOf(name)
	}
	if format == "" {
		return fmt.Errorf("replay: %s: cannot tell the format from the name; use --format", name)
	}
	var f io.ReadCloser
	var err error
	if name == "-" {
		f = io.NopCloser(os.Stdin)
	} else if p.cfg.FS != nil {
		f, err = p.cfg.FS.Open(name)
	} else {
		f, err = os.Open(name)
	}
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	r, err := Open(f)
	if err != nil {
		return fmt.Errorf("replay: %s: %w", name, err)
	}
	p.base = time.Time{} // each file (and each loop) is paced from its start
	line := 0
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		msg, err := readLine(br)
		if len(msg) > 0 {
			line++
			if err := p.send(ctx, format, msg); err != nil {
				return fmt.Errorf("replay: %s:%d: %w", name, line, err)
			}
		} else if err == nil {
			line++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("replay: %s:%d: %w", name, line+1, err)
		}
	}
	return p.flush(ctx)
}

// Open returns a reader of r's content, decompressing gzip when r starts
// with its magic number.
func Open(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("bad gzip header: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

var errLongLine = fmt.Errorf("line longer than %d bytes", MaxLineBytes)

// readLine returns the next line without its line end, trimmed of spaces.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes+2 {
			return nil, errLongLine
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) == 0 {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		line = bytes.TrimSpace(line)
		if err == io.EOF {
			return line, io.EOF
		}
		return line, nil
	}
}

func (p *player) send(ctx context.Context, format string, msg []byte) error {
	ts, sym, err := p.cfg.Stamp(format, msg)
	if err != nil {
		p.sum.Skipped++
	}
	due := p.due(ts)
	if p.cfg.Rewrite != nil && !ts.IsZero() {
		// A message that cannot be rewritten goes as recorded: the
		// ingester judges it, as it would any feed message.
		if out, err := p.cfg.Rewrite(format, msg, due.Sub(ts)); err == nil {
			msg = out
		}
	}
	if wait := time.Until(due); wait > time.Millisecond {
		if err := p.flush(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(due)):
		}
	}
	p.batch = append(p.batch, kafka.Message{
		Topic:   p.cfg.Topic,
		Key:     []byte(sym),
		Value:   bytes.Clone(msg),
		Headers: []kafka.Header{{Key: "format", Value: []byte(format)}},
	})
	p.sent++
	if len(p.batch) >= DefaultBatchSize {
		return p.flush(ctx)
	}
	return nil
}

// due returns when a message stamped ts should be sent.
func (p *player) due(ts time.Time) time.Time {
	now := time.Now()
	switch {
	case p.cfg.Rate > 0:
		return p.start.Add(time.Duration(float64(p.sent) / p.cfg.Rate * float64(time.Second)))
	case p.cfg.Speed == 0 || math.IsInf(p.cfg.Speed, 1) || ts.IsZero():
		return now
	case p.base.IsZero():
		p.base, p.baseWall = ts, now
		return now
	}
	return p.baseWall.Add(time.Duration(float64(ts.Sub(p.base)) / p.cfg.Speed))
}

func (p *player) flush(ctx context.Context) error {
	if len(p.batch) == 0 {
		return nil
	}
	if err := p.w.WriteMessages(ctx, p.batch...); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	p.sum.Messages += int64(len(p.batch))
	clear(p.batch)
	p.batch = p.batch[:0]
	return nil
}
