package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"tape"
	"tape/ingest"
	"tape/replay"
	"tape/stream"
)

// Progress output of tape replay: a bar redrawn a few times a second on a
// terminal, a line every so often in a log.
const (
	replayBarEvery  = 250 * time.Millisecond
	replayLogEvery  = 10 * time.Second
	replayBarWidth  = 20
	replayDrainNote = "continue with --resume-from "
)

// speedValue parses --speed: a positive factor or "max".
type speedValue struct{ v float64 }

func (s *speedValue) String() string {
	if math.IsInf(s.v, 1) {
		return "max"
	}
	return strconv.FormatFloat(s.v, 'g', -1, 64)
}

func (s *speedValue) Set(v string) error {
	if strings.EqualFold(v, "max") {
		s.v = math.Inf(1)
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("speed must be a positive number or max")
	}
	s.v = f
	return nil
}

// timeValue parses an RFC 3339 time flag; empty is no time.
type timeValue struct{ t time.Time }

func (v *timeValue) String() string {
	if v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339Nano)
}

func (v *timeValue) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-11-20T14:35:00Z")
	}
	v.t = t
	return nil
}

func runReplay(ctx context.Context, args []string, env environ) error {
	fs := flagSet("replay", "Replay a recorded feed (one raw message per line, plain or gzip) into the raw topic, paced by its timestamps.", env)
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	topic := fs.String("topic-raw", tape.TopicRaw, "topic to produce to")
	file := fs.String("file", "", "recorded feed to replay (- for standard input)")
	format := fs.String("format", "", "format of the lines (default from the file name, as in x.polygon.jsonl.gz, or else from the first line): "+strings.Join(ingest.Formats(), ", "))
	speed := speedValue{1}
	fs.Var(&speed, "speed", "pace: 1 is real time, 10 ten times faster, max as fast as the broker takes it")
	rate := fs.Float64("rate", 0, "fixed messages per second instead of the recorded pace")
	loop := fs.Bool("loop", false, "replay again from the start at the end, until stopped")
	var from, to timeValue
	fs.Var(&from, "from", "replay only messages stamped at or after this RFC 3339 time")
	fs.Var(&to, "to", "replay only messages stamped before this RFC 3339 time")
	symbols := fs.String("only-symbols", "", "replay only messages of these symbols (comma-separated; a message's first symbol counts)")
	rewrite := fs.Bool("rewrite-time", false, "shift timestamps so that the first message reads as sent now and the pace is kept, so dashboards treat the replay as live")
	resume := fs.String("resume-from", "", "start at this line, FILE:LINE or LINE, as printed by a replay that was stopped")
	progress := fs.String("progress", "auto", "progress report: bar (a line redrawn in place), log (a line every 10s), none, or auto (bar on a terminal, else log)")
	batch := fs.Int("batch", replay.DefaultBatchSize, "most messages in one produce request")
	nodesTopic := fs.String("topic-nodes", tape.TopicNodes, "compacted topic of web node and ingester heartbeats (key = process id), how they and pages find each other")
	if err := parse(fs, args, env); err != nil {
		return err
	}
	bl, err := brokerList(*brokers)
	if err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("replay: --file is required")
	}
	if *format != "" {
		if _, ok := ingest.Lookup(*format); !ok {
			return fmt.Errorf("replay: unknown format %q (known: %s)", *format, strings.Join(ingest.Formats(), ", "))
		}
	}
	if *batch <= 0 {
		return fmt.Errorf("replay: --batch must be positive")
	}
	cfg := replay.Config{
		Brokers: bl, Topic: *topic, Format: *format, Speed: speed.v, Rate: *rate, Loop: *loop,
		From: from.t, To: to.t, BatchSize: *batch,
		Stamp: stampOf, Sniff: ingest.Sniff, Stdin: os.Stdin,
	}
	if *rate < 0 || math.IsNaN(*rate) || math.IsInf(*rate, 0) {
		return fmt.Errorf("replay: --rate must be a positive number")
	}
	if *rewrite {
		cfg.Rewrite = newTimeRewriter().rewrite
	}
	if *symbols != "" {
		for _, s := range strings.Split(*symbols, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			sym, err := tape.ParseSymbolString(s)
			if err != nil {
				return fmt.Errorf("replay: --only-symbols: %q: %w", s, err)
			}
			cfg.Symbols = append(cfg.Symbols, sym)
		}
	}
	if *resume != "" {
		if cfg.Resume, err = replay.ParsePosition(*resume); err != nil {
			return err
		}
		if cfg.Resume.File != "" && cfg.Resume.File != *file {
			return fmt.Errorf("replay: --resume-from %s is not in --file %s", *resume, *file)
		}
	}
	if !from.t.IsZero() && !to.t.IsZero() && !from.t.Before(to.t) {
		return fmt.Errorf("replay: --from must be before --to")
	}

	mode := *progress
	if mode == "auto" {
		mode = "log"
		if isTerminal(env.stderr) {
			mode = "bar"
		}
	}
	var bar *progressBar
	follow := newReplayProgress(ctx, *file, *format, speed.v, to.t)
	// The replay announces itself on the heartbeat topic while it runs.
	actx, stopAnnounce := context.WithCancel(ctx)
	played := make(chan struct{})
	announced := make(chan struct{})
	go func() {
		defer close(announced)
		announceReplay(actx, bl, *nodesTopic, *file, follow, played, slog.New(slog.DiscardHandler))
	}()
	defer func() { close(played); stopAnnounce(); <-announced }()
	width := func() int { return terminalWidth(env.stderr) }
	switch mode {
	case "bar":
		bar = &progressBar{w: env.stderr, bar: true, follow: follow, width: width}
		cfg.ProgressEvery = replayBarEvery
	case "log":
		bar = &progressBar{w: env.stderr, follow: follow, width: width}
		cfg.ProgressEvery = replayLogEvery
	case "none":
	default:
		return fmt.Errorf("replay: --progress must be auto, bar, log or none")
	}
	if bar != nil {
		cfg.Progress = bar.update
	} else {
		cfg.Progress, cfg.ProgressEvery = follow.update, time.Second
	}
	cfg.Failed = func(pos replay.Position, err error) {
		bar.clear()
		fmt.Fprintf(env.stderr, "tape replay: lost %s: %v\n", pos, err)
	}

	sum, err := replay.Run(ctx, cfg, *file)
	bar.clear()
	if words := kafkaWords(err, cfg.Brokers); words != err && sum.Messages == 0 && sum.Errors == 0 {
		// Nothing reached the broker: a summary of zeros would only hide
		// the cause. (A bad file still gets its summary.)
		return words
	}
	fmt.Fprintf(env.stdout, "tape replay: %d messages in %s (%.0f msg/s); %d lost, %d left out, %d without a time or symbol\n",
		sum.Messages, sum.Wall.Round(time.Millisecond), sum.Rate(), sum.Errors, sum.Filtered, sum.Skipped)
	if sum.Stopped {
		fmt.Fprintf(env.stdout, "tape replay: stopped at %s; %s%s\n", sum.Next, replayDrainNote, sum.Next)
	}
	if err != nil && errors.Is(err, replay.ErrLost) {
		return fmt.Errorf("replay: %d records lost (each reported above)", sum.Errors)
	}
	return kafkaWords(err, cfg.Brokers)
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// fileSpan is what one quick pass over a recording learns: how many
// lines it has and the feed times of its first and last messages. It
// makes progress smooth: a gzip file is read in chunks of compressed
// bytes, so its byte count jumps (a 30-minute file went 35.7 % → 71.4 % →
// 100 %), while lines read advance one by one.
type fileSpan struct {
	lines       int
	first, last time.Time
}

