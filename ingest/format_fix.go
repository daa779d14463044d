package ingest

import (
	"bytes"
	"time"

	"tape"
)

// maxFIXEntries bounds NoMDEntries. Combining a bid and an offer into one
// quote searches the message's quotes, so the bound keeps that search
// cheap on hostile input; top-of-book feeds send a handful of entries.
const maxFIXEntries = 1024

// FIX tags this format reads.
const (
	tagBeginString  = 8
	tagBodyLength   = 9
	tagCheckSum     = 10
	tagMsgType      = 35
	tagSendingTime  = 52
	tagSymbol       = 55
	tagNoMDEntries  = 268
	tagMDEntryType  = 269
	tagMDEntryPx    = 270
	tagMDEntrySize  = 271
	tagMDEntryDate  = 272
	tagMDEntryTime  = 273
	tagMDUpdateAct  = 279
	tagTradeCond    = 277
	tagMDEntryID    = 278
	tagMDEntryPosNo = 290
	tagTradeID      = 1003
)

// Values of FIX fields this format interprets.
const (
	fixSOH           = 0x01
	fixEntryBid      = '0' // MDEntryType
	fixEntryOffer    = '1'
	fixEntryTrade    = '2'
	fixActionNew     = '0' // MDUpdateAction
	fixActionChange  = '1'
	fixActionDelete  = '2'
	fixChecksumWidth = 3
)

var (
	errNotFIX       = &tape.Error{Code: tape.ECodeFormat, Message: "not a FIX message"}
	errFIXField     = &tape.Error{Code: tape.ECodeField, Message: "malformed FIX field"}
	errFIXHeader    = &tape.Error{Code: tape.ECodeField, Message: "FIX message must start with tags 8, 9 and 35"}
	errBodyLength   = &tape.Error{Code: tape.ECodeField, Message: "body length mismatch"}
	errChecksum     = &tape.Error{Code: tape.ECodeField, Message: "checksum mismatch"}
	errNoChecksum   = &tape.Error{Code: tape.ECodeField, Message: "missing checksum"}
	errFIXEntries   = &tape.Error{Code: tape.ECodeField, Message: "NoMDEntries does not match the entries"}
	errFIXTooMany   = &tape.Error{Code: tape.ECodeTooBig, Message: "too many market data entries"}
	errNoEntryType  = &tape.Error{Code: tape.ECodeField, Message: "missing MDEntryType"}
	errZeroPrice    = &tape.Error{Code: tape.ECodePrice, Message: "price must not be zero"}
	errFIXAction    = &tape.Error{Code: tape.ECodeField, Message: "unknown MDUpdateAction"}
	errSendingTime  = &tape.Error{Code: tape.ECodeTime, Message: "invalid SendingTime"}
	errFIXEntryTime = &tape.Error{Code: tape.ECodeTime, Message: "invalid MDEntryDate or MDEntryTime"}
)

var _ Format = (*fixFormat)(nil)

// fixFormat reads FIX 4.4 market data in tag=value form, fields separated
// by SOH or, as in logs, by '|':
//
//	8=FIX.4.4|9=..|35=W|49=..|56=..|34=..|52=20240102-15:04:05.123|55=AAPL|268=2|269=0|270=187.10|271=100|269=1|270=187.12|271=200|10=..|
//
// Snapshots (35=W) and incremental refreshes (35=X) become events; other
// message types are session traffic and are ignored. BodyLength and
// CheckSum are verified. tape reads the top of the book: bid and offer
// entries with an MDEntryPositionNo (290) other than 1 are skipped.
//
//   - A snapshot is a full refresh: its first bid and first offer entry
//     (FIX lists entries best first) make one quote per symbol, and a side
//     it does not carry has no quote.
//   - An incremental applies its entries in order, by MDUpdateAction
//     (279): New and Change set a side; Delete (279=2) removes it, so
//     "35=X 279=2 269=0" shows no bid until the next one.
//   - A trade entry (269=2) is a trade; in an incremental, Delete busts
//     the trade and Change corrects it. The trade is named by TradeID
//     (1003) or else MDEntryID (278); without either a trade gets a
//     content identity, and a bust or correction is rejected.
//     TradeCondition (277, space-separated) decides what a trade updates
//     (tape.FIXCondition).
//
// Other entry types (opening price, session high and low, ...) are
// ignored. Reject indexes are 0-based entry numbers. Field and value
// definitions: FIX 4.4, MarketDataIncrementalRefresh and MDIncGrp
// (https://www.onixs.biz/fix-dictionary/4.4/msgType_X_88.html).
type fixFormat struct {
	inst *tape.Instruments
}

