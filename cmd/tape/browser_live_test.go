package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/segmentio/kafka-go"

	"tape"
	"tape/stream"
	"tape/ui"
)

// recorder runs in the page and keeps, per symbol, the bid of every quote
// the page was given (tape:quote, and each tape:snapshot as a mark), and
// every connection state it showed.
const recorder = `(() => {
  window.__rec = {}; window.__states = []; window.__snapshots = 0;
  document.addEventListener("tape:quote", (e) => (window.__rec[e.detail.symbol] ||= []).push(e.detail.bid));
  document.addEventListener("tape:snapshot", (e) => {
    window.__snapshots++;
    for (const q of e.detail.quotes) (window.__rec[q.symbol] ||= []).push("snapshot:" + q.bid);
  });
  document.addEventListener("tape:state", (e) => {
    window.__states.push(e.detail.state);
    if (e.detail.why) (window.__why ||= []).push(e.detail.why);
  });
  return true;
})()`

// afterLoad drops from the record what the page got before it first
// ticked: "live" is said when the stream opens, which may be before the
// page's first snapshot arrives, and that snapshot is the page loading,
// not a failed resume.
const afterLoad = `(() => {
  for (const s in window.__rec) {
    const r = window.__rec[s];
    const i = r.findLastIndex((b) => b.startsWith("snapshot:"));
    window.__rec[s] = r.slice(i + 1);
  }
  return true;
})()`

// sequenceFeed produces, for each symbol, quotes whose bids count up by
// one (1000.01, 1001.01, …), so a page that misses or repeats one shows a
// gap. It runs until stop, which returns the last bid written per symbol.
func sequenceFeed(t *testing.T, brokers, topic string, syms []string, every time.Duration) (stop func() map[string]int) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(brokers, ",")...), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.CRC32Balancer{}, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	ctx, cancel := context.WithCancel(context.Background())
	last := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := 1000; ctx.Err() == nil; k++ {
			var batch []kafka.Message
			for _, s := range syms {
				batch = append(batch, kafka.Message{Key: []byte(s), Headers: []kafka.Header{{Key: "format", Value: []byte("tape")}},
					Value: fmt.Appendf(nil, `{"symbol":%q,"bid":"%d.01","ask":"%d.02","ts":%q}`, s, k, k, time.Now().UTC().Format(time.RFC3339Nano))})
			}
			// The whole batch is written or, when the test stops the
			// feed, none of it counts.
			wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := w.WriteMessages(wctx, batch...)
			wcancel()
			if err != nil {
				t.Errorf("feed: %v", err)
				return
			}
			for _, s := range syms {
				last[s] = k
			}
			select {
			case <-ctx.Done():
			case <-time.After(every):
			}
		}
	}()
	var once sync.Once
	stop = func() map[string]int {
		once.Do(func() { cancel(); <-done; w.Close() })
		return last
	}
	t.Cleanup(func() { stop() })
	return stop
}

// pollJS evaluates a JavaScript boolean expression until it is true,
// failing the test with what describe returns after timeout.
func pollJS(t *testing.T, ctx context.Context, expr string, timeout time.Duration, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %s (%s)", timeout, expr, describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return s
}

// TestBrowserRecoversWhenItsNodeRestarts: a watchlist served by a node
// that is restarted with a drain (the page's reconnect meets a draining,
// then a catching-up node: 503), and then killed with SIGKILL and started
// again, recovers by itself without a reload, and has been given every
// update of every symbol exactly once and in order: its cells equal
// /api/quotes and its record of bids has no gap and no repeat.
func TestBrowserRecoversWhenItsNodeRestarts(t *testing.T) {
	chromium := chromiumPath(t)
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id, "--log-level", "warn"}, tt.flags()...)...)
	addr := freeAddr(t)
	base := "http://" + addr
	serve := func() *exec.Cmd {
		return startProcess(t, append([]string{"serve", "--brokers", brokers, "--addr", addr, "--node-id", id,
			"--reject-unknown=false", "--drain", "3s", "--heartbeat", "1s", "--log-level", "warn"}, tt.flags()...)...)
	}
	node := serve()
	waitReady(t, base)

	syms := []string{"LVA", "LVB", "LVC", "LVD"}
	stop := sequenceFeed(t, brokers, tt.raw, syms, 100*time.Millisecond)
	ctx, console := newBrowser(t, chromium)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/?symbols="+strings.Join(syms, ","))); err != nil {
		t.Fatal(err)
	}
	waitLive(t, ctx, 30*time.Second)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](recorder)); err != nil {
		t.Fatal(err)
	}
	states := func() string {
		return evalString(t, ctx, `JSON.stringify(window.__states)+" "+document.getElementById("status").className`)
	}
	// everyTicked: every symbol has had three quotes since the mark.
	everyTicked := `["LVA","LVB","LVC","LVD"].every((s) => (window.__rec[s] || []).length >= (window.__mark || {})[s] + 3)`
	mark := `(window.__mark = Object.fromEntries(["LVA","LVB","LVC","LVD"].map((s) => [s, (window.__rec[s] || []).length])), true)`
	chromedp.Run(ctx, chromedp.Evaluate[bool](mark))
	pollJS(t, ctx, everyTicked, 30*time.Second, states)
	chromedp.Run(ctx, chromedp.Evaluate[bool](afterLoad))

	for _, how := range []string{"drain", "kill"} {
		t.Run(how, func(t *testing.T) {
			chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.__states = [], true)`))
			began := time.Now()
			sig := syscall.SIGTERM
			if how == "kill" {
				sig = syscall.SIGKILL
			}
			if err := node.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			pollJS(t, ctx, `window.__states.includes("reconnecting")`, 30*time.Second, states)
			t.Logf("%s: the page said reconnecting after %s", how, time.Since(began).Round(time.Millisecond))
			node.Wait()
			node = serve()
			restarted := time.Now()
			chromedp.Run(ctx, chromedp.Evaluate[bool](mark))
			pollJS(t, ctx, `document.getElementById("status").classList.contains("live") && `+everyTicked, 60*time.Second, states)
			t.Logf("%s: live and ticking %s after the node was started again (states %s; failures seen: %s)", how, time.Since(restarted).Round(time.Millisecond), states(),
				evalString(t, ctx, `JSON.stringify(window.__why || [])`))
			chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.__why = [], true)`))
		})
		if t.Failed() {
			return
		}
	}

	last := stop()
	// Every quote written has reached the node; the page's cells must
	// then equal the node's own answer, and its record must have no gap.
	api := waitLastBids(t, base, syms, last)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		cells := readPrices(t, ctx)
		diff := ""
		for _, q := range api {
			if c := cells[q.Symbol]; c["bid"] != q.Bid || c["ask"] != q.Ask {
				diff += fmt.Sprintf(" %s shows %s/%s, the node %s/%s;", q.Symbol, c["bid"], c["ask"], q.Bid, q.Ask)
			}
		}
		if diff == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after recovery:%s", diff)
		}
	}
	var rec map[string][]string
	if err := chromedp.Do(ctx, evalInto(`window.__rec`, &rec)); err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if err := contiguous(rec[s], last[s]); err != nil {
			t.Errorf("%s: %v (record %v)", s, err, rec[s])
		}
	}
	checkConsole(t, ctx, console)
}

