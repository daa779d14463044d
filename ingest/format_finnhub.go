package ingest

import (
	"bytes"

	"tape"
)

var (
	errNoData    = &tape.Error{Code: tape.ECodeField, Message: `trade message without a "data" array`}
	errNotObject = &tape.Error{Code: tape.ECodeJSON, Message: "expected a JSON object"}
)

var _ Format = (*finnhubFormat)(nil)

// finnhubFormat reads the Finnhub trades WebSocket stream
// (https://finnhub.io/docs/api/websocket-trades):
//
//	{"data":[{"s":"AAPL","p":187.14,"t":1575526691134,"v":100,"c":["1","12"]}],"type":"trade"}
//
// Each element of "data" becomes a trade, and Reject indexes refer to it.
// Pings are control traffic. The volume "v" is the trade's size, exactly,
// fractions included (crypto's 0.011467); FX and crypto venues send price
// updates with "v":0, which move last but add no volume. Finnhub trades
// carry no id, so each gets a content identity (tape.ContentTradeID).
// Finnhub publishes its condition codes "c" only as a spreadsheet per
// venue, not as update rules, so they are not read: every Finnhub trade
// updates last, high, low, open and volume.
type finnhubFormat struct {
	inst *tape.Instruments
}

func (*finnhubFormat) Name() string { return tape.FormatFinnhub }

func (f *finnhubFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	base := len(dst)
	if len(msg) > MaxMessageBytes {
		return dst, []Reject{{Index: -1, Err: errTooBig}}
	}
	msg = bytes.TrimPrefix(msg, bom)
	switch trimmed := bytes.TrimLeft(msg, " \t\r\n"); {
	case len(trimmed) == 0:
		return dst, []Reject{{Index: -1, Err: errEmpty}}
	case trimmed[0] != '{':
		return dst, []Reject{{Index: -1, Err: errNotObject}}
	}
	var m tape.JSONMessage
	m.Reset(msg)
	m.Next()

	// Finnhub writes "data" before "type", so trades are decoded as they
	// come and taken back if the type turns out not to be "trade".
	var typ tape.JSONValue
	var rejects []Reject
	data := tape.JSONAbsent
	for key, v, ok := m.Member(); ok; key, v, ok = m.Member() {
		switch string(key) {
		case "type":
			typ = v
		case "data":
			data = v.Kind()
			if data != tape.JSONArray {
				continue
			}
			var trades tape.JSONMessage // the array, already checked, walked once more
			trades.Reset(v.Raw())
			for {
				j, isObject, ok := trades.Next()
				if !ok {
					break
				}
				if !isObject {
					rejects = append(rejects, Reject{Index: j, Err: errJSONElement})
					continue
				}
				var err error
				if dst, err = f.decode(&trades, dst, base); err != nil {
					rejects = append(rejects, Reject{Index: j, Err: err})
				}
			}
		}
	}
	for _, _, ok := m.Next(); ok; _, _, ok = m.Next() {
	}
	if err := m.Err(); err != nil {
		return dst[:base], []Reject{{Index: -1, Err: err}}
	}

	var buf [16]byte
	switch string(jsonText(typ, buf[:])) {
	case "trade":
		if data != tape.JSONArray {
			return dst[:base], []Reject{{Index: -1, Err: errNoData}}
		}
		return dst, rejects
	case "ping":
		return dst[:base], nil
	case "":
		if typ.Kind() == tape.JSONAbsent {
			return dst[:base], []Reject{{Index: -1, Err: errNoType}}
		}
	}
	return dst[:base], []Reject{{Index: -1, Err: errUnsupported}}
}

// decode reads one trade, such as
//
//	{"s":"AAPL","p":187.14,"t":1575526691134,"v":100,"c":["1","12"]}
func (f *finnhubFormat) decode(m *tape.JSONMessage, dst []tape.Event, base int) ([]tape.Event, error) {
	var sym, p, t, v tape.JSONValue
	for key, val, ok := m.Member(); ok; key, val, ok = m.Member() {
		switch string(key) {
		case "s":
			sym = val
		case "p":
			p = val
		case "t":
			t = val
		case "v":
			v = val
		}
	}
	e := tape.Event{Kind: tape.KindTrade}
	var err error
	if e.Symbol, err = jsonSymbol(sym); err != nil {
		return dst, err
	}
	if !p.Present() {
		return dst, errNoPrice
	}
	if e.Last, err = jsonPrice(p); err != nil {
		return dst, err
	}
	if e.Size, err = jsonSize(v); err != nil {
		return dst, err
	}
	if e.Time, err = jsonUnixTime(t); err != nil {
		return dst, err
	}
	return accept(dst, base, &e, tape.FormatFinnhub, f.inst)
}
