package ingest

import "tape"

var _ Format = (*alpacaFormat)(nil)

// alpacaFormat reads the Alpaca market-data v2 WebSocket stream: an array
// of objects (or one object), each with a "T" type. Quotes (q), trades
// (t), trade cancels and errors (x) and trade corrections (c) become
// events; success and subscription messages are control traffic; error
// messages are rejected.
//
// A quote is the whole top of book: a side given as 0 has no quote and is
// removed ("ap":0,"as":0 means no ask). Trade ids "i" are unique per
// exchange "x", so a TradeID is "x:i". Conditions "c" are the SIP's
// letters, read with the CTA table for tapes A and B and the UTP table
// for tape C (tape.CTACondition, tape.UTPCondition). Message shapes:
// https://docs.alpaca.markets/docs/real-time-stock-pricing-data, and for
// x and c the SDK's TradeCancelError and TradeCorrection
// (github.com/alpacahq/alpaca-trade-api-go, marketdata/stream).
type alpacaFormat struct {
	inst *tape.Instruments
}

func (*alpacaFormat) Name() string { return tape.FormatAlpaca }

func (f *alpacaFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	var w jsonWalk
	w.start(dst, msg)
	for w.next() {
		dst = w.done(f.decode(&w.m, dst, w.base))
	}
	return w.end(dst)
}

// alpacaFields are the members of one Alpaca object that tape reads.
type alpacaFields struct {
	typ, sym, bp, ap, bs, as, p, s, t, x, i, c, z tape.JSONValue
	oi, ci, cp, cs, cc                            tape.JSONValue
}

// decode reads one object, such as
//
//	{"T":"q","S":"AAPL","bx":"V","bp":187.1,"bs":2,"ax":"V","ap":187.2,"as":3,"c":["R"],"t":"2021-02-22T15:51:44.208Z","z":"C"}
//	{"T":"t","S":"AAPL","i":52983525029461,"x":"V","p":187.14,"s":100,"c":["@"],"t":"2021-02-22T15:51:44.208Z","z":"C"}
//	{"T":"x","S":"AAPL","i":52983525029461,"x":"V","p":187.14,"s":100,"a":"C","t":"2021-02-22T15:52:01.002Z","z":"C"}
//	{"T":"c","S":"IWM","x":"D","oi":79372207866957,"op":208.65,"os":14950,"oc":[" ","7","V"],
//	 "ci":79372223926359,"cp":208.65,"cs":14950,"cc":[" ","7","Z","V"],"z":"B","t":"2022-01-20T17:26:08.000760661Z"}
func (f *alpacaFormat) decode(m *tape.JSONMessage, dst []tape.Event, base int) ([]tape.Event, error) {
	var a alpacaFields
	for key, v, ok := m.Member(); ok; key, v, ok = m.Member() {
		switch string(key) {
		case "T":
			a.typ = v
		case "S":
			a.sym = v
		case "bp":
			a.bp = v
		case "ap":
			a.ap = v
		case "bs":
			a.bs = v
		case "as":
			a.as = v
		case "p":
			a.p = v
		case "s":
			a.s = v
		case "t":
			a.t = v
		case "x":
			a.x = v
		case "i":
			a.i = v
		case "c":
			a.c = v
		case "z":
			a.z = v
		case "oi":
			a.oi = v
		case "ci":
			a.ci = v
		case "cp":
			a.cp = v
		case "cs":
			a.cs = v
		case "cc":
			a.cc = v
		}
	}
	if err := m.SyntaxErr(); err != nil {
		return dst, err
	}

	var e tape.Event
	var err error
	var buf, xb [16]byte
	venue := jsonText(a.x, xb[:])
	switch string(jsonText(a.typ, buf[:])) {
	case "q":
		e.Kind, e.Sides = tape.KindQuote, tape.BothSides
		if e.Bid, err = jsonPrice(a.bp); err != nil {
			return dst, err
		}
		if e.Ask, err = jsonPrice(a.ap); err != nil {
			return dst, err
		}
		if e.Bid == 0 && e.Ask == 0 {
			return dst, errNoBook
		}
		if e.BidSize, err = jsonSize(a.bs); err != nil {
			return dst, err
		}
		if e.AskSize, err = jsonSize(a.as); err != nil {
			return dst, err
		}
		if e.Bid == 0 {
			e.BidSize = 0
		}
		if e.Ask == 0 {
			e.AskSize = 0
		}
	case "t":
		e.Kind = tape.KindTrade
		if err = a.trade(&e, venue, a.p, a.s, a.i, a.c); err != nil {
			return dst, err
		}
	case "x":
		e.Kind = tape.KindCancel
		if e.Ref, err = jsonTradeID(venue, a.i); err != nil {
			return dst, err
		}
		if e.Ref.IsZero() {
			return dst, errNoTradeID
		}
		if e.Last, err = jsonPrice(a.p); err != nil {
			return dst, err
		}
		if e.Size, err = jsonSize(a.s); err != nil {
			return dst, err
		}
	case "c":
		e.Kind = tape.KindCorrection
		if e.Ref, err = jsonTradeID(venue, a.oi); err != nil {
			return dst, err
		}
		if e.Ref.IsZero() {
			return dst, errNoTradeID
		}
		if err = a.trade(&e, venue, a.cp, a.cs, a.ci, a.cc); err != nil {
			return dst, err
		}
	case "success", "subscription":
		return dst, nil
	case "error":
		return dst, errFeedError
	case "":
		if a.typ.Kind() == tape.JSONAbsent {
			return dst, errNoType
		}
		return dst, errUnsupported
	default:
		return dst, errUnsupported
	}
	if e.Symbol, err = jsonSymbol(a.sym); err != nil {
		return dst, err
	}
	if e.Time, err = jsonRFC3339(a.t); err != nil {
		return dst, err
	}
	return accept(dst, base, &e, tape.FormatAlpaca, f.inst)
}

// trade reads a trade's price, size, id and conditions into e.
func (a *alpacaFields) trade(e *tape.Event, venue []byte, p, s, i, c tape.JSONValue) error {
	var err error
	if !p.Present() {
		return errNoPrice
	}
	if e.Last, err = jsonPrice(p); err != nil {
		return err
	}
	if e.Size, err = jsonSize(s); err != nil {
		return err
	}
	if e.TradeID, err = jsonTradeID(venue, i); err != nil {
		return err
	}
	e.Ineligible, err = a.conditions(c)
	return err
}

// conditions reads SIP condition letters with the table of the trade's
// tape: CTA for A and B, UTP for C.
func (a *alpacaFields) conditions(c tape.JSONValue) (tape.Updates, error) {
	if !c.Present() {
		return 0, nil
	}
	if c.Kind() != tape.JSONArray {
		return 0, errConditions
	}
	var zb [4]byte
	table := tape.CTACondition
	if z := jsonText(a.z, zb[:]); string(z) == "C" {
		table = tape.UTPCondition
	}
	var skip tape.Updates
	for it := c.Elements(); ; {
		v, ok := it.Next()
		if !ok {
			break
		}
		var buf [8]byte
		code, ok := v.Text(buf[:])
		switch {
		case !ok:
			return 0, errConditions
		case len(code) == 0:
			// a blank condition is a regular sale
		case len(code) == 1:
			skip |= table(code[0])
		default:
			skip |= tape.AllUpdates &^ tape.VolumeOnly // no SIP letter is longer: unknown
		}
	}
	return skip, nil
}
