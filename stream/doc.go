// Package stream owns the web node's view of the market: it reads the
// quotes topic (and seeds from quotes.latest), keeps the current quote of
// every symbol and a bounded history of encoded events, and fans events
// out to subscribers. It hands encoded bytes to whoever writes them (an
// Encoder frames them; ui provides SSE); it knows nothing of HTTP.
//
// Concurrency: every Hub method is safe for concurrent use; one mutex
// guards the hub's state and each Subscriber has its own for its queue.
// The hub never blocks on a subscriber: a full queue is conflated to the
// latest event per symbol, and a subscriber stalled past StallTimeout is
// ended. Resume tokens (SSE ids) are offset vectors over the quotes
// partitions, valid on every node of a cluster.
package stream
