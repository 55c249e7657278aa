package truetime

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"pgregory.net/rapid"
)

// The property tests drive a TrueTime over a simulated machine
// (ManualClock) and three simulated time masters, feeding it exchanges
// through Observe/Fail/Sync exactly as the poller does, and compare every
// interval it returns with the simulation's reference true time.

const simStart = int64(1_795_000_000) * 1e9 // 2026-11-18, a realistic epoch reading

var simMasters = []string{"m0", "m1", "m2"}

// scenario is the generated world: the local clock's offset and drift, the
// masters' errors and declared uncertainties, which one lies and the network
// delays of each exchange.
type scenario struct {
	t       *rapid.T
	clock   *ManualClock
	tt      *TrueTime
	masters []SimMaster
	liar    int
	// maxDelay bounds each one-way network delay.
	maxDelay time.Duration
	last     Interval
	// acceptedAt is, per master, the true time of its last sample the
	// clock accepted (0: none yet).
	acceptedAt []int64
	// lenient: poll does not check containment (drift beyond the bound
	// makes misses legitimate until detected).
	lenient bool
}

func newScenario(t *rapid.T, driftPPB int64, knobs TestingKnobs, maxUncertainty, maxDelay time.Duration, allowLiar bool) *scenario {
	localOffset := time.Duration(rapid.Int64Range(-1e9, 1e9).Draw(t, "localOffset"))
	clock := NewManualClock(simStart, localOffset)
	clock.SetDriftPPB(driftPPB)
	sc := &scenario{t: t, clock: clock, liar: -1, maxDelay: maxDelay, last: unknownInterval, acceptedAt: make([]int64, len(simMasters))}
	for i := range simMasters {
		u := time.Duration(rapid.Int64Range(0, int64(maxUncertainty)).Draw(t, fmt.Sprintf("u%d", i)))
		e := time.Duration(rapid.Int64Range(-int64(u), int64(u)).Draw(t, fmt.Sprintf("err%d", i)))
		sc.masters = append(sc.masters, SimMaster{Error: e, Uncertainty: u})
	}
	if allowLiar {
		sc.liar = rapid.IntRange(-1, len(simMasters)-1).Draw(t, "liar")
		if sc.liar >= 0 {
			m := &sc.masters[sc.liar]
			lie := time.Duration(rapid.Int64Range(int64(m.Uncertainty)+1000, 1e9).Draw(t, "lie"))
			if rapid.Bool().Draw(t, "lieNegative") {
				lie = -lie
			}
			m.Error = lie
		}
	}
	tt, err := New(clock, Options{Masters: simMasters, TestingKnobs: knobs})
	if err != nil {
		t.Fatal(err)
	}
	sc.tt = tt
	return sc
}

// poll runs one round: each master is queried (or fails) with random
// asymmetric delays, then the round is synced.
func (sc *scenario) poll(dropProbPercent int) {
	for i, m := range sc.masters {
		if rapid.IntRange(0, 99).Draw(sc.t, "drop") < dropProbPercent {
			sc.tt.Fail(i, DropUnreachable, errors.New("simulated loss"))
			continue
		}
		out := time.Duration(rapid.Int64Range(0, int64(sc.maxDelay)).Draw(sc.t, "out"))
		back := time.Duration(rapid.Int64Range(0, int64(sc.maxDelay)).Draw(sc.t, "back"))
		proc := time.Duration(rapid.Int64Range(0, int64(time.Millisecond)).Draw(sc.t, "proc"))
		if sc.tt.Observe(i, sc.clock.Exchange(m, out, proc, back)) == nil {
			sc.acceptedAt[i] = sc.clock.True()
		}
		if !sc.lenient {
			sc.check()
		}
	}
	sc.tt.Sync()
}

// check asserts that Now contains true time and is monotonic.
func (sc *scenario) check() {
	iv := sc.tt.Now()
	truth := sc.clock.True()
	if !iv.Contains(truth) {
		sc.t.Fatalf("interval [%d, %d] (ε %s) does not contain true time %d (off by %s); status %+v",
			iv.Earliest, iv.Latest, iv.Epsilon(), truth, missBy(iv, truth), sc.tt.Status())
	}
	if sc.last.Known() && (iv.Earliest < sc.last.Earliest || iv.Latest < sc.last.Latest) {
		sc.t.Fatalf("Now went backwards: %+v after %+v", iv, sc.last)
	}
	sc.last = iv
}

