package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/feed"
)

// TestKcatMixedFormatsAndGarbage has kcat, a client tape did not write,
// produce one file holding a message in each of the six formats, control
// traffic and garbage, with no format header: the ingester sniffs each.
// Exactly the valid messages come out as quotes; the rest are dead letters
// with their reason.
func TestKcatMixedFormatsAndGarbage(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id}, tt.flags()...)...)

	now := time.Now().UTC().Truncate(time.Millisecond)
	ms, rfc := now.UnixMilli(), now.Format(time.RFC3339Nano)
	fix, err := feed.Encode(tape.FormatFIX, nil, tape.Event{Symbol: "FIXA", Kind: tape.KindTrade, Last: tape.MustPrice("60.75"), Size: 7, Time: now})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		fmt.Sprintf(`{"symbol":"TAPEA","bid":"10.10","ask":"10.20","bid_size":1,"ask_size":2,"ts":%q}`, rfc),
		fmt.Sprintf(`{"ev":"T","sym":"POLYA","x":4,"i":"9","p":20.5,"s":10,"t":%d}`, ms),
		fmt.Sprintf(`[{"T":"q","S":"ALPA","bx":"V","bp":30.1,"bs":1,"ax":"V","ap":30.2,"as":2,"t":%q}]`, rfc),
		fmt.Sprintf(`{"type":"trade","data":[{"s":"FINA","p":40.25,"t":%d,"v":5}]}`, ms),
		string(fix),
		fmt.Sprintf(`CSVA,%s,50.10,50.20,,`, rfc),
		`{"type":"ping"}`,
		`not a message at all`,
		fmt.Sprintf(`{"ev":"Q","sym":"BAD<>","bp":1,"ap":2,"t":%d}`, ms),
		"8=FIX.4.4\x019=5\x0135=W\x0110=000\x01",
		fmt.Sprintf(`{"type":"trade","data":[{"s":"FINB","p":-1,"t":%d,"v":1}]}`, ms),
	}
	file := filepath.Join(t.TempDir(), "mixed.txt")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kcat(t, "", "-b", brokers, "-P", "-t", tt.raw, "-l", file)

	want := []string{"ALPA quote 30.10/30.20", "CSVA quote 50.10/50.20", "FINA trade 40.25", "FIXA trade 60.75", "POLYA trade 20.50", "TAPEA quote 10.10/10.20"}
	var got []string
	for _, m := range readTopic(t, brokers, tt.quotes, len(want), 30*time.Second) {
		ev, err := tape.ParseEvent(m.Value)
		if err != nil {
			t.Fatalf("quotes holds %s: %v", m.Value, err)
		}
		if string(m.Key) != string(ev.Symbol) || !ev.Time.Equal(now) {
			t.Errorf("%s: key %q time %s, want the symbol and %s", ev.Symbol, m.Key, ev.Time, now)
		}
		switch ev.Kind {
		case tape.KindQuote:
			got = append(got, fmt.Sprintf("%s quote %s/%s", ev.Symbol, ev.Bid, ev.Ask))
		case tape.KindTrade:
			got = append(got, fmt.Sprintf("%s trade %s", ev.Symbol, ev.Last))
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("quotes\n got %v\nwant %v", got, want)
	}

	reasons := map[string]string{}
	for _, m := range readTopic(t, brokers, tt.dlq, 4, 30*time.Second) {
		reasons[header(m, tape.HeaderOriginOffset)] = header(m, tape.HeaderReason) + " (" + header(m, tape.HeaderFormat) + ")"
	}
	wantReasons := map[string]string{
		"7": "unknown_format ()", "8": "bad_symbol (polygon)", "9": "bad_field (fix)", "10": "bad_price (finnhub)",
	}
	if fmt.Sprint(reasons) != fmt.Sprint(wantReasons) {
		t.Fatalf("dead letters by raw offset\n got %v\nwant %v", reasons, wantReasons)
	}
	if extra := readTopic(t, brokers, tt.quotes, len(want)+1, 2*time.Second); len(extra) != len(want) {
		t.Fatalf("quotes holds %d events, want exactly %d", len(extra), len(want))
	}
}

// TestTwoIngestersOneKilled runs two ingester processes in the group, kills
// one with SIGKILL mid-stream, and checks that the origin ids on quotes are
// exactly the raw inputs: the survivor took over with nothing lost.
func TestTwoIngestersOneKilled(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 4)
	const n = 20000
	base := time.Now().Add(-time.Hour).UTC()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		sym := fmt.Sprintf("K%02d", i%50)
		msgs[i] = kafka.Message{Key: []byte(sym), Headers: []kafka.Header{{Key: "format", Value: []byte("polygon")}},
			Value: fmt.Appendf(nil, `{"ev":"Q","sym":"%s","bp":%d.10,"bs":1,"ap":%d.20,"as":1,"t":%d}`, sym, 10+i%80, 10+i%80, base.Add(time.Duration(i)*time.Millisecond).UnixMilli())}
	}
	args := append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id, "--batch", "100", "--session-timeout", "6s"}, tt.flags()...)
	victim := startProcess(t, args...)
	startProcess(t, args...)
	time.Sleep(3 * time.Second) // both join and split the partitions
	produce(t, brokers, tt.raw, msgs...)
	waitForOffsets(t, brokers, tt.quotes, n/4, 60*time.Second)
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.Wait()

	want := rawOrigins(t, brokers, tt, n)
	seen, total := quoteOrigins(t, brokers, tt, id, want, 90*time.Second)
	var missing, unexpected []string
	for o := range want {
		if seen[o] == 0 {
			missing = append(missing, o)
		}
	}
	for o := range seen {
		if !want[o] {
			unexpected = append(unexpected, o)
		}
	}
	t.Logf("%d raw, %d quotes read, %d distinct origins (%d repeats)", len(want), total, len(seen), total-len(seen))
	if len(want) != n || len(missing) > 0 || len(unexpected) > 0 {
		t.Fatalf("%d raw; %d origins missing (e.g. %v), %d unexpected (e.g. %v)", len(want),
			len(missing), missing[:min(3, len(missing))], len(unexpected), unexpected[:min(3, len(unexpected))])
	}
}
