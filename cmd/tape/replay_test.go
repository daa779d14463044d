package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/feed"
	"tape/ingest"
)

// replayFixture is a short recording made for a test.
type replayFixture struct {
	path   string   // gzip, named x.polygon.jsonl.gz
	lines  [][]byte // its messages
	valid  int      // lines the ingester accepts
	bad    int      // lines it dead-letters
	span   time.Duration
	format string
}

// newReplayFixture records seconds of a 20-symbol market at 100 messages a
// second, stamped an hour ago, with every 250th message damaged.
func newReplayFixture(t *testing.T, seconds int) replayFixture {
	t.Helper()
	start := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	g, err := feed.New(feed.Config{NumSymbols: 20, Rate: 100, Seed: 3, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	fx := replayFixture{format: tape.FormatPolygon, path: filepath.Join(t.TempDir(), "rec.polygon.jsonl.gz")}
	enc, _ := feed.NewEncoder(fx.format)
	reader, _ := ingest.Lookup(fx.format)
	var first, last time.Time
	end := start.Add(time.Duration(seconds) * time.Second)
	for ev := g.Next(); ev.Time.Before(end); ev = g.Next() {
		msg, err := enc.Append(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(fx.lines) + 1; n%250 == 0 {
			msg = feed.Malform(msg, n/250)
		}
		if evs, rejects := reader.Normalize(nil, msg); len(evs) == 1 && len(rejects) == 0 {
			fx.valid++
			if first.IsZero() {
				first = evs[0].Time
			}
			last = evs[0].Time
		} else {
			fx.bad++
		}
		fx.lines = append(fx.lines, msg)
	}
	fx.span = last.Sub(first)
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(append(bytes.Join(fx.lines, []byte("\n")), '\n'))
	zw.Close()
	if err := os.WriteFile(fx.path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if fx.bad == 0 || fx.valid < 1000 {
		t.Fatalf("fixture: %d valid, %d bad lines", fx.valid, fx.bad)
	}
	return fx
}

// wantEvents returns, per symbol, the normalised events of the fixture's
// valid lines, in the canonical form of canonicalQuote.
func (fx replayFixture) wantEvents(t *testing.T) map[string][]string {
	t.Helper()
	reader, _ := ingest.Lookup(fx.format)
	out := map[string][]string{}
	for _, line := range fx.lines {
		evs, rejects := reader.Normalize(nil, line)
		if len(rejects) > 0 {
			continue
		}
		for _, ev := range evs {
			out[string(ev.Symbol)] = append(out[string(ev.Symbol)], canonicalQuote(t, ev.AppendJSON(nil)))
		}
	}
	return out
}

// canonicalQuote is an events-topic or quotes-topic message without what
// depends on the path it took (its origin and fold position) and the day
// statistics the fold adds.
func canonicalQuote(t testing.TB, msg []byte) string {
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatalf("quote %s: %v", msg, err)
	}
	for _, k := range []string{"origin", "seq", "volume", "open", "high", "low"} {
		delete(m, k)
	}
	b, _ := json.Marshal(m) // sorted keys
	return string(b)
}

// quotesBySymbol waits until topic holds n quotes, reads them partition
// by partition and groups them by symbol, in order.
func quotesBySymbol(t *testing.T, brokers, topic string, n int) map[string][]string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for topicSize(t, brokers, topic) < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d quotes after 90s, want %d", topic, topicSize(t, brokers, topic), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := map[string][]string{}
	total := 0
	for _, p := range partitions(t, brokers, topic) {
		msgs := readPartition(t, brokers, topic, p)
		for _, m := range msgs {
			out[string(m.Key)] = append(out[string(m.Key)], canonicalQuote(t, m.Value))
		}
		total += len(msgs)
	}
	if total != n {
		t.Fatalf("%s: %d quotes, want %d", topic, total, n)
	}
	return out
}

// partitions lists the partitions of topic.
func partitions(t *testing.T, brokers, topic string) []int {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Transport: &kafka.Transport{}}
	meta, err := client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	var out []int
	for _, p := range meta.Topics[0].Partitions {
		out = append(out, p.ID)
	}
	return out
}

// readPartition reads one partition from its start to its end, without a
// consumer group.
func readPartition(t *testing.T, brokers, topic string, partition int) (msgs []kafka.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", strings.Split(brokers, ",")[0], topic, partition)
	if err != nil {
		t.Fatalf("%s/%d: %v", topic, partition, err)
	}
	end, err := conn.ReadLastOffset()
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: strings.Split(brokers, ","), Topic: topic, Partition: partition, MaxWait: 250 * time.Millisecond})
	defer r.Close()
	for int64(len(msgs)) < end {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("%s/%d: %v after %d of %d", topic, partition, err, len(msgs), end)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// topicSize returns how many messages topic holds, over all partitions.
func topicSize(t *testing.T, brokers, topic string) int64 {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Transport: &kafka.Transport{}}
	meta, err := client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	res, err := client.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, po := range res.Topics[topic] {
		total += po.LastOffset
	}
	return total
}