func (*fixFormat) Name() string { return tape.FormatFIX }

// fixEntry holds the raw fields of one MDEntries group.
type fixEntry struct {
	action, typ, sym, px, size, date, clock, pos, cond, mdID, tradeID []byte
}

// fixMessage is what the entries of one message share.
type fixMessage struct {
	base     int  // len(dst) before the message
	snapshot bool // 35=W rather than 35=X
	sending  time.Time
	symbol   []byte // 55 outside the entries, as snapshots send it
	prevSym  []byte // the last entry's 55, which later entries inherit
	// entryOf maps each event the message produced to the entry that
	// started it, for Reject indexes.
	entryOf [maxFIXEntries]uint16
	// filled holds, for each quote event of a snapshot, the sides an entry
	// has set already: the first (best) entry of a side wins.
	filled  [maxFIXEntries]tape.Sides
	rejects []Reject
}

func (f *fixFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	if len(msg) > MaxMessageBytes {
		return dst, []Reject{{Index: -1, Err: errTooBig}}
	}
	msg = bytes.TrimRight(bytes.TrimLeft(bytes.TrimPrefix(msg, bom), " \t\r\n"), " \t\r\n")
	if len(msg) == 0 {
		return dst, []Reject{{Index: -1, Err: errEmpty}}
	}
	fields, err := fixBody(msg)
	if err != nil {
		return dst, []Reject{{Index: -1, Err: err}}
	}

	// The standard header: 8 and 9 (already checked), then 35.
	fields.next()
	fields.next()
	tag, msgType := fields.next()
	if tag != tagMsgType {
		return dst, []Reject{{Index: -1, Err: errFIXHeader}}
	}
	if string(msgType) != "W" && string(msgType) != "X" {
		return dst, nil
	}

	m := fixMessage{base: len(dst), snapshot: string(msgType) == "W"}
	declared := -1
	for declared < 0 {
		tag, val := fields.next()
		switch tag {
		case 0:
			if fields.err != nil {
				return dst, []Reject{{Index: -1, Err: fields.err}}
			}
			return dst, []Reject{{Index: -1, Err: errFIXEntries}}
		case tagSendingTime:
			var ok bool
			if m.sending, ok = parseFIXTimestamp(val); !ok {
				return dst, []Reject{{Index: -1, Err: errSendingTime}}
			}
		case tagSymbol:
			m.symbol = val
		case tagNoMDEntries:
			n, ok := atoi(val)
			if !ok {
				return dst, []Reject{{Index: -1, Err: errFIXField}}
			}
			if n > maxFIXEntries {
				return dst, []Reject{{Index: -1, Err: errFIXTooMany}}
			}
			declared = n
		}
	}

	// The first tag after NoMDEntries starts every entry, as in any FIX
	// repeating group.
	var e fixEntry
	delim, count := 0, 0
	for {
		tag, val := fields.next()
		if tag == 0 {
			break
		}
		if delim == 0 {
			delim = tag
		}
		if tag == delim {
			if count > 0 {
				dst = f.entry(dst, &m, count-1, &e)
			}
			if count == declared {
				return dst[:m.base], []Reject{{Index: -1, Err: errFIXEntries}}
			}
			count++
			e = fixEntry{}
		}
		switch tag {
		case tagMDUpdateAct:
			e.action = val
		case tagMDEntryType:
			e.typ = val
		case tagSymbol:
			e.sym = val
		case tagMDEntryPx:
			e.px = val
		case tagMDEntrySize:
			e.size = val
		case tagMDEntryDate:
			e.date = val
		case tagMDEntryTime:
			e.clock = val
		case tagMDEntryPosNo:
			e.pos = val
		case tagTradeCond:
			e.cond = val
		case tagMDEntryID:
			e.mdID = val
		case tagTradeID:
			e.tradeID = val
		}
	}
	if fields.err != nil {
		return dst[:m.base], []Reject{{Index: -1, Err: fields.err}}
	}
	if count > 0 {
		dst = f.entry(dst, &m, count-1, &e)
	}
	if count != declared {
		return dst[:m.base], []Reject{{Index: -1, Err: errFIXEntries}}
	}
	return m.validate(dst, f.inst)
}

