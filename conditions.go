package tape

import "bytes"

// Updates is a set of day statistics a trade may update. A trade's sale
// conditions decide which: an odd lot counts in volume but does not set
// the last price or the high and low, an official close sets nothing.
type Updates uint8

// The statistics a trade can update.
const (
	UpdatesLast Updates = 1 << iota
	UpdatesHighLow
	UpdatesOpen
	UpdatesVolume

	// AllUpdates is what a regular trade updates.
	AllUpdates = UpdatesLast | UpdatesHighLow | UpdatesOpen | UpdatesVolume
	// VolumeOnly is what a trade whose conditions tape has no published
	// rule for updates: it counts, but never moves a price on screen.
	VolumeOnly = UpdatesVolume
)

var updateNames = [...]struct {
	u    Updates
	name string
}{{UpdatesLast, "last"}, {UpdatesHighLow, "high_low"}, {UpdatesOpen, "open"}, {UpdatesVolume, "volume"}}

// AppendText appends the set as a comma-separated list in a fixed order,
// "last,high_low,open,volume", or nothing for the empty set.
func (u Updates) AppendText(dst []byte) []byte {
	first := true
	for _, n := range updateNames {
		if u&n.u == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, n.name...)
		first = false
	}
	return dst
}

// String returns the set as AppendText writes it.
func (u Updates) String() string { return string(u.AppendText(nil)) }

// ParseUpdates parses a list AppendText writes, in any order.
func ParseUpdates(b []byte) (Updates, bool) {
	var u Updates
	for len(b) > 0 {
		item, rest, more := bytes.Cut(b, []byte(","))
		if more && len(rest) == 0 {
			return 0, false
		}
		b = rest
		found := false
		for _, n := range updateNames {
			if string(item) == n.name {
				u |= n.u
				found = true
			}
		}
		if !found {
			return 0, false
		}
	}
	return u, true
}

// Sale-condition tables. Each function returns what a trade carrying one
// condition must NOT update; a trade with several conditions updates only
// what none of them excludes (the rule of the SIPs' matrices: "a trade
// updates a statistic only if every one of its conditions allows it").
// A condition with no published rule excludes everything but volume
// (VolumeOnly): it is counted, and never puts a price on screen.
//
// The consolidated-processing columns are used throughout, since tape
// shows consolidated statistics. Open follows last: the matrices and
// Polygon's "updates_open_close" decide both together.

// Exclusions, named by what the trade still updates.
const (
	exAll        Updates = 0                                          // a regular trade
	exHighLowVol         = UpdatesLast | UpdatesOpen                  // high, low and volume
	exVolume             = UpdatesLast | UpdatesOpen | UpdatesHighLow // volume only
	exNone               = AllUpdates                                 // nothing
	exPrices             = UpdatesVolume                              // last, open, high and low, not volume
)

// polygonConditions are Polygon's (now Massive's) stock trade condition
// ids, from its condition reference: GET /v3/reference/conditions
// ?asset_class=stocks&data_type=trade, "update_rules.consolidated"
// (https://massive.com/docs/rest/stocks/market-operations/condition-codes,
// and the glossary https://polygon.io/glossary/us/stocks/conditions-indicators),
// which transcribes the CTA and UTP matrices cited below. Ids that the
// reference leaves without consolidated rules are absent and count as
// volume only.
var polygonConditions = map[int]Updates{
	0:  exAll,        // Regular Sale
	1:  exAll,        // Acquisition
	2:  exVolume,     // Average Price Trade
	3:  exAll,        // Automatic Execution
	4:  exAll,        // Bunched Trade
	5:  exHighLowVol, // Bunched Sold Trade
	7:  exVolume,     // Cash Sale
	8:  exAll,        // Closing Prints
	9:  exAll,        // Cross Trade
	10: exHighLowVol, // Derivatively Priced
	11: exAll,        // Distribution
	12: exVolume,     // Form T (extended hours)
	13: exVolume,     // Extended Trading Hours (Sold Out of Sequence)
	14: exAll,        // Intermarket Sweep
	15: exNone,       // Market Center Official Close
	16: exNone,       // Market Center Official Open
	17: exAll,        // Market Center Opening Trade
	18: exAll,        // Market Center Reopening Trade
	19: exAll,        // Market Center Closing Trade
	20: exVolume,     // Next Day
	21: exVolume,     // Price Variation Trade
	22: exHighLowVol, // Prior Reference Price
	23: exAll,        // Rule 155 Trade (AMEX)
	25: exAll,        // Opening Prints
	27: exAll,        // Stopped Stock (Regular Trade)
	28: exAll,        // Re-Opening Prints
	29: exHighLowVol, // Seller
	30: exAll,        // Sold Last
	33: exHighLowVol, // Sold (Out of Sequence)
	34: exAll,        // Split Trade
	36: exAll,        // Yellow Flag Regular Trade
	37: exVolume,     // Odd Lot Trade
	38: exPrices,     // Corrected Consolidated Close (per listing market)
	41: exAll,        // Trade Thru Exempt (an indicator, no restriction)
	52: exVolume,     // Contingent Trade
	53: exVolume,     // Qualified Contingent Trade ("QCT")
}