// scanSpan reads path through (decompressing gzip) to count its lines and
// stamp its first and last, in format or the one its name or first line
// names. It stops early when ctx ends.
func scanSpan(ctx context.Context, path, format string) (fileSpan, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileSpan{}, err
	}
	defer f.Close()
	r, err := replay.NewReader(f)
	if err != nil {
		return fileSpan{}, err
	}
	if format == "" {
		format = replay.FormatOf(path)
	}
	var span fileSpan
	var lastLine []byte
	for {
		line, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return span, err
		}
		span.lines++
		if span.lines%4096 == 0 && ctx.Err() != nil {
			return span, ctx.Err()
		}
		if len(line) == 0 {
			continue
		}
		if format == "" {
			format = ingest.Sniff(line)
		}
		if span.first.IsZero() {
			span.first, _, _ = stampOf(format, line)
		}
		lastLine = append(lastLine[:0], line...)
	}
	if len(lastLine) > 0 {
		span.last, _, _ = stampOf(format, lastLine)
	}
	return span, nil
}

// replayProgress follows one replay of a file: how far it is (by lines,
// once a pass has counted them, by bytes until then) and when it will end.
// Its methods are safe for concurrent use.
type replayProgress struct {
	file  string
	speed float64 // the replay's pace; +Inf for as fast as possible
	to    time.Time
	span  atomic.Pointer[fileSpan]
	mu    sync.Mutex // guards last
	last  replay.Progress
}