// contiguous checks that bids ("1042.01") count up by one to last.
func contiguous(bids []string, last int) error {
	prev := -1
	for i, b := range bids {
		if strings.HasPrefix(b, "snapshot:") {
			return fmt.Errorf("a snapshot at %d: the stream was not resumed", i)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(b, ".01"))
		if err != nil {
			return fmt.Errorf("bid %q", b)
		}
		if prev >= 0 && n != prev+1 {
			return fmt.Errorf("bid %d after %d: missed or repeated", n, prev)
		}
		prev = n
	}
	if prev != last {
		return fmt.Errorf("last bid %d, want %d", prev, last)
	}
	return nil
}

// apiQuotesOf returns the node's quotes of syms.
func apiQuotesOf(t *testing.T, base string, syms []string) []quoteJSON {
	t.Helper()
	var api struct{ Quotes []quoteJSON }
	if err := json.Unmarshal([]byte(get(t, base+"/api/quotes?symbols="+strings.Join(syms, ","))), &api); err != nil {
		t.Fatal(err)
	}
	return api.Quotes
}

// checkConsole fails the test on console errors, uncaught exceptions and
// CSP reports. Failed loads while a node is down are expected: the
// browser logs each refused stream and probe.
func checkConsole(t *testing.T, ctx context.Context, console func() []chromedp.ConsoleMessage) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`1`)); err != nil {
		t.Fatal(err)
	}
	checkNoCSPViolations(t, ctx)
	for _, m := range console() {
		switch {
		case m.IsException(), strings.Contains(m.Text, "Content Security Policy"):
			t.Errorf("console %s (%s %s:%d)", m, m.Source, m.URL, m.Line)
		case m.Type == chromedp.ConsoleError && m.Source != "network":
			t.Errorf("console %s (%s %s:%d)", m, m.Source, m.URL, m.Line)
		}
	}
}