// PolygonCondition returns what a Polygon stock trade with condition id
// must not update.
func PolygonCondition(id int) Updates {
	if u, ok := polygonConditions[id]; ok {
		return u
	}
	return exVolume
}

// utpConditions are the UTP SIP's sale condition modifiers (Nasdaq-listed
// securities, tape C), from the "Sale Condition Modifier" matrix of the
// UTP Trade Data Feed specification (UTDF; https://www.utpplan.com,
// "UTP Binary Output Specification", consolidated processing
// guidelines), with its vendor alerts: #2013-6 (I odd lot: volume only; 9
// corrected consolidated close: high, low and last, no volume) and
// #2015-4 (V contingent trade, 7 qualified contingent trade: no high, low
// or last), https://www.nasdaqtrader.com/TraderNews.aspx?id=utp2015-04.
// '@' and ' ' are a regular sale.
var utpConditions = [256]Updates{
	'@': exAll, ' ': exAll,
	'A': exAll,        // Acquisition
	'B': exAll,        // Bunched Trade
	'C': exVolume,     // Cash Sale
	'D': exAll,        // Distribution
	'F': exAll,        // Intermarket Sweep
	'G': exHighLowVol, // Bunched Sold Trade
	'H': exVolume,     // Price Variation Trade
	'I': exVolume,     // Odd Lot Trade
	'K': exAll,        // Rule 155 Trade (AMEX)
	'L': exAll,        // Sold Last
	'M': exNone,       // Market Center Official Close
	'N': exVolume,     // Next Day
	'O': exAll,        // Opening Prints
	'P': exHighLowVol, // Prior Reference Price
	'Q': exNone,       // Market Center Official Open
	'R': exHighLowVol, // Seller
	'S': exAll,        // Split Trade
	'T': exVolume,     // Form T
	'U': exVolume,     // Extended Trading Hours (Sold Out of Sequence)
	'V': exVolume,     // Contingent Trade
	'W': exVolume,     // Average Price Trade
	'X': exAll,        // Cross Trade
	'Y': exAll,        // Yellow Flag Regular Trade
	'Z': exHighLowVol, // Sold (Out of Sequence)
	'1': exAll,        // Stopped Stock (Regular Trade)
	'4': exHighLowVol, // Derivatively Priced
	'5': exAll,        // Re-Opening Prints
	'6': exAll,        // Closing Prints
	'7': exVolume,     // Qualified Contingent Trade
	'9': exPrices,     // Corrected Consolidated Close (per listing market)
}

