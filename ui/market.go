package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"tape"
)

// Market is what the market pages (/s/{symbol}, /movers, /cluster) and
// their JSON APIs need beyond Quotes. The Quotes a Server is given
// provides it by implementing it too (cmd/tape's adapter of stream.Hub
// does); without it those routes answer 404.
type Market interface {
	// Bars returns sym's bars of width (time.Second or time.Minute),
	// oldest first, and the trading day they belong to.
	Bars(sym tape.Symbol, width time.Duration) ([]Bar, tape.Day)
	// Trades returns sym's last trades, newest first.
	Trades(sym tape.Symbol) []tape.Print
	// Movers returns up to n top gainers, losers and most active.
	Movers(n int) Movers
	// Search returns up to n known symbols that begin with prefix, in
	// order.
	Search(prefix string, n int) []tape.Symbol
	// Cluster returns the processes heard from and the node's feed clock.
	Cluster() Cluster
}

// Bar is one candle of a symbol's chart: Time in Unix seconds, prices
// zero when only trades that set no price (odd lots, say) fell in it.
type Bar struct {
	Time                   int64
	Open, High, Low, Close tape.Price
	Volume                 tape.Size
}

// Movers are the symbols that moved most since their open (Gainers,
// Losers) and traded most (Active), best first.
type Movers struct {
	Gainers, Losers, Active []tape.Quote
}

// Cluster is what a node knows of the cluster: the live web nodes,
// ingesters and replays (by their heartbeats) and the feed time of the
// newest quote it holds (zero when it holds none).
type Cluster struct {
	Web, Ingest, Replay []tape.Heartbeat
	Newest              time.Time
}

// Limits of the market APIs.
const (
	// DefaultTrades and MaxTrades bound /api/trades (?limit=).
	DefaultTrades = 50
	MaxTrades     = 100
	// DefaultMovers and MaxMovers bound each list of /api/movers (?n=).
	DefaultMovers = 10
	MaxMovers     = 50
	// DefaultSearch and MaxSearch bound /api/symbols (?limit=).
	DefaultSearch = 10
	MaxSearch     = 20
	// pollEvery is how often the movers and cluster pages ask again.
	pollEvery = 2 * time.Second
)

// market returns the node's Market, or nil when it has none.
func (s *Server) market() Market {
	m, _ := s.quotes.(Market)
	return m
}

// withMarket answers 404 on a node without market data.
func (s *Server) withMarket(c *fiber.Ctx) error {
	if s.market() == nil {
		return errorf(fiber.StatusNotFound, "not_found", "this node serves no market data")
	}
	return c.Next()
}

// routeMarket adds the market routes of market.go.
func (s *Server) routeMarket() {
	s.app.Get("/s/+", s.authorize, s.whenReady, s.symbolPage)
	s.app.Get("/movers", s.authorize, s.whenReady, s.withMarket, s.moversPage)
	s.app.Get("/cluster", s.authorize, s.withMarket, s.clusterPage)
	s.app.Get("/api/bars", s.cors, s.authorize, s.whenReady, s.withMarket, s.apiBars)
	s.app.Get("/api/trades", s.cors, s.authorize, s.whenReady, s.withMarket, s.apiTrades)
	s.app.Get("/api/movers", s.cors, s.authorize, s.whenReady, s.withMarket, s.apiMovers)
	s.app.Get("/api/symbols", s.cors, s.authorize, s.whenReady, s.withMarket, s.apiSymbols)
	s.app.Get("/api/cluster", s.cors, s.authorize, s.withMarket, s.apiCluster)
	s.app.Get("/static/vendor/:name", s.vendorStatic)
}

// layout wraps a market page in the shared layout; symbols are what the
// page wants live, for the layout's <main data-symbols>. It is the one
// place market pages meet Page.
func layout(title string, symbols []tape.Symbol, content templ.Component) templ.Component {
	return Page(title, symbols, content)
}