func diffBySymbol(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	for sym, w := range want {
		if g := got[sym]; !slices.Equal(g, w) {
			i := 0
			for i < len(g) && i < len(w) && g[i] == w[i] {
				i++
			}
			t.Errorf("%s: %s: %d quotes, want %d; first difference at %d:\n got %v\nwant %v", what, sym, len(g), len(w), i,
				g[min(i, len(g)):min(i+1, len(g))], w[min(i, len(w)):min(i+1, len(w))])
		}
	}
	for sym := range got {
		if _, ok := want[sym]; !ok {
			t.Errorf("%s: quotes of %s, which is not in the recording", what, sym)
		}
	}
}

// TestReplayDeliversExactlyTheValidRecords replays a recording at --speed
// max through a real ingester: every valid line comes out on the events
// topic, once, with the content the ingest normaliser gives it, in order
// per symbol, and as one folded quote on the quotes topic; every damaged
// line goes to the dead-letter topic.
func TestReplayDeliversExactlyTheValidRecords(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	fx := newReplayFixture(t, 20)

	out := runOK(t, append([]string{"replay", "--brokers", brokers, "--file", fx.path, "--speed", "max", "--progress", "none"}, tt.flags()[:2]...)...)
	if want := fmt.Sprintf("tape replay: %d messages", len(fx.lines)); !strings.Contains(out, want) || !strings.Contains(out, " 0 lost") {
		t.Fatalf("summary %q, want %q and nothing lost", out, want)
	}
	start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id}, tt.flags()...)...)
	got := quotesBySymbol(t, brokers, tt.events, fx.valid)
	diffBySymbol(t, "replay", got, fx.wantEvents(t))
	quotesBySymbol(t, brokers, tt.quotes, fx.valid)
	if dlq := readTopic(t, brokers, tt.dlq, fx.bad, 30*time.Second); len(dlq) != fx.bad {
		t.Errorf("dead letters: %d, want %d", len(dlq), fx.bad)
	}
	// Nothing more arrives: the topics hold exactly that much.
	time.Sleep(time.Second)
	if n := topicSize(t, brokers, tt.quotes); n != int64(fx.valid) {
		t.Errorf("quotes topic holds %d messages, want %d", n, fx.valid)
	}
	if n := topicSize(t, brokers, tt.raw); n != int64(len(fx.lines)) {
		t.Errorf("raw topic holds %d messages, want %d", n, len(fx.lines))
	}
}

// TestReplaySpeedTenTakesATenthOfTheSpan replays a 20 s recording at
// --speed 10 and checks it takes about 2 s (loosely: this machine is
// shared and noisy).
func TestReplaySpeedTenTakesATenthOfTheSpan(t *testing.T) {
	brokers := testBrokers(t)
	tt := newTopics(t, brokers, uniqueID(t), 3)
	fx := newReplayFixture(t, 20)
	began := time.Now()
	runOK(t, "replay", "--brokers", brokers, "--topic-raw", tt.raw, "--file", fx.path, "--speed", "10", "--progress", "none")
	took := time.Since(began)
	want := fx.span / 10
	t.Logf("recording spans %s; --speed 10 took %s (want about %s)", fx.span, took, want)
	if took < want/2 || took > 2*want {
		t.Fatalf("--speed 10 took %s, want between %s and %s", took, want/2, 2*want)
	}
	if n := topicSize(t, brokers, tt.raw); n != int64(len(fx.lines)) {
		t.Errorf("raw topic holds %d messages, want %d", n, len(fx.lines))
	}
}

