// Package stream owns the web node's view of the market: it reads the
// quotes topic (and seeds from quotes.latest), keeps the current quote of
// every symbol and a bounded history of encoded events, and fans events
// out to subscribers. It hands encoded bytes to whoever writes them (an
// Encoder frames them; ui provides SSE); it knows nothing of HTTP.
//
// Records on the quotes topic are folded quotes with their fold position;
// the hub keeps, per symbol, the newest, and frames every record once.
// Consume reads every partition directly (no consumer group on the data
// path), follows partitions added to the topic, and reports a broker that
// does not answer to readiness and to every stream.
//
// For the market pages the hub also keeps, from the trades quotes report,
// 1 s and 1 m bars and time and sales per symbol (bars.go), and movers
// and a symbol index (movers.go). Heartbeats (nodes.go) are how nodes and
// ingesters find each other: Publish announces a process on a compacted
// topic, Nodes.Follow reads it, and Hub.SetNodes sends the live web nodes
// to every stream as "event: nodes". Nodes is safe for concurrent use.
//
// Concurrency: every Hub method is safe for concurrent use; one mutex
// guards the hub's state and each Subscriber has its own for its queue.
// Work under the hub's mutex is bounded by what one call touches (an
// event, a stream's symbols, a page, the events a resume sends). The hub
// never blocks on a subscriber: a full queue is conflated to the latest
// event per symbol, and a subscriber stalled past StallTimeout is ended by
// the hub's ticker. Resume tokens (SSE ids) are offset vectors over the
// quotes partitions, valid on every node of a cluster.
package stream
