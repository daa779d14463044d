package ingest

import "tape"

var _ Format = (*tapeFormat)(nil)

// tapeFormat reads tape's own JSON events, one object or an array of
// them, with tape's one event parser (tape.JSONMessage.DecodeEvent, the
// reader of tape.ParseEvent), so both accept the same. As for every
// format, "source" becomes "tape" and "origin" is left for the ingester;
// the class and trading day come from the format's instruments, whatever
// the message says; a trade without "id" gets a content identity.
type tapeFormat struct {
	inst *tape.Instruments
}

func (*tapeFormat) Name() string { return tape.FormatTape }

func (f *tapeFormat) Normalize(dst []tape.Event, msg []byte) ([]tape.Event, []Reject) {
	var w jsonWalk
	w.start(dst, msg)
	for w.next() {
		dst = w.done(f.decode(&w.m, dst, w.base))
	}
	return w.end(dst)
}

// decode reads one object, such as
//
//	{"symbol":"AAPL","kind":"quote","bid":"187.42","bid_size":"100","ask":"187.44","ask_size":"200","ts":"2024-01-02T15:04:05.123456789Z"}
func (f *tapeFormat) decode(m *tape.JSONMessage, dst []tape.Event, base int) ([]tape.Event, error) {
	e, err := m.DecodeEvent()
	if err != nil {
		return dst, err
	}
	e.Origin = ""
	return accept(dst, base, &e, tape.FormatTape, f.inst)
}
