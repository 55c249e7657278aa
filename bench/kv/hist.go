package kvbench

import (
	"math"
	"math/bits"
	"time"
)

// histSubBits is the precision of Histogram: values below 2^histSubBits
// are kept exactly, larger ones in buckets of relative width at most
// 2^-(histSubBits-1) (1/64, so a percentile is within 1.6% of the true
// sample value).
const histSubBits = 7

// Histogram is a log-linear latency histogram in the style of HDR
// histograms: a value v >= 2^histSubBits with shift s = len(v) -
// histSubBits falls into bucket s*2^(histSubBits-1) + v>>s. It is not safe
// for concurrent use: each client owns one and they are merged at the end.
// The zero value is empty and ready to use.
type Histogram struct {
	counts []int64
	n      int64
	min    int64
	max    int64
	sum    float64
	sumSq  float64
}

func bucketOf(v int64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits
	return shift<<(histSubBits-1) + int(v>>shift)
}

// bucketBounds returns the smallest and largest value of bucket b.
func bucketBounds(b int) (lo, hi int64) {
	if b < 1<<histSubBits {
		return int64(b), int64(b)
	}
	half := 1 << (histSubBits - 1)
	shift := b/half - 1
	mant := int64(b%half + half)
	return mant << shift, (mant+1)<<shift - 1
}

// Record adds one latency. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	b := bucketOf(v)
	if b >= len(h.counts) {
		grown := make([]int64, b+1+b/4)
		copy(grown, h.counts)
		h.counts = grown
	}
	h.counts[b]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	f := float64(v)
	h.sum += f
	h.sumSq += f * f
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		grown := make([]int64, len(o.counts))
		copy(grown, h.counts)
		h.counts = grown
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
	h.sumSq += o.sumSq
}

// Count is the number of recorded samples.
func (h *Histogram) Count() int64 { return h.n }

// Min and Max are exact; 0 for an empty histogram.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is exact (up to float rounding); 0 for an empty histogram.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Stddev is the population standard deviation.
func (h *Histogram) Stddev() time.Duration {
	if h.n == 0 {
		return 0
	}
	m := h.sum / float64(h.n)
	v := h.sumSq/float64(h.n) - m*m
	if v < 0 {
		v = 0
	}
	return time.Duration(math.Sqrt(v))
}

// Percentile returns the value at or below which q percent (0 < q <= 100)
// of the samples lie: the nearest-rank sample, reported as the middle of
// its bucket and clamped to the exact minimum and maximum. It returns 0
// for an empty histogram.
func (h *Histogram) Percentile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q / 100 * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen int64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(b)
			v := lo + (hi-lo)/2
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
