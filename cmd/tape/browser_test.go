package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// displayedPrice is how every price must read on a page: plain decimal,
// two to eight places, never a binary-float artefact such as
// 0.30000000000000004 or 1e-7.
var displayedPrice = regexp.MustCompile(`^\d+\.\d{2,8}$`)

// noPrice is what a cell shows for a field the quote does not have.
const noPrice = "—"

// cspRecorder runs in every document before the page's own scripts and
// keeps the page's Content-Security-Policy violations where the test can
// read them; the same violations also reach the console, which the test
// watches as well.
const cspRecorder = `window.__tapeCSP = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__tapeCSP.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber));`

// priceCells reads the text of every bid, ask and last cell of the
// dashboard, by symbol.
const priceCells = `(() => {
  const out = {};
  for (const tr of document.querySelectorAll("#watchlist tr[data-symbol]")) {
    const row = {};
    for (const f of ["bid", "ask", "last"]) {
      const cell = tr.querySelector('[data-field="' + f + '"]');
      row[f] = cell ? cell.textContent.trim() : "";
    }
    out[tr.dataset.symbol] = row;
  }
  return out;
})()`

// TestBrowserDashboardAndSymbolPage opens the demo in a real Chromium, as
// a trader would: the first paint already shows prices, the page goes
// live and ticks, every price reads as an exact decimal, the symbol page
// draws its chart and gains ticks, and nothing lands on the console.
func TestBrowserDashboardAndSymbolPage(t *testing.T) {
	chromium := chromiumPath(t)
	demo := start(t, []string{"http", "kafka"}, "demo", "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + demo.addrs["http"]
	waitReady(t, base)
	// The dashboard lists the symbols the node knows; wait until the
	// replay has given it some, as a trader opening it a moment later.
	var priced map[string]bool
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		priced = map[string]bool{}
		for _, q := range apiQuotes(t, base) {
			if q.Bid != "" {
				priced[q.Symbol] = true
			}
		}
		if len(priced) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo has %d quotes with a bid after 15s", len(priced))
		}
	}

	ctx, console := newBrowser(t, chromium)
	began := time.Now()

	t.Run("first paint without script shows prices", func(t *testing.T) {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		// app.js never ran: the status is still the server's.
		if !strings.Contains(html, `class="status connecting"`) {
			t.Fatalf("script ran although disabled: %s", statusTag(html))
		}
		rows := renderedRows(html)
		shown := 0
		for sym := range priced {
			row, ok := rows[sym]
			if !ok {
				t.Errorf("first paint has no row for %s", sym)
				continue
			}
			if !displayedPrice.MatchString(row["bid"]) {
				t.Errorf("first paint: %s bid %q, want a decimal price", sym, row["bid"])
				continue
			}
			shown++
		}
		for sym, row := range rows {
			for f, v := range row {
				if v != noPrice && !displayedPrice.MatchString(v) {
					t.Errorf("first paint: %s %s %q is not a decimal price", sym, f, v)
				}
			}
		}
		if shown == 0 {
			t.Fatalf("first paint shows no bid (rows %v)", rows)
		}
	})
	if t.Failed() {
		return
	}

	var first string
	t.Run("dashboard goes live and ticks", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		waitLive(t, ctx, 15*time.Second)
		live := time.Now()
		before := readPrices(t, ctx)
		if len(before) == 0 {
			t.Fatal("dashboard has no rows")
		}
		first = firstSymbol(t, ctx)
		deadline := time.Now().Add(20 * time.Second)
		for {
			now := readPrices(t, ctx)
			if changed := changedCell(before, now); changed != "" {
				t.Logf("%s ticked %s after going live", changed, time.Since(live).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no price cell changed within 20s of going live: %v", now)
			}
			time.Sleep(200 * time.Millisecond)
		}
		checkNoCSPViolations(t, ctx)
	})
	if t.Failed() || first == "" {
		return
	}

	// The symbol page (chart, bars, time and sales) is TestBrowserMarketPages'.

	// Every message of every page above, including the page that is open
	// now, has reached the console listener by the time an evaluation
	// after it returns.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`1`)); err != nil {
		t.Fatal(err)
	}
	for _, m := range console() {
		switch {
		case m.Type == chromedp.ConsoleError, m.IsException(), strings.Contains(m.Text, "Content Security Policy"):
			t.Errorf("console %s (%s %s:%d)", m, m.Source, m.URL, m.Line)
		}
	}
	t.Logf("browser part took %s", time.Since(began).Round(time.Millisecond))
}

