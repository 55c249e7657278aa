package paxosgroup

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/storage"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/quorum"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// Raft's initial log position for groups created by bootstrap and splits:
// every replica starts with the same truncated log, so they need no
// snapshot to agree on where the log begins.
const (
	initialLogIndex = 10
	initialLogTerm  = 5
)

type proposal struct {
	id    uint64
	data  []byte
	cc    *raftpb.ConfChangeV2
	done  chan proposalResult
	start time.Time
}

type proposalResult struct {
	result []byte
	err    error
}

// replica is one group's member on this node.
//
// Fields outside mu are immutable or atomic; the atomics serve the read
// path and the tick loop without taking mu, which a worker holds across
// fsyncs.
type replica struct {
	h         *Host
	groupID   uint64
	replicaID uint64
	rs        *storage.RaftStorage

	leaderNode  atomic.Uint64
	leaderID    atomic.Uint64
	isLeader    atomic.Bool
	quiesced    atomic.Bool
	initialized atomic.Bool
	// leaseExpiry is in liveness.monoNow units; 0 when there is no lease.
	leaseExpiry atomic.Int64
	desc        atomic.Pointer[pb.GroupDescriptor]
	// applied mirrors mu.state's applied index and highest write
	// timestamp for readers that must not wait for mu (held across
	// fsyncs); leaseTerm is the term of the current leadership.
	appliedIndex atomic.Uint64
	maxWriteTS   atomic.Int64
	leaseTerm    atomic.Uint64
	// leaderLeft is the term (0: none) in which the node of the leader
	// this follower follows asked it for votes for a later term: that
	// replica no longer leads, so the lease promise to its node protects
	// nothing in this group. Without this, followers of a leader that
	// restarted with a shorter log (its unsynced tail lost) would neither
	// tick nor vote for anyone else while its node stays supported, and
	// it could not win: the group would stay leaderless.
	leaderLeft atomic.Uint64
	// lastHeard is when a Raft message of this group last arrived (unix
	// nanos); lastGCCheck when replica GC last asked the directory.
	lastHeard, lastGCCheck atomic.Int64

	inboxMu sync.Mutex
	inbox   struct {
		msgs        []inbound
		props       []*proposal
		ticks       int
		unreachable []uint64
	}

	peersMu   sync.Mutex
	peerNodes map[uint64]uint64 // replica ID -> node, learned from messages

	mu struct {
		sync.Mutex
		rn        *raft.RawNode
		state     *pb.ReplicaState
		confState *raftpb.ConfState
		voters    quorum.JointConfig
		failed    error
		destroyed bool
		proposals map[uint64]*proposal
		term      uint64
		// termStart is the index of the first entry of our leadership
		// term; a leader serves reads only once it has applied it.
		termStart    uint64
		transferring bool
		persistedHS  *raftpb.HardState
		// epochAt is, per voter, the support epoch in which it last
		// answered this leader in its current term (see liveness.go).
		epochAt   map[uint64]uint64
		matched   map[uint64]bool // scratch for updateLeaseLocked
		idleTicks int
		// stateGen names this replica's applied-state lineage for the
		// state machine's caches (ApplyContext.StateGen).
		stateGen    uint64
		pendingSnap *receivedSnapshot
		changed     chan struct{} // closed after every processing round
		metaGen     uint64        // generation last published to the directory
	}
}

func newReplicaShell(h *Host, groupID, replicaID uint64, rs *storage.RaftStorage) *replica {
	r := &replica{h: h, groupID: groupID, replicaID: replicaID, rs: rs, peerNodes: make(map[uint64]uint64)}
	r.lastHeard.Store(time.Now().UnixNano())
	r.mu.proposals = make(map[uint64]*proposal)
	r.mu.epochAt = make(map[uint64]uint64)
	r.mu.changed = make(chan struct{})
	r.mu.stateGen = stateGens.Add(1)
	rs.SetSnapshotProvider(r.snapshotMeta)
	return r
}

