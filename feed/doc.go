// Package feed is tape's synthetic market: a deterministic generator of
// quotes and trades for a set of symbols, and encoders that write each event
// as one raw message in a vendor's format (Polygon, Alpaca, Finnhub, FIX,
// CSV or tape's own JSON), as a real feed adapter would send it.
//
// The same Config always yields the same events, so a seed names a market:
// the recordings in testdata/feeds and a live "tape feed" with the same
// seed, symbols and rate show the same prices (Start only moves the clock). Prices are exact multiples of each symbol's tick;
// floats drive the random walk but every emitted price is integer ticks.
//
// Config can also shape a session: a burst of activity at the open
// (OpenBurst) and trading halts (Halts). Malform damages a message the way
// a flaky link would, for recordings that test bad input, and ReadHistory
// turns tables of real prices into events.
//
// A Generator and an Encoder each belong to one goroutine; Encode,
// Formats, Malform and ReadHistory are safe for concurrent use.
package feed