// newReplayProgress follows a replay of path at speed, until to if set; a
// regular file is scanned in the background (not standard input).
func newReplayProgress(ctx context.Context, path, format string, speed float64, to time.Time) *replayProgress {
	r := &replayProgress{file: path, speed: speed, to: to}
	if st, err := os.Stat(path); path != "-" && err == nil && st.Mode().IsRegular() {
		go func() {
			if span, err := scanSpan(ctx, path, format); err == nil {
				r.span.Store(&span)
			}
		}()
	}
	return r
}

// update records the replay's latest report.
func (r *replayProgress) update(p replay.Progress) {
	r.mu.Lock()
	r.last = p
	r.mu.Unlock()
}

// latest returns the latest report.
func (r *replayProgress) latest() replay.Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// fraction returns how far through its file p is, in [0, 1], or -1 when
// that is unknown: lines read of lines counted, or bytes until counted.
func (r *replayProgress) fraction(p replay.Progress) float64 {
	if s := r.span.Load(); s != nil && s.lines > 0 && p.Position.File == r.file {
		return min(float64(p.Line)/float64(s.lines), 1)
	}
	return p.Fraction()
}

// eta returns how long the replay has left: for a paced replay, the feed
// time still to play over the pace; otherwise from the rate so far. ok is
// false when it cannot tell yet.
func (r *replayProgress) eta(p replay.Progress) (time.Duration, bool) {
	if s := r.span.Load(); s != nil && !s.last.IsZero() && !p.Recorded.IsZero() && !math.IsInf(r.speed, 1) {
		end := s.last
		if !r.to.IsZero() && r.to.Before(end) {
			end = r.to
		}
		return max(time.Duration(float64(end.Sub(p.Recorded))/r.speed), 0), true
	}
	if f := r.fraction(p); f > 0 {
		return time.Duration(float64(p.Elapsed) * (1 - f) / f), true
	}
	return 0, false
}

// announceReplay says on the heartbeat topic, every few seconds until ctx
// ends, which file a replay plays, how far it is and the feed time it has
// reached, so that every web node's /cluster shows it; done closes when
// the replay has ended.
func announceReplay(ctx context.Context, brokers []string, topic, file string, follow *replayProgress, done <-chan struct{}, log *slog.Logger) {
	id := processID("replay")
	stream.Publish(ctx, stream.NodesConfig{Brokers: brokers, Topic: topic, Logger: log}, func() tape.Heartbeat {
		p := follow.latest()
		hb := tape.Heartbeat{ID: id, Role: tape.RoleReplay, Ready: true, File: filepath.Base(file), Fraction: follow.fraction(p), Recorded: p.Recorded.UTC()}
		if p.Position.File == "" {
			hb.Fraction = 0 // nothing read yet
		}
		select {
		case <-done:
			hb.Fraction, hb.Status = 1, "done"
		default:
		}
		return hb
	})
}