// TestBrowserEightTabsShareOneStream: eight tabs of one browser on one
// node all load and tick over one stream (the node holds one), and a
// fetch from the first tab completes: no tab waits for a connection.
func TestBrowserEightTabsShareOneStream(t *testing.T) {
	chromium := chromiumPath(t)
	demo := start(t, []string{"http", "kafka"}, "demo", "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + demo.addrs["http"]
	waitReady(t, base)
	waitQuotes(t, base, 3)

	first, console := newBrowser(t, chromium)
	tabs := []context.Context{first}
	for range 7 {
		tab, cancel := chromedp.NewContext(first)
		t.Cleanup(cancel)
		tabs = append(tabs, tab)
	}
	for i, tab := range tabs {
		if err := chromedp.Do(tab, chromedp.Navigate(base+"/")); err != nil {
			t.Fatalf("tab %d: %v", i+1, err)
		}
	}
	for i, tab := range tabs {
		waitLive(t, tab, 30*time.Second)
		before := readPrices(t, tab)
		deadline := time.Now().Add(30 * time.Second)
		for changedCell(before, readPrices(t, tab)) == "" {
			if time.Now().After(deadline) {
				probe, err := evalStringAwait(tab, `new Promise((ok) => {
  let quotes = 0, frames = 0;
  document.addEventListener("tape:quote", () => quotes++);
  const f = () => { frames++; requestAnimationFrame(f); };
  requestAnimationFrame(f);
  setTimeout(() => ok(JSON.stringify({quotes, frames, state: window.tape.state, visible: document.visibilityState, focus: document.hasFocus()})), 1000);
})`)
				t.Fatalf("tab %d: no price changed within 30s (in 1s: %s %v)", i+1, probe, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if mode := evalString(t, tab, `window.tape.mode`); mode != "shared" {
			t.Errorf("tab %d: hub mode %q, want shared", i+1, mode)
		}
	}
	fetched, err := evalStringAwait(first, `Promise.race([
  fetch("/api/quotes?limit=1", {cache: "no-store"}).then((r) => "status " + r.status),
  new Promise((ok) => setTimeout(() => ok("no answer within 10s"), 10000))])`)
	if err != nil || fetched != "status 200" {
		t.Fatalf("fetch from the first of 8 tabs: %s %v", fetched, err)
	}
	// One stream for the whole browser: the node counts one subscriber.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		n := metric(t, base, "tape_stream_subscribers")
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node holds %d streams for 8 tabs of one browser, want 1", n)
		}
	}
	checkConsole(t, first, console)
}

func evalStringAwait(ctx context.Context, expr string) (string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
}

// waitQuotes waits until the node has n quotes with a bid.
func waitQuotes(t *testing.T, base string, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var syms []string
		for _, q := range apiQuotes(t, base) {
			if q.Bid != "" && q.Ask != "" {
				syms = append(syms, q.Symbol)
			}
		}
		if len(syms) >= n {
			return syms
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d quotes with a bid after 30s, want %d", len(syms), n)
		}
	}
}

// TestBrowserQuoteFromKafkaReachesItsCell: the server-rendered page shows
// exactly /api/quotes' prices, and a quote produced to Kafka reaches its
// symbol's cell, and no other row.
func TestBrowserQuoteFromKafkaReachesItsCell(t *testing.T) {
	chromium := chromiumPath(t)
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	base := node(t, brokers, tt, id)
	syms := []string{"KQA", "KQB", "KQC"}
	now := time.Now().UTC()
	var msgs []kafka.Message
	for i, s := range syms {
		msgs = append(msgs, kafka.Message{Key: []byte(s), Headers: []kafka.Header{{Key: "format", Value: []byte("tape")}},
			Value: fmt.Appendf(nil, `{"symbol":%q,"bid":"%d.1","ask":"%d.125","ts":%q}`, s, 10+i, 10+i, now.Format(time.RFC3339Nano))})
	}
	produce(t, brokers, tt.raw, msgs...)
	for deadline := time.Now().Add(30 * time.Second); len(apiQuotesOf(t, base, syms)) < len(syms); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the node has not every quote after 30s")
		}
	}
	page := base + "/?symbols=" + strings.Join(syms, ",")
	ctx, console := newBrowser(t, chromium)

	t.Run("server-rendered prices equal /api/quotes", func(t *testing.T) {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
			t.Fatal(err)
		}
		cells := readPrices(t, ctx)
		for _, q := range apiQuotesOf(t, base, syms) {
			want := map[string]string{"bid": q.Bid, "ask": q.Ask, "last": or(q.Last, noPrice)}
			if got := cells[q.Symbol]; !mapsEqual(got, want) {
				t.Errorf("%s: page %v, /api/quotes %v", q.Symbol, got, want)
			}
		}
	})

	t.Run("a produced quote reaches its cell", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
			t.Fatal(err)
		}
		waitLive(t, ctx, 30*time.Second)
		before := readPrices(t, ctx)
		sent := time.Now()
		produce(t, brokers, tt.raw, kafka.Message{Key: []byte("KQB"), Headers: []kafka.Header{{Key: "format", Value: []byte("tape")}},
			Value: fmt.Appendf(nil, `{"symbol":"KQB","bid":"11.37","ask":"11.375","ts":%q}`, time.Now().UTC().Format(time.RFC3339Nano))})
		// Seen within a second on an idle machine; the deadline is for a
		// loaded one, the figure goes to the log.
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			now := readPrices(t, ctx)
			if now["KQB"]["bid"] == "11.37" && now["KQB"]["ask"] == "11.375" {
				t.Logf("produced to Kafka, shown in the cell after %s", time.Since(sent).Round(time.Millisecond))
				for _, s := range []string{"KQA", "KQC"} {
					if !mapsEqual(now[s], before[s]) {
						t.Errorf("%s changed from %v to %v; only KQB was quoted", s, before[s], now[s])
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("KQB shows %v 15s after the quote was produced", now["KQB"])
			}
		}
	})
	checkConsole(t, ctx, console)
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestBrowserHostileTextStaysInert: symbols carrying markup, quotes or
// newlines are rejected at ingest (they reach the dead letters, never a
// page); the same text in the page's URL, its search box or its stored
// watchlist is refused or shown as text. No script of theirs runs.
func TestBrowserHostileTextStaysInert(t *testing.T) {
	chromium := chromiumPath(t)
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 1)
	base := node(t, brokers, tt, id)
	hostile := []string{`<script>window.__xss=1</script>`, `X"Y`, "X\nY", `<img src=x onerror="window.__xss=2">`}
	tape := []kafka.Header{{Key: "format", Value: []byte("tape")}}
	var msgs []kafka.Message
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	for _, s := range hostile {
		sym, _ := json.Marshal(s)
		msgs = append(msgs, kafka.Message{Key: []byte("H"), Headers: tape, Value: fmt.Appendf(nil, `{"symbol":%s,"bid":"1.01","ask":"1.02","ts":%q}`, sym, ts)})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("HOK"), Headers: tape, Value: fmt.Appendf(nil, `{"symbol":"HOK","bid":"1.01","ask":"1.02","ts":%q}`, ts)})
	produce(t, brokers, tt.raw, msgs...)
	if dlq := readTopic(t, brokers, tt.dlq, len(hostile), 30*time.Second); len(dlq) != len(hostile) {
		t.Fatalf("%d dead letters, want the %d hostile symbols", len(dlq), len(hostile))
	}
	for deadline := time.Now().Add(30 * time.Second); len(apiQuotesOf(t, base, []string{"HOK"})) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("HOK, produced after the hostile ones, never arrived")
		}
	}
	for _, q := range apiQuotes(t, base) {
		if q.Symbol != "HOK" {
			t.Errorf("the node holds a quote of %q", q.Symbol)
		}
	}

	ctx, _ := newBrowser(t, chromium)
	noScript := func(where string) {
		t.Helper()
		ran := evalString(t, ctx, `String(window.__xss) + " " + document.querySelectorAll("main script, main img, [onerror]").length`)
		if ran != "undefined 0" {
			t.Errorf("%s: window.__xss and hostile elements: %s", where, ran)
		}
	}
	// In the URL: the node refuses the list with a JSON error.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/?symbols="+url.QueryEscape(hostile[0]))); err != nil {
		t.Fatal(err)
	}
	if body := evalString(t, ctx, `document.body.textContent`); !strings.Contains(body, `"code":"invalid_symbol"`) && !strings.Contains(body, "invalid") {
		t.Errorf("a hostile ?symbols= got %q, want a JSON error", body)
	}
	noScript("?symbols=")
	// In the search box: refused, the field marked invalid.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/?symbols=HOK")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, ctx, 30*time.Second)
	// (A newline cannot be typed into a one-line field: the browser
	// drops it.)
	for _, s := range []string{hostile[0], hostile[1], hostile[3]} {
		typed, _ := json.Marshal(s)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
  const s = document.getElementById("search");
  s.value = `+string(typed)+`;
  document.getElementById("add").requestSubmit();
  return true;
})()`)); err != nil {
			t.Fatal(err)
		}
		if got := evalString(t, ctx, `document.getElementById("search").getAttribute("aria-invalid") + " " + Array.from(document.querySelectorAll("#watchlist tbody tr"), (r) => r.dataset.symbol).join(",")`); got != "true HOK" {
			t.Errorf("searching %q: %s, want the field invalid and the list HOK", s, got)
		}
	}
	noScript("search")
	// In the stored watchlist: only valid symbols become rows.
	chromedp.Run(ctx, chromedp.Evaluate[bool](`(localStorage.setItem("tape.watchlist", `+"`"+`HOK,<img src=x onerror="window.__xss=3">,A"B`+"`"+`), true)`))
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, ctx, 30*time.Second)
	if got := evalString(t, ctx, `Array.from(document.querySelectorAll("#watchlist tbody tr"), (r) => r.dataset.symbol).join(",")`); got != "HOK" {
		t.Errorf("stored hostile watchlist gave rows %q, want HOK", got)
	}
	noScript("stored watchlist")
	checkNoCSPViolations(t, ctx)
}

