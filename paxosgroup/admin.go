package paxosgroup

import (
	"context"
	"encoding/binary"
	"math"
	"sort"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/storage"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func (h *Host) routerOrErr() (Router, error) {
	b := h.router.Load()
	if b == nil || b.r == nil {
		return nil, errors.New("paxosgroup: no router to the meta group")
	}
	return b.r, nil
}

// ApplyMeta proposes a meta command to the local meta replica, which must
// lead the meta group; the result is the first allocated ID.
func (h *Host) ApplyMeta(ctx context.Context, m *pb.MetaCommand) (uint64, error) {
	res, err := h.propose(ctx, MetaGroupID, &pb.Command{Cmd: &pb.Command_Meta{Meta: m}})
	if err != nil {
		return 0, err
	}
	if len(res) != 8 {
		return 0, errors.AssertionFailedf("paxosgroup: meta result of %d bytes", len(res))
	}
	return binary.BigEndian.Uint64(res), nil
}

// LookupRange reads the directory at the local meta leaseholder: the
// descriptor of the group whose span holds key.
func (h *Host) LookupRange(ctx context.Context, key []byte) (*pb.GroupDescriptor, error) {
	var out *pb.GroupDescriptor
	err := h.Read(ctx, MetaGroupID, func(_ *pb.GroupDescriptor, r storage.Reader) error {
		return r.MVCCScan(metaDescLookupKey(key), prefixEnd(metaDescPrefix), math.MaxInt64, 1,
			func(_, v []byte, _ int64) error {
				out = &pb.GroupDescriptor{}
				return proto.Unmarshal(v, out)
			})
	})
	if err != nil {
		return nil, err
	}
	if out == nil || !ContainsKey(out, key) {
		return nil, errors.Newf("paxosgroup: the range directory has no group for key %q yet; retry", key)
	}
	return out, nil
}

// Directory reads every descriptor and node record at the local meta
// leaseholder.
func (h *Host) Directory(ctx context.Context) ([]*pb.GroupDescriptor, []*pb.NodeDescriptor, error) {
	var descs []*pb.GroupDescriptor
	var nodes []*pb.NodeDescriptor
	err := h.Read(ctx, MetaGroupID, func(_ *pb.GroupDescriptor, r storage.Reader) error {
		descs, nodes = nil, nil
		if err := r.MVCCScan(metaDescPrefix, prefixEnd(metaDescPrefix), math.MaxInt64, 0, func(_, v []byte, _ int64) error {
			d := &pb.GroupDescriptor{}
			descs = append(descs, d)
			return proto.Unmarshal(v, d)
		}); err != nil {
			return err
		}
		return r.MVCCScan(metaNodePrefix, prefixEnd(metaNodePrefix), math.MaxInt64, 0, func(_, v []byte, _ int64) error {
			n := &pb.NodeDescriptor{}
			nodes = append(nodes, n)
			return proto.Unmarshal(v, n)
		})
	})
	sort.Slice(descs, func(i, j int) bool { return string(descs[i].StartKey) < string(descs[j].StartKey) })
	return descs, nodes, err
}

// leaderReplica returns the local replica of groupID if it leads.
func (h *Host) leaderReplica(groupID uint64) (*replica, error) {
	r := h.replica(groupID)
	if r == nil {
		return nil, errors.Wrapf(ErrGroupNotFound, "group %d", groupID)
	}
	if !r.isLeader.Load() {
		return nil, &NotLeaderError{GroupID: groupID, LeaderNode: r.leaderNode.Load(), Descriptor: r.desc.Load()}
	}
	return r, nil
}

