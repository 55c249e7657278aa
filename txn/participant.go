package txn

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/cockroachdb/errors"
)

// ParticipantOptions configure a Participant. The zero value is the
// default (see EnsureDefaults).
type ParticipantOptions struct {
	// MaxTombstones bounds how many decided transactions the participant
	// remembers (tombstones); when a new decision exceeds it, the oldest
	// tombstone is evicted as if forgotten. Default 100,000; must be
	// positive.
	MaxTombstones int
	// FilterTombstones keeps a Bloom filter of the tombstones' IDs in
	// memory, so that looking up a transaction that has none (every
	// one-phase commit does) reads no storage. It is built from the store
	// on the first lookup and rebuilt as it fills; about 10 bits per
	// tombstone. The state machine sets it.
	FilterTombstones bool
}

// DefaultMaxTombstones is the default ParticipantOptions.MaxTombstones.
const DefaultMaxTombstones = 100_000

// EnsureDefaults fills in zero fields.
func (o *ParticipantOptions) EnsureDefaults() {
	if o.MaxTombstones == 0 {
		o.MaxTombstones = DefaultMaxTombstones
	}
}

// Validate checks the options after EnsureDefaults.
func (o *ParticipantOptions) Validate() error {
	if o.MaxTombstones <= 0 {
		return errors.Newf("txn: MaxTombstones must be positive, got %d", o.MaxTombstones)
	}
	return nil
}

// Participant is one group's replicated 2PC participant state machine.
// Every mutating method is one applied Raft entry: replicas call them in
// log order and end in identical states. All state lives in the Store under
// the group's record span (records.go); the Participant caches the
// prepared records and the meta record, loaded by OpenParticipant. A
// restart, or a Raft snapshot that carries the record span, is
// OpenParticipant over the store.
//
// # Decisions and tombstones
//
// A decided transaction leaves a tombstone (its Outcome) so that duplicate
// or reordered delivery of the same decision is a no-op, a late Prepare is
// refused with the known outcome, and a change of decision is caught
// (assertion failure, invariant 9). Tombstones live until Forget(txn) or
// until MaxTombstones newer decisions evict them. Forgetting is safe
// because of the forgotten horizon: the largest commit timestamp (and
// prepare timestamp) of a forgotten tombstone.
//
//   - A Prepare of an unknown transaction with PrepareTS <= horizon is
//     refused (a no vote, which is always safe for a transaction this
//     participant has not voted yes for). A re-delivered prepare of a
//     forgotten transaction always has PrepareTS < its CommitTS <= horizon
//     (or its PrepareTS <= horizon if it aborted after preparing), so it
//     cannot prepare again. A fresh prepare is above the horizon, because
//     the leader's prepare timestamps are above everything it assigned,
//     committed or closed (ChoosePrepareTS). A forgotten abort of a never
//     prepared transaction raises no horizon: its late prepare would be
//     accepted and resolved by asking the coordinator (presumed abort),
//     which costs time, not safety.
//   - A Commit of an unknown transaction at CommitTS <= horizon is taken as
//     a duplicate of a forgotten commit (no-op); above the horizon it was
//     never prepared here, which is a protocol bug (assertion failure).
//
// # What it must never do
//
// Decide alone (invariant 9): a prepared transaction leaves the prepared
// state only by Commit or Abort from the coordinator. Change a decision.
// Install a commit at or below the prepare timestamp (invariant 2).
//
// On an error from the Store the in-memory cache may disagree with the
// store: the caller must treat the store as failed (fail-stop) and reopen.
// Assertion failures (caller or protocol bugs) panic with
// errors.AssertionFailedf.
//
// A Participant is not safe for concurrent use; the apply loop owns it.
type Participant struct {
	opts     ParticipantOptions
	group    GroupID
	store    Store
	prepared map[TxnID]*PrepareRecord
	meta     participantMeta
	// ageFloor is at or below the sequence number of every tombstone in
	// age order: eviction scans from it rather than from the start of the
	// age order, which in an LSM would step over every evicted entry not
	// yet compacted away.
	ageFloor uint64
	// filter holds the ID of every stored tombstone (FilterTombstones;
	// nil until the first lookup builds it).
	filter *tombFilter
}

