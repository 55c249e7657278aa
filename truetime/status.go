package truetime

import "time"

// Status is a snapshot of the clock for `meridian status`, the HTTP status
// page and metrics. Durations are nanoseconds in JSON.
type Status struct {
	// Mode is "masters" or "local-clock" (single-machine mode).
	Mode string `json:"mode"`
	// Synced is false until the sources first agreed.
	Synced bool `json:"synced"`
	// Now is the interval at the time of the snapshot.
	Now Interval `json:"now"`
	// Epsilon is half the width of Now.
	Epsilon time.Duration `json:"epsilon"`
	// Offset is the estimated true time minus the local clock (midpoint).
	Offset time.Duration `json:"offset"`
	// MaxEpsilon is the commit fence threshold.
	MaxEpsilon time.Duration `json:"max_epsilon"`
	// LastSync is the local clock reading (ns since epoch) of the last
	// round in which the sources agreed; 0 if never.
	LastSync int64 `json:"last_sync"`
	// SinceLastSync is the local time elapsed since LastSync.
	SinceLastSync time.Duration `json:"since_last_sync"`
	// Fenced is true when CheckCommit refuses read-write commits;
	// FenceReason says why.
	Fenced      bool   `json:"fenced"`
	FenceReason string `json:"fence_reason,omitempty"`
	// Rounds counts Sync rounds; NoAgreementRounds those in which the
	// sources did not agree (LastProblem says why, for the last one).
	Rounds            int64  `json:"rounds"`
	NoAgreementRounds int64  `json:"no_agreement_rounds"`
	LastProblem       string `json:"last_problem,omitempty"`
	// Violations counts detected breaks of the clock's assumptions (drift
	// beyond the bound, or a wrong majority); LastViolation describes the
	// last one.
	Violations    int64  `json:"violations"`
	LastViolation string `json:"last_violation,omitempty"`
	// Sources has one entry per configured source, in Options order.
	Sources []SourceStatus `json:"sources"`
}

// SourceStatus is the health of one time source.
type SourceStatus struct {
	Address string `json:"address"`
	// Reachable: the source has a sample younger than SourceTimeout, so
	// it votes.
	Reachable bool `json:"reachable"`
	// Outvoted: in the last round its interval did not overlap the
	// agreement of the others (a falseticker: wrong or lying).
	Outvoted bool `json:"outvoted"`
	// LastOffset, LastRTT and DeclaredUncertainty describe the last
	// accepted exchange; SampleAge is its age.
	LastOffset          time.Duration `json:"last_offset"`
	LastRTT             time.Duration `json:"last_rtt"`
	DeclaredUncertainty time.Duration `json:"declared_uncertainty"`
	SampleAge           time.Duration `json:"sample_age"`
	HasSample           bool          `json:"has_sample"`
	// Exchanges counts attempts, Accepted those that gave a sample.
	Exchanges int64 `json:"exchanges"`
	Accepted  int64 `json:"accepted"`
	// Dropped counts failed or rejected exchanges by DropReason name.
	Dropped   map[string]int64 `json:"dropped"`
	LastError string           `json:"last_error,omitempty"`
}

// status builds a Status at local reading now; iv is the interval TrueTime
// reports at that moment and fence the result of CheckCommit.
func (s *Syncer) status(now int64, iv Interval, fence error) Status {
	st := Status{
		Mode:              "masters",
		Synced:            s.est.synced,
		Now:               iv,
		Epsilon:           iv.Epsilon(),
		MaxEpsilon:        s.opts.MaxEpsilon,
		Fenced:            fence != nil,
		Rounds:            s.rounds,
		NoAgreementRounds: s.noAgreement,
		LastProblem:       s.lastProblem,
		Violations:        s.violations,
		LastViolation:     s.lastViolation,
	}
	if len(s.opts.Masters) == 0 {
		st.Mode = "local-clock"
	}
	if fence != nil {
		st.FenceReason = fence.Error()
	}
	if s.est.synced {
		st.Offset = time.Duration(s.est.lo + (s.est.hi-s.est.lo)/2)
		st.LastSync = s.est.anchor
		st.SinceLastSync = time.Duration(now - s.est.anchor)
	}
	for _, src := range s.sources {
		ss := SourceStatus{
			Address:             src.addr,
			HasSample:           src.has,
			Reachable:           src.has && now-src.sample.anchor <= int64(s.opts.SourceTimeout),
			Outvoted:            src.outvoted,
			LastOffset:          src.lastOffset,
			LastRTT:             src.lastRTT,
			DeclaredUncertainty: src.lastUncertainty,
			Exchanges:           src.exchanges,
			Accepted:            src.accepted,
			Dropped:             make(map[string]int64, numDropReasons),
			LastError:           src.lastErr,
		}
		if src.has {
			ss.SampleAge = time.Duration(now - src.sample.anchor)
		}
		for r := DropReason(0); r < numDropReasons; r++ {
			ss.Dropped[r.String()] = src.drops[r]
		}
		st.Sources = append(st.Sources, ss)
	}
	return st
}
