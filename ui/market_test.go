package ui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"tape"
	"tape/ui"
)

// fakeMarket is a hand-written ui.Quotes and ui.Market.
type fakeMarket struct {
	*fakeQuotes
	bars    map[time.Duration][]ui.Bar
	trades  []tape.Print
	movers  ui.Movers
	cluster ui.Cluster
}

func (f *fakeMarket) Bars(sym tape.Symbol, width time.Duration) ([]ui.Bar, tape.Day) {
	if sym != "AAPL" {
		return nil, 0
	}
	return f.bars[width], tape.MakeDay(2026, 11, 20)
}
func (f *fakeMarket) Trades(sym tape.Symbol) []tape.Print {
	if sym != "AAPL" {
		return nil
	}
	return f.trades
}
func (f *fakeMarket) Movers(n int) ui.Movers { return f.movers }
func (f *fakeMarket) Search(prefix string, n int) []tape.Symbol {
	var out []tape.Symbol
	for _, s := range []tape.Symbol{"AA", "AAPL", "MSFT"} {
		if strings.HasPrefix(string(s), prefix) && len(out) < n {
			out = append(out, s)
		}
	}
	return out
}
func (f *fakeMarket) Cluster() ui.Cluster { return f.cluster }

var _ ui.Market = (*fakeMarket)(nil)

var at = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

func newMarket() *fakeMarket {
	q := newFake()
	q.quotes["AA"] = tape.Quote{Symbol: "AA", Last: tape.MustPrice("40"), Open: tape.MustPrice("38"), Volume: tape.MustSize("1500"), Time: at, Source: "x"}
	return &fakeMarket{
		fakeQuotes: q,
		bars: map[time.Duration][]ui.Bar{
			time.Minute: {
				{Time: at.Unix(), Open: tape.MustPrice("187.4"), High: tape.MustPrice("187.5"), Low: tape.MustPrice("187.35"), Close: tape.MustPrice("187.43"), Volume: tape.MustSize("1200")},
				{Time: at.Unix() + 60, Volume: tape.MustSize("7")},
			},
			time.Second: {{Time: at.Unix() + 1, Open: tape.MustPrice("1"), High: tape.MustPrice("1"), Low: tape.MustPrice("1"), Close: tape.MustPrice("1"), Volume: tape.MustSize("0.5")}},
		},
		trades: []tape.Print{
			{Price: tape.MustPrice("187.43"), Size: tape.MustSize("100"), Time: at.Add(2 * time.Second), Counts: tape.AllUpdates},
			{Price: tape.MustPrice("187.9"), Size: tape.MustSize("5"), Time: at.Add(time.Second), Counts: tape.UpdatesVolume},
			{Price: tape.MustPrice("187.1"), Size: tape.MustSize("1"), Time: at, Counts: tape.UpdatesHighLow | tape.UpdatesVolume},
		},
		movers: ui.Movers{Gainers: []tape.Quote{q.quotes["AA"]}, Active: []tape.Quote{q.quotes["AA"]}},
		cluster: ui.Cluster{
			Web:    []tape.Heartbeat{{ID: "web-1", Role: tape.RoleWeb, URL: "http://127.0.0.1:8081", Ready: true, Streams: 3, EventsPerSec: 850.5, At: at, EveryMS: 2000}},
			Ingest: []tape.Heartbeat{{ID: "ingest-1", Role: tape.RoleIngest, Ready: true, RawPerSec: 12, Rejected: 2, At: at, EveryMS: 2000}},
			Newest: at.Add(2 * time.Second),
		},
	}
}

