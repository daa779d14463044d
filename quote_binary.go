package tape

import (
	"encoding/binary"
	"time"
)

// A quote's binary form is how a web node keeps its history: about a
// third of the quote's JSON, and exactly the same JSON again through
// UnmarshalBinary and AppendJSON. It is for one process's memory, never
// for the wire or a topic, so it has no version. Layout, in order:
//
//	symbol          uvarint length, bytes
//	kind            one byte
//	bid, ask, bid size, ask size, last, last size, volume, open, high, low
//	                varints (zigzag) of price or size units
//	day             varint
//	time            see appendBinaryTime
//	source, origin  uvarint length, bytes
//	seq             varint partition, varint offset
//	print           its time (appendBinaryTime); when not zero, then
//	                varint price, varint size, one byte of counts

var errQuoteBinary = &Error{Code: ECodeInvalid, Message: "invalid binary quote"}

// AppendBinary appends q's binary form to dst (encoding.BinaryAppender;
// the error is always nil).
func (q *Quote) AppendBinary(dst []byte) ([]byte, error) {
	dst = appendBinaryString(dst, string(q.Symbol))
	dst = append(dst, byte(q.Kind))
	for _, v := range [...]int64{int64(q.Bid), int64(q.Ask), int64(q.BidSize), int64(q.AskSize), int64(q.Last),
		int64(q.LastSize), int64(q.Volume), int64(q.Open), int64(q.High), int64(q.Low), int64(q.Day)} {
		dst = binary.AppendVarint(dst, v)
	}
	dst = appendBinaryTime(dst, q.Time)
	dst = appendBinaryString(dst, q.Source)
	dst = appendBinaryString(dst, q.Origin)
	dst = binary.AppendVarint(dst, int64(q.Seq.Partition))
	dst = binary.AppendVarint(dst, q.Seq.Offset)
	dst = appendBinaryTime(dst, q.Print.Time)
	if !q.Print.Time.IsZero() {
		dst = binary.AppendVarint(dst, int64(q.Print.Price))
		dst = binary.AppendVarint(dst, int64(q.Print.Size))
		dst = append(dst, byte(q.Print.Counts))
	}
	return dst, nil
}

// BinarySymbol returns the symbol of a quote's binary form without
// decoding the rest, or false if b does not start with one.
func BinarySymbol(b []byte) ([]byte, bool) {
	r := binaryReader{b: b, ok: true}
	s := r.bytes()
	return s, r.ok
}

// UnmarshalBinary sets q from the binary form AppendBinary wrote. Errors
// are *Error. Strings are interned where ParseQuote interns them.
func (q *Quote) UnmarshalBinary(b []byte) error {
	r := binaryReader{b: b, ok: true}
	sym := r.bytes()
	if !r.ok {
		return errQuoteBinary
	}
	var err error
	if q.Symbol, err = InternSymbol(sym); err != nil {
		return err
	}
	q.Kind = Kind(r.byte())
	for _, dst := range [...]*int64{(*int64)(&q.Bid), (*int64)(&q.Ask), (*int64)(&q.BidSize), (*int64)(&q.AskSize),
		(*int64)(&q.Last), (*int64)(&q.LastSize), (*int64)(&q.Volume), (*int64)(&q.Open), (*int64)(&q.High), (*int64)(&q.Low)} {
		*dst = r.varint()
	}
	q.Day = Day(r.varint())
	q.Time = r.time()
	q.Source = internText(r.bytes())
	q.Origin = string(r.bytes())
	q.Seq = Seq{Partition: int(r.varint()), Offset: r.varint()}
	q.Print = Print{Time: r.time()}
	if !q.Print.Time.IsZero() {
		q.Print.Price, q.Print.Size, q.Print.Counts = Price(r.varint()), Size(r.varint()), Updates(r.byte())
	}
	if !r.ok || len(r.b) != 0 {
		return errQuoteBinary
	}
	return nil
}

// appendBinaryTime writes 0 for the zero time, else 1, the Unix seconds
// (varint) and the nanoseconds (uvarint): exact for every time, where
// Unix nanoseconds end in 2262.
func appendBinaryTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

func appendBinaryString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// binaryReader reads a binary quote; ok turns false at the first fault
// and stays false.
type binaryReader struct {
	b  []byte
	ok bool
}

func (r *binaryReader) byte() byte {
	if len(r.b) == 0 {
		r.ok = false
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *binaryReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.ok = false
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *binaryReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.ok = false
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *binaryReader) bytes() []byte {
	n := r.uvarint()
	if !r.ok || n > uint64(len(r.b)) {
		r.ok = false
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *binaryReader) time() time.Time {
	switch r.byte() {
	case 0:
		return time.Time{}
	case 1:
		sec := r.varint()
		nsec := r.uvarint()
		if nsec >= 1e9 {
			r.ok = false
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	}
	r.ok = false
	return time.Time{}
}