// pathSymbol reads the symbol of /s/{symbol}; a symbol may contain "/"
// (EUR/USD) and arrive percent-encoded.
func pathSymbol(c *fiber.Ctx) (tape.Symbol, error) {
	raw, err := url.PathUnescape(c.Params("+"))
	if err != nil {
		raw = c.Params("+")
	}
	sym, err := tape.ParseSymbolString(raw)
	if err != nil {
		e := errorf(fiber.StatusBadRequest, tape.ECodeSymbol, "invalid symbol")
		e.Symbols = []string{raw}
		return "", e
	}
	return sym, nil
}

// symbolPage serves GET /s/{symbol}: chart, day statistics and time and
// sales, right on first paint. A symbol the node has no quote of gets a
// 404 page suggesting known symbols that begin like it.
func (s *Server) symbolPage(c *fiber.Ctx) error {
	sym, err := pathSymbol(c)
	if err != nil {
		return err
	}
	m := s.market()
	qs := s.quotes.Quotes([]tape.Symbol{sym})
	if len(qs) == 0 {
		v := notFoundView{Symbol: sym}
		if m != nil {
			v.Like = m.Search(string(sym[:min(len(sym), 2)]), DefaultSearch)
		}
		c.Status(fiber.StatusNotFound)
		return render(c, layout("Unknown symbol", nil, NotFound(v)))
	}
	var bars []Bar
	var day tape.Day
	var trades []tape.Print
	if m != nil {
		bars, day = m.Bars(sym, time.Minute)
		trades = m.Trades(sym)
	}
	if len(trades) > DefaultTrades {
		trades = trades[:DefaultTrades]
	}
	v := symbolView{Quote: qs[0], Day: day, Bars: barsJSON(sym, day, time.Minute, bars), Trades: trades, Node: s.cfg.NodeID}
	return render(c, layout(string(sym), []tape.Symbol{sym}, SymbolPage(v)))
}

// moversPage serves GET /movers.
func (s *Server) moversPage(c *fiber.Ctx) error {
	v := moversView{Movers: s.market().Movers(DefaultMovers), Node: s.cfg.NodeID, Newest: s.market().Cluster().Newest}
	return render(c, layout("Movers", nil, MoversPage(v)))
}

// clusterPage serves GET /cluster. It answers while the node catches up:
// that is when an operator looks.
func (s *Server) clusterPage(c *fiber.Ctx) error {
	v := clusterView{Cluster: s.market().Cluster(), Node: s.cfg.NodeID}
	return render(c, layout("Cluster", nil, ClusterPage(v)))
}

// symbolParam reads ?symbol= and checks that the node has a quote of it.
func (s *Server) symbolParam(c *fiber.Ctx) (tape.Symbol, error) {
	raw := c.Query("symbol")
	if raw == "" {
		return "", errorf(fiber.StatusBadRequest, "missing_symbol", "symbol is required, e.g. ?symbol=AAPL")
	}
	sym, err := tape.ParseSymbolString(raw)
	if err != nil {
		e := errorf(fiber.StatusBadRequest, tape.ECodeSymbol, "invalid symbol")
		e.Symbols = []string{raw}
		return "", e
	}
	if len(s.quotes.Quotes([]tape.Symbol{sym})) == 0 {
		e := errorf(fiber.StatusNotFound, "unknown_symbol", "no quotes have been seen for this symbol")
		e.Symbols = []string{raw}
		return "", e
	}
	return sym, nil
}

// intParam reads an optional whole-number parameter in [1, hi].
func intParam(c *fiber.Ctx, name string, def, hi int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > hi {
		return 0, errorf(fiber.StatusBadRequest, "bad_"+name, "%s must be a whole number from 1 to %d", name, hi)
	}
	return n, nil
}

// Bar widths of /api/bars, by name.
var barWidths = map[string]time.Duration{"1s": time.Second, "1m": time.Minute}

func widthName(w time.Duration) string {
	if w == time.Second {
		return "1s"
	}
	return "1m"
}

// apiBars serves GET /api/bars?symbol=S&width=1s|1m (default 1m).
func (s *Server) apiBars(c *fiber.Ctx) error {
	sym, err := s.symbolParam(c)
	if err != nil {
		return err
	}
	width := time.Minute
	if raw := c.Query("width"); raw != "" {
		w, ok := barWidths[raw]
		if !ok {
			return errorf(fiber.StatusBadRequest, "bad_width", "width must be 1s or 1m")
		}
		width = w
	}
	bars, day := s.market().Bars(sym, width)
	return sendJSON(c, barsJSON(sym, day, width, bars))
}

