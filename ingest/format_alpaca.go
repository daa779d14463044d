package ingest

import "tape"

var _ Format = (*alpacaFormat)(nil)

// alpacaFormat reads the Alpaca market-data v2 WebSocket stream: an array
// of objects (or one object), each with a "T" type. Quotes (q) and trades
// (t) become events; success and subscription messages are control
// traffic; error messages are rejected.
type alpacaFormat struct {
	symbols symbolCache
}

func (*alpacaFormat) Name() string { return tape.FormatAlpaca }

func (f *alpacaFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	var m jsonMessage
	m.start(dst, msg)
	for m.next() {
		dst = m.done(f.decode(&m.sc, dst))
	}
	return m.end(dst)
}

// decode reads one object, such as
//
//	{"T":"q","S":"AAPL","bx":"V","bp":187.1,"bs":2,"ax":"V","ap":187.2,"as":3,"c":["R"],"t":"2021-02-22T15:51:44.208Z","z":"C"}
//	{"T":"t","S":"AAPL","i":52983525029461,"x":"V","p":187.14,"s":100,"c":["@"],"t":"2021-02-22T15:51:44.208Z","z":"C"}
func (f *alpacaFormat) decode(sc *jsonScanner, dst []tape.Event) ([]tape.Event, error) {
	var typ, sym, bp, ap, bs, as, p, s, t jsonValue
	sc.openObject()
	for i := 0; ; i++ {
		key, ok := sc.member(i)
		if !ok {
			break
		}
		v := sc.value()
		switch string(key) {
		case "T":
			typ = v
		case "S":
			sym = v
		case "bp":
			bp = v
		case "ap":
			ap = v
		case "bs":
			bs = v
		case "as":
			as = v
		case "p":
			p = v
		case "s":
			s = v
		case "t":
			t = v
		}
	}
	if sc.err != nil {
		return dst, sc.err
	}

	var e tape.Event
	var err error
	var buf [16]byte
	switch string(jsonText(typ, buf[:])) {
	case "q":
		e.Kind = tape.KindQuote
		if e.Bid, err = jsonPrice(bp); err != nil {
			return dst, err
		}
		if e.Ask, err = jsonPrice(ap); err != nil {
			return dst, err
		}
		if e.BidSize, err = jsonSize(bs); err != nil {
			return dst, err
		}
		if e.AskSize, err = jsonSize(as); err != nil {
			return dst, err
		}
	case "t":
		e.Kind = tape.KindTrade
		if p.kind == jsonAbsent || p.kind == jsonNull {
			return dst, errNoPrice
		}
		if e.Last, err = jsonPrice(p); err != nil {
			return dst, err
		}
		if e.Size, err = jsonSize(s); err != nil {
			return dst, err
		}
	case "success", "subscription":
		return dst, nil
	case "error":
		return dst, errFeedError
	case "":
		if typ.kind == jsonAbsent {
			return dst, errNoType
		}
		return dst, errUnsupported
	default:
		return dst, errUnsupported
	}
	if e.Symbol, err = f.symbols.jsonSymbol(sym); err != nil {
		return dst, err
	}
	if e.Time, err = jsonRFC3339(t); err != nil {
		return dst, err
	}
	e.Source = tape.FormatAlpaca
	return validated(dst, &e)
}
