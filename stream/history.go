package stream

import (
	"slices"
	"sort"
	"time"

	"tape"
)

// history is the ring of recent events, oldest first, bounded by
// Config.HistorySize and HistoryAge. An event is kept as its quote's
// binary form (tape.Quote.AppendBinary, about a third of its JSON) in the
// hub's arena, not as its SSE frame: a resume, which is rare and bounded
// by MaxResume, encodes the frames it sends again. Each event has a
// position, counted from the first event the hub kept, which stays the
// same while the ring grows; its symbol's list (symbolState.kept) holds
// the positions, which is what a resume searches. Guarded by the hub's
// lock.
type history struct {
	ring       []keptEvent
	head, size int
	first      uint64 // the position of ring[head]
}

// keptEvent is one applied record of the quotes topic.
type keptEvent struct {
	seq       uint64 // the hub's sequence number of its frame
	offset    int64
	at        int64 // when the node applied it, Unix nanoseconds
	partition int32
	quote     []byte // tape.Quote.AppendBinary
}

// at returns the event at position pos, which must be in the ring.
func (hs *history) at(pos uint64) *keptEvent {
	return &hs.ring[(hs.head+int(pos-hs.first))%len(hs.ring)]
}

// pushHistoryLocked keeps the event that q, at offset off of partition p,
// made (hub sequence number seq, applied at Unix nanoseconds at).
func (h *Hub) pushHistoryLocked(st *symbolState, q *tape.Quote, p int32, off int64, seq uint64, at int64) {
	hs := &h.hist
	limit := h.cfg.HistorySize
	for hs.size > 0 && hs.size >= limit {
		h.popHistoryLocked()
	}
	h.hist.expireLocked(h, at-int64(h.cfg.HistoryAge))
	if hs.size == len(hs.ring) { // grow the ring up to limit
		grown := make([]keptEvent, min(limit, 2*len(hs.ring)))
		for i := range hs.size {
			grown[i] = hs.ring[(hs.head+i)%len(hs.ring)]
		}
		hs.ring, hs.head = grown, 0
	}
	bin := h.arena.room(binaryQuoteRoom)
	bin, _ = q.AppendBinary(bin)
	h.arena.keep(bin)
	pos := hs.first + uint64(hs.size)
	*hs.at(pos) = keptEvent{seq: seq, offset: off, at: at, partition: p, quote: bin[:len(bin):len(bin)]}
	hs.size++
	h.stats.History.Store(int64(hs.size))

	if live := st.kept[st.khead:]; len(live) > 0 && hs.at(live[0]).partition != p {
		st.mixed = true
	}
	if st.khead > 0 && st.khead >= len(st.kept)/2 { // compact the list
		n := copy(st.kept, st.kept[st.khead:])
		st.kept, st.khead = st.kept[:n], 0
	}
	st.kept = append(st.kept, pos)
}

// binaryQuoteRoom is the room asked of the arena for one binary quote:
// more than most take (about 100 bytes); a longer one moves to its own
// allocation.
const binaryQuoteRoom = 192

// expireLocked drops events applied before oldest.
func (hs *history) expireLocked(h *Hub, oldest int64) {
	for hs.size > 0 && hs.ring[hs.head].at < oldest {
		h.popHistoryLocked()
	}
}

// popHistoryLocked drops the oldest event from the ring and from its
// symbol's list, and moves its partition's start past it.
func (h *Hub) popHistoryLocked() {
	hs := &h.hist
	e := hs.ring[hs.head]
	pos := hs.first
	hs.ring[hs.head] = keptEvent{}
	hs.head = (hs.head + 1) % len(hs.ring)
	hs.size--
	hs.first++
	h.stats.History.Store(int64(hs.size))
	h.starts[e.partition] = max(h.starts[e.partition], e.offset+1)
	sym, _ := tape.BinarySymbol(e.quote)
	if st := h.symbols.get(tape.Symbol(sym)); st != nil && st.khead < len(st.kept) && st.kept[st.khead] == pos {
		st.khead++
		if st.khead == len(st.kept) {
			st.kept, st.khead, st.mixed = st.kept[:0], 0, false
		}
	}
}

// keptSince appends to dst the positions of the symbol's events the
// client has not seen: those at or past floor in their partition. It is a
// binary search unless the symbol's events span partitions.
func (st *symbolState) keptSince(hs *history, floor []int64, dst []uint64) []uint64 {
	live := st.kept[st.khead:]
	if len(live) == 0 {
		return dst
	}
	if !st.mixed {
		from := floor[hs.at(live[0]).partition]
		i := sort.Search(len(live), func(i int) bool { return hs.at(live[i]).offset >= from })
		return append(dst, live[i:]...)
	}
	for _, pos := range live {
		if e := hs.at(pos); e.offset >= floor[e.partition] {
			dst = append(dst, pos)
		}
	}
	return dst
}

// resumeLocked queues the events sub missed since token and returns "", or
// returns the reason it cannot and queues nothing. It costs O(symbols ×
// log history + events sent): each symbol's events are found by binary
// search, never by walking the history.
//
// Each replayed event's id is the token the client resumed from, advanced
// in each partition past the events replayed so far: the client has then
// seen every event of its symbols below it (the replay is in topic order
// within each partition), so a later resume from it neither repeats nor
// skips. Other symbols' events between do not concern this client.
func (h *Hub) resumeLocked(sub *Subscriber, token []byte, now time.Time) string {
	floor, err := parseToken(token, h.fingerprint, nil)
	if err != nil || len(floor) > len(h.offsets) {
		// A token naming more partitions than this node reads comes from
		// a node that saw partitions added before this one did.
		return ReasonUnknown
	}
	floor = padOffsets(floor, len(h.offsets))
	ahead := false
	for p, o := range floor {
		if o < h.starts[p] {
			return ReasonExpired
		}
		ahead = ahead || o > h.offsets[p]
	}
	var missed []uint64
	for _, s := range sub.symbols {
		if st := h.symbols.get(s); st != nil {
			missed = st.keptSince(&h.hist, floor, missed)
			if len(missed) > h.cfg.MaxResume {
				return ReasonExpired
			}
		}
	}
	slices.Sort(missed) // positions are in the order the hub applied them
	sub.floor = floor
	id := slices.Clone(floor)
	var q tape.Quote
	for _, pos := range missed {
		e := h.hist.at(pos)
		if q.UnmarshalBinary(e.quote) != nil {
			continue // cannot happen: the hub wrote it
		}
		id[e.partition] = max(id[e.partition], e.offset+1)
		h.idBuf = appendToken(h.idBuf[:0], h.fingerprint, id)
		h.scratch = q.AppendJSON(h.scratch[:0])
		f := h.passing.frame()
		encodeFrame(f, &h.passing, h.enc, "quote", h.idBuf, h.scratch)
		f.seq, f.partition, f.offset, f.key, f.at = e.seq, e.partition, e.offset, string(q.Symbol), e.at
		h.pushLocked(sub, f, nil, now)
	}
	// While this node trails the token, sub.floor filters live events
	// until the node passes the client's position. A token that stays
	// ahead (corrupt, or from a cluster with the same topic name) would
	// filter forever: after the grace period it gets a snapshot.
	if ahead {
		time.AfterFunc(h.cfg.ResumeGrace, func() { h.checkAhead(sub) })
	} else if len(missed) == 0 {
		sub.floor = nil
	}
	return ""
}
