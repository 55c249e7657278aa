package geo

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// The benchmark's two groups: A leads from the first region, B from the
// second. Their spans are fixed so that a second run finds them split.
var (
	spanA  = span{"A", []byte("geo/a/"), []byte("geo/b/")}
	spanB  = span{"B", []byte("geo/b/"), []byte("geo/c/")}
	spans  = []span{spanA, spanB}
	splits = [][]byte{spanA.start, spanB.start, spanB.end}
)

type span struct {
	name       string
	start, end []byte
}

// node is one node as Status describes it.
type node struct {
	id     uint64
	addr   string
	region string
}

// group is one of the benchmark's groups at one moment.
type group struct {
	name   string
	id     uint64
	leader uint64   // node ID; 0 when no report names one
	lease  bool     // the leader's lease was valid
	voters []uint64 // node IDs
	nodes  []uint64 // every replica's node
}

// topology is what the benchmark knows of the cluster at one moment.
type topology struct {
	nodes   map[uint64]node
	regions []string // in the order of their first node's ID
	groups  map[string]group
	rtt     func(a, b string) time.Duration
	// closesAhead is Config.ClosesAhead.
	closesAhead bool
}

// readTopology asks admin for the nodes and the benchmark's groups.
func readTopology(ctx context.Context, admin pb.AdminClient, rtt func(a, b string) time.Duration) (*topology, error) {
	st, err := admin.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return nil, fmt.Errorf("geo: status: %w", err)
	}
	t := &topology{nodes: map[uint64]node{}, groups: map[string]group{}, rtt: rtt}
	var ids []uint64
	for _, ns := range st.Nodes {
		n := ns.Node
		t.nodes[n.NodeId] = node{id: n.NodeId, addr: n.Address, region: n.Region}
		ids = append(ids, n.NodeId)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if r := t.nodes[id].region; !slices.Contains(t.regions, r) {
			t.regions = append(t.regions, r)
		}
	}
	for _, gs := range st.Groups {
		d := gs.Descriptor_
		for _, s := range spans {
			if !bytes.Equal(d.GetStartKey(), s.start) || !bytes.Equal(d.GetEndKey(), s.end) {
				continue
			}
			g := group{name: s.name, id: d.GroupId, leader: gs.LeaderNode, lease: gs.LeaseValid}
			for _, r := range d.Replicas {
				g.nodes = append(g.nodes, r.NodeId)
				if r.Type == pb.ReplicaType_VOTER {
					g.voters = append(g.voters, r.NodeId)
				}
			}
			t.groups[s.name] = g
		}
	}
	return t, nil
}

// region returns the region of node id.
func (t *topology) region(id uint64) string { return t.nodes[id].region }

// wantLeaderRegion is where group name's leader belongs: A in the first
// region, B in the second (the first, with one region).
func (t *topology) wantLeaderRegion(name string) string {
	if name == spanB.name && len(t.regions) > 1 {
		return t.regions[1]
	}
	return t.regions[0]
}

// prepare splits the benchmark's spans off, moves their leaders to their
// regions and waits until both have a valid lease there (where a voter
// allows). It returns the topology then.
func prepare(ctx context.Context, admin pb.AdminClient, rtt func(a, b string) time.Duration, out func(format string, args ...any)) (*topology, error) {
	st, err := admin.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return nil, fmt.Errorf("geo: status: %w", err)
	}
	bounds := map[string]bool{}
	for _, g := range st.Groups {
		bounds[string(g.Descriptor_.GetStartKey())] = true
	}
	for _, k := range splits {
		if bounds[string(k)] {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := admin.Split(sctx, &pb.SplitRequest{SplitKey: k})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("geo: split at %q: %w", k, err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		t, err := readTopology(ctx, admin, rtt)
		if err != nil {
			return nil, err
		}
		placed, why := t.placeOnce(ctx, admin)
		if placed {
			for _, s := range spans {
				g := t.groups[s.name]
				out("group %s [%s, %s): group %d, leader node %d in %s, voters in %v, quorum RTT %s\n",
					s.name, s.start, s.end, g.id, g.leader, t.region(g.leader), t.voterRegions(g), ms(t.quorumRTT(g)))
			}
			return t, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("geo: the benchmark's groups were not placed after 1m: %s", why)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// placeOnce asks for the next leader move, if any, and reports whether
// both groups are placed (or why not).
func (t *topology) placeOnce(ctx context.Context, admin pb.AdminClient) (bool, string) {
	placed := true
	why := ""
	for _, s := range spans {
		g, ok := t.groups[s.name]
		switch {
		case !ok:
			placed, why = false, fmt.Sprintf("group %s not split off yet", s.name)
			continue
		case g.leader == 0 || !g.lease:
			placed, why = false, fmt.Sprintf("group %s has no lease", s.name)
			continue
		}
		want := t.wantLeaderRegion(s.name)
		if t.region(g.leader) == want {
			continue
		}
		for _, v := range g.voters {
			if t.region(v) == want {
				placed, why = false, fmt.Sprintf("group %s's leader moving to %s", s.name, want)
				tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, _ = admin.TransferLeader(tctx, &pb.TransferLeaderRequest{GroupId: g.id, TargetNode: v})
				cancel()
				break
			}
		}
	}
	return placed, why
}

// gateway picks the node a client in region r sends to: one in r holding
// a replica of A if there is one, else any node in r.
func (t *topology) gateway(r string) (node, bool) {
	a := t.groups[spanA.name]
	var any node
	ok := false
	for _, id := range slices.Sorted(maps.Keys(t.nodes)) {
		n := t.nodes[id]
		if n.region != r {
			continue
		}
		if slices.Contains(a.nodes, id) {
			return n, true
		}
		if !ok {
			any, ok = n, true
		}
	}
	return any, ok
}

func (t *topology) voterRegions(g group) []string {
	var out []string
	for _, v := range g.voters {
		out = append(out, t.region(v))
	}
	return out
}

// quorumRTT is q(g): the round trip from g's leader to the voter whose
// acknowledgement completes a majority, the leader counting itself.
func (t *topology) quorumRTT(g group) time.Duration {
	lr := t.region(g.leader)
	var others []time.Duration
	for _, v := range g.voters {
		if v != g.leader {
			others = append(others, t.rtt(lr, t.region(v)))
		}
	}
	k := len(g.voters) / 2 // acknowledgements needed besides the leader's
	if k == 0 || len(others) < k {
		return 0
	}
	slices.Sort(others)
	return others[k-1]
}

// hasReplicaIn reports whether g has a replica on a node of region r.
func (t *topology) hasReplicaIn(g group, r string) bool {
	for _, id := range g.nodes {
		if t.region(id) == r {
			return true
		}
	}
	return false
}