// OpenParticipant loads group's participant state from store.
func OpenParticipant(group GroupID, store Store, opts ParticipantOptions) (*Participant, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p := &Participant{opts: opts, group: group, store: store, prepared: map[TxnID]*PrepareRecord{}}
	start := recordKey(group, kindPrepared)
	var decodeErr error
	err := store.ScanRecords(start, bytesPrefixEnd(start), func(k, v []byte) bool {
		r, err := DecodePrepareRecord(v)
		if err != nil {
			decodeErr = errors.Wrapf(err, "txn: prepared record %x", k)
			return false
		}
		p.prepared[r.ID] = &r
		return true
	})
	if err = errors.CombineErrors(err, decodeErr); err != nil {
		return nil, err
	}
	v, ok, err := store.GetRecord(recordKey(group, kindMeta))
	if err != nil {
		return nil, err
	}
	if ok {
		if p.meta, err = decodeMeta(v); err != nil {
			return nil, errors.Wrap(err, "txn: participant meta")
		}
	}
	return p, nil
}

// PrepareStatus is the outcome of Prepare.
type PrepareStatus uint8

const (
	// Prepared: the record was logged by this call; vote yes.
	Prepared PrepareStatus = iota + 1
	// AlreadyPrepared: a duplicate; the existing record stands (its
	// PrepareTS, not the duplicate's, is the one to report); vote yes.
	AlreadyPrepared
	// AlreadyDecided: the transaction was decided here before; Outcome
	// says how. Nothing changed.
	AlreadyDecided
	// Refused: the transaction is unknown and its prepare timestamp is at
	// or below the forgotten horizon (a late duplicate of a forgotten
	// transaction); vote no. Nothing changed.
	Refused
)

// String returns the status in lower case.
func (s PrepareStatus) String() string {
	switch s {
	case Prepared:
		return "prepared"
	case AlreadyPrepared:
		return "already-prepared"
	case AlreadyDecided:
		return "already-decided"
	case Refused:
		return "refused"
	}
	return "prepare-status(?)"
}

// PrepareResult is the outcome of Prepare. Record is a copy owned by the
// caller.
type PrepareResult struct {
	Status PrepareStatus
	// Record is the prepared record in effect (Prepared, AlreadyPrepared).
	Record PrepareRecord
	// Outcome is the known outcome (AlreadyDecided).
	Outcome Outcome
}

// Prepare applies a prepare entry: it records rec (copied) as prepared
// unless the transaction is already prepared, decided or too old (see
// PrepareStatus). rec must name this group and its coordinator among its
// participants and have positive timestamps; violations panic.
func (p *Participant) Prepare(rec PrepareRecord) (PrepareResult, error) {
	p.checkPrepare(&rec)
	if r := p.prepared[rec.ID]; r != nil {
		return PrepareResult{Status: AlreadyPrepared, Record: r.clone()}, nil
	}
	t, ok, err := p.tombstone(rec.ID)
	if err != nil {
		return PrepareResult{}, err
	}
	if ok {
		return PrepareResult{Status: AlreadyDecided, Outcome: t.Outcome}, nil
	}
	if rec.PrepareTS <= p.meta.forgottenTS {
		return PrepareResult{Status: Refused}, nil
	}
	r := rec.clone()
	if err := p.store.PutRecord(txnKey(p.group, kindPrepared, r.ID), EncodePrepareRecord(&r)); err != nil {
		return PrepareResult{}, err
	}
	p.prepared[r.ID] = &r
	return PrepareResult{Status: Prepared, Record: r.clone()}, nil
}