// barsJSON encodes bars as /api/bars answers them:
// {"symbol","day","width","bars":[{"t","o","h","l","c","v"}]}, prices null
// in a bar without one.
func barsJSON(sym tape.Symbol, day tape.Day, width time.Duration, bars []Bar) []byte {
	b := append([]byte(`{"symbol":`), strconv.Quote(string(sym))...)
	b = append(b, `,"day":`...)
	if day != 0 {
		b = append(b, '"')
		b = day.AppendText(b)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"width":"`...)
	b = append(b, widthName(width)...)
	b = append(b, `","bars":[`...)
	for i, bar := range bars {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"t":`...)
		b = strconv.AppendInt(b, bar.Time, 10)
		for _, p := range []struct {
			key string
			v   tape.Price
		}{{`,"o":`, bar.Open}, {`,"h":`, bar.High}, {`,"l":`, bar.Low}, {`,"c":`, bar.Close}} {
			b = append(b, p.key...)
			if bar.Open == 0 {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '"')
			b = p.v.AppendText(b)
			b = append(b, '"')
		}
		b = append(b, `,"v":"`...)
		b = bar.Volume.AppendText(b)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}

// apiTrades serves GET /api/trades?symbol=S&limit=N: time and sales,
// newest first.
func (s *Server) apiTrades(c *fiber.Ctx) error {
	sym, err := s.symbolParam(c)
	if err != nil {
		return err
	}
	n, err := intParam(c, "limit", DefaultTrades, MaxTrades)
	if err != nil {
		return err
	}
	trades := s.market().Trades(sym)
	if len(trades) > n {
		trades = trades[:n]
	}
	b := append([]byte(`{"symbol":`), strconv.Quote(string(sym))...)
	b = append(b, `,"trades":[`...)
	for i, p := range trades {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrade(b, p)
	}
	return sendJSON(c, append(b, "]}"...))
}

// appendTrade encodes one trade: {"ts","price","size","counts"}, counts
// being what its sale conditions let it update (tape.Updates).
func appendTrade(b []byte, p tape.Print) []byte {
	b = append(b, `{"ts":"`...)
	b = p.Time.UTC().AppendFormat(b, tape.TimeLayout)
	b = append(b, `","price":"`...)
	b = p.Price.AppendText(b)
	b = append(b, `","size":"`...)
	b = p.Size.AppendText(b)
	b = append(b, `","counts":"`...)
	b = p.Counts.AppendText(b)
	return append(b, `"}`...)
}

// apiMovers serves GET /api/movers?n=N.
func (s *Server) apiMovers(c *fiber.Ctx) error {
	n, err := intParam(c, "n", DefaultMovers, MaxMovers)
	if err != nil {
		return err
	}
	m := s.market().Movers(n)
	b := []byte(`{`)
	for i, l := range []struct {
		key    string
		quotes []tape.Quote
	}{{"gainers", m.Gainers}, {"losers", m.Losers}, {"active", m.Active}} {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, l.key...)
		b = append(b, `":[`...)
		for j := range l.quotes {
			if j > 0 {
				b = append(b, ',')
			}
			b = l.quotes[j].AppendJSON(b)
		}
		b = append(b, ']')
	}
	return sendJSON(c, append(b, '}'))
}

// apiSymbols serves GET /api/symbols?prefix=AA&limit=N: known symbols
// that begin with prefix (case-insensitive), in order.
func (s *Server) apiSymbols(c *fiber.Ctx) error {
	prefix := strings.ToUpper(c.Query("prefix"))
	if prefix != "" {
		if _, err := tape.ParseSymbolString(prefix); err != nil {
			return errorf(fiber.StatusBadRequest, "bad_prefix", "prefix must be the start of a symbol: up to %d of A-Z 0-9 . / : _ = ^ -", tape.MaxSymbolLen)
		}
	}
	n, err := intParam(c, "limit", DefaultSearch, MaxSearch)
	if err != nil {
		return err
	}
	syms := s.market().Search(prefix, n)
	b := []byte(`{"symbols":[`)
	for i, sym := range syms {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, string(sym))
	}
	return sendJSON(c, append(b, "]}"...))
}