// newReplica loads an initialized replica from its persisted state.
func newReplica(h *Host, groupID uint64, rs *storage.RaftStorage) (*replica, error) {
	data, err := rs.ReplicaMeta()
	if err != nil {
		return nil, err
	}
	st := &pb.ReplicaState{}
	if err := proto.Unmarshal(data, st); err != nil {
		return nil, errors.Wrap(err, "paxosgroup: decoding replica state")
	}
	if st.Descriptor_ == nil {
		return nil, errors.Newf("paxosgroup: group %d has raft state but no descriptor", groupID)
	}
	self := replicaByNode(st.Descriptor_, h.opts.NodeID)
	if self == nil {
		return nil, errors.Newf("paxosgroup: group %d has no replica on node %d", groupID, h.opts.NodeID)
	}
	r := newReplicaShell(h, groupID, self.ReplicaId, rs)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.initRawNodeLocked(st); err != nil {
		return nil, err
	}
	return r, nil
}

// newUninitializedReplica creates a replica that knows nothing yet; it
// waits for a snapshot or for the local split that creates its span.
func newUninitializedReplica(h *Host, groupID, replicaID uint64, rs *storage.RaftStorage) (*replica, error) {
	r := newReplicaShell(h, groupID, replicaID, rs)
	r.mu.Lock()
	defer r.mu.Unlock()
	rn, err := raft.NewRawNode(r.raftConfig(0))
	if err != nil {
		return nil, err
	}
	r.mu.rn = rn
	hs, _, err := rs.InitialState()
	if err != nil {
		return nil, err
	}
	r.mu.persistedHS = hs
	return r, nil
}

func (r *replica) raftConfig(applied uint64) *raft.Config {
	o := &r.h.opts
	return &raft.Config{
		ID:                        r.replicaID,
		ElectionTick:              o.ElectionTicks,
		HeartbeatTick:             o.HeartbeatTicks,
		Storage:                   r.rs,
		Applied:                   applied,
		MaxSizePerMsg:             1 << 20,
		MaxCommittedSizePerReady:  64 << 20,
		MaxUncommittedEntriesSize: 256 << 20,
		MaxInflightMsgs:           256,
		CheckQuorum:               true,
		PreVote:                   true,
		StepDownOnRemoval:         true,
		DisableProposalForwarding: true,
		Logger:                    raftLogger{r.h.logger.With("group", r.groupID)},
	}
}

// initRawNodeLocked (re)builds the Raft node from persisted state.
func (r *replica) initRawNodeLocked(st *pb.ReplicaState) error {
	rn, err := raft.NewRawNode(r.raftConfig(st.AppliedIndex))
	if err != nil {
		return errors.Wrapf(err, "paxosgroup: group %d", r.groupID)
	}
	hs, cs, err := r.rs.InitialState()
	if err != nil {
		return err
	}
	r.mu.rn = rn
	r.setStateLocked(st)
	r.mu.persistedHS = hs
	r.setConfStateLocked(cs)
	r.desc.Store(st.Descriptor_)
	r.initialized.Store(true)
	return nil
}

func (r *replica) setConfStateLocked(cs *raftpb.ConfState) {
	r.mu.confState = cs
	in, out := quorum.MajorityConfig{}, quorum.MajorityConfig{}
	for _, id := range cs.GetVoters() {
		in[id] = struct{}{}
	}
	for _, id := range cs.GetVotersOutgoing() {
		out[id] = struct{}{}
	}
	r.mu.voters = quorum.JointConfig{in, out}
}

func (r *replica) descriptor() *pb.GroupDescriptor { return r.desc.Load() }

// nodeOf maps a replica ID of this group to its node.
func (r *replica) nodeOf(replicaID uint64) uint64 {
	if d := r.desc.Load(); d != nil {
		if rd := replicaByID(d, replicaID); rd != nil {
			return rd.NodeId
		}
	}
	r.peersMu.Lock()
	defer r.peersMu.Unlock()
	return r.peerNodes[replicaID]
}

