package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// Failure drills against the cluster of scripts/cluster (make drills starts
// it): SSE clients through the load balancer check every event against
// the quotes topic while a fault is injected, and each drill prints one
// JSON line of what they saw. TAPE_DRILLS=all runs every drill, or a
// comma-separated list of names; TAPE_DRILL_SHORT=1 shortens the waits.
// They need the cluster, so they never run in a plain go test.

// drillEnv is the cluster the drills run against.
type drillEnv struct {
	base    int // TAPE_CLUSTER_BASE
	brokers string
	lb      string // host:port
	short   bool
	symbols []string
	script  string
	// lostConflated adds up the conflation counters of nodes stopped or
	// killed during a drill, read just before.
	lostConflated float64
}

// conflated reads tape_sse_conflated_updates_total of web node i (0 when
// it does not answer).
func (e *drillEnv) conflated(i int) float64 {
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", e.base+20+i))
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "tape_sse_conflated_updates_total "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

func (e *drillEnv) allConflated() float64 {
	return e.conflated(1) + e.conflated(2) + e.conflated(3)
}

// takeDown stops (sig TERM) or kills a web node, keeping its count of
// conflated updates.
func (e *drillEnv) takeDown(t *testing.T, how, node string) {
	e.lostConflated += e.conflated(int(node[4] - '0'))
	e.cluster(t, how, node)
}

func TestDrills(t *testing.T) {
	which := os.Getenv("TAPE_DRILLS")
	if which == "" {
		t.Skip("TAPE_DRILLS is not set; make drills runs the failure drills against a cluster")
	}
	var base int
	fmt.Sscan(os.Getenv("TAPE_CLUSTER_BASE"), &base)
	if base == 0 {
		base = 9700
	}
	e := &drillEnv{base: base, brokers: fmt.Sprintf("127.0.0.1:%d", base), lb: fmt.Sprintf("127.0.0.1:%d", base+10),
		short: os.Getenv("TAPE_DRILL_SHORT") != "", script: "../../scripts/cluster"}
	e.symbols = e.knownSymbols(t)
	drills := []struct {
		name string
		run  func(t *testing.T, e *drillEnv) map[string]any
	}{
		{"kill-web-node", drillKillWebNode},
		{"rolling-restart", drillRollingRestart},
		{"kill-ingester", drillKillIngester},
		{"broker-outage", drillBrokerOutage},
		{"flood", drillFlood},
		{"slow-client", drillSlowClient},
	}
	for _, d := range drills {
		if which != "all" && !slices.Contains(strings.Split(which, ","), d.name) {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			began := time.Now()
			out := d.run(t, e)
			out["drill"] = d.name
			out["seconds"] = int(time.Since(began).Seconds())
			out["load1"] = loadAverage()
			line, _ := json.Marshal(out)
			fmt.Println(string(line))
		})
	}
}

// cluster runs scripts/cluster with args.
func (e *drillEnv) cluster(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(e.script, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("TAPE_CLUSTER_BASE=%d", e.base), "TAPE_BIN=../../bin/tape")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/cluster %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (e *drillEnv) knownSymbols(t *testing.T) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get("http://" + e.lb + "/api/quotes")
		if err == nil {
			var body struct{ Quotes []struct{ Symbol string } }
			json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			var out []string
			for _, q := range body.Quotes {
				out = append(out, q.Symbol)
			}
			if len(out) > 0 {
				return out
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no symbols from %s/api/quotes: %v", e.lb, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// seen is one quote a client received.
type seen struct {
	seq      tape.Seq
	snapshot bool // came in a snapshot: the client may have jumped
	volume   tape.Size
	day      tape.Day
}

// watcher is one SSE client through the load balancer that reconnects as
// EventSource does (after the retry hint, with Last-Event-ID; after an
// error status too, with backoff) and keeps every quote it received.
type watcher struct {
	url   string
	local net.IP // its own loopback address: the nodes count it as one client

	mu         sync.Mutex // guards the fields below
	got        map[string][]seen
	events     int
	snapshots  int
	statuses   int
	reconnects []time.Time
	refused    map[int]int // error statuses answered, by status
}

func newWatcher(lb string, symbols []string, n int) *watcher {
	return &watcher{url: "http://" + lb + "/events?symbols=" + strings.Join(symbols, ","),
		local: net.IPv4(127, 0, byte(1+n/250), byte(1+n%250)), got: map[string][]seen{}, refused: map[int]int{}}
}

func (w *watcher) client() *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: w.local}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true, MaxIdleConnsPerHost: -1}}
}

