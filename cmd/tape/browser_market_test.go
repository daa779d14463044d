package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// appShim stands in for the layout's app.js of the page contract
// (CONTRACT-10: app.js streams <main data-symbols> and hands quotes to the
// page as tape:* events on document) where this build's app.js does not
// deliver them: the test serves it in place of /static/app.js. It is
// test code only; the pages ship no such thing.
const appShim = `document.addEventListener("DOMContentLoaded", () => {
  const main = document.querySelector("main");
  const own = document.querySelector("section.market[data-symbol]");
  const syms = (main && main.dataset.symbols) || (own && own.dataset.symbol) || "";
  if (!syms) return;
  const es = new EventSource("/events?symbols=" + syms.split(",").map(encodeURIComponent).join(","));
  const fire = (name, detail) => document.dispatchEvent(new CustomEvent(name, { detail }));
  es.addEventListener("snapshot", (e) => fire("tape:snapshot", JSON.parse(e.data)));
  es.addEventListener("quote", (e) => fire("tape:quote", JSON.parse(e.data)));
  es.addEventListener("nodes", (e) => fire("tape:nodes", JSON.parse(e.data).nodes));
});`

// marketBrowser starts a browser for the market pages; with shim, it
// answers /static/app.js with appShim.
func marketBrowser(t *testing.T, shim bool) (context.Context, func() []chromedp.ConsoleMessage) {
	t.Helper()
	ctx, console := newBrowser(t, chromiumPath(t))
	if !shim {
		return ctx, console
	}
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: 200,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/javascript; charset=utf-8"}}, Body: []byte(appShim)})
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/static/app.js*"}}}); err != nil {
		t.Fatal(err)
	}
	return ctx, console
}

// layoutDeliversEvents reports whether this build's app.js fires tape:*
// events (the page contract); without it the tests use streamShim.
func layoutDeliversEvents(t *testing.T, base string) bool {
	t.Helper()
	js := get(t, base+"/static/app.js?v=x")
	return strings.Contains(js, "tape:quote")
}