// TestBrowserWatchlistEditing: a trader adds a symbol with the keyboard
// (/ to search, Enter), removes one, sorts by a column; each shows at once
// and is written to the URL and remembered for the next visit.
func TestBrowserWatchlistEditing(t *testing.T) {
	chromium := chromiumPath(t)
	demo := start(t, []string{"http", "kafka"}, "demo", "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + demo.addrs["http"]
	waitReady(t, base)
	known := waitQuotes(t, base, 5)
	a, b, c, d, e := known[0], known[1], known[2], known[3], known[4]
	ctx, console := newBrowser(t, chromium)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/?symbols="+a+","+b+","+c)); err != nil {
		t.Fatal(err)
	}
	waitLive(t, ctx, 30*time.Second)
	rowsExpr := `Array.from(document.querySelectorAll("#watchlist tbody tr"), (r) => r.dataset.symbol).join(",")`
	rows := func() string { return evalString(t, ctx, rowsExpr) }
	query := func() url.Values {
		v, err := url.ParseQuery(strings.TrimPrefix(evalString(t, ctx, `location.search`), "?"))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("add with the keyboard", func(t *testing.T) {
		if err := pressSlash(ctx); err != nil {
			t.Fatal(err)
		}
		if got := evalString(t, ctx, `document.activeElement.id`); got != "search" {
			t.Fatalf("after /, focus is on %q, want the search box", got)
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(strings.ToLower(d)+"\r")); err != nil {
			t.Fatal(err)
		}
		want := strings.Join([]string{a, b, c, d}, ",")
		if got := rows(); got != want {
			t.Fatalf("rows %q, want %q", got, want)
		}
		if got := query().Get("symbols"); got != want {
			t.Fatalf("URL symbols %q, want %q", got, want)
		}
		// The added row fills in without a reload.
		pollJS(t, ctx, `/^\d+\.\d+$/.test(document.querySelector('#watchlist tr[data-symbol="`+d+`"] [data-field="bid"]').textContent)`, 30*time.Second, rows)
	})

	t.Run("search suggests known symbols", func(t *testing.T) {
		// Until the node has /api/symbols, the page searches the pages of
		// /api/quotes; either way the suggestions are known symbols with
		// the prefix, not yet on the list.
		prefix := e[:1]
		defer chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("search").value = "", document.getElementById("search").blur(), true)`))
		chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
  const s = document.getElementById("search");
  s.focus(); s.value = `+strconv.Quote(prefix)+`;
  s.dispatchEvent(new Event("input", {bubbles: true}));
  return true;
})()`))
		pollJS(t, ctx, `document.querySelectorAll("#suggest option").length > 0`, 15*time.Second, func() string { return "no suggestions" })
		var got []string
		if err := chromedp.Do(ctx, evalInto(`Array.from(document.querySelectorAll("#suggest option"), (o) => o.value)`, &got)); err != nil {
			t.Fatal(err)
		}
		onList := strings.Split(rows(), ",")
		for _, s := range got {
			if !strings.HasPrefix(s, prefix) || !slices.Contains(known, s) || slices.Contains(onList, s) {
				t.Errorf("suggestion %q for %q: want known symbols with the prefix, not on the list %v", s, prefix, onList)
			}
		}
		if !slices.Contains(got, e) {
			t.Errorf("suggestions for %q: %v, want %s among them", prefix, got, e)
		}
	})

	t.Run("remove", func(t *testing.T) {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector('#watchlist tr[data-symbol="`+b+`"] button.remove').click(), true)`)); err != nil {
			t.Fatal(err)
		}
		want := strings.Join([]string{a, c, d}, ",")
		if got := rows(); got != want {
			t.Fatalf("rows %q, want %q", got, want)
		}
		if got := query().Get("symbols"); got != want {
			t.Fatalf("URL symbols %q, want %q", got, want)
		}
		if got := evalString(t, ctx, `window.tape.symbols.join(",")`); got != want {
			t.Fatalf("streamed symbols %q, want %q", got, want)
		}
	})

	t.Run("sort", func(t *testing.T) {
		for _, step := range []struct{ click, param string }{{"symbol", "symbol"}, {"symbol", "-symbol"}, {"last", "-last"}, {"last", "last"}} {
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector('#watchlist th[data-sort="`+step.click+`"] button').click(), true)`)); err != nil {
				t.Fatal(err)
			}
			if got := query().Get("sort"); got != step.param {
				t.Fatalf("after clicking %s: URL sort %q, want %q", step.click, got, step.param)
			}
			got := strings.Split(rows(), ",")
			if step.click == "symbol" {
				want := slices.Sorted(slices.Values(got))
				if step.param == "-symbol" {
					slices.Reverse(want)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("sorted by %s: %v", step.param, got)
				}
				continue
			}
			// Live prices move; the rows are in order as one frame reads them.
			ordered := evalString(t, ctx, `(() => {
  const v = Array.from(document.querySelectorAll("#watchlist tbody tr"), (r) => parseFloat(r.querySelector('[data-field="last"]').textContent));
  const ok = v.every((x, i) => i === 0 || isNaN(x) || isNaN(v[i-1]) || (`+fmt.Sprint(step.param == "last")+` ? v[i-1] <= x : v[i-1] >= x));
  return ok ? "ok" : v.join(",");
})()`)
			if ordered != "ok" && !strings.Contains(ordered, "NaN") {
				// A tick between two reads may reorder within a second.
				time.Sleep(1500 * time.Millisecond)
				ordered = evalString(t, ctx, `(() => {
  const v = Array.from(document.querySelectorAll("#watchlist tbody tr"), (r) => parseFloat(r.querySelector('[data-field="last"]').textContent));
  return v.every((x, i) => i === 0 || (`+fmt.Sprint(step.param == "last")+` ? v[i-1] <= x : v[i-1] >= x)) ? "ok" : v.join(",");
})()`)
			}
			if ordered != "ok" {
				t.Fatalf("sorted by %s, the last prices read %s", step.param, ordered)
			}
		}
	})

	t.Run("arrows and Delete", func(t *testing.T) {
		// Rows sorted by a live price may trade places between two key
		// presses: sort by symbol, an order no tick changes.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector('#watchlist th[data-sort="symbol"] button').click(), true)`)); err != nil {
			t.Fatal(err)
		}
		if got := query().Get("sort"); got != "symbol" {
			t.Fatalf("URL sort %q, want symbol", got)
		}
		before := strings.Split(rows(), ",")
		chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("search").focus(), true)`))
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown)); err != nil {
			t.Fatal(err)
		}
		if got := evalString(t, ctx, `document.activeElement.dataset.symbol || document.activeElement.id`); got != before[1] {
			t.Fatalf("two arrows down from the search: focus on %q, want the second row %q", got, before[1])
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Delete)); err != nil {
			t.Fatal(err)
		}
		want := strings.Join(slices.Delete(slices.Clone(before), 1, 2), ",")
		if got := rows(); got != want {
			t.Fatalf("after Delete: rows %q, want %q", got, want)
		}
	})

	t.Run("remembered", func(t *testing.T) {
		want, sort := rows(), query().Get("sort")
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		waitLive(t, ctx, 30*time.Second)
		// The same symbols; their order is the remembered sort's, which
		// live prices may have changed.
		got := strings.Split(rows(), ",")
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(strings.Split(want, ",")))) {
			t.Fatalf("a new visit shows %v, want the remembered %s", got, want)
		}
		if q := query(); q.Get("sort") != sort {
			t.Fatalf("a new visit has sort %q, want the remembered %q", q.Get("sort"), sort)
		}
	})
	checkConsole(t, ctx, console)
}

// pressSlash types "/" as a keyboard does: one keyDown that carries the
// text, so a page that handles the key and prevents its default gets no
// character typed (chromedp.KeyEvent sends the character separately).
func pressSlash(ctx context.Context) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		p := input.DispatchKeyEventParams{Type: typ, Key: "/", Code: "Slash", WindowsVirtualKeyCode: 191, NativeVirtualKeyCode: 191}
		if typ == input.DispatchKeyEventTypeKeyDown {
			p.Text, p.UnmodifiedText = "/", "/"
		}
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, p); err != nil {
			return err
		}
	}
	return nil
}

// frontNode stands in front of a web node as the node a page was served
// by: it passes every request through, and the test can make it refuse
// streams (503 with Retry-After, as a draining node does), name other
// nodes in a "nodes" event at the start of every stream (the shape of
// the nodes event of the node list), or vanish.
type frontNode struct {
	srv      *http.Server
	url      string
	upstream string

	mu      sync.Mutex
	refuse  bool
	nodes   string // JSON list for the nodes event; "" sends none
	cancels map[*http.Request]context.CancelFunc
	refused int // streams and probes answered 503
}

func newFrontNode(t *testing.T, upstream string) *frontNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &frontNode{url: "http://" + ln.Addr().String(), upstream: upstream, cancels: map[*http.Request]context.CancelFunc{}}
	target, _ := url.Parse(upstream)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			proxy.ServeHTTP(w, r)
			return
		}
		f.mu.Lock()
		refuse, nodes := f.refuse, f.nodes
		if refuse {
			f.refused++
		}
		f.mu.Unlock()
		if refuse {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":{"code":"unavailable","message":"draining"}}`, http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		f.mu.Lock()
		f.cancels[r] = cancel
		f.mu.Unlock()
		defer func() { f.mu.Lock(); delete(f.cancels, r); f.mu.Unlock() }()
		req, _ := http.NewRequestWithContext(ctx, r.Method, upstream+r.URL.RequestURI(), nil)
		req.Header = r.Header.Clone()
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		if res.StatusCode != 200 || r.Method != http.MethodGet {
			io.Copy(w, res.Body)
			return
		}
		if nodes != "" {
			fmt.Fprintf(w, "event: nodes\ndata: {\"nodes\":%s}\n\n", nodes)
		}
		w.(http.Flusher).Flush()
		// The node's own nodes events name the real nodes: this front
		// stands for them, so they are left out (it sends its own list).
		br := bufio.NewReader(res.Body)
		var block []byte
		for {
			line, err := br.ReadBytes('\n')
			block = append(block, line...)
			if len(bytes.TrimRight(line, "\r\n")) == 0 && len(line) > 0 {
				if !bytes.HasPrefix(block, []byte("event: nodes\n")) && !bytes.Contains(block, []byte("\nevent: nodes\n")) {
					if _, werr := w.Write(block); werr != nil {
						return
					}
					w.(http.Flusher).Flush()
				}
				block = block[:0]
			}
			if err != nil {
				return
			}
		}
	})}
	go f.srv.Serve(ln)
	t.Cleanup(func() { f.srv.Close() })
	return f
}

