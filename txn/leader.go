package txn

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/paxosgroup"
)

// leaderState is a group leader's transaction memory for one Raft term:
// the lock table, the timestamps it assigned and closed, and what is
// prepared here. A new term starts a new one, rebuilt from the prepared
// records in the store (DESIGN.md invariant 8); everything else of the old
// one (shared locks, waiters) dies with it.
type leaderState struct {
	group GroupID
	term  uint64

	mu      sync.Mutex
	lt      *LockTable
	tracker *ClosedTracker
	// waiters are the parked lock requests, one per transaction (a
	// transaction's requests at one group are sequential).
	waiters map[TxnID]chan error
	// aborted are transactions this leader aborted (wounded, or idle too
	// long): their later requests fail as retryable.
	aborted map[TxnID]time.Time
	// preparing: exclusive locks held, prepare proposal in flight.
	preparing map[TxnID]int64
	// prepared: prepare record applied, decision not yet applied here.
	prepared map[TxnID]*preparedTxn
	// lastSeen is when each unprepared transaction last made a request.
	lastSeen map[TxnID]time.Time
	// changed is closed (and replaced) when an in-flight timestamp is
	// applied: safe-time waiters re-check.
	changed chan struct{}
	// asked: transactions whose coordinator was asked to abort them.
	asked map[TxnID]bool
	// undelivered: this coordinator group's unacknowledged decisions as
	// of the last redelivery pass, and when that pass ran.
	undelivered   map[TxnID]bool
	lastRedeliver time.Time
	// delivering: decisions with a delivery running.
	delivering map[TxnID]bool
	// votes: transactions whose shared locks here are frozen by a vote
	// (vote.go), with the vote's valid_until.
	votes map[TxnID]int64
	dead  bool
}

type preparedTxn struct {
	rec   PrepareRecord
	since time.Time
}

var (
	// ErrRetryable marks an abort the client may retry as a new attempt:
	// the transaction was wounded by an older one, its locks were lost
	// with a leader, or a participant refused to prepare.
	ErrRetryable = errors.New("txn: transaction aborted; retry it")
	// ErrAmbiguous marks a commit whose outcome is unknown: it may have
	// committed. It is never retried automatically.
	ErrAmbiguous = errors.New("txn: ambiguous result: the transaction may or may not have committed")
)

func retryableErr(format string, args ...any) error {
	return errors.Mark(errors.Newf(format, args...), ErrRetryable)
}

func (ls *leaderState) notifyLocked() {
	close(ls.changed)
	ls.changed = make(chan struct{})
}

// wakeLocked hands grants to parked requests.
func (ls *leaderState) wakeLocked(grants []Grant) {
	for _, g := range grants {
		if ch, ok := ls.waiters[g.Txn]; ok {
			delete(ls.waiters, g.Txn)
			ch <- nil
		}
	}
}

// abortLocked drops an unprepared transaction's locks and remembers it as
// aborted. A parked request of it fails.
func (ls *leaderState) abortLocked(id TxnID, why error) {
	if ch, ok := ls.waiters[id]; ok {
		delete(ls.waiters, id)
		ch <- why
	}
	ls.wakeLocked(ls.lt.Release(id))
	ls.aborted[id] = time.Now()
	delete(ls.lastSeen, id)
}

// releaseLocked drops the locks of a transaction whose outcome is applied
// (or that rolled back), and its in-flight prepare timestamp.
func (ls *leaderState) releaseLocked(id TxnID) {
	ls.wakeLocked(ls.lt.Release(id))
	if p, ok := ls.prepared[id]; ok {
		ls.tracker.Applied(p.rec.PrepareTS)
		delete(ls.prepared, id)
		ls.notifyLocked()
	}
	delete(ls.lastSeen, id)
	delete(ls.asked, id)
}

// kill ends the state at a change of term: parked requests fail.
func (ls *leaderState) kill() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.dead = true
	for id, ch := range ls.waiters {
		ch <- retryableErr("txn: group %d changed leader while %s waited for a lock", ls.group, id)
	}
	clear(ls.waiters)
	ls.notifyLocked()
}

