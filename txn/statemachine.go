package txn

import (
	"sync"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/storage"
	"google.golang.org/protobuf/proto"
)

// ErrInvalidCommand marks a command that cannot apply (malformed, or with
// arguments the protocol never produces). It is an outcome reported to the
// proposer, identical on every replica; it never stops the replica.
var ErrInvalidCommand = errors.New("txn: invalid command")

// StateMachine is the replicated side of the transaction layer: it applies
// a group's committed pb.TxnCommand entries to the group's participant
// and coordinator state and to the MVCC versions, through the apply batch
// (so every effect commits atomically with the applied index). It plugs
// into paxosgroup's StateMachine boundary.
//
// Every method runs identically on every replica. Arguments are validated
// here before they reach Participant and Coordinator, whose assertions
// guard invariants the protocol must never break; a command that would
// trip them is refused with ErrInvalidCommand instead.
//
// Participant and Coordinator state is loaded from a group's records once
// and then kept in memory, keyed by the replica's ApplyContext.StateGen:
// reopening them on every command scans the group's prepared and decision
// records, which in an LSM means skipping every deleted one not yet
// compacted away, and that scan dominated the apply loop under load.
type StateMachine struct {
	opts ParticipantOptions

	mu     sync.Mutex
	groups map[GroupID]*groupState
}

// groupState is one group's cached participant and coordinator, valid for
// the applied state lineage gen. Only the group's apply loop uses it.
type groupState struct {
	group GroupID
	gen   uint64
	p     *Participant
	c     *Coordinator
}

var (
	_ paxosgroup.StateMachine  = (*StateMachine)(nil)
	_ paxosgroup.RecordSpanner = (*StateMachine)(nil)
)

// ErrSplitWithPrepared refuses a split while transactions are prepared
// at the group: their records (and locks) would stay left while some of
// their keys move right. Retry once they are decided.
var ErrSplitWithPrepared = errors.New("txn: the group has prepared transactions; split it once they are decided")

// CanSplit implements paxosgroup.RecordSpanner.
func (sm *StateMachine) CanSplit(r storage.RecordReader, groupID uint64) error {
	start := recordKey(GroupID(groupID), kindPrepared)
	n := 0
	if err := r.ScanRecords(start, bytesPrefixEnd(start), func(_, _ []byte) bool { n++; return false }); err != nil {
		return err
	}
	if n > 0 {
		return ErrSplitWithPrepared
	}
	return nil
}

// RecordSpan implements paxosgroup.RecordSpanner: a group's prepared,
// tombstone and decision records travel with its Raft snapshots.
func (sm *StateMachine) RecordSpan(groupID uint64) (start, end []byte) {
	return RecordSpan(GroupID(groupID))
}

// NewStateMachine returns the state machine with the given participant
// options (zero: defaults).
func NewStateMachine(opts ParticipantOptions) (*StateMachine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &StateMachine{opts: opts, groups: map[GroupID]*groupState{}}, nil
}