func missBy(iv Interval, truth int64) time.Duration {
	if truth < iv.Earliest {
		return time.Duration(iv.Earliest - truth)
	}
	return time.Duration(truth - iv.Latest)
}

// withinBoundProperty: offsets of ±1s, drift within the bound (and changing),
// asymmetric delays, steps of the wall clock, honest masters wandering
// within their uncertainty, lost packets and at most one liar: every Now()
// contains true time, and no violation is reported (no false alarms).
func withinBoundProperty(knobs TestingKnobs, checkNoViolation bool) func(*rapid.T) {
	return func(t *rapid.T) {
		const boundPPB = 200_000
		sc := newScenario(t, rapid.Int64Range(-boundPPB, boundPPB).Draw(t, "drift"), knobs,
			2*time.Millisecond, 20*time.Millisecond, true)
		sc.check()
		steps := rapid.IntRange(10, 80).Draw(t, "steps")
		for range steps {
			switch rapid.IntRange(0, 9).Draw(t, "action") {
			case 0, 1, 2, 3:
				sc.poll(10)
			case 4, 5:
				sc.clock.Advance(time.Duration(rapid.Int64Range(0, 3e9).Draw(t, "advance")))
			case 6:
				// Long outage: all masters unreachable for a while.
				sc.clock.Advance(time.Duration(rapid.Int64Range(0, 60e9).Draw(t, "outage")))
			case 7:
				sc.clock.JumpWall(time.Duration(rapid.Int64Range(-10e9, 10e9).Draw(t, "wallJump")))
			case 8:
				sc.clock.SetDriftPPB(rapid.Int64Range(-boundPPB, boundPPB).Draw(t, "newDrift"))
			case 9:
				i := rapid.IntRange(0, len(sc.masters)-1).Draw(t, "wander")
				if i != sc.liar {
					u := int64(sc.masters[i].Uncertainty)
					sc.masters[i].Error = time.Duration(rapid.Int64Range(-u, u).Draw(t, "newErr"))
				}
			}
			sc.check()
		}
		st := sc.tt.Status()
		if checkNoViolation && st.Violations != 0 {
			t.Fatalf("false alarm: violation reported with drift within bound: %s", st.LastViolation)
		}
		if sc.liar >= 0 && st.Sources[sc.liar].Outvoted {
			t.Logf("liar %d outvoted", sc.liar)
		}
	}
}

func TestPropertyIntervalContainsTrueTime(t *testing.T) {
	rapid.Check(t, withinBoundProperty(TestingKnobs{}, true))
}

// TestPropertyLiarOutvoted: with all three masters answering, a liar whose
// interval misses the honest ones is reported outvoted, and the honest ones
// are not.
func TestPropertyLiarOutvoted(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := newScenario(t, rapid.Int64Range(-200_000, 200_000).Draw(t, "drift"), TestingKnobs{},
			time.Millisecond, 5*time.Millisecond, false)
		liar := rapid.IntRange(0, 2).Draw(t, "liar")
		lie := time.Duration(rapid.Int64Range(50e6, 1e9).Draw(t, "lie"))
		if rapid.Bool().Draw(t, "negative") {
			lie = -lie
		}
		sc.masters[liar].Error = lie
		for range 3 {
			sc.poll(0)
			sc.check()
			sc.clock.Advance(time.Second)
		}
		st := sc.tt.Status()
		for i, s := range st.Sources {
			if s.Outvoted != (i == liar) {
				t.Fatalf("source %d outvoted=%v, liar is %d: %+v", i, s.Outvoted, liar, st)
			}
		}
		if err := sc.tt.CheckCommit(); err != nil {
			t.Fatalf("one liar out of three must not fence commits: %v", err)
		}
	})
}

