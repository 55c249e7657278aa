package paxosgroup

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/storage"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// applied collects what a round of applying produced, for after the batch
// is durable.
type applied struct {
	results []appliedResult
	// splits whose right-hand replicas this node must start.
	splits []*pb.SplitCommand
	// removed: this replica left the group.
	removed bool
}

type appliedResult struct {
	p   *proposal
	res proposalResult
}

// applyLocked applies committed entries in batch b (which may already hold
// an unsynced hard-state update) together with the new applied index
// (invariant 3), commits it, then performs side effects.
func (r *replica) applyLocked(b *storage.Batch, ents []*raftpb.Entry) error {
	start := time.Now()
	st := proto.CloneOf(r.mu.state)
	var out applied
	for _, e := range ents {
		if e.GetIndex() <= st.AppliedIndex {
			continue
		}
		var pid uint64
		var res proposalResult
		switch e.GetType() {
		case raftpb.EntryNormal:
			if len(e.GetData()) > 0 {
				pid, res = r.applyCommandLocked(b, st, e, &out)
			}
		case raftpb.EntryConfChange, raftpb.EntryConfChangeV2:
			var err error
			pid, err = r.applyConfChangeLocked(b, st, e, &out)
			if err != nil {
				return err
			}
		}
		st.AppliedIndex, st.AppliedTerm = e.GetIndex(), e.GetTerm()
		if p, ok := r.mu.proposals[pid]; ok && pid != 0 {
			delete(r.mu.proposals, pid)
			out.results = append(out.results, appliedResult{p: p, res: res})
		}
	}
	data, err := proto.Marshal(st)
	if err != nil {
		return err
	}
	if err := r.rs.SetReplicaMeta(b, data); err != nil {
		return err
	}
	if err := r.maybeTruncateLogLocked(b, st.AppliedIndex); err != nil {
		return err
	}
	// Not synced: the entries are durable in the log, and re-applying them
	// after a crash yields the same state.
	if err := b.Commit(false); err != nil {
		return err
	}
	r.setStateLocked(st)
	r.desc.Store(st.Descriptor_)
	r.h.metrics.ApplyLatency.Observe(time.Since(start).Seconds())
	for _, s := range out.splits {
		r.h.installSplitRight(r, s)
	}
	for _, ar := range out.results {
		ar.p.done <- ar.res
	}
	if out.removed {
		r.destroyLocked()
	}
	return nil
}

func (r *replica) applyCommandLocked(b *storage.Batch, st *pb.ReplicaState, e *raftpb.Entry, out *applied) (uint64, proposalResult) {
	var c pb.Command
	if err := proto.Unmarshal(e.GetData(), &c); err != nil {
		panic(errors.AssertionFailedf("paxosgroup: group %d entry %d is not a command: %v", r.groupID, e.GetIndex(), err))
	}
	var res proposalResult
	switch cmd := c.Cmd.(type) {
	case *pb.Command_User:
		ac := &ApplyContext{Descriptor: st.Descriptor_, Index: e.GetIndex(), MaxWriteTS: st.MaxWriteTs, StateGen: r.mu.stateGen}
		res.result, res.err = r.h.sm.Apply(b, ac, cmd.User)
		st.MaxWriteTs = max(st.MaxWriteTs, ac.MaxWriteTS)
	case *pb.Command_Split:
		res.err = r.applySplitLocked(b, st, cmd.Split, out)
	case *pb.Command_Meta:
		res.result, res.err = r.applyMetaLocked(b, st, cmd.Meta)
	default:
		panic(errors.AssertionFailedf("paxosgroup: group %d entry %d has an unknown command", r.groupID, e.GetIndex()))
	}
	return c.ProposalId, res
}

// applyConfChangeLocked applies a membership change: Raft's configuration
// and the descriptor carried in the change's context move together.
func (r *replica) applyConfChangeLocked(b *storage.Batch, st *pb.ReplicaState, e *raftpb.Entry, out *applied) (uint64, error) {
	var cc raftpb.ConfChangeV2
	if e.GetType() == raftpb.EntryConfChange {
		var v1 raftpb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &v1); err != nil {
			return 0, err
		}
		cc = *v1.AsV2()
	} else if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
		return 0, err
	}
	var ctx pb.ConfChangeContext
	if err := proto.Unmarshal(cc.GetContext(), &ctx); err != nil {
		return 0, err
	}
	cs := r.mu.rn.ApplyConfChange(&cc)
	if err := r.rs.SetConfState(b, cs); err != nil {
		return 0, err
	}
	r.setConfStateLocked(cs)
	desc := proto.CloneOf(st.Descriptor_)
	if ctx.Descriptor_ != nil {
		// Keep replicas that the joint configuration still holds so that
		// messages to outgoing voters can be routed until they leave.
		next := proto.CloneOf(ctx.Descriptor_)
		for _, old := range desc.Replicas {
			if replicaByID(next, old.ReplicaId) == nil {
				next.Replicas = append(next.Replicas, old)
			}
		}
		desc = next
	}
	members := map[uint64]pb.ReplicaType{}
	for _, id := range cs.GetLearners() {
		members[id] = pb.ReplicaType_LEARNER
	}
	for _, id := range cs.GetLearnersNext() {
		members[id] = pb.ReplicaType_LEARNER
	}
	for _, id := range cs.GetVotersOutgoing() {
		members[id] = pb.ReplicaType_VOTER
	}
	for _, id := range cs.GetVoters() {
		members[id] = pb.ReplicaType_VOTER
	}
	kept := desc.Replicas[:0]
	for _, rd := range desc.Replicas {
		if t, ok := members[rd.ReplicaId]; ok {
			rd.Type = t
			kept = append(kept, rd)
		}
	}
	desc.Replicas = kept
	st.Descriptor_ = desc
	if _, ok := members[r.replicaID]; !ok {
		out.removed = true
	}
	return ctx.ProposalId, nil
}

