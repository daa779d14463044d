package feed

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"tape"
)

// Defaults for Config.
const (
	DefaultNumSymbols = 8
	DefaultRate       = 100.0 // events a second, all symbols together
	DefaultTradeRatio = 0.2   // real feeds send several quotes per trade
)

// Limits of Config.
const (
	// MaxRate keeps the mean gap between events at a microsecond or more,
	// so that nanosecond timestamps still spread them out.
	MaxRate = 1e6
	// MaxSymbols is the most symbols a generator simulates: the built-in
	// list, then synthetic four-letter names.
	MaxSymbols = 10_000
)

// Source is the Source of every generated event.
const Source = "feed"

// ErrConfig reports an invalid Config; the error names the field.
var ErrConfig = errors.New("feed: invalid config")

// Config configures a Generator. Zero fields take the defaults, except
// Start, which is required so that a run is reproducible.
type Config struct {
	// Symbols lists the symbols to simulate. Built-in symbols keep their
	// usual price and volatility; others are stock-like with parameters
	// drawn from the seed. If empty, the first NumSymbols built-in symbols
	// are used.
	Symbols []string
	// NumSymbols is how many symbols to simulate when Symbols is empty:
	// the built-in list in order (mostly US stocks, with crypto and FX
	// among them), then synthetic names such as TAAA.
	NumSymbols int
	// Rate is the mean number of events a second, over all symbols.
	Rate float64
	// Seed selects the market: the same Config gives the same events.
	Seed int64
	// Start is the time the session opens; events follow it.
	Start time.Time
	// TradeRatio is the share of events that are trades, in (0, 1].
	TradeRatio float64
	// OpenBurst, if above 1, multiplies the rate at Start by this much,
	// fading to Rate with the time constant BurstDecay: the rush of
	// orders at the open. 0 or 1 is a steady rate.
	OpenBurst float64
	// BurstDecay is how fast the open's burst fades; 0 means
	// DefaultBurstDecay.
	BurstDecay time.Duration
	// Halts stop symbols trading for a while, as a volatility pause or
	// news pending does: no events in [From, To), and the first event
	// after is a quote, the reopening.
	Halts []Halt
}

// Halt is a trading halt of one symbol.
type Halt struct {
	Symbol   string
	From, To time.Time
}

// DefaultBurstDecay is the time constant of the open's burst: after it the
// extra rate is down to 37 %, after three times it to 5 %.
const DefaultBurstDecay = 2 * time.Minute

// MaxOpenBurst bounds Config.OpenBurst.
const MaxOpenBurst = 100

func (c Config) withDefaults() Config {
	if len(c.Symbols) == 0 && c.NumSymbols == 0 {
		c.NumSymbols = DefaultNumSymbols
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.TradeRatio == 0 {
		c.TradeRatio = DefaultTradeRatio
	}
	return c
}

// Validate reports the first problem with c (after defaults), wrapping
// ErrConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case len(c.Symbols) == 0 && (c.NumSymbols < 0 || c.NumSymbols > MaxSymbols):
		return fmt.Errorf("%w: NumSymbols must be between 1 and %d", ErrConfig, MaxSymbols)
	case len(c.Symbols) > MaxSymbols:
		return fmt.Errorf("%w: at most %d symbols", ErrConfig, MaxSymbols)
	case !(c.Rate > 0 && c.Rate <= MaxRate): // also rejects NaN
		return fmt.Errorf("%w: Rate must be above 0 and at most %g", ErrConfig, float64(MaxRate))
	case !(c.TradeRatio > 0 && c.TradeRatio <= 1):
		return fmt.Errorf("%w: TradeRatio must be in (0, 1]", ErrConfig)
	case c.Start.IsZero():
		return fmt.Errorf("%w: Start is required", ErrConfig)
	case c.OpenBurst < 0 || c.OpenBurst > MaxOpenBurst || c.OpenBurst != c.OpenBurst:
		return fmt.Errorf("%w: OpenBurst must be between 0 and %d", ErrConfig, MaxOpenBurst)
	case c.BurstDecay < 0:
		return fmt.Errorf("%w: BurstDecay must not be negative", ErrConfig)
	}
	for _, h := range c.Halts {
		if !h.From.Before(h.To) {
			return fmt.Errorf("%w: halt of %s must end after it starts", ErrConfig, h.Symbol)
		}
	}
	seen := make(map[tape.Symbol]bool, len(c.Symbols))
	for _, s := range c.Symbols {
		sym, err := tape.ParseSymbolString(s)
		if err != nil {
			return fmt.Errorf("%w: symbol %q: %w", ErrConfig, s, err)
		}
		if seen[sym] {
			return fmt.Errorf("%w: symbol %s given twice", ErrConfig, sym)
		}
		seen[sym] = true
	}
	return nil
}