// drain ends every stream and refuses new ones (true), or takes them
// again (false).
func (f *frontNode) drain(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = on
	if on {
		for _, cancel := range f.cancels {
			cancel()
		}
	}
}

func (f *frontNode) setNodes(list string) {
	f.mu.Lock()
	f.nodes = list
	f.mu.Unlock()
}

func (f *frontNode) refusals() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

// TestBrowserRetriesAfter503AndFailsOver: the page's node refuses its
// reconnect with 503 and Retry-After for a while (as a draining node
// does): the page waits, reconnects when the node takes streams again and
// misses nothing. Then the node names another node in its nodes event and
// vanishes: the page moves its stream to the other node by itself, across
// origins, and still misses nothing.
func TestBrowserRetriesAfter503AndFailsOver(t *testing.T) {
	chromium := chromiumPath(t)
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	start(t, nil, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id, "--log-level", "warn"}, tt.flags()...)...)
	serve := func(name string) string {
		n := start(t, []string{"http"}, append([]string{"serve", "--brokers", brokers, "--addr", "127.0.0.1:0", "--node-id", id + "-" + name,
			"--reject-unknown=false", "--drain", "0s", "--heartbeat", "1s", "--cors-origins", "*", "--log-level", "warn"}, tt.flags()...)...)
		base := "http://" + n.addrs["http"]
		waitReady(t, base)
		return base
	}
	baseA, baseB := serve("a"), serve("b")
	front := newFrontNode(t, baseA)

	syms := []string{"FOA", "FOB", "FOC"}
	stop := sequenceFeed(t, brokers, tt.raw, syms, 100*time.Millisecond)
	ctx, console := newBrowser(t, chromium)
	if err := chromedp.Do(ctx, chromedp.Navigate(front.url+"/?symbols="+strings.Join(syms, ","))); err != nil {
		t.Fatal(err)
	}
	waitLive(t, ctx, 30*time.Second)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](recorder)); err != nil {
		t.Fatal(err)
	}
	states := func() string {
		return evalString(t, ctx, `JSON.stringify({states: window.__states, why: window.__why, state: window.tape.state})`)
	}
	mark := `(window.__mark = Object.fromEntries(["FOA","FOB","FOC"].map((s) => [s, (window.__rec[s] || []).length])), true)`
	everyTicked := `["FOA","FOB","FOC"].every((s) => (window.__rec[s] || []).length >= window.__mark[s] + 3)`
	chromedp.Run(ctx, chromedp.Evaluate[bool](mark))
	pollJS(t, ctx, everyTicked, 30*time.Second, states)
	chromedp.Run(ctx, chromedp.Evaluate[bool](afterLoad))

	t.Run("503 with Retry-After", func(t *testing.T) {
		front.drain(true)
		pollJS(t, ctx, `window.__states.includes("reconnecting")`, 30*time.Second, states)
		for deadline := time.Now().Add(30 * time.Second); front.refusals() < 2; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d reconnects refused in 30s, want 2 (the page gave up?) %s", front.refusals(), states())
			}
		}
		front.drain(false)
		chromedp.Run(ctx, chromedp.Evaluate[bool](mark))
		pollJS(t, ctx, `window.tape.state.state === "live" && `+everyTicked, 30*time.Second, states)
		why := evalString(t, ctx, `JSON.stringify(window.__why || [])`)
		if !strings.Contains(why, "answered 503, retry after 1s") {
			t.Errorf("the page's reasons %s, want the 503 and its Retry-After", why)
		}
		t.Logf("%d refusals; reasons %s", front.refusals(), why)
	})

	t.Run("fails over to a listed node", func(t *testing.T) {
		front.setNodes(fmt.Sprintf(`[{"id":"a","role":"web","url":%q,"ready":true},{"id":"b","role":"web","url":%q,"ready":true}]`, front.url, baseB))
		// A stream opened from now on names both nodes.
		front.drain(true)
		front.drain(false)
		pollJS(t, ctx, `window.tape.nodes.length === 2`, 30*time.Second, states)
		front.srv.Close() // the page's node is gone
		chromedp.Run(ctx, chromedp.Evaluate[bool](mark))
		pollJS(t, ctx, `window.tape.state.state === "live" && window.tape.state.node === `+strconv.Quote(baseB)+` && `+everyTicked, 60*time.Second, states)
		t.Logf("streaming from %s", evalString(t, ctx, `window.tape.state.node`))
	})
	if t.Failed() {
		return
	}

	last := stop()
	api := waitLastBids(t, baseB, syms, last)
	pollJS(t, ctx, fmt.Sprintf(`(() => { const want = %s; return Object.keys(want).every((s) => document.querySelector('#watchlist tr[data-symbol="' + s + '"] [data-field="bid"]').textContent === want[s]); })()`, bidsJSON(api)), 30*time.Second, states)
	var rec map[string][]string
	if err := chromedp.Do(ctx, evalInto(`window.__rec`, &rec)); err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if err := contiguous(rec[s], last[s]); err != nil {
			t.Errorf("%s: %v (record %v)", s, err, rec[s])
		}
	}
	checkConsole(t, ctx, console)
}