func (r *replica) learnPeer(replicaID, node uint64) {
	if replicaID == 0 {
		return
	}
	r.peersMu.Lock()
	r.peerNodes[replicaID] = node
	r.peersMu.Unlock()
}

// ---------------------------------------------------------------------------
// Inbox.

// inbound is a received Raft message and the sender's support epoch for
// this node when it sent it.
type inbound struct {
	m     *raftpb.Message
	epoch uint64
	// transfer: a vote request of a leadership transfer (its context
	// said so before deliver marked every vote it let through).
	transfer bool
}

func (r *replica) enqueueMessage(m inbound) {
	r.inboxMu.Lock()
	r.inbox.msgs = append(r.inbox.msgs, m)
	r.inboxMu.Unlock()
	r.h.sched.enqueue(r.groupID)
}

func (r *replica) enqueueTick() {
	r.inboxMu.Lock()
	r.inbox.ticks++
	r.inboxMu.Unlock()
	r.h.sched.enqueue(r.groupID)
}

func (r *replica) enqueueUnreachable(node uint64) {
	if !r.isLeader.Load() {
		return
	}
	r.inboxMu.Lock()
	r.inbox.unreachable = append(r.inbox.unreachable, node)
	r.inboxMu.Unlock()
	r.h.sched.enqueue(r.groupID)
}

func (r *replica) enqueueProposal(p *proposal) {
	r.inboxMu.Lock()
	r.inbox.props = append(r.inbox.props, p)
	r.inboxMu.Unlock()
	r.quiesced.Store(false)
	r.h.sched.enqueue(r.groupID)
}

// needsTick decides, without locks, whether the tick loop should tick the
// replica. Leaders tick until quiescent. Followers tick only when no
// supported leader exists: while they support their leader's node they
// must not campaign (the lease promise), and need not.
func (r *replica) needsTick() bool {
	if !r.initialized.Load() {
		return false
	}
	if r.isLeader.Load() {
		return !r.quiesced.Load()
	}
	lead := r.leaderNode.Load()
	if lead == 0 {
		return !r.h.live.inStartupGrace()
	}
	return !r.followsSupportedLeader(lead)
}

// followsSupportedLeader reports whether this replica's promise to the
// leader on node lead binds it.
func (r *replica) followsSupportedLeader(lead uint64) bool {
	d := r.desc.Load()
	if d == nil {
		return false
	}
	ld := replicaByID(d, r.leaderID.Load())
	if ld == nil || ld.Type != pb.ReplicaType_VOTER {
		// The leader left the group: nothing to keep.
		return false
	}
	if r.leaderLeft.Load() != 0 {
		// The leader stopped leading: nothing to keep either.
		return false
	}
	return r.h.live.supporting(lead)
}

// campaignTransferContext is the context etcd raft gives the vote
// requests of a leadership transfer; such requests skip Raft's own lease
// check.
const campaignTransferContext = "CampaignTransfer"

// dropVote keeps the lease promise: vote requests are ignored while this
// replica follows a supported leader (other than the candidate's node) or
// leads itself, and while a restart may hide promises made before it.
// Leadership transfers, which the leader starts after giving up its lease,
// are always let through.
func (r *replica) dropVote(m *raftpb.Message, fromNode uint64) bool {
	if !isVoteRequest(m) || string(m.GetContext()) == campaignTransferContext {
		return false
	}
	return r.promiseBinds(r.leaderNode.Load(), r.isLeader.Load(), fromNode)
}

// promiseBinds reports whether the lease promise forbids helping a
// candidate on fromNode, for a replica that follows a leader on node lead
// (0: none) or, if leading, leads itself.
func (r *replica) promiseBinds(lead uint64, leading bool, fromNode uint64) bool {
	if r.h.live.inStartupGrace() {
		return true
	}
	switch {
	case lead == 0 || lead == fromNode:
		return false
	case lead == r.h.opts.NodeID:
		return leading
	default:
		return r.followsSupportedLeader(lead)
	}
}

