package paxosgroup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/storage"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Raft snapshots carry only metadata through Raft; their Data is the ID
// of an engine snapshot registered here, whose span contents the transport
// streams to the follower.
type outgoingSnapshot struct {
	snap    *storage.Snapshot
	desc    *pb.GroupDescriptor
	state   *pb.ReplicaState
	created time.Time
}

type snapshotRegistry struct {
	mu    sync.Mutex
	snaps map[string]*outgoingSnapshot
}

func (s *snapshotRegistry) init() { s.snaps = make(map[string]*outgoingSnapshot) }

func (s *snapshotRegistry) add(o *outgoingSnapshot) string {
	var id [16]byte
	_, _ = rand.Read(id[:])
	key := hex.EncodeToString(id[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	// Raft may ask for snapshots it never sends; do not pin old data for
	// long.
	for k, o := range s.snaps {
		if time.Since(o.created) > time.Minute {
			_ = o.snap.Close()
			delete(s.snaps, k)
		}
	}
	s.snaps[key] = o
	return key
}

func (s *snapshotRegistry) take(key string) *outgoingSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.snaps[key]
	delete(s.snaps, key)
	return o
}

func (s *snapshotRegistry) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, o := range s.snaps {
		_ = o.snap.Close()
		delete(s.snaps, k)
	}
}

