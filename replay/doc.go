// Package replay produces recorded feeds into Kafka's raw topic, paced by
// the recording's own timestamps or at a fixed rate.
//
// A recording is a text file (optionally gzip-compressed) with one raw
// vendor message per line. Which format the lines are in comes from the
// configuration or the file name ("session.polygon.jsonl.gz"). The package
// does not parse messages itself: Config.Stamp (the ingest package's
// normalisers, wired in by cmd/tape) reads each line's time and symbol.
//
// Run is safe to call from several goroutines with separate Configs; a
// Reader and a Pacer each belong to one goroutine.
package replay