// Split cuts the group that holds splitKey at splitKey; this node must
// lead it. The new right-hand group gets an ID from the meta group, and
// both descriptors are published to the range directory.
func (h *Host) Split(ctx context.Context, splitKey []byte) (left, right *pb.GroupDescriptor, err error) {
	d, ok := h.LocalGroupForKey(splitKey)
	if !ok {
		return nil, nil, errors.Wrapf(ErrGroupNotFound, "no local group holds key %q", splitKey)
	}
	if d.GroupId == MetaGroupID {
		return nil, nil, errors.Mark(errors.New("paxosgroup: the meta group does not split"), ErrInvalidSplit)
	}
	if string(splitKey) == string(d.StartKey) {
		return nil, nil, errors.Mark(errors.Newf("paxosgroup: %q is already the start of group %d", splitKey, d.GroupId), ErrInvalidSplit)
	}
	if _, err := h.leaderReplica(d.GroupId); err != nil {
		return nil, nil, err
	}
	router, err := h.routerOrErr()
	if err != nil {
		return nil, nil, err
	}
	newID, err := router.ProposeMeta(ctx, &pb.MetaCommand{AllocateGroupIds: 1})
	if err != nil {
		return nil, nil, errors.Wrap(err, "paxosgroup: allocating a group ID for the split")
	}
	left = proto.CloneOf(d)
	left.EndKey = append([]byte(nil), splitKey...)
	left.Generation++
	right = proto.CloneOf(d)
	right.GroupId = newID
	right.StartKey = append([]byte(nil), splitKey...)
	right.Generation = left.Generation
	cmd := &pb.Command{Cmd: &pb.Command_Split{Split: &pb.SplitCommand{SplitKey: splitKey, Left: left, Right: right}}}
	if _, err := h.propose(ctx, d.GroupId, cmd); err != nil {
		return nil, nil, err
	}
	if _, err := router.ProposeMeta(ctx, &pb.MetaCommand{Descriptors: []*pb.GroupDescriptor{left, right}}); err != nil {
		// The split stands; the leaders republish their descriptors
		// (maintenance), so the directory heals.
		h.logger.Warn("publishing split to the directory", "err", err.Error())
	}
	return left, right, nil
}

// TransferLeader hands the group's leadership to the replica on node.
// The lease is given up first and not regained in this term.
func (h *Host) TransferLeader(ctx context.Context, groupID, node uint64) error {
	r, err := h.leaderReplica(groupID)
	if err != nil {
		return err
	}
	if node == h.opts.NodeID {
		return nil
	}
	target := replicaByNode(r.desc.Load(), node)
	if target == nil || target.Type != pb.ReplicaType_VOTER {
		return errors.Newf("paxosgroup: node %d has no voter of group %d", node, groupID)
	}
	r.mu.Lock()
	r.mu.transferring = true
	r.leaseExpiry.Store(0)
	r.mu.rn.TransferLeader(target.ReplicaId)
	r.mu.Unlock()
	h.sched.enqueue(groupID)
	return r.waitFor(ctx, 2*h.opts.SupportDuration, func() bool { return r.leaderNode.Load() == node })
}

// waitFor waits until cond holds, re-checking after each processing round
// of the replica.
func (r *replica) waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.After(timeout)
	for !cond() {
		r.mu.Lock()
		ch := r.mu.changed
		r.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-deadline:
			return errors.Newf("paxosgroup: group %d: timed out after %s", r.groupID, timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-r.h.stopper:
			return ErrStopped
		}
	}
	return nil
}

