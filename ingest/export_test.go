package ingest

import "time"

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
