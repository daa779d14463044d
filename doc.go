// Package tape is the domain of the tape market ticker: exact prices,
// validated symbols, normalised market-data events and the quotes they
// build, with their JSON form. It imports no Kafka, HTTP or HTML code;
// the ingest, stream and ui packages build on it and cmd/tape wires them.
//
// All types here are plain values; none is safe for concurrent mutation.
package tape
