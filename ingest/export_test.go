package ingest

import (
	"time"

	"tape"
)

// Internals that the external tests of this package use.

const (
	Retriable = retriable
	Permanent = permanent
)

var (
	Classify       = classify
	CRC32Partition = crc32Partition
	MarkerValue    = markerValue
)

func Backoff(attempt int, rnd func(int64) int64) time.Duration { return backoff(attempt, rnd) }

// Folder is the fold state of one symbol.
type Folder = folder

func NewFolder(sym tape.Symbol) Folder { return newFolder(sym) }

func RestoreFolder(b []byte) (Folder, error) { return restoreFolder(b) }

func QuoteRecord(q *tape.Quote, kind tape.Kind, p int, off int64) []byte {
	return appendQuoteRecord(nil, q, kind, p, off)
}

func CheckpointRecord(f Folder, p int, seq int64) []byte {
	return appendSeqField(f.AppendCheckpoint(nil), p, seq)
}
