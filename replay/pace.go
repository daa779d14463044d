package replay

import (
	"math"
	"time"
)

// A Pacer says when each message of a recording is due: at the
// recording's own pace scaled by Speed, or at a fixed Rate. The zero
// Pacer sends everything at once.
type Pacer struct {
	// Speed scales the recorded pace: 1 is real time, 10 ten times
	// faster; 0 or +Inf is unpaced.
	Speed float64
	// Rate, if above 0, ignores timestamps: messages are due at this many
	// a second from the first.
	Rate float64

	start          time.Time // Rate: when the first message was due
	sent           int64     // Rate: messages due so far
	base, baseWall time.Time // Speed: the first stamped message and its wall time
}

// Due returns when a message stamped ts (zero if it has no time) is due,
// given that it is now now. The first message is due at once; a message
// without a time, or stamped before the first, goes at once too. A sender
// that falls behind gets times in the past and catches up unpaced.
func (p *Pacer) Due(ts, now time.Time) time.Time {
	switch {
	case p.Rate > 0:
		if p.start.IsZero() {
			p.start = now
		}
		due := p.start.Add(time.Duration(float64(p.sent) / p.Rate * float64(time.Second)))
		p.sent++
		return due
	case p.Speed == 0 || math.IsInf(p.Speed, 1) || ts.IsZero():
		return now
	case p.base.IsZero():
		p.base, p.baseWall = ts, now
		return now
	}
	return p.baseWall.Add(time.Duration(float64(ts.Sub(p.base)) / p.Speed))
}

// Restart paces the next message as the first of a recording again (a new
// file, or the next round of a loop); a fixed Rate carries on.
func (p *Pacer) Restart() { p.base, p.baseWall = time.Time{}, time.Time{} }
