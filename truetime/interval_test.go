package truetime

import (
	"math"
	"testing"
	"time"
)

func TestIntervalEpsilon(t *testing.T) {
	for _, tc := range []struct {
		iv   Interval
		want time.Duration
		mid  int64
	}{
		{Interval{10, 20}, 5, 15},
		{Interval{10, 21}, 6, 15}, // rounded up: [mid−ε, mid+ε] covers the interval
		{Interval{5, 5}, 0, 5},
		{Interval{-10, 10}, 10, 0},
		{unknownInterval, math.MaxInt64, -1},
		{Interval{math.MinInt64, 0}, 1 << 62, -(1 << 62)},
	} {
		if got := tc.iv.Epsilon(); got != tc.want {
			t.Errorf("%+v.Epsilon() = %d, want %d", tc.iv, got, tc.want)
		}
		if got := tc.iv.Midpoint(); got != tc.mid {
			t.Errorf("%+v.Midpoint() = %d, want %d", tc.iv, got, tc.mid)
		}
	}
	if unknownInterval.Known() || !(Interval{1, 2}).Known() {
		t.Fatal("Known")
	}
}