// Apply implements paxosgroup.StateMachine. The result is a marshaled
// pb.TxnResult.
func (sm *StateMachine) Apply(b *storage.Batch, ac *paxosgroup.ApplyContext, data []byte) ([]byte, error) {
	var c pb.TxnCommand
	if err := proto.Unmarshal(data, &c); err != nil {
		return nil, errors.Mark(errors.Wrap(err, "txn: undecodable command"), ErrInvalidCommand)
	}
	if kv, ok := c.Cmd.(*pb.TxnCommand_Kv); ok {
		res, err := applyKV(b, ac, kv.Kv)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(res)
	}
	group := GroupID(ac.Descriptor.GroupId)
	gs := sm.state(group, ac.StateGen)
	var res *pb.TxnResult
	var err error
	switch cmd := c.Cmd.(type) {
	case *pb.TxnCommand_Prepare:
		res, err = sm.applyPrepare(b, ac, gs, cmd.Prepare)
	case *pb.TxnCommand_Commit:
		res, err = sm.applyCommit(b, ac, gs, cmd.Commit)
	case *pb.TxnCommand_Abort:
		res, err = sm.applyAbort(b, gs, cmd.Abort)
	case *pb.TxnCommand_OnePhase:
		res, err = sm.applyOnePhase(b, ac, gs, cmd.OnePhase)
	case *pb.TxnCommand_Decide:
		res, err = sm.applyDecide(b, ac, gs, cmd.Decide)
	case *pb.TxnCommand_Ack:
		res, err = applyAck(b, gs, cmd.Ack)
	default:
		err = errors.Mark(errors.New("txn: empty command"), ErrInvalidCommand)
	}
	if err != nil {
		if !errors.Is(err, ErrInvalidCommand) && !errors.Is(err, paxosgroup.ErrWrongRange) {
			// A store error may have left the cache ahead of what the
			// batch holds; reload from the records next time.
			sm.drop(group, gs)
		}
		return nil, err
	}
	return proto.Marshal(res)
}

// state returns group's cached state for lineage gen, replacing a stale
// one. The participant and coordinator are loaded on first use.
func (sm *StateMachine) state(group GroupID, gen uint64) *groupState {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	gs := sm.groups[group]
	if gs == nil || gs.gen != gen {
		gs = &groupState{group: group, gen: gen}
		sm.groups[group] = gs
	}
	return gs
}

func (sm *StateMachine) drop(group GroupID, gs *groupState) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.groups[group] == gs {
		delete(sm.groups, group)
	}
}

func invalid(format string, args ...any) error {
	return errors.Mark(errors.Newf(format, args...), ErrInvalidCommand)
}

func txnID(b []byte) (TxnID, error) {
	var id TxnID
	if len(b) != len(id) {
		return id, invalid("txn: transaction ID of %d bytes, want %d", len(b), len(id))
	}
	copy(id[:], b)
	if id == (TxnID{}) {
		return id, invalid("txn: zero transaction ID")
	}
	return id, nil
}

// checkSpan refuses writes outside the group's span (a split moved them).
func checkSpan(ac *paxosgroup.ApplyContext, writes []Write) error {
	for _, w := range writes {
		if !paxosgroup.ContainsKey(ac.Descriptor, w.Key) {
			return &paxosgroup.WrongRangeError{Key: w.Key, Descriptor: ac.Descriptor}
		}
	}
	return nil
}

// applyKV applies a single-key linearizable write. Its version timestamp is
// decided here, identically on every replica: the proposer's timestamp
// raised above every version the group wrote before, so versions follow
// log order even when leaders' clocks disagree.
func applyKV(b *storage.Batch, ac *paxosgroup.ApplyContext, c *pb.KVCommand) (*pb.TxnResult, error) {
	if !paxosgroup.ContainsKey(ac.Descriptor, c.Key) {
		return nil, &paxosgroup.WrongRangeError{Key: c.Key, Descriptor: ac.Descriptor}
	}
	ts := max(c.Timestamp, ac.MaxWriteTS+1)
	var err error
	switch c.Op {
	case pb.KVCommand_PUT:
		err = b.MVCCPut(c.Key, ts, c.Value)
	case pb.KVCommand_DELETE:
		err = b.MVCCDelete(c.Key, ts)
	default:
		err = invalid("txn: unknown KV op %d", c.Op)
	}
	if err != nil {
		return nil, err
	}
	ac.MaxWriteTS = ts
	return &pb.TxnResult{Timestamp: ts}, nil
}

// participant returns the group's participant, staging into b.
func (sm *StateMachine) participant(b *storage.Batch, gs *groupState) (*Participant, error) {
	if gs.p == nil {
		p, err := OpenParticipant(gs.group, b, sm.opts)
		if err != nil {
			return nil, err
		}
		gs.p = p
	}
	gs.p.store = b
	return gs.p, nil
}