func bidsJSON(qs []quoteJSON) string {
	m := map[string]string{}
	for _, q := range qs {
		m[q.Symbol] = q.Bid
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestBrowserWithoutSharedWorkerElectsALeader: in a browser without
// SharedWorker (Chrome on Android, say) the tabs elect a leader that holds
// the one stream and relays it; when the leader's tab closes, another tab
// takes over and every remaining tab goes on ticking.
func TestBrowserWithoutSharedWorkerElectsALeader(t *testing.T) {
	chromium := chromiumPath(t)
	demo := start(t, []string{"http", "kafka"}, "demo", "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + demo.addrs["http"]
	waitReady(t, base)
	waitQuotes(t, base, 3)

	first, console := newBrowser(t, chromium)
	tabs := []context.Context{first}
	var closeTab []context.CancelFunc
	for range 2 {
		tab, cancel := chromedp.NewContext(first)
		t.Cleanup(cancel)
		tabs = append(tabs, tab)
		closeTab = append(closeTab, cancel)
	}
	for _, tab := range tabs {
		if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `delete window.SharedWorker;`}); err != nil {
			t.Fatal(err)
		}
	}
	// The second tab opens first and leads (the first tab's context
	// holds the browser, so it must not be the one closed).
	order := []int{1, 0, 2}
	for n, i := range order {
		if err := chromedp.Do(tabs[i], chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		waitLive(t, tabs[i], 30*time.Second)
		if n == 0 {
			pollJS(t, tabs[i], `window.tape.mode === "leader"`, 15*time.Second, func() string { return evalString(t, tabs[i], `window.tape.mode`) })
		}
	}
	ticks := func(tab context.Context, name string) {
		t.Helper()
		chromedp.Run(tab, chromedp.Evaluate[bool](`(window.__n = 0, window.__c ||= document.addEventListener("tape:quote", () => window.__n++) || 1, true)`))
		pollJS(t, tab, `window.__n >= 3`, 30*time.Second, func() string { return evalString(t, tab, `JSON.stringify(window.tape.state) + " " + window.tape.mode`) })
	}
	for _, i := range order {
		ticks(tabs[i], fmt.Sprint("tab ", i+1))
	}
	if got := evalString(t, tabs[0], `window.tape.mode`) + "," + evalString(t, tabs[2], `window.tape.mode`); got != "follower,follower" {
		t.Fatalf("modes of the other tabs: %s, want followers", got)
	}
	closeTab[0]() // the leader's tab
	for _, i := range []int{0, 2} {
		ticks(tabs[i], fmt.Sprint("tab ", i+1))
	}
	modes := evalString(t, tabs[0], `window.tape.mode`) + "," + evalString(t, tabs[2], `window.tape.mode`)
	if modes != "leader,follower" && modes != "follower,leader" {
		t.Fatalf("after the leader closed, modes %s, want one leader", modes)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if n := metric(t, base, "tape_stream_subscribers"); n == 1 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the node holds %d streams for the tabs of one browser, want 1", n)
		}
	}
	checkConsole(t, first, console)
}

// TestBrowserThemesAndNarrowScreens: the watchlist in light and dark (the
// system's preference, then the toggle, which is remembered), wide and at
// 390 px, where nothing but the table's own scroller may be wider than the
// screen; local time or UTC by a remembered toggle. Screenshots go to
// TAPE_SCREENSHOT_DIR when it is set.
func TestBrowserThemesAndNarrowScreens(t *testing.T) {
	chromium := chromiumPath(t)
	demo := start(t, []string{"http", "kafka"}, "demo", "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + demo.addrs["http"]
	waitReady(t, base)
	waitQuotes(t, base, 6)
	ctx, console := newBrowser(t, chromium)
	dir := os.Getenv("TAPE_SCREENSHOT_DIR")
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bg := `getComputedStyle(document.body).backgroundColor`
	for _, scheme := range []string{"light", "dark"} {
		for _, width := range []int64{1280, 390} {
			name := fmt.Sprintf("watchlist-%s-%d", scheme, width)
			t.Run(name, func(t *testing.T) {
				if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
					t.Fatal(err)
				}
				if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 800), chromedp.Navigate(base+"/")); err != nil {
					t.Fatal(err)
				}
				waitLive(t, ctx, 30*time.Second)
				color := evalString(t, ctx, bg)
				if dark := color == "rgb(17, 20, 24)"; dark != (scheme == "dark") {
					t.Errorf("prefers-color-scheme %s: background %s", scheme, color)
				}
				if w := evalString(t, ctx, `String(document.documentElement.scrollWidth)`); w != fmt.Sprint(width) {
					t.Errorf("at %d px the page is %s px wide", width, w)
				}
				visible := evalString(t, ctx, `Array.from(document.querySelectorAll("#watchlist thead th"), (th) => th.offsetParent ? th.textContent.trim() : "").filter(Boolean).join(",")`)
				if !strings.Contains(visible, "Symbol") || !strings.Contains(visible, "Last") || !strings.Contains(visible, "Chg %") {
					t.Errorf("at %d px the columns shown are %q, want at least symbol, last and change %%", width, visible)
				}
				if dir != "" {
					time.Sleep(300 * time.Millisecond) // let a tick's flash fade a little
					png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
					if err != nil {
						t.Fatal(err)
					}
					path := filepath.Join(dir, name+".png")
					if err := os.WriteFile(path, png, 0o644); err != nil {
						t.Fatal(err)
					}
					t.Logf("screenshot %s", path)
				}
			})
		}
	}

	t.Run("toggles are remembered", func(t *testing.T) {
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("theme").click(), document.getElementById("tz").click(), true)`))
		if got := evalString(t, ctx, bg); got != "rgb(17, 20, 24)" {
			t.Fatalf("after the theme toggle the background is %s, want dark", got)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		waitLive(t, ctx, 30*time.Second)
		got := evalString(t, ctx, bg+` + " " + document.getElementById("tz").textContent + " " + document.querySelector(".tzname").textContent`)
		if got != "rgb(17, 20, 24) local local" {
			t.Fatalf("on the next visit: %q, want the dark theme and local time remembered", got)
		}
		// Local time is the browser's zone: compare a cell with what the
		// browser itself makes of the cell's timestamp.
		same := evalString(t, ctx, `(() => {
  const c = document.querySelector('#watchlist td[data-field="ts"][data-ts]:not([data-ts=""])');
  if (!c) return "no time cell";
  const d = new Date(c.dataset.ts), p = (n, w) => String(n).padStart(w || 2, "0");
  const want = p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) + "." + p(d.getMilliseconds(), 3);
  return c.textContent === want ? "ok" : c.textContent + " != " + want;
})()`)
		if same != "ok" {
			t.Fatalf("local time cell: %s", same)
		}
		chromedp.Run(ctx, chromedp.Evaluate[bool](`(localStorage.clear(), true)`))
	})
	checkConsole(t, ctx, console)
}

// BenchmarkBrowserWatchlistRender measures what a busy watchlist costs
// the browser: 50 symbols quoted 20 times a second each (1,000 quotes a
// second) on one page in Chromium, for 10 seconds. The quotes are applied
// straight to a web node's hub, so that the broker, ingest and a feed do
// not share the two cores with the browser being measured. It reports the
// quotes the page was given per second, frame intervals
// (requestAnimationFrame deltas), long tasks (PerformanceObserver
// "longtask", over 50 ms) and the renderer's script, style and layout
// time per second (DevTools Performance metrics).
//
//	go test -run '^$' -bench BrowserWatchlistRender -benchtime 1x ./cmd/tape
func BenchmarkBrowserWatchlistRender(b *testing.B) {
	chromium := chromiumPath(b)
	hub, base := hubNode(b, ui.Config{})
	syms := make([]string, 50)
	for i := range syms {
		syms[i] = fmt.Sprintf("SYM%02d", i)
	}
	// 20 quotes a second per symbol, applied every 10 ms in batches of 10,
	// with prices on a random walk.
	ctxFeed, stopFeed := context.WithCancel(context.Background())
	defer stopFeed()
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		rng := rand.New(rand.NewPCG(1, 2))
		mid := make([]int64, len(syms))
		vol := make([]int64, len(syms))
		for i := range mid {
			mid[i] = int64(50+i*7) * 1e8
		}
		var off int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctxFeed.Done():
				return
			case <-tick.C:
			}
			var recs []stream.Record
			for k := range 10 {
				i := (n*10 + k) % len(syms)
				mid[i] += (rng.Int64N(5) - 2) * 1e6
				vol[i] += 100
				q := tape.Quote{Symbol: tape.Symbol(syms[i]), Bid: tape.Price(mid[i] - 1e6), Ask: tape.Price(mid[i] + 1e6),
					Last: tape.Price(mid[i]), Open: tape.Price(int64(50+i*7) * 1e8), Volume: tape.Size(vol[i] * 1e8),
					Time: time.Now(), Source: "bench", Seq: tape.Seq{Partition: 0, Offset: off}}
				recs = append(recs, stream.Record{Offset: off, Value: q.AppendJSON(nil), HighWater: off + 1})
				off++
			}
			hub.ApplyBatch(0, recs)
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); len(hub.Quotes([]tape.Symbol{"SYM49"})) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("the hub has no quotes")
		}
	}
	ctx, _ := newBrowser(b, chromium)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 2000), chromedp.Navigate(base+"/?symbols="+strings.Join(syms, ","))); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		live, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("status").classList.contains("live")`))
		if live {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the page is not live after 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := chromedp.Call(ctx, performance.Enable, performance.EnableParams{}); err != nil {
		b.Fatal(err)
	}
	metrics := func() map[string]float64 {
		r, err := chromedp.Call(ctx, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			b.Fatal(err)
		}
		m := map[string]float64{}
		for _, x := range r.Metrics {
			m[x.Name] = x.Value
		}
		return m
	}
	time.Sleep(2 * time.Second) // past the first paint and the snapshot
	load := func() string { s, _ := os.ReadFile("/proc/loadavg"); return strings.TrimSpace(string(s)) }
	b.Logf("load average before: %s", load())
	const window = 10 * time.Second
	before := metrics()
	b.ResetTimer()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`new Promise((ok) => {
  const frames = [], longs = [];
  let quotes = 0, last = 0, done = false;
  const po = new PerformanceObserver((l) => { for (const e of l.getEntries()) longs.push(e.duration); });
  po.observe({type: "longtask"});
  document.addEventListener("tape:quote", () => quotes++);
  const f = (t) => { if (last) frames.push(t - last); last = t; if (!done) requestAnimationFrame(f); };
  requestAnimationFrame(f);
  setTimeout(() => { done = true; po.disconnect(); ok(JSON.stringify({frames, longs, quotes})); }, %d);
})`, window.Milliseconds()), chromedp.EvalAwaitPromise))
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	after := metrics()
	b.Logf("load average after: %s", load())
	var r struct {
		Frames, Longs []float64
		Quotes        int
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		b.Fatal(err)
	}
	if len(r.Frames) == 0 || r.Quotes == 0 {
		b.Fatalf("no frames (%d) or no quotes (%d) in %s", len(r.Frames), r.Quotes, window)
	}
	slices.Sort(r.Frames)
	pct := func(p float64) float64 { return r.Frames[int(p*float64(len(r.Frames)-1))] }
	longTotal, longMax := 0.0, 0.0
	for _, d := range r.Longs {
		longTotal += d
		longMax = max(longMax, d)
	}
	per := func(name string) float64 { return (after[name] - before[name]) * 1000 / window.Seconds() } // ms per s
	b.ReportMetric(float64(r.Quotes)/window.Seconds(), "quotes/s")
	b.ReportMetric(float64(len(r.Frames))/window.Seconds(), "frames/s")
	b.ReportMetric(pct(0.5), "frame-p50-ms")
	b.ReportMetric(pct(0.99), "frame-p99-ms")
	b.ReportMetric(r.Frames[len(r.Frames)-1], "frame-max-ms")
	b.ReportMetric(float64(len(r.Longs)), "longtasks")
	b.ReportMetric(longMax, "longtask-max-ms")
	b.ReportMetric(per("ScriptDuration"), "script-ms/s")
	b.ReportMetric(per("RecalcStyleDuration")+per("LayoutDuration"), "style+layout-ms/s")
	b.ReportMetric(per("TaskDuration"), "task-ms/s")
	b.Logf("%d quotes, %d frames, %d long tasks (%.0f ms in all) in %s", r.Quotes, len(r.Frames), len(r.Longs), longTotal, window)
	stopFeed()
	<-fed
}