// run streams until ctx ends.
func (w *watcher) run(ctx context.Context) {
	c := w.client()
	lastID, retry := "", 2*time.Second
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			w.mu.Lock()
			w.reconnects = append(w.reconnects, time.Now())
			w.mu.Unlock()
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", w.url, nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		res, err := c.Do(req)
		if err == nil && res.StatusCode != 200 {
			w.mu.Lock()
			w.refused[res.StatusCode]++
			w.mu.Unlock()
			res.Body.Close()
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		if err != nil {
			sleepCtx(ctx, retry/2+time.Duration(time.Now().UnixNano()%int64(retry)))
			continue
		}
		lastID, retry = w.read(res.Body, lastID, retry)
		res.Body.Close()
		sleepCtx(ctx, retry)
	}
}

// read consumes one stream, returning the last id and retry hint.
func (w *watcher) read(body io.Reader, lastID string, retry time.Duration) (string, time.Duration) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var event, data, id string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "event":
				event = v
			case "data":
				data = v
			case "id":
				id = v
			case "retry":
				var ms int
				if _, err := fmt.Sscan(v, &ms); err == nil {
					retry = time.Duration(ms) * time.Millisecond
				}
			}
			continue
		}
		w.apply(event, data)
		if id != "" {
			lastID = id
		}
		event, data, id = "", "", ""
	}
	return lastID, retry
}

func (w *watcher) apply(event, data string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch event {
	case "quote":
		q, err := tape.ParseQuote([]byte(data))
		if err != nil {
			return
		}
		w.events++
		w.got[string(q.Symbol)] = append(w.got[string(q.Symbol)], seen{seq: q.Seq, volume: q.Volume, day: q.Day})
	case "snapshot":
		var snap struct{ Quotes []json.RawMessage }
		json.Unmarshal([]byte(data), &snap)
		w.snapshots++
		for _, raw := range snap.Quotes {
			q, err := tape.ParseQuote(raw)
			if err != nil {
				continue
			}
			w.got[string(q.Symbol)] = append(w.got[string(q.Symbol)], seen{seq: q.Seq, volume: q.Volume, day: q.Day, snapshot: true})
		}
	case "status":
		w.statuses++
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// crowd is a set of watchers run together.
type crowd struct {
	ws     []*watcher
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startCrowd(e *drillEnv, n, offset int, symbols []string) *crowd {
	ctx, cancel := context.WithCancel(context.Background())
	c := &crowd{cancel: cancel}
	for i := range n {
		w := newWatcher(e.lb, symbols, offset+i)
		c.ws = append(c.ws, w)
		c.wg.Add(1)
		go func() { defer c.wg.Done(); w.run(ctx) }()
	}
	return c
}

func (c *crowd) stop() {
	c.cancel()
	c.wg.Wait()
}

// reference is what the quotes topic holds per symbol: the fold positions
// in topic order, each once (a re-folded repeat is dropped, as nodes do),
// with the volume after each, and whether it was a trade.
type reference struct {
	order  map[string][]tape.Seq
	index  map[string]map[tape.Seq]int
	volume map[string][]tape.Size
	trades map[string][]tape.Size // last_size of each trade record, per symbol and day
	days   map[string][]tape.Day
	origin map[string]bool
}

// readQuotes reads the quotes topic from its start to its current end.
func readQuotes(t *testing.T, brokers string) *reference {
	t.Helper()
	ref := &reference{order: map[string][]tape.Seq{}, index: map[string]map[tape.Seq]int{}, volume: map[string][]tape.Size{},
		trades: map[string][]tape.Size{}, days: map[string][]tape.Day{}, origin: map[string]bool{}}
	forEachRecord(t, brokers, tape.TopicQuotes, func(m kafka.Message) {
		q, err := tape.ParseQuote(m.Value)
		if err != nil {
			return
		}
		s := string(q.Symbol)
		if ref.index[s] == nil {
			ref.index[s] = map[tape.Seq]int{}
		}
		if _, dup := ref.index[s][q.Seq]; dup {
			return
		}
		ref.index[s][q.Seq] = len(ref.order[s])
		ref.order[s] = append(ref.order[s], q.Seq)
		ref.volume[s] = append(ref.volume[s], q.Volume)
		ref.days[s] = append(ref.days[s], q.Day)
		if q.Kind&tape.KindTrade != 0 {
			ref.trades[s] = append(ref.trades[s], q.LastSize)
		} else {
			ref.trades[s] = append(ref.trades[s], 0)
		}
		ref.origin[q.Origin] = true
	})
	return ref
}

// forEachRecord reads every partition of topic up to its end now.
func forEachRecord(t *testing.T, brokers, topic string, fn func(kafka.Message)) {
	t.Helper()
	conn, err := kafka.Dial("tcp", brokers)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].ID < parts[j].ID })
	for _, p := range parts {
		pc, err := kafka.DialLeader(context.Background(), "tcp", brokers, topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := pc.ReadOffsets()
		pc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{brokers}, Topic: topic, Partition: p.ID, MaxWait: 250 * time.Millisecond, MaxBytes: 8 << 20})
		r.SetOffset(first)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				r.Close()
				t.Fatalf("read %s/%d: %v", topic, p.ID, err)
			}
			fn(m)
			if m.Offset+1 >= last {
				break
			}
		}
		r.Close()
	}
}

