package ui

import (
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"tape"
)

// dashboard serves GET /: the watchlist from ?symbols=, the configured
// default, or every known symbol.
func (s *Server) dashboard(c *fiber.Ctx) error {
	syms, err := s.symbols(c.Query("symbols"), false)
	if err != nil {
		return err
	}
	if len(syms) == 0 {
		syms = s.cfg.DefaultSymbols
	}
	var quotes []tape.Quote
	if len(syms) > 0 {
		quotes = s.quotes.Quotes(syms)
	} else {
		quotes, _ = s.quotes.Page("", s.cfg.MaxSymbols)
		for _, q := range quotes {
			syms = append(syms, q.Symbol)
		}
	}
	v := dashboardView{Symbols: syms, Quotes: make(map[tape.Symbol]tape.Quote, len(quotes)), Node: s.cfg.NodeID}
	for _, q := range quotes {
		v.Quotes[q.Symbol] = q
	}
	return render(c, Page("Watchlist", Dashboard(v)))
}

// symbolPage serves GET /s/{symbol}; a symbol may contain "/" (EUR/USD).
func (s *Server) symbolPage(c *fiber.Ctx) error {
	raw, err := url.PathUnescape(c.Params("+"))
	if err != nil {
		raw = c.Params("+")
	}
	sym, err := tape.ParseSymbolString(raw)
	if err != nil {
		e := errorf(fiber.StatusBadRequest, tape.ECodeSymbol, "invalid symbol")
		e.Symbols = []string{raw}
		return e
	}
	v := symbolView{Quote: tape.Quote{Symbol: sym}, Recent: s.quotes.Recent(sym), Node: s.cfg.NodeID}
	if qs := s.quotes.Quotes([]tape.Symbol{sym}); len(qs) == 1 {
		v.Quote = qs[0]
	}
	return render(c, Page(string(sym), SymbolPage(v)))
}

func render(c *fiber.Ctx, page templ.Component) error {
	c.Set("Content-Type", "text/html; charset=utf-8")
	c.Set("Cache-Control", "no-store")
	c.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	return page.Render(c.Context(), c.Response().BodyWriter())
}

func staticURL(name string) string { return "/static/" + name + "?v=" + assetVersion }

func symbolURL(sym tape.Symbol) templ.SafeURL {
	return templ.URL("/s/" + url.PathEscape(string(sym)))
}

func streamURL(syms []tape.Symbol) string {
	var b strings.Builder
	b.WriteString("/events?symbols=")
	for i, s := range syms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(url.QueryEscape(string(s)))
	}
	return b.String()
}

// price renders a price exactly as the JSON carries it; "—" when absent.
func price(p tape.Price) string {
	if p == 0 {
		return "—"
	}
	return p.String()
}

func volume(v tape.Size) string {
	if v == 0 {
		return "—"
	}
	s, frac, _ := strings.Cut(v.String(), ".")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// change is last minus open, with its percentage (tape.PriceChange).
func change(q tape.Quote) string {
	diff, pct, ok := tape.PriceChange(q.Last, q.Open)
	if !ok {
		return "—"
	}
	return diff + " (" + pct + "%)"
}

func clock(q tape.Quote) string {
	if q.Time.IsZero() {
		return "—"
	}
	return q.Time.UTC().Format("15:04:05.000")
}

func isoTime(q tape.Quote) string {
	if q.Time.IsZero() {
		return ""
	}
	return q.Time.UTC().Format(time.RFC3339Nano)
}

// chartPoint is one point of the symbol chart: feed time in ms and the
// last price as text (the script parses it for plotting only).
type chartPoint struct {
	T    int64  `json:"t"`
	Last string `json:"last"`
	Bid  string `json:"bid"`
	Ask  string `json:"ask"`
}

func chartPoints(qs []tape.Quote) []chartPoint {
	out := make([]chartPoint, 0, len(qs))
	for _, q := range qs {
		out = append(out, chartPoint{T: q.Time.UnixMilli(), Last: optPrice(q.Last), Bid: optPrice(q.Bid), Ask: optPrice(q.Ask)})
	}
	return out
}

func optPrice(p tape.Price) string {
	if p == 0 {
		return ""
	}
	return p.String()
}
