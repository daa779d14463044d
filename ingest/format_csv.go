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
// "symbol" is skipped, as are blank lines; a UTF-8 byte order mark before
// a line (as spreadsheet exports write it) is ignored. ts is RFC 3339 or
// a Unix time in ms (µs and ns are told apart by magnitude). A line with a
// bid or an ask is a quote of the whole top of book (an empty side has no
// quote); a line with a last is a trade of size, an exact decimal. CSV
// trades carry no id and get a content identity (tape.ContentTradeID).
// Fields are not quoted: no valid symbol, price or time needs it. Reject
// indexes are 0-based line numbers.
type csvFormat struct {
	inst *tape.Instruments
}

func (*csvFormat) Name() string { return tape.FormatCSV }

func (f *csvFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	switch {
	case len(msg) > MaxMessageBytes:
		return dst, []Reject{{Index: -1, Err: errTooBig}}
	case len(bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(msg), bom))) == 0:
		return dst, []Reject{{Index: -1, Err: errEmpty}}
	}
	base := len(dst)
	var rejects []Reject
	for i := 0; len(msg) > 0; i++ {
		var line []byte
		line, msg, _ = bytes.Cut(msg, []byte("\n"))
		var err error
		if dst, err = f.line(dst, base, line); err != nil {
			rejects = append(rejects, Reject{Index: i, Err: err})
		}
	}
	return dst, rejects
}

// line appends the event of one line, if it is not blank or a header.
func (f *csvFormat) line(dst []tape.Event, base int, line []byte) ([]tape.Event, error) {
	line = bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(line), bom)) // also drops the CR of CRLF
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

	var e tape.Event
	var err error
	if len(sym) == 0 {
		return dst, errNoSymbol
	}
	if e.Symbol, err = tape.InternSymbol(sym); err != nil {
		return dst, err
	}
	if e.Time, err = csvTime(ts); err != nil {
		return dst, err
	}
	if len(bid) > 0 || len(ask) > 0 {
		e.Kind, e.Sides = e.Kind|tape.KindQuote, tape.BothSides
		if e.Bid, err = csvPrice(bid); err != nil {
			return dst, err
		}
		if e.Ask, err = csvPrice(ask); err != nil {
			return dst, err
		}
		if e.Bid == 0 && e.Ask == 0 {
			return dst, errNoBook
		}
	}
	if len(last) > 0 {
		e.Kind |= tape.KindTrade
		if e.Last, err = csvPrice(last); err != nil {
			return dst, err
		}
		if len(size) > 0 {
			if e.Size, err = tape.ParseSize(size); err != nil {
				return dst, err
			}
		}
	}
	return accept(dst, base, &e, tape.FormatCSV, f.inst)
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
		if n, ok := parseUint(b); ok {
			if t, ok := unixTime(n); ok {
				return t, nil
			}
		}
		return time.Time{}, errTime
	}
	if t, err := tape.ParseTimeBytes(b); err == nil {
		return t, nil
	}
	return time.Time{}, errTime
}
