package ingest

import (
	"bytes"
	"time"

	"tape"
)

// csvColumns is the number of fields in every CSV line.
const csvColumns = 6

var errCSVFields = &tape.Error{Code: tape.ECodeField, Message: "expected 6 fields: symbol,ts,bid,ask,last,size"}

var _ Format = (*csvFormat)(nil)

// csvFormat reads lines of
//
//	symbol,ts,bid,ask,last,size
//
// separated by LF or CRLF, one event per line. A header line starting with
// "symbol" is skipped, as are blank lines. ts is RFC 3339 or a Unix time
// in ms (µs and ns are told apart by magnitude). An empty bid and ask mean
// the line has no quote part, an empty last no trade part; size is the
// trade's. Fields are not quoted: no valid symbol, price or time needs it.
// Reject indexes are 0-based line numbers.
type csvFormat struct {
	symbols symbolCache
}

func (*csvFormat) Name() string { return tape.FormatCSV }

func (f *csvFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	switch {
	case len(msg) > MaxMessageBytes:
		return dst, []Reject{{Index: -1, Err: errTooBig}}
	case len(bytes.TrimSpace(msg)) == 0:
		return dst, []Reject{{Index: -1, Err: errEmpty}}
	}
	var rejects []Reject
	for i := 0; len(msg) > 0; i++ {
		var line []byte
		line, msg, _ = bytes.Cut(msg, []byte("\n"))
		var err error
		if dst, err = f.line(dst, line); err != nil {
			rejects = append(rejects, Reject{Index: i, Err: err})
		}
	}
	return dst, rejects
}

// line appends the event of one line, if it is not blank or a header.
func (f *csvFormat) line(dst []tape.Event, line []byte) ([]tape.Event, error) {
	line = bytes.TrimSpace(line) // also drops the CR of CRLF
	if len(line) == 0 {
		return dst, nil
	}
	var fields [csvColumns][]byte
	n := 0
	for rest, more := line, true; more; n++ {
		if n == csvColumns {
			return dst, errCSVFields
		}
		fields[n], rest, more = bytes.Cut(rest, []byte(","))
		fields[n] = bytes.TrimSpace(fields[n])
	}
	sym, ts, bid, ask, last, size := fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]
	if bytes.EqualFold(sym, []byte("symbol")) && (len(ts) == 0 || !isDigit(ts[0])) {
		return dst, nil // a header
	}
	if n != csvColumns {
		return dst, errCSVFields
	}

	e := tape.Event{Source: tape.FormatCSV}
	var err error
	if len(sym) == 0 {
		return dst, errNoSymbol
	}
	if e.Symbol, err = f.symbols.symbol(sym); err != nil {
		return dst, err
	}
	if e.Time, err = csvTime(ts); err != nil {
		return dst, err
	}
	if len(bid) > 0 || len(ask) > 0 {
		e.Kind |= tape.KindQuote
		if e.Bid, err = csvPrice(bid); err != nil {
			return dst, err
		}
		if e.Ask, err = csvPrice(ask); err != nil {
			return dst, err
		}
	}
	if len(last) > 0 {
		e.Kind |= tape.KindTrade
		if e.Last, err = csvPrice(last); err != nil {
			return dst, err
		}
		if len(size) > 0 {
			var ok bool
			if e.Size, ok = parseSize(size); !ok {
				return dst, errSize
			}
		}
	}
	return validated(dst, &e)
}

// csvPrice reads a price; an empty field is no price.
func csvPrice(b []byte) (tape.Price, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p, err := tape.ParsePrice(b)
	if err != nil {
		return 0, errPrice
	}
	return p, nil
}

func csvTime(b []byte) (time.Time, error) {
	if len(b) == 0 {
		return time.Time{}, errNoTime
	}
	if digitsLen(b) == len(b) {
		if n, ok := parseSize(b); ok {
			if t, ok := unixTime(n); ok {
				return t, nil
			}
		}
		return time.Time{}, errTime
	}
	if t, ok := parseRFC3339(b); ok {
		return t, nil
	}
	return time.Time{}, errTime
}
