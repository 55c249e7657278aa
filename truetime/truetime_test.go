package truetime

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
)

// waitFor polls cond until it holds or a generous deadline passes; it
// yields the processor between checks instead of sleeping.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// syncedClock returns a TrueTime over a manual clock, synced once with three
// honest masters of uncertainty u and zero round trip.
func syncedClock(t *testing.T, u time.Duration, opts Options) (*ManualClock, *TrueTime) {
	t.Helper()
	clock := NewManualClock(simStart, 0)
	opts.Masters = simMasters
	tt, err := New(clock, opts)
	if err != nil {
		t.Fatal(err)
	}
	pollAll(t, clock, tt, SimMaster{Uncertainty: u}, SimMaster{Uncertainty: u}, SimMaster{Uncertainty: u})
	return clock, tt
}

func pollAll(t *testing.T, clock *ManualClock, tt *TrueTime, masters ...SimMaster) {
	t.Helper()
	for i, m := range masters {
		if err := tt.Observe(i, clock.Exchange(m, 0, 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	tt.Sync()
}

func TestUnsyncedClock(t *testing.T) {
	clock := NewManualClock(simStart, 0)
	tt, err := New(clock, Options{Masters: simMasters})
	if err != nil {
		t.Fatal(err)
	}
	iv := tt.Now()
	if iv.Known() || !iv.Contains(simStart) || tt.Synced() {
		t.Fatalf("unsynced clock must know nothing: %+v", iv)
	}
	if tt.After(0) || tt.Before(simStart*2) {
		t.Fatal("unsynced clock must not order anything")
	}
	err = tt.CheckCommit()
	if !errors.Is(err, ErrCommitFenced) || !errors.Is(err, ErrNotSynced) {
		t.Fatalf("CheckCommit before sync: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tt.WaitSynced(ctx) }()
	pollAll(t, clock, tt, SimMaster{}, SimMaster{}, SimMaster{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := tt.CheckCommit(); err != nil {
		t.Fatal(err)
	}
}

// TestEpsilonGrowsAndFences: without polls ε grows by the drift bound until
// it passes MaxEpsilon; commits are then refused with an error that says what
// to do, and accepted again after a good round.
func TestEpsilonGrowsAndFences(t *testing.T) {
	clock, tt := syncedClock(t, time.Millisecond, Options{MaxEpsilon: 10 * time.Millisecond})
	if eps := tt.Epsilon(); eps < time.Millisecond || eps > time.Millisecond+10 {
		t.Fatalf("ε right after sync = %s, want ≈1ms", eps)
	}
	// 200 ppm: 9ms of widening takes 45s.
	clock.Advance(44 * time.Second)
	if err := tt.CheckCommit(); err != nil {
		t.Fatalf("ε %s under the limit, yet: %v", tt.Epsilon(), err)
	}
	clock.Advance(2 * time.Second)
	err := tt.CheckCommit()
	if !errors.Is(err, ErrCommitFenced) {
		t.Fatalf("ε %s over the limit, yet CheckCommit = %v", tt.Epsilon(), err)
	}
	if msg := err.Error(); !strings.Contains(msg, "max epsilon") || !strings.Contains(msg, "time masters") {
		t.Fatalf("fence error does not say what to do: %s", msg)
	}
	if st := tt.Status(); !st.Fenced || st.Epsilon <= 10*time.Millisecond {
		t.Fatalf("status does not report the fence: %+v", st)
	}
	pollAll(t, clock, tt, SimMaster{Uncertainty: time.Millisecond}, SimMaster{Uncertainty: time.Millisecond}, SimMaster{Uncertainty: time.Millisecond})
	if err := tt.CheckCommit(); err != nil {
		t.Fatalf("after resync: %v", err)
	}
}

// TestCommitWait: WaitUntilAfter(t) returns only once Earliest > t. The
// test advances the manual clock in small steps while the waiter is blocked
// on a timer and checks the interval each time the waiter returns.
func TestCommitWait(t *testing.T) {
	clock, tt := syncedClock(t, 3*time.Millisecond, Options{})
	s := tt.Now().Latest // a commit timestamp
	if tt.After(s) {
		t.Fatal("commit timestamp already in the past")
	}
	done := make(chan Interval, 1)
	go func() {
		if err := tt.WaitUntilAfter(context.Background(), s); err != nil {
			t.Error(err)
		}
		done <- tt.Now()
	}()
	steps := 0
	for {
		waitFor(t, "waiter blocked or done", func() bool { return clock.PendingTimers() == 1 || len(done) == 1 })
		select {
		case iv := <-done:
			if iv.Earliest <= s {
				t.Fatalf("WaitUntilAfter returned with Earliest %d ≤ %d", iv.Earliest, s)
			}
			if steps == 0 {
				t.Fatal("returned without waiting")
			}
			t.Logf("commit wait took %d steps of 250µs, ε %s", steps, iv.Epsilon())
			return
		default:
		}
		if tt.After(s) {
			// Earliest passed s; the waiter's timer is due now.
			clock.Advance(0)
		}
		clock.Advance(250 * time.Microsecond)
		steps++
		if steps > 100 {
			t.Fatal("commit wait did not finish after 25ms for ε=3ms")
		}
	}
}

// TestCommitWaitWokenBySync: a sync that raises Earliest ends the wait
// without the clock advancing to the timer's deadline.
func TestCommitWaitWokenBySync(t *testing.T) {
	clock, tt := syncedClock(t, 50*time.Millisecond, Options{})
	s := tt.Now().Earliest + int64(10*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- tt.WaitUntilAfter(context.Background(), s) }()
	waitFor(t, "waiter blocked", func() bool { return clock.PendingTimers() == 1 })
	clock.Advance(11 * time.Millisecond)
	// Tighter masters: Earliest jumps close to true time, past s.
	pollAll(t, clock, tt, SimMaster{}, SimMaster{}, SimMaster{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !tt.After(s) {
		t.Fatal("returned before Earliest passed s")
	}
}

func TestCommitWaitCancelled(t *testing.T) {
	clock, tt := syncedClock(t, time.Millisecond, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tt.WaitUntilAfter(ctx, tt.Now().Latest+int64(time.Hour)) }()
	waitFor(t, "waiter blocked", func() bool { return clock.PendingTimers() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	waitFor(t, "timer stopped", func() bool { return clock.PendingTimers() == 0 })
}

// TestNowMonotonicAcrossSyncs: a new agreement may lower Latest or Earliest
// (it is not intersected with the old estimate), but Now never goes back,
// even with concurrent readers.
func TestNowMonotonicAcrossSyncs(t *testing.T) {
	clock, tt := syncedClock(t, 5*time.Millisecond, Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := tt.Now()
			for {
				select {
				case <-stop:
					return
				default:
				}
				iv := tt.Now()
				if iv.Earliest < last.Earliest || iv.Latest < last.Latest {
					t.Errorf("Now went back: %+v after %+v", iv, last)
					return
				}
				last = iv
			}
		}()
	}
	for i := range 200 {
		clock.Advance(time.Millisecond)
		// Alternate tight and loose, high and low masters within their
		// uncertainty, so the agreement moves both ways.
		e := time.Duration(i%5-2) * time.Millisecond
		u := time.Duration(2+i%3) * time.Millisecond
		pollAll(t, clock, tt, SimMaster{Error: e, Uncertainty: u}, SimMaster{Error: e, Uncertainty: u}, SimMaster{Error: -e, Uncertainty: u})
	}
	close(stop)
	wg.Wait()
}

// TestLostMastersDegradeNotBreak: with one master dead and one lying, the
// dead one's last sample keeps voting until SourceTimeout; then the two
// remaining cannot outvote each other, the agreement is the hull of both,
// and ε exceeds MaxEpsilon: commits are fenced, the interval stays correct.
func TestLostMastersDegradeNotBreak(t *testing.T) {
	clock, tt := syncedClock(t, time.Millisecond, Options{})
	honest := SimMaster{Error: 200 * time.Microsecond, Uncertainty: time.Millisecond}
	liar := SimMaster{Error: 500 * time.Millisecond, Uncertainty: time.Millisecond}
	for range 30 {
		clock.Advance(time.Second)
		tt.Fail(0, DropUnreachable, errors.New("killed"))
		for i, m := range []SimMaster{honest, liar} {
			if err := tt.Observe(i+1, clock.Exchange(m, time.Millisecond, 0, 2*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		tt.Sync()
		if iv := tt.Now(); !iv.Contains(clock.True()) {
			t.Fatalf("interval %+v misses true time %d", iv, clock.True())
		}
		st := tt.Status()
		if st.Sources[0].Reachable {
			if !st.Sources[2].Outvoted || st.Fenced {
				t.Fatalf("while the dead master's sample votes, the liar is outvoted and commits go on: %+v", st)
			}
		}
	}
	st := tt.Status()
	if st.Sources[0].Reachable || st.Sources[0].Dropped["unreachable"] != 30 {
		t.Fatalf("dead master: %+v", st.Sources[0])
	}
	if !st.Fenced || st.Epsilon < 250*time.Millisecond {
		t.Fatalf("one honest and one liar left: want ε ≥ 250ms and fenced, got %+v", st)
	}
	if !errors.Is(tt.CheckCommit(), ErrCommitFenced) {
		t.Fatal("commits not fenced")
	}
	t.Logf("ε with one honest and one lying master left: %s", st.Epsilon)
}

// TestSingleMachineMode: no masters; the wall clock is the source. Wander
// within LocalUncertainty is fine; a step of the wall clock beyond the
// carried interval is detected, fenced, and Now stays monotonic and correct.
func TestSingleMachineMode(t *testing.T) {
	for _, jump := range []time.Duration{10 * time.Second, -10 * time.Second} {
		t.Run(jump.String(), func(t *testing.T) {
			clock := NewManualClock(simStart, 3*time.Second)
			clock.SetDriftPPB(150_000)
			tt, err := New(clock, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			last := unknownInterval
			violations := int64(0)
			step := func() {
				tt.PollOnce(ctx)
				iv := tt.Now()
				if !iv.Contains(clock.True()) {
					t.Fatalf("interval %+v misses true time %d", iv, clock.True())
				}
				// Latest never goes back; Earliest only when a violation
				// was just detected.
				v := tt.Status().Violations
				if last.Known() && (iv.Latest < last.Latest || (iv.Earliest < last.Earliest && v == violations)) {
					t.Fatalf("Now went back: %+v after %+v", iv, last)
				}
				violations = v
				last = iv
				clock.Advance(time.Second)
			}
			for range 10 {
				step()
			}
			if err := tt.CheckCommit(); err != nil {
				t.Fatal(err)
			}
			if st := tt.Status(); st.Mode != "local-clock" || st.Sources[0].Address != LocalSource ||
				st.Epsilon > time.Millisecond+300*time.Microsecond {
				t.Fatalf("status %+v", st)
			}
			clock.JumpWall(jump)
			step()
			st := tt.Status()
			if st.Violations != 1 || !errors.Is(tt.CheckCommit(), ErrCommitFenced) {
				t.Fatalf("wall clock step of %s not detected: %+v", jump, st)
			}
			t.Logf("detected: %s", st.LastViolation)
		})
	}
}

// fakeQuerier answers from simulated masters over a manual clock.
type fakeQuerier struct {
	clock   *ManualClock
	mu      sync.Mutex
	masters map[string]SimMaster
	fail    map[string]DropReason
}

func (q *fakeQuerier) Query(ctx context.Context, src string) (Exchange, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r, ok := q.fail[src]; ok {
		return Exchange{}, &QueryError{Reason: r, Err: errors.New("simulated")}
	}
	return q.clock.Exchange(q.masters[src], 0, 0, 0), nil
}

// TestRunPolls drives Run with a manual clock: each PollInterval of local
// time is one round, failures are counted by reason.
func TestRunPolls(t *testing.T) {
	clock := NewManualClock(simStart, 0)
	q := &fakeQuerier{clock: clock, masters: map[string]SimMaster{
		"m0": {Uncertainty: time.Millisecond}, "m1": {Uncertainty: time.Millisecond}, "m2": {},
	}, fail: map[string]DropReason{"m2": DropOriginMismatch}}
	tt, err := New(clock, Options{Masters: simMasters, TestingKnobs: TestingKnobs{Querier: q}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tt.Run(ctx) }()
	for round := int64(1); round <= 5; round++ {
		waitFor(t, "poller waiting for the next round", func() bool {
			return clock.PendingTimers() == 1 && tt.Status().Rounds == round
		})
		clock.Advance(time.Second)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := tt.Status()
	if !st.Synced || st.Sources[2].Dropped["origin_mismatch"] < 5 || st.Sources[0].Accepted < 5 {
		t.Fatalf("status after 5 rounds: %+v", st)
	}
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]Options{
		"duplicate master":  {Masters: []string{"a:1", "a:1"}},
		"reserved name":     {Masters: []string{LocalSource}},
		"timeout too long":  {SourceTimeout: 10 * time.Second, QueryTimeout: 10 * time.Second},
		"negative drift":    {MaxDriftPPM: -1},
		"bad outlier":       {RTTOutlierFactor: 0.5},
		"list in one entry": {Masters: []string{"a:1,b:2"}},
	} {
		o.EnsureDefaults()
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, o)
		}
	}
	var o Options
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.PollInterval != 250*time.Millisecond || o.QueryTimeout != 500*time.Millisecond || o.SourceTimeout != 10*time.Second || o.MaxDriftPPM != 200 || o.MaxEpsilon != 250*time.Millisecond || o.LocalUncertainty != time.Millisecond {
		t.Fatalf("defaults: %+v", o)
	}
	if got := ParseMasters(" a:1, ,b:2,"); len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("ParseMasters: %q", got)
	}
}

// TestLocalClockJumpDetected: the local clock TrueTime reads must be
// monotonic; if it steps anyway, Now is wrong until the next poll, which
// detects the step (the masters disagree with the carried interval), counts
// a violation, fences commits and restores an interval containing true
// time. This is why SystemClock reads the monotonic clock, never the wall
// clock.
func TestLocalClockJumpDetected(t *testing.T) {
	for _, jump := range []time.Duration{50 * time.Millisecond, -50 * time.Millisecond} {
		t.Run(jump.String(), func(t *testing.T) {
			clock, tt := syncedClock(t, time.Millisecond, Options{})
			clock.Advance(time.Second)
			clock.JumpLocal(jump)
			if tt.Now().Contains(clock.True()) {
				t.Fatal("a 50ms step of the local clock should put Now off true time until the next poll")
			}
			honest := SimMaster{Uncertainty: time.Millisecond}
			pollAll(t, clock, tt, honest, honest, honest)
			st := tt.Status()
			if st.Violations != 1 || !errors.Is(tt.CheckCommit(), ErrCommitFenced) {
				t.Fatalf("step not detected: %+v", st)
			}
			// Earliest steps back if it has to (the step made it too
			// late): after a detected violation a correct bound matters
			// more than a monotonic one.
			if iv := tt.Now(); !iv.Contains(clock.True()) {
				t.Fatalf("after detection the interval misses true time by %s", missBy(iv, clock.True()))
			}
		})
	}
}
