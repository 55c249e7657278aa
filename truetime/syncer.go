package truetime

import (
	"fmt"
	"sort"
	"time"

	"github.com/cockroachdb/errors"
)

// Syncer is the deterministic core of TrueTime: exchanges and failures go in
// (Observe, Fail), Sync turns the sources' samples into a new estimate of
// true time at a given local reading. It does no I/O, reads no clock and
// starts no goroutine; every local reading is passed in. It is not safe for
// concurrent use (TrueTime serialises calls under its mutex).
type Syncer struct {
	opts     Options
	driftPPM int64 // 0 when TestingKnobs.DisableDriftWidening

	sources []sourceState
	est     estimate
	// history holds earlier estimates at roughly doubling ages (newest
	// last). Each, widened by drift to now, must still intersect the
	// masters' agreement; long baselines catch a drift excess that one
	// poll interval hides.
	history []estimate

	fencedUntil     int64
	violations      int64
	lastViolation   string
	lastViolationAt int64
	rounds          int64
	noAgreement     int64
	lastProblem     string
}

// estimate bounds true time: at local reading anchor it was within
// [anchor+lo, anchor+hi]. Before the first agreement synced is false.
type estimate struct {
	synced bool
	anchor int64
	lo, hi int64
}

// offsets returns the bounds on (true − local) at local reading now,
// widened by drift since the anchor.
func (e estimate) offsets(now, ppm int64) span {
	d := driftNanos(now-e.anchor, ppm)
	return span{lo: e.lo - d, hi: e.hi + d}
}

// at returns the interval of true time at local reading now.
func (e estimate) at(now, ppm int64) Interval {
	if !e.synced {
		return unknownInterval
	}
	s := e.offsets(now, ppm)
	return Interval{Earliest: now + s.lo, Latest: now + s.hi}
}

type sourceState struct {
	addr     string
	has      bool
	sample   sample
	outvoted bool

	lastOffset, lastRTT, lastUncertainty time.Duration
	rtts                                 []time.Duration // ring of recent round trips
	rttNext                              int
	exchanges, accepted                  int64
	drops                                [numDropReasons]int64
	lastErr                              string
}

const maxHistory = 64

// NewSyncer returns a core for the given sources (Options.Masters, or
// LocalSource alone). opts must have been through EnsureDefaults and
// Validate.
func NewSyncer(sources []string, opts Options) *Syncer {
	s := &Syncer{opts: opts, driftPPM: opts.MaxDriftPPM}
	if opts.TestingKnobs.DisableDriftWidening {
		s.driftPPM = 0
	}
	for _, a := range sources {
		s.sources = append(s.sources, sourceState{addr: a})
	}
	return s
}

// Observe feeds one completed exchange with source src. It returns
// ErrBadExchange or ErrRTTOutlier (wrapped) when the exchange is dropped, and
// counts the drop; the previous sample of that source stays in use.
func (s *Syncer) Observe(src int, x Exchange) error {
	st := &s.sources[src]
	st.exchanges++
	smp, err := toSample(x, s.driftPPM)
	if err != nil {
		st.drops[DropBadTimestamps]++
		st.lastErr = err.Error()
		return err
	}
	rtt := x.RTT()
	outlier := s.isOutlier(st, rtt)
	// Rejected round trips enter the window too: if the path got slower for
	// good, the median follows and samples are accepted again.
	if len(st.rtts) < s.opts.RTTWindow {
		st.rtts = append(st.rtts, rtt)
	} else {
		st.rtts[st.rttNext] = rtt
		st.rttNext = (st.rttNext + 1) % len(st.rtts)
	}
	if outlier {
		st.drops[DropRTTOutlier]++
		err := errors.Wrapf(ErrRTTOutlier, "round trip %s", rtt)
		st.lastErr = err.Error()
		return err
	}
	st.has, st.sample = true, smp
	st.lastOffset, st.lastRTT, st.lastUncertainty = x.Offset(), rtt, x.Uncertainty()
	st.accepted++
	st.lastErr = ""
	return nil
}

