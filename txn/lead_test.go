package txn

import (
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// TestLeadOf: a group is closed ahead by the largest known delay (plus the
// interval and margin) of its replicas outside the leader's region, each
// only if it fits within CloseAhead; replicas in the leader's region and
// nodes that have not answered yet add nothing, but any replica elsewhere
// makes the group one that is published often.
func TestLeadOf(t *testing.T) {
	regions := map[uint64]string{1: "east", 2: "east", 3: "west", 4: "eu", 5: "mars"}
	delays := map[uint64]int64{2: 1, 3: 30, 4: 45, 5: 500}
	region := func(n uint64) string { return regions[n] }
	delay := func(n uint64) (int64, bool) { d, ok := delays[n]; return d, ok }
	replicas := func(nodes ...uint64) []*pb.ReplicaDescriptor {
		var out []*pb.ReplicaDescriptor
		for _, n := range nodes {
			out = append(out, &pb.ReplicaDescriptor{NodeId: n})
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		nodes      []uint64
		wantLead   int64
		wantRemote bool
	}{
		{"one region", []uint64{1, 2}, 0, false},
		{"west", []uint64{1, 2, 3}, 30 + 12, true},
		{"west and eu: the farther", []uint64{1, 3, 4}, 45 + 12, true},
		{"too far for the limit: left out", []uint64{1, 3, 5}, 30 + 12, true},
		{"only too far", []uint64{1, 5}, 0, true},
		{"not answered yet", []uint64{1, 6}, 0, true},
	} {
		lead, remote := leadOf(1, replicas(tc.nodes...), region, delay, 100, 12)
		if lead != tc.wantLead || remote != tc.wantRemote {
			t.Errorf("%s: leadOf = %d, %v; want %d, %v", tc.name, lead, remote, tc.wantLead, tc.wantRemote)
		}
	}
}

// TestPeerDelaysLargestOfRecent: a node's delay is the largest of its last
// delaySamples answers, so a spike is covered while it is recent and
// forgotten after; negative delays (a receiver whose clock reads behind)
// count as 0.
func TestPeerDelaysLargestOfRecent(t *testing.T) {
	p := newPeerDelays()
	if _, ok := p.delay(7); ok {
		t.Fatal("a node that never answered has a delay")
	}
	p.observe(7, -5)
	if d, _ := p.delay(7); d != 0 {
		t.Fatalf("negative delay recorded as %d, want 0", d)
	}
	p.observe(7, 90)
	for i := range delaySamples - 1 {
		p.observe(7, int64(10+i))
		if d, _ := p.delay(7); d != 90 {
			t.Fatalf("after %d later samples delay = %d, want the spike 90", i+1, d)
		}
	}
	p.observe(7, 20)
	if d, _ := p.delay(7); d != 20 {
		t.Fatalf("after %d later samples delay = %d, want 20 (the spike forgotten)", delaySamples, d)
	}
	for range maxSendsPerNode {
		if !p.begin(7) {
			t.Fatal("refused a send below the limit")
		}
	}
	if p.begin(7) {
		t.Fatalf("allowed more than %d sends in flight", maxSendsPerNode)
	}
	p.end(7)
	if !p.begin(7) {
		t.Fatal("refused a send after one ended")
	}
}

// TestLeadsAheadOnlyWithRoom: with the default CloseAhead no group is
// closed ahead (it could not cover a trip between regions).
func TestLeadsAheadOnlyWithRoom(t *testing.T) {
	for _, tc := range []struct {
		ahead time.Duration
		want  bool
	}{{0, false}, {DefaultCloseAhead, false}, {200 * time.Millisecond, true}} {
		cfg := ServerConfig{CloseAhead: tc.ahead}
		cfg.ensureDefaults()
		if got := (&Server{cfg: cfg}).leadsAhead(); got != tc.want {
			t.Errorf("CloseAhead %s: leadsAhead = %v, want %v", tc.ahead, got, tc.want)
		}
	}
}
