package truetime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
)

// TrueTime is an interval clock: Now returns an interval that contains true
// time, kept tight by polling time sources (Run) and widened by the drift
// bound between polls. Now, After, Before, CheckCommit and WaitUntilAfter
// are safe for concurrent use and take no lock.
//
// Lock order: mu, then (inside publish) nothing; readers take no lock.
type TrueTime struct {
	clock   Clock
	opts    Options
	sources []string
	querier Querier

	// state is the estimate readers use; replaced (never mutated) under mu.
	state atomic.Pointer[published]

	// latestFloor makes Latest monotonic across all callers: Now returns
	// the maximum of the computed Latest and every one returned before. That
	// is always safe: a larger upper bound is still an upper bound.
	latestFloor atomic.Int64

	mu struct {
		sync.Mutex
		syncer *Syncer
	}
}

// published is an immutable snapshot of what readers need.
type published struct {
	est         estimate
	driftPPM    int64
	fencedUntil int64
	violation   string
	// changed is closed when a newer snapshot replaces this one, waking
	// commit waits that might now finish earlier.
	changed chan struct{}
	// earliestFloor makes Earliest monotonic the same way: an Earliest
	// returned before was below true time then, and true time only grew.
	// That holds while the clock's assumptions hold; when a violation is
	// detected, an Earliest returned before may have been too late, so the
	// new snapshot gets a fresh floor and Earliest may step back once, to a
	// bound that is correct again (commits are fenced meanwhile). A reader
	// still using an old snapshot can only raise the old floor, which no
	// newer reader consults.
	earliestFloor *atomic.Int64
}

// New returns a TrueTime reading clock, configured by opts (defaults are
// filled in on a copy). It is unsynchronised until the first successful
// round: call Run (usually in its own goroutine) and WaitSynced.
func New(clock Clock, opts Options) (*TrueTime, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.Masters = append([]string(nil), opts.Masters...)
	tt := &TrueTime{clock: clock, opts: opts, sources: opts.Masters}
	switch {
	case opts.TestingKnobs.Querier != nil:
		tt.querier = opts.TestingKnobs.Querier
	case len(opts.Masters) > 0:
		tt.querier = &NTPQuerier{Clock: clock, Timeout: opts.QueryTimeout}
	default:
		wall, ok := clock.(WallClock)
		if !ok {
			return nil, errors.New("truetime: single-machine mode needs a clock that can read the wall clock (WallClock)")
		}
		tt.querier = &localQuerier{clock: clock, wall: wall, uncertainty: opts.LocalUncertainty}
	}
	if len(tt.sources) == 0 {
		tt.sources = []string{LocalSource}
	}
	tt.mu.syncer = NewSyncer(tt.sources, opts)
	tt.latestFloor.Store(unknownInterval.Earliest)
	tt.state.Store(&published{driftPPM: tt.mu.syncer.driftPPM, changed: make(chan struct{}), earliestFloor: newFloor()})
	return tt, nil
}

// Options returns the options in force (with defaults filled in).
func (tt *TrueTime) Options() Options { return tt.opts }

// Sources returns the configured source names, in Status order.
func (tt *TrueTime) Sources() []string { return append([]string(nil), tt.sources...) }

func newFloor() *atomic.Int64 {
	f := new(atomic.Int64)
	f.Store(unknownInterval.Earliest)
	return f
}

// Now returns an interval containing true time. Before the first
// synchronisation it is the whole int64 range (Known is false). Neither end
// ever decreases across calls, with one exception: when the clock detects
// that its assumptions broke (a violation, see Status), Earliest may step
// back once to a correct bound. It does not allocate or lock.
func (tt *TrueTime) Now() Interval {
	p := tt.state.Load()
	iv := p.est.at(tt.clock.Now(), p.driftPPM)
	if !p.est.synced {
		return iv
	}
	iv.Earliest = raiseTo(p.earliestFloor, iv.Earliest)
	iv.Latest = raiseTo(&tt.latestFloor, iv.Latest)
	// Only possible while the assumptions are broken but not yet detected
	// (an Earliest from before is above the current estimate).
	if iv.Latest < iv.Earliest {
		iv.Latest = iv.Earliest
	}
	return iv
}

// raiseTo returns max(v, *floor) and raises the floor to it.
func raiseTo(floor *atomic.Int64, v int64) int64 {
	for {
		f := floor.Load()
		if v <= f {
			return f
		}
		if floor.CompareAndSwap(f, v) {
			return v
		}
	}
}

// After reports whether true time is certainly after t (Now().Earliest > t).
func (tt *TrueTime) After(t int64) bool { return tt.Now().Earliest > t }

// Before reports whether true time is certainly before t (Now().Latest < t).
func (tt *TrueTime) Before(t int64) bool { return tt.Now().Latest < t }