// entry adds entry k to the message's events.
func (f *fixFormat) entry(dst []tape.Event, m *fixMessage, k int, e *fixEntry) []tape.Event {
	if len(e.sym) > 0 {
		m.prevSym = e.sym
	}
	if len(e.typ) != 1 {
		if len(e.typ) == 0 {
			m.reject(k, errNoEntryType)
		}
		return dst
	}
	action := byte(fixActionNew)
	switch {
	case len(e.action) == 0:
	case len(e.action) == 1 && fixActionNew <= e.action[0] && e.action[0] <= fixActionDelete:
		action = e.action[0]
	default:
		m.reject(k, errFIXAction)
		return dst
	}
	typ := e.typ[0]
	switch {
	case typ != fixEntryBid && typ != fixEntryOffer && typ != fixEntryTrade:
		return dst
	case typ != fixEntryTrade && len(e.pos) > 0 && string(e.pos) != "1":
		return dst // a level below the top of the book
	}

	raw := m.prevSym
	if len(raw) == 0 {
		raw = m.symbol
	}
	if len(raw) == 0 {
		m.reject(k, errNoSymbol)
		return dst
	}
	sym, err := tape.InternSymbol(raw)
	if err != nil {
		m.reject(k, err)
		return dst
	}
	t, err := m.entryTime(e)
	if err != nil {
		m.reject(k, err)
		return dst
	}
	var px tape.Price
	if action != fixActionDelete || len(e.px) > 0 {
		if px, err = fixPrice(e.px); err != nil {
			m.reject(k, err)
			return dst
		}
	}
	var size tape.Size
	if len(e.size) > 0 {
		if size, err = fixSize(e.size); err != nil {
			m.reject(k, err)
			return dst
		}
	}

	if typ == fixEntryTrade {
		ev := tape.Event{Symbol: sym, Kind: tape.KindTrade, Last: px, Size: size, Time: t}
		id := e.tradeID
		if len(id) == 0 {
			id = e.mdID
		}
		if len(id) > 0 {
			var ok bool
			if ev.TradeID, ok = tape.MakeTradeID(nil, id); !ok {
				m.reject(k, errTradeID)
				return dst
			}
		}
		if action != fixActionNew && !m.snapshot {
			if ev.TradeID.IsZero() {
				m.reject(k, errNoTradeID)
				return dst
			}
			ev.Ref = ev.TradeID
			ev.Kind = tape.KindCorrection
			if action == fixActionDelete {
				ev.Kind, ev.TradeID = tape.KindCancel, tape.TradeID{}
			}
		}
		for cond := range bytes.FieldsSeq(e.cond) {
			ev.Ineligible |= tape.FIXCondition(cond)
		}
		m.entryOf[len(dst)-m.base] = uint16(k)
		return append(dst, ev)
	}

	qi := m.quote(dst, sym)
	if qi < 0 {
		m.entryOf[len(dst)-m.base] = uint16(k)
		ev := tape.Event{Symbol: sym, Kind: tape.KindQuote, Time: t}
		if m.snapshot {
			ev.Sides = tape.BothSides
		}
		dst = append(dst, ev)
		qi = len(dst) - 1
	}
	q := &dst[qi]
	side := tape.SideBid
	if typ == fixEntryOffer {
		side = tape.SideAsk
	}
	filled := &m.filled[qi-m.base]
	if m.snapshot && *filled&side != 0 {
		return dst // the side is already set by a better entry
	}
	*filled |= side
	q.Sides |= side
	if action == fixActionDelete {
		px, size = 0, 0
	}
	if side == tape.SideBid {
		q.Bid, q.BidSize = px, size
	} else {
		q.Ask, q.AskSize = px, size
	}
	if t.After(q.Time) {
		q.Time = t
	}
	return dst
}