func getMarket(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestMarketAPIs(t *testing.T) {
	base, _ := serve(t, ui.Config{}, newMarket())
	for _, tc := range []struct {
		name, path string
		status     int
		body       string // the whole JSON answer, or for an error its code
	}{
		{"minute bars", "/api/bars?symbol=AAPL", 200,
			`{"symbol":"AAPL","day":"2026-11-20","width":"1m","bars":[{"t":1795185000,"o":"187.40","h":"187.50","l":"187.35","c":"187.43","v":"1200"},{"t":1795185060,"o":null,"h":null,"l":null,"c":null,"v":"7"}]}`},
		{"second bars", "/api/bars?symbol=AAPL&width=1s", 200,
			`{"symbol":"AAPL","day":"2026-11-20","width":"1s","bars":[{"t":1795185001,"o":"1.00","h":"1.00","l":"1.00","c":"1.00","v":"0.5"}]}`},
		{"bars of a known symbol that never traded", "/api/bars?symbol=MSFT&width=1m", 200, `{"symbol":"MSFT","day":null,"width":"1m","bars":[]}`},
		{"bad width", "/api/bars?symbol=AAPL&width=5m", 400, "bad_width"},
		{"no symbol", "/api/bars", 400, "missing_symbol"},
		{"bad symbol", "/api/bars?symbol=%3Cb%3E", 400, "bad_symbol"},
		{"unknown symbol", "/api/bars?symbol=ZZZ", 404, "unknown_symbol"},
		{"trades newest first", "/api/trades?symbol=AAPL&limit=2", 200,
			`{"symbol":"AAPL","trades":[{"ts":"2026-11-20T14:30:02.000000000Z","price":"187.43","size":"100","counts":"last,high_low,open,volume"},{"ts":"2026-11-20T14:30:01.000000000Z","price":"187.90","size":"5","counts":"volume"}]}`},
		{"trades limit too big", "/api/trades?symbol=AAPL&limit=101", 400, "bad_limit"},
		{"movers", "/api/movers?n=5", 200, `{"gainers":[` + string(newMarket().movers.Gainers[0].AppendJSON(nil)) + `],"losers":[],"active":[` + string(newMarket().movers.Active[0].AppendJSON(nil)) + `]}`},
		{"movers n=0", "/api/movers?n=0", 400, "bad_n"},
		{"symbols by prefix, any case", "/api/symbols?prefix=aa", 200, `{"symbols":["AA","AAPL"]}`},
		{"symbols limit", "/api/symbols?prefix=A&limit=1", 200, `{"symbols":["AA"]}`},
		{"symbols bad prefix", "/api/symbols?prefix=%3Cscript%3E", 400, "bad_prefix"},
		{"cluster", "/api/cluster", 200,
			`{"web":[{"id":"web-1","role":"web","ts":"2026-11-20T14:30:00Z","every_ms":2000,"ready":true,"url":"http://127.0.0.1:8081","streams":3,"events_per_s":850.5,"lag":0}],` +
				`"ingest":[{"id":"ingest-1","role":"ingest","ts":"2026-11-20T14:30:00Z","every_ms":2000,"ready":true,"streams":0,"events_per_s":0,"lag":0,"raw_per_s":12,"rejected":2}],` +
				`"replay":[],"newest":"2026-11-20T14:30:02Z","node":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := getMarket(t, base+tc.path)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				var e apiError
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != tc.body {
					t.Fatalf("error %s, want code %s", body, tc.body)
				}
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if body != tc.body {
				t.Errorf("body\n got %s\nwant %s", body, tc.body)
			}
		})
	}
}

func TestMarketAPIsWaitWhileCatchingUp(t *testing.T) {
	m := newMarket()
	m.ready = false
	base, _ := serve(t, ui.Config{}, m)
	for _, path := range []string{"/api/bars?symbol=AAPL", "/api/movers", "/s/AAPL", "/movers"} {
		if res, _ := getMarket(t, base+path); res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d, Retry-After %q", path, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	// The cluster page is what an operator opens while a node catches up.
	if res, _ := getMarket(t, base+"/cluster"); res.StatusCode != 200 {
		t.Errorf("/cluster: %d", res.StatusCode)
	}
}

func TestSymbolPage(t *testing.T) {
	base, _ := serve(t, ui.Config{NodeID: "web-1"}, newMarket())
	res, body := getMarket(t, base+"/s/AAPL")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{
		`data-symbol="AAPL"`,
		// the chart's first bars, as /api/bars answers them
		`<script id="bars-data" type="application/json">{"symbol":"AAPL","day":"2026-11-20","width":"1m","bars":[{"t":1795185000,"o":"187.40"`,
		`/static/vendor/lightweight-charts.standalone.production.js?v=`,
		`href="https://www.tradingview.com/"`,
		// day statistics and the book's top with sizes
		`<dd data-field="open">—</dd>`, `<span data-field="bid">187.42</span>`, `<span data-field="ask">187.44</span>`,
		// time and sales: trades only, newest first, with what they did not count for
		`<td data-ts="2026-11-20T14:30:02Z">14:30:02.000</td><td class="num">187.43</td><td class="num">100</td><td class="note"></td>`,
		`<td class="note">volume only</td>`, `<td class="note">not last</td>`,
		// feed text is escaped
		`&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>alert(1)") {
		t.Error("feed text reaches the page unescaped")
	}
	for _, name := range []string{"lightweight-charts.standalone.production.js", "LICENSE.txt", "NOTICE.txt"} {
		res, body := getMarket(t, base+"/static/vendor/"+name)
		if res.StatusCode != 200 || len(body) < 100 && name != "NOTICE.txt" {
			t.Errorf("%s: %d, %d bytes", name, res.StatusCode, len(body))
		}
	}
	if res, _ := getMarket(t, base+"/static/vendor/..%2Fmarket.js"); res.StatusCode != 404 {
		t.Errorf("a path out of vendor: %d", res.StatusCode)
	}
}

func TestUnknownSymbolPageIs404(t *testing.T) {
	base, _ := serve(t, ui.Config{}, newMarket())
	res, body := getMarket(t, base+"/s/AAP")
	if res.StatusCode != 404 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "No quotes for AAP") ||
		!strings.Contains(body, `<a href="/s/AAPL">AAPL</a>`) || strings.Contains(body, "refresh") {
		t.Errorf("404 page:\n%s", body)
	}
}

func TestMoversAndClusterPages(t *testing.T) {
	base, _ := serve(t, ui.Config{}, newMarket())
	_, body := getMarket(t, base+"/movers")
	for _, want := range []string{`<table id="gainers"`, `<tr data-symbol="AA"><th scope="row"><a href="/s/AA">AA</a></th><td class="num">40.00</td><td class="num up">+2.00 (+5.26%)</td><td class="num">1,500</td></tr>`, `2026-11-20 14:30:02Z`} {
		if !strings.Contains(body, want) {
			t.Errorf("movers page lacks %s", want)
		}
	}
	_, body = getMarket(t, base+"/cluster")
	for _, want := range []string{`<tr data-node="web-1" data-ready="true"><th scope="row">web-1</th><td><a href="http://127.0.0.1:8081/cluster">http://127.0.0.1:8081</a></td><td>ready</td><td class="num">3</td><td class="num">850.5</td>`, `<th scope="row">ingest-1</th>`, `feed as of`} {
		if !strings.Contains(body, want) {
			t.Errorf("cluster page lacks %s", want)
		}
	}
}

func TestMarketRoutesWithoutMarket(t *testing.T) {
	base, _ := serve(t, ui.Config{}, newFake())
	if res, _ := getMarket(t, base+"/api/movers"); res.StatusCode != 404 {
		t.Errorf("/api/movers on a node without market data: %d", res.StatusCode)
	}
	if res, _ := getMarket(t, base+"/s/AAPL"); res.StatusCode != 200 {
		t.Errorf("/s/AAPL on a node without market data: %d", res.StatusCode)
	}
}

// TestWatchlistSparklineIsTheSession: where the node keeps bars, a row's
// sparkline is the session's one-minute closes, then the price now.
func TestWatchlistSparklineIsTheSession(t *testing.T) {
	base, _ := serve(t, ui.Config{}, newMarket())
	_, body := getMarket(t, base+"/?symbols=AAPL")
	// One close (the other minute has only volume-only trades), then
	// AAPL's last, 187.43.
	if !strings.Contains(body, `data-values="187.43 187.43"`) {
		i := strings.Index(body, "data-values")
		t.Fatalf("sparkline %q, want the minute close and the last", body[i:min(len(body), i+60)])
	}
}
