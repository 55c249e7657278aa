package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/server/servertest"
)

// TestSplitsUnderConcurrentWrites splits the user range repeatedly while
// writers run: no acknowledged write is lost and none appears twice.
func TestSplitsUnderConcurrentWrites(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	stop := make(chan struct{})
	wl, wg := runWriters(t, c, 6, stop)
	ctx := context.Background()
	for _, k := range []string{"w01", "w03", "w02-00010", "w04", "w05-00005", "w00-00020"} {
		c.WaitFor(10*time.Second, "writes between splits", func() bool { wl.mu.Lock(); defer wl.mu.Unlock(); return len(wl.acked) > 0 })
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		resp, err := c.Admin(0).Split(sctx, &pb.SplitRequest{SplitKey: []byte(k)})
		cancel()
		if err != nil {
			t.Fatalf("split at %s: %v", k, err)
		}
		t.Logf("split at %q: left %d [%q,%q) right %d", k, resp.Left.GroupId, resp.Left.StartKey, resp.Left.EndKey, resp.Right.GroupId)
	}
	c.WaitFor(10*time.Second, "more writes after the splits", func() bool { wl.mu.Lock(); defer wl.mu.Unlock(); return len(wl.acked) > 200 })
	close(stop)
	wg.Wait()
	wl.verify(t, c.KV(2))
	st := c.Status()
	if len(st.Groups) < 8 {
		t.Fatalf("expected 8 groups after 6 splits, status shows %d", len(st.Groups))
	}
}

// TestMembershipChangesUnderLoad replaces a replica (add a fourth node,
// remove one of the original three) while writers run, then checks the
// new replica has all the data and the removed one let go of it.
func TestMembershipChangesUnderLoad(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Nodes: 4})
	g := uint64(paxosgroup.FirstUserGroupID)
	d, _ := c.Nodes[0].Host().Descriptor(g)
	if d == nil {
		d = findDesc(t, c, g)
	}
	inGroup := map[uint64]bool{}
	for _, r := range d.Replicas {
		inGroup[r.NodeId] = true
	}
	var add, remove uint64
	leader := c.LeaderOf(g)
	for i := 0; i < 4; i++ {
		id := c.NodeID(i)
		if !inGroup[id] {
			add = id
		} else if i != leader && remove == 0 {
			remove = id
		}
	}
	stop := make(chan struct{})
	wl, wg := runWriters(t, c, 4, stop)
	c.WaitFor(10*time.Second, "writes", func() bool { wl.mu.Lock(); defer wl.mu.Unlock(); return len(wl.acked) > 50 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := c.Admin(0).ChangeReplicas(ctx, &pb.ChangeReplicasRequest{GroupId: g, AddNodes: []uint64{add}, RemoveNodes: []uint64{remove}})
	if err != nil {
		t.Fatalf("replace node %d by %d: %v", remove, add, err)
	}
	t.Logf("group %d now on %v", g, resp.Descriptor_.Replicas)
	c.WaitFor(10*time.Second, "writes after the change", func() bool { wl.mu.Lock(); defer wl.mu.Unlock(); return len(wl.acked) > 150 })
	close(stop)
	wg.Wait()
	wl.verify(t, c.KV(c.Index(add)))
	// The added replica holds every acknowledged write locally.
	added := c.Nodes[c.Index(add)].Host()
	c.WaitFor(10*time.Second, "the new replica to hold all data", func() bool {
		wl.mu.Lock()
		defer wl.mu.Unlock()
		for k, v := range wl.acked {
			got, _, ok, err := added.Engine().MVCCGet([]byte(k), 1<<62)
			if err != nil || !ok || string(got) != v {
				return false
			}
		}
		return true
	})
	c.WaitFor(10*time.Second, "the removed replica to be destroyed", func() bool {
		_, ok := c.Nodes[c.Index(remove)].Host().Descriptor(g)
		return !ok
	})
}

func findDesc(t *testing.T, c *servertest.Cluster, g uint64) *pb.GroupDescriptor {
	for _, gs := range c.Status().Groups {
		if gs.Descriptor_.GroupId == g {
			return gs.Descriptor_
		}
	}
	t.Fatalf("group %d not found", g)
	return nil
}

// TestLeaderTransfer moves leadership and checks the new leaseholder
// serves what the old one acknowledged.
func TestLeaderTransfer(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	g := uint64(paxosgroup.FirstUserGroupID)
	put(t, c.KV(0), "t", "1")
	for round := 0; round < 3; round++ {
		from := c.LeaderOf(g)
		to := (from + 1) % 3
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := c.Admin(to).TransferLeader(ctx, &pb.TransferLeaderRequest{GroupId: g, TargetNode: c.NodeID(to)})
		cancel()
		if err != nil {
			t.Fatalf("transfer %d->%d: %v", from+1, to+1, err)
		}
		c.WaitFor(10*time.Second, "the new leader's lease", func() bool { return c.LeaderOf(g) == to })
		v := fmt.Sprint(round + 2)
		put(t, c.KV(to), "t", v)
		if got, _ := get(t, c.KV(from), "t"); got != v {
			t.Fatalf("round %d: t = %q, want %q", round, got, v)
		}
	}
}

// TestManyGroups hosts 1,000 groups on 3 nodes: splits create them, every
// one is readable and writable, and idle groups settle (quiesce).
func TestManyGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("many groups: skipped in -short")
	}
	const groups = 1000
	c := servertest.Start(t, servertest.Options{Paxos: func(o *paxosgroup.Options) {
		o.TickInterval = 50 * time.Millisecond
		o.SupportDuration = time.Second
	}})
	ctx := context.Background()
	admin := c.Admin(c.LeaderOf(paxosgroup.FirstUserGroupID))
	start := time.Now()
	// Splitting from the right keeps each split on the group the previous
	// one left behind, which is led by the same node.
	for i := groups - 1; i >= 1; i-- {
		k := fmt.Sprintf("g%04d", i)
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := admin.Split(sctx, &pb.SplitRequest{SplitKey: []byte(k)})
		cancel()
		if err != nil {
			t.Fatalf("split %d at %s: %v", groups-i, k, err)
		}
	}
	t.Logf("%d splits in %s", groups-1, time.Since(start))
	for i := 0; i < groups; i += 37 {
		k := fmt.Sprintf("g%04d-key", i)
		put(t, c.KV(i%3), k, "v")
		if v, ok := get(t, c.KV((i+1)%3), k); !ok || v != "v" {
			t.Fatalf("%s = %q %v", k, v, ok)
		}
	}
	n := 0
	for _, node := range c.Nodes {
		n += len(node.Host().Status())
	}
	if n < 3*groups {
		t.Fatalf("%d replicas hosted, want %d", n, 3*groups)
	}
	// Idle groups stop ticking: every leader quiesces once the writes end.
	var lastCounts string
	defer func() {
		if t.Failed() {
			t.Logf("at the end: %s", lastCounts)
		}
	}()
	c.WaitFor(30*time.Second, "idle leaders to quiesce", func() bool {
		leaders, quiesced := 0, 0
		for _, node := range c.Nodes {
			for _, g := range node.Host().Status() {
				if g.LeaderNode == node.NodeID() {
					leaders++
					if g.Quiesced {
						quiesced++
					}
				}
			}
		}
		if leaders < groups || quiesced != leaders {
			lastCounts = fmt.Sprintf("%d leaders, %d quiesced", leaders, quiesced)
			return false
		}
		return true
	})
}

