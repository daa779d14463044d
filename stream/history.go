package stream

import (
	"slices"
	"sort"
	"time"

	"tape"
)

// history is the ring of recent frames, oldest first, bounded by
// Config.HistorySize and HistoryAge. Each frame is also on its symbol's
// own list (symbolState.frames), which is what a resume searches.
// Guarded by the hub's lock.
type history struct {
	ring       []*frame
	head, size int
}

func (h *Hub) pushHistoryLocked(st *symbolState, f *frame) {
	hs := &h.hist
	limit := h.cfg.HistorySize
	for hs.size > 0 && hs.size >= limit {
		h.popHistoryLocked()
	}
	h.hist.expireLocked(h, f.at-int64(h.cfg.HistoryAge))
	if hs.size == len(hs.ring) { // grow the ring up to limit
		grown := make([]*frame, min(limit, 2*len(hs.ring)))
		for i := range hs.size {
			grown[i] = hs.ring[(hs.head+i)%len(hs.ring)]
		}
		hs.ring, hs.head = grown, 0
	}
	hs.ring[(hs.head+hs.size)%len(hs.ring)] = f
	hs.size++
	h.stats.History.Store(int64(hs.size))

	if live := st.frames[st.fhead:]; len(live) > 0 && live[0].partition != f.partition {
		st.mixed = true
	}
	if st.fhead > 0 && st.fhead >= len(st.frames)/2 { // compact the list
		n := copy(st.frames, st.frames[st.fhead:])
		clear(st.frames[n:])
		st.frames, st.fhead = st.frames[:n], 0
	}
	st.frames = append(st.frames, f)
}

// expireLocked drops frames applied before oldest.
func (hs *history) expireLocked(h *Hub, oldest int64) {
	for hs.size > 0 && hs.ring[hs.head].at < oldest {
		h.popHistoryLocked()
	}
}

// popHistoryLocked drops the oldest frame from the ring and from its
// symbol's list, and moves its partition's start past it.
func (h *Hub) popHistoryLocked() {
	hs := &h.hist
	f := hs.ring[hs.head]
	hs.ring[hs.head] = nil
	hs.head = (hs.head + 1) % len(hs.ring)
	hs.size--
	h.stats.History.Store(int64(hs.size))
	h.starts[f.partition] = max(h.starts[f.partition], f.offset+1)
	if st := h.symbols.get(tape.Symbol(f.key)); st != nil && st.fhead < len(st.frames) && st.frames[st.fhead] == f {
		st.frames[st.fhead] = nil
		st.fhead++
		if st.fhead == len(st.frames) {
			st.frames, st.fhead, st.mixed = st.frames[:0], 0, false
		}
	}
}

// framesSince appends to dst the symbol's frames the client has not seen:
// those at or past floor in their partition. It is a binary search unless
// the symbol's frames span partitions.
func (st *symbolState) framesSince(floor []int64, dst []*frame) []*frame {
	live := st.frames[st.fhead:]
	if len(live) == 0 {
		return dst
	}
	if !st.mixed {
		p := live[0].partition
		from := floor[p]
		i := sort.Search(len(live), func(i int) bool { return live[i].offset >= from })
		return append(dst, live[i:]...)
	}
	for _, f := range live {
		if f.offset >= floor[f.partition] {
			dst = append(dst, f)
		}
	}
	return dst
}

// resumeLocked queues the events sub missed since token and returns "", or
// returns the reason it cannot and queues nothing. It costs O(symbols ×
// log history + events sent): each symbol's frames are found by binary
// search, never by walking the history.
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
	var missed []*frame
	for _, s := range sub.symbols {
		if st := h.symbols.get(s); st != nil {
			missed = st.framesSince(floor, missed)
			if len(missed) > h.cfg.MaxResume {
				return ReasonExpired
			}
		}
	}
	slices.SortFunc(missed, func(a, b *frame) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	sub.floor = floor
	for _, f := range missed {
		h.deliverLocked(sub, f, nil, now)
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
