package truetime

import (
	"math"
	"time"
)

// Interval is a range of true time, in nanoseconds since the Unix epoch,
// both ends inclusive. An Interval returned by TrueTime.Now contains the true
// time at some instant during the call (invariant 1 in doc.go).
type Interval struct {
	Earliest int64 `json:"earliest"`
	Latest   int64 `json:"latest"`
}

// unknownInterval is what Now returns before the first agreement with the
// time sources: all that is known is that true time is some int64.
var unknownInterval = Interval{Earliest: math.MinInt64, Latest: math.MaxInt64}

// Known reports whether the interval carries information, i.e. the clock had
// synchronised when it was produced.
func (i Interval) Known() bool { return i != unknownInterval }

// Contains reports whether t lies in the interval.
func (i Interval) Contains(t int64) bool { return i.Earliest <= t && t <= i.Latest }

// Epsilon is half the width of the interval, rounded up, saturating at the
// largest Duration for an unknown interval. It is the ε of the paper: the
// interval is [mid−ε, mid+ε].
func (i Interval) Epsilon() time.Duration {
	if i.Latest < i.Earliest {
		return 0
	}
	w := uint64(i.Latest) - uint64(i.Earliest) // exact for Latest ≥ Earliest
	half := w/2 + w&1
	if half > math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(half)
}

// Midpoint is the centre of the interval, the clock's best single guess of
// true time.
func (i Interval) Midpoint() int64 {
	return i.Earliest + int64((uint64(i.Latest)-uint64(i.Earliest))/2)
}