func (p *Participant) checkPrepare(rec *PrepareRecord) {
	switch {
	case rec.ID == (TxnID{}):
		panic(errors.AssertionFailedf("txn: prepare of the zero transaction ID"))
	case rec.PrepareTS <= 0 || rec.StartTS <= 0:
		panic(errors.AssertionFailedf("txn: prepare of %s with prepare timestamp %d, start timestamp %d",
			rec.ID, rec.PrepareTS, rec.StartTS))
	case !slices.Contains(rec.Participants, p.group):
		panic(errors.AssertionFailedf("txn: prepare of %s at group %d, not among participants %v",
			rec.ID, p.group, rec.Participants))
	case !slices.Contains(rec.Participants, rec.Coordinator):
		panic(errors.AssertionFailedf("txn: prepare of %s with coordinator %d not among participants %v",
			rec.ID, rec.Coordinator, rec.Participants))
	}
}

// Commit applies the coordinator's commit decision: it installs the
// prepared writes at commitTS (invariant 1), drops the prepared record and
// leaves a commit tombstone. It returns whether this call changed anything
// (false for a duplicate). The caller then releases the transaction's
// locks (LockTable.Release is idempotent too).
//
// Assertion failures (panics): commitTS <= PrepareTS (invariant 2); a
// commit after an abort or at another timestamp than the recorded commit
// (invariant 9); a commit of a transaction never prepared here (unknown
// and above the forgotten horizon).
func (p *Participant) Commit(id TxnID, commitTS int64) (applied bool, err error) {
	if r := p.prepared[id]; r != nil {
		if commitTS <= r.PrepareTS {
			panic(errors.AssertionFailedf("txn: commit of %s at %d, not above its prepare timestamp %d",
				id, commitTS, r.PrepareTS))
		}
		if err := p.install(r.Writes, commitTS); err != nil {
			return false, err
		}
		return true, p.decide(id, Outcome{Decision: DecisionCommit, CommitTS: commitTS, PrepareTS: r.PrepareTS})
	}
	t, ok, err := p.tombstone(id)
	if err != nil {
		return false, err
	}
	switch {
	case ok && t.Decision == DecisionAbort:
		panic(errors.AssertionFailedf("txn: commit of %s at %d after it aborted", id, commitTS))
	case ok && t.CommitTS != commitTS:
		panic(errors.AssertionFailedf("txn: commit of %s at %d after it committed at %d", id, commitTS, t.CommitTS))
	case ok:
		return false, nil
	case commitTS <= p.meta.forgottenTS:
		return false, nil
	}
	panic(errors.AssertionFailedf("txn: commit of %s at %d, never prepared here", id, commitTS))
}

// Abort applies an abort: it drops the prepared record, if any, and leaves
// an abort tombstone, also for an unknown transaction (so that a late
// prepare is refused). It returns whether this call changed anything. An
// abort after a commit panics (invariant 9).
func (p *Participant) Abort(id TxnID) (applied bool, err error) {
	if id == (TxnID{}) {
		panic(errors.AssertionFailedf("txn: abort of the zero transaction ID"))
	}
	var prepareTS int64
	if r := p.prepared[id]; r != nil {
		prepareTS = r.PrepareTS
	} else {
		t, ok, err := p.tombstone(id)
		if err != nil {
			return false, err
		}
		if ok && t.Decision == DecisionCommit {
			panic(errors.AssertionFailedf("txn: abort of %s after it committed at %d", id, t.CommitTS))
		}
		if ok {
			return false, nil
		}
	}
	return true, p.decide(id, Outcome{Decision: DecisionAbort, PrepareTS: prepareTS})
}

