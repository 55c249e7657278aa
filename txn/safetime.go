package txn

import (
	"math"

	"github.com/cockroachdb/errors"
)

// This file holds the timestamp rules of DESIGN.md §2 as pure functions,
// and the leader-side ClosedTracker.
//
// Timestamps are int64 nanoseconds. The tracker reads no clock: the
// caller passes TT.Now() bounds in.

// ChooseCommitTS is the coordinator's commit timestamp rule (invariant 2):
// at least TT.Now().latest read when commit begins, above every
// participant's prepare timestamp, above every timestamp the coordinator's
// leader assigned, and above the timestamp it closed. The coordinator
// passes nowLatest 0: prepare timestamps are TT.Now().latest readings
// taken after the commit began, which already satisfies the first rule.
func ChooseCommitTS(nowLatest int64, prepareTSs []int64, leaderLastAssigned, closedTS int64) int64 {
	s := max(nowLatest, leaderLastAssigned+1, closedTS+1)
	for _, p := range prepareTSs {
		s = max(s, p+1)
	}
	return s
}

// ChoosePrepareTS is a participant leader's prepare timestamp rule (also
// the rule for any timestamp a leader assigns): at least nowLatest, and
// above every timestamp it assigned (lastAssigned, which includes commit
// timestamps applied here) or closed (invariants 2 and 5).
func ChoosePrepareTS(nowLatest, lastAssigned, closedTS int64) int64 {
	return max(nowLatest, lastAssigned+1, closedTS+1)
}

// SafeTime is a replica's safe time (invariant 4): a read at t may be
// served here once SafeTime >= t. It is the closed timestamp applied here,
// held below the smallest prepared-but-undecided timestamp (whose commit
// timestamp will be above it): min(closedApplied, minPreparedTS-1). Pass
// hasPrepared=false when nothing is prepared (Participant.MinPreparedTS).
func SafeTime(closedApplied, minPreparedTS int64, hasPrepared bool) int64 {
	if !hasPrepared {
		return closedApplied
	}
	return min(closedApplied, minPreparedTS-1)
}

// ClosedTrackerOptions configure a ClosedTracker.
type ClosedTrackerOptions struct {
	// LagNanos is how far behind TT.Now().earliest the closed timestamp
	// trails, in nanoseconds, so that writes seldom have to be pushed
	// above it. Default 0 (none); must not be negative.
	LagNanos int64
	// InitialClosed is the closed timestamp the group had published before
	// this lease (applied state). The tracker starts there: closed
	// timestamps never go backwards across leaders (invariant 5).
	InitialClosed int64
	// InitialAssigned is the largest timestamp known to be used in the
	// group before this lease (e.g. the lease start, or the largest
	// applied commit timestamp); new timestamps go above it.
	InitialAssigned int64
}

// ClosedTracker is a leader's record of the timestamps it assigned that
// are not yet applied (a multiset), from which it computes the closed
// timestamp it may publish: min(nowEarliest - lag, minInFlight - 1), never
// going backwards (invariant 5).
//
// A prepare's timestamp stays in flight from Assign until its decision is
// applied (not just the prepare), so the published closed timestamp stays
// below every prepared transaction here, and the coordinator's commit
// timestamp (above the prepare timestamp) is above the closed timestamp.
// A commit timestamp chosen elsewhere and applied here must be passed to
// Observe, so later timestamps go above it.
//
// It is leader memory (a new leader starts a new one from the applied
// closed timestamp), not safe for concurrent use; no clocks inside.
type ClosedTracker struct {
	opts         ClosedTrackerOptions
	closed       int64
	lastAssigned int64
	inFlight     map[int64]int
	inFlightN    int
}

// NewClosedTracker returns a tracker for a new lease.
func NewClosedTracker(opts ClosedTrackerOptions) *ClosedTracker {
	if opts.LagNanos < 0 {
		panic(errors.AssertionFailedf("txn: negative closed timestamp lag %d", opts.LagNanos))
	}
	return &ClosedTracker{
		opts:         opts,
		closed:       opts.InitialClosed,
		lastAssigned: max(opts.InitialAssigned, opts.InitialClosed),
		inFlight:     map[int64]int{},
	}
}

