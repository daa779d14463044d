package ingest

import (
	"strconv"
	"strings"

	"tape"
)

// A fold position ("seq") names the event of the events topic that a
// folded quote or a checkpoint reflects: "partition/offset", such as
// "3/1207". A symbol's events all sit in one partition, so for one symbol
// a larger offset is a later state, and a quote whose seq is not newer
// than one already applied is a repeat (a refold after a crash).

// AppendSeq appends the fold position partition/offset.
func AppendSeq(dst []byte, partition int, offset int64) []byte {
	dst = strconv.AppendInt(dst, int64(partition), 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, offset, 10)
}

// ParseSeq splits a fold position written by AppendSeq. It reports false
// for anything else.
func ParseSeq(s string) (partition int, offset int64, ok bool) {
	ps, os, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	p, err1 := strconv.ParseInt(ps, 10, 32)
	o, err2 := strconv.ParseInt(os, 10, 64)
	if err1 != nil || err2 != nil || p < 0 || o < 0 {
		return 0, 0, false
	}
	return int(p), o, true
}

// appendQuoteRecord appends the value of a quotes-topic record: the
// folded quote's JSON with the kind of the event that made it and its
// fold position, {...,"kind":"trade","seq":"3/1207"}.
func appendQuoteRecord(dst []byte, q *tape.Quote, kind tape.Kind, partition int, offset int64) []byte {
	dst = q.AppendJSON(dst)
	dst = dst[:len(dst)-1]
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, kind.String()...)
	dst = append(dst, `","seq":"`...)
	dst = AppendSeq(dst, partition, offset)
	return append(dst, `"}`...)
}

// appendSeqField adds "seq" to the JSON object obj (which must end in
// '}'), for checkpoints.
func appendSeqField(obj []byte, partition int, offset int64) []byte {
	obj = obj[:len(obj)-1]
	if len(obj) > 1 {
		obj = append(obj, ',')
	}
	obj = append(obj, `"seq":"`...)
	obj = AppendSeq(obj, partition, offset)
	return append(obj, `"}`...)
}
