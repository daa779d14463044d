package ingest

import "tape"

var _ Format = (*tapeFormat)(nil)

// tapeFormat reads tape's own JSON events, the shape tape.ParseEvent reads
// and tape.Event.AppendJSON writes: one object or an array of them.
//
// It reads the same fields with the same meaning as tape.ParseEvent, with
// its own scanner so that it does not allocate. Where they differ, this is
// the stricter one, except that sizes written as 100.0 are accepted: keys
// match exactly (encoding/json ignores case), and nothing may follow the
// value. "source" is overwritten with "tape" and "origin" is left for the
// ingester, as for every format.
type tapeFormat struct {
	symbols symbolCache
}

func (*tapeFormat) Name() string { return tape.FormatTape }

func (f *tapeFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	var m jsonMessage
	m.start(dst, msg)
	for m.next() {
		dst = m.done(f.decode(&m.sc, dst))
	}
	return m.end(dst)
}

// decode reads one object, such as
//
//	{"symbol":"AAPL","kind":"quote","bid":"187.42","bid_size":100,"ask":"187.44","ask_size":200,"ts":"2024-01-02T15:04:05.123456789Z"}
func (f *tapeFormat) decode(sc *jsonScanner, dst []tape.Event) ([]tape.Event, error) {
	var sym, kind, ts jsonValue
	var bid, ask, last, open, high, low jsonValue
	var bidSize, askSize, size, lastSize, volume jsonValue
	sc.openObject()
	for i := 0; ; i++ {
		key, ok := sc.member(i)
		if !ok {
			break
		}
		v := sc.value()
		switch string(key) {
		case "symbol":
			sym = v
		case "kind":
			kind = v
		case "ts":
			ts = v
		case "bid":
			bid = v
		case "ask":
			ask = v
		case "last":
			last = v
		case "open":
			open = v
		case "high":
			high = v
		case "low":
			low = v
		case "bid_size":
			bidSize = v
		case "ask_size":
			askSize = v
		case "size":
			size = v
		case "last_size":
			lastSize = v
		case "volume":
			volume = v
		}
	}
	if sc.err != nil {
		return dst, sc.err
	}

	var e tape.Event
	var err error
	if e.Symbol, err = f.symbols.jsonSymbol(sym); err != nil {
		return dst, err
	}
	var buf [16]byte
	k, ok := kind.text(buf[:])
	switch {
	case !present(kind) || ok && len(k) == 0:
		// As in tape.ParseEvent, a missing kind follows from the prices.
		if present(bid) || present(ask) {
			e.Kind |= tape.KindQuote
		}
		if present(last) {
			e.Kind |= tape.KindTrade
		}
	case kind.kind != jsonString:
		return dst, errFieldType
	case string(k) == "quote":
		e.Kind = tape.KindQuote
	case string(k) == "trade":
		e.Kind = tape.KindTrade
	case string(k) == "quote+trade":
		e.Kind = tape.KindQuote | tape.KindTrade
	default:
		return dst, errUnknownKind
	}
	for _, p := range [...]struct {
		dst *tape.Price
		v   jsonValue
	}{{&e.Bid, bid}, {&e.Ask, ask}, {&e.Last, last}, {&e.Open, open}, {&e.High, high}, {&e.Low, low}} {
		if *p.dst, err = tapePrice(p.v); err != nil {
			return dst, err
		}
	}
	for _, s := range [...]struct {
		dst *int64
		v   jsonValue
	}{{&e.BidSize, bidSize}, {&e.AskSize, askSize}, {&e.Size, size}, {&e.Volume, volume}} {
		if *s.dst, err = jsonSize(s.v); err != nil {
			return dst, err
		}
	}
	if !present(size) {
		if e.Size, err = jsonSize(lastSize); err != nil {
			return dst, err
		}
	}
	if e.Time, err = jsonRFC3339(ts); err != nil {
		return dst, err
	}
	// Keep only the fields of the event's kind, which are all that
	// AppendJSON writes, so that an event reads back as it was.
	if e.Kind&tape.KindQuote == 0 {
		e.Bid, e.Ask, e.BidSize, e.AskSize = 0, 0, 0, 0
	}
	if e.Kind&tape.KindTrade == 0 {
		e.Last, e.Size, e.Volume, e.Open, e.High, e.Low = 0, 0, 0, 0, 0, 0
	}
	e.Source = tape.FormatTape
	return validated(dst, &e)
}

func present(v jsonValue) bool { return v.kind != jsonAbsent && v.kind != jsonNull }

// tapePrice reads a price written as a JSON number or, as AppendJSON
// writes it so that no reader turns it into a float, as a string holding
// one.
func tapePrice(v jsonValue) (tape.Price, error) {
	if v.kind != jsonString {
		return jsonPrice(v)
	}
	if v.escaped || !isJSONNumber(v.raw) {
		return 0, errPrice
	}
	p, err := tape.ParsePrice(v.raw)
	if err != nil {
		return 0, errPrice
	}
	return p, nil
}