// TestPropertyDriftBeyondBoundDetected: with the local clock drifting 3 to
// 50 times faster than the assumed bound, the long-baseline check notices
// the masters' agreement leaving the carried interval, reports a violation
// and fences commits, instead of silently serving a wrong clock.
func TestPropertyDriftBeyondBoundDetected(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		drift := rapid.Int64Range(600_000, 10_000_000).Draw(t, "driftPPB")
		if rapid.Bool().Draw(t, "slow") {
			drift = -drift
		}
		sc := newScenario(t, drift, TestingKnobs{}, 500*time.Microsecond, 2*time.Millisecond, false)
		sc.lenient = true
		var worstMiss time.Duration
		for round := range 2000 {
			sc.poll(0)
			if st := sc.tt.Status(); st.Violations > 0 {
				err := sc.tt.CheckCommit()
				if !errors.Is(err, ErrCommitFenced) {
					t.Fatalf("violation detected but commits not fenced: %v", err)
				}
				if !strings.Contains(err.Error(), "violation") {
					t.Fatalf("fence error does not explain the violation: %v", err)
				}
				// The hull of the carried interval and the masters'
				// agreement contains true time again, up to what the
				// excess drift did since the oldest sample the agreement
				// may use was taken: within the round's exchanges (≤ 3 of
				// ≤ 2·2ms+1ms each) or, when a master's latest exchange
				// was refused (an RTT outlier), since its last accepted
				// one, rounds earlier.
				abs := drift
				if abs < 0 {
					abs = -abs
				}
				oldest := sc.clock.True()
				for _, at := range sc.acceptedAt {
					if at > 0 {
						oldest = min(oldest, at)
					}
				}
				allowed := time.Duration(abs * (int64(15*time.Millisecond) + sc.clock.True() - oldest) / 1e9)
				if iv := sc.tt.Now(); !iv.Contains(sc.clock.True()) && missBy(iv, sc.clock.True()) > allowed {
					t.Fatalf("after detection the interval still misses true time by %s (allowed %s)", missBy(iv, sc.clock.True()), allowed)
				}
				t.Logf("detected after %d rounds; worst undetected miss %s", round, worstMiss)
				return
			}
			iv := sc.tt.Now()
			if m := missBy(iv, sc.clock.True()); !iv.Contains(sc.clock.True()) && m > worstMiss {
				worstMiss = m
			}
			sc.clock.Advance(time.Second)
		}
		t.Fatalf("drift %d ppb (bound 200000) never detected; worst miss %s", drift, worstMiss)
	})
}

// recordingTB lets a property run under rapid without failing the test, so
// that a negative control can assert that rapid finds a failure.
type recordingTB struct {
	name   string
	failed bool
	msgs   []string
}

func (r *recordingTB) Helper()                   {}
func (r *recordingTB) Name() string              { return r.name }
func (r *recordingTB) Logf(f string, a ...any)   { r.msgs = append(r.msgs, fmt.Sprintf(f, a...)) }
func (r *recordingTB) Log(a ...any)              { r.msgs = append(r.msgs, fmt.Sprint(a...)) }
func (r *recordingTB) Skipf(f string, a ...any)  { panic("skip in recordingTB") }
func (r *recordingTB) Skip(a ...any)             { panic("skip in recordingTB") }
func (r *recordingTB) SkipNow()                  { panic("skip in recordingTB") }
func (r *recordingTB) Errorf(f string, a ...any) { r.failed = true; r.Logf(f, a...) }
func (r *recordingTB) Error(a ...any)            { r.failed = true; r.Log(a...) }
func (r *recordingTB) Fatalf(f string, a ...any) { r.failed = true; r.Logf(f, a...) }
func (r *recordingTB) Fatal(a ...any)            { r.failed = true; r.Log(a...) }
func (r *recordingTB) FailNow()                  { r.failed = true }
func (r *recordingTB) Fail()                     { r.failed = true }
func (r *recordingTB) Failed() bool              { return r.failed }

// TestNegativeControlNoDriftWidening shows that the property test can fail:
// with drift widening disabled, rapid must find an interval that misses
// true time.
func TestNegativeControlNoDriftWidening(t *testing.T) {
	// A failure here is the expected outcome; do not leave fail files.
	f := flag.Lookup("rapid.nofailfile")
	old := f.Value.String()
	if err := f.Value.Set("true"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Value.Set(old) }()

	rec := &recordingTB{name: t.Name()}
	rapid.Check(rec, withinBoundProperty(TestingKnobs{DisableDriftWidening: true}, false))
	if !rec.failed {
		t.Fatalf("rapid found no interval missing true time with drift widening disabled; the property test is blind")
	}
	out := strings.Join(rec.msgs, "\n")
	if !strings.Contains(out, "does not contain true time") {
		t.Fatalf("rapid failed for another reason than a missed true time:\n%s", out)
	}
	// Show the minimal counterexample (rapid prints its seed).
	for _, m := range rec.msgs {
		if strings.Contains(m, "does not contain") || strings.Contains(m, "rapid.seed") || strings.Contains(m, "failed after") {
			t.Log(m)
		}
	}
}