func (s *Syncer) isOutlier(st *sourceState, rtt time.Duration) bool {
	if len(st.rtts) < (s.opts.RTTWindow+1)/2 || !st.has {
		return false
	}
	sorted := append([]time.Duration(nil), st.rtts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	median := sorted[len(sorted)/2]
	return float64(rtt) > s.opts.RTTOutlierFactor*float64(median)
}

// Interval returns the current estimate's interval of true time at local
// reading now (unknown before the first agreement). Unlike TrueTime.Now it
// is not made monotonic across estimates.
func (s *Syncer) Interval(now int64) Interval { return s.est.at(now, s.driftPPM) }

// Fail records a failed exchange with source src.
func (s *Syncer) Fail(src int, reason DropReason, err error) {
	st := &s.sources[src]
	st.exchanges++
	if reason < 0 || reason >= numDropReasons {
		reason = DropUnreachable
	}
	st.drops[reason]++
	if err != nil {
		st.lastErr = err.Error()
	}
}

// Sync computes a new estimate at local reading now from the sources'
// latest samples (those younger than SourceTimeout), each widened by drift
// to now. With n sources configured the clock tolerates f = (n−1)/2 wrong
// ones; with m answering, true time is covered by at least m−f intervals, so
// the agreement is the hull of the points covered that often. Needs m > f.
//
// The agreement replaces the estimate (it is not intersected with the
// carried one: that would turn an unnoticed drift excess into an error as
// large as a master's interval). It must intersect every earlier estimate
// carried to now; if one does not, the drift bound or the majority of
// masters failed, so the clock takes the hull of both, fences commits for
// ViolationFence and restarts its history.
func (s *Syncer) Sync(now int64) {
	s.rounds++
	n := len(s.sources)
	f := (n - 1) / 2
	spans := make([]span, 0, n)
	idx := make([]int, 0, n)
	for i := range s.sources {
		st := &s.sources[i]
		st.outvoted = false
		if !st.has || now-st.sample.anchor > int64(s.opts.SourceTimeout) {
			continue
		}
		spans = append(spans, estimate{anchor: st.sample.anchor, lo: st.sample.lo, hi: st.sample.hi}.offsets(now, s.driftPPM))
		idx = append(idx, i)
	}
	m := len(spans)
	if m <= f {
		s.noAgreement++
		s.lastProblem = fmt.Sprintf("only %d of %d time sources have a sample younger than %s; need %d",
			m, n, s.opts.SourceTimeout, f+1)
		return
	}
	res, agreeing, ok := agree(spans, m-f)
	for j, i := range idx {
		s.sources[i].outvoted = !agreeing[j]
	}
	if !ok {
		s.noAgreement++
		s.lastProblem = fmt.Sprintf("time sources disagree: no instant is within %d of the %d answering sources' intervals", m-f, m)
		return
	}
	s.lastProblem = ""
	agreed := estimate{synced: true, anchor: now, lo: res.lo, hi: res.hi}
	if !s.est.synced {
		s.est = agreed
		s.history = []estimate{agreed}
		return
	}
	for _, p := range s.history {
		if c := p.offsets(now, s.driftPPM); !c.intersects(res) {
			s.violate(now, p, c, res)
			return
		}
	}
	s.est = agreed
	s.history = pruneHistory(append(s.history, agreed), now)
}

func (s *Syncer) violate(now int64, p estimate, carried, agreed span) {
	cur := s.est.offsets(now, s.driftPPM)
	s.est = estimate{synced: true, anchor: now, lo: min(cur.lo, agreed.lo), hi: max(cur.hi, agreed.hi)}
	s.history = []estimate{s.est}
	s.fencedUntil = now + int64(s.opts.ViolationFence)
	s.violations++
	s.lastViolationAt = now
	gap := carried.lo - agreed.hi
	if agreed.lo > carried.hi {
		gap = agreed.lo - carried.hi
	}
	s.lastViolation = fmt.Sprintf(
		"time sources agree on offset [%s, %s] but the estimate from %s earlier, widened by %d ppm, allows only [%s, %s] (gap %s): "+
			"the local clock drifts beyond the bound or was stepped, or most time sources are wrong",
		time.Duration(agreed.lo), time.Duration(agreed.hi), time.Duration(now-p.anchor), s.opts.MaxDriftPPM,
		time.Duration(carried.lo), time.Duration(carried.hi), time.Duration(gap))
}

// pruneHistory keeps estimates at roughly doubling ages: the newest, the
// oldest (longest baseline), and in between one whose age is at least twice
// that of the next younger kept one.
func pruneHistory(h []estimate, now int64) []estimate {
	if len(h) <= 2 {
		return h
	}
	kept := []estimate{h[len(h)-1]}
	lastAge := int64(0)
	for j := len(h) - 2; j > 0; j-- {
		age := now - h[j].anchor
		if age >= 2*lastAge && age > 0 && len(kept) < maxHistory-1 {
			kept = append(kept, h[j])
			lastAge = age
		}
	}
	kept = append(kept, h[0])
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	return kept
}