func isVoteRequest(m *raftpb.Message) bool {
	t := m.GetType()
	return t == raftpb.MsgVote || t == raftpb.MsgPreVote
}

// stepVoteLocked decides, under mu and on Raft's current state, whether a
// vote request that deliver let through may still be stepped: deliver
// judged it on atomics that lag what this round already stepped (a new
// leader's append ahead of it in the same batch). It also notes a request
// from the node of the leader this replica follows (see leaderLeft).
func (r *replica) stepVoteLocked(in inbound, st raft.BasicStatus) bool {
	r.expireLeaderLeft(st.GetTerm())
	from, lead := r.nodeOf(in.m.GetFrom()), r.nodeOf(st.Lead) // nodeOf(0) is 0: no leader
	leading := st.RaftState == raft.StateLeader
	if lead != 0 && lead == from && !leading && in.m.GetTerm() > st.GetTerm() {
		r.leaderLeft.Store(st.GetTerm())
	}
	return in.transfer || !r.promiseBinds(lead, leading, from)
}

// expireLeaderLeft forgets leaderLeft once Raft is past its term: whoever
// leads the new term, the promise binds again.
func (r *replica) expireLeaderLeft(term uint64) {
	if left := r.leaderLeft.Load(); left != 0 && left != term {
		r.leaderLeft.Store(0)
	}
}

// ---------------------------------------------------------------------------
// Processing.

func (h *Host) processGroup(id uint64) {
	if r := h.replica(id); r != nil {
		r.process()
	}
}

func (r *replica) takeInbox() (msgs []inbound, props []*proposal, ticks int, unreachable []uint64) {
	r.inboxMu.Lock()
	defer r.inboxMu.Unlock()
	msgs, props, ticks, unreachable = r.inbox.msgs, r.inbox.props, r.inbox.ticks, r.inbox.unreachable
	r.inbox.msgs, r.inbox.props, r.inbox.ticks, r.inbox.unreachable = nil, nil, 0, nil
	return
}

func (r *replica) process() {
	msgs, props, ticks, unreachable := r.takeInbox()
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.notifyChangedLocked()
	defer r.stopOnStorePanicLocked()
	if err := r.h.engine.Failed(); err != nil && r.mu.failed == nil && !r.mu.destroyed {
		// The store is fail-stop; Raft must not touch it again (its
		// storage calls would fail, and Raft panics on those).
		r.failLocked(err)
	}
	if r.mu.destroyed || r.mu.failed != nil {
		err := r.mu.failed
		if err == nil {
			err = errors.Wrapf(ErrGroupNotFound, "group %d was removed from this node", r.groupID)
		}
		for _, p := range props {
			p.done <- proposalResult{err: err}
		}
		return
	}
	rn := r.mu.rn
	for i := 0; i < ticks; i++ {
		rn.Tick()
		if r.mu.transferring && rn.BasicStatus().LeadTransferee == 0 && r.isLeader.Load() {
			r.abandonTermLocked()
		}
	}
	if ticks > 0 {
		r.mu.idleTicks += ticks
	}
	for _, node := range unreachable {
		if d := r.desc.Load(); d != nil {
			if rd := replicaByNode(d, node); rd != nil {
				rn.ReportUnreachable(rd.ReplicaId)
			}
		}
	}
	// Heartbeats and their answers are what an idle group exchanges; any
	// other traffic or a proposal means work, and wakes a quiescent leader.
	busy := len(props) > 0
	for _, in := range msgs {
		if t := in.m.GetType(); t != raftpb.MsgHeartbeat && t != raftpb.MsgHeartbeatResp {
			busy = true
			break
		}
	}
	if busy {
		r.mu.idleTicks = 0
		r.quiesced.Store(false)
	}
	for _, in := range msgs {
		m := in.m
		if r.isLeader.Load() && m.GetTerm() == r.mu.term &&
			(m.GetType() == raftpb.MsgAppResp || m.GetType() == raftpb.MsgHeartbeatResp) {
			r.mu.epochAt[m.GetFrom()] = in.epoch
		}
		if isVoteRequest(m) && !r.stepVoteLocked(in, rn.BasicStatus()) {
			continue
		}
		if err := rn.Step(m); err != nil {
			r.h.logger.Debug("raft step", "group", r.groupID, "type", m.GetType(), "err", err.Error())
		}
	}
	for _, p := range props {
		r.proposeLocked(p)
	}
	for r.mu.failed == nil && !r.mu.destroyed && rn.HasReady() {
		r.handleReadyLocked(rn.Ready())
		rn = r.mu.rn
	}
	if r.leaderLeft.Load() != 0 {
		r.expireLeaderLeft(rn.BasicStatus().GetTerm())
	}
	if r.mu.failed == nil && !r.mu.destroyed {
		r.updateLeaseLocked()
		r.maybeQuiesceLocked()
	}
}

