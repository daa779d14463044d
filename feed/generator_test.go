package feed_test

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"tape"
	"tape/feed"
)

var session = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

func mustGenerator(tb testing.TB, cfg feed.Config) *feed.Generator {
	tb.Helper()
	g, err := feed.New(cfg)
	if err != nil {
		tb.Fatalf("New(%+v): %v", cfg, err)
	}
	return g
}

// record encodes n events of a fresh generator in one format, one per line.
func record(tb testing.TB, cfg feed.Config, format string, n int) []byte {
	tb.Helper()
	g := mustGenerator(tb, cfg)
	enc, err := feed.NewEncoder(format)
	if err != nil {
		tb.Fatal(err)
	}
	var out []byte
	for range n {
		var err error
		out, err = enc.Append(out, g.Next())
		if errors.Is(err, feed.ErrUnsupported) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, '\n')
	}
	return out
}

func TestDeterministic(t *testing.T) {
	cfg := feed.Config{Seed: 1, Rate: 40, Start: session}
	for _, format := range feed.Formats() {
		t.Run(format, func(t *testing.T) {
			a, b := record(t, cfg, format, 5000), record(t, cfg, format, 5000)
			if !bytes.Equal(a, b) {
				t.Fatal("two runs with the same config differ")
			}
			other := cfg
			other.Seed = 2
			if bytes.Equal(a, record(t, other, format, 5000)) {
				t.Fatal("seeds 1 and 2 give the same market")
			}
		})
	}
}

// TestEvents checks what every consumer relies on, over long runs of
// several kinds of market.
func TestEvents(t *testing.T) {
	tests := []struct {
		name string
		cfg  feed.Config
	}{
		{"default", feed.Config{Seed: 1, Start: session}},
		{"every built-in symbol", feed.Config{Seed: 7, NumSymbols: 60, Rate: 1000, Start: session}},
		{"synthetic names past the list", feed.Config{Seed: 3, NumSymbols: 200, Start: session}},
		{"explicit symbols", feed.Config{Seed: 5, Symbols: []string{"msft", "ACME", "BTC-USD", "MULN", "USD/JPY"}, Start: session}},
		{"trades only", feed.Config{Seed: 9, TradeRatio: 1, Start: session}},
		{"slow", feed.Config{Seed: 11, Rate: 0.5, Start: session}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustGenerator(t, tt.cfg)
			symbols := g.Symbols()
			books := map[tape.Symbol]tape.Event{}
			prev := tt.cfg.Start
			for i := range 20_000 {
				ev := g.Next()
				if err := ev.Validate(); err != nil {
					t.Fatalf("event %d %+v: %v", i, ev, err)
				}
				if ev.Source != feed.Source || !slices.Contains(symbols, ev.Symbol) {
					t.Fatalf("event %d: source %q, symbol %q", i, ev.Source, ev.Symbol)
				}
				if !ev.Time.After(prev) {
					t.Fatalf("event %d at %v, not after %v", i, ev.Time, prev)
				}
				prev = ev.Time
				tick := g.Tick(ev.Symbol)
				onTick := func(what string, p tape.Price) {
					if p <= 0 || p%tick != 0 {
						t.Fatalf("event %d %s: %s %s is not a positive multiple of the tick %s", i, ev.Symbol, what, p, tick)
					}
				}
				switch ev.Kind {
				case tape.KindQuote:
					onTick("bid", ev.Bid)
					onTick("ask", ev.Ask)
					if ev.Bid >= ev.Ask {
						t.Fatalf("event %d %s: bid %s not below ask %s", i, ev.Symbol, ev.Bid, ev.Ask)
					}
					if spread := (ev.Ask - ev.Bid) / tick; spread > 5 {
						t.Fatalf("event %d %s: spread of %d ticks", i, ev.Symbol, spread)
					}
					if ev.BidSize <= 0 || ev.AskSize <= 0 {
						t.Fatalf("event %d %s: sizes %d x %d", i, ev.Symbol, ev.BidSize, ev.AskSize)
					}
					books[ev.Symbol] = ev
				case tape.KindTrade:
					onTick("last", ev.Last)
					book, ok := books[ev.Symbol]
					if !ok {
						t.Fatalf("event %d: %s trades before its first quote", i, ev.Symbol)
					}
					if ev.Last < book.Bid || ev.Last > book.Ask {
						t.Fatalf("event %d %s: trade at %s outside the book %s-%s", i, ev.Symbol, ev.Last, book.Bid, book.Ask)
					}
					if ev.Size <= 0 {
						t.Fatalf("event %d %s: size %d", i, ev.Symbol, ev.Size)
					}
				default:
					t.Fatalf("event %d: kind %v", i, ev.Kind)
				}
			}
		})
	}
}