// coordinator returns the group's coordinator, staging into b.
func coordinator(b *storage.Batch, gs *groupState) (*Coordinator, error) {
	if gs.c == nil {
		c, err := OpenCoordinator(gs.group, b)
		if err != nil {
			return nil, err
		}
		gs.c = c
	}
	gs.c.store = b
	return gs.c, nil
}

func outcomeResult(o Outcome) *pb.TxnResult {
	r := &pb.TxnResult{CommitTs: o.CommitTS, PrepareTs: o.PrepareTS}
	switch o.Decision {
	case DecisionCommit:
		r.Decision = pb.TxnResult_COMMIT
	case DecisionAbort:
		r.Decision = pb.TxnResult_ABORT
	}
	return r
}

func (sm *StateMachine) applyPrepare(b *storage.Batch, ac *paxosgroup.ApplyContext, gs *groupState, data []byte) (*pb.TxnResult, error) {
	rec, err := DecodePrepareRecord(data)
	if err != nil {
		return nil, errors.Mark(err, ErrInvalidCommand)
	}
	switch {
	case rec.ID == (TxnID{}):
		return nil, invalid("txn: prepare of the zero transaction ID")
	case rec.PrepareTS <= 0 || rec.StartTS <= 0:
		return nil, invalid("txn: prepare of %s with timestamps start %d, prepare %d", rec.ID, rec.StartTS, rec.PrepareTS)
	case !containsGroup(rec.Participants, gs.group) || !containsGroup(rec.Participants, rec.Coordinator):
		return nil, invalid("txn: prepare of %s at group %d with participants %v, coordinator %d", rec.ID, gs.group, rec.Participants, rec.Coordinator)
	}
	if err := checkSpan(ac, rec.Writes); err != nil {
		return nil, err
	}
	p, err := sm.participant(b, gs)
	if err != nil {
		return nil, err
	}
	pr, err := p.Prepare(rec)
	if err != nil {
		return nil, err
	}
	res := outcomeResult(pr.Outcome)
	res.PrepareStatus = pr.Status.String()
	if pr.Status == Prepared || pr.Status == AlreadyPrepared {
		res.PrepareTs = pr.Record.PrepareTS
	}
	return res, nil
}

// decidedUnlessPrepared is Participant.Decided without the store lookup
// for a transaction prepared here, which has no tombstone.
func decidedUnlessPrepared(p *Participant, id TxnID) (Outcome, bool, error) {
	if p.prepared[id] != nil {
		return Outcome{}, false, nil
	}
	return p.Decided(id)
}

func containsGroup(gs []GroupID, g GroupID) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

func (sm *StateMachine) applyCommit(b *storage.Batch, ac *paxosgroup.ApplyContext, gs *groupState, c *pb.TxnCommit) (*pb.TxnResult, error) {
	id, err := txnID(c.TxnId)
	if err != nil {
		return nil, err
	}
	p, err := sm.participant(b, gs)
	if err != nil {
		return nil, err
	}
	// Refuse what Participant.Commit would assert on: it is never
	// produced by a correct coordinator, and must not crash replicas. A
	// prepared transaction has no tombstone: skip the lookup.
	r := p.prepared[id]
	if r == nil {
		if o, ok, err := p.Decided(id); err != nil {
			return nil, err
		} else if ok {
			if o.Decision != DecisionCommit || o.CommitTS != c.CommitTs {
				return nil, invalid("txn: commit of %s at %d contradicts its recorded outcome %s at %d", id, c.CommitTs, o.Decision, o.CommitTS)
			}
			return outcomeResult(o), nil
		}
	}
	if r != nil && c.CommitTs <= r.PrepareTS {
		return nil, invalid("txn: commit of %s at %d not above its prepare timestamp %d", id, c.CommitTs, r.PrepareTS)
	}
	if r == nil {
		if c.CommitTs <= p.ForgottenTS() {
			// A duplicate of a commit long applied and forgotten.
			return outcomeResult(Outcome{Decision: DecisionCommit, CommitTS: c.CommitTs}), nil
		}
		return nil, invalid("txn: commit of %s, which was never prepared here", id)
	}
	if _, err := p.Commit(id, c.CommitTs); err != nil {
		return nil, err
	}
	ac.MaxWriteTS = max(ac.MaxWriteTS, c.CommitTs)
	return outcomeResult(Outcome{Decision: DecisionCommit, CommitTS: c.CommitTs}), nil
}

