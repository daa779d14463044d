package stream

// arena hands out frames and the bytes of their events from large
// blocks, so that framing an event makes no allocation of its own and a
// retained event carries no allocator overhead. History drops frames
// oldest first, so whole blocks become garbage in the order they were
// made; a block lives as long as any frame in it is referenced, which is
// why a hub keeps the frames it only delivers in an arena of their own.
// Guarded by the hub's lock. The zero arena is ready; a nil *arena hands
// out plain allocations.
type arena struct {
	frames []frame
	bytes  []byte
}

const (
	arenaFrames = 256      // frames per block
	arenaBytes  = 64 << 10 // bytes per block
	// arenaLargest is the largest event placed in a block; larger ones
	// (a snapshot of a wide watchlist) get their own allocation.
	arenaLargest = arenaBytes / 16
)

// frame returns a zeroed frame.
func (a *arena) frame() *frame {
	if a == nil {
		return new(frame)
	}
	if len(a.frames) == 0 {
		a.frames = make([]frame, arenaFrames)
	}
	f := &a.frames[0]
	a.frames = a.frames[1:]
	return f
}

// room returns an empty slice with capacity n, for bytes that keep then
// takes. Appending past n moves to a new array, which keep accepts too.
func (a *arena) room(n int) []byte {
	if a == nil || n > arenaLargest {
		return make([]byte, 0, n)
	}
	if cap(a.bytes)-len(a.bytes) < n {
		a.bytes = make([]byte, 0, arenaBytes)
	}
	free := a.bytes[len(a.bytes):]
	return free[:0:n]
}

// keep takes b, which room handed out (possibly grown elsewhere by
// append), off the arena's free space.
func (a *arena) keep(b []byte) {
	if a == nil || len(b) == 0 || cap(a.bytes) == len(a.bytes) {
		return
	}
	if free := a.bytes[len(a.bytes):cap(a.bytes)]; &free[0] == &b[0] {
		a.bytes = a.bytes[:len(a.bytes)+len(b)]
	}
}