// acquire takes the locks of txn on keys in order, waiting as wound-wait
// says. An error leaves the transaction aborted here if it was wounded.
func (s *Server) acquire(ctx context.Context, ls *leaderState, meta TxnMeta, keys [][]byte, mode Mode) error {
	for _, key := range keys {
		if err := s.acquireOne(ctx, ls, meta, key, mode); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) acquireOne(ctx context.Context, ls *leaderState, meta TxnMeta, key []byte, mode Mode) error {
	return s.lock(ctx, ls, meta,
		func() Result { return ls.lt.Acquire(meta, key, mode) },
		func() bool { return ls.lt.holdsLocked(meta.ID, key, mode) })
}

// acquireSpan takes a shared lock on the span [start, end) for a scan.
func (s *Server) acquireSpan(ctx context.Context, ls *leaderState, meta TxnMeta, start, end []byte) error {
	return s.lock(ctx, ls, meta,
		func() Result { return ls.lt.AcquireRange(meta, start, end) },
		func() bool { return ls.lt.holdsRangeLocked(meta.ID, start, end) })
}

// lock runs one lock-table request (try) for txn under wound-wait: it
// wounds or asks to abort what try says, and parks until granted, the
// transaction is aborted, or ctx ends. held says whether the lock is held.
func (s *Server) lock(ctx context.Context, ls *leaderState, meta TxnMeta, try func() Result, held func() bool) error {
	ls.mu.Lock()
	if ls.dead {
		ls.mu.Unlock()
		return retryableErr("txn: group %d changed leader", ls.group)
	}
	if _, ok := ls.aborted[meta.ID]; ok {
		ls.mu.Unlock()
		return retryableErr("txn: %s was aborted at group %d (wounded by an older transaction or idle too long)", meta.ID, ls.group)
	}
	if _, ok := ls.prepared[meta.ID]; ok && !held() {
		ls.mu.Unlock()
		return invalid("txn: %s is prepared at group %d and cannot take new locks", meta.ID, ls.group)
	}
	ls.lastSeen[meta.ID] = time.Now()
	res := try()
	switch res.Status {
	case Granted:
		ls.mu.Unlock()
		return nil
	case Wounded:
		// Refused as closing a cycle of waits, the request may have
		// wounded younger holders on the way.
		s.woundLocked(ls, res)
		err := retryableErr("txn: %s was wounded by an older transaction at group %d", meta.ID, ls.group)
		ls.abortLocked(meta.ID, err)
		ls.mu.Unlock()
		s.metrics.aborts.WithLabelValues("wounded").Inc()
		return err
	}
	s.woundLocked(ls, res)
	// The wounds above may have granted this request already.
	if held() {
		ls.mu.Unlock()
		return nil
	}
	ch := make(chan error, 1)
	ls.waiters[meta.ID] = ch
	if len(res.Deferred) > 0 {
		// Younger holders were left running; wound what still blocks
		// this request once the grace is over.
		t := time.AfterFunc(s.cfg.WoundGrace, func() {
			ls.mu.Lock()
			defer ls.mu.Unlock()
			if !ls.dead && ls.waiters[meta.ID] == ch {
				s.woundLocked(ls, ls.lt.WoundBlockers(meta.ID))
			}
		})
		defer t.Stop()
	}
	ls.mu.Unlock()
	s.crashPoint(ctx, LockWaitPoint, ls.group, meta.ID)
	s.metrics.lockWaits.Inc()
	start := time.Now()
	defer func() { s.metrics.lockWaitSeconds.Observe(time.Since(start).Seconds()) }()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		ls.mu.Lock()
		if _, ok := ls.waiters[meta.ID]; ok {
			// Still parked: the request cannot be withdrawn alone, so the
			// transaction gives up here.
			ls.abortLocked(meta.ID, ctx.Err())
		}
		ls.mu.Unlock()
		return errors.Mark(errors.Wrapf(ctx.Err(), "txn: waiting for a lock at group %d", ls.group), ErrRetryable)
	}
}

// woundLocked aborts the transactions a lock request wounded and asks the
// coordinators of the prepared ones it would have wounded.
func (s *Server) woundLocked(ls *leaderState, res Result) {
	for _, w := range res.Wound {
		if _, preparing := ls.preparing[w]; preparing {
			// Its prepare is in Raft: once applied it cannot be wounded
			// here; the prepare handler asks its coordinator instead.
			continue
		}
		ls.abortLocked(w, retryableErr("txn: %s was wounded by an older transaction at group %d", w, ls.group))
		s.metrics.aborts.WithLabelValues("wounded").Inc()
	}
	for _, w := range res.WoundPrepared {
		s.askAbortLocked(ls, w)
	}
}

// askAbortLocked asks the coordinator of a prepared transaction to abort
// it, if it has not decided (once per transaction and term), after
// WoundPreparedGrace if it is still prepared then.
func (s *Server) askAbortLocked(ls *leaderState, id TxnID) {
	p, ok := ls.prepared[id]
	if !ok || ls.asked[id] {
		return
	}
	ls.asked[id] = true
	rec := p.rec
	grace := s.cfg.WoundPreparedGrace
	s.spawn(func(ctx context.Context) {
		if grace > 0 {
			t := time.NewTimer(grace)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			ls.mu.Lock()
			_, still := ls.prepared[id]
			dead := ls.dead
			ls.mu.Unlock()
			if !still || dead {
				return // decided meanwhile, or another leader's business
			}
		}
		s.resolvePrepared(ctx, ls.group, rec)
	})
}

// holdsLocked reports whether id holds key in at least mode.
func (lt *LockTable) holdsLocked(id TxnID, key []byte, mode Mode) bool {
	t := lt.txns[id]
	if t == nil {
		return false
	}
	return t.held[string(key)] >= mode
}

