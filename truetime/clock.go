package truetime

import "time"

// Clock is the local clock TrueTime reads. Its readings are nanoseconds on
// the Unix epoch scale, but they need not be correct: TrueTime learns the
// offset from its time sources. What it must promise is rate: between any two
// readings the clock advanced by the true elapsed time within the assumed
// maximum drift (Options.MaxDriftPPM), and it never goes backwards. A wall
// clock that an administrator or a daemon can step breaks that promise; use a
// monotonic clock (SystemClock does).
//
// Implementations must be safe for concurrent use. Now is on the path of
// every transaction and must not allocate.
type Clock interface {
	// Now returns the current local reading in nanoseconds.
	Now() int64
	// NewTimer returns a timer that fires once the local clock has advanced
	// by at least d. The caller must Stop it if it gives up waiting.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer created by a Clock.
type Timer interface {
	// C returns the channel that receives one value when the timer fires.
	C() <-chan struct{}
	// Stop prevents the timer from firing; it reports whether it did so.
	Stop() bool
}

// WallClock is implemented by clocks that can also read the (steppable)
// system wall clock. Single-machine mode samples it as its only time source.
type WallClock interface {
	// Wall returns the wall-clock time in nanoseconds since the Unix epoch.
	Wall() int64
}

// SystemClock returns the production clock: the process's monotonic clock,
// placed on the Unix epoch scale by one reading of the wall clock at
// creation. Steps of the system wall clock after that do not move it; its
// rate is the kernel's, whose error the drift bound must cover.
func SystemClock() Clock {
	start := time.Now()
	return &systemClock{start: start, startWall: start.UnixNano()}
}

type systemClock struct {
	start     time.Time // carries the monotonic reading
	startWall int64
}

var _ WallClock = (*systemClock)(nil)

// Now costs one monotonic clock read (time.Since uses only the monotonic
// reading of start).
func (c *systemClock) Now() int64 { return c.startWall + int64(time.Since(c.start)) }

func (c *systemClock) Wall() int64 { return time.Now().UnixNano() }

func (c *systemClock) NewTimer(d time.Duration) Timer {
	t := &systemTimer{c: make(chan struct{}, 1)}
	t.t = time.AfterFunc(d, func() { t.c <- struct{}{} })
	return t
}

type systemTimer struct {
	t *time.Timer
	c chan struct{}
}

func (t *systemTimer) C() <-chan struct{} { return t.c }
func (t *systemTimer) Stop() bool         { return t.t.Stop() }
