package ingest

import "tape"

var _ Format = (*polygonFormat)(nil)

// polygonFormat reads the Polygon (now Massive) stocks WebSocket stream:
// one object or an array of objects, each with an "ev" type. Quotes (Q)
// and trades (T) become events; status messages are control traffic.
//
// A quote is the whole top of book: a side whose price is 0 or absent has
// no quote and is removed. A trade's id "i" is unique per exchange "x"
// and trade reporting facility "trfi" (Massive's trades documentation,
// https://massive.com/docs/websocket/stocks/trades), so its TradeID is
// "x:i" or "x/trfi:i". Its conditions "c" decide what it updates
// (tape.PolygonCondition). A fractional size comes as the string "ds",
// which is read instead of "s" when present. The stream carries no trade
// cancels or corrections.
type polygonFormat struct {
	inst *tape.Instruments
}

func (*polygonFormat) Name() string { return tape.FormatPolygon }

func (f *polygonFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	var w jsonWalk
	w.start(dst, msg)
	for w.next() {
		dst = w.done(f.decode(&w.m, dst, w.base))
	}
	return w.end(dst)
}

// decode reads one object, such as
//
//	{"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"t":1536036818784}
//	{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],"t":1536036818784}
func (f *polygonFormat) decode(m *tape.JSONMessage, dst []tape.Event, base int) ([]tape.Event, error) {
	var ev, sym, bp, ap, bs, as, p, s, ds, t, x, i, trfi, c tape.JSONValue
	for key, v, ok := m.Member(); ok; key, v, ok = m.Member() {
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
		case "ds":
			ds = v
		case "t":
			t = v
		case "x":
			x = v
		case "i":
			i = v
		case "trfi":
			trfi = v
		case "c":
			c = v
		}
	}
	if err := m.SyntaxErr(); err != nil {
		return dst, err
	}

	var e tape.Event
	var err error
	var buf [8]byte
	switch string(jsonText(ev, buf[:])) {
	case "Q":
		e.Kind, e.Sides = tape.KindQuote, tape.BothSides
		if e.Bid, err = jsonPrice(bp); err != nil {
			return dst, err
		}
		if e.Ask, err = jsonPrice(ap); err != nil {
			return dst, err
		}
		if e.Bid == 0 && e.Ask == 0 {
			return dst, errNoBook
		}
		if e.BidSize, err = jsonSize(bs); err != nil {
			return dst, err
		}
		if e.AskSize, err = jsonSize(as); err != nil {
			return dst, err
		}
		if e.Bid == 0 {
			e.BidSize = 0
		}
		if e.Ask == 0 {
			e.AskSize = 0
		}
	case "T":
		e.Kind = tape.KindTrade
		if !p.Present() {
			return dst, errNoPrice
		}
		if e.Last, err = jsonPrice(p); err != nil {
			return dst, err
		}
		if e.Size, err = polygonSize(s, ds); err != nil {
			return dst, err
		}
		if e.TradeID, err = polygonTradeID(x, trfi, i); err != nil {
			return dst, err
		}
		if e.Ineligible, err = polygonConditions(c); err != nil {
			return dst, err
		}
	case "status":
		return dst, nil
	case "":
		if ev.Kind() == tape.JSONAbsent {
			return dst, errNoType
		}
		return dst, errUnsupported
	default:
		return dst, errUnsupported
	}
	if e.Symbol, err = jsonSymbol(sym); err != nil {
		return dst, err
	}
	if e.Time, err = jsonUnixTime(t); err != nil {
		return dst, err
	}
	return accept(dst, base, &e, tape.FormatPolygon, f.inst)
}

// polygonSize reads "ds", the size with fractional shares as a string,
// or else "s".
func polygonSize(s, ds tape.JSONValue) (tape.Size, error) {
	if !ds.Present() {
		return jsonSize(s)
	}
	var buf [32]byte
	b, ok := ds.Text(buf[:])
	if !ok {
		return 0, errSize
	}
	return tape.ParseSize(b)
}

// polygonTradeID scopes the trade id by exchange and TRF.
func polygonTradeID(x, trfi, i tape.JSONValue) (tape.TradeID, error) {
	var xb, tb [16]byte
	var venue [40]byte
	v := append(venue[:0], jsonVenue(x, xb[:])...)
	if b := jsonVenue(trfi, tb[:]); len(b) > 0 {
		v = append(append(v, '/'), b...)
	}
	return jsonTradeID(v, i)
}

// polygonConditions reads the condition ids of a trade.
func polygonConditions(c tape.JSONValue) (tape.Updates, error) {
	if !c.Present() {
		return 0, nil
	}
	if c.Kind() != tape.JSONArray {
		return 0, errConditions
	}
	var skip tape.Updates
	for it := c.Elements(); ; {
		v, ok := it.Next()
		if !ok {
			break
		}
		b, isNumber := v.Number()
		id, ok := atoi(b)
		if !isNumber || !ok {
			return 0, errConditions
		}
		skip |= tape.PolygonCondition(id)
	}
	return skip, nil
}
