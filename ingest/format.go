package ingest

import "tape"

// A Format turns one raw feed message into normalised events.
//
// Normalize appends the events it accepts to dst and returns it, plus one
// Reject for every part of the message it could not accept. A message that
// cannot be read at all gives a single Reject with Index -1. Messages the
// format defines as control traffic (pings, status) give neither. Event
// Origin fields are left empty; the ingester fills them in. Source is set to
// the format name. Implementations are safe for concurrent use.
type Format interface {
	Name() string
	Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject)
}

// Reject is a part of a raw message that was not accepted.
type Reject struct {
	// Index is the element's position in an array message, or -1 for the
	// whole message.
	Index int
	// Err is a *tape.Error whose code names the reason.
	Err error
}