// TestSizeBasedSplit: a group whose data outgrows SplitSizeBytes splits by
// itself, and every key stays readable.
func TestSizeBasedSplit(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Paxos: func(o *paxosgroup.Options) { o.SplitSizeBytes = 256 << 10 }})
	// Incompressible values: the threshold is on disk usage.
	rng := rand.New(rand.NewPCG(1, 2))
	vals := map[int]string{}
	for i := 0; i < 300; i++ {
		b := make([]byte, 4096)
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		vals[i] = string(b)
		put(t, c.KV(i%3), fmt.Sprintf("big%04d", i), vals[i])
	}
	// Size estimates count flushed tables only.
	for _, n := range c.Nodes {
		if err := n.Host().Engine().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitFor(30*time.Second, "the large group to split by size", func() bool {
		return len(c.Status().Groups) > 2
	})
	for i := 0; i < 300; i += 7 {
		if v, ok := get(t, c.KV(0), fmt.Sprintf("big%04d", i)); !ok || v != vals[i] {
			t.Fatalf("big%04d lost after the split", i)
		}
	}
	t.Logf("groups after size-based splits: %d", len(c.Status().Groups))
}

// TestReplicaGC: a node partitioned away while its replica is removed never
// hears of the removal; once the partition heals, replica GC finds a newer
// descriptor without it in the directory and removes the replica.
func TestReplicaGC(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Nodes: 4, Paxos: func(o *paxosgroup.Options) {
		o.ReplicaGCInterval = 500 * time.Millisecond
	}})
	g := uint64(paxosgroup.FirstUserGroupID)
	put(t, c.KV(0), "gc", "1")
	d := findDesc(t, c, g)
	inGroup := map[uint64]bool{}
	for _, r := range d.Replicas {
		inGroup[r.NodeId] = true
	}
	leader, metaLeader := c.LeaderOf(g), c.LeaderOf(paxosgroup.MetaGroupID)
	var add, remove uint64
	for i := 0; i < 4; i++ {
		id := c.NodeID(i)
		switch {
		case !inGroup[id]:
			add = id
		case i != leader && i != metaLeader && remove == 0:
			remove = id
		}
	}
	if remove == 0 {
		t.Skip("every member leads something; nothing safe to cut off")
	}
	var others []uint64
	for i := 0; i < 4; i++ {
		if c.NodeID(i) != remove {
			others = append(others, c.NodeID(i))
		}
	}
	c.Faults.Isolate(remove, others...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.Admin(leader).ChangeReplicas(ctx, &pb.ChangeReplicasRequest{GroupId: g, AddNodes: []uint64{add}, RemoveNodes: []uint64{remove}}); err != nil {
		t.Fatalf("replace node %d by %d: %v", remove, add, err)
	}
	if _, ok := c.Nodes[c.Index(remove)].Host().Descriptor(g); !ok {
		t.Fatal("the cut-off node lost its replica before hearing anything")
	}
	c.Faults.Heal()
	c.WaitFor(30*time.Second, "replica GC on the node that missed its removal", func() bool {
		_, ok := c.Nodes[c.Index(remove)].Host().Descriptor(g)
		return !ok
	})
	if v, ok := get(t, c.KV(c.Index(add)), "gc"); !ok || v != "1" {
		t.Fatalf("gc = %q, %v", v, ok)
	}
}