// eval evaluates expr in the page and fails the test on error.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitUntil evaluates expr until it is true, or fails after timeout.
func waitUntil(t *testing.T, ctx context.Context, timeout time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !eval[bool](t, ctx, expr) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (%s)", what, timeout, expr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshots saves the open page light and dark, wide and at 390 px,
// under TAPE_SCREENSHOT_DIR when it is set (t.TempDir is deleted after
// the test); without it the page is still rendered in each mode.
func screenshots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("TAPE_SCREENSHOT_DIR")
	defer chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
	defer chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
	for _, scheme := range []string{"light", "dark"} {
		for _, width := range []int64{1280, 390} {
			if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
				t.Fatal(err)
			}
			resize := func(height int64) {
				if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
					Width: width, Height: height, DeviceScaleFactor: 1, Mobile: width < 500}); err != nil {
					t.Fatal(err)
				}
			}
			resize(900)
			// The page fits its width: nothing wider than the viewport.
			if over := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 && width == 390 {
				t.Errorf("%s at 390 px is %d px too wide", name, over)
			}
			// The whole page in the viewport, and two frames for the chart
			// to repaint its canvases, which a resize clears.
			resize(int64(eval[int](t, ctx, `document.documentElement.scrollHeight`)))
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(true))))`, chromedp.EvalAwaitPromise)); err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if dir == "" {
				continue
			}
			path := filepath.Join(dir, name+"-"+scheme+"-"+strconv.FormatInt(width, 10)+".png")
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot %s", path)
		}
	}
}

// noConsoleErrors fails the test on errors, exceptions and CSP reports.
func noConsoleErrors(t *testing.T, ctx context.Context, console func() []chromedp.ConsoleMessage) {
	t.Helper()
	eval[int](t, ctx, `1`) // every message so far has reached the listener
	for _, m := range console() {
		switch {
		case m.Source == "network" && strings.Contains(m.URL, "/s/NOSUCH"):
			// the 404 of the unknown symbol's page, which the test asked for
		case m.Type == chromedp.ConsoleError, m.IsException(), strings.Contains(m.Text, "Content Security Policy"):
			t.Errorf("console %s (%s %s:%d)", m, m.Source, m.URL, m.Line)
		}
	}
	checkNoCSPViolations(t, ctx)
}

// tradedSymbol waits until the node has 1 s bars of some symbol and
// returns it.
func tradedSymbol(t *testing.T, base string) string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var m struct{ Active []quoteJSON }
		if err := json.Unmarshal([]byte(get(t, base+"/api/movers?n=5")), &m); err != nil {
			t.Fatal(err)
		}
		for _, q := range m.Active {
			var bars struct{ Bars []json.RawMessage }
			if err := json.Unmarshal([]byte(get(t, base+"/api/bars?symbol="+url.QueryEscape(q.Symbol)+"&width=1m")), &bars); err != nil {
				t.Fatal(err)
			}
			if len(bars.Bars) > 0 {
				return q.Symbol
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no symbol with bars after 60s")
		}
	}
}

// TestBrowserMarketPages opens the market pages of the demo in Chromium:
// the symbol page's chart has the node's bars on load and grows as
// trades arrive, time and sales gains trades, the 1 s / 1 m toggle
// loads the other bars, an unknown symbol is a 404 page that stays put,
// and the movers and cluster pages tick. No console error, no CSP
// violation; screenshots of each page light and dark, wide and 390 px.
func TestBrowserMarketPages(t *testing.T) {
	chromiumPath(t)
	demo := start(t, []string{"http", "kafka"}, "demo", "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + demo.addrs["http"]
	waitReady(t, base)
	sym := tradedSymbol(t, base)
	ctx, console := marketBrowser(t, !layoutDeliversEvents(t, base))

	t.Run("symbol page chart has bars on load and grows", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/s/"+url.PathEscape(sym))); err != nil {
			t.Fatal(err)
		}
		// The chart draws the bars the server rendered into the page.
		served := eval[int](t, ctx, `JSON.parse(document.getElementById("bars-data").textContent).bars.length`)
		if served == 0 {
			t.Fatal("the page carries no bars")
		}
		waitUntil(t, ctx, 10*time.Second, "chart draws the served bars",
			`+document.querySelector("section.market").dataset.bars >= `+strconv.Itoa(served)+` && document.querySelectorAll("#candles canvas").length > 0`)
		inked := eval[int](t, ctx, `(() => {
  let n = 0;
  for (const c of document.querySelectorAll("#candles canvas")) {
    if (!c.width || !c.height) continue;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
  }
  return n;
})()`)
		if inked < 500 {
			t.Errorf("chart inks %d pixels", inked)
		}
		// 1 s bars, then growth as trades arrive: a new bar, or more volume in the newest.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-width="1s"]`))); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, ctx, 10*time.Second, "1 s bars load", `document.querySelector('button[data-width="1s"]').getAttribute("aria-pressed") === "true" && +document.querySelector("section.market").dataset.bars > 0`)
		eval[int](t, ctx, `(() => { const rows = document.querySelectorAll("#trades tbody tr"); for (const tr of rows) tr.dataset.served = "1"; return rows.length; })()`)
		before := eval[string](t, ctx, `document.querySelector("section.market").dataset.lastBar`)
		waitUntil(t, ctx, 30*time.Second, "the chart grows with trades",
			`document.querySelector("section.market").dataset.lastBar !== `+strconv.Quote(before))
		waitUntil(t, ctx, 30*time.Second, "time and sales gains a trade", `document.querySelectorAll("#trades tbody tr:not([data-served])").length > 0`)
		rows := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#trades tbody tr"), (tr) => Array.from(tr.children, (td) => td.textContent.trim()).join("|"))`)
		for _, row := range rows {
			cells := strings.Split(row, "|")
			if len(cells) != 4 || !displayedPrice.MatchString(cells[1]) {
				t.Errorf("time and sales row %q", row)
			}
		}
		for _, f := range []string{"last", "bid", "ask"} {
			if v := eval[string](t, ctx, `document.querySelector('.stats [data-field="`+f+`"]').textContent`); !displayedPrice.MatchString(v) {
				t.Errorf("%s shows %q", f, v)
			}
		}
		if !strings.Contains(eval[string](t, ctx, `document.querySelector(".attribution").textContent`), "TradingView") {
			t.Error("no attribution for the chart library")
		}
		screenshots(t, ctx, "symbol")

		// In local time (the layout's toggle sets <html data-tz="local">),
		// new trades show New York's clock here.
		if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{})
		eval[int](t, ctx, `(() => { document.documentElement.dataset.tz = "local"; for (const tr of document.querySelectorAll("#trades tbody tr")) tr.dataset.served = "1"; return 0; })()`)
		waitUntil(t, ctx, 30*time.Second, "a trade in local time", `document.querySelectorAll("#trades tbody tr:not([data-served])").length > 0`)
		cellTS := eval[[]string](t, ctx, `(() => { const td = document.querySelector("#trades tbody tr:not([data-served]) td"); return [td.dataset.ts, td.textContent]; })()`)
		at, err := time.Parse(time.RFC3339Nano, cellTS[0])
		if err != nil {
			t.Fatal(err)
		}
		ny, _ := time.LoadLocation("America/New_York")
		if want := at.In(ny).Format("15:04:05.000"); cellTS[1] != want {
			t.Errorf("trade at %s shows %q in local time, want %q", cellTS[0], cellTS[1], want)
		}
		noConsoleErrors(t, ctx, console)
	})

	t.Run("unknown symbol is a 404 page that stays", func(t *testing.T) {
		res, err := http.Get(base + "/s/NOSUCH")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Fatalf("status %d", res.StatusCode)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/s/NOSUCH")); err != nil {
			t.Fatal(err)
		}
		eval[bool](t, ctx, `window.__stay = true`)
		if h := eval[string](t, ctx, `document.querySelector("h1").textContent`); h != "No quotes for NOSUCH" {
			t.Errorf("heading %q", h)
		}
		// The old page reloaded every 3 s; this one does not.
		time.Sleep(4 * time.Second)
		if !eval[bool](t, ctx, `window.__stay === true`) {
			t.Error("the 404 page reloaded")
		}
	})

	t.Run("movers tick", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/movers")); err != nil {
			t.Fatal(err)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#active tbody tr").length`); n == 0 {
			t.Fatal("no most active symbols on first paint")
		}
		for i := range 2 {
			mark := eval[string](t, ctx, `document.querySelector("section.market").dataset.updated || ""`)
			waitUntil(t, ctx, 15*time.Second, "movers refresh "+strconv.Itoa(i), `(document.querySelector("section.market").dataset.updated || "") !== `+strconv.Quote(mark))
		}
		clock := eval[string](t, ctx, `document.querySelector('[data-field="newest"]').textContent`)
		if _, err := time.Parse("2006-01-02 15:04:05Z", clock); err != nil {
			t.Errorf("feed clock %q", clock)
		}
		screenshots(t, ctx, "movers")
		noConsoleErrors(t, ctx, console)
	})

	t.Run("cluster ticks", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/cluster")); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, ctx, 30*time.Second, "the node and the ingester are listed",
			`document.querySelectorAll("#web tbody tr[data-ready=true]").length === 1 && document.querySelectorAll("#ingest tbody tr").length === 1`)
		mark := eval[string](t, ctx, `document.querySelector("section.market").dataset.updated || ""`)
		waitUntil(t, ctx, 15*time.Second, "cluster refresh", `(document.querySelector("section.market").dataset.updated || "") !== `+strconv.Quote(mark))
		if u := eval[string](t, ctx, `document.querySelector("#web tbody a").textContent`); u != base {
			t.Errorf("node URL %q, want %q", u, base)
		}
		screenshots(t, ctx, "cluster")
		noConsoleErrors(t, ctx, console)
	})
}

