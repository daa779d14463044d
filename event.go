package tape

import (
	"time"
	"unicode/utf8"
)

// Kind says what an Event is. A quote and a trade may come together (one
// CSV line can carry both); cancels and corrections come alone.
type Kind uint8

// The kinds of events.
const (
	// KindQuote is a top-of-book update: the sides in Sides.
	KindQuote Kind = 1 << iota
	// KindTrade is a trade: Last, Size, TradeID and Ineligible.
	KindTrade
	// KindCancel busts the trade Ref names (a cancel or an error report):
	// it must leave the day statistics as if it had never happened.
	KindCancel
	// KindCorrection replaces the trade Ref names by the trade in Last,
	// Size, TradeID and Ineligible.
	KindCorrection
)

var kindNames = [...]struct {
	k    Kind
	name string
}{{KindQuote, "quote"}, {KindTrade, "trade"}, {KindQuote | KindTrade, "quote+trade"}, {KindCancel, "cancel"}, {KindCorrection, "correction"}}

// String returns "quote", "trade", "quote+trade", "cancel", "correction",
// or "" for anything else.
func (k Kind) String() string {
	for _, n := range kindNames {
		if n.k == k {
			return n.name
		}
	}
	return ""
}

func parseKind(b []byte) (Kind, bool) {
	for _, n := range kindNames {
		if string(b) == n.name {
			return n.k, true
		}
	}
	return 0, false
}

// Sides is the set of book sides a quote event states.
type Sides uint8

// The sides of the book.
const (
	SideBid Sides = 1 << iota
	SideAsk
	BothSides = SideBid | SideAsk
)

// Event is one normalised market-data update, as carried (key = symbol)
// on the topic the fold stage reads. It depends on nothing before it:
// it carries all a fold needs, and the fold (Fold) alone turns events
// into a symbol's quote and day statistics.
type Event struct {
	Symbol Symbol
	Kind   Kind
	// Class is the instrument's asset class, set by the normaliser from
	// its Instruments; ClassNone means "ask the default Instruments".
	Class AssetClass
	// Sides lists the sides a quote states. A stated side with a zero
	// price is removed ("no bid"); a side not stated is left as it was
	// (a FIX incremental that updates only the offer). Zero means the
	// sides with a non-zero price (see StatedSides).
	Sides   Sides
	Bid     Price
	Ask     Price
	BidSize Size
	AskSize Size
	// Last and Size are a trade's price and size; for a correction, the
	// corrected trade's; for a cancel, the busted trade's as the vendor
	// states them (for reading only: the fold uses what it remembers).
	Last Price
	Size Size
	// Ineligible lists what a trade (or a correction's new trade) must not
	// update under its sale conditions; zero for a regular trade.
	Ineligible Updates
	// TradeID identifies a trade, or a correction's new trade.
	TradeID TradeID
	// Ref is the trade a cancel or a correction refers to.
	Ref TradeID
	// Day is the instrument's trading day of Time (Session.Day); zero
	// means "compute it with the default Instruments".
	Day Day
	// Time is the exchange or feed time of the update.
	Time time.Time
	// Source names the feed, such as "polygon".
	Source string
	// Origin identifies the raw input the event came from
	// ("feeds.raw/3/1207/0"), stable across retries.
	Origin string
}

// Limits on the free-text fields of an event.
const (
	MaxSourceLen = 32
	MaxOriginLen = 128
)

var (
	errNoKind       = &Error{Code: ECodeEmpty, Message: "neither a quote nor a trade"}
	errBadKind      = &Error{Code: ECodeField, Message: "unknown kind"}
	errNoSides      = &Error{Code: ECodePrice, Message: "quote states neither a bid nor an ask"}
	errNegative     = &Error{Code: ECodePrice, Message: "negative price for an instrument that does not allow it"}
	errNoLast       = &Error{Code: ECodePrice, Message: "trade price must not be zero"}
	errNoRef        = &Error{Code: ECodeField, Message: "cancel or correction without the trade id it refers to"}
	errBadUpdates   = &Error{Code: ECodeField, Message: "invalid updates"}
	errBadDay       = &Error{Code: ECodeTime, Message: "invalid trading day"}
	errBadClass     = &Error{Code: ECodeField, Message: "unknown class"}
	errSource       = &Error{Code: ECodeField, Message: "invalid source"}
	errOrigin       = &Error{Code: ECodeField, Message: "invalid origin"}
	errSizeInvalid  = &Error{Code: ECodeSize, Message: "sizes must not be negative"}
	errPriceInvalid = &Error{Code: ECodePrice, Message: "invalid price"}
)

