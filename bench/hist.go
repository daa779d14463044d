package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histSub is the number of buckets per power of two: values are kept to
// about 3 % (1/32), which is plenty for latency percentiles.
const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histLinear  = 2 * histSub // values below this get one bucket each
	histBuckets = histLinear + (64-histSubBits-1)*histSub
)

// Histogram counts durations in microseconds in log-linear buckets. It is
// safe for concurrent use and never allocates when recording.
type Histogram struct {
	counts [histBuckets]atomic.Int64
	n      atomic.Int64
	max    atomic.Int64
}

func bucketOf(v int64) int {
	if v < histLinear {
		return int(max(v, 0))
	}
	msb := bits.Len64(uint64(v)) - 1 // >= histSubBits+1
	shift := msb - histSubBits
	mant := v >> shift // in [histSub, 2*histSub)
	return histLinear + (msb-histSubBits-1)*histSub + int(mant-histSub)
}

// bucketMid returns a value in the middle of bucket i.
func bucketMid(i int) int64 {
	if i < histLinear {
		return int64(i)
	}
	k := i - histLinear
	shift := k/histSub + 1
	mant := int64(k%histSub + histSub)
	return mant<<shift + (1<<shift)/2
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	h.counts[bucketOf(us)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// Count returns how many durations were recorded.
func (h *Histogram) Count() int64 { return h.n.Load() }

// Max returns the largest duration recorded.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Quantile returns the duration below which a fraction q of the recorded
// ones lie, to the bucket's precision.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(q * float64(n-1))
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen > rank {
			return time.Duration(min(bucketMid(i), h.max.Load())) * time.Microsecond
		}
	}
	return h.Max()
}