// verdict is what the checks found over a crowd.
type verdict struct {
	Clients     int         `json:"clients"`
	Events      int         `json:"events"`
	Snapshots   int         `json:"snapshots"`
	Statuses    int         `json:"status_events"`
	Gaps        int         `json:"gaps"`
	Skipped     int         `json:"skipped_records"`
	Conflated   int         `json:"conflated_updates"`
	Duplicates  int         `json:"duplicates"`
	OutOfOrder  int         `json:"out_of_order"`
	Unknown     int         `json:"unknown_positions"`
	Reconnects  int         `json:"reconnects"`
	VolumeWrong int         `json:"volume_mismatches"`
	Refused     map[int]int `json:"refused,omitempty"`
	RawRepeats  int         `json:"raw_repeats_dropped"`
}

// check compares every client's events with the topic: per symbol, each
// quote after the previous one in topic order with none skipped unless a
// snapshot came between, none twice; and every record's volume equal to
// the sum of the day's trade sizes before it (from the first record seen).
func check(ref *reference, ws []*watcher) verdict {
	v := verdict{Clients: len(ws), Refused: map[int]int{}}
	for _, w := range ws {
		w.mu.Lock()
		v.Events += w.events
		v.Snapshots += w.snapshots
		v.Statuses += w.statuses
		v.Reconnects += len(w.reconnects)
		for k, n := range w.refused {
			v.Refused[k] += n
		}
		for sym, list := range w.got {
			prev := -1
			for _, s := range list {
				i, ok := ref.index[sym][s.seq]
				if !ok {
					v.Unknown++ // older than the topic's retention: never in these drills
					continue
				}
				switch {
				case s.snapshot:
					if i < prev {
						v.OutOfOrder++
					}
				case prev >= 0 && i == prev:
					v.Duplicates++
				case prev >= 0 && i < prev:
					v.OutOfOrder++
				case prev >= 0 && i > prev+1:
					v.Gaps++
					v.Skipped += i - prev - 1
				}
				if s.volume != ref.volume[sym][i] {
					v.VolumeWrong++
				}
				prev = max(prev, i)
			}
		}
		w.mu.Unlock()
	}
	return v
}