// TestKcatAndReplayGiveTheSameQuotes produces one recording twice, once
// with kcat (keyed by symbol, the format in a header) and once with tape
// replay, each into its own topics with its own ingester: the quotes are
// the same, symbol by symbol: the events, and the folded quotes.
func TestKcatAndReplayGiveTheSameQuotes(t *testing.T) {
	brokers := testBrokers(t)
	fx := newReplayFixture(t, 10)
	reader, _ := ingest.Lookup(fx.format)
	keyed := filepath.Join(t.TempDir(), "keyed.txt")
	var b bytes.Buffer
	for _, line := range fx.lines {
		evs, _ := reader.Normalize(nil, line)
		if len(evs) > 0 {
			b.WriteString(string(evs[0].Symbol))
		}
		b.WriteByte('\t')
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(keyed, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	results := map[string]map[string][]string{}
	folded := map[string]map[string][]string{}
	for _, via := range []string{"kcat", "replay"} {
		id := uniqueID(t) + "-" + via
		tt := newTopics(t, brokers, id, 3)
		if via == "kcat" {
			kcat(t, "", "-b", brokers, "-P", "-t", tt.raw, "-K", "\t", "-H", "format="+fx.format, "-l", keyed)
		} else {
			runOK(t, "replay", "--brokers", brokers, "--topic-raw", tt.raw, "--file", fx.path, "--speed", "max", "--progress", "none")
		}
		start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id}, tt.flags()...)...)
		results[via] = quotesBySymbol(t, brokers, tt.events, fx.valid)
		folded[via] = quotesBySymbol(t, brokers, tt.quotes, fx.valid)
	}
	diffBySymbol(t, "kcat vs replay", results["kcat"], results["replay"])
	diffBySymbol(t, "kcat vs replay, folded", folded["kcat"], folded["replay"])
	diffBySymbol(t, "replay vs the recording", results["replay"], fx.wantEvents(t))
}

// TestReplayFromStdinStopAndResume runs tape replay as a process reading
// the recording from standard input, stops it with SIGINT part way, and
// resumes from the line it printed: the raw topic then holds every line
// exactly once.
func TestReplayFromStdinStopAndResume(t *testing.T) {
	brokers := testBrokers(t)
	tt := newTopics(t, brokers, uniqueID(t), 3)
	fx := newReplayFixture(t, 20)

	args := []string{"replay", "--brokers", brokers, "--topic-raw", tt.raw, "--file", "-", "--speed", "10", "--progress", "log"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TAPE_TEST_AS_MAIN=1")
	in, err := os.Open(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tape replay after SIGINT: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`stopped at -:(\d+); continue with --resume-from -:(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no stopping point in the output:\n%s", out.String())
	}
	t.Logf("stopped at line %s of %d", m[1], len(fx.lines))

	// Resume by file and line, from the file this time.
	runOK(t, "replay", "--brokers", brokers, "--topic-raw", tt.raw, "--file", fx.path, "--speed", "max", "--resume-from", fx.path+":"+m[1], "--progress", "none")
	msgs := readTopic(t, brokers, tt.raw, len(fx.lines), 60*time.Second)
	got := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if header(m, "format") != fx.format {
			t.Fatalf("message without the format header: %+v", m.Headers)
		}
		got = append(got, string(m.Value))
	}
	want := make([]string, 0, len(fx.lines))
	for _, l := range fx.lines {
		want = append(want, string(l))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || topicSize(t, brokers, tt.raw) != int64(len(fx.lines)) {
		t.Fatalf("raw topic holds %d messages (%d in all), want each of the %d lines once", len(got), topicSize(t, brokers, tt.raw), len(fx.lines))
	}
}

// TestReplayBadFiles checks that files that are not recordings give an
// error naming the file and line, from the command.
func TestReplayBadFiles(t *testing.T) {
	brokers := testBrokers(t)
	tt := newTopics(t, brokers, uniqueID(t), 1)
	dir := t.TempDir()
	fx := newReplayFixture(t, 20)
	whole, _ := os.ReadFile(fx.path)
	files := map[string][]byte{
		"truncated.polygon.jsonl.gz": whole[:len(whole)*2/3],
		"binary.polygon.jsonl":       {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0x0d},
		"huge.polygon.jsonl":         append([]byte("{}\n"), bytes.Repeat([]byte("x"), 2<<20)...),
	}
	wants := map[string]*regexp.Regexp{
		"truncated.polygon.jsonl.gz": regexp.MustCompile(`truncated\.polygon\.jsonl\.gz:\d+: replay: corrupt or truncated gzip`),
		"binary.polygon.jsonl":       regexp.MustCompile(`binary\.polygon\.jsonl:1: replay: binary data`),
		"huge.polygon.jsonl":         regexp.MustCompile(`huge\.polygon\.jsonl:2: replay: line longer than`),
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			os.WriteFile(path, data, 0o644)
			var stdout, stderr bytes.Buffer
			err := runEnv(context.Background(), []string{"replay", "--brokers", brokers, "--topic-raw", tt.raw, "--file", path, "--speed", "max", "--progress", "none"},
				environ{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
			if err == nil || !wants[name].MatchString(err.Error()) {
				t.Fatalf("error %v, want one matching %s", err, wants[name])
			}
			if !strings.Contains(stdout.String(), "tape replay: ") {
				t.Errorf("no summary of what was sent before the bad line: %q", stdout.String())
			}
		})
	}
}