// clusterJSON is the body of /api/cluster.
type clusterJSON struct {
	Web    []tape.Heartbeat `json:"web"`
	Ingest []tape.Heartbeat `json:"ingest"`
	Replay []tape.Heartbeat `json:"replay"`
	// Newest is the feed time of the newest quote this node holds: the
	// feed's clock, which is a recording's own time during a replay.
	Newest *time.Time `json:"newest"`
	Node   string     `json:"node"`
}

// apiCluster serves GET /api/cluster: every live web node, ingester and
// replay, and this node's feed clock.
func (s *Server) apiCluster(c *fiber.Ctx) error {
	cl := s.market().Cluster()
	body := clusterJSON{Web: nonNil(cl.Web), Ingest: nonNil(cl.Ingest), Replay: nonNil(cl.Replay), Node: s.cfg.NodeID}
	if !cl.Newest.IsZero() {
		t := cl.Newest.UTC()
		body.Newest = &t
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return sendJSON(c, b)
}

func nonNil(hbs []tape.Heartbeat) []tape.Heartbeat {
	if hbs == nil {
		return []tape.Heartbeat{}
	}
	return hbs
}

func sendJSON(c *fiber.Ctx, b []byte) error {
	c.Set("Content-Type", "application/json")
	c.Set("Cache-Control", "no-store")
	return c.Send(b)
}

// vendorStatic serves GET /static/vendor/{name}: third-party files
// embedded as published (lightweight-charts), with their licences.
func (s *Server) vendorStatic(c *fiber.Ctx) error {
	name := c.Params("name")
	ctype, ok := map[string]string{".js": "text/javascript; charset=utf-8", ".txt": "text/plain; charset=utf-8"}[path.Ext(name)]
	if !ok || path.Base(name) != name {
		return errorf(fiber.StatusNotFound, "not_found", "no such asset")
	}
	b, err := staticFS.ReadFile("static/vendor/" + name)
	if err != nil {
		return errorf(fiber.StatusNotFound, "not_found", "no such asset")
	}
	c.Set("Content-Type", ctype)
	c.Set("Cache-Control", "public, max-age=31536000, immutable")
	return c.Send(b)
}

// vendorVersion changes whenever a vendored file does (assetVersion
// covers only the files directly under static/).
var vendorVersion = func() string {
	h := sha256.New()
	entries, _ := staticFS.ReadDir("static/vendor")
	for _, e := range entries {
		b, _ := staticFS.ReadFile("static/vendor/" + e.Name())
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

func vendorURL(name string) string { return "/static/vendor/" + name + "?v=" + vendorVersion }

// Helpers of market.templ.

// feedClock renders a feed time as pages show it: "2026-11-20 14:35:45Z".
func feedClock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func isoOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func tradeClock(p tape.Print) string { return p.Time.UTC().Format("15:04:05.000") }

// tradeNote says what a trade did not count for: "late" for one that set
// no last price but high and low, "odd lot" (or another volume-only
// condition) for one that set no price at all.
func tradeNote(p tape.Print) string {
	switch {
	case p.Counts&tape.UpdatesHighLow == 0 && p.Counts&tape.UpdatesVolume != 0:
		return "volume only"
	case p.Counts == 0:
		return "not counted"
	case p.Counts&tape.UpdatesLast == 0:
		return "not last"
	}
	return ""
}

func rateText(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func ageOf(hb tape.Heartbeat) string {
	return time.Since(hb.At).Round(100 * time.Millisecond).String()
}

func readyText(hb tape.Heartbeat) string {
	if hb.Ready {
		return "ready"
	}
	if hb.Status != "" {
		return hb.Status
	}
	return "not ready"
}

func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }

func intText(n int64) string { return strconv.FormatInt(n, 10) }

func boolText(b bool) string { return strconv.FormatBool(b) }