func (r *replica) notifyChangedLocked() {
	close(r.mu.changed)
	r.mu.changed = make(chan struct{})
}

// abandonTermLocked ends a leadership term in which a transfer was
// started but did not complete. The transfer's MsgTimeoutNow may still be
// in flight and elect the target without regard to lease promises, so
// this leader may never again hold a lease in this term: it steps down to
// a new term (a term bump is always safe) and campaigns afresh.
func (r *replica) abandonTermLocked() {
	st := r.mu.rn.BasicStatus()
	var peer uint64
	for id := range r.mu.voters.IDs() {
		if id != r.replicaID {
			peer = id
			break
		}
	}
	if peer == 0 {
		r.mu.transferring = false
		return
	}
	_ = r.mu.rn.Step(&raftpb.Message{
		Type: raftpb.MsgHeartbeatResp.Enum(), From: proto.Uint64(peer), To: proto.Uint64(r.replicaID),
		Term: proto.Uint64(st.GetTerm() + 1),
	})
}

func (r *replica) proposeLocked(p *proposal) {
	var err error
	if p.cc != nil {
		err = r.mu.rn.ProposeConfChange(p.cc)
	} else {
		err = r.mu.rn.Propose(p.data)
	}
	if err != nil {
		r.h.metrics.ProposalsFailed.WithLabelValues("dropped").Inc()
		p.done <- proposalResult{err: &NotLeaderError{GroupID: r.groupID, LeaderNode: r.leaderNode.Load(), Descriptor: r.desc.Load()}}
		return
	}
	r.h.metrics.Proposals.Inc()
	r.mu.proposals[p.id] = p
}

func (r *replica) failProposals(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failProposalsLocked(err)
}

func (r *replica) failProposalsLocked(err error) {
	for id, p := range r.mu.proposals {
		p.done <- proposalResult{err: err}
		delete(r.mu.proposals, id)
	}
}

func (r *replica) onSoftStateLocked(ss *raft.SoftState) {
	wasLeader := r.isLeader.Load()
	isLeader := ss.RaftState == raft.StateLeader
	r.leaderID.Store(ss.Lead)
	r.leaderNode.Store(r.nodeOf(ss.Lead))
	term := r.mu.rn.BasicStatus().GetTerm()
	if isLeader && (!wasLeader || term != r.mu.term) {
		r.mu.termStart = 0
		r.mu.transferring = false
		clear(r.mu.epochAt)
	}
	r.mu.term = term
	r.leaseTerm.Store(term)
	if wasLeader && !isLeader {
		r.leaseExpiry.Store(0)
		r.h.metrics.ProposalsFailed.WithLabelValues("leadership_lost").Add(float64(len(r.mu.proposals)))
		r.failProposalsLocked(errors.Wrapf(ErrAmbiguousResult, "group %d lost leadership", r.groupID))
	}
	r.isLeader.Store(isLeader)
	if r.groupID == MetaGroupID {
		if d := r.desc.Load(); d != nil {
			r.h.observeMeta(d, r.leaderNode.Load())
		}
	}
}