// quote returns the index in dst of the message's quote for sym, or -1.
func (m *fixMessage) quote(dst []tape.Event, sym tape.Symbol) int {
	for i := len(dst) - 1; i >= m.base; i-- {
		if dst[i].Kind == tape.KindQuote && dst[i].Symbol == sym {
			return i
		}
	}
	return -1
}

func (m *fixMessage) reject(k int, err error) {
	m.rejects = append(m.rejects, Reject{Index: k, Err: err})
}

// validate completes the message's events and drops those tape does not
// accept, rejecting their entries.
func (m *fixMessage) validate(dst []tape.Event, inst *tape.Instruments) ([]tape.Event, []Reject) {
	out := m.base
	for i := m.base; i < len(dst); i++ {
		e := dst[i]
		if err := prepare(&e, dst[m.base:out], tape.FormatFIX, inst); err != nil {
			m.reject(int(m.entryOf[i-m.base]), err)
			continue
		}
		dst[out] = e
		out++
	}
	return dst[:out], m.rejects
}

// entryTime is the entry's MDEntryDate and MDEntryTime, either one
// defaulting to the day or time of SendingTime.
func (m *fixMessage) entryTime(e *fixEntry) (time.Time, error) {
	if len(e.clock) == 0 {
		if m.sending.IsZero() {
			return time.Time{}, errNoTime
		}
		return m.sending, nil
	}
	clock, ok := parseFIXClock(e.clock)
	if !ok {
		return time.Time{}, errFIXEntryTime
	}
	var day time.Time
	switch {
	case len(e.date) > 0:
		if day, ok = parseFIXDate(e.date); !ok {
			return time.Time{}, errFIXEntryTime
		}
	case !m.sending.IsZero():
		day = m.sending.Truncate(24 * time.Hour)
	default:
		return time.Time{}, errNoTime
	}
	return day.Add(clock), nil
}

// fixPrice reads a FIX Price: a plain decimal, no exponent, not zero.
// Whether it may be negative is the instrument's matter (prepare).
func fixPrice(b []byte) (tape.Price, error) {
	if len(b) == 0 {
		return 0, errNoPrice
	}
	digits := b
	if digits[0] == '-' {
		digits = digits[1:]
	}
	whole, frac, _ := bytes.Cut(digits, []byte("."))
	if len(whole)+len(frac) == 0 || digitsLen(whole) != len(whole) || digitsLen(frac) != len(frac) {
		return 0, errPrice
	}
	p, err := tape.ParsePrice(b)
	switch {
	case err != nil:
		return 0, errPrice
	case p == 0:
		return 0, errZeroPrice
	}
	return p, nil
}

// fixSize reads a FIX Qty: a plain decimal, no exponent.
func fixSize(b []byte) (tape.Size, error) {
	whole, frac, _ := bytes.Cut(b, []byte("."))
	if len(whole)+len(frac) == 0 || digitsLen(whole) != len(whole) || digitsLen(frac) != len(frac) {
		return 0, errSize
	}
	return tape.ParseSize(b)
}

// fixFields reads tag=value fields that each end with sep.
type fixFields struct {
	b   []byte
	sep byte
	err error
}

// next returns the next field, or tag 0 at the end or on error.
func (r *fixFields) next() (int, []byte) {
	if len(r.b) == 0 || r.err != nil {
		return 0, nil
	}
	end := bytes.IndexByte(r.b, r.sep) // fixBody made sure every field ends with one
	field := r.b[:end]
	r.b = r.b[end+1:]
	eq := bytes.IndexByte(field, '=')
	if eq <= 0 || eq == len(field)-1 || field[0] == '0' {
		r.err = errFIXField
		return 0, nil
	}
	tag, ok := atoi(field[:eq])
	if !ok {
		r.err = errFIXField
		return 0, nil
	}
	return tag, field[eq+1:]
}

