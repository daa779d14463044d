// Package bench is tape's load client: many server-sent-event subscribers
// on plain TCP connections, each parsing its stream for latency, gaps and
// duplicates, plus readers of a process's CPU time and memory from /proc.
// It imports nothing of tape's and speaks HTTP and SSE as a browser would,
// so it measures any node, in this process or another.
//
// A Load is safe for concurrent use; each connection has one goroutine
// that reads and parses into a few bytes of state, so ten thousand
// connections fit in one process on a small machine.
package bench
