package txn

import (
	"context"
	"time"

	"github.com/meridiandb/meridian/truetime"
)

// Clock is what the transaction layer needs of TrueTime.
type Clock interface {
	Now() truetime.Interval
	// WaitUntilAfter blocks until Now().Earliest > t (commit wait).
	WaitUntilAfter(ctx context.Context, t int64) error
	// CheckCommit refuses read-write commits while the clock is unfit.
	CheckCommit() error
	WaitSynced(ctx context.Context) error
}

var _ Clock = (*truetime.TrueTime)(nil)

// SkewedClock shifts a clock's intervals by Skew: it models a node whose
// clock error sits anywhere inside its ε, which the timestamp rules must
// tolerate. Tests only; a skew beyond ε breaks TrueTime's contract.
type SkewedClock struct {
	Clock
	Skew time.Duration
}

// Now implements Clock.
func (c SkewedClock) Now() truetime.Interval {
	iv := c.Clock.Now()
	if !iv.Known() {
		return iv
	}
	iv.Earliest += int64(c.Skew)
	iv.Latest += int64(c.Skew)
	return iv
}

// WaitUntilAfter implements Clock.
func (c SkewedClock) WaitUntilAfter(ctx context.Context, t int64) error {
	return c.Clock.WaitUntilAfter(ctx, t-int64(c.Skew))
}