// chromiumPath finds the browser: missing in CI is a failure (make
// test-deps installs it), elsewhere a skip.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; make test-deps installs it")
	}
	t.Skip("chromium is not installed; make test-deps installs it")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile for the
// test, and returns a tab's context and the console messages seen so far
// (console calls, uncaught exceptions and browser log entries such as
// failed loads and CSP violations).
func newBrowser(t testing.TB, path string) (context.Context, func() []chromedp.ConsoleMessage) {
	t.Helper()
	profile := t.TempDir() // removed after the browser below has exited
	var out syncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(&out),
	)
	// A bound on the whole browser session, so that a hung browser fails
	// the test instead of the test binary's timeout.
	limit, cancelLimit := context.WithTimeout(context.Background(), 90*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(limit, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		cancelLimit()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v\n%s", path, err, out.String())
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []chromedp.ConsoleMessage
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, m)
			mu.Unlock()
		}
	}()
	return ctx, func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]chromedp.ConsoleMessage(nil), seen...)
	}
}

// evalInto evaluates a JavaScript expression into *dst.
func evalInto[T any](expr string, dst *T) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Evaluate[T](expr)(ctx, tg)
		*dst = v
		return err
	})
}

// waitLive waits until the page's status says its EventSource is open.
func waitLive(t *testing.T, ctx context.Context, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		class, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").className`))
		if err != nil {
			t.Fatal(err)
		}
		if c := " " + class + " "; strings.Contains(c, " status ") && strings.Contains(c, " live ") {
			return
		}
		if time.Now().After(deadline) {
			detail, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({state: window.tape && window.tape.state, mode: window.tape && window.tape.mode, visible: document.visibilityState, title: document.getElementById("status").title})`))
			t.Fatalf("#status is %q after %s, want live (%s)", class, timeout, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readPrices reads the dashboard's price cells and fails the test on any
// that is not a decimal price.
func readPrices(t *testing.T, ctx context.Context) map[string]map[string]string {
	t.Helper()
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]map[string]string](priceCells))
	if err != nil {
		t.Fatal(err)
	}
	for sym, row := range rows {
		for f, v := range row {
			if v != noPrice && !displayedPrice.MatchString(v) {
				t.Errorf("dashboard: %s %s shows %q, not a decimal price", sym, f, v)
			}
		}
	}
	return rows
}

func firstSymbol(t *testing.T, ctx context.Context) string {
	t.Helper()
	sym, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#watchlist tr[data-symbol]").dataset.symbol`))
	if err != nil {
		t.Fatal(err)
	}
	return sym
}

// changedCell names a cell whose text differs between two readings.
func changedCell(before, after map[string]map[string]string) string {
	for sym, row := range after {
		for f, v := range row {
			if old := before[sym][f]; old != v {
				return fmt.Sprintf("%s %s (%s -> %s)", sym, f, old, v)
			}
		}
	}
	return ""
}

func checkNoCSPViolations(t *testing.T, ctx context.Context) {
	t.Helper()
	var violations []string
	if err := chromedp.Do(ctx, evalInto(`window.__tapeCSP || ["the CSP recorder did not run"]`, &violations)); err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Errorf("Content-Security-Policy violation: %s", v)
	}
}

var (
	rowTag  = regexp.MustCompile(`(?s)<tr data-symbol="([^"]*)".*?</tr>`)
	cellTag = regexp.MustCompile(`<td[^>]*data-field="(bid|ask|last)"[^>]*>([^<]*)</td>`)
)

// renderedRows reads the watchlist rows from the page's HTML: symbol to
// field to text.
func renderedRows(html string) map[string]map[string]string {
	rows := map[string]map[string]string{}
	for _, m := range rowTag.FindAllStringSubmatch(html, -1) {
		row := map[string]string{}
		for _, c := range cellTag.FindAllStringSubmatch(m[0], -1) {
			row[c[1]] = strings.TrimSpace(c[2])
		}
		rows[unescapeHTML(m[1])] = row
	}
	return rows
}

func unescapeHTML(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&quot;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

func statusTag(html string) string {
	if i := strings.Index(html, `id="status"`); i >= 0 {
		return html[max(0, i-20):min(len(html), i+120)]
	}
	return "no #status"
}
