package truetime

import (
	"math/bits"
	"time"

	"github.com/cockroachdb/errors"
)

// Exchange is one NTP round trip as the client saw it (RFC 5905 names).
type Exchange struct {
	// T1 is the local clock reading when the request was sent.
	T1 int64
	// T2 is the master's clock when the request arrived.
	T2 int64
	// T3 is the master's clock when the reply left.
	T3 int64
	// T4 is the local clock reading when the reply arrived.
	T4 int64
	// RootDispersion is the master's declared uncertainty: it promises that
	// its clock is within this much of true time.
	RootDispersion time.Duration
	// RootDelay is the master's round trip to its own reference; half of it
	// adds to the uncertainty, as in NTP's root distance.
	RootDelay time.Duration
}

// maxDeclaredUncertainty is NTP's MAXDISP: a source that declares more is not
// usable for synchronisation.
const maxDeclaredUncertainty = 16 * time.Second

// timestampSlack covers the rounding of 32.32 fixed-point NTP timestamps to
// nanoseconds (2^-32 s ≈ 0.23 ns, so one nanosecond per conversion).
const timestampSlack = 1

// Offset is the classic NTP offset estimate ((T2−T1)+(T3−T4))/2: the
// master's clock minus the local clock.
func (x Exchange) Offset() time.Duration {
	return time.Duration(((x.T2 - x.T1) + (x.T3 - x.T4)) / 2)
}

// RTT is the round trip minus the master's hold time.
func (x Exchange) RTT() time.Duration { return time.Duration((x.T4 - x.T1) - (x.T3 - x.T2)) }

// Uncertainty is what the master declares about its own clock.
func (x Exchange) Uncertainty() time.Duration { return x.RootDispersion + x.RootDelay/2 }

// sample is an exchange turned into bounds on true time: at local reading
// anchor, true time was in [anchor+lo, anchor+hi].
type sample struct {
	anchor int64
	lo, hi int64
}

// toSample checks x and bounds the offset of true time from the local clock
// at T4. With u the master's uncertainty and ρ the drift bound:
//
//	lower: true(T4) ≥ true(T3) ≥ T3 − u, since the reply arrives after it
//	       left. So offset ≥ T3 − T4 − u.
//	upper: true(T4) − true(T3) = (true(T4)−true(T1)) − (true(T2)−true(T1))
//	       − (true(T3)−true(T2)) ≤ (T4−T1)(1+ρ) − 0 − (T3−T2)(1−ρ), and
//	       true(T3) ≤ T3 + u. So offset ≤ T2 − T1 + u + 2ρ(T4−T1).
//
// That is offset ± (rtt/2 + u), plus the drift over the exchange itself.
func toSample(x Exchange, driftPPM int64) (sample, error) {
	switch {
	case x.T4 < x.T1:
		return sample{}, errors.Wrapf(ErrBadExchange, "reply received (%d) before request sent (%d)", x.T4, x.T1)
	case x.T3 < x.T2:
		return sample{}, errors.Wrapf(ErrBadExchange, "master replied (%d) before it received (%d)", x.T3, x.T2)
	case x.RTT() < 0:
		return sample{}, errors.Wrapf(ErrBadExchange, "master held the request %s, longer than the round trip %s",
			time.Duration(x.T3-x.T2), time.Duration(x.T4-x.T1))
	case x.RootDispersion < 0 || x.RootDelay < 0 || x.Uncertainty() > maxDeclaredUncertainty:
		return sample{}, errors.Wrapf(ErrBadExchange, "declared uncertainty %s outside [0, %s]", x.Uncertainty(), maxDeclaredUncertainty)
	}
	u := int64(x.Uncertainty()) + timestampSlack
	return sample{
		anchor: x.T4,
		lo:     x.T3 - x.T4 - u,
		hi:     x.T2 - x.T1 + u + 2*driftNanos(x.T4-x.T1, driftPPM),
	}, nil
}

// driftNanos is the most a clock with rate error ppm can gain or lose while
// it measures elapsed nanoseconds, rounded up; negative elapsed counts as its
// magnitude. A clock within ρ of true rate (|ΔL−ΔT| ≤ ρ·ΔT) reads ΔL ≥
// (1−ρ)·ΔT, so the error is at most ρ/(1−ρ)·ΔL: slightly more than ρ·ΔL, which
// matters for the bound to hold to the nanosecond.
func driftNanos(elapsed, ppm int64) int64 {
	if elapsed < 0 {
		elapsed = -elapsed
	}
	if ppm <= 0 || elapsed == 0 {
		return 0
	}
	// 128-bit product: elapsed < 2^63 and ppm ≤ 1e5 < 2^17 keep hi below
	// the divisor (≥ 9e5), as Div64 requires.
	hi, lo := bits.Mul64(uint64(elapsed), uint64(ppm))
	q, r := bits.Div64(hi, lo, uint64(1_000_000-ppm))
	if r != 0 {
		q++
	}
	return int64(q)
}
