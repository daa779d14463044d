package tape

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// AssetClass is the kind of market an instrument trades in. It decides
// the instrument's trading day (DefaultSession) and whether its prices
// may be negative.
type AssetClass uint8

// Asset classes. ClassNone means "not stated": whoever needs the class
// asks Instruments.Class.
const (
	ClassNone AssetClass = iota
	ClassEquity
	ClassCrypto
	ClassFX
	ClassFuture
)

var classNames = [...]string{ClassNone: "", ClassEquity: "equity", ClassCrypto: "crypto", ClassFX: "fx", ClassFuture: "future"}

// String returns "equity", "crypto", "fx", "future", or "" for ClassNone.
func (c AssetClass) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return ""
}

// ParseAssetClass returns the class String names, or false.
func ParseAssetClass(b []byte) (AssetClass, bool) {
	for c, name := range classNames {
		if c > 0 && string(b) == name {
			return AssetClass(c), true
		}
	}
	return ClassNone, false
}

// NegativePrices reports whether prices of the class may be below zero.
// Only futures may: a futures price is what one side will pay the other
// on a later date, and with storage full it went negative (NYMEX WTI
// crude, CLK0, settled at -37.63 on 20 April 2020). A share, a coin or an
// exchange rate cannot. A price of exactly zero still means "no price"
// for every class.
func (c AssetClass) NegativePrices() bool { return c == ClassFuture }

// Instruments says what class each symbol is, and so its trading day and
// whether it may trade below zero. The zero Instruments (and a nil
// *Instruments) applies the default rules:
//
//   - futures: symbols ending in "=F" (CL=F, ES=F), and roots listed in
//     FutureRoots with or without a contract month (CL, CLK0, CLK20);
//   - FX: "AAA/BBB" and "AAA-BBB" where both are ISO 4217 currencies
//     (EUR/USD), Polygon's "C:EURUSD", Yahoo's "EURUSD=X", and
//     "OANDA:", "FXCM:" or "FOREX:" symbols (Finnhub's forex);
//   - crypto: "BASE-QUOTE" and "BASE/QUOTE" pairs whose base is not a
//     currency and whose quote is a currency, stablecoin or BTC/ETH
//     (BTC-USD, ETH/USDT), Polygon's "X:BTCUSD", and symbols prefixed by
//     a crypto exchange such as "BINANCE:" or "COINBASE:" (Finnhub's);
//   - everything else is a US equity (BRK.B, BRK-B, ^GSPC).
//
// Symbols overrides all of these for single symbols. An Instruments is
// read-only once in use and safe for concurrent use; normalisers take
// one as an option (ingest.FormatWith) rather than reading a global.
type Instruments struct {
	// Symbols names the class of single symbols.
	Symbols map[Symbol]AssetClass
	// FutureRoots lists futures roots, such as "CL" or "ES".
	FutureRoots []string
	// Sessions overrides the trading-day rule of a class.
	Sessions map[AssetClass]Session
}

// Class returns the class of sym.
func (in *Instruments) Class(sym Symbol) AssetClass {
	if in != nil {
		if c, ok := in.Symbols[sym]; ok && c != ClassNone {
			return c
		}
		for _, root := range in.FutureRoots {
			if futureOf(string(sym), root) {
				return ClassFuture
			}
		}
	}
	return defaultClass(string(sym))
}

// Session returns the trading-day rule of class c.
func (in *Instruments) Session(c AssetClass) Session {
	if in != nil {
		if s, ok := in.Sessions[c]; ok {
			return s
		}
	}
	return DefaultSession(c)
}

// Day returns the trading day of an event of sym at t.
func (in *Instruments) Day(sym Symbol, t time.Time) Day {
	return in.Session(in.Class(sym)).Day(t)
}

// ErrInstruments reports an instrument configuration that cannot work.
var ErrInstruments = errors.New("tape: invalid instrument configuration")

// Validate reports symbols, roots or sessions that cannot be right.
func (in *Instruments) Validate() error {
	if in == nil {
		return nil
	}
	for sym, c := range in.Symbols {
		if !validSymbol(string(sym)) || c == ClassNone || c.String() == "" {
			return fmt.Errorf("%w: symbol %q as %q", ErrInstruments, sym, c)
		}
	}
	for _, root := range in.FutureRoots {
		if !validSymbol(root) {
			return fmt.Errorf("%w: futures root %q", ErrInstruments, root)
		}
	}
	for c, s := range in.Sessions {
		if c == ClassNone || c.String() == "" || s.Roll < 0 || s.Roll >= 24*time.Hour {
			return fmt.Errorf("%w: session of %q", ErrInstruments, c)
		}
	}
	return nil
}

