package paxosgroup

import (
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestPromiseEndsWhenLeaderCampaigns: a follower of a supported leader
// neither ticks nor helps another candidate, until the leader's own node
// asks it for votes in a later term (the leader restarted, or stepped
// down); then it ticks and may vote, so that someone can win even if that
// node cannot (its log lost an unsynced tail). A new term binds it again.
// Before leaderLeft, such a group stayed leaderless while the node lived.
func TestPromiseEndsWhenLeaderCampaigns(t *testing.T) {
	clock := &manualNow{t: time.Unix(100, 0)}
	opts := Options{NodeID: 2, Now: clock.now, SupportDuration: time.Second, MaxClockDrift: 1e-3, LeaseMargin: 10 * time.Millisecond}
	h := &Host{opts: opts, live: newLiveness(&opts)}
	clock.advance(2 * time.Second) // past the startup grace
	h.live.onHeartbeat(1)          // node 2 supports node 1
	r := &replica{h: h, groupID: 7, replicaID: 2, peerNodes: map[uint64]uint64{}}
	r.desc.Store(&pb.GroupDescriptor{GroupId: 7, Replicas: []*pb.ReplicaDescriptor{
		{ReplicaId: 1, NodeId: 1, Type: pb.ReplicaType_VOTER},
		{ReplicaId: 2, NodeId: 2, Type: pb.ReplicaType_VOTER},
		{ReplicaId: 3, NodeId: 3, Type: pb.ReplicaType_VOTER},
	}})
	r.initialized.Store(true)
	r.leaderID.Store(1)
	r.leaderNode.Store(1)
	status := func(term, lead uint64) raft.BasicStatus {
		return raft.BasicStatus{HardState: &raftpb.HardState{Term: proto.Uint64(term)},
			SoftState: raft.SoftState{Lead: lead, RaftState: raft.StateFollower}}
	}
	vote := func(from, term uint64) inbound {
		return inbound{m: &raftpb.Message{Type: raftpb.MsgPreVote.Enum(), From: proto.Uint64(from),
			To: proto.Uint64(2), Term: proto.Uint64(term)}}
	}
	bound := func(when string, want bool) {
		t.Helper()
		v := vote(3, 7)
		if got := r.dropVote(v.m, 3); got != want {
			t.Errorf("%s: dropVote from node 3 = %v, want %v", when, got, want)
		}
		if got := !r.stepVoteLocked(v, status(6, 1)); got != want {
			t.Errorf("%s: refused on Raft's state = %v, want %v", when, got, want)
		}
		if got := r.needsTick(); got == want {
			t.Errorf("%s: needsTick = %v, want %v", when, got, !want)
		}
	}
	bound("following node 1 in term 6", true)
	if !r.stepVoteLocked(vote(1, 7), status(6, 1)) {
		t.Fatal("the leader's own node was refused a vote")
	}
	bound("after node 1 campaigned for term 7", false)
	if tr := vote(3, 7); !func() bool { tr.transfer = true; return r.stepVoteLocked(tr, status(6, 1)) }() {
		t.Error("a leadership transfer was refused")
	}
	// Node 1 wins term 7 after all: the promise binds again.
	if r.stepVoteLocked(vote(3, 8), status(7, 1)) {
		t.Error("in term 7, under node 1, a vote for node 3 was let through")
	}
	if r.needsTick() {
		t.Error("in term 7, under node 1, the follower ticks")
	}
}