// applySplitLocked cuts the group's span. Every replica applies it at the
// same log position, so all agree on which writes went left of it and
// which will be refused as outside the span (invariant 4).
func (r *replica) applySplitLocked(b *storage.Batch, st *pb.ReplicaState, s *pb.SplitCommand, out *applied) error {
	d := st.Descriptor_
	if s.Left.GetGeneration() != d.Generation+1 || !ContainsKey(d, s.SplitKey) || bytes.Equal(s.SplitKey, d.StartKey) {
		return errors.Newf("paxosgroup: split of group %d at %q no longer applies (descriptor generation %d)",
			r.groupID, s.SplitKey, d.Generation)
	}
	if rs, ok := r.h.sm.(RecordSpanner); ok {
		if err := rs.CanSplit(b, r.groupID); err != nil {
			return errors.Wrapf(err, "paxosgroup: split of group %d at %q refused", r.groupID, s.SplitKey)
		}
	}
	st.Descriptor_ = proto.CloneOf(s.Left)
	if replicaByNode(s.Right, r.h.opts.NodeID) == nil {
		return nil
	}
	if err := r.h.stageRightReplica(b, s.Right, st.MaxWriteTs); err != nil {
		return err
	}
	out.splits = append(out.splits, s)
	return nil
}

// applyMetaLocked updates the range directory and allocates IDs.
func (r *replica) applyMetaLocked(b *storage.Batch, st *pb.ReplicaState, m *pb.MetaCommand) ([]byte, error) {
	if r.groupID != MetaGroupID {
		return nil, errors.Newf("paxosgroup: meta command on group %d", r.groupID)
	}
	var first uint64
	alloc := func(key []byte, n uint32, initial uint64) (uint64, error) {
		next := initial
		if v, _, ok, err := b.MVCCGet(key, math.MaxInt64); err != nil {
			return 0, err
		} else if ok && len(v) == 8 {
			next = binary.BigEndian.Uint64(v)
		}
		return next, b.MVCCPut(key, metaTS, binary.BigEndian.AppendUint64(nil, next+uint64(n)))
	}
	var err error
	if m.AllocateNodeIds > 0 {
		if first, err = alloc(metaNodeIDKey, m.AllocateNodeIds, 1); err != nil {
			return nil, err
		}
	}
	if m.AllocateGroupIds > 0 {
		if first, err = alloc(metaGroupIDKey, m.AllocateGroupIds, FirstUserGroupID+1); err != nil {
			return nil, err
		}
	}
	for _, n := range m.Nodes {
		n = proto.CloneOf(n)
		if n.NodeId == 0 {
			n.NodeId = first
		}
		data, err := proto.Marshal(n)
		if err != nil {
			return nil, err
		}
		if err := b.MVCCPut(metaNodeKey(n.NodeId), metaTS, data); err != nil {
			return nil, err
		}
	}
	for _, d := range m.Descriptors {
		key := metaDescKey(d.EndKey)
		if v, _, ok, err := b.MVCCGet(key, math.MaxInt64); err != nil {
			return nil, err
		} else if ok {
			var cur pb.GroupDescriptor
			if err := proto.Unmarshal(v, &cur); err != nil {
				return nil, err
			}
			newer := d.Generation > cur.Generation || (cur.GroupId == d.GroupId && d.Generation >= cur.Generation)
			if !newer {
				continue
			}
		}
		data, err := proto.Marshal(d)
		if err != nil {
			return nil, err
		}
		if err := b.MVCCPut(key, metaTS, data); err != nil {
			return nil, err
		}
	}
	return binary.BigEndian.AppendUint64(nil, first), nil
}

// metaTS is the version timestamp of directory records: each record has
// one version, overwritten in place, so the directory never needs GC.
const metaTS = 1

// maybeTruncateLogLocked drops applied entries beyond what the log keeps.
// Followers that fall behind the truncation point catch up by snapshot.
func (r *replica) maybeTruncateLogLocked(b *storage.Batch, appliedIndex uint64) error {
	keep := r.h.opts.LogKeepEntries
	first, err := r.rs.FirstIndex()
	if err != nil {
		return err
	}
	if appliedIndex < first+2*keep {
		return nil
	}
	return r.rs.Compact(b, appliedIndex-keep)
}
