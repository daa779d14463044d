// Package tape is the domain of the tape market ticker: exact prices and
// sizes, validated symbols, instruments and their trading days, the
// normalised market-data events feed formats produce, the Fold that turns
// a symbol's events into its quote and day statistics (every market rule,
// once, with a checkpoint of bounded size), the published sale-condition
// tables, and tape's one JSON reader. It imports no Kafka, HTTP or HTML
// code; the ingest, stream and ui packages build on it and cmd/tape wires
// them.
//
// All types here are plain values; none is safe for concurrent mutation.
// A Fold belongs to the one goroutine that applies a symbol's events.
// Instruments and the condition tables are read-only and safe to share.
package tape