// StatedSides returns the sides a quote states: Sides, or when that is
// zero, the sides with a price.
func (e *Event) StatedSides() Sides {
	if e.Sides != 0 {
		return e.Sides
	}
	var s Sides
	if e.Bid != 0 {
		s |= SideBid
	}
	if e.Ask != 0 {
		s |= SideAsk
	}
	return s
}

// class returns e's class, asking the default rules when it is not set.
func (e *Event) class() AssetClass {
	if e.Class != ClassNone {
		return e.Class
	}
	return (*Instruments)(nil).Class(e.Symbol)
}

// Validate reports the first problem with e, as an *Error.
func (e *Event) Validate() error {
	if !validSymbol(string(e.Symbol)) {
		return errSymbol
	}
	neg := e.class().NegativePrices()
	price := func(p Price) error {
		if p < 0 && !neg {
			return errNegative
		}
		return nil
	}
	switch e.Kind {
	case KindQuote, KindTrade, KindQuote | KindTrade, KindCancel, KindCorrection:
	case 0:
		return errNoKind
	default:
		return errBadKind
	}
	if e.Kind&KindQuote != 0 {
		if s := e.StatedSides(); s == 0 || s&^BothSides != 0 {
			return errNoSides
		}
		if err := price(e.Bid); err != nil {
			return err
		}
		if err := price(e.Ask); err != nil {
			return err
		}
		if e.BidSize < 0 || e.AskSize < 0 {
			return errSizeInvalid
		}
	}
	if e.Kind&(KindTrade|KindCorrection|KindCancel) != 0 {
		if e.Last == 0 && e.Kind != KindCancel {
			return errNoLast
		}
		if err := price(e.Last); err != nil {
			return err
		}
		if e.Size < 0 {
			return errSizeInvalid
		}
		if e.Ineligible&^AllUpdates != 0 {
			return errBadUpdates
		}
	}
	if e.Kind&(KindCancel|KindCorrection) != 0 && e.Ref.IsZero() {
		return errNoRef
	}
	if e.Time.IsZero() {
		return errNoTime
	}
	if e.Day != 0 {
		if y, m, d := e.Day.Date(); y < 1 || !validDate(y, int(m), d) {
			return errBadDay
		}
	}
	if len(e.Source) > MaxSourceLen || !printable(e.Source) {
		return errSource
	}
	if len(e.Origin) > MaxOriginLen || !printable(e.Origin) {
		return errOrigin
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// AppendJSON appends e as the JSON object of tape's event format, the
// value of the events topic and of tape's own feed format:
//
//	{"symbol":"AAPL","kind":"trade","class":"equity","day":"2026-11-20","last":"187.43","size":"100",
//	 "id":"12:52983527388739","updates":"volume","ts":"2026-11-20T14:30:01.123000000Z","source":"polygon","origin":"feeds.raw/2/1207/0"}
//
// Prices and sizes are decimal strings. A quote writes only the sides it
// states, a removed side as null. "updates" is written only for a trade
// that does not update everything; "class", "day", "id" and "ref" only
// when set.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = appendString(dst, string(e.Symbol))
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, e.Kind.String()...)
	dst = append(dst, '"')
	if e.Class != ClassNone {
		dst = append(dst, `,"class":"`...)
		dst = append(dst, e.Class.String()...)
		dst = append(dst, '"')
	}
	if e.Day != 0 {
		dst = append(dst, `,"day":"`...)
		dst = e.Day.AppendText(dst)
		dst = append(dst, '"')
	}
	if e.Kind&KindQuote != 0 {
		sides := e.StatedSides()
		if sides&SideBid != 0 {
			dst = appendPrice(dst, `,"bid":`, e.Bid)
			dst = appendSize(dst, `,"bid_size":`, e.BidSize)
		}
		if sides&SideAsk != 0 {
			dst = appendPrice(dst, `,"ask":`, e.Ask)
			dst = appendSize(dst, `,"ask_size":`, e.AskSize)
		}
	}
	if e.Kind&(KindTrade|KindCorrection) != 0 || e.Kind == KindCancel && e.Last != 0 {
		dst = appendPrice(dst, `,"last":`, e.Last)
		dst = appendSize(dst, `,"size":`, e.Size)
	}
	if !e.TradeID.IsZero() {
		dst = append(dst, `,"id":"`...)
		dst = e.TradeID.AppendText(dst)
		dst = append(dst, '"')
	}
	if !e.Ref.IsZero() {
		dst = append(dst, `,"ref":"`...)
		dst = e.Ref.AppendText(dst)
		dst = append(dst, '"')
	}
	if e.Kind&(KindTrade|KindCorrection) != 0 && e.Ineligible != 0 {
		dst = append(dst, `,"updates":"`...)
		dst = (AllUpdates &^ e.Ineligible).AppendText(dst)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"ts":"`...)
	dst = AppendTime(dst, e.Time)
	dst = append(dst, `","source":`...)
	dst = appendString(dst, e.Source)
	dst = append(dst, `,"origin":`...)
	dst = appendString(dst, e.Origin)
	return append(dst, '}')
}

// MarshalJSON implements json.Marshaler.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// eventFields are the members of an event object, unparsed.
type eventFields struct {
	symbol, kind, class, day, ts, source, origin JSONValue
	bid, ask, last, bidSize, askSize, size       JSONValue
	lastSize, id, ref, updates                   JSONValue
	hasBid, hasAsk                               bool
}

func (f *eventFields) set(key []byte, v JSONValue) {
	switch string(key) {
	case "symbol":
		f.symbol = v
	case "kind":
		f.kind = v
	case "class":
		f.class = v
	case "day":
		f.day = v
	case "ts":
		f.ts = v
	case "source":
		f.source = v
	case "origin":
		f.origin = v
	case "bid":
		f.bid, f.hasBid = v, true
	case "ask":
		f.ask, f.hasAsk = v, true
	case "last":
		f.last = v
	case "bid_size":
		f.bidSize = v
	case "ask_size":
		f.askSize = v
	case "size":
		f.size = v
	case "last_size":
		f.lastSize = v
	case "id":
		f.id = v
	case "ref":
		f.ref = v
	case "updates":
		f.updates = v
	}
}

// ParseEvent parses one event object in tape's JSON, as Event.AppendJSON
// writes it; it is also what tape's own feed format reads. Prices and
// sizes may be decimal strings or JSON numbers. When "kind" is absent it
// is inferred: a bid or an ask make a quote, a last makes a trade, both
// make both. A quote states the sides whose keys are present ("ask":null
// removes the ask). Unknown members, and the day statistics of older
// event formats ("volume", "open", "high", "low"), are ignored. Keys
// match exactly. The result is validated; errors are *Error.
//
// ParseEvent does not allocate beyond the origin string (symbols and
// common sources are interned).
func ParseEvent(b []byte) (Event, error) {
	var e Event
	var f eventFields
	sc := jsonScanner{data: b}
	for i := sc.startObject(); ; i++ {
		key, ok := sc.member(i)
		if !ok {
			break
		}
		f.set(key, sc.value())
	}
	if err := sc.end(); err != nil {
		return e, err
	}
	if err := f.event(&e); err != nil {
		return e, err
	}
	return e, e.Validate()
}

// DecodeEvent reads the current object of the walk as tape's event JSON,
// the way ParseEvent reads one, but leaves the event unvalidated: tape's
// own feed format completes it (source, class, trading day) before it
// validates it.
func (m *JSONMessage) DecodeEvent() (Event, error) {
	var e Event
	var f eventFields
	for key, v, ok := m.Member(); ok; key, v, ok = m.Member() {
		f.set(key, v)
	}
	if err := m.SyntaxErr(); err != nil {
		return e, err
	}
	return e, f.event(&e)
}

// startObject opens the one object a document must be, for a loop over
// its members that end closes:
//
//	for i := sc.startObject(); ; i++ {
//		key, ok := sc.member(i)
//		...
//	}
//	err := sc.end()
//
// A document that is empty or not an object fails the first member.
func (s *jsonScanner) startObject() int {
	switch s.peek() {
	case '{':
		s.openObject()
	case 0:
		s.fail(errJSONEmpty)
	default:
		s.fail(errJSONShape)
	}
	return 0
}

// end checks that nothing follows the object and returns the first error.
func (s *jsonScanner) end() error {
	s.finish()
	return s.err
}

func (f *eventFields) event(e *Event) error {
	var err error
	if e.Symbol, err = jsonSymbol(f.symbol); err != nil {
		return err
	}
	var buf [16]byte
	k, isText := f.kind.Text(buf[:])
	switch {
	case !f.kind.Present() || isText && len(k) == 0:
		if f.bid.Present() || f.ask.Present() {
			e.Kind |= KindQuote
		}
		if f.last.Present() {
			e.Kind |= KindTrade
		}
	case !isText:
		return errBadKind
	default:
		var ok bool
		if e.Kind, ok = parseKind(k); !ok {
			return errBadKind
		}
	}
	if f.class.Present() {
		c, _ := f.class.Text(buf[:])
		var ok bool
		if e.Class, ok = ParseAssetClass(c); !ok {
			return errBadClass
		}
	}
	if f.day.Present() {
		d, ok := f.day.Text(buf[:])
		if !ok {
			return errBadDay
		}
		if e.Day, err = ParseDay(d); err != nil {
			return err
		}
	}
	if e.Kind&KindQuote != 0 {
		if f.hasBid {
			e.Sides |= SideBid
		}
		if f.hasAsk {
			e.Sides |= SideAsk
		}
		if e.Bid, err = jsonDecimalPrice(f.bid); err != nil {
			return err
		}
		if e.Ask, err = jsonDecimalPrice(f.ask); err != nil {
			return err
		}
		if f.hasBid {
			if e.BidSize, err = jsonDecimalSize(f.bidSize); err != nil {
				return err
			}
		}
		if f.hasAsk {
			if e.AskSize, err = jsonDecimalSize(f.askSize); err != nil {
				return err
			}
		}
	}
	if e.Kind&(KindTrade|KindCancel|KindCorrection) != 0 {
		if e.Last, err = jsonDecimalPrice(f.last); err != nil {
			return err
		}
		size := f.size
		if !size.Present() {
			size = f.lastSize
		}
		if e.Size, err = jsonDecimalSize(size); err != nil {
			return err
		}
		if e.TradeID, err = jsonTradeID(f.id); err != nil {
			return err
		}
		if f.updates.Present() {
			u, ok := f.updates.Text(buf[:])
			upd, ok2 := ParseUpdates(u)
			if !ok || !ok2 {
				return errBadUpdates
			}
			e.Ineligible = AllUpdates &^ upd
		}
	}
	if e.Kind&(KindCancel|KindCorrection) != 0 {
		if e.Ref, err = jsonTradeID(f.ref); err != nil {
			return err
		}
	}
	if e.Kind == KindCancel {
		e.Ineligible = 0
	}
	if e.Time, err = jsonTime(f.ts); err != nil {
		return err
	}
	if e.Source, err = jsonFreeText(f.source, MaxSourceLen, errSource); err != nil {
		return err
	}
	if e.Origin, err = jsonFreeText(f.origin, MaxOriginLen, errOrigin); err != nil {
		return err
	}
	return nil
}

// jsonSymbol reads a symbol sent as a string.
func jsonSymbol(v JSONValue) (Symbol, error) {
	if !v.Present() {
		return "", errSymbol
	}
	var buf [MaxSymbolLen]byte
	b, ok := v.Text(buf[:])
	if !ok {
		return "", errSymbol
	}
	return InternSymbol(b)
}

// jsonDecimalPrice reads a price sent as a string or a number; null and
// absent are no price.
func jsonDecimalPrice(v JSONValue) (Price, error) {
	if !v.Present() {
		return 0, nil
	}
	b, ok := v.decimal()
	if !ok {
		return 0, errPriceInvalid
	}
	p, err := ParsePrice(b)
	if err != nil {
		return 0, errPriceInvalid
	}
	return p, nil
}

// jsonDecimalSize reads a size sent as a string or a number; null and
// absent are zero.
func jsonDecimalSize(v JSONValue) (Size, error) {
	if !v.Present() {
		return 0, nil
	}
	b, ok := v.decimal()
	if !ok {
		return 0, errSizeSyntax
	}
	return ParseSize(b)
}

func jsonTradeID(v JSONValue) (TradeID, error) {
	if !v.Present() {
		return TradeID{}, nil
	}
	var buf [MaxTradeIDLen]byte
	b, ok := v.Text(buf[:])
	if !ok {
		return TradeID{}, errTradeID
	}
	return ParseTradeID(b)
}

func jsonTime(v JSONValue) (time.Time, error) {
	if !v.Present() {
		return time.Time{}, errNoTime
	}
	var buf [64]byte
	b, ok := v.Text(buf[:])
	if !ok {
		return time.Time{}, errTime
	}
	return ParseTimeBytes(b)
}

// jsonFreeText reads a short free-text string such as a source or an
// origin, interning the common ones.
func jsonFreeText(v JSONValue, limit int, bad error) (string, error) {
	if !v.Present() {
		return "", nil
	}
	var buf [4 * MaxOriginLen]byte
	b, ok := v.Text(buf[:])
	if !ok || len(b) > limit {
		return "", bad
	}
	return internText(b), nil
}

// knownTexts are source names that ParseEvent and ParseQuote return
// without allocating.
var knownTexts = []string{FormatTape, FormatPolygon, FormatAlpaca, FormatFinnhub, FormatFIX, FormatCSV, "feed", "history", "replay", "bench", ""}

func internText(b []byte) string {
	for _, s := range knownTexts {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}
