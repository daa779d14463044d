package tape

// MaxTradeIDLen is the longest trade identifier tape keeps, venue prefix
// included: room for a UUID after a short venue code.
const MaxTradeIDLen = 48

// TradeID identifies a trade for as long as it can be repeated, cancelled
// or corrected: the vendor's id, prefixed by what makes it unique (the
// venue, since Polygon's and Alpaca's ids are unique per exchange only),
// such as "12:52983527388739" or "V:71684334236466". A trade from a format
// without ids gets a content identity (ContentTradeID), which starts with
// "~". It is held inline so that normalising stays allocation-free. The
// zero TradeID means "none".
type TradeID struct {
	n uint8
	b [MaxTradeIDLen]byte
}

var errTradeID = &Error{Code: ECodeField, Message: "invalid trade id (1 to 48 printable ASCII characters)"}

// MakeTradeID returns venue, a colon and id as a TradeID, or id alone if
// venue is empty. It reports false if id is empty, if the result is longer
// than MaxTradeIDLen, or if it holds anything but printable ASCII other
// than space, quote and backslash.
func MakeTradeID(venue, id []byte) (TradeID, bool) {
	var t TradeID
	if len(id) == 0 {
		return t, false
	}
	if len(venue) > 0 {
		if !t.append(venue) || !t.append([]byte{':'}) {
			return TradeID{}, false
		}
	}
	if !t.append(id) {
		return TradeID{}, false
	}
	return t, true
}

func (t *TradeID) append(b []byte) bool {
	if int(t.n)+len(b) > MaxTradeIDLen {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
		t.b[t.n] = c
		t.n++
	}
	return true
}

// ParseTradeID parses a trade id as AppendText writes it.
func ParseTradeID(b []byte) (TradeID, error) {
	t, ok := MakeTradeID(nil, b)
	if !ok {
		return TradeID{}, errTradeID
	}
	return t, nil
}

// IsZero reports whether t is the zero TradeID, "none".
func (t TradeID) IsZero() bool { return t.n == 0 }

// AppendText appends the id.
func (t *TradeID) AppendText(dst []byte) []byte { return append(dst, t.b[:t.n]...) }

// String returns the id.
func (t TradeID) String() string { return string(t.b[:t.n]) }

// key returns a 64-bit hash of the id (FNV-1a), what folds remember.
func (t *TradeID) key() uint64 {
	h := uint64(fnvOffset)
	for _, c := range t.b[:t.n] {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h | 1 // never 0, which marks an empty slot
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// ContentWindow bounds how far back ContentTradeID's callers look for an
// identical trade in the same message: 64 events.
const ContentWindow = 64

// ContentTradeID returns the identity of a trade whose format carries no
// trade id (Finnhub, CSV, FIX without MDEntryID, tape's own JSON without
// "id"): "~" and 16 hex digits hashing its symbol, time, price, size and
// sale conditions, and occurrence, the number of identical trades before
// it in the same raw message (within ContentWindow events). So a raw
// message produced twice (a producer's retry writes it at another offset)
// gives the same ids and its trades count once, while two identical
// prints in one message count twice. The price is two identical prints in
// two messages: they count once.
func ContentTradeID(e *Event, occurrence int) TradeID {
	h := uint64(fnvOffset)
	for i := 0; i < len(e.Symbol); i++ {
		h = (h ^ uint64(e.Symbol[i])) * fnvPrime
	}
	mix := func(v uint64) { // a word at a time: FNV's multiply, then a fold of the high bits
		h = (h ^ v) * fnvPrime
		h ^= h >> 29
	}
	mix(uint64(e.Time.UnixNano()))
	mix(uint64(e.Last))
	mix(uint64(e.Size))
	mix(uint64(e.Ineligible))
	mix(uint64(occurrence))
	var t TradeID
	t.b[0] = '~'
	for i := range 16 {
		t.b[1+i] = hexDigits[h>>(60-4*i)&0xf]
	}
	t.n = 17
	return t
}

// SameContent reports whether two trades would get the same content
// identity for the same occurrence: what ContentTradeID's callers count.
func SameContent(a, b *Event) bool {
	return a.Symbol == b.Symbol && a.Last == b.Last && a.Size == b.Size &&
		a.Ineligible == b.Ineligible && a.Time.Equal(b.Time)
}