// ctaConditions are the CTA SIP's sale conditions (NYSE- and
// regional-listed securities, tapes A and B), from the sale condition
// matrix of the CTS Pillar Output Specification (https://www.ctaplan.com,
// "CTS Pillar Output Specification", appendix on sale conditions,
// consolidated last, high/low and volume columns). Where a letter means
// the same as in UTP the rule is the same; the letters that differ are
// B (Average Price Trade), E (Automatic Execution) and I (Odd Lot Trade).
var ctaConditions = [256]Updates{
	'@': exAll, ' ': exAll,
	'B': exVolume,     // Average Price Trade
	'C': exVolume,     // Cash Trade
	'E': exAll,        // Automatic Execution
	'F': exAll,        // Intermarket Sweep Order
	'H': exVolume,     // Price Variation Trade
	'I': exVolume,     // Odd Lot Trade
	'K': exAll,        // Rule 127 (NYSE only) or Rule 155 (NYSE American only)
	'L': exAll,        // Sold Last (late reporting)
	'M': exNone,       // Market Center Official Close
	'N': exVolume,     // Next Day Trade
	'O': exAll,        // Market Center Opening Trade
	'P': exHighLowVol, // Prior Reference Price
	'Q': exNone,       // Market Center Official Open
	'R': exHighLowVol, // Seller
	'T': exVolume,     // Extended Hours Trade (Form T)
	'U': exVolume,     // Extended Hours Sold (Out of Sequence)
	'V': exVolume,     // Contingent Trade
	'X': exAll,        // Cross Trade
	'Z': exHighLowVol, // Sold (Out of Sequence)
	'1': exAll,        // Stopped Stock (Regular Trade)
	'4': exHighLowVol, // Derivatively Priced
	'5': exAll,        // Market Center Reopening Trade
	'6': exAll,        // Market Center Closing Trade
	'7': exVolume,     // Qualified Contingent Trade
	'9': exPrices,     // Corrected Consolidated Close (per listing market)
}

// known marks the letters each SIP table defines, so that a letter
// mapping to exAll is told from one absent from the table.
var (
	utpKnown = knownLetters("@ ABCDFGHIKLMNOPQRSTUVWXYZ14567 9")
	ctaKnown = knownLetters("@ BCEFHIKLMNOPQRTUVXZ145679")
)

func knownLetters(s string) (t [256]bool) {
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

// UTPCondition returns what a trade with the one-character UTP sale
// condition c must not update.
func UTPCondition(c byte) Updates {
	if utpKnown[c] {
		return utpConditions[c]
	}
	return exVolume
}

// CTACondition returns what a trade with the one-character CTA sale
// condition c must not update.
func CTACondition(c byte) Updates {
	if ctaKnown[c] {
		return ctaConditions[c]
	}
	return exVolume
}

// fixConditions map FIX TradeCondition (tag 277) values to the SIP
// condition each one names, and take that condition's rule from the
// matrices above. Values: FIX 4.4 and FIX Latest, field 277
// (https://www.onixs.biz/fix-dictionary/4.4/tagNum_277.html).
var fixConditions = map[string]Updates{
	"A":  exVolume,     // Cash (only) Market
	"B":  exVolume,     // Average Price Trade
	"C":  exVolume,     // Cash Trade (same day clearing)
	"D":  exVolume,     // Next Day (only) Market
	"G":  exAll,        // Rule 127 Trade (NYSE)
	"H":  exAll,        // Rule 155 Trade (AMEX)
	"I":  exAll,        // Sold Last (late reporting)
	"J":  exVolume,     // Next Day Trade (next day clearing)
	"K":  exHighLowVol, // Opened (late report of opened trade): out of sequence
	"L":  exHighLowVol, // Seller
	"M":  exHighLowVol, // Sold (out of sequence)
	"N":  exAll,        // Stopped Stock
	"R":  exAll,        // Opening Price
	"U":  exNone,       // Exchange Last: an official value, not a trade
	"V":  exNone,       // Final Price of Session
	"X":  exAll,        // Crossed
	"Z":  exAll,        // Trades resulting from intermarket sweep
	"a":  exVolume,     // Volume Only
	"c":  exAll,        // Acquisition
	"d":  exAll,        // Bunched
	"e":  exAll,        // Distribution
	"f":  exHighLowVol, // Bunched Sale
	"g":  exAll,        // Split Trade
	"AJ": exNone,       // Official Closing Price
	"AK": exHighLowVol, // Prior Reference Price
	"AQ": exAll,        // Automatic Execution
	"AR": exVolume,     // Form T
}

// FIXCondition returns what a trade with the FIX TradeCondition value c
// must not update.
func FIXCondition(c []byte) Updates {
	if u, ok := fixConditions[string(c)]; ok {
		return u
	}
	return exVolume
}