func (r *replica) handleReadyLocked(rd raft.Ready) {
	r.h.metrics.ReadyBatches.Inc()
	if rd.SoftState != nil {
		r.onSoftStateLocked(rd.SoftState)
	}
	if r.isLeader.Load() && r.mu.termStart == 0 {
		for _, e := range rd.Entries {
			if e.GetTerm() == r.mu.term {
				r.mu.termStart = e.GetIndex()
				break
			}
		}
	}
	hs := rd.HardState
	hsChanged := hs != nil && !raft.IsEmptyHardState(hs)
	// A leader's appends may leave before this Ready's entries are durable
	// (it writes in parallel with its followers), but not before a change
	// of term or vote is, and no response that acknowledges entries or
	// grants a vote leaves before what it acknowledges is durable.
	sendEarly := !hsChanged || (hs.GetTerm() == r.mu.persistedHS.GetTerm() && hs.GetVote() == r.mu.persistedHS.GetVote())
	early, late := rd.Messages, []*raftpb.Message(nil)
	if !sendEarly {
		early, late = nil, rd.Messages
	} else if len(rd.Entries) > 0 || (rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot)) {
		early = nil
		for _, m := range rd.Messages {
			switch m.GetType() {
			case raftpb.MsgAppResp, raftpb.MsgVoteResp, raftpb.MsgPreVoteResp:
				late = append(late, m)
			default:
				early = append(early, m)
			}
		}
	}
	r.sendMessagesLocked(early)
	b := r.h.engine.NewBatch()
	defer func() { b.Close() }()
	err := r.persistReadyLocked(b, rd, hsChanged)
	// Entries, snapshots, terms and votes must be durable before anything
	// depends on them; a commit index alone need not be (Raft recovers
	// it), which saves an fsync on every write's critical path — and such
	// a batch can ride along with the apply batch below, saving a commit.
	needSync := len(rd.Entries) > 0 || (rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot)) || !sendEarly
	if err == nil && !b.Empty() && (needSync || len(rd.CommittedEntries) == 0) {
		err = b.Commit(needSync)
		b.Close()
		b = r.h.engine.NewBatch()
	}
	if err != nil {
		r.failLocked(errors.Wrap(err, "persisting raft state"))
		return
	}
	if hsChanged {
		r.mu.persistedHS = proto.CloneOf(hs)
	}
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		r.afterSnapshotLocked()
	}
	r.sendMessagesLocked(late)
	if len(rd.CommittedEntries) > 0 {
		if err := r.applyLocked(b, rd.CommittedEntries); err != nil {
			r.failLocked(errors.Wrap(err, "applying committed entries"))
			return
		}
	}
	if r.mu.destroyed {
		return
	}
	r.mu.rn.Advance(rd)
}

func (r *replica) persistReadyLocked(b *storage.Batch, rd raft.Ready, hsChanged bool) error {
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		if err := r.stageSnapshotLocked(b, rd.Snapshot); err != nil {
			return err
		}
	}
	if len(rd.Entries) > 0 {
		if err := r.rs.Append(b, rd.Entries); err != nil {
			return err
		}
	}
	if hsChanged {
		if err := r.rs.SetHardState(b, rd.HardState); err != nil {
			return err
		}
	}
	return nil
}

// stopOnStorePanicLocked stops the replica when Raft panicked because the
// store failed while process ran. Raft panics on any error of its
// storage, and the store refuses every call once a write to it failed
// (fail-stop), so a replica that found the store usable at the start of
// process can meet the failure another group's write caused a moment
// later. The replica then stops as failLocked stops it and never touches
// its RawNode again. A panic while the store is usable goes on.
func (r *replica) stopOnStorePanicLocked() {
	p := recover()
	if p == nil {
		return
	}
	err := r.h.engine.Failed()
	if err == nil {
		panic(p)
	}
	r.h.logger.Error("raft stopped on the failed store", "group", r.groupID, "panic", fmt.Sprint(p))
	if r.mu.failed == nil {
		r.failLocked(err)
	}
}

