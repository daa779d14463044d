// Package ingest owns feed formats and normalisation: it turns vendors' raw
// messages (tape, Polygon, Alpaca, Finnhub, FIX 4.4, CSV) into validated
// tape.Events, and runs the Ingester that moves them from the raw topic to
// the quotes topic, dead-lettering what it cannot accept.
//
// Formats (Lookup, Sniff) are safe for concurrent use and do not allocate
// on the hot path. An Ingester's Run is one loop; Stats and WriteMetrics
// may be called from any goroutine. Delivery is at least once: a raw
// offset is committed only after everything produced from it is
// acknowledged, and repeats carry the same origin ids.
package ingest
