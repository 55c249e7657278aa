package paxosgroup

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/storage"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Bootstrap creates the replicas of new groups on this node, all starting
// from the same initial log position (used by cluster init). The groups
// start campaigning at once: a fresh node has made no promises.
func (h *Host) Bootstrap(descs ...*pb.GroupDescriptor) error {
	b := h.engine.NewBatch()
	defer b.Close()
	for _, d := range descs {
		if h.replica(d.GroupId) != nil {
			return errors.Newf("paxosgroup: group %d already exists on node %d", d.GroupId, h.opts.NodeID)
		}
		if err := h.stageRightReplica(b, d, 0); err != nil {
			return err
		}
	}
	if err := b.Commit(true); err != nil {
		return err
	}
	for _, d := range descs {
		r, err := h.loadReplica(d.GroupId)
		h.mu.Lock()
		delete(h.mu.splitting, d.GroupId)
		h.mu.Unlock()
		if err != nil {
			return err
		}
		r.campaign()
	}
	return nil
}

func (r *replica) campaign() {
	r.mu.Lock()
	if r.mu.rn != nil {
		_ = r.mu.rn.Campaign()
	}
	r.mu.Unlock()
	r.h.sched.enqueue(r.groupID)
}

// stageRightReplica writes the initial Raft state of a group replica on
// this node: the log starts after initialLogIndex, the configuration is
// the descriptor's, and versions continue above maxWriteTS (the left
// side's, for a split). Votes already cast by an uninitialized replica of the
// group (it may have received messages before the split applied here) are
// kept: forgetting a vote could elect two leaders in one term.
func (h *Host) stageRightReplica(b *storage.Batch, d *pb.GroupDescriptor, maxWriteTS int64) error {
	rs, err := h.engine.RaftStorage(d.GroupId)
	if err != nil {
		return err
	}
	// From here until installSplitRight, messages must not create a
	// replica of the group (Bootstrap has no concurrent messages).
	h.mu.Lock()
	h.mu.splitting[d.GroupId] = true
	h.mu.Unlock()
	if existing := h.replica(d.GroupId); existing != nil {
		// An uninitialized replica (created by messages from peers that
		// applied the split first) may be writing its hard state right
		// now. Retire it under its lock, so that its writes are durable
		// and visible before we read them and none follow;
		// installSplitRight replaces it.
		existing.mu.Lock()
		initialized := existing.initialized.Load()
		if !initialized {
			existing.mu.destroyed = true
		}
		existing.mu.Unlock()
		if initialized {
			return nil
		}
	}
	cs := &raftpb.ConfState{}
	for _, rd := range d.Replicas {
		if rd.Type == pb.ReplicaType_VOTER {
			cs.Voters = append(cs.Voters, rd.ReplicaId)
		} else {
			cs.Learners = append(cs.Learners, rd.ReplicaId)
		}
	}
	meta := &raftpb.SnapshotMetadata{Index: proto.Uint64(initialLogIndex), Term: proto.Uint64(initialLogTerm), ConfState: cs}
	if err := rs.ApplySnapshotMeta(b, meta); err != nil {
		return err
	}
	hs, _, err := rs.InitialState()
	if err != nil {
		return err
	}
	if hs == nil {
		hs = &raftpb.HardState{}
	} else {
		hs = proto.CloneOf(hs)
	}
	if hs.GetTerm() < initialLogTerm {
		hs.Term, hs.Vote = proto.Uint64(initialLogTerm), proto.Uint64(0)
	}
	if hs.GetCommit() < initialLogIndex {
		hs.Commit = proto.Uint64(initialLogIndex)
	}
	if err := rs.SetHardState(b, hs); err != nil {
		return err
	}
	if err := rs.SetConfState(b, cs); err != nil {
		return err
	}
	data, err := proto.Marshal(&pb.ReplicaState{Descriptor_: d, AppliedIndex: initialLogIndex, AppliedTerm: initialLogTerm,
		MaxWriteTs: maxWriteTS})
	if err != nil {
		return err
	}
	return rs.SetReplicaMeta(b, data)
}