// Assign picks the next timestamp by ChoosePrepareTS and records it in
// flight until Applied.
func (t *ClosedTracker) Assign(nowLatest int64) int64 {
	ts := ChoosePrepareTS(nowLatest, t.lastAssigned, t.closed)
	t.lastAssigned = ts
	t.inFlight[ts]++
	t.inFlightN++
	return ts
}

// Track records a timestamp chosen elsewhere (a coordinator's commit
// timestamp for an entry this leader proposes, a client-chosen timestamp)
// as in flight until Applied, like Assign. The same timestamp may be
// tracked more than once (a multiset). A timestamp at or below the closed
// timestamp would break the promise made by publishing it (invariant 5):
// that panics; the caller must choose above Closed().
func (t *ClosedTracker) Track(ts int64) {
	if ts <= t.closed {
		panic(errors.AssertionFailedf("txn: tracked timestamp %d at or below closed timestamp %d", ts, t.closed))
	}
	t.lastAssigned = max(t.lastAssigned, ts)
	t.inFlight[ts]++
	t.inFlightN++
}

// Observe records a timestamp used in the group but not assigned here (a
// commit timestamp chosen by a coordinator, applied here): later
// assignments go above it.
func (t *ClosedTracker) Observe(ts int64) { t.lastAssigned = max(t.lastAssigned, ts) }

// Applied removes one in-flight instance of ts (its entry, or for a
// prepare its decision, was applied). Applying a timestamp not in flight
// panics.
func (t *ClosedTracker) Applied(ts int64) {
	n := t.inFlight[ts]
	if n == 0 {
		panic(errors.AssertionFailedf("txn: applied timestamp %d was not in flight", ts))
	}
	if n == 1 {
		delete(t.inFlight, ts)
	} else {
		t.inFlight[ts] = n - 1
	}
	t.inFlightN--
}

// Close computes the closed timestamp for a publication at nowEarliest
// (TT.Now().earliest), raises the tracker's closed timestamp to it if it
// is higher, and returns the (possibly unchanged) closed timestamp, which
// from now on is promised: no timestamp at or below it is assigned.
func (t *ClosedTracker) Close(nowEarliest int64) int64 {
	candidate := nowEarliest - t.opts.LagNanos
	if m, ok := t.MinInFlight(); ok {
		candidate = min(candidate, m-1)
	}
	t.closed = max(t.closed, candidate)
	return t.closed
}

// Promise raises the closed timestamp to ts without regard to the clock,
// for a read at ts that should not wait for true time to pass it: the
// caller bounds how far ahead of TT.Now().earliest it promises (see
// ServerConfig.CloseAhead). A timestamp in flight at or below ts would
// break the promise: that panics; the caller checks MinInFlight first.
func (t *ClosedTracker) Promise(ts int64) {
	if m, ok := t.MinInFlight(); ok && m <= ts {
		panic(errors.AssertionFailedf("txn: promising %d with timestamp %d in flight", ts, m))
	}
	t.closed = max(t.closed, ts)
}

// Closed returns the closed timestamp promised so far.
func (t *ClosedTracker) Closed() int64 { return t.closed }

// LastAssigned returns the largest timestamp assigned or observed.
func (t *ClosedTracker) LastAssigned() int64 { return t.lastAssigned }

// MinInFlight returns the smallest in-flight timestamp, if any.
func (t *ClosedTracker) MinInFlight() (int64, bool) {
	if t.inFlightN == 0 {
		return 0, false
	}
	m := int64(math.MaxInt64)
	for ts := range t.inFlight {
		m = min(m, ts)
	}
	return m, true
}

// InFlight returns how many assigned timestamps are not yet applied.
func (t *ClosedTracker) InFlight() int { return t.inFlightN }
