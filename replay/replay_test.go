package replay_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/replay"
)

func TestFormatOf(t *testing.T) {
	tests := []struct{ name, want string }{
		{"session.polygon.jsonl.gz", "polygon"},
		{"testdata/feeds/open30m.tape.jsonl.gz", "tape"},
		{"x.alpaca.jsonl", "alpaca"},
		{"x.finnhub.ndjson", "finnhub"},
		{"session.fix.txt.gz", "fix"},
		{"day.fix", "fix"},
		{"session.csv.gz", "csv"},
		{"a.b.csv", "csv"},
		{"plain.jsonl.gz", ""},
		{"-", ""},
		{"noext", ""},
		{"x.polygon.json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replay.FormatOf(tt.name); got != tt.want {
				t.Errorf("FormatOf(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestParsePosition(t *testing.T) {
	tests := []struct {
		in      string
		want    replay.Position
		wantErr bool
	}{
		{"12", replay.Position{Line: 12}, false},
		{"a/b.csv.gz:7", replay.Position{File: "a/b.csv.gz", Line: 7}, false},
		{"c:\\x.csv:3", replay.Position{File: "c:\\x.csv", Line: 3}, false},
		{"0", replay.Position{}, true},
		{"x:", replay.Position{}, true},
		{"x:-1", replay.Position{}, true},
		{"", replay.Position{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := replay.ParsePosition(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParsePosition(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPacer(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	tests := []struct {
		name  string
		pacer replay.Pacer
		stamp []float64 // seconds after t0; NaN: no time
		want  []float64 // seconds after now
	}{
		{"real time", replay.Pacer{Speed: 1}, []float64{0, 1, 1.5, 10}, []float64{0, 1, 1.5, 10}},
		{"ten times", replay.Pacer{Speed: 10}, []float64{5, 6, 15, 105}, []float64{0, 0.1, 1, 10}},
		{"thousand times", replay.Pacer{Speed: 1000}, []float64{0, 1, 60}, []float64{0, 0.001, 0.06}},
		{"max", replay.Pacer{Speed: math.Inf(1)}, []float64{0, 100, 200}, []float64{0, 0, 0}},
		{"zero is max", replay.Pacer{}, []float64{0, 100}, []float64{0, 0}},
		{"no time goes at once", replay.Pacer{Speed: 1}, []float64{0, math.NaN(), 2}, []float64{0, 0, 2}},
		{"out of order goes at once", replay.Pacer{Speed: 1}, []float64{10, 5, 11}, []float64{0, -5, 1}},
		{"rate ignores stamps", replay.Pacer{Rate: 4}, []float64{0, 100, math.NaN(), 0}, []float64{0, 0.25, 0.5, 0.75}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pacer
			for i, s := range tt.stamp {
				ts := time.Time{}
				if !math.IsNaN(s) {
					ts = t0.Add(sec(s))
				}
				if got, want := p.Due(ts, now), now.Add(sec(tt.want[i])); !got.Equal(want) {
					t.Errorf("message %d stamped %v: due %v after now, want %v", i, s, got.Sub(now), want.Sub(now))
				}
			}
		})
	}
	t.Run("restart", func(t *testing.T) {
		p := replay.Pacer{Speed: 2}
		p.Due(t0, now)
		p.Restart()
		later := now.Add(time.Hour)
		if got := p.Due(t0.Add(time.Minute), later); !got.Equal(later) {
			t.Errorf("first message after Restart due %v, want now", got.Sub(later))
		}
		if got := p.Due(t0.Add(2*time.Minute), later); !got.Equal(later.Add(30 * time.Second)) {
			t.Errorf("second message due %v after, want 30s", got.Sub(later))
		}
	})
}

// fakeProducer records what a replay produces; fail, if set, decides a
// message's fate.
type fakeProducer struct {
	mu   sync.Mutex
	msgs []kafka.Message
	fail func(m kafka.Message) error
}

func (f *fakeProducer) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs kafka.WriteErrors
	if f.fail != nil {
		errs = make(kafka.WriteErrors, len(msgs))
	}
	for i, m := range msgs {
		if f.fail != nil {
			if errs[i] = f.fail(m); errs[i] != nil {
				continue
			}
		}
		m.Value = bytes.Clone(m.Value) // a replay reuses its buffers
		f.msgs = append(f.msgs, m)
	}
	if errs != nil && errs.Count() > 0 {
		return errs
	}
	return nil
}

func (f *fakeProducer) values() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.msgs {
		out = append(out, string(m.Value))
	}
	return out
}

// A line of the test format "csv-ish": SYMBOL,SECONDS after t0, or
// anything else for a line without a time.
var t0 = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

func stamp(_ string, msg []byte) (time.Time, tape.Symbol, error) {
	sym, secs, ok := strings.Cut(string(msg), ",")
	var s int
	if _, err := fmt.Sscanf(secs, "%d", &s); !ok || err != nil {
		return time.Time{}, "", errors.New("no time")
	}
	return t0.Add(time.Duration(s) * time.Second), tape.Symbol(sym), nil
}

const recording = `AAPL,0
MSFT,10

AAPL,20
bad line
MSFT,30
AAPL,40
`

func TestFilters(t *testing.T) {
	tests := []struct {
		name string
		cfg  replay.Config
		want string
	}{
		{"all", replay.Config{}, "AAPL,0 MSFT,10 AAPL,20 bad line MSFT,30 AAPL,40"},
		{"from", replay.Config{From: t0.Add(20 * time.Second)}, "AAPL,20 bad line MSFT,30 AAPL,40"},
		{"to", replay.Config{To: t0.Add(20 * time.Second)}, "AAPL,0 MSFT,10"},
		{"window", replay.Config{From: t0.Add(10 * time.Second), To: t0.Add(31 * time.Second)}, "MSFT,10 AAPL,20 bad line MSFT,30"},
		{"symbols", replay.Config{Symbols: []tape.Symbol{"MSFT"}}, "MSFT,10 MSFT,30"},
		{"symbols and window", replay.Config{Symbols: []tape.Symbol{"AAPL"}, From: t0.Add(time.Second)}, "AAPL,20 AAPL,40"},
		{"resume at a line", replay.Config{Resume: replay.Position{Line: 5}}, "bad line MSFT,30 AAPL,40"},
		{"resume at a file and line", replay.Config{Resume: replay.Position{File: "rec.x.jsonl", Line: 4}}, "AAPL,20 bad line MSFT,30 AAPL,40"},
		{"rate", replay.Config{Rate: 1000}, "AAPL,0 MSFT,10 AAPL,20 bad line MSFT,30 AAPL,40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeProducer{}
			cfg := tt.cfg
			cfg.Writer, cfg.Stamp, cfg.Speed = p, stamp, math.Inf(1)
			cfg.FS = fstest.MapFS{"rec.x.jsonl": {Data: []byte(recording)}}
			sum, err := replay.Run(context.Background(), cfg, "rec.x.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(p.values(), " ")
			if got != tt.want {
				t.Fatalf("produced %q, want %q", got, tt.want)
			}
			if int(sum.Messages) != len(p.msgs) || sum.Messages+sum.Filtered != 6 {
				t.Errorf("summary %+v: want %d messages and the rest of 6 left out", sum, len(p.msgs))
			}
		})
	}
}

func TestRunKeysAndHeaders(t *testing.T) {
	p := &fakeProducer{}
	_, err := replay.Run(context.Background(), replay.Config{Writer: p, Stamp: stamp, Speed: math.Inf(1), Topic: "raw",
		FS: fstest.MapFS{"r.polygon.jsonl.gz": {Data: gzipped(t, recording)}}}, "r.polygon.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.msgs) != 6 {
		t.Fatalf("%d messages, want 6", len(p.msgs))
	}
	for _, m := range p.msgs {
		sym, _, _ := strings.Cut(string(m.Value), ",")
		if m.Value[0] == 'b' {
			sym = "" // no symbol: no key
		}
		if string(m.Key) != sym || m.Topic != "raw" || len(m.Headers) != 1 || string(m.Headers[0].Value) != "polygon" {
			t.Errorf("message %s: key %q topic %q headers %v", m.Value, m.Key, m.Topic, m.Headers)
		}
	}
}

func TestRunReportsEveryLostRecord(t *testing.T) {
	p := &fakeProducer{fail: func(m kafka.Message) error {
		if string(m.Key) == "MSFT" {
			return kafka.MessageSizeTooLarge
		}
		return nil
	}}
	var lost []string
	sum, err := replay.Run(context.Background(), replay.Config{Writer: p, Stamp: stamp, Speed: math.Inf(1),
		FS:     fstest.MapFS{"r.x.jsonl": {Data: []byte(recording)}},
		Failed: func(pos replay.Position, err error) { lost = append(lost, pos.String()) }}, "r.x.jsonl")
	if !errors.Is(err, replay.ErrLost) {
		t.Fatalf("error %v, want ErrLost", err)
	}
	if got := strings.Join(lost, " "); got != "r.x.jsonl:2 r.x.jsonl:6" || sum.Errors != 2 || sum.Messages != 4 {
		t.Fatalf("lost %q, summary %+v; want lines 2 and 6 lost, 4 produced", got, sum)
	}
}

func TestRunStopsAndSaysWhere(t *testing.T) {
	p := &fakeProducer{}
	ctx, cancel := context.WithCancel(context.Background())
	var lines strings.Builder
	for i := range 100 {
		fmt.Fprintf(&lines, "AAPL,%d\n", i)
	}
	var sum replay.Summary
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sum, err = replay.Run(ctx, replay.Config{Writer: p, Stamp: stamp, Rate: 200,
			FS: fstest.MapFS{"r.x.jsonl": {Data: []byte(lines.String())}}}, "r.x.jsonl")
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	if err != nil || !sum.Stopped {
		t.Fatalf("Run = %+v, %v; want a clean stop", sum, err)
	}
	n := len(p.values())
	if n == 0 || n == 100 || sum.Next != (replay.Position{File: "r.x.jsonl", Line: n + 1}) {
		t.Fatalf("stopped after %d messages at %v, want the next line", n, sum.Next)
	}
	// Resuming from there sends the rest, once.
	if _, err := replay.Run(context.Background(), replay.Config{Writer: p, Stamp: stamp, Speed: math.Inf(1), Resume: sum.Next,
		FS: fstest.MapFS{"r.x.jsonl": {Data: []byte(lines.String())}}}, "r.x.jsonl"); err != nil {
		t.Fatal(err)
	}
	if got := p.values(); len(got) != 100 || got[n] != fmt.Sprintf("AAPL,%d", n) || got[99] != "AAPL,99" {
		t.Fatalf("after resuming: %d messages, want 100 in order", len(got))
	}
}

func TestLoop(t *testing.T) {
	p := &fakeProducer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sum, err := replay.Run(ctx, replay.Config{Writer: p, Stamp: stamp, Speed: math.Inf(1), Loop: true, BatchSize: 1,
		FS:     fstest.MapFS{"r.x.jsonl": {Data: []byte(recording)}},
		Failed: func(replay.Position, error) {},
		Progress: func(pr replay.Progress) {
			if pr.Messages >= 15 {
				cancel()
			}
		}, ProgressEvery: time.Nanosecond}, "r.x.jsonl")
	if err != nil || !sum.Stopped || sum.Messages < 15 {
		t.Fatalf("loop: %+v, %v; want a clean stop after a round or more", sum, err)
	}
	_, err = replay.Run(context.Background(), replay.Config{Writer: p, Stamp: stamp, Loop: true, To: t0.Add(-time.Hour),
		FS: fstest.MapFS{"r.x.jsonl": {Data: []byte(recording)}}}, "r.x.jsonl")
	if err == nil || !strings.Contains(err.Error(), "nothing to loop over") {
		t.Fatalf("loop over nothing: %v", err)
	}
	if _, err = replay.Run(context.Background(), replay.Config{Writer: p, Stamp: stamp, Loop: true}, "-"); err == nil {
		t.Fatal("looping over standard input: no error")
	}
}

func TestBadFiles(t *testing.T) {
	good := gzipped(t, strings.Repeat("AAPL,1\n", 5000))
	tests := []struct {
		name string
		data []byte
		want string // in the error
	}{
		{"truncated gzip", good[:len(good)/2], "replay: corrupt or truncated gzip"},
		{"bad gzip header", []byte{0x1f, 0x8b, 0, 0, 0}, "r.x.jsonl:1: replay: corrupt"},
		{"binary", []byte("AAPL,1\n\x00\x01\x02\xff\xfe\n"), "r.x.jsonl:2: replay: binary"},
		{"invalid utf-8", []byte("AAPL,1\nAAPL,2\n\xc3\x28\n"), "r.x.jsonl:3: replay: binary"},
		{"huge line", append([]byte("AAPL,1\n"), bytes.Repeat([]byte("x"), replay.MaxLineBytes+10)...), "r.x.jsonl:2: replay: line longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := replay.Run(context.Background(), replay.Config{Writer: &fakeProducer{}, Stamp: stamp, Speed: math.Inf(1),
				FS: fstest.MapFS{"r.x.jsonl": {Data: tt.data}}}, "r.x.jsonl")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := replay.Run(context.Background(), replay.Config{Writer: &fakeProducer{}, Stamp: stamp,
		FS: fstest.MapFS{}}, "missing.x.jsonl"); err == nil || !strings.Contains(err.Error(), "missing.x.jsonl") {
		t.Errorf("missing file: %v", err)
	}
}

func gzipped(tb testing.TB, s string) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// FuzzReader feeds arbitrary bytes, plain or gzipped, to the reader: it
// must never panic, never return a line over MaxLineBytes, and end.
func FuzzReader(f *testing.F) {
	f.Add([]byte("AAPL,1\nMSFT,2\n"), false)
	f.Add([]byte("8=FIX.4.4\x019=5\x0135=X\x0110=000\x01\r\n\n  \n"), true)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, false)
	f.Add([]byte("\xef\xbb\xbf{\"a\":1}"), true)
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if compress {
			data = gzipped(t, string(data))
		}
		r, err := replay.NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for n := 0; ; n++ {
			if n > len(data)*1100+1 {
				t.Fatalf("more than %d lines from %d bytes", n, len(data))
			}
			line, err := r.Next()
			if err != nil {
				if _, again := r.Next(); again != err {
					t.Fatalf("error not sticky: %v then %v", err, again)
				}
				return
			}
			if len(line) > replay.MaxLineBytes || r.Line() != n+1 {
				t.Fatalf("line %d (reader says %d) of %d bytes", n+1, r.Line(), len(line))
			}
		}
	})
}