// CommitOnePhase applies the one-phase commit of a transaction that
// touches only this group: it installs writes at ts and leaves a commit
// tombstone. It returns the outcome in effect. A duplicate (same ts) is a
// no-op. If the transaction was aborted here first (a wound raced with the
// commit proposal), the abort stands and is returned: the first decision
// wins and the client is told it aborted. A prepared transaction or a
// different commit timestamp panics.
func (p *Participant) CommitOnePhase(id TxnID, ts int64, writes []Write) (Outcome, error) {
	if id == (TxnID{}) || ts <= 0 {
		panic(errors.AssertionFailedf("txn: one-phase commit of %s at %d", id, ts))
	}
	if p.prepared[id] != nil {
		panic(errors.AssertionFailedf("txn: one-phase commit of prepared %s", id))
	}
	t, ok, err := p.tombstone(id)
	if err != nil {
		return Outcome{}, err
	}
	return p.commitOnePhase(id, ts, writes, t, ok)
}

// commitOnePhase is CommitOnePhase once the tombstone of id (if ok) was
// looked up: the state machine looks it up first, to refuse a
// conflicting duplicate as an invalid command rather than panic, and the
// lookup is a storage read worth making once.
func (p *Participant) commitOnePhase(id TxnID, ts int64, writes []Write, t tombstone, ok bool) (Outcome, error) {
	if ok {
		if t.Decision == DecisionCommit && t.CommitTS != ts {
			panic(errors.AssertionFailedf("txn: one-phase commit of %s at %d after it committed at %d",
				id, ts, t.CommitTS))
		}
		return t.Outcome, nil
	}
	if err := p.install(writes, ts); err != nil {
		return Outcome{}, err
	}
	o := Outcome{Decision: DecisionCommit, CommitTS: ts}
	return o, p.decide(id, o)
}

// Forget drops the tombstone of a decided transaction and raises the
// forgotten horizon. The caller logs it once the coordinator has forgotten
// the transaction (all participants acked). Forgetting an unknown
// transaction is a no-op; forgetting a prepared one panics.
func (p *Participant) Forget(id TxnID) error {
	if p.prepared[id] != nil {
		panic(errors.AssertionFailedf("txn: forget of undecided prepared %s", id))
	}
	t, ok, err := p.tombstone(id)
	if err != nil || !ok {
		return err
	}
	m := p.meta
	if err := p.dropTombstone(&m, id, t); err != nil {
		return err
	}
	return p.putMeta(m)
}

// Decided returns the remembered outcome of a transaction, if any.
func (p *Participant) Decided(id TxnID) (Outcome, bool, error) {
	t, ok, err := p.tombstone(id)
	return t.Outcome, ok, err
}

// DecidedIn looks up a transaction's tombstone in store without opening
// the participant: the leader's duplicate check for a retried request.
func DecidedIn(store Store, group GroupID, id TxnID) (Outcome, bool, error) {
	p := Participant{group: group, store: store}
	return p.Decided(id)
}