// volumeExact checks, on the topic, that each symbol's day volume grows by
// exactly the size of each trade record: no trade counted twice or lost
// between records. It returns the mismatches.
func volumeExact(ref *reference) int {
	bad := 0
	for sym, vols := range ref.volume {
		for i := 1; i < len(vols); i++ {
			if ref.days[sym][i] != ref.days[sym][i-1] {
				continue
			}
			if vols[i] != vols[i-1]+ref.trades[sym][i] && vols[i] != vols[i-1] {
				bad++
			}
		}
	}
	return bad
}

// rawOriginsMissing returns how many raw messages produced in [from, to)
// per partition never reached the quotes topic (by origin), leaving out
// trades whose exchange and id an earlier trade that did already had (a
// producer's retry, or a restarted feed: the fold takes them as repeats
// or corrections by design); those it returns second.
func rawOriginsMissing(t *testing.T, e *drillEnv, from, to []int64) (missing, repeats int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for last, stable := -1, 0; ; {
		ref := readQuotes(t, e.brokers)
		var absent []string
		for p := range from {
			for off := from[p]; off < to[p]; off++ {
				if o := fmt.Sprintf("%s/%d/%d/0", tape.TopicRaw, p, off); !ref.origin[o] {
					absent = append(absent, o)
				}
			}
		}
		if len(absent) == 0 {
			return 0, 0
		}
		// Settled: the same count four reads running, 2 s apart (a group
		// rebalance can pause the fold for a few seconds), or out of time.
		if len(absent) == last {
			stable++
		} else {
			stable = 0
		}
		last = len(absent)
		settled := stable >= 3 || time.Now().After(deadline)
		if settled {
			// A trade with the exchange and id of one that reached quotes
			// is, by the fold's rule, a repeat or correction of it (a
			// restarted synthetic feed numbers its trades from 1 again).
			absentSet := map[string]bool{}
			for _, o := range absent {
				absentSet[o] = true
			}
			reached := map[string]bool{}
			forEachRecord(t, e.brokers, tape.TopicRaw, func(m kafka.Message) {
				o := fmt.Sprintf("%s/%d/%d/0", tape.TopicRaw, m.Partition, m.Offset)
				k := tradeKey(m.Value)
				switch {
				case !absentSet[o]:
					if k != "" {
						reached[k] = true
					}
				case k != "" && reached[k]:
					repeats++
				default:
					if missing < 5 {
						t.Logf("missing on quotes: %s %.200s", o, m.Value)
					}
					missing++
				}
			})
			return missing, repeats
		}
		time.Sleep(2 * time.Second)
	}
}

// tradeKey is what the fold identifies a polygon trade by: symbol,
// exchange and trade id ("" for anything else). A later trade with the
// same key is a repeat or a correction of the first, never a new trade.
func tradeKey(raw []byte) string {
	var m struct {
		Ev, Sym, I string
		X          int
	}
	if json.Unmarshal(raw, &m) != nil || m.Ev != "T" {
		return ""
	}
	return fmt.Sprint(m.Sym, "|", m.X, "|", m.I)
}