func (sm *StateMachine) applyAbort(b *storage.Batch, gs *groupState, raw []byte) (*pb.TxnResult, error) {
	id, err := txnID(raw)
	if err != nil {
		return nil, err
	}
	p, err := sm.participant(b, gs)
	if err != nil {
		return nil, err
	}
	if o, ok, err := decidedUnlessPrepared(p, id); err != nil {
		return nil, err
	} else if ok && o.Decision == DecisionCommit {
		return nil, invalid("txn: abort of %s, which committed at %d", id, o.CommitTS)
	}
	if _, err := p.Abort(id); err != nil {
		return nil, err
	}
	return outcomeResult(Outcome{Decision: DecisionAbort}), nil
}

func (sm *StateMachine) applyOnePhase(b *storage.Batch, ac *paxosgroup.ApplyContext, gs *groupState, c *pb.TxnOnePhase) (*pb.TxnResult, error) {
	id, err := txnID(c.TxnId)
	if err != nil {
		return nil, err
	}
	if c.Ts <= 0 {
		return nil, invalid("txn: one-phase commit of %s at %d", id, c.Ts)
	}
	writes := make([]Write, len(c.Writes))
	for i, w := range c.Writes {
		writes[i] = Write{Key: w.Key, Value: w.Value, Delete: w.Delete}
	}
	if err := checkSpan(ac, writes); err != nil {
		return nil, err
	}
	p, err := sm.participant(b, gs)
	if err != nil {
		return nil, err
	}
	if p.prepared[id] != nil {
		return nil, invalid("txn: one-phase commit of %s, which is prepared here", id)
	}
	if c.Unrecorded {
		if err := p.install(writes, c.Ts); err != nil {
			return nil, err
		}
		ac.MaxWriteTS = max(ac.MaxWriteTS, c.Ts)
		return outcomeResult(Outcome{Decision: DecisionCommit, CommitTS: c.Ts}), nil
	}
	t, ok, err := p.tombstone(id)
	if err != nil {
		return nil, err
	} else if ok && t.Decision == DecisionCommit && t.CommitTS != c.Ts {
		return nil, invalid("txn: one-phase commit of %s at %d after it committed at %d", id, c.Ts, t.CommitTS)
	}
	o, err := p.commitOnePhase(id, c.Ts, writes, t, ok)
	if err != nil {
		return nil, err
	}
	if o.Decision == DecisionCommit {
		ac.MaxWriteTS = max(ac.MaxWriteTS, o.CommitTS)
	}
	return outcomeResult(o), nil
}