// hubNode serves a web node whose hub the test feeds itself, without a
// broker: quotes go in with hub.ApplyBatch, one partition.
func hubNode(tb testing.TB, cfg ui.Config) (*stream.Hub, string) {
	tb.Helper()
	hub, err := stream.NewHub(stream.Config{}, ui.SSE{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(hub.Close)
	if err := hub.Init(7, []int64{0}, []int64{0}); err != nil {
		tb.Fatal(err)
	}
	cfg.NodeID = "hub"
	srv, err := ui.New(cfg, hubQuotes{Hub: hub})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Shutdown(context.Background()) })
	return hub, "http://" + ln.Addr().String()
}

// TestBrowserSaysWhenTheFeedIsStale: while the node cannot read its feed
// the page says stale, with how long, and dims its prices; when the feed
// is back it says live. A snapshot (a reset) redraws every value at once
// and flashes none of them.
func TestBrowserSaysWhenTheFeedIsStale(t *testing.T) {
	chromium := chromiumPath(t)
	hub, base := hubNode(t, ui.Config{})
	var off int64
	apply := func(sym, bid string) {
		q := tape.Quote{Symbol: tape.Symbol(sym), Bid: tape.MustPrice(bid), Ask: tape.MustPrice(bid) + tape.MustPrice("0.01"),
			Time: time.Now(), Source: "test", Seq: tape.Seq{Partition: 0, Offset: off}}
		hub.ApplyBatch(0, []stream.Record{{Offset: off, Value: q.AppendJSON(nil), HighWater: off + 1}})
		off++
	}
	apply("STA", "10.00")
	apply("STB", "20.00")
	ctx, console := newBrowser(t, chromium)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/?symbols=STA,STB")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, ctx, 30*time.Second)
	status := func() string {
		return evalString(t, ctx, `document.getElementById("status").className + " | " + document.getElementById("age").textContent + " | " + document.body.className`)
	}

	hub.SetFeedError(errors.New("broker unreachable"))
	pollJS(t, ctx, `document.getElementById("status").classList.contains("stale") && document.body.classList.contains("stale") && /feed stale \d+s/.test(document.getElementById("age").textContent)`, 30*time.Second, status)
	t.Logf("stale: %s", status())
	hub.SetFeedError(nil)
	pollJS(t, ctx, `document.getElementById("status").classList.contains("live") && !document.body.classList.contains("stale")`, 30*time.Second, status)
	apply("STA", "10.05")
	pollJS(t, ctx, `document.querySelector('tr[data-symbol="STA"] [data-field="bid"]').textContent === "10.05"`, 30*time.Second, status)

	// A reset: the next frame shows the snapshot's values, none flashed.
	got, err := evalStringAwait(ctx, `new Promise((ok) => {
  for (const c of document.querySelectorAll("[data-flash]")) delete c.dataset.flash;
  document.dispatchEvent(new CustomEvent("tape:snapshot", {detail: {quotes: [
    {symbol: "STA", bid: "9.50", ask: "9.51", ts: new Date().toISOString()},
    {symbol: "STB", bid: "21.00", ask: "21.01", ts: new Date().toISOString()}]}}));
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const cell = (s, f) => document.querySelector('tr[data-symbol="' + s + '"] [data-field="' + f + '"]').textContent;
    ok([cell("STA", "bid"), cell("STB", "bid"), document.querySelectorAll("[data-flash]").length].join(" "));
  }));
})`)
	if err != nil || got != "9.50 21.00 0" {
		t.Fatalf("after a snapshot: bids and flashed cells %q (%v), want 9.50 21.00 and none flashed", got, err)
	}
	checkConsole(t, ctx, console)
}

