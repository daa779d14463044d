package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// foldTrades returns n Polygon trades cycling over syms, stamped from
// yesterday noon (UTC, so all on one day), sizes 1 to 7, spread over every
// raw partition: even ones unkeyed, odd ones keyed by their index. It also
// returns the sum of sizes per symbol.
func foldTrades(first, n int, syms []string) ([]kafka.Message, map[string]int64) {
	base := time.Now().UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour)
	msgs := make([]kafka.Message, n)
	sums := map[string]int64{}
	for k := range n {
		i := first + k
		sym, size := syms[i%len(syms)], int64(1+i%7)
		sums[sym] += size
		var key []byte
		if i%2 == 1 {
			key = fmt.Appendf(nil, "k%d", i)
		}
		msgs[k] = kafka.Message{Key: key, Headers: []kafka.Header{{Key: tape.HeaderFormat, Value: []byte("polygon")}},
			Value: fmt.Appendf(nil, `{"ev":"T","sym":"%s","x":4,"i":"%d","p":%d.25,"s":%d,"t":%d}`, sym, i, 10+i%50, size, base.Add(time.Duration(i)*time.Millisecond).UnixMilli())}
	}
	return msgs, sums
}

func symPartition(sym string, parts int) int {
	return int(crc32.ChecksumIEEE([]byte(sym)) % uint32(parts))
}

// latestVolumes reads the latest topic and returns the last volume of each
// symbol and the marker of each partition.
func latestVolumes(t *testing.T, brokers, topic string) (map[string]int64, map[int]int64) {
	t.Helper()
	vols, marks := map[string]int64{}, map[int]int64{}
	for _, p := range partitions(t, brokers, topic) {
		for _, m := range readPartition(t, brokers, topic, p) {
			if string(m.Key) == tape.LatestMarkerKey {
				var mk struct{ Next int64 }
				if err := json.Unmarshal(m.Value, &mk); err != nil {
					t.Fatalf("marker %s: %v", m.Value, err)
				}
				marks[p] = mk.Next
				continue
			}
			q, err := tape.ParseCheckpointQuote(m.Value)
			if err != nil {
				t.Fatalf("%s/%d holds %s: %v", topic, p, m.Value, err)
			}
			vols[string(m.Key)] = wholeUnits(q.Volume)
		}
	}
	return vols, marks
}