// ParseInstruments reads an instrument configuration written as
// semicolon-separated entries, for a flag or an environment variable:
//
//	future=CL,NG,ZC; crypto=DOGEUSD; equity=BTC-USD; session.fx=America/New_York@17:00
//
// "future=" lists futures roots; "crypto=", "fx=" and "equity=" list
// single symbols; "session.<class>=<IANA zone>@<HH:MM>" sets the time of
// day at which the class's trading day rolls (00:00: at midnight).
func ParseInstruments(spec string) (*Instruments, error) {
	in := &Instruments{}
	for entry := range strings.SplitSeq(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, list, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q is not name=value", ErrInstruments, entry)
		}
		name = strings.TrimSpace(name)
		if cls, ok := strings.CutPrefix(name, "session."); ok {
			c, ok := ParseAssetClass([]byte(cls))
			if !ok {
				return nil, fmt.Errorf("%w: unknown class %q", ErrInstruments, cls)
			}
			s, err := parseSession(strings.TrimSpace(list))
			if err != nil {
				return nil, err
			}
			if in.Sessions == nil {
				in.Sessions = make(map[AssetClass]Session)
			}
			in.Sessions[c] = s
			continue
		}
		c, ok := ParseAssetClass([]byte(name))
		if !ok {
			return nil, fmt.Errorf("%w: unknown class %q", ErrInstruments, name)
		}
		for item := range strings.SplitSeq(list, ",") {
			sym, err := ParseSymbolString(strings.TrimSpace(item))
			if err != nil {
				return nil, fmt.Errorf("%w: symbol %q", ErrInstruments, item)
			}
			if c == ClassFuture {
				in.FutureRoots = append(in.FutureRoots, string(sym))
				continue
			}
			if in.Symbols == nil {
				in.Symbols = make(map[Symbol]AssetClass)
			}
			in.Symbols[sym] = c
		}
	}
	return in, in.Validate()
}

func parseSession(s string) (Session, error) {
	zone, clock, ok := strings.Cut(s, "@")
	loc, err := time.LoadLocation(zone)
	if !ok || err != nil || zone == "" || zone == "Local" {
		return Session{}, fmt.Errorf("%w: session %q (want Zone/Name@HH:MM)", ErrInstruments, s)
	}
	hh, mm, ok := strings.Cut(clock, ":")
	h, ok1 := digits([]byte(hh))
	m, ok2 := digits([]byte(mm))
	if !ok || !ok1 || !ok2 || len(hh) != 2 || len(mm) != 2 || h > 23 || m > 59 {
		return Session{}, fmt.Errorf("%w: session time %q (want HH:MM)", ErrInstruments, clock)
	}
	return Session{Zone: loc, Roll: time.Duration(h)*time.Hour + time.Duration(m)*time.Minute}, nil
}

// futureOf reports whether sym is the futures root or one of its
// contracts: the root, then a month code (CME's F G H J K M N Q U V X Z)
// and a one- or two-digit year, or the root followed by "=F".
func futureOf(sym, root string) bool {
	rest, ok := strings.CutPrefix(sym, root)
	switch {
	case !ok:
		return false
	case rest == "" || rest == "=F":
		return true
	case len(rest) < 2 || len(rest) > 3 || !strings.ContainsRune("FGHJKMNQUVXZ", rune(rest[0])):
		return false
	}
	_, ok = digits([]byte(rest[1:]))
	return ok
}

// cryptoVenues are the exchange prefixes of crypto symbols, as Finnhub
// writes them ("BINANCE:BTCUSDT").
var cryptoVenues = []string{"BINANCE:", "BINANCEUS:", "COINBASE:", "KRAKEN:", "BITFINEX:", "BITSTAMP:", "GEMINI:",
	"HUOBI:", "KUCOIN:", "OKEX:", "BYBIT:", "POLONIEX:", "BITTREX:", "HITBTC:", "POLYGON:", "X:"}

// fxVenues are the prefixes of FX symbols: Polygon's "C:", Finnhub's
// forex brokers.
var fxVenues = []string{"C:", "OANDA:", "FXCM:", "FOREX:", "FXPRO:", "ICMTRADER:"}

// fiat holds ISO 4217 codes of currencies that trade as FX pairs.
var fiat = map[string]bool{
	"USD": true, "EUR": true, "JPY": true, "GBP": true, "CHF": true, "CAD": true, "AUD": true, "NZD": true,
	"SEK": true, "NOK": true, "DKK": true, "HKD": true, "SGD": true, "CNH": true, "CNY": true, "MXN": true,
	"ZAR": true, "TRY": true, "PLN": true, "HUF": true, "CZK": true, "ILS": true, "KRW": true, "INR": true,
	"BRL": true, "RUB": true, "THB": true, "TWD": true, "IDR": true, "MYR": true, "PHP": true, "CLP": true,
	"COP": true, "SAR": true, "AED": true, "XAU": true, "XAG": true,
}

// cryptoQuotes are what crypto pairs are quoted in besides fiat.
var cryptoQuotes = map[string]bool{"USDT": true, "USDC": true, "BUSD": true, "DAI": true, "BTC": true, "ETH": true, "USD": true, "EUR": true, "GBP": true}

// defaultClass applies the patterns Instruments documents.
func defaultClass(sym string) AssetClass {
	if strings.IndexAny(sym, "=:/-") < 0 {
		return ClassEquity // a plain ticker, the common case
	}
	switch {
	case strings.HasSuffix(sym, "=F"):
		return ClassFuture
	case strings.HasSuffix(sym, "=X"):
		return ClassFX
	}
	for _, p := range fxVenues {
		if strings.HasPrefix(sym, p) {
			return ClassFX
		}
	}
	for _, p := range cryptoVenues {
		if strings.HasPrefix(sym, p) {
			return ClassCrypto
		}
	}
	i := strings.IndexAny(sym, "/-")
	if i <= 0 || strings.IndexAny(sym[i+1:], "/-") >= 0 {
		return ClassEquity
	}
	base, quote := sym[:i], sym[i+1:]
	switch {
	case fiat[base] && fiat[quote]:
		return ClassFX
	case !fiat[base] && len(base) >= 2 && (fiat[quote] || cryptoQuotes[quote]):
		return ClassCrypto
	}
	return ClassEquity
}