// failLocked stops the replica after a storage failure: continuing could
// acknowledge what is not durable. The engine is fail-stop too, so the
// node stops accepting writes altogether.
func (r *replica) failLocked(err error) {
	r.h.logger.Error("replica stopped after storage failure", "group", r.groupID, "err", err.Error())
	r.mu.failed = err
	r.mu.stateGen = stateGens.Add(1)
	r.leaseExpiry.Store(0)
	r.isLeader.Store(false)
	r.failProposalsLocked(errors.Wrapf(ErrAmbiguousResult, "group %d: %v", r.groupID, err))
}

func (r *replica) sendMessagesLocked(msgs []*raftpb.Message) {
	for _, m := range msgs {
		node := r.nodeOf(m.GetTo())
		if node == 0 {
			continue
		}
		if m.GetType() == raftpb.MsgSnap {
			r.h.startSnapshot(r, node, m)
			continue
		}
		data, err := proto.Marshal(m)
		if err != nil {
			r.h.logger.Error("marshal raft message", "err", err.Error())
			continue
		}
		r.h.transport.send(node, &pb.RaftEnvelope{GroupId: r.groupID, Message: data, SupportEpoch: r.h.live.epochFor(node)})
	}
}

// updateLeaseLocked recomputes until when this leader holds the lease: the
// latest instant by which a quorum (in every half of a joint
// configuration) of voters that accepted an entry of this term still
// support this node.
func (r *replica) updateLeaseLocked() {
	if !r.isLeader.Load() || r.mu.transferring || r.mu.termStart == 0 ||
		r.mu.state == nil || r.mu.state.AppliedIndex < r.mu.termStart {
		r.leaseExpiry.Store(0)
		return
	}
	// Reused: this runs after every processing round of a leader.
	if r.mu.matched == nil {
		r.mu.matched = make(map[uint64]bool, 5)
	}
	matched := r.mu.matched
	clear(matched)
	r.mu.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		matched[id] = pr.Match >= r.mu.termStart
	})
	exp := r.mu.voters.CommittedIndex(leaseIndexer{r: r, matched: matched})
	if exp == math.MaxUint64 {
		// A single voter: no one else can be elected.
		exp = math.MaxInt64
	}
	r.leaseExpiry.Store(int64(min(uint64(exp), math.MaxInt64)))
}

type leaseIndexer struct {
	r       *replica
	matched map[uint64]bool
}

func (l leaseIndexer) AckedIndex(id uint64) (quorum.Index, bool) {
	if id == l.r.replicaID {
		return quorum.Index(math.MaxUint64), true
	}
	if !l.matched[id] {
		return 0, true
	}
	return quorum.Index(max(0, l.r.h.live.supportedUntil(l.r.nodeOf(id), l.r.mu.epochAt[id]))), true
}

// leaseValid reports whether this replica holds the lease now.
func (r *replica) leaseValid() bool {
	if r.h.live.monoNow() < r.leaseExpiry.Load() {
		return true
	}
	if !r.isLeader.Load() {
		return false
	}
	r.mu.Lock()
	if r.mu.failed == nil && !r.mu.destroyed {
		r.updateLeaseLocked()
	}
	r.mu.Unlock()
	if r.h.live.monoNow() < r.leaseExpiry.Load() {
		return true
	}
	// A leader without a lease must find out why (it may have been
	// deposed while quiescent): tick it again.
	r.quiesced.Store(false)
	return false
}

