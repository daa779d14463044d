// Package ingest owns feed formats and normalisation: it turns vendors' raw
// messages (tape, Polygon, Alpaca, Finnhub, FIX 4.4, CSV) into validated
// tape.Events, and runs the Ingester: a stateless normaliser from the raw
// topic to the events topic (keyed by symbol), dead-lettering what it
// cannot accept, and a fold that owns partitions of the events topic and
// produces each symbol's folded quote, checkpointing its state.
//
// Formats (Lookup, Sniff) are safe for concurrent use and do not allocate
// on the hot path. NewDeadLetter is pure. An Ingester's Run runs the
// normaliser loop and one goroutine per owned fold partition; Stats
// and Faults may be called from any goroutine. Delivery is
// at least once and exactly once in effect: a raw offset is committed only
// after everything produced from it is acknowledged, a fold checkpoints
// only what is acknowledged, and repeats carry the same origin ids and
// fold positions.
package ingest