// waitForVolumes polls the latest topic until every symbol of want shows
// its volume there.
func waitForVolumes(t *testing.T, brokers, topic string, want map[string]int64, timeout time.Duration) map[int]int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		vols, marks := latestVolumes(t, brokers, topic)
		ok := true
		for sym, v := range want {
			ok = ok && vols[sym] == v
		}
		if ok {
			return marks
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %s shows volumes %v, want %v", topic, timeout, vols, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// foldHistory is what the quotes topic says of one symbol.
type foldHistory struct {
	distinct, repeats int
	volume            int64
	maxSeq            int64
}

// checkRunningVolumes reads the quotes topic and checks, for every symbol
// of want, the user's view of its quotes in order: a quote whose fold
// position (seq) came before is a repeat and must be identical to the
// first (web nodes drop it); every other quote has a newer position and a
// volume equal to the running sum of the sizes of the trades folded so
// far, which ends at want. A quote names the raw message of its trade
// (origin), whose size the raw topic says; its own last_size may be an
// earlier trade's, since trades from different raw partitions reach the
// fold out of time order and a late one does not move the last price.
func checkRunningVolumes(t *testing.T, brokers string, tt testTopics, parts int, want map[string]int64) map[string]*foldHistory {
	t.Helper()
	sizes := map[string]int64{}
	sizeOf := regexp.MustCompile(`"s":(\d+)`)
	for _, p := range partitions(t, brokers, tt.raw) {
		for _, m := range readPartition(t, brokers, tt.raw, p) {
			if sm := sizeOf.FindSubmatch(m.Value); sm != nil {
				n, _ := strconv.ParseInt(string(sm[1]), 10, 64)
				sizes[fmt.Sprintf("%s/%d/%d/0", tt.raw, p, m.Offset)] = n
			}
		}
	}
	out := map[string]*foldHistory{}
	byPart := map[int][]kafka.Message{}
	for sym := range want {
		p := symPartition(sym, parts)
		if _, ok := byPart[p]; !ok {
			byPart[p] = readPartition(t, brokers, tt.quotes, p)
		}
		h := &foldHistory{maxSeq: -1}
		out[sym] = h
		seen := map[string][]byte{}
		for _, m := range byPart[p] {
			if string(m.Key) != sym {
				continue
			}
			q := parseQuoteRecord(t, m.Value)
			at, err := tape.ParseSeq([]byte(q.Seq))
			sp, off := at.Partition, at.Offset
			if err != nil || sp != p || q.Symbol != sym {
				t.Fatalf("%s: quote in %s/%d has seq %q: %s", sym, tt.quotes, p, q.Seq, m.Value)
			}
			if first, ok := seen[q.Seq]; ok {
				if !bytes.Equal(first, m.Value) {
					t.Fatalf("%s: refolded quote differs from the first at seq %s:\n first %s\n again %s", sym, q.Seq, first, m.Value)
				}
				h.repeats++
				continue
			}
			if off <= h.maxSeq {
				t.Fatalf("%s: quote at offset %d has a new seq %s older than %d: %s", sym, m.Offset, q.Seq, h.maxSeq, m.Value)
			}
			seen[q.Seq] = m.Value
			h.maxSeq = off
			h.distinct++
			size, ok := sizes[q.Origin]
			if !ok {
				t.Fatalf("%s: quote %d names origin %s, which is no raw trade", sym, h.distinct, q.Origin)
			}
			h.volume += size
			if q.Kind != "trade" || int64(q.Volume) != h.volume {
				t.Fatalf("%s: quote %d (seq %s) shows volume %d after a trade of %d; the running sum is %d",
					sym, h.distinct, q.Seq, q.Volume, size, h.volume)
			}
		}
		if h.volume != want[sym] {
			t.Fatalf("%s: the quotes add up to volume %d, want %d", sym, h.volume, want[sym])
		}
	}
	return out
}

// produceSlowly produces msgs in chunks, calling at(i) before chunk i.
func produceSlowly(t *testing.T, brokers, topic string, msgs []kafka.Message, chunk int, at func(i int)) {
	t.Helper()
	for i := 0; i*chunk < len(msgs); i++ {
		at(i)
		produce(t, brokers, topic, msgs[i*chunk:min((i+1)*chunk, len(msgs))]...)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOneSymbolOverEveryRawPartitionTwoIngestersOneKilled spreads the
// trades of one symbol (and some others) over every raw partition,
// unkeyed and keyed by something else, with two ingester processes, and
// kills one with SIGKILL mid-stream: for each symbol the quotes, once
// repeats are dropped, show a volume equal to the running sum of sizes at
// every step, and the latest topic ends at the sum of all sizes.
func TestOneSymbolOverEveryRawPartitionTwoIngestersOneKilled(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	const parts = 4
	tt := newTopics(t, brokers, id, parts)
	syms := []string{"VOL", "VOL", "VOL", "OTHA", "OTHB"}
	msgs, sums := foldTrades(0, 12000, syms)
	args := append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id,
		"--batch", "100", "--session-timeout", "6s", "--checkpoint-interval", "200ms"}, tt.flags()...)
	victim := startProcess(t, args...)
	startProcess(t, args...)
	produceSlowly(t, brokers, tt.raw, msgs, 250, func(i int) {
		if i == len(msgs)/250/2 {
			waitForOffsets(t, brokers, tt.quotes, 1000, 60*time.Second)
			if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			victim.Wait()
		}
	})
	rawPartitions := map[int]bool{}
	for _, m := range readTopic(t, brokers, tt.raw, len(msgs), 60*time.Second) {
		if strings.Contains(string(m.Value), `"sym":"VOL"`) {
			rawPartitions[m.Partition] = true
		}
	}
	if len(rawPartitions) != parts {
		t.Fatalf("VOL's trades are on raw partitions %v, want all %d", rawPartitions, parts)
	}

	waitForVolumes(t, brokers, tt.latest, sums, 120*time.Second)
	hist := checkRunningVolumes(t, brokers, tt, parts, sums)
	for _, sym := range []string{"VOL", "OTHA", "OTHB"} {
		t.Logf("%s: %d quotes, %d repeats, volume %d", sym, hist[sym].distinct, hist[sym].repeats, hist[sym].volume)
	}
	if n := hist["VOL"].distinct; n != 12000*3/5 {
		t.Errorf("VOL: %d distinct quotes, want one per trade (%d)", n, 12000*3/5)
	}
}

// TestRestartOfBothIngestersContinuesVolumeExactly folds a first batch of
// trades, waits until the checkpoints cover it, kills both ingesters,
// starts two new ones and folds a second batch: volume continues from the
// checkpoint exactly, and the new ingesters refold nothing (no repeat).
func TestRestartOfBothIngestersContinuesVolumeExactly(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	const parts = 3
	tt := newTopics(t, brokers, id, parts)
	syms := []string{"VOL", "OTHA"}
	first, sums1 := foldTrades(0, 3000, syms)
	second, sums2 := foldTrades(3000, 3000, syms)
	sums := map[string]int64{}
	for _, s := range syms {
		sums[s] = sums1[s] + sums2[s]
	}
	args := append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id,
		"--session-timeout", "6s"}, tt.flags()...)

	old := []*exec.Cmd{startProcess(t, args...), startProcess(t, args...)}
	produce(t, brokers, tt.raw, first...)
	marks := waitForVolumes(t, brokers, tt.latest, sums1, 60*time.Second)
	// Wait until the marker of VOL's partition covers every event.
	p := symPartition("VOL", parts)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if end := int64(len(readPartition(t, brokers, tt.events, p))); marks[p] == end {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("marker of %s/%d at %d, want the partition's end", tt.latest, p, marks[p])
		}
		time.Sleep(250 * time.Millisecond)
		_, marks = latestVolumes(t, brokers, tt.latest)
	}
	before := checkRunningVolumes(t, brokers, tt, parts, sums1)
	for _, c := range old {
		if err := c.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.Wait()
	}

	startProcess(t, args...)
	startProcess(t, args...)
	produce(t, brokers, tt.raw, second...)
	waitForVolumes(t, brokers, tt.latest, sums, 120*time.Second)
	after := checkRunningVolumes(t, brokers, tt, parts, sums)
	if got, want := after["VOL"].distinct, 6000/2; got != want {
		t.Errorf("VOL: %d distinct quotes, want %d", got, want)
	}
	if r := after["VOL"].repeats - before["VOL"].repeats; r != 0 {
		t.Errorf("VOL: the restarted ingesters refolded %d events the checkpoint held", r)
	}
}

