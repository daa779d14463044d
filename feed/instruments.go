package feed

import "tape"

// class is the kind of market an instrument trades in, which sets its lot
// size and how many seconds of trading make a year.
type class uint8

const (
	stock class = iota
	crypto
	fx
)

// Seconds of trading in a year, for scaling annual volatility to a step:
// 252 sessions of 6.5 hours for stocks, every hour of the year for crypto,
// 252 days around the clock for FX.
const (
	stockYear  = 252 * 6.5 * 3600
	cryptoYear = 365 * 24 * 3600
	fxYear     = 252 * 24 * 3600
)

// Tick sizes in Price units (10^-8).
const (
	tickCent    tape.Price = 1_000_000 // 0.01: stocks at or above $1, crypto
	tickSubCent tape.Price = 10_000    // 0.0001: stocks below $1 (Reg NMS 612)
	tickPipette tape.Price = 1_000     // 0.00001: FX majors quoted to a tenth of a pip
	tickJPY     tape.Price = 100_000   // 0.001: yen pairs, a tenth of their pip
)

// spec describes a built-in instrument.
type spec struct {
	symbol tape.Symbol
	class  class
	price  float64 // reference price; a run starts within 10 % of it
	vol    float64 // annualised volatility
	weight float64 // share of the message flow, relative to the others
}

// builtins are the symbols a Config without Symbols uses, first to last.
// The first eight mix large caps with a dotted ticker, crypto and FX, so a
// small run already shows every kind of symbol and tick.
var builtins = []spec{
	{"AAPL", stock, 230, 0.25, 10},
	{"MSFT", stock, 420, 0.24, 8},
	{"NVDA", stock, 140, 0.50, 10},
	{"AMZN", stock, 200, 0.32, 7},
	{"BRK.B", stock, 470, 0.20, 3},
	{"TSLA", stock, 330, 0.60, 10},
	{"BTC-USD", crypto, 95000, 0.55, 6},
	{"EUR/USD", fx, 1.08, 0.20, 5},
	{"GOOGL", stock, 175, 0.30, 6},
	{"META", stock, 580, 0.38, 6},
	{"SPY", stock, 590, 0.20, 9},
	{"QQQ", stock, 510, 0.24, 7},
	{"AVGO", stock, 230, 0.45, 4},
	{"JPM", stock, 240, 0.25, 4},
	{"V", stock, 310, 0.22, 3},
	{"UNH", stock, 520, 0.30, 3},
	{"XOM", stock, 115, 0.28, 3},
	{"LLY", stock, 880, 0.35, 3},
	{"JNJ", stock, 155, 0.20, 2},
	{"WMT", stock, 90, 0.22, 3},
	{"MA", stock, 520, 0.22, 2},
	{"PG", stock, 170, 0.20, 2},
	{"HD", stock, 410, 0.24, 2},
	{"COST", stock, 920, 0.24, 2},
	{"ORCL", stock, 170, 0.38, 3},
	{"NFLX", stock, 890, 0.40, 3},
	{"AMD", stock, 140, 0.55, 6},
	{"CRM", stock, 330, 0.35, 2},
	{"BAC", stock, 45, 0.28, 4},
	{"KO", stock, 63, 0.20, 2},
	{"PEP", stock, 150, 0.20, 2},
	{"ADBE", stock, 510, 0.35, 2},
	{"CSCO", stock, 59, 0.22, 2},
	{"INTC", stock, 22, 0.55, 5},
	{"DIS", stock, 112, 0.28, 2},
	{"PFE", stock, 26, 0.25, 3},
	{"T", stock, 22, 0.22, 2},
	{"VZ", stock, 40, 0.20, 2},
	{"NKE", stock, 77, 0.35, 2},
	{"BA", stock, 170, 0.40, 3},
	{"GE", stock, 180, 0.35, 2},
	{"IBM", stock, 220, 0.25, 2},
	{"QCOM", stock, 160, 0.38, 2},
	{"UBER", stock, 75, 0.45, 3},
	{"PLTR", stock, 65, 0.60, 6},
	{"F", stock, 10.5, 0.35, 4},
	{"GM", stock, 55, 0.35, 2},
	{"SOFI", stock, 15, 0.60, 3},
	{"RIVN", stock, 12.5, 0.60, 3},
	{"SNAP", stock, 11, 0.60, 2},
	{"GME", stock, 27, 0.60, 3},
	{"AMC", stock, 4.5, 0.60, 2},
	{"NIO", stock, 4.6, 0.60, 2},
	{"MULN", stock, 0.35, 0.60, 1},
	{"BNGO", stock, 0.42, 0.60, 1},
	{"ETH-USD", crypto, 3400, 0.60, 4},
	{"SOL-USD", crypto, 240, 0.60, 2},
	{"GBP/USD", fx, 1.27, 0.20, 3},
	{"USD/JPY", fx, 152.5, 0.20, 3},
	{"IWM", stock, 225, 0.24, 4},
}

// Parameters of symbols that are not built in: stock-like, priced
// uniformly in [$5, $500), with volatility uniform in [20 %, 60 %).
const (
	customMinPrice = 5.0
	customMaxPrice = 500.0
	customMinVol   = 0.20
	customMaxVol   = 0.60
	customWeight   = 3.0
)

// syntheticNames returns n names for symbols past the built-in list:
// "T" and three letters (TAAA, TAAB, ...), skipping names already taken.
func syntheticNames(n int, taken map[tape.Symbol]bool) []tape.Symbol {
	names := make([]tape.Symbol, 0, n)
	for i := 0; len(names) < n && i < 26*26*26; i++ {
		s := tape.Symbol([]byte{'T', byte('A' + i/676), byte('A' + i/26%26), byte('A' + i%26)})
		if !taken[s] {
			names = append(names, s)
		}
	}
	return names
}
