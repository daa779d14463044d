package tape

import "strconv"

// Seq is a quote's fold position: the partition and offset, in the
// symbol-keyed topic the fold stage reads, of the event the quote
// reflects. A symbol's events share one partition, so within a partition
// a larger offset is a newer quote; web nodes keep, per symbol, the quote
// with the newest Seq and drop repeats. It is written "3/5521".
type Seq struct {
	Partition int
	Offset    int64
}

// NoSeq is the Seq of a quote no fold stage has placed (a fold's quote
// before its first event, an old record without "seq"). The zero Seq is
// a real position, offset 0 of partition 0.
var NoSeq = Seq{Partition: -1, Offset: -1}

var errSeq = &Error{Code: ECodeField, Message: `invalid seq (want "partition/offset")`}

// IsSet reports whether s is a position, not NoSeq.
func (s Seq) IsSet() bool { return s.Partition >= 0 && s.Offset >= 0 }

// After reports whether s comes after o: both in the same partition and
// s at a larger offset, or o not set and s set. Seqs of different
// partitions are not ordered (After reports false both ways).
func (s Seq) After(o Seq) bool {
	if !o.IsSet() {
		return s.IsSet()
	}
	return s.Partition == o.Partition && s.Offset > o.Offset
}

// AppendText appends "partition/offset", or nothing for an unset Seq.
func (s Seq) AppendText(dst []byte) []byte {
	if !s.IsSet() {
		return dst
	}
	dst = strconv.AppendInt(dst, int64(s.Partition), 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, s.Offset, 10)
}

// String returns the seq as AppendText writes it.
func (s Seq) String() string { return string(s.AppendText(nil)) }

// ParseSeq parses "partition/offset" without allocating.
func ParseSeq(b []byte) (Seq, error) {
	var s Seq
	i := 0
	for i < len(b) && b[i] != '/' {
		i++
	}
	p, ok1 := uintBytes(b[:i], 1<<31-1)
	if i == len(b) || !ok1 {
		return NoSeq, errSeq
	}
	o, ok2 := uintBytes(b[i+1:], 1<<63-1)
	if !ok2 {
		return NoSeq, errSeq
	}
	s.Partition, s.Offset = int(p), int64(o)
	return s, nil
}

// uintBytes parses a decimal without sign or leading zeros (but "0"),
// up to limit.
func uintBytes(b []byte, limit uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