func (sm *StateMachine) applyDecide(b *storage.Batch, ac *paxosgroup.ApplyContext, gs *groupState, c *pb.TxnDecide) (*pb.TxnResult, error) {
	id, err := txnID(c.TxnId)
	if err != nil {
		return nil, err
	}
	d := DecisionAbort
	if c.Commit {
		d = DecisionCommit
		if c.CommitTs <= 0 {
			return nil, invalid("txn: commit decision for %s at %d", id, c.CommitTs)
		}
	}
	if len(c.Participants) == 0 {
		return nil, invalid("txn: decision for %s without participants", id)
	}
	parts := make([]GroupID, len(c.Participants))
	for i, g := range c.Participants {
		parts[i] = GroupID(g)
	}
	if !containsGroup(parts, gs.group) {
		return nil, invalid("txn: decision for %s at group %d, which is not a participant", id, gs.group)
	}
	co, err := coordinator(b, gs)
	if err != nil {
		return nil, err
	}
	if r, err := co.Inquire(id); err != nil {
		return nil, err
	} else if r.Decision != DecisionUnknown {
		return outcomeResult(Outcome{Decision: r.Decision, CommitTS: r.CommitTS}), nil
	}
	// No decision on record: either none was made, or it was forgotten
	// once every participant acked it (applyAck). This group is a
	// participant and applied the decision before acking it, so its own
	// tombstone still says how it ended, and the first decision keeps
	// winning. A transaction prepared here is undecided.
	p, err := sm.participant(b, gs)
	if err != nil {
		return nil, err
	}
	if o, ok, err := decidedUnlessPrepared(p, id); err != nil {
		return nil, err
	} else if ok {
		return outcomeResult(Outcome{Decision: o.Decision, CommitTS: o.CommitTS}), nil
	}
	if p.prepared[id] == nil && d == DecisionCommit {
		// Every participant, this group among them, voted yes before a
		// commit is asked for, so the prepare applied here earlier in
		// this log; with neither it nor its tombstone left, the
		// transaction was decided so long ago that its tombstone was
		// evicted. Its outcome is forgotten: refuse.
		return nil, invalid("txn: commit decision for %s, whose outcome this group no longer remembers", id)
	}
	if pr := p.prepared[id]; pr != nil && d == DecisionCommit && c.CommitTs <= pr.PrepareTS {
		return nil, invalid("txn: commit of %s at %d not above its prepare timestamp %d here", id, c.CommitTs, pr.PrepareTS)
	}
	r, err := co.Decide(id, d, c.CommitTs, parts)
	if err != nil {
		return nil, err
	}
	// This group is one of the participants: the same entry applies the
	// outcome to its own part and acknowledges it, saving the Resolve and
	// the ack entry a delivery to itself would cost. The leader releases
	// its locks after commit wait, as a delivery would have.
	if r.Decision == DecisionCommit {
		if _, err := p.Commit(id, r.CommitTS); err != nil {
			return nil, err
		}
		ac.MaxWriteTS = max(ac.MaxWriteTS, r.CommitTS)
	} else if _, err := p.Abort(id); err != nil {
		return nil, err
	}
	if all, err := co.Acked(id, gs.group); err != nil {
		return nil, err
	} else if all {
		if err := co.Forget(id); err != nil {
			return nil, err
		}
	}
	return outcomeResult(Outcome{Decision: r.Decision, CommitTS: r.CommitTS}), nil
}

func applyAck(b *storage.Batch, gs *groupState, c *pb.TxnAck) (*pb.TxnResult, error) {
	id, err := txnID(c.TxnId)
	if err != nil {
		return nil, err
	}
	co, err := coordinator(b, gs)
	if err != nil {
		return nil, err
	}
	r, err := co.Inquire(id)
	if err != nil {
		return nil, err
	}
	if r.Decision == DecisionUnknown {
		// Already forgotten (all acked earlier): a duplicate ack.
		return &pb.TxnResult{AllAcked: true}, nil
	}
	var all bool
	for _, p := range append([]uint64{c.Participant}, c.MoreParticipants...) {
		if !containsGroup(r.Participants, GroupID(p)) {
			return nil, invalid("txn: ack for %s from group %d, which is not a participant", id, p)
		}
		if all, err = co.Acked(id, GroupID(p)); err != nil {
			return nil, err
		}
	}
	if all {
		// Rule 3: nobody needs the decision any more (applyDecide answers
		// late duplicates from this group's own tombstone). Kept, the
		// records would grow without bound.
		if err := co.Forget(id); err != nil {
			return nil, err
		}
	}
	res := outcomeResult(Outcome{Decision: r.Decision, CommitTS: r.CommitTS})
	res.AllAcked = all
	return res, nil
}