// Prepared returns copies of the prepared records, by PrepareTS then ID:
// for LockTable rebuild at a new leader (RebuildLocks) and for recovery (a
// record prepared too long asks its coordinator).
func (p *Participant) Prepared() []PrepareRecord {
	out := make([]PrepareRecord, 0, len(p.prepared))
	for _, r := range p.prepared {
		out = append(out, r.clone())
	}
	slices.SortFunc(out, func(a, b PrepareRecord) int {
		if a.PrepareTS != b.PrepareTS {
			return cmp.Compare(a.PrepareTS, b.PrepareTS)
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out
}

// MinPreparedTS returns the smallest prepare timestamp of a prepared
// transaction, and false if there is none (for SafeTime).
func (p *Participant) MinPreparedTS() (int64, bool) {
	var minTS int64
	found := false
	for _, r := range p.prepared {
		if !found || r.PrepareTS < minTS {
			minTS, found = r.PrepareTS, true
		}
	}
	return minTS, found
}

// ForgottenTS returns the forgotten horizon (see Participant).
func (p *Participant) ForgottenTS() int64 { return p.meta.forgottenTS }

func (p *Participant) install(writes []Write, ts int64) error {
	for _, w := range writes {
		var err error
		if w.Delete {
			err = p.store.DeleteVersion(w.Key, ts)
		} else {
			err = p.store.PutVersion(w.Key, ts, w.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// decide drops the prepared record of id (if any) and records its
// tombstone. Beyond MaxTombstones it evicts the oldest tombstones, a
// batch of evictBatch at a time (see evictOldest).
func (p *Participant) decide(id TxnID, o Outcome) error {
	if err := p.store.DeleteRecord(txnKey(p.group, kindPrepared, id)); err != nil {
		return err
	}
	m := p.meta
	t := tombstone{Outcome: o, seq: m.nextSeq}
	m.nextSeq++
	m.tombstones++
	enc := encodeTombstone(t)
	if err := p.store.PutRecord(txnKey(p.group, kindTombstone, id), enc); err != nil {
		return err
	}
	if p.filter != nil {
		p.filter.add(id)
	}
	// The age entry repeats the tombstone so that eviction reads it from
	// the age scan instead of looking each evicted tombstone up.
	if err := p.store.PutRecord(ageKey(p.group, t.seq, id), enc); err != nil {
		return err
	}
	if m.tombstones > uint64(p.opts.MaxTombstones) {
		n := m.tombstones - uint64(p.opts.MaxTombstones) + p.evictBatch() - 1
		if err := p.evictOldest(&m, n); err != nil {
			return err
		}
	}
	if err := p.putMeta(m); err != nil {
		return err
	}
	delete(p.prepared, id)
	return nil
}

// evictBatch is how many tombstones one eviction drops: 1/64 of the
// bound (at least one), so that the scan that finds the oldest runs once
// per evictBatch decisions rather than once per decision. Evicting early
// is always safe (see Participant); it only forgets sooner.
func (p *Participant) evictBatch() uint64 {
	return max(1, uint64(p.opts.MaxTombstones)/64)
}

// evictOldest drops the n oldest tombstones in one scan of the age order.
func (p *Participant) evictOldest(m *participantMeta, n uint64) error {
	prefix := recordKey(p.group, kindAgeOrder)
	type aged struct {
		id  TxnID
		t   tombstone
		has bool // the age entry carried the tombstone
	}
	var victims []aged
	var decodeErr error
	err := p.store.ScanRecords(ageKey(p.group, p.ageFloor, TxnID{}), bytesPrefixEnd(prefix), func(k, v []byte) bool {
		var a aged
		if len(k) != len(prefix)+8+len(a.id) {
			decodeErr = errors.Mark(errors.Newf("txn: malformed age entry %x", k), ErrCorruptRecord)
			return false
		}
		p.ageFloor = binary.BigEndian.Uint64(k[len(prefix):])
		copy(a.id[:], k[len(prefix)+8:])
		// Entries written before the age order carried tombstones are
		// empty; their tombstones are looked up below.
		if len(v) > 0 {
			if a.t, decodeErr = decodeTombstone(v); decodeErr != nil {
				decodeErr = errors.Wrapf(decodeErr, "txn: age entry of %s", a.id)
				return false
			}
			a.has = true
		}
		victims = append(victims, a)
		return uint64(len(victims)) < n
	})
	if err = errors.CombineErrors(err, decodeErr); err != nil {
		return err
	}
	if uint64(len(victims)) < n {
		return errors.Mark(errors.Newf("txn: %d tombstones counted, %d in age order", m.tombstones, len(victims)),
			ErrCorruptRecord)
	}
	for _, a := range victims {
		if !a.has {
			var ok bool
			if a.t, ok, err = p.tombstone(a.id); err != nil {
				return err
			} else if !ok {
				return errors.Mark(errors.Newf("txn: age order names %s without tombstone", a.id), ErrCorruptRecord)
			}
		}
		if err := p.dropTombstone(m, a.id, a.t); err != nil {
			return err
		}
	}
	return nil
}

func (p *Participant) dropTombstone(m *participantMeta, id TxnID, t tombstone) error {
	if err := p.store.DeleteRecord(txnKey(p.group, kindTombstone, id)); err != nil {
		return err
	}
	if err := p.store.DeleteRecord(ageKey(p.group, t.seq, id)); err != nil {
		return err
	}
	m.tombstones--
	m.forgottenTS = max(m.forgottenTS, t.CommitTS, t.PrepareTS)
	return nil
}

// buildFilter builds the tombstone filter from the store, sized for
// twice the tombstones stored (at least 1,024), so that it is rebuilt
// after about as many decisions as it holds.
func (p *Participant) buildFilter() error {
	f := newTombFilter(max(1024, 2*int(p.meta.tombstones)))
	start := recordKey(p.group, kindTombstone)
	var id TxnID
	var bad []byte
	err := p.store.ScanRecords(start, bytesPrefixEnd(start), func(k, _ []byte) bool {
		if len(k) != len(start)+len(id) {
			bad = bytes.Clone(k)
			return false
		}
		copy(id[:], k[len(start):])
		f.add(id)
		return true
	})
	if err != nil {
		return err
	}
	if bad != nil {
		return errors.Mark(errors.Newf("txn: malformed tombstone key %x", bad), ErrCorruptRecord)
	}
	p.filter = f
	return nil
}

func (p *Participant) putMeta(m participantMeta) error {
	if err := p.store.PutRecord(recordKey(p.group, kindMeta), encodeMeta(m)); err != nil {
		return err
	}
	p.meta = m
	return nil
}

func (p *Participant) tombstone(id TxnID) (tombstone, bool, error) {
	if p.opts.FilterTombstones {
		if p.filter == nil || p.filter.full() {
			if err := p.buildFilter(); err != nil {
				return tombstone{}, false, err
			}
		}
		if !p.filter.mayContain(id) {
			return tombstone{}, false, nil
		}
	}
	v, ok, err := p.store.GetRecord(txnKey(p.group, kindTombstone, id))
	if err != nil || !ok {
		return tombstone{}, false, err
	}
	t, err := decodeTombstone(v)
	if err != nil {
		return tombstone{}, false, errors.Wrapf(err, "txn: tombstone of %s", id)
	}
	return t, true, nil
}

// RebuildLocks rebuilds a new leader's lock table from the prepared
// records: exclusive locks on write keys and shared locks on read keys
// (prepared transactions keep their read locks until decided, or a writer
// could commit below the prepared transaction's eventual commit
// timestamp). It returns the transactions the table knew that are not
// prepared: they lost their locks and must abort (invariant 8).
//
// LockTable.Rebuild installs exclusive locks only, so this rebuilds an
// empty table and re-acquires each prepared transaction's locks before
// marking it prepared. Prepared transactions never hold conflicting locks
// (two-phase locking), so every acquire is granted; anything else panics.
func RebuildLocks(lt *LockTable, prepared []PrepareRecord) (dropped []TxnID) {
	isPrepared := make(map[TxnID]bool, len(prepared))
	for _, r := range prepared {
		isPrepared[r.ID] = true
	}
	for _, id := range lt.Rebuild(nil) {
		if !isPrepared[id] {
			dropped = append(dropped, id)
		}
	}
	for i := range prepared {
		r := &prepared[i]
		meta := TxnMeta{ID: r.ID, StartTS: r.StartTS}
		acquire := func(key []byte, mode Mode) {
			if res := lt.Acquire(meta, key, mode); res.Status != Granted {
				panic(errors.AssertionFailedf("txn: rebuilding prepared %s: %s lock on %q is %s",
					r.ID, mode, key, res.Status))
			}
		}
		for _, k := range r.ReadKeys {
			acquire(k, Shared)
		}
		for _, w := range r.Writes {
			acquire(w.Key, Exclusive)
		}
		lt.MarkPrepared(r.ID)
	}
	return dropped
}
