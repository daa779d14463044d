package ingest

import "tape"

var _ Format = (*polygonFormat)(nil)

// polygonFormat reads the Polygon (now Massive) stocks WebSocket stream:
// one object or an array of objects, each with an "ev" type. Quotes (Q)
// and trades (T) become events; status messages are control traffic.
type polygonFormat struct {
	symbols symbolCache
}

func (*polygonFormat) Name() string { return tape.FormatPolygon }

func (f *polygonFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	var m jsonMessage
	m.start(dst, msg)
	for m.next() {
		dst = m.done(f.decode(&m.sc, dst))
	}
	return m.end(dst)
}

// decode reads one object, such as
//
//	{"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"t":1536036818784}
//	{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],"t":1536036818784}
//
// Exchange ids, conditions and tape are not part of an Event and are only
// checked for syntax.
func (f *polygonFormat) decode(sc *jsonScanner, dst []tape.Event) ([]tape.Event, error) {
	var ev, sym, bp, ap, bs, as, p, s, t jsonValue
	sc.openObject()
	for i := 0; ; i++ {
		key, ok := sc.member(i)
		if !ok {
			break
		}
		v := sc.value()
		switch string(key) {
		case "ev":
			ev = v
		case "sym":
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
	var buf [8]byte
	switch string(jsonText(ev, buf[:])) {
	case "Q":
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
	case "T":
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
	case "status":
		return dst, nil
	case "":
		if ev.kind == jsonAbsent {
			return dst, errNoType
		}
		return dst, errUnsupported
	default:
		return dst, errUnsupported
	}
	if e.Symbol, err = f.symbols.jsonSymbol(sym); err != nil {
		return dst, err
	}
	if e.Time, err = jsonUnixTime(t); err != nil {
		return dst, err
	}
	e.Source = tape.FormatPolygon
	return validated(dst, &e)
}