// ChangeReplicas adds voters on addNodes and removes those on removeNodes.
// New replicas join as learners and are promoted once caught up; the
// promotion and removals go through one joint-consensus change, so a
// replace never passes through a configuration with fewer voters.
func (h *Host) ChangeReplicas(ctx context.Context, groupID uint64, addNodes, removeNodes []uint64) (*pb.GroupDescriptor, error) {
	r, err := h.leaderReplica(groupID)
	if err != nil {
		return nil, err
	}
	select {
	case h.changeSem <- struct{}{}:
		defer func() { <-h.changeSem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for _, n := range removeNodes {
		if n == h.opts.NodeID {
			return nil, errors.Newf("paxosgroup: node %d leads group %d; transfer leadership before removing it", n, groupID)
		}
	}
	// Step 1: learners.
	var learners []*pb.ReplicaDescriptor
	d := proto.CloneOf(r.desc.Load())
	var changes []*raftpb.ConfChangeSingle
	for _, n := range addNodes {
		if replicaByNode(d, n) != nil {
			continue
		}
		if d.NextReplicaId == 0 {
			d.NextReplicaId = maxReplicaID(d) + 1
		}
		rd := &pb.ReplicaDescriptor{ReplicaId: d.NextReplicaId, NodeId: n, Type: pb.ReplicaType_LEARNER}
		d.NextReplicaId++
		d.Replicas = append(d.Replicas, rd)
		learners = append(learners, rd)
		changes = append(changes, &raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddLearnerNode.Enum(), NodeId: proto.Uint64(rd.ReplicaId)})
	}
	if len(changes) > 0 {
		if err := h.proposeConfChange(ctx, r, d, changes); err != nil {
			return nil, err
		}
		for _, l := range learners {
			if err := r.waitCaughtUp(ctx, l.ReplicaId); err != nil {
				return nil, err
			}
		}
	}
	// Step 2: promote and remove together.
	d = proto.CloneOf(r.desc.Load())
	changes = nil
	for _, l := range learners {
		changes = append(changes, &raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(l.ReplicaId)})
		replicaByID(d, l.ReplicaId).Type = pb.ReplicaType_VOTER
	}
	for _, n := range removeNodes {
		rd := replicaByNode(d, n)
		if rd == nil {
			continue
		}
		changes = append(changes, &raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: proto.Uint64(rd.ReplicaId)})
		kept := d.Replicas[:0]
		for _, x := range d.Replicas {
			if x.ReplicaId != rd.ReplicaId {
				kept = append(kept, x)
			}
		}
		d.Replicas = kept
	}
	if len(changes) > 0 {
		if err := h.proposeConfChange(ctx, r, d, changes); err != nil {
			return nil, err
		}
		// Wait for the automatic exit from the joint configuration.
		if err := r.waitFor(ctx, 10*time.Second, func() bool { return !r.inJointConfig() }); err != nil {
			return nil, err
		}
	}
	out := r.desc.Load()
	if router, err := h.routerOrErr(); err == nil {
		if _, err := router.ProposeMeta(ctx, &pb.MetaCommand{Descriptors: []*pb.GroupDescriptor{out}}); err != nil {
			h.logger.Warn("publishing membership change", "group", groupID, "err", err.Error())
		}
	}
	return out, nil
}

func maxReplicaID(d *pb.GroupDescriptor) uint64 {
	var m uint64
	for _, r := range d.Replicas {
		m = max(m, r.ReplicaId)
	}
	return m
}

func (r *replica) inJointConfig() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.mu.confState.GetVotersOutgoing()) > 0
}

func (h *Host) proposeConfChange(ctx context.Context, r *replica, d *pb.GroupDescriptor, changes []*raftpb.ConfChangeSingle) error {
	d.Generation++
	pid := h.nextProposalID()
	cctx, err := proto.Marshal(&pb.ConfChangeContext{Descriptor_: d, ProposalId: pid})
	if err != nil {
		return err
	}
	cc := &raftpb.ConfChangeV2{Changes: changes, Context: cctx, Transition: raftpb.ConfChangeTransitionAuto.Enum()}
	p := &proposal{id: pid, cc: cc, done: make(chan proposalResult, 1), start: time.Now()}
	_, err = r.propose(ctx, p)
	return err
}

// waitCaughtUp waits until the replica's log matches the leader's commit
// index, so that promoting it does not stall the quorum.
func (r *replica) waitCaughtUp(ctx context.Context, id uint64) error {
	return r.waitFor(ctx, time.Minute, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.mu.rn == nil {
			return false
		}
		commit := r.mu.rn.BasicStatus().GetCommit()
		var match uint64
		r.mu.rn.WithProgress(func(pid uint64, _ raftProgressType, pr trackerProgress) {
			if pid == id {
				match = pr.Match
			}
		})
		return match >= commit
	})
}