// heldKeys returns the keys id holds in exactly mode, sorted.
func (lt *LockTable) heldKeys(id TxnID, mode Mode) [][]byte {
	t := lt.txns[id]
	if t == nil {
		return nil
	}
	var out [][]byte
	for k, m := range t.held {
		if m == mode {
			out = append(out, []byte(k))
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// releaseShared drops id's shared locks only (the EarlyReadLockRelease
// testing knob) and returns the grants.
func (lt *LockTable) releaseShared(id TxnID) []Grant {
	t := lt.txns[id]
	if t == nil {
		return nil
	}
	var grants []Grant
	for _, key := range lt.heldKeys(id, Shared) {
		delete(t.held, string(key))
		grants = lt.dropKey(t, string(key), grants)
	}
	for _, k := range lt.dropSpans(t) {
		grants = lt.regrant(k, grants)
	}
	return lt.grantSpans(grants)
}

// knows reports whether the table knows id (it holds or awaits a lock).
func (lt *LockTable) knows(id TxnID) bool { return lt.txns[id] != nil }

// leader returns this node's state for a group it leads, creating or
// rebuilding it for the current term.
func (s *Server) leader(ctx context.Context, group GroupID) (*leaderState, paxosgroup.LeaseInfo, error) {
	info, err := s.host.Lease(ctx, uint64(group))
	if err != nil {
		return nil, info, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.groups[group]
	if ls != nil && ls.term == info.Term {
		return ls, info, nil
	}
	if ls != nil {
		ls.kill()
	}
	p, err := OpenParticipant(group, engineStore{s.host.Engine()}, s.cfg.Participant)
	if err != nil {
		return nil, info, err
	}
	prepared := p.Prepared()
	ls = &leaderState{
		group:      group,
		term:       info.Term,
		lt:         NewLockTable(s.cfg.LockTable),
		waiters:    map[TxnID]chan error{},
		aborted:    map[TxnID]time.Time{},
		preparing:  map[TxnID]int64{},
		prepared:   map[TxnID]*preparedTxn{},
		lastSeen:   map[TxnID]time.Time{},
		asked:      map[TxnID]bool{},
		delivering: map[TxnID]bool{},
		votes:      map[TxnID]int64{},
		changed:    make(chan struct{}),
	}
	// Above everything applied, and above every timestamp the previous
	// leader closed or promised: those are at most CloseAhead above its
	// TT.Now().earliest at the time (closeAt), which is below true time
	// then, which is below our TT.Now().latest now (leases of a group
	// never overlap).
	ahead := s.cfg.CloseAhead.Nanoseconds()
	if s.cfg.TestingKnobs.NoCloseAheadAtLeaseStart {
		ahead = 0
	}
	ls.tracker = NewClosedTracker(ClosedTrackerOptions{
		LagNanos:        s.cfg.ClosedLag.Nanoseconds(),
		InitialAssigned: max(info.MaxWriteTS, s.clock.Now().Latest+ahead),
	})
	RebuildLocks(ls.lt, prepared)
	now := time.Now()
	for _, r := range prepared {
		ls.tracker.Track(r.PrepareTS)
		ls.prepared[r.ID] = &preparedTxn{rec: r, since: now}
	}
	s.groups[group] = ls
	s.logger.Debug("leader state", "group", group, "term", info.Term, "prepared", len(prepared))
	return ls, info, nil
}

// closeAt waits until the leader can promise that nothing at or below ts
// will be written here any more, and returns the closed timestamp (>= ts)
// with the applied index that covers every write at or below it.
//
// Two conditions. ts is at most CloseAhead past TT.Now().earliest, so a
// later leader, which starts CloseAhead above its TT.Now().latest, is
// above ts too; a strong read at another node's TT.Now().latest thus
// waits for neither clock's uncertainty unless the two together exceed
// CloseAhead. And no timestamp at or below ts is in flight (assigned but
// not applied, or prepared and undecided): those are waited for. The
// lease is checked again after the promise, so that it was made inside
// this leader's lease, before any successor's began.
func (s *Server) closeAt(ctx context.Context, ls *leaderState, ts int64) (closed int64, index uint64, err error) {
	if err := s.clock.WaitUntilAfter(ctx, ts-s.cfg.CloseAhead.Nanoseconds()); err != nil {
		return 0, 0, err
	}
	for {
		ls.mu.Lock()
		if ls.dead {
			ls.mu.Unlock()
			return 0, 0, retryableErr("txn: group %d changed leader", ls.group)
		}
		if m, ok := ls.tracker.MinInFlight(); !ok || m > ts || s.cfg.TestingKnobs.NoSafeTimeWait {
			if !s.cfg.TestingKnobs.NoSafeTimeWait {
				ls.tracker.Promise(ts)
			}
			closed = max(ls.tracker.Close(s.clock.Now().Earliest), ts)
			index = s.host.AppliedIndex(uint64(ls.group))
			ls.mu.Unlock()
			if info, err := s.host.Lease(ctx, uint64(ls.group)); err != nil || info.Term != ls.term {
				return 0, 0, retryableErr("txn: group %d lost its lease while closing %d", ls.group, ts)
			}
			return closed, index, nil
		}
		ch := ls.changed
		ls.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, 0, errors.Wrapf(ctx.Err(), "txn: waiting for group %d to close %d", ls.group, ts)
		}
	}
}
