package truetime

import (
	"sync"
	"time"
)

// ManualClock is a simulated machine for tests: it keeps a reference true
// time that only the test moves (Advance), a local monotonic clock derived
// from it with an offset and a drift rate (what TrueTime reads), and a wall
// clock that follows true time except for steps (what single-machine mode
// samples).
// Timers fire on the local clock. With SimMaster and Exchange it produces the
// NTP exchanges that a set of honest, noisy or lying time masters would give,
// so tests can check that every TrueTime interval contains True().
//
// It is safe for concurrent use.
type ManualClock struct {
	mu struct {
		sync.Mutex
		trueNanos int64
		// The local clock is localBase + (true − trueBase)·(1 + driftPPB/1e9);
		// changing the drift rebases so that the clock stays continuous.
		trueBase, localBase int64
		driftPPB            int64
		wallError           int64
		timers              []*manualTimer
	}
}

var _ Clock = (*ManualClock)(nil)
var _ WallClock = (*ManualClock)(nil)

// NewManualClock returns a clock whose true time and wall clock read
// trueNanos and whose local clock reads trueNanos + localOffset.
func NewManualClock(trueNanos int64, localOffset time.Duration) *ManualClock {
	c := &ManualClock{}
	c.mu.trueNanos = trueNanos
	c.mu.trueBase = trueNanos
	c.mu.localBase = trueNanos + int64(localOffset)
	return c
}

func (c *ManualClock) localLocked(trueNanos int64) int64 {
	d := trueNanos - c.mu.trueBase
	// Split to avoid overflow of d·driftPPB for long runs.
	adj := (d/1e9)*c.mu.driftPPB + (d%1e9)*c.mu.driftPPB/1e9
	return c.mu.localBase + d + adj
}

// Now returns the local clock reading.
func (c *ManualClock) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localLocked(c.mu.trueNanos)
}

// True returns the reference true time.
func (c *ManualClock) True() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.trueNanos
}

// Wall returns the wall clock. It is modelled as a clock disciplined by the
// host's NTP daemon: true time plus the sum of its steps (JumpWall).
func (c *ManualClock) Wall() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.trueNanos + c.mu.wallError
}

// SetDriftPPB sets the rate error of the local clock in parts per billion
// (positive: the local clock runs fast). The clock stays continuous.
func (c *ManualClock) SetDriftPPB(ppb int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.localBase = c.localLocked(c.mu.trueNanos)
	c.mu.trueBase = c.mu.trueNanos
	c.mu.driftPPB = ppb
}

// JumpWall steps the wall clock by d (as an administrator or a daemon
// stepping the system clock would); the monotonic local clock does not move.
func (c *ManualClock) JumpWall(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.wallError += int64(d)
}

// JumpLocal steps the local monotonic clock by d. Real monotonic clocks do
// not do this; tests use it to show what TrueTime cannot defend against.
func (c *ManualClock) JumpLocal(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.localBase += int64(d)
	c.fireLocked()
}

// Advance moves true time forward by d (d ≥ 0) and fires due timers.
func (c *ManualClock) Advance(d time.Duration) {
	if d < 0 {
		panic("truetime: ManualClock.Advance with negative duration")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.trueNanos += int64(d)
	c.fireLocked()
}

func (c *ManualClock) fireLocked() {
	now := c.localLocked(c.mu.trueNanos)
	kept := c.mu.timers[:0]
	for _, t := range c.mu.timers {
		if t.deadline <= now {
			t.c <- struct{}{}
			continue
		}
		kept = append(kept, t)
	}
	for i := len(kept); i < len(c.mu.timers); i++ {
		c.mu.timers[i] = nil
	}
	c.mu.timers = kept
}

// PendingTimers returns the number of timers not yet fired or stopped; tests
// use it to wait until a goroutine is blocked on the clock.
func (c *ManualClock) PendingTimers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.timers)
}

// NewTimer returns a timer firing when the local clock has advanced by d.
func (c *ManualClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{clock: c, c: make(chan struct{}, 1), deadline: c.localLocked(c.mu.trueNanos) + int64(d)}
	if d <= 0 {
		t.c <- struct{}{}
		return t
	}
	c.mu.timers = append(c.mu.timers, t)
	return t
}

type manualTimer struct {
	clock    *ManualClock
	c        chan struct{}
	deadline int64
}

func (t *manualTimer) C() <-chan struct{} { return t.c }

func (t *manualTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.mu.timers {
		if o == t {
			c.mu.timers = append(c.mu.timers[:i], c.mu.timers[i+1:]...)
			return true
		}
	}
	return false
}

// SimMaster describes a simulated time master: its clock reads true time
// plus Error, and it declares Uncertainty. It is honest when |Error| ≤
// Uncertainty and lying otherwise.
type SimMaster struct {
	Error       time.Duration
	Uncertainty time.Duration
}

// Honest reports whether the master's declared uncertainty covers its error.
func (m SimMaster) Honest() bool {
	e := m.Error
	if e < 0 {
		e = -e
	}
	return e <= m.Uncertainty
}

// Exchange simulates one NTP round trip with m: the request takes out to
// arrive, the master holds it for proc, the reply takes back to return. True
// time advances by out+proc+back (firing timers); the result carries the
// local readings at send and receive and the master's readings in between.
func (c *ManualClock) Exchange(m SimMaster, out, proc, back time.Duration) Exchange {
	x := Exchange{T1: c.Now(), RootDispersion: m.Uncertainty}
	c.Advance(out)
	x.T2 = c.True() + int64(m.Error)
	c.Advance(proc)
	x.T3 = c.True() + int64(m.Error)
	c.Advance(back)
	x.T4 = c.Now()
	return x
}