func TestRate(t *testing.T) {
	const n = 20_000
	for _, rate := range []float64{0.5, 40, 100, 5000, feed.MaxRate} {
		g := mustGenerator(t, feed.Config{Seed: 1, Rate: rate, Start: session})
		var last tape.Event
		for range n {
			last = g.Next()
		}
		// n exponential gaps sum to n/rate with a relative spread of
		// 1/sqrt(n), 0.7 %; 3 % is over four of those.
		got := float64(n) / last.Time.Sub(session).Seconds()
		if math.Abs(got/rate-1) > 0.03 {
			t.Errorf("rate %g: %d events took %v, %.4g a second", rate, n, last.Time.Sub(session), got)
		}
	}
}

func TestTradeRatio(t *testing.T) {
	const n = 20_000
	for _, ratio := range []float64{0.05, feed.DefaultTradeRatio, 0.5} {
		g := mustGenerator(t, feed.Config{Seed: 1, TradeRatio: ratio, Start: session})
		trades := 0
		for range n {
			if g.Next().Kind == tape.KindTrade {
				trades++
			}
		}
		if got := float64(trades) / n; math.Abs(got-ratio) > 0.02 {
			t.Errorf("TradeRatio %g: %.3f of events are trades", ratio, got)
		}
	}
}

func TestSymbols(t *testing.T) {
	tests := []struct {
		name  string
		cfg   feed.Config
		want  []tape.Symbol
		ticks map[tape.Symbol]string
	}{
		{
			name: "default",
			cfg:  feed.Config{Start: session},
			want: []tape.Symbol{"AAPL", "MSFT", "NVDA", "AMZN", "BRK.B", "TSLA", "BTC-USD", "EUR/USD"},
			ticks: map[tape.Symbol]string{
				"AAPL": "0.01", "BRK.B": "0.01", "BTC-USD": "0.01", "EUR/USD": "0.00001", "ZZZZ": "0.00",
			},
		},
		{
			name:  "explicit, upper-cased, in order",
			cfg:   feed.Config{Symbols: []string{"usd/jpy", "MULN", "ACME"}, Start: session},
			want:  []tape.Symbol{"USD/JPY", "MULN", "ACME"},
			ticks: map[tape.Symbol]string{"USD/JPY": "0.001", "MULN": "0.0001", "ACME": "0.01"},
		},
		{
			name: "a prefix of the list",
			cfg:  feed.Config{NumSymbols: 3, Start: session},
			want: []tape.Symbol{"AAPL", "MSFT", "NVDA"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustGenerator(t, tt.cfg)
			if got := g.Symbols(); !slices.Equal(got, tt.want) {
				t.Errorf("Symbols() = %v, want %v", got, tt.want)
			}
			for sym, want := range tt.ticks {
				if got := g.Tick(sym).String(); got != want {
					t.Errorf("Tick(%s) = %s, want %s", sym, got, want)
				}
			}
		})
	}

	t.Run("many distinct valid names", func(t *testing.T) {
		g := mustGenerator(t, feed.Config{NumSymbols: feed.MaxSymbols, Start: session})
		seen := map[tape.Symbol]bool{}
		for _, s := range g.Symbols() {
			if _, err := tape.ParseSymbolString(string(s)); err != nil || seen[s] {
				t.Fatalf("symbol %q: valid %v, repeated %v", s, err == nil, seen[s])
			}
			seen[s] = true
		}
		if len(seen) != feed.MaxSymbols {
			t.Fatalf("%d symbols, want %d", len(seen), feed.MaxSymbols)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  feed.Config
	}{
		{"no start", feed.Config{}},
		{"negative rate", feed.Config{Rate: -1, Start: session}},
		{"NaN rate", feed.Config{Rate: math.NaN(), Start: session}},
		{"infinite rate", feed.Config{Rate: math.Inf(1), Start: session}},
		{"rate too high", feed.Config{Rate: 2 * feed.MaxRate, Start: session}},
		{"trade ratio above 1", feed.Config{TradeRatio: 1.5, Start: session}},
		{"negative trade ratio", feed.Config{TradeRatio: -0.1, Start: session}},
		{"negative symbol count", feed.Config{NumSymbols: -1, Start: session}},
		{"too many symbols", feed.Config{NumSymbols: feed.MaxSymbols + 1, Start: session}},
		{"invalid symbol", feed.Config{Symbols: []string{"AAPL", "<b>"}, Start: session}},
		{"empty symbol", feed.Config{Symbols: []string{""}, Start: session}},
		{"repeated symbol", feed.Config{Symbols: []string{"AAPL", "aapl"}, Start: session}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := feed.New(tt.cfg); !errors.Is(err, feed.ErrConfig) {
				t.Fatalf("New: %v, want ErrConfig", err)
			}
		})
	}
}