// TestBrowserDemoFile plays a recorded session with tape demo --file at 50
// times its pace: the watchlist shows that session's symbols, and the
// cluster page's feed clock (the recording's time) and replay progress
// advance.
func TestBrowserDemoFile(t *testing.T) {
	chromiumPath(t)
	const file = "../../testdata/feeds/open30m.polygon.jsonl.gz"
	recorded := recordingSymbols(t, file, "polygon")
	demo := start(t, []string{"http", "kafka"}, "demo", "--file", file, "--speed", "50", "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + demo.addrs["http"]
	waitReady(t, base)
	for deadline := time.Now().Add(60 * time.Second); len(apiQuotes(t, base)) < 10; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("fewer than 10 quotes after 60s")
		}
	}
	ctx, console := marketBrowser(t, !layoutDeliversEvents(t, base))

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	syms := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#watchlist tr[data-symbol]"), (tr) => tr.dataset.symbol)`)
	if len(syms) < 10 {
		t.Fatalf("watchlist shows %d symbols", len(syms))
	}
	for _, s := range syms {
		if !recorded[s] {
			t.Errorf("watchlist shows %s, which the recording does not have", s)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/cluster")); err != nil {
		t.Fatal(err)
	}
	clock := func() string {
		return eval[string](t, ctx, `document.querySelector('[data-field="newest"]').textContent`)
	}
	progress := func() float64 {
		return eval[float64](t, ctx, `(() => { const p = document.querySelector("#replays progress"); return p ? p.value : -1; })()`)
	}
	first, firstProgress := clock(), progress()
	if !strings.HasPrefix(first, "2026-11-20 ") {
		t.Fatalf("feed clock %q, want the recording's day", first)
	}
	waitUntil(t, ctx, 30*time.Second, "the feed clock and the replay advance",
		`document.querySelector('[data-field="newest"]').textContent > `+strconv.Quote(first)+
			` && document.querySelector("#replays progress") && document.querySelector("#replays progress").value > `+strconv.FormatFloat(firstProgress, 'f', -1, 64))
	if text := eval[string](t, ctx, `document.querySelector("#replays").textContent`); !strings.Contains(text, "open30m.polygon.jsonl.gz") {
		t.Errorf("replay line %q", text)
	}
	screenshots(t, ctx, "cluster-replay")
	noConsoleErrors(t, ctx, console)
}