// TestAddedPartitionsKeepDayStatistics: partitions are added to the
// events, quotes and latest topics while the ingesters are stopped (the
// documented way), so most symbols now belong to another partition. The
// restarted fold takes each moved symbol's state from its old partition:
// day volume and open continue, on a web node that ran throughout.
func TestAddedPartitionsKeepDayStatistics(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 2)
	web := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id,
		"--drain", "0s", "--reject-unknown=false"}, tt.flags()...)...)
	base := "http://" + web.addrs["http"]
	waitReady(t, base)
	args := append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id,
		"--checkpoint-interval", "100ms"}, tt.flags()...)
	trades := func(price string, at time.Time) []kafka.Message {
		var msgs []kafka.Message
		for i := range 20 {
			msgs = append(msgs, kafka.Message{Headers: []kafka.Header{{Key: tape.HeaderFormat, Value: []byte(tape.FormatTape)}},
				Value: fmt.Appendf(nil, `{"symbol":"XP%d","last":%q,"size":"10","ts":%q}`, i, price, at.Format(time.RFC3339Nano))})
		}
		return msgs
	}
	now := time.Now().UTC()
	first := startProcess(t, args...)
	produce(t, brokers, tt.raw, trades("5.00", now)...)
	for i := range 20 {
		waitFor(t, base, fmt.Sprintf("XP%d", i), map[string]string{"volume": "10"})
	}
	time.Sleep(500 * time.Millisecond) // a checkpoint after the last fold
	first.Process.Signal(syscall.SIGTERM)
	first.Wait()

	client := &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	var grow []kafka.TopicPartitionsConfig
	for _, topic := range []string{tt.events, tt.quotes, tt.latest} {
		grow = append(grow, kafka.TopicPartitionsConfig{Name: topic, Count: 4})
	}
	if res, err := client.CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{Topics: grow}); err != nil || len(res.Errors) > 0 && errors.Join(slices.Collect(maps.Values(res.Errors))...) != nil {
		t.Fatalf("add partitions: %v %v", err, res)
	}
	moved := 0
	for i := range 20 {
		if symPartition(fmt.Sprintf("XP%d", i), 2) != symPartition(fmt.Sprintf("XP%d", i), 4) {
			moved++
		}
	}
	t.Logf("%d of 20 symbols move to another partition", moved)

	startProcess(t, args...)
	produce(t, brokers, tt.raw, trades("5.10", now.Add(time.Millisecond))...)
	for i := range 20 {
		waitFor(t, base, fmt.Sprintf("XP%d", i), map[string]string{"volume": "20", "open": "5.00", "last": "5.10"})
	}
}