// instrument is the state of one simulated symbol.
type instrument struct {
	symbol    tape.Symbol
	tick      tape.Price
	tickF     float64 // tick in currency units, for rounding the walk
	lot       int64   // round lot: quote sizes are multiples of it
	year      float64 // seconds of trading a year
	vol       float64
	maxSpread int // in ticks

	halts []Halt // of this symbol

	mid     float64   // the walk, in currency units
	walked  time.Time // time of the last step of the walk
	quoted  bool
	spread  int   // ticks
	bid     int64 // ticks
	ask     int64 // ticks
	bidSize int64
	askSize int64
}

// Generator produces a synthetic market's events in time order. It is not
// safe for concurrent use.
type Generator struct {
	rng        *rand.Rand
	inst       []instrument
	index      map[tape.Symbol]int
	cum        []float64 // cumulative weights, for picking a symbol
	meanGap    float64   // nanoseconds
	tradeRatio float64
	now        time.Time
	start      time.Time
	burst      float64 // OpenBurst, or 0 for none
	decay      float64 // BurstDecay in nanoseconds
}

// New returns a generator for cfg.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// PCG is a specified algorithm, and math/rand/v2 pins what it derives
	// from it with regression tests, so a seed gives the same stream on
	// every platform.
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7461706566656564)) // "tapefeed"
	g := &Generator{
		rng:        rng,
		index:      map[tape.Symbol]int{},
		meanGap:    1e9 / cfg.Rate,
		tradeRatio: cfg.TradeRatio,
		now:        cfg.Start.UTC(), // also drops a monotonic clock reading
	}
	g.start = g.now
	if cfg.OpenBurst > 1 {
		g.burst = cfg.OpenBurst
		g.decay = float64(cmp.Or(cfg.BurstDecay, DefaultBurstDecay))
	}
	builtin := make(map[tape.Symbol]spec, len(builtins))
	for _, s := range builtins {
		builtin[s.symbol] = s
	}
	var specs []spec
	if len(cfg.Symbols) > 0 {
		for _, name := range cfg.Symbols {
			sym, _ := tape.ParseSymbolString(name) // checked by Validate
			s, ok := builtin[sym]
			if !ok {
				s = g.customSpec(sym)
			}
			specs = append(specs, s)
		}
	} else {
		n := min(cfg.NumSymbols, len(builtins))
		specs = append(specs, builtins[:n]...)
		taken := make(map[tape.Symbol]bool, len(builtin))
		for s := range builtin {
			taken[s] = true
		}
		for _, sym := range syntheticNames(cfg.NumSymbols-n, taken) {
			specs = append(specs, g.customSpec(sym))
		}
	}
	total := 0.0
	for i, s := range specs {
		g.inst = append(g.inst, g.newInstrument(s, g.now))
		g.index[s.symbol] = i
		total += s.weight
		g.cum = append(g.cum, total)
	}
	for _, h := range cfg.Halts {
		sym, err := tape.ParseSymbolString(h.Symbol)
		i, ok := g.index[sym]
		if err != nil || !ok {
			return nil, fmt.Errorf("%w: halt of %q, which is not simulated", ErrConfig, h.Symbol)
		}
		g.inst[i].halts = append(g.inst[i].halts, Halt{Symbol: h.Symbol, From: h.From, To: h.To})
	}
	return g, nil
}

// customSpec draws the parameters of a symbol that is not built in.
func (g *Generator) customSpec(sym tape.Symbol) spec {
	// Explicit float64 conversions keep the compiler from fusing a
	// multiply and an add, which would round differently on some
	// platforms and break reproducibility.
	price := float64((customMaxPrice-customMinPrice)*g.rng.Float64()) + customMinPrice
	vol := float64((customMaxVol-customMinVol)*g.rng.Float64()) + customMinVol
	return spec{symbol: sym, class: stock, price: price, vol: vol, weight: customWeight}
}

func (g *Generator) newInstrument(s spec, start time.Time) instrument {
	in := instrument{symbol: s.symbol, vol: s.vol, walked: start}
	in.mid = s.price * (float64(0.2*g.rng.Float64()) + 0.9)
	switch s.class {
	case crypto:
		in.tick, in.lot, in.year = tickCent, 1, cryptoYear
	case fx:
		in.tick, in.lot, in.year = tickPipette, 100_000, fxYear
		if s.symbol[len(s.symbol)-3:] == "JPY" {
			in.tick = tickJPY
		}
	default:
		in.tick, in.lot, in.year = tickCent, 100, stockYear
		if in.mid < 1 {
			in.tick = tickSubCent
		}
	}
	in.tickF = float64(in.tick) / 1e8
	// Spreads widen with the price, from 1-2 ticks for cheap stocks to
	// 1-5 for expensive ones; sub-penny, crypto and FX ticks are fine
	// enough that 1-5 of them are normal.
	switch {
	case in.tick != tickCent || s.class != stock:
		in.maxSpread = 5
	case in.mid < 10:
		in.maxSpread = 2
	case in.mid < 100:
		in.maxSpread = 3
	case in.mid < 500:
		in.maxSpread = 4
	default:
		in.maxSpread = 5
	}
	return in
}