// applyQuotes applies one quote per symbol to a hubNode's hub, with the
// given bid, at the next offsets.
type hubFeed struct {
	hub *stream.Hub
	off int64
}

func (f *hubFeed) apply(bid string, syms ...string) {
	var recs []stream.Record
	for _, sym := range syms {
		q := tape.Quote{Symbol: tape.Symbol(sym), Bid: tape.MustPrice(bid), Ask: tape.MustPrice(bid) + tape.MustPrice("0.01"),
			Time: time.Now(), Source: "test", Seq: tape.Seq{Partition: 0, Offset: f.off}}
		recs = append(recs, stream.Record{Offset: f.off, Value: q.AppendJSON(nil), HighWater: f.off + 1})
		f.off++
	}
	f.hub.ApplyBatch(0, recs)
}

// TestBrowserTabsWantingMoreSymbolsThanAStreamTakes: three tabs whose
// symbols together are more than a node takes in one stream (here 4) are
// served over several streams of one browser, and every row ticks.
func TestBrowserTabsWantingMoreSymbolsThanAStreamTakes(t *testing.T) {
	chromium := chromiumPath(t)
	hub, base := hubNode(t, ui.Config{MaxSymbols: 4, Heartbeat: 250 * time.Millisecond}) // closed streams are found at the next write
	feed := &hubFeed{hub: hub}
	lists := [][]string{{"MA", "MB", "MC", "MD"}, {"ME", "MF", "MG"}, {"MH", "MI", "MJ"}}
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	feed.apply("1.00", all...)
	first, console := newBrowser(t, chromium)
	tabs := []context.Context{first}
	for range len(lists) - 1 {
		tab, cancel := chromedp.NewContext(first)
		t.Cleanup(cancel)
		tabs = append(tabs, tab)
	}
	for i, tab := range tabs {
		if err := chromedp.Do(tab, chromedp.Navigate(base+"/?symbols="+strings.Join(lists[i], ","))); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		waitLive(t, tab, 30*time.Second)
		t.Logf("tab %d live after %s, %d streams", i+1, time.Since(t0), hub.Subscribers())
	}
	for deadline := time.Now().Add(15 * time.Second); hub.Subscribers() != 3; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams for 10 symbols at 4 a stream, want 3", hub.Subscribers())
		}
	}
	feed.apply("2.00", all...)
	for i, tab := range tabs {
		want := map[string]string{}
		for _, s := range lists[i] {
			want[s] = "2.00"
		}
		b, _ := json.Marshal(want)
		pollJS(t, tab, fmt.Sprintf(`(() => { const want = %s; return Object.keys(want).every((s) => document.querySelector('#watchlist tr[data-symbol="' + s + '"] [data-field="bid"]').textContent === want[s]); })()`, b),
			30*time.Second, func() string { return evalString(t, tab, `JSON.stringify(window.tape.state)`) })
	}
	checkConsole(t, first, console)
}

// TestBrowserWithoutWorkerSharingStreamsPerTab: a browser with neither
// SharedWorker nor Web Locks still gets live pages, one stream per tab.
func TestBrowserWithoutWorkerSharingStreamsPerTab(t *testing.T) {
	chromium := chromiumPath(t)
	hub, base := hubNode(t, ui.Config{Heartbeat: 250 * time.Millisecond})
	feed := &hubFeed{hub: hub}
	feed.apply("1.00", "PTA", "PTB")
	first, console := newBrowser(t, chromium)
	second, cancel := chromedp.NewContext(first)
	t.Cleanup(cancel)
	for _, tab := range []context.Context{first, second} {
		if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `delete window.SharedWorker; Object.defineProperty(Navigator.prototype, "locks", {get: () => undefined});`}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(tab, chromedp.Navigate(base+"/?symbols=PTA,PTB")); err != nil {
			t.Fatal(err)
		}
		waitLive(t, tab, 30*time.Second)
		if mode := evalString(t, tab, `window.tape.mode`); mode != "tab" {
			t.Fatalf("mode %q, want tab", mode)
		}
	}
	feed.apply("2.00", "PTA", "PTB")
	for _, tab := range []context.Context{first, second} {
		pollJS(t, tab, `document.querySelector('#watchlist tr[data-symbol="PTB"] [data-field="bid"]').textContent === "2.00"`, 30*time.Second,
			func() string { return evalString(t, tab, `JSON.stringify(window.tape.state)`) })
	}
	if n := hub.Subscribers(); n != 2 {
		t.Errorf("%d streams for two tabs without sharing, want 2", n)
	}
	checkConsole(t, first, console)
}

// waitLastBids polls base's /api/quotes until every symbol shows the
// last bid the feed wrote (N.01 for sequence N), and returns the quotes.
func waitLastBids(t *testing.T, base string, syms []string, last map[string]int) []quoteJSON {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		api := apiQuotesOf(t, base, syms)
		done := len(api) == len(syms)
		for _, q := range api {
			done = done && q.Bid == fmt.Sprintf("%d.01", last[q.Symbol])
		}
		if done {
			return api
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/quotes %+v after 30s, want the last bids %v", api, last)
		}
	}
}
