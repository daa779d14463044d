package ui_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"tape/ui"
)

// rowSymbols lists the watchlist rows of a page, in order (the row
// template has an empty symbol and is left out).
func rowSymbols(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<tr data-symbol="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestWatchlistPage: the list comes from ?symbols=, a search without
// script adds to it (?add=, upper-cased), a symbol that is not one is a
// 400, and the page names its symbols for the stream in <main>.
func TestWatchlistPage(t *testing.T) {
	base, _ := serve(t, ui.Config{}, newFake())
	for _, c := range []struct {
		name, query string
		status      int
		rows        string
	}{
		{"the list", "?symbols=MSFT,AAPL", 200, "MSFT,AAPL"},
		{"add without script", "?symbols=MSFT&add=+aapl+", 200, "MSFT,AAPL"},
		{"add what is there", "?symbols=MSFT&add=MSFT", 200, "MSFT"},
		{"add to an empty list", "?add=AAPL", 200, "AAPL"},
		{"add markup", "?symbols=MSFT&add=%3Cscript%3E", 400, ""},
		{"a list with markup", "?symbols=%22X%22", 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, page := get(t, base, "/"+c.query)
			if res.StatusCode != c.status {
				t.Fatalf("%s: %s, want %d", c.query, res.Status, c.status)
			}
			if c.status != http.StatusOK {
				if !strings.Contains(page, `"code":"bad_symbol"`) || strings.Contains(page, "<script>") {
					t.Fatalf("%s: %s, want a JSON error naming the bad symbol, escaped", c.query, page)
				}
				return
			}
			if got := strings.Join(rowSymbols(page), ","); got != c.rows {
				t.Errorf("rows %s, want %s", got, c.rows)
			}
			if !strings.Contains(page, `<main data-symbols="`+c.rows+`">`) {
				t.Errorf("<main> does not name %s for the stream", c.rows)
			}
		})
	}
}

// TestCORSAnyOrigin: "*" lets a page of any origin open a stream on this
// node (failing over to it) and read a refusal's Retry-After.
func TestCORSAnyOrigin(t *testing.T) {
	f := newFake()
	f.ready = false // refuses streams with 503 and Retry-After
	base, _ := serve(t, ui.Config{CORSOrigins: []string{"*"}}, f)
	for _, method := range []string{"HEAD", "GET"} {
		req, _ := http.NewRequest(method, base+"/events?symbols=AAPL", nil)
		req.Header.Set("Origin", "http://node-b.example:8081")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: %s Retry-After %q, want 503 with Retry-After", method, res.Status, res.Header.Get("Retry-After"))
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "http://node-b.example:8081" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want the page's origin", method, got)
		}
		if got := res.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Retry-After") {
			t.Errorf("%s: Access-Control-Expose-Headers %q, want Retry-After", method, got)
		}
	}
}
