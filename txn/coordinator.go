package txn

import (
	"bytes"
	"slices"

	"github.com/cockroachdb/errors"
)

// Coordinator is the coordinator group's replicated decision log. Every
// mutating method is one applied Raft entry, so a recorded decision is
// durable in a quorum before anyone acts on it (invariants 9 and 10). All
// state lives in the Store (records.go, kind 'c'); the Coordinator caches
// the undelivered decisions, loaded by OpenCoordinator.
//
// # Flow
//
//	client commit ──► leader: ChooseCommitTS ──► log Decide(commit) ──► apply:
//	    recorded decision (maybe an earlier abort!) ──► commit wait ──►
//	    reply to client, send decision to participants
//	participant applied decision ──► log Acked(txn, group)
//	    ──► all acked: log Forget(txn) (and participants Forget)
//	participant prepared too long ──► Inquire(txn):
//	    decided: send it;  unknown: log Decide(abort) first (presumed abort),
//	    then send the recorded decision
//	new coordinator leader ──► Undelivered(): re-send each decision
//
// # Rules
//
//  1. The first Decide wins; a later Decide returns the recorded decision
//     unchanged, whatever it asks for. A client's commit that loses to a
//     presumed abort is aborted (the leader reports the recorded decision,
//     never the requested one).
//  2. Inquire never decides: the leader that sees DecisionUnknown must log
//     Decide(abort) and answer with what that entry returns, because a
//     Decide(commit) may already be in the log ahead of it.
//  3. A decision is kept until every participant acked it, then may be
//     forgotten. That is long enough: a participant asks only while it is
//     prepared, and none is once all acked; a participant re-delivered a
//     forgotten transaction's prepare refuses it (forgotten horizon, see
//     Participant). A client with an ambiguous result must not learn its
//     outcome from Inquire after that (unknown then means forgotten, not
//     aborted); its ambiguity is final (invariant 10).
//
// A Coordinator is not safe for concurrent use; the apply loop owns it.
// Store errors leave the cache possibly stale: fail-stop and reopen.
type Coordinator struct {
	group       GroupID
	store       Store
	undelivered map[TxnID]*DecisionRecord
	// acked holds the decisions acked by every participant since the
	// load and not yet forgotten.
	acked map[TxnID]*DecisionRecord
	// complete: every decision record in the store is in undelivered or
	// acked, so a lookup that misses both needs no store read. False when
	// the load found acked records (a store that kept them), which are
	// then read from the store.
	complete bool
}

// OpenCoordinator loads group's decision log from store.
func OpenCoordinator(group GroupID, store Store) (*Coordinator, error) {
	c := &Coordinator{group: group, store: store, undelivered: map[TxnID]*DecisionRecord{},
		acked: map[TxnID]*DecisionRecord{}, complete: true}
	start := recordKey(group, kindDecision)
	var decodeErr error
	err := store.ScanRecords(start, bytesPrefixEnd(start), func(k, v []byte) bool {
		r, err := DecodeDecisionRecord(v)
		if err != nil {
			decodeErr = errors.Wrapf(err, "txn: decision record %x", k)
			return false
		}
		if r.AllAcked() {
			c.complete = false
		} else {
			c.undelivered[r.ID] = &r
		}
		return true
	})
	if err = errors.CombineErrors(err, decodeErr); err != nil {
		return nil, err
	}
	return c, nil
}

// Decide applies a decision entry and returns the decision recorded for
// the transaction: the one given, if it is the first, else the earlier one
// unchanged. A commit needs commitTS > 0; an abort's commitTS is ignored
// (recorded as 0). participants (copied, sorted, deduplicated) must be
// non-empty. Invalid arguments panic.
func (c *Coordinator) Decide(
	id TxnID, d Decision, commitTS int64, participants []GroupID,
) (DecisionRecord, error) {
	switch {
	case id == (TxnID{}):
		panic(errors.AssertionFailedf("txn: decision for the zero transaction ID"))
	case d != DecisionCommit && d != DecisionAbort:
		panic(errors.AssertionFailedf("txn: decision %s for %s", d, id))
	case d == DecisionCommit && commitTS <= 0:
		panic(errors.AssertionFailedf("txn: commit of %s at %d", id, commitTS))
	case len(participants) == 0:
		panic(errors.AssertionFailedf("txn: decision for %s without participants", id))
	}
	if r, ok, err := c.get(id); err != nil || ok {
		return r, err
	}
	if d == DecisionAbort {
		commitTS = 0
	}
	ps := slices.Clone(participants)
	slices.Sort(ps)
	r := DecisionRecord{ID: id, Decision: d, CommitTS: commitTS, Participants: slices.Compact(ps)}
	if err := c.put(&r); err != nil {
		return DecisionRecord{}, err
	}
	return r.clone(), nil
}