// Symbols returns the simulated symbols, in the order of the Config.
func (g *Generator) Symbols() []tape.Symbol {
	out := make([]tape.Symbol, len(g.inst))
	for i := range g.inst {
		out[i] = g.inst[i].symbol
	}
	return out
}

// Tick returns the tick size of sym, or 0 if it is not simulated. Every
// price of sym is a multiple of it.
func (g *Generator) Tick(sym tape.Symbol) tape.Price {
	if i, ok := g.index[sym]; ok {
		return g.inst[i].tick
	}
	return 0
}

// Next returns the next event: a quote or a trade of one symbol, stamped
// strictly later than the one before. Event times form a Poisson process
// at the configured rate. A symbol's first event is always a quote, and
// its trades happen at its current bid, ask or inside the spread.
//
// With an OpenBurst the process runs faster at the start; a halted symbol's
// events are dropped (the others carry on at their pace).
func (g *Generator) Next() tape.Event {
	for {
		var gap int64
		if g.burst > 0 {
			since := float64(g.now.Sub(g.start))
			boost := float64((g.burst-1)*math.Exp(-since/g.decay)) + 1
			gap = int64(math.Round(g.rng.ExpFloat64() * g.meanGap / boost))
		} else {
			gap = int64(math.Round(g.rng.ExpFloat64() * g.meanGap))
		}
		g.now = g.now.Add(time.Duration(max(gap, 1)))

		i := sort.SearchFloat64s(g.cum, g.rng.Float64()*g.cum[len(g.cum)-1])
		in := &g.inst[min(i, len(g.inst)-1)]
		if in.halted(g.now) {
			in.quoted = false // it reopens with a quote
			continue
		}
		if in.quoted && g.rng.Float64() < g.tradeRatio {
			return g.trade(in)
		}
		return g.quote(in)
	}
}

func (in *instrument) halted(t time.Time) bool {
	for _, h := range in.halts {
		if !t.Before(h.From) && t.Before(h.To) {
			return true
		}
	}
	return false
}

// quote advances in's random walk to now and quotes around it.
func (g *Generator) quote(in *instrument) tape.Event {
	dt := g.now.Sub(in.walked).Seconds()
	in.walked = g.now
	// A geometric walk, in arithmetic steps: for steps this small the
	// difference from exp() is far below a tick, and plain arithmetic
	// rounds identically everywhere.
	step := in.vol * math.Sqrt(dt/in.year) * g.rng.NormFloat64()
	in.mid *= 1 + min(max(step, -0.5), 0.5)

	if !in.quoted || g.rng.Float64() < 0.3 { // spreads are sticky
		// The lesser of two draws: tight spreads are the most common.
		in.spread = 1 + min(g.rng.IntN(in.maxSpread), g.rng.IntN(in.maxSpread))
	}
	mid := int64(math.Round(in.mid / in.tickF))
	in.bid = max(mid-int64(in.spread/2), 1)
	in.ask = in.bid + int64(in.spread)
	in.bidSize = in.lot * g.lots()
	in.askSize = in.lot * g.lots()
	in.quoted = true
	return tape.Event{
		Symbol:  in.symbol,
		Kind:    tape.KindQuote,
		Sides:   tape.BothSides,
		Bid:     tape.Price(in.bid) * in.tick,
		Ask:     tape.Price(in.ask) * in.tick,
		BidSize: whole(in.bidSize),
		AskSize: whole(in.askSize),
		Time:    g.now,
		Source:  Source,
	}
}

// lots returns a quote size in lots: mostly a few, now and then many.
func (g *Generator) lots() int64 {
	return min(1+int64(g.rng.ExpFloat64()*3), 50)
}

// trade prints a trade against in's current book. Buyers lift the ask and
// sellers hit the bid; one trade in ten is inside a wide enough spread,
// as midpoint and price-improved orders are.
func (g *Generator) trade(in *instrument) tape.Event {
	var px, shown int64
	switch r := g.rng.Float64(); {
	case r < 0.1 && in.spread >= 2:
		px, shown = in.bid+int64(in.spread/2), min(in.bidSize, in.askSize)
	case r < 0.55:
		px, shown = in.ask, in.askSize
	default:
		px, shown = in.bid, in.bidSize
	}
	var size int64
	if in.lot == 100 && g.rng.Float64() < 0.35 {
		size = 1 + g.rng.Int64N(99) // odd lots are a third of US stock trades
	} else {
		size = in.lot * min(1+int64(g.rng.ExpFloat64()*1.5), max(shown/in.lot, 1))
	}
	return tape.Event{
		Symbol: in.symbol,
		Kind:   tape.KindTrade,
		Last:   tape.Price(px) * in.tick,
		Size:   whole(size),
		Time:   g.now,
		Source: Source,
	}
}

// whole returns n whole units as a Size; the generator's sizes are small.
func whole(n int64) tape.Size {
	s, err := tape.SizeFromInt(n, 0)
	if err != nil {
		panic("feed: size out of range") // cannot happen: lots are small
	}
	return s
}
