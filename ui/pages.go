package ui

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"tape"
)

// dashboard serves GET /: the watchlist from ?symbols=, the configured
// default, or every known symbol. ?add=SYMBOL adds one (the search form
// without script).
func (s *Server) dashboard(c *fiber.Ctx) error {
	raw := c.Query("symbols")
	if add := strings.ToUpper(strings.TrimSpace(c.Query("add"))); add != "" {
		if raw != "" {
			raw += ","
		}
		raw += add
	}
	syms, err := s.symbols(raw, false)
	if err != nil {
		return err
	}
	if len(syms) == 0 {
		syms = entitled(c, s.cfg.DefaultSymbols)
	}
	var quotes []tape.Quote
	if len(syms) > 0 {
		quotes = s.quotes.Quotes(syms)
	} else {
		quotes, _ = s.quotes.Page("", s.cfg.MaxSymbols)
		for _, q := range quotes {
			syms = append(syms, q.Symbol)
		}
		if ok := entitled(c, syms); len(ok) != len(syms) {
			syms, quotes = ok, s.quotes.Quotes(ok)
		}
	}
	v := dashboardView{Symbols: syms, Quotes: make(map[tape.Symbol]tape.Quote, len(quotes)),
		Spark: make(map[tape.Symbol][]tape.Price, len(quotes)), Node: s.cfg.NodeID}
	for _, q := range quotes {
		v.Quotes[q.Symbol] = q
		v.Spark[q.Symbol] = s.sessionSpark(q)
	}
	return render(c, Page("Watchlist", syms, Dashboard(v)))
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

// joinSymbols writes symbols comma-separated (a symbol has no comma).
func joinSymbols(syms []tape.Symbol) string {
	var b strings.Builder
	for i, s := range syms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(s))
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

// change is last minus open with its percentage, "+1.50 (+0.81%)"
// (tape.PriceChange), for pages that show both in one cell.
func change(q tape.Quote) string {
	diff, pct, ok := tape.PriceChange(q.Last, q.Open)
	if !ok {
		return "—"
	}
	return diff + " (" + pct + "%)"
}

// changeDiff is last minus open (tape.PriceChange); changePct its
// percentage of the open; direction "up", "down" or "" for the colour.
func changeDiff(q tape.Quote) string {
	diff, _, ok := tape.PriceChange(q.Last, q.Open)
	if !ok {
		return "—"
	}
	return diff
}

func changePct(q tape.Quote) string {
	_, pct, ok := tape.PriceChange(q.Last, q.Open)
	if !ok {
		return "—"
	}
	return pct + "%"
}

func direction(q tape.Quote) string {
	switch {
	case q.Last == 0 || q.Open == 0 || q.Last == q.Open:
		return ""
	case q.Last > q.Open:
		return "up"
	}
	return "down"
}

// spread is ask minus bid, exact; "—" without both (negative when the
// quote is crossed, which the row's state shows as well).
func spread(q tape.Quote) string {
	if q.Bid == 0 || q.Ask == 0 {
		return "—"
	}
	d := q.Ask - q.Bid
	if (q.Ask > 0) != (q.Bid > 0) && (d > 0) != (q.Ask > 0) { // overflowed
		return "—"
	}
	return d.String()
}

// The sparkline: a polyline in a 100×24 box of a symbol's recent prices
// (last, or the mid while nothing traded), the values kept as text for
// the script to go on drawing.
const (
	sparkViewBox = "0 0 100 24"
	sparkW       = 100.0
	sparkH       = 24.0
)

func sparkValues(ps []tape.Price) string {
	var b strings.Builder
	for _, p := range ps {
		if p != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(p.String())
		}
	}
	return b.String()
}

// sparkDir is "up" or "down" as the sparkline's last price is above or
// below its first.
func sparkDir(ps []tape.Price) string {
	var first, last tape.Price
	for _, p := range ps {
		if p != 0 {
			if first == 0 {
				first = p
			}
			last = p
		}
	}
	switch {
	case last > first:
		return "up"
	case last < first:
		return "down"
	}
	return ""
}

func sparkPoints(marks []tape.Price) string {
	var ps []float64
	for _, p := range marks {
		if p != 0 {
			ps = append(ps, float64(p)) // plotting only
		}
	}
	if len(ps) < 2 {
		return ""
	}
	lo, hi := ps[0], ps[0]
	for _, p := range ps {
		lo, hi = min(lo, p), max(hi, p)
	}
	var b strings.Builder
	for i, p := range ps {
		y := sparkH / 2
		if hi > lo {
			y = 1 + (sparkH-2)*(1-(p-lo)/(hi-lo))
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(float64(i)*sparkW/float64(len(ps)-1), 'f', 1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(y, 'f', 1, 64))
	}
	return b.String()
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

func optPrice(p tape.Price) string {
	if p == 0 {
		return ""
	}
	return p.String()
}

// sessionSpark is what a watchlist row's sparkline draws: the session's
// one-minute closes and the current price, where the node keeps bars,
// else its recent quotes.
func (s *Server) sessionSpark(q tape.Quote) []tape.Price {
	m := s.market()
	if m == nil {
		return s.quotes.Recent(q.Symbol)
	}
	bars, _ := m.Bars(q.Symbol, time.Minute)
	out := make([]tape.Price, 0, len(bars)+1)
	for _, b := range bars {
		if b.Close != 0 {
			out = append(out, b.Close)
		}
	}
	if len(out) == 0 {
		return s.quotes.Recent(q.Symbol)
	}
	return append(out, q.Mark())
}
