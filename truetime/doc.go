// Package truetime is Meridian's interval clock. TrueTime.Now returns an
// Interval [Earliest, Latest] of nanoseconds since the Unix epoch that
// contains true time; transactions take commit timestamps at or above
// Latest and commit-wait until Earliest passes them (DESIGN.md §2).
//
// # Flow
//
//	time masters (NTP, mode 3/4)            local monotonic Clock
//	        │  Querier (poller.go: beevik/ntp,          │
//	        │  or the wall clock in single-machine mode)│
//	        ▼                                           │
//	Exchange{T1..T4, declared uncertainty u}            │
//	        │  toSample: offset ± (rtt/2 + u) + drift   │
//	        ▼  over the exchange (exchange.go)          │
//	Syncer (deterministic core, syncer.go)              │
//	   per source: latest sample, rtt outlier filter    │
//	   Sync(now): widen samples by drift to now,        │
//	   agree (Marzullo, marzullo.go) with f=(n−1)/2,    │
//	   check against earlier estimates, fence on breach │
//	        │ publish immutable estimate (atomic)       │
//	        ▼                                           ▼
//	TrueTime.Now = estimate widened by drift since its anchor, monotonic
//	TrueTime.CheckCommit, WaitUntilAfter, Status, Collector
//
// The Syncer does no I/O, reads no clock and starts no goroutine: tests feed
// it exchanges made by ManualClock/SimMaster and compare every interval with
// the simulation's true time. Run and NTPQuerier are the thin network edge.
//
// In single-machine mode (no masters) the system wall clock is the only
// source, sampled every PollInterval as an exchange with zero round trip
// and uncertainty Options.LocalUncertainty. The estimate is still carried
// between samples by the monotonic clock and widened by drift: that is what
// makes Now cheap (no wall-clock read), monotonic, and what lets a step of
// the wall clock larger than the interval show up as a violation (reported,
// fenced) instead of moving commit timestamps.
//
// # Wiring a node
//
//	var opts truetime.Options
//	opts.RegisterFlags(fs)             // --time-masters HOST:PORT,..., --max-epsilon
//	// after fs.Parse:
//	tt, err := truetime.New(truetime.SystemClock(), opts)
//	go tt.Run(ctx)                     // polls until ctx is done
//	err = tt.WaitSynced(ctx)           // before accepting read-write work
//	reg.MustRegister(truetime.NewCollector(tt))   // meridian_truetime_* on /metrics
//	st := tt.Status()                  // JSON-ready, for `meridian status` (ε, sources)
//
//	// read-write commit:
//	if err := tt.CheckCommit(); err != nil { ... }  // errors.Is(err, truetime.ErrCommitFenced)
//	s := tt.Now().Latest (and above every other bound, DESIGN.md §2 invariant 2)
//	err = tt.WaitUntilAfter(ctx, s)    // commit wait, overlapped with replication
//
// A node that is also a time master (--time-master HOST:PORT) runs
// timemaster.New, timemaster.Listen and Server.Serve, and registers
// timemaster.NewCollector.
//
// # Invariants
//
//  1. If the local clock's rate error is within MaxDriftPPM and at most
//     f = (n−1)/2 of the n configured sources lie about their uncertainty,
//     every interval Now returns contains true time. (Property tests.)
//  2. Now never decreases: neither end of the interval is below the same end
//     of an interval returned before, to any caller. The one exception is
//     invariant 5's violation: an Earliest returned before it may have been
//     too late, and keeping a bound known to be wrong (a new leaseholder
//     could start early, a commit wait end early) is worse than stepping it
//     back once; commits are fenced then anyway.
//  3. Between agreements the interval only widens, by the drift bound times
//     the local time since the anchor; losing every source makes ε grow,
//     never makes the interval wrong.
//  4. A source contributes only through its interval; with m sources
//     answering, the agreement is the hull of all points covered by m−f of
//     them, so a minority of liars can widen it but never move it off true
//     time. A source whose interval misses the agreement is reported
//     outvoted.
//  5. The agreement must intersect every earlier estimate carried to now; if
//     it does not, the assumptions of 1 broke. The clock then takes the hull
//     of both, counts a violation and fences commits for ViolationFence.
//  6. CheckCommit refuses (ErrCommitFenced) while unsynchronised, while ε >
//     MaxEpsilon and during a violation fence. Reads need no check.
//  7. WaitUntilAfter(t) returns nil only once Now().Earliest > t.
//
// # What it must never do
//
//   - Read the wall clock on the Now path, or let a step of the wall clock
//     move Now (the local Clock must be monotonic).
//   - Step Now backwards (but for invariant 2's exception), allocate or lock
//     in Now.
//   - Trust a single source against a majority, or narrow the interval with
//     anything that is not a bound (no averaging, no filtering by
//     plausibility: an unlikely bound is still a bound).
//   - Return a finite interval before the sources first agreed.
//   - Crash on any packet: every malformed, spoofed or replayed reply is
//     dropped and counted (Status, metrics).
package truetime