// fixBody checks a FIX message's framing (BeginString, BodyLength and
// CheckSum) and returns its fields up to, not including, CheckSum.
//
// With '|' separators the message is a readable rendering of one sent
// with SOH, so its checksum is accepted if it matches either form.
func fixBody(msg []byte) (fixFields, error) {
	if !bytes.HasPrefix(msg, []byte("8=FIX")) {
		return fixFields{}, errNotFIX
	}
	i := bytes.IndexAny(msg, "\x01|")
	if i < 0 {
		return fixFields{}, errNotFIX
	}
	sep := msg[i]
	msg = bytes.TrimSuffix(msg, []byte{sep}) // the final separator may be cut off in logs
	end := bytes.LastIndexByte(msg, sep) + 1 // the CheckSum field starts here
	cs := msg[end:]
	if !bytes.HasPrefix(cs, []byte("10=")) {
		return fixFields{}, errNoChecksum
	}
	want, ok := atoi(cs[3:])
	if !ok || len(cs) != 3+fixChecksumWidth {
		return fixFields{}, errFIXField
	}
	sum, seps := 0, 0
	for _, c := range msg[:end] {
		sum += int(c)
		if c == sep {
			seps++
		}
	}
	if sum%256 != want && (sep == fixSOH || (sum-seps*int(sep-fixSOH))%256 != want) {
		return fixFields{}, errChecksum
	}

	fields := fixFields{b: msg[:end], sep: sep}
	if tag, _ := fields.next(); tag != tagBeginString {
		return fixFields{}, errFIXHeader
	}
	tag, val := fields.next()
	if tag != tagBodyLength {
		if fields.err != nil {
			return fixFields{}, fields.err
		}
		return fixFields{}, errFIXHeader
	}
	if n, ok := atoi(val); !ok || n != len(fields.b) {
		return fixFields{}, errBodyLength
	}
	return fixFields{b: msg[:end], sep: sep}, nil
}

// parseFIXTimestamp parses a UTCTimestamp: YYYYMMDD-HH:MM:SS with an
// optional fraction of up to nine digits.
func parseFIXTimestamp(b []byte) (time.Time, bool) {
	if len(b) < len("20060102-15:04:05") || b[8] != '-' {
		return time.Time{}, false
	}
	day, ok1 := parseFIXDate(b[:8])
	clock, ok2 := parseFIXClock(b[9:])
	return day.Add(clock), ok1 && ok2
}

// parseFIXDate parses a UTCDateOnly or LocalMktDate: YYYYMMDD.
func parseFIXDate(b []byte) (time.Time, bool) {
	if len(b) != 8 {
		return time.Time{}, false
	}
	year, ok1 := atoi(b[0:4])
	month, ok2 := atoi(b[4:6])
	day, ok3 := atoi(b[6:8])
	if !ok1 || !ok2 || !ok3 || !validDate(year, month, day) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), true
}

// parseFIXClock parses a UTCTimeOnly, HH:MM:SS with an optional fraction,
// as the time since midnight.
func parseFIXClock(b []byte) (time.Duration, bool) {
	if len(b) < len("15:04:05") || b[2] != ':' || b[5] != ':' {
		return 0, false
	}
	hour, ok1 := atoi(b[0:2])
	minute, ok2 := atoi(b[3:5])
	sec, ok3 := atoi(b[6:8])
	if !ok1 || !ok2 || !ok3 || !validClock(hour, minute, sec) {
		return 0, false
	}
	nsec := 0
	if rest := b[8:]; len(rest) > 0 {
		var ok bool
		if rest[0] != '.' || digitsLen(rest[1:]) != len(rest)-1 {
			return 0, false
		}
		if nsec, ok = fraction(rest[1:]); !ok {
			return 0, false
		}
	}
	d := time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute +
		time.Duration(sec)*time.Second + time.Duration(nsec)
	return d, true
}

// validDate reports whether year-month-day is a calendar date.
func validDate(year, month, day int) bool {
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return false
	}
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).Day() == day
}

// validClock rejects leap seconds as time.Parse does.
func validClock(hour, minute, sec int) bool {
	return hour <= 23 && minute <= 59 && sec <= 59
}

// fraction converts the digits after a decimal point to nanoseconds,
// ignoring digits past the ninth.
func fraction(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	ns := 0
	for i := range 9 {
		ns *= 10
		if i < len(b) {
			ns += int(b[i] - '0')
		}
	}
	return ns, true
}