// progressBar prints a replay's progress: redrawn in place on a terminal
// (bar), or as one line per report. A nil *progressBar prints nothing.
type progressBar struct {
	w      io.Writer
	bar    bool
	follow *replayProgress
	width  func() int // the terminal's columns
	shown  bool       // a bar is on screen
	// The previous report, for the current message rate.
	lastMsgs int64
	lastAt   time.Duration
}

func (b *progressBar) update(p replay.Progress) {
	b.follow.update(p)
	if p.Done {
		return // the summary follows
	}
	rate := 0.0
	if dt := (p.Elapsed - b.lastAt).Seconds(); dt > 0 {
		rate = float64(p.Messages-b.lastMsgs) / dt
	}
	b.lastMsgs, b.lastAt = p.Messages, p.Elapsed
	frac := b.follow.fraction(p)
	eta := "ETA ?"
	if left, ok := b.follow.eta(p); ok {
		eta = "ETA " + left.Round(time.Second).String()
	}
	at := "-"
	if !p.Recorded.IsZero() {
		at = p.Recorded.UTC().Format("2006-01-02 15:04:05Z")
	}
	if b.bar {
		// What matters first: the bar, percentage, rate and ETA fit in 80
		// columns; position and counts follow while there is room.
		cells := ""
		if frac >= 0 {
			n := int(frac * replayBarWidth)
			cells = "[" + strings.Repeat("#", n) + strings.Repeat(".", replayBarWidth-n) + fmt.Sprintf("] %5.1f%%  ", 100*frac)
		}
		line := fmt.Sprintf("%s%.0f msg/s  %s  %s  %s  %d msgs  %d lost", cells, rate, eta, at, shortPosition(p.Position), p.Messages, p.Errors)
		if w := b.width(); len(line) >= w {
			line = line[:w-1]
		}
		fmt.Fprintf(b.w, "\r%s\x1b[K", line)
		b.shown = true
		return
	}
	pct := ""
	if frac >= 0 {
		pct = fmt.Sprintf(" (%.1f%%)", 100*frac)
	}
	fmt.Fprintf(b.w, "tape replay: at %s%s, recorded %s: %d messages, %.0f msg/s, %d lost, %s\n", p.Position, pct, at, p.Messages, rate, p.Errors, eta)
}

// shortPosition drops the directories from a "file:line" position.
func shortPosition(p replay.Position) string {
	s := p.String()
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// terminalWidth returns the width of the terminal w writes to, or 80.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col >= 20 {
			return int(ws.Col)
		}
	}
	return 80
}

// clear removes the bar from the screen before other output.
func (b *progressBar) clear() {
	if b != nil && b.shown {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.shown = false
	}
}

// stampEvents holds event slices for stampOf, which a replay calls for
// every message.
var stampEvents = sync.Pool{New: func() any { return new([]tape.Event) }}

// stampOf returns the time and first symbol of a raw message by
// normalising it.
func stampOf(format string, msg []byte) (time.Time, tape.Symbol, error) {
	f, ok := ingest.Lookup(format)
	if !ok {
		return time.Time{}, "", fmt.Errorf("unknown format %q", format)
	}
	buf := stampEvents.Get().(*[]tape.Event)
	defer stampEvents.Put(buf)
	evs, rejects := f.Normalize((*buf)[:0], msg)
	*buf = evs
	if len(evs) == 0 {
		if len(rejects) > 0 {
			return time.Time{}, "", rejects[0].Err
		}
		return time.Time{}, "", fmt.Errorf("no event")
	}
	return evs[0].Time, evs[0].Symbol, nil
}
