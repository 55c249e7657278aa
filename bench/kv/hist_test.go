package kvbench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	// Every value lies within the bounds of its bucket, buckets are
	// contiguous, and a bucket is at most 1/64 of its lower bound wide.
	prevHi := int64(-1)
	for b := 0; b < 3000; b++ {
		lo, hi := bucketBounds(b)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", b, lo, prevHi)
		}
		if bucketOf(lo) != b || bucketOf(hi) != b {
			t.Fatalf("bucket %d = [%d, %d] but bucketOf gives %d, %d", b, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= 128 && float64(hi-lo+1) > float64(lo)/64 {
			t.Fatalf("bucket %d = [%d, %d] wider than 1/64 of its start", b, lo, hi)
		}
		prevHi = hi
	}
	if b := bucketOf(math.MaxInt64); b < 0 || b > 4000 {
		t.Fatalf("bucketOf(MaxInt64) = %d", b)
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{1, 1}, {10, 10}, {50, 50}, {99, 99}, {99.9, 100}, {100, 100}, {0, 1}} {
		if got := h.Percentile(tc.q); got != tc.want {
			t.Errorf("p%g = %d, want %d", tc.q, got, tc.want)
		}
	}
	if h.Min() != 1 || h.Max() != 100 || h.Count() != 100 {
		t.Errorf("min %d max %d count %d", h.Min(), h.Max(), h.Count())
	}
	if h.Mean() != 50 { // 50.5 truncated
		t.Errorf("mean %d, want 50", h.Mean())
	}
	// Population stddev of 1..100 is sqrt((100^2-1)/12) = 28.866.
	if sd := h.Stddev(); sd != 28 {
		t.Errorf("stddev %d, want 28", sd)
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if h.Percentile(50) != 0 || h.Mean() != 0 || h.Stddev() != 0 || h.Min() != 0 || h.Max() != 0 {
		t.Fatal("empty histogram reports non-zero values")
	}
	var o Histogram
	h.Merge(&o)
	if h.Count() != 0 {
		t.Fatal("merging empty histograms gave samples")
	}
}

// TestHistogramAgainstSortedSamples compares percentiles with the exact
// nearest-rank sample of a sorted copy, for log-normal latencies between
// microseconds and seconds, split over several merged histograms.
func TestHistogramAgainstSortedSamples(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	const n = 50000
	parts := make([]Histogram, 7)
	samples := make([]int64, 0, n)
	for i := 0; i < n; i++ {
		v := int64(math.Exp(rng.NormFloat64()*2 + 13)) // median ~0.44 ms
		samples = append(samples, v)
		parts[i%len(parts)].Record(time.Duration(v))
	}
	var h Histogram
	for i := range parts {
		h.Merge(&parts[i])
	}
	slices.Sort(samples)
	if h.Count() != n || int64(h.Min()) != samples[0] || int64(h.Max()) != samples[n-1] {
		t.Fatalf("seed %d: count %d min %d max %d, want %d %d %d", seed, h.Count(), h.Min(), h.Max(), n, samples[0], samples[n-1])
	}
	for _, q := range []float64{1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100} {
		rank := int(math.Ceil(q / 100 * n))
		want := float64(samples[rank-1])
		got := float64(h.Percentile(q))
		if math.Abs(got-want) > want/64+1 {
			t.Errorf("seed %d: p%g = %.0f, exact %.0f (error %.2f%%)", seed, q, got, want, 100*math.Abs(got-want)/want)
		}
	}
	var sum float64
	for _, v := range samples {
		sum += float64(v)
	}
	if mean := sum / n; math.Abs(float64(h.Mean())-mean) > 1 {
		t.Errorf("seed %d: mean %d, exact %.1f", seed, h.Mean(), mean)
	}
}

func TestHistogramNegativeIsZero(t *testing.T) {
	var h Histogram
	h.Record(-time.Second)
	if h.Max() != 0 || h.Percentile(50) != 0 {
		t.Fatalf("negative duration recorded as %d", h.Max())
	}
}
