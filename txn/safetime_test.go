package txn

import (
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/cockroachdb/datadriven"
	"pgregory.net/rapid"
)

func TestChooseCommitTS(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		nowLatest                  int64
		prepare                    []int64
		lastAssigned, closed, want int64
	}{
		{"now dominates", 100, []int64{50, 60}, 70, 80, 100},
		{"prepare dominates", 100, []int64{50, 120}, 70, 80, 121},
		{"prepare equal to now is pushed", 100, []int64{100}, 0, 0, 101},
		{"last assigned dominates", 100, []int64{50}, 150, 80, 151},
		{"closed dominates", 100, nil, 70, 200, 201},
		{"closed equal to now is pushed", 100, nil, 0, 100, 101},
		{"no participants", 100, nil, 0, 0, 100},
		{"all equal", 100, []int64{99}, 99, 99, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ChooseCommitTS(tc.nowLatest, tc.prepare, tc.lastAssigned, tc.closed); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestChoosePrepareTS(t *testing.T) {
	for _, tc := range []struct {
		name                                  string
		nowLatest, lastAssigned, closed, want int64
	}{
		{"now", 100, 50, 60, 100},
		{"above last assigned", 100, 100, 60, 101},
		{"above closed", 100, 50, 100, 101},
		{"above both", 100, 300, 200, 301},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ChoosePrepareTS(tc.nowLatest, tc.lastAssigned, tc.closed); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSafeTime(t *testing.T) {
	for _, tc := range []struct {
		closed, minPrepared int64
		hasPrepared         bool
		want                int64
	}{
		{100, 0, false, 100},
		{100, 50, true, 49},
		{100, 101, true, 100},
		{100, 100, true, 99},
		{100, math.MaxInt64, true, 100},
	} {
		if got := SafeTime(tc.closed, tc.minPrepared, tc.hasPrepared); got != tc.want {
			t.Errorf("SafeTime(%d, %d, %t) = %d, want %d", tc.closed, tc.minPrepared, tc.hasPrepared, got, tc.want)
		}
	}
}

// TestCommitTSProperties checks invariant 2 of ChooseCommitTS on random
// inputs: the result is >= nowLatest and above every other input.
func TestCommitTSProperties(t *testing.T) {
	ts := rapid.Int64Range(0, 1<<40)
	rapid.Check(t, func(t *rapid.T) {
		now, last, closed := ts.Draw(t, "now"), ts.Draw(t, "last"), ts.Draw(t, "closed")
		prep := rapid.SliceOf(ts).Draw(t, "prepare")
		s := ChooseCommitTS(now, prep, last, closed)
		if s < now || s <= last || s <= closed {
			t.Fatalf("s=%d now=%d last=%d closed=%d", s, now, last, closed)
		}
		for _, p := range prep {
			if s <= p {
				t.Fatalf("s=%d not above prepare %d", s, p)
			}
		}
	})
}

// TestClosedTrackerProperties drives a tracker with random operations and
// checks invariant 5: closed timestamps never go backwards, and no
// timestamp is assigned at or below a closed one, nor at or below any
// in-flight-at-close bound.
func TestClosedTrackerProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tr := NewClosedTracker(ClosedTrackerOptions{LagNanos: rapid.Int64Range(0, 20).Draw(t, "lag")})
		now := int64(1000)
		var inFlight []int64
		prevClosed := tr.Closed()
		for i := range rapid.IntRange(1, 50).Draw(t, "ops") {
			now += rapid.Int64Range(-5, 20).Draw(t, fmt.Sprint("dt", i)) // clocks may step back
			switch rapid.IntRange(0, 2).Draw(t, fmt.Sprint("op", i)) {
			case 0:
				ts := tr.Assign(now)
				if ts <= tr.Closed() {
					t.Fatalf("assigned %d at or below closed %d", ts, tr.Closed())
				}
				inFlight = append(inFlight, ts)
			case 1:
				if len(inFlight) > 0 {
					j := rapid.IntRange(0, len(inFlight)-1).Draw(t, fmt.Sprint("j", i))
					tr.Applied(inFlight[j])
					inFlight = append(inFlight[:j], inFlight[j+1:]...)
				}
			case 2:
				c := tr.Close(now)
				if c < prevClosed {
					t.Fatalf("closed went back from %d to %d", prevClosed, c)
				}
				for _, f := range inFlight {
					if c >= f {
						t.Fatalf("closed %d at or above in-flight %d", c, f)
					}
				}
				prevClosed = c
			}
		}
	})
}

// TestClosedTrackerDataDriven runs testdata/safetime scripts. Rewrite
// expectations with -rewrite.
//
//	new [lag=L] [closed=C] [assigned=A]
//	    A tracker for a new lease (ClosedTrackerOptions).
//	assign now=N
//	    Assign at nowLatest=N; prints the timestamp.
//	track ts=T
//	    Track a timestamp chosen elsewhere as in flight.
//	observe ts=T
//	    Observe a commit timestamp chosen elsewhere.
//	apply ts=T
//	    Applied(T).
//	close now=N
//	    Close at nowEarliest=N; prints the closed timestamp.
//	state
//	    closed, last assigned, in flight (count and minimum).
//	safe closed=C [min-prepared=P]
//	    SafeTime(C, P); without min-prepared nothing is prepared.
//	commit-ts now=N [prepare=(P,...)] last=L closed=C
//	    ChooseCommitTS.
func TestClosedTrackerDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/safetime", func(t *testing.T, path string) {
		tr := NewClosedTracker(ClosedTrackerOptions{})
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return catchAssertion(t, func() string {
				var a, b, c int64
				switch d.Cmd {
				case "new":
					d.MaybeScanArgs(t, "lag", &a)
					d.MaybeScanArgs(t, "closed", &b)
					d.MaybeScanArgs(t, "assigned", &c)
					tr = NewClosedTracker(ClosedTrackerOptions{LagNanos: a, InitialClosed: b, InitialAssigned: c})
					return fmtTracker(tr)
				case "assign":
					d.ScanArgs(t, "now", &a)
					return strconv.FormatInt(tr.Assign(a), 10)
				case "track":
					d.ScanArgs(t, "ts", &a)
					tr.Track(a)
					return fmtTracker(tr)
				case "observe":
					d.ScanArgs(t, "ts", &a)
					tr.Observe(a)
					return fmtTracker(tr)
				case "apply":
					d.ScanArgs(t, "ts", &a)
					tr.Applied(a)
					return fmtTracker(tr)
				case "close":
					d.ScanArgs(t, "now", &a)
					return "closed=" + strconv.FormatInt(tr.Close(a), 10)
				case "state":
					return fmtTracker(tr)
				case "safe":
					d.ScanArgs(t, "closed", &a)
					ok := d.MaybeScanArgs(t, "min-prepared", &b)
					return strconv.FormatInt(SafeTime(a, b, ok), 10)
				case "commit-ts":
					d.ScanArgs(t, "now", &a)
					d.ScanArgs(t, "last", &b)
					d.ScanArgs(t, "closed", &c)
					var prep []int64
					if arg, ok := d.Arg("prepare"); ok {
						for _, v := range arg.Vals {
							p, err := strconv.ParseInt(v, 10, 64)
							check(t, err)
							prep = append(prep, p)
						}
					}
					return strconv.FormatInt(ChooseCommitTS(a, prep, b, c), 10)
				}
				d.Fatalf(t, "unknown command %q", d.Cmd)
				return ""
			})
		})
	})
}

func fmtTracker(tr *ClosedTracker) string {
	s := fmt.Sprintf("closed=%d last-assigned=%d in-flight=%d", tr.Closed(), tr.LastAssigned(), tr.InFlight())
	if m, ok := tr.MinInFlight(); ok {
		s += fmt.Sprintf(" min-in-flight=%d", m)
	}
	return s
}