// maybeQuiesceLocked stops ticking an idle leader once every follower has
// every entry and has been told the commit index by a heartbeat. Followers
// of a supported leader do not tick either, so an idle group costs
// nothing; any message or proposal wakes it.
func (r *replica) maybeQuiesceLocked() {
	if !r.isLeader.Load() || len(r.mu.proposals) > 0 || r.mu.transferring {
		return
	}
	if r.mu.idleTicks <= 2*r.h.opts.HeartbeatTicks {
		return
	}
	st := r.mu.rn.BasicStatus()
	last, err := r.rs.LastIndex()
	if err != nil || st.GetCommit() != last || st.Applied != last {
		r.mu.idleTicks = 0
		return
	}
	caughtUp := true
	r.mu.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if pr.Match != last {
			caughtUp = false
		}
	})
	if !caughtUp {
		r.mu.idleTicks = 0
		return
	}
	r.quiesced.Store(true)
}

// ---------------------------------------------------------------------------
// Proposals and reads.

func (r *replica) propose(ctx context.Context, p *proposal) ([]byte, error) {
	if !r.h.opts.TestingKnobs.UnsafeReadsWithoutLease && !r.isLeader.Load() {
		return nil, &NotLeaderError{GroupID: r.groupID, LeaderNode: r.leaderNode.Load(), Descriptor: r.desc.Load()}
	}
	r.enqueueProposal(p)
	select {
	case res := <-p.done:
		r.h.metrics.CommitLatency.Observe(time.Since(p.start).Seconds())
		return res.result, res.err
	case <-ctx.Done():
		return nil, errors.Mark(errors.Wrapf(ctx.Err(), "group %d", r.groupID), ErrAmbiguousResult)
	case <-r.h.stopper:
		return nil, errors.Mark(ErrStopped, ErrAmbiguousResult)
	}
}

// setStateLocked installs the replica state after it is durable (apply,
// snapshot, load) and mirrors what lock-free readers need.
func (r *replica) setStateLocked(st *pb.ReplicaState) {
	r.mu.state = st
	r.maxWriteTS.Store(st.MaxWriteTs)
	r.appliedIndex.Store(st.AppliedIndex)
}

// read serves fn at the leaseholder, waiting briefly for a new leader to
// obtain its lease.
func (r *replica) read(ctx context.Context, fn ReadFunc) error {
	if r.h.opts.TestingKnobs.UnsafeReadsWithoutLease {
		d := r.desc.Load()
		if d == nil {
			return &NotLeaderError{GroupID: r.groupID}
		}
		return fn(d, r.h.engine)
	}
	if err := r.waitLease(ctx); err != nil {
		return err
	}
	return fn(r.desc.Load(), r.h.engine)
}

// waitLease returns once this replica holds the lease, waiting briefly for
// a new leader to obtain it; elsewhere it returns a NotLeaderError.
func (r *replica) waitLease(ctx context.Context) error {
	var deadline <-chan time.Time
	for {
		if r.leaseValid() {
			return nil
		}
		if !r.isLeader.Load() {
			return &NotLeaderError{GroupID: r.groupID, LeaderNode: r.leaderNode.Load(), Descriptor: r.desc.Load()}
		}
		if deadline == nil {
			// A leader without a lease is usually about to have one (its
			// first entry is applying, or support is being renewed).
			deadline = time.After(r.h.opts.SupportDuration)
		}
		r.mu.Lock()
		changed := r.mu.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-time.After(r.h.opts.TickInterval):
			r.h.sched.enqueue(r.groupID)
		case <-deadline:
			return &NotLeaderError{GroupID: r.groupID, LeaderNode: 0, Descriptor: r.desc.Load()}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (r *replica) status() (GroupStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.rn == nil || r.mu.destroyed {
		return GroupStatus{}, false
	}
	st := r.mu.rn.BasicStatus()
	d := r.desc.Load()
	if d == nil {
		return GroupStatus{}, false
	}
	return GroupStatus{
		Descriptor:   d,
		LeaderNode:   r.leaderNode.Load(),
		LeaderID:     st.Lead,
		Term:         st.GetTerm(),
		AppliedIndex: st.Applied,
		CommitIndex:  st.GetCommit(),
		LeaseValid:   r.h.live.monoNow() < r.leaseExpiry.Load(),
		Quiesced:     r.quiesced.Load(),
	}, true
}