// installSplitRight starts the right-hand replica of a split applied by
// left. If left led the group, the right side campaigns at once so that
// its leader starts where the left one is.
func (h *Host) installSplitRight(left *replica, s *pb.SplitCommand) {
	defer func() {
		h.mu.Lock()
		delete(h.mu.splitting, s.Right.GroupId)
		h.mu.Unlock()
	}()
	if existing := h.replica(s.Right.GroupId); existing != nil && existing.initialized.Load() {
		return
	}
	r, err := h.loadReplica(s.Right.GroupId)
	if err != nil {
		h.logger.Error("loading right side of split", "group", s.Right.GroupId, "err", err.Error())
		return
	}
	if left.isLeader.Load() {
		r.campaign()
	} else {
		h.sched.enqueue(r.groupID)
	}
}

// destroyLocked removes this replica after it left its group: its Raft
// state and its span's data go, and a tombstone keeps messages for this
// incarnation from recreating it (invariant 5).
func (r *replica) destroyLocked() {
	b := r.h.engine.NewBatch()
	defer b.Close()
	err := r.h.engine.DestroyGroup(b, r.groupID)
	if d := r.desc.Load(); err == nil && d != nil {
		err = b.ClearSpan(d.StartKey, endOrNil(d.EndKey))
	}
	if start, end, ok := r.h.recordSpan(r.groupID); err == nil && ok {
		err = b.ClearRecords(start, end)
	}
	if err == nil {
		err = b.Commit(true)
	}
	if err == nil {
		err = r.h.recordTombstone(r.groupID, r.replicaID)
	}
	if err != nil {
		r.failLocked(errors.Wrap(err, "destroying removed replica"))
		return
	}
	r.mu.destroyed = true
	r.isLeader.Store(false)
	r.leaseExpiry.Store(0)
	r.failProposalsLocked(errors.Wrapf(ErrGroupNotFound, "group %d was removed from node %d", r.groupID, r.h.opts.NodeID))
	h := r.h
	h.mu.Lock()
	if h.mu.replicas[r.groupID] == r {
		delete(h.mu.replicas, r.groupID)
	}
	if r.replicaID > h.mu.tombstones[r.groupID] {
		h.mu.tombstones[r.groupID] = r.replicaID
	}
	h.mu.Unlock()
	h.logger.Info("replica removed", "group", r.groupID, "replica", r.replicaID)
}

const tombstonePrefix = "tombstone/"

func tombstoneKey(groupID uint64) string { return tombstonePrefix + strconv.FormatUint(groupID, 10) }

// recordTombstone persists that replicas of group up to replicaID are gone.
func (h *Host) recordTombstone(groupID, replicaID uint64) error {
	if err := h.engine.SetLocal(tombstoneKey(groupID), binary.BigEndian.AppendUint64(nil, replicaID)); err != nil {
		return err
	}
	v, _, err := h.engine.GetLocal("tombstones-index")
	if err != nil {
		return err
	}
	id := strconv.FormatUint(groupID, 10)
	for _, s := range strings.Split(string(v), ",") {
		if s == id {
			return nil
		}
	}
	if len(v) > 0 {
		id = string(v) + "," + id
	}
	return h.engine.SetLocal("tombstones-index", []byte(id))
}

// loadTombstones restores the removed-replica tombstones. They live in
// store-local keys, read through the registry of node-local names.
func (h *Host) loadTombstones() error {
	v, ok, err := h.engine.GetLocal("tombstones-index")
	if err != nil || !ok {
		return err
	}
	for _, s := range strings.Split(string(v), ",") {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			continue
		}
		if t, ok, err := h.engine.GetLocal(tombstoneKey(id)); err == nil && ok && len(t) == 8 {
			h.mu.tombstones[id] = binary.BigEndian.Uint64(t)
		}
	}
	return nil
}