// Inquire returns the recorded decision, or a record with DecisionUnknown
// if there is none (never decided, or forgotten). It changes nothing; see
// rule 2 for what the leader does with DecisionUnknown.
func (c *Coordinator) Inquire(id TxnID) (DecisionRecord, error) {
	r, ok, err := c.get(id)
	if err != nil || !ok {
		return DecisionRecord{ID: id}, err
	}
	return r, nil
}

// Acked applies a participant's acknowledgement that it applied the
// decision, and returns whether every participant has now acked. Duplicate
// acks and acks for unknown (forgotten) transactions are no-ops; the
// latter return true. An ack from a group that is not a participant
// panics.
func (c *Coordinator) Acked(id TxnID, participant GroupID) (allAcked bool, err error) {
	r, ok, err := c.get(id)
	if err != nil || !ok {
		return err == nil, err
	}
	if !slices.Contains(r.Participants, participant) {
		panic(errors.AssertionFailedf("txn: ack for %s from group %d, not among participants %v",
			id, participant, r.Participants))
	}
	i, found := slices.BinarySearch(r.Acked, participant)
	if found {
		return r.AllAcked(), nil
	}
	r.Acked = slices.Insert(r.Acked, i, participant)
	if err := c.put(&r); err != nil {
		return false, err
	}
	return r.AllAcked(), nil
}

// Forget drops the decision of a transaction that every participant
// acked (rule 3). Unknown transactions are a no-op; forgetting a decision
// not yet acked by all panics.
func (c *Coordinator) Forget(id TxnID) error {
	r, ok, err := c.get(id)
	if err != nil || !ok {
		return err
	}
	if !r.AllAcked() {
		panic(errors.AssertionFailedf("txn: forget of %s acked by %v of %v", id, r.Acked, r.Participants))
	}
	if err := c.store.DeleteRecord(txnKey(c.group, kindDecision, id)); err != nil {
		return err
	}
	delete(c.acked, id)
	return nil
}

// Undelivered returns copies of the decisions not yet acked by every
// participant, by ID: a new coordinator leader re-sends them.
func (c *Coordinator) Undelivered() []DecisionRecord {
	out := make([]DecisionRecord, 0, len(c.undelivered))
	for _, r := range c.undelivered {
		out = append(out, r.clone())
	}
	slices.SortFunc(out, func(a, b DecisionRecord) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

func (c *Coordinator) get(id TxnID) (DecisionRecord, bool, error) {
	if r := c.undelivered[id]; r != nil {
		return r.clone(), true, nil
	}
	if r := c.acked[id]; r != nil {
		return r.clone(), true, nil
	}
	if c.complete {
		return DecisionRecord{}, false, nil
	}
	v, ok, err := c.store.GetRecord(txnKey(c.group, kindDecision, id))
	if err != nil || !ok {
		return DecisionRecord{}, false, err
	}
	r, err := DecodeDecisionRecord(v)
	if err != nil {
		return DecisionRecord{}, false, errors.Wrapf(err, "txn: decision of %s", id)
	}
	return r, true, nil
}

func (c *Coordinator) put(r *DecisionRecord) error {
	if err := c.store.PutRecord(txnKey(c.group, kindDecision, r.ID), EncodeDecisionRecord(r)); err != nil {
		return err
	}
	cp := r.clone()
	if r.AllAcked() {
		delete(c.undelivered, r.ID)
		c.acked[r.ID] = &cp
	} else {
		c.undelivered[r.ID] = &cp
	}
	return nil
}
