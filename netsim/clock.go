package netsim

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is the time source of a Network. Delivery times are computed from
// Now and waited for with AfterFunc, so that tests can substitute a
// ManualClock and step through delays without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once d has elapsed: RealClock in a goroutine of
	// its own, ManualClock inside the Advance that passes the deadline (so
	// f must not wait for the goroutine that advances). Stop on the
	// returned Timer cancels the call if it has not happened.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not happened and reports whether it
	// did so.
	Stop() bool
}

// RealClock is the wall clock (with Go's monotonic reading).
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc implements Clock.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Sleep waits until d has elapsed on c or ctx is done, whichever is first,
// and returns ctx's error in the latter case. A non-positive d returns at
// once without touching the clock.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	done := make(chan struct{})
	t := c.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// ManualClock is a Clock that moves only when told to. Timers fire, in
// deadline order, during the Advance that reaches their deadline.
type ManualClock struct {
	mu struct {
		sync.Mutex
		now     time.Time
		timers  []*manualTimer
		created int
	}
	changed chan struct{} // closed and replaced whenever a timer is added
}

type manualTimer struct {
	c  *ManualClock
	at time.Time
	f  func()
}

// NewManualClock returns a clock reading start.
func NewManualClock(start time.Time) *ManualClock {
	c := &ManualClock{changed: make(chan struct{})}
	c.mu.now = start
	return c
}

// Now implements Clock.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.now
}

// AfterFunc implements Clock. A non-positive d fires at the next Advance.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.mu.now.Add(d), f: f}
	c.mu.timers = append(c.mu.timers, t)
	c.mu.created++
	close(c.changed)
	c.changed = make(chan struct{})
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, o := range t.c.mu.timers {
		if o == t {
			t.c.mu.timers = append(t.c.mu.timers[:i], t.c.mu.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock forward by d and runs the timers that became due,
// each synchronously and in deadline order, with the clock reading the
// timer's deadline while it runs (so that work it schedules is timed from
// there).
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.mu.now.Add(d)
	for {
		sort.SliceStable(c.mu.timers, func(i, j int) bool { return c.mu.timers[i].at.Before(c.mu.timers[j].at) })
		if len(c.mu.timers) == 0 || c.mu.timers[0].at.After(end) {
			break
		}
		t := c.mu.timers[0]
		c.mu.timers = c.mu.timers[1:]
		if t.at.After(c.mu.now) {
			c.mu.now = t.at
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.mu.now = end
	c.mu.Unlock()
}

// Pending is the number of timers that have not fired or been stopped.
func (c *ManualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.timers)
}

// Created is the number of timers ever created: tests use it to show that a
// path costs no timer.
func (c *ManualClock) Created() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.created
}

// WaitPending blocks until at least n timers are pending or ctx is done:
// tests wait for a delivery to be scheduled before advancing past it.
func (c *ManualClock) WaitPending(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		pending, ch := len(c.mu.timers), c.changed
		c.mu.Unlock()
		if pending >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