// snapshotMeta is the replica's raft.Storage snapshot provider. Raft calls
// it while the replica is being processed (r.mu held), so the engine state
// of the span is exactly the state at the applied index.
func (r *replica) snapshotMeta() (*raftpb.Snapshot, error) {
	st := r.mu.state
	if st == nil {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	o := &outgoingSnapshot{
		snap:    r.h.engine.NewSnapshot(),
		desc:    proto.CloneOf(st.Descriptor_),
		state:   proto.CloneOf(st),
		created: time.Now(),
	}
	id := r.h.outSnaps.add(o)
	return &raftpb.Snapshot{
		Data: []byte(id),
		Metadata: &raftpb.SnapshotMetadata{
			Index:     proto.Uint64(st.AppliedIndex),
			Term:      proto.Uint64(st.AppliedTerm),
			ConfState: proto.CloneOf(r.mu.confState),
		},
	}, nil
}

// startSnapshot streams the snapshot named by a MsgSnap to node.
func (h *Host) startSnapshot(r *replica, node uint64, m *raftpb.Message) {
	o := h.outSnaps.take(string(m.GetSnapshot().GetData()))
	to := m.GetTo()
	report := func(st raft.SnapshotStatus) {
		r.mu.Lock()
		if r.mu.rn != nil && !r.mu.destroyed {
			r.mu.rn.ReportSnapshot(to, st)
		}
		r.mu.Unlock()
		h.sched.enqueue(r.groupID)
	}
	if o == nil {
		go report(raft.SnapshotFailure)
		return
	}
	data, err := proto.Marshal(m)
	if err != nil {
		_ = o.snap.Close()
		go report(raft.SnapshotFailure)
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() { _ = o.snap.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		hdr := &pb.SnapshotHeader{FromNode: h.opts.NodeID, ToNode: node, GroupId: r.groupID, Message: data,
			Descriptor_: o.desc, State: o.state}
		err := h.transport.sendSnapshot(ctx, node, hdr, func(fn func(k, v []byte) error) error {
			if err := o.snap.ExportSpan(o.desc.StartKey, endOrNil(o.desc.EndKey), fn); err != nil {
				return err
			}
			if start, end, ok := h.recordSpan(r.groupID); ok {
				return o.snap.ExportRecords(start, end, fn)
			}
			return nil
		})
		if err != nil {
			h.logger.Info("snapshot failed", "group", r.groupID, "to", node, "err", err.Error())
			h.metrics.Snapshots.WithLabelValues("send_failed").Inc()
			report(raft.SnapshotFailure)
			return
		}
		h.metrics.Snapshots.WithLabelValues("sent").Inc()
		report(raft.SnapshotFinish)
	}()
}

func endOrNil(k []byte) []byte {
	if len(k) == 0 {
		return nil
	}
	return k
}

type receivedSnapshot struct {
	id     string
	header *pb.SnapshotHeader
	keys   [][]byte
	values [][]byte
}

// receiveSnapshot takes a streamed snapshot, parks its data at the replica
// and steps the MsgSnap into Raft, which decides whether to restore it.
func (h *Host) receiveSnapshot(hdr *pb.SnapshotHeader, keys, values [][]byte) error {
	var m raftpb.Message
	if err := proto.Unmarshal(hdr.Message, &m); err != nil {
		return errors.Wrap(err, "paxosgroup: snapshot message")
	}
	if hdr.GetDescriptor_() == nil || hdr.GetState() == nil {
		return errors.New("paxosgroup: snapshot without descriptor or state")
	}
	if err := h.checkSnapshotOverlap(hdr.GroupId, hdr.Descriptor_); err != nil {
		return err
	}
	r := h.getOrCreateReplica(hdr.GroupId, m.GetTo())
	if r == nil {
		return errors.Newf("paxosgroup: snapshot for removed replica %d of group %d", m.GetTo(), hdr.GroupId)
	}
	r.learnPeer(m.GetFrom(), hdr.FromNode)
	r.mu.Lock()
	r.mu.pendingSnap = &receivedSnapshot{id: string(m.GetSnapshot().GetData()), header: hdr, keys: keys, values: values}
	r.mu.Unlock()
	r.enqueueMessage(inbound{m: &m})
	return nil
}

// checkSnapshotOverlap refuses a snapshot whose span overlaps another
// local replica's: the right side of a split that this node has not
// applied yet still belongs to the left replica here, and the split will
// create it.
func (h *Host) checkSnapshotOverlap(groupID uint64, d *pb.GroupDescriptor) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for id, r := range h.mu.replicas {
		if id == groupID {
			continue
		}
		o := r.desc.Load()
		if o == nil {
			continue
		}
		if spansOverlap(o, d) {
			return errors.Newf("paxosgroup: snapshot of group %d overlaps local group %d; retry after the split applies", groupID, id)
		}
	}
	return nil
}

func spansOverlap(a, b *pb.GroupDescriptor) bool {
	aEndsBeforeB := len(a.EndKey) > 0 && string(a.EndKey) <= string(b.StartKey)
	bEndsBeforeA := len(b.EndKey) > 0 && string(b.EndKey) <= string(a.StartKey)
	return !aEndsBeforeB && !bEndsBeforeA
}

// stageSnapshotLocked writes a snapshot Raft decided to restore: the span's
// data replaces what was there, and the Raft log restarts after it.
func (r *replica) stageSnapshotLocked(b *storage.Batch, snap *raftpb.Snapshot) error {
	ps := r.mu.pendingSnap
	if ps == nil || ps.id != string(snap.GetData()) {
		return errors.AssertionFailedf("paxosgroup: group %d restoring snapshot %x without its data", r.groupID, snap.GetData())
	}
	d := ps.header.Descriptor_
	if old := r.desc.Load(); old != nil {
		if err := b.ClearSpan(old.StartKey, endOrNil(old.EndKey)); err != nil {
			return err
		}
	}
	if err := b.ClearSpan(d.StartKey, endOrNil(d.EndKey)); err != nil {
		return err
	}
	if start, end, ok := r.h.recordSpan(r.groupID); ok {
		if err := b.ClearRecords(start, end); err != nil {
			return err
		}
	}
	for i := range ps.keys {
		put := b.PutRaw
		if storage.IsRecordKey(ps.keys[i]) {
			put = b.PutRawRecord
		}
		if err := put(ps.keys[i], ps.values[i]); err != nil {
			return err
		}
	}
	if err := r.rs.ApplySnapshotMeta(b, snap.GetMetadata()); err != nil {
		return err
	}
	st := proto.CloneOf(ps.header.State)
	st.AppliedIndex, st.AppliedTerm = snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm()
	st.Descriptor_ = d
	data, err := proto.Marshal(st)
	if err != nil {
		return err
	}
	return r.rs.SetReplicaMeta(b, data)
}

// afterSnapshotLocked adopts the restored state once it is durable.
func (r *replica) afterSnapshotLocked() {
	ps := r.mu.pendingSnap
	r.mu.pendingSnap = nil
	r.mu.stateGen = stateGens.Add(1)
	st := proto.CloneOf(ps.header.State)
	st.Descriptor_ = ps.header.Descriptor_
	if m := ps.header.Message; m != nil {
		var msg raftpb.Message
		if proto.Unmarshal(m, &msg) == nil {
			st.AppliedIndex = msg.GetSnapshot().GetMetadata().GetIndex()
			st.AppliedTerm = msg.GetSnapshot().GetMetadata().GetTerm()
			r.setConfStateLocked(msg.GetSnapshot().GetMetadata().GetConfState())
		}
	}
	r.setStateLocked(st)
	r.desc.Store(st.Descriptor_)
	r.initialized.Store(true)
	r.h.metrics.Snapshots.WithLabelValues("applied").Inc()
}
