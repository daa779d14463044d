package ingest

import "tape"

var (
	errNoData    = &tape.Error{Code: tape.ECodeField, Message: `trade message without a "data" array`}
	errNotObject = &tape.Error{Code: tape.ECodeJSON, Message: "expected a JSON object"}
)

var _ Format = (*finnhubFormat)(nil)

// finnhubFormat reads the Finnhub trades WebSocket stream:
//
//	{"data":[{"s":"AAPL","p":187.14,"t":1575526691134,"v":100,"c":["1","12"]}],"type":"trade"}
//
// Each element of "data" becomes a trade, and Reject indexes refer to it.
// Pings are control traffic.
type finnhubFormat struct {
	symbols symbolCache
}

func (*finnhubFormat) Name() string { return tape.FormatFinnhub }

func (f *finnhubFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	base := len(dst)
	sc := jsonScanner{data: msg}
	switch {
	case len(msg) > MaxMessageBytes:
		return dst, []Reject{{Index: -1, Err: errTooBig}}
	case sc.peek() == 0:
		return dst, []Reject{{Index: -1, Err: errEmpty}}
	case sc.peek() != '{':
		return dst, []Reject{{Index: -1, Err: errNotObject}}
	}

	// Finnhub writes "data" before "type", so trades are decoded as they
	// come and taken back if the type turns out not to be "trade".
	var typ jsonValue
	var rejects []Reject
	var data jsonKind
	sc.openObject()
	for i := 0; ; i++ {
		key, ok := sc.member(i)
		if !ok {
			break
		}
		switch string(key) {
		case "type":
			typ = sc.value()
		case "data":
			if sc.peek() != '[' {
				data = sc.value().kind
				continue
			}
			data = jsonArray
			sc.openArray()
			for j := 0; sc.element(j); j++ {
				if sc.peek() != '{' {
					sc.value()
					rejects = append(rejects, Reject{Index: j, Err: errJSONElement})
					continue
				}
				var err error
				if dst, err = f.decode(&sc, dst); err != nil && sc.err == nil {
					rejects = append(rejects, Reject{Index: j, Err: err})
				}
			}
		default:
			sc.value()
		}
	}
	sc.finish()
	if sc.err != nil {
		return dst[:base], []Reject{{Index: -1, Err: sc.err}}
	}

	var buf [16]byte
	switch string(jsonText(typ, buf[:])) {
	case "trade":
		if data != jsonArray {
			return dst[:base], []Reject{{Index: -1, Err: errNoData}}
		}
		return dst, rejects
	case "ping":
		return dst[:base], nil
	case "":
		if typ.kind == jsonAbsent {
			return dst[:base], []Reject{{Index: -1, Err: errNoType}}
		}
	}
	return dst[:base], []Reject{{Index: -1, Err: errUnsupported}}
}

// decode reads one trade, such as
//
//	{"s":"AAPL","p":187.14,"t":1575526691134,"v":100,"c":["1","12"]}
//
// Finnhub's volume "v" is the trade's size; crypto symbols trade in
// fractions, which tape.Event cannot carry, so those are rejected.
func (f *finnhubFormat) decode(sc *jsonScanner, dst []tape.Event) ([]tape.Event, error) {
	var sym, p, t, v jsonValue
	sc.openObject()
	for i := 0; ; i++ {
		key, ok := sc.member(i)
		if !ok {
			break
		}
		val := sc.value()
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
	if sc.err != nil {
		return dst, sc.err
	}

	e := tape.Event{Kind: tape.KindTrade, Source: tape.FormatFinnhub}
	var err error
	if e.Symbol, err = f.symbols.jsonSymbol(sym); err != nil {
		return dst, err
	}
	if !present(p) {
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
	return validated(dst, &e)
}
