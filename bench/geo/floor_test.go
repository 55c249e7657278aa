package geo

import (
	"testing"
	"time"
)

// TestFloors computes every operation's floor on the demo's topology with
// distinct round trips, so that a floor taken from the wrong region or
// the wrong group shows: A leads from us-east, B from us-west, each with
// a voter in every region, and every gateway in its client's region.
func TestFloors(t *testing.T) {
	rtts := map[[2]string]time.Duration{
		{"us-east", "us-west"}: 10 * time.Millisecond,
		{"us-east", "eu-west"}: 14 * time.Millisecond,
		{"us-west", "eu-west"}: 20 * time.Millisecond,
	}
	rtt := func(a, b string) time.Duration {
		if d, ok := rtts[[2]string{a, b}]; ok {
			return d
		}
		return rtts[[2]string{b, a}]
	}
	topo := &topology{
		nodes: map[uint64]node{
			1: {id: 1, region: "us-east"}, 2: {id: 2, region: "us-west"}, 3: {id: 3, region: "eu-west"},
		},
		regions: []string{"us-east", "us-west", "eu-west"},
		groups: map[string]group{
			"A": {name: "A", id: 7, leader: 1, voters: []uint64{1, 2, 3}, nodes: []uint64{1, 2, 3}},
			"B": {name: "B", id: 8, leader: 2, voters: []uint64{1, 2, 3}, nodes: []uint64{1, 2, 3}},
		},
		rtt: rtt,
	}
	if q := topo.quorumRTT(topo.groups["B"]); q != 10*time.Millisecond {
		t.Fatalf("B's quorum RTT from us-west: %s, want 10ms (us-east is nearer than eu-west)", q)
	}
	const msec = time.Millisecond
	want := map[string][3]time.Duration{ // us-east, us-west, eu-west
		OpStrongRead:   {0, 10 * msec, 14 * msec},
		OpBoundedStale: {0, 0, 0},
		OpExactStale:   {0, 0, 0},
		// 2 × rtt to us-east + q(A) = 10.
		OpCommit1: {10 * msec, 30 * msec, 38 * msec},
		// reads: max rtt to both leaders; prepares: max(rtt + q); decide
		// at A (the smaller group ID): rtt to us-east + 10.
		OpCommit2PC: {(10 + 20 + 10) * msec, (10 + 20 + 20) * msec, (20 + 30 + 24) * msec},
	}
	for _, op := range operations {
		for i, r := range topo.regions {
			if got := op.floor(topo, r, r); got != want[op.id][i] {
				t.Errorf("%s from %s: floor %s, want %s", op.id, r, got, want[op.id][i])
			}
		}
	}

	// Leaders closing ahead: a strong read is served in the gateway's
	// region, like a stale one, unless no replica is there.
	topo.closesAhead = true
	if got := operations[0].floor(topo, "eu-west", "eu-west"); operations[0].id != OpStrongRead || got != 0 {
		t.Errorf("strong read from eu-west, leaders closing ahead: floor %s, want 0", got)
	}
	if got := operations[0].floor(topo, "us-west", "eu-west"); got != 20*time.Millisecond {
		t.Errorf("strong read from us-west through eu-west, leaders closing ahead: floor %s, want 20ms", got)
	}
	topo.closesAhead = false

	// Without a replica in the gateway's region a stale read goes to the
	// leader; a client outside its gateway's region pays the trip to it.
	topo.groups["A"] = group{name: "A", id: 7, leader: 1, voters: []uint64{1, 2}, nodes: []uint64{1, 2}}
	if got := staleFloor(topo, "eu-west", "eu-west"); got != 14*time.Millisecond {
		t.Errorf("stale read from eu-west without a replica there: %s, want 14ms", got)
	}
	if got := staleFloor(topo, "eu-west", "us-west"); got != 20*time.Millisecond {
		t.Errorf("stale read from eu-west through us-west: %s, want 20ms", got)
	}
	// Two voters: the leader needs the other's acknowledgement.
	if q := topo.quorumRTT(topo.groups["A"]); q != 10*time.Millisecond {
		t.Errorf("A's quorum RTT with voters in us-east and us-west: %s, want 10ms", q)
	}
}