// rawEnds returns the log end of every partition of the raw topic.
func rawEnds(t *testing.T, e *drillEnv) []int64 {
	t.Helper()
	conn, err := kafka.Dial("tcp", e.brokers)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(tape.TopicRaw)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	ends := make([]int64, len(parts))
	for _, p := range parts {
		pc, err := kafka.DialLeader(context.Background(), "tcp", e.brokers, tape.TopicRaw, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		ends[p.ID], err = pc.ReadLastOffset()
		pc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return ends
}

// settle waits (short mode: less) for things to run.
func (e *drillEnv) settle(d time.Duration) {
	if e.short {
		d /= 3
	}
	time.Sleep(d)
}

// around runs a crowd of n clients through fault, then checks them.
func around(t *testing.T, e *drillEnv, n int, fault func()) (verdict, *crowd, int) {
	t.Helper()
	from := rawEnds(t, e)
	e.lostConflated = 0
	base := e.allConflated()
	c := startCrowd(e, n, 0, e.symbols)
	e.settle(6 * time.Second)
	fault()
	e.settle(15 * time.Second)
	to := rawEnds(t, e)
	conflated := e.allConflated() + e.lostConflated - base
	c.stop()
	missing, repeats := rawOriginsMissing(t, e, from, to)
	ref := readQuotes(t, e.brokers)
	v := check(ref, c.ws)
	v.VolumeWrong += volumeExact(ref)
	v.Conflated = int(conflated)
	v.RawRepeats = repeats
	return v, c, missing
}

func (v verdict) fields(missing int) map[string]any {
	b, _ := json.Marshal(v)
	out := map[string]any{}
	json.Unmarshal(b, &out)
	out["raw_missing_on_quotes"] = missing
	return out
}

func (v verdict) fail(t *testing.T, missing int) {
	t.Helper()
	// A client that reads too slowly is conflated (latest value per
	// symbol): the records it skipped must not outnumber the updates the
	// nodes conflated (every node's count, also of nodes taken down).
	if v.Skipped > v.Conflated || v.Duplicates+v.OutOfOrder+v.VolumeWrong+missing > 0 || v.Events == 0 {
		t.Errorf("clients saw %+v; %d raw messages missing on quotes", v, missing)
	}
}

func drillKillWebNode(t *testing.T, e *drillEnv) map[string]any {
	v, _, missing := around(t, e, 30, func() { e.takeDown(t, "kill", "web-2") })
	e.cluster(t, "start", "web-2")
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", e.base+22))
	v.fail(t, missing)
	out := v.fields(missing)
	out["injected"] = "SIGKILL web-2"
	return out
}

func drillRollingRestart(t *testing.T, e *drillEnv) map[string]any {
	var peak, total int
	var window time.Duration
	v, c, missing := around(t, e, 30, func() {
		began := time.Now()
		for _, w := range []string{"web-1", "web-2", "web-3"} {
			e.takeDown(t, "stop", w) // SIGTERM: drains over --drain (10 s)
			e.cluster(t, "start", w)
			waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", e.base+20+int(w[4]-'0')))
		}
		window = time.Since(began)
	})
	perSecond := map[int64]int{}
	for _, w := range c.ws {
		for _, at := range w.reconnects {
			perSecond[at.Unix()]++
			total++
		}
	}
	for _, n := range perSecond {
		peak = max(peak, n)
	}
	v.fail(t, missing)
	out := v.fields(missing)
	out["injected"] = "SIGTERM then start, web-1..3 one after another, --drain 10s"
	out["restart_seconds"] = int(window.Seconds())
	out["peak_reconnects_per_second"] = peak
	out["even_spread_per_second"] = float64(total) / max(window.Seconds(), 1)
	return out
}

func drillKillIngester(t *testing.T, e *drillEnv) map[string]any {
	v, _, missing := around(t, e, 20, func() { e.cluster(t, "kill", "ingest-1") })
	e.cluster(t, "start", "ingest-1")
	v.fail(t, missing)
	out := v.fields(missing)
	out["injected"] = "SIGKILL ingest-1"
	return out
}

func drillBrokerOutage(t *testing.T, e *drillEnv) map[string]any {
	var readyDuring []int
	v, _, missing := around(t, e, 20, func() {
		e.cluster(t, "stop", "kafka")
		time.Sleep(5 * time.Second)
		for i := 1; i <= 3; i++ {
			readyDuring = append(readyDuring, status(fmt.Sprintf("http://127.0.0.1:%d/readyz", e.base+20+i)))
		}
		time.Sleep(15 * time.Second)
		e.cluster(t, "start", "kafka")
	})
	alive := 0
	for _, n := range []string{"web-1", "web-2", "web-3", "ingest-1", "ingest-2"} {
		if b, err := os.ReadFile(fmt.Sprintf("/tmp/tape-cluster-%d/%s.pid", e.base, n)); err == nil {
			var pid int
			fmt.Sscan(string(b), &pid)
			if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
				alive++
			}
		}
	}
	// The feed may have given up while the broker was away.
	e.cluster(t, "start", "feed")
	v.fail(t, missing)
	if alive != 5 {
		t.Errorf("%d of 5 tape processes alive after the outage", alive)
	}
	if !slices.Equal(readyDuring, []int{503, 503, 503}) {
		t.Errorf("readiness during the outage: %v, want 503 from every node", readyDuring)
	}
	out := v.fields(missing)
	out["injected"] = "broker stopped 20 s, then started on its data"
	out["readyz_during"] = readyDuring
	out["processes_alive"] = alive
	return out
}

func status(url string) int {
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for status(url) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("%s not 200 within 120s", url)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// drillFlood opens 5,000 streams at once from 5,000 addresses, and one
// address opening streams in a loop, while a watched crowd and a probe of
// /api/quotes measure what everyone else gets.
func drillFlood(t *testing.T, e *drillEnv) map[string]any {
	n := 5000
	if e.short {
		n = 1000
	}
	var probeWorst time.Duration
	var probeFail int
	var loopStatus sync.Map
	var loopTotal atomic.Int64
	var flood *crowd
	v, _, missing := around(t, e, 20, func() {
		// Each flood client watches one symbol, from its own address.
		ctx, cancel := context.WithCancel(context.Background())
		flood = &crowd{cancel: cancel}
		for i := range n {
			w := newWatcher(e.lb, e.symbols[i%len(e.symbols):i%len(e.symbols)+1], 1000+i)
			flood.ws = append(flood.ws, w)
			flood.wg.Add(1)
			go func() { defer flood.wg.Done(); w.run(ctx) }()
		}
		// One address opening streams in a loop, holding what it gets:
		// past --max-streams-per-ip and the open rate it must get 429s.
		loopDone := make(chan struct{})
		go func() {
			defer close(loopDone)
			w := newWatcher(e.lb, e.symbols[:1], 999)
			c := w.client()
			var mu sync.Mutex
			var held []io.Closer
			var wg sync.WaitGroup
			end := time.Now().Add(10 * time.Second)
			for range 16 {
				wg.Go(func() {
					for time.Now().Before(end) {
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						req, _ := http.NewRequestWithContext(ctx, "GET", w.url, nil)
						res, err := c.Do(req)
						code := 0
						if err == nil {
							code = res.StatusCode
							if code == 200 {
								mu.Lock()
								held = append(held, closerFunc(func() error { cancel(); return res.Body.Close() }))
								mu.Unlock()
							} else {
								res.Body.Close()
								cancel()
							}
						} else {
							cancel()
						}
						loopTotal.Add(1)
						k, _ := loopStatus.LoadOrStore(code, new(atomic.Int64))
						k.(*atomic.Int64).Add(1)
					}
				})
			}
			wg.Wait()
			for _, h := range held {
				h.Close()
			}
		}()
		probe := &http.Client{Timeout: 10 * time.Second}
		for range 20 {
			began := time.Now()
			res, err := probe.Get("http://" + e.lb + "/api/quotes?symbols=" + e.symbols[0])
			if err != nil || res.StatusCode != 200 {
				probeFail++
			} else {
				res.Body.Close()
			}
			probeWorst = max(probeWorst, time.Since(began))
			time.Sleep(500 * time.Millisecond)
		}
		<-loopDone
	})
	opened, floodRefused := 0, map[int]int{}
	for _, w := range flood.ws {
		w.mu.Lock()
		if w.snapshots > 0 {
			opened++
		}
		for k, c := range w.refused {
			floodRefused[k] += c
		}
		w.mu.Unlock()
	}
	flood.stop()
	loop := map[string]int64{}
	loopStatus.Range(func(k, v any) bool { loop[fmt.Sprint(k)] = v.(*atomic.Int64).Load(); return true })
	v.fail(t, missing)
	if probeFail > 0 {
		t.Errorf("%d of 20 probes of /api/quotes failed during the flood", probeFail)
	}
	if loop["429"] == 0 {
		t.Errorf("the looping address was never refused with 429: %v", loop)
	}
	out := v.fields(missing)
	out["injected"] = fmt.Sprintf("%d clients at once from %d addresses, one address looping for 10 s", n, n)
	out["flood_streams_opened"] = opened
	out["flood_refused"] = floodRefused
	out["loop_requests"] = loopTotal.Load()
	out["loop_statuses"] = loop
	out["probe_worst_ms"] = probeWorst.Milliseconds()
	return out
}

// drillSlowClient puts one client behind a proxy that trickles bytes
// (2 KiB every 200 ms) and checks that it is conflated (it still sees
// every symbol's newest value in order, with gaps only as conflation
// leaves them), that the others see everything, and that once the link
// is fast again it converges on the topic's newest quote.
func drillSlowClient(t *testing.T, e *drillEnv) map[string]any {
	proxy := newThrottle(t, e.lb)
	slow := &crowd{}
	ctx, cancel := context.WithCancel(context.Background())
	slow.cancel = cancel
	sw := newWatcher(proxy.addr, e.symbols, 998)
	fw := newWatcher(e.lb, e.symbols, 997) // a fast client stopped at the same moment
	slow.ws = []*watcher{sw, fw}
	for _, w := range slow.ws {
		slow.wg.Add(1)
		go func() { defer slow.wg.Done(); w.run(ctx) }()
	}
	v, _, missing := around(t, e, 20, func() { e.settle(20 * time.Second) })
	proxy.throttled.Store(false)
	e.settle(10 * time.Second)
	slow.stop()
	ref := readQuotes(t, e.brokers)
	sv := check(ref, slow.ws[:1])
	// Conflation skips records; order and volumes stay right. Converged:
	// per symbol, the slow client's last quote is at most a second of
	// records behind the fast client's, both stopped at once.
	converged, behind := 0, 0
	sw.mu.Lock()
	fw.mu.Lock()
	for sym, list := range sw.got {
		fast := fw.got[sym]
		if len(list) == 0 || len(fast) == 0 {
			continue
		}
		i, ok := ref.index[sym][list[len(list)-1].seq]
		j, ok2 := ref.index[sym][fast[len(fast)-1].seq]
		if !ok || !ok2 {
			continue
		}
		behind = max(behind, j-i)
		if j-i <= feedRatePerSymbol(e) {
			converged++
		}
	}
	fw.mu.Unlock()
	sw.mu.Unlock()
	v.fail(t, missing)
	if sv.OutOfOrder+sv.Duplicates+sv.VolumeWrong > 0 {
		t.Errorf("the slow client saw %+v", sv)
	}
	out := v.fields(missing)
	out["injected"] = "one client behind a proxy passing 2 KiB every 200 ms, then unthrottled for 10 s"
	out["slow_client"] = sv
	out["slow_skipped_by_conflation"] = sv.Gaps
	out["slow_symbols_converged"] = fmt.Sprintf("%d/%d", converged, len(sw.got))
	out["slow_most_records_behind"] = behind
	if converged != len(sw.got) {
		t.Errorf("the slow client converged on %d of %d symbols (most behind: %d records)", converged, len(sw.got), behind)
	}
	return out
}

// feedRatePerSymbol is the cluster feed's records a second per symbol.
func feedRatePerSymbol(e *drillEnv) int {
	rate := 200
	fmt.Sscan(os.Getenv("TAPE_CLUSTER_FEED_RATE"), &rate)
	return max(rate/max(len(e.symbols), 1), 1)
}

// throttle is a userspace TCP proxy that, while throttled, passes at most
// 2 KiB every 200 ms from the server to the client.
type throttle struct {
	addr      string
	throttled atomic.Bool
}

func newThrottle(t *testing.T, target string) *throttle {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &throttle{addr: ln.Addr().String()}
	p.throttled.Store(true)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, target)
		}
	}()
	return p
}

func (p *throttle) serve(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(s, c)
	buf := make([]byte, 2048)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
		if p.throttled.Load() {
			time.Sleep(200 * time.Millisecond)
		}
	}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// loadAverage is the 1-minute load average, for every number reported.
func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