// Epsilon returns the current ε, half the width of Now.
func (tt *TrueTime) Epsilon() time.Duration { return tt.Now().Epsilon() }

// Offset returns the estimated true time minus the local clock (the
// midpoint of the estimate); 0 before the first synchronisation.
func (tt *TrueTime) Offset() time.Duration {
	e := tt.state.Load().est
	return time.Duration(e.lo + (e.hi-e.lo)/2)
}

// Synced reports whether the clock has agreed with its sources at least once.
func (tt *TrueTime) Synced() bool { return tt.state.Load().est.synced }

// WaitUntilAfter blocks until Now().Earliest > t (commit wait), the context
// is done (returning its error), or never if the clock never synchronises.
// It sleeps on the clock's timers for the computed remaining time and wakes
// early when a new synchronisation may have raised Earliest.
func (tt *TrueTime) WaitUntilAfter(ctx context.Context, t int64) error {
	for {
		p := tt.state.Load()
		iv := tt.Now()
		if iv.Earliest > t {
			return nil
		}
		var timer Timer
		var fire <-chan struct{}
		if iv.Known() {
			// Earliest grows at least at rate 1−ρ of the local clock.
			need := float64(t-iv.Earliest+1) / (1 - float64(p.driftPPM)/1e6)
			timer = tt.clock.NewTimer(time.Duration(need) + 1)
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		case <-p.changed:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// WaitSynced blocks until the clock has synchronised or ctx is done. A node
// calls it before serving read-write transactions.
func (tt *TrueTime) WaitSynced(ctx context.Context) error {
	for {
		p := tt.state.Load()
		if p.est.synced {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.changed:
		}
	}
}

// CheckCommit returns nil when a read-write transaction may pick a commit
// timestamp now, and otherwise an error marked ErrCommitFenced that says why
// and what to do: the clock has not synchronised yet, ε exceeds MaxEpsilon,
// or a violation of the clock's assumptions was detected less than
// ViolationFence ago. Reads at past timestamps need no check.
func (tt *TrueTime) CheckCommit() error {
	p := tt.state.Load()
	return tt.fence(p, tt.clock.Now(), tt.Now())
}

func (tt *TrueTime) fence(p *published, now int64, iv Interval) error {
	// The messages say what to do: callers print them to users as is.
	if !p.est.synced {
		return errors.Mark(errors.Wrapf(ErrNotSynced,
			"read-write commits are refused until it has; check that the time masters %v are running and reachable "+
				"(reads at past timestamps work meanwhile)", tt.sources),
			ErrCommitFenced)
	}
	if now < p.fencedUntil {
		return errors.Mark(errors.Newf(
			"truetime: read-write commits refused for another %s after a clock violation (%s); "+
				"check the time masters and this host's clock, commits resume by themselves when the fence expires",
			time.Duration(p.fencedUntil-now), p.violation),
			ErrCommitFenced)
	}
	if eps := iv.Epsilon(); eps > tt.opts.MaxEpsilon {
		return errors.Mark(errors.Newf(
			"truetime: clock uncertainty ε=%s exceeds max epsilon %s (last agreement with the time sources %s ago); "+
				"read-write commits are refused until the clock resynchronises: check that a majority of the time masters "+
				"%v are reachable and agree, or raise --max-epsilon (reads at past timestamps work meanwhile)",
			eps, tt.opts.MaxEpsilon, time.Duration(now-p.est.anchor), tt.sources),
			ErrCommitFenced)
	}
	return nil
}

// Observe feeds an exchange with source src (an index into Sources) to the
// core; see Syncer.Observe. Together with Fail and Sync it lets tests and
// custom pollers drive the clock without Run.
func (tt *TrueTime) Observe(src int, x Exchange) error {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.mu.syncer.Observe(src, x)
}

// Fail records a failed exchange with source src.
func (tt *TrueTime) Fail(src int, reason DropReason, err error) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.mu.syncer.Fail(src, reason, err)
}

// Sync runs one agreement round at the current local reading and publishes
// the result to readers.
func (tt *TrueTime) Sync() {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.syncLocked()
}

func (tt *TrueTime) syncLocked() {
	s := tt.mu.syncer
	violations := s.violations
	s.Sync(tt.clock.Now())
	old := tt.state.Load()
	next := &published{
		est:           s.est,
		driftPPM:      s.driftPPM,
		fencedUntil:   s.fencedUntil,
		violation:     s.lastViolation,
		changed:       make(chan struct{}),
		earliestFloor: old.earliestFloor,
	}
	if s.violations != violations {
		next.earliestFloor = newFloor()
	}
	tt.state.Store(next)
	close(old.changed)
}

// Status returns a snapshot for status pages and metrics.
func (tt *TrueTime) Status() Status {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	p := tt.state.Load()
	now := tt.clock.Now()
	iv := tt.Now()
	return tt.mu.syncer.status(now, iv, tt.fence(p, now, iv))
}
