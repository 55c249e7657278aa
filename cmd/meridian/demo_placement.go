package main

import (
	"context"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The demo places groups through the Admin API, as an operator could, until
// placement policies (DESIGN.md §4) do it in the cluster: every group gets
// a voter in each region (one each, with three regions or more; with fewer,
// the up-replication of paxosgroup fills up to three voters across zones)
// and its leader in the first region. Up-replication alone spreads voters
// across regions but knows no leader preference, and may pick a second
// node of a region whose others were not live yet.

// place moves replicas and leaders until every group is placed, or ctx
// ends.
func (c *demoCluster) place(ctx context.Context) error {
	admin, closeConn, err := c.admin()
	if err != nil {
		return err
	}
	defer closeConn()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		done, err := c.placeOnce(ctx, admin)
		if done {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return errors.Wrapf(ctx.Err(), "demo: placing the groups' replicas one per region (last error: %v)", last)
		case <-tick.C:
		}
	}
}

// keepPlacement moves leaders back to the first region (and replaces
// voters) should a failover or a split have changed them, until ctx ends.
func (c *demoCluster) keepPlacement(ctx context.Context) {
	admin, closeConn, err := c.admin()
	if err != nil {
		return
	}
	defer closeConn()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := c.placeOnce(rctx, admin); err != nil && ctx.Err() == nil {
			c.opts.logger.Debug("demo: placement", "err", err.Error())
		}
		cancel()
	}
}

// admin connects to the first node as a client that declares no region:
// the demo's own housekeeping is not delayed.
func (c *demoCluster) admin() (pb.AdminClient, func(), error) {
	cc, err := grpc.NewClient(c.nodes[0].Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return pb.NewAdminClient(cc), func() { _ = cc.Close() }, nil
}

// placeOnce takes at most one step per group towards its placement and
// reports whether every group was placed already.
func (c *demoCluster) placeOnce(ctx context.Context, admin pb.AdminClient) (bool, error) {
	st, err := admin.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return false, err
	}
	regionOf := make(map[uint64]string, len(st.Nodes))
	for _, ns := range st.Nodes {
		regionOf[ns.Node.GetNodeId()] = ns.Node.GetRegion()
	}
	done := len(st.Groups) > 0
	var errs error
	for _, g := range st.Groups {
		ok, err := c.placeGroup(ctx, admin, g, regionOf)
		done = done && ok
		errs = errors.CombineErrors(errs, err)
	}
	return done, errs
}

// placeGroup takes the next step for one group: add a voter to each region
// without one, else remove extra voters of a region, else move the leader
// to the first region. It reports whether there was nothing to do.
func (c *demoCluster) placeGroup(ctx context.Context, admin pb.AdminClient, g *pb.GroupStatus, regionOf map[uint64]string) (bool, error) {
	d := g.Descriptor_
	voters := map[string][]uint64{}
	nvoters := 0
	for _, r := range d.Replicas {
		if r.Type != pb.ReplicaType_VOTER {
			return false, nil // a membership change is under way
		}
		voters[regionOf[r.NodeId]] = append(voters[regionOf[r.NodeId]], r.NodeId)
		nvoters++
	}
	if g.LeaderNode == 0 || !g.LeaseValid {
		return false, nil
	}
	regions := c.opts.regions
	var add, remove []uint64
	for r, region := range regions {
		if len(voters[region]) == 0 {
			add = append(add, c.nodeIn(r, d.GroupId))
		}
	}
	if len(add) > 0 {
		_, err := admin.ChangeReplicas(ctx, &pb.ChangeReplicasRequest{GroupId: d.GroupId, AddNodes: add})
		return false, errors.Wrapf(err, "group %d: adding %v", d.GroupId, add)
	}
	if len(regions) >= 3 {
		for _, vs := range voters {
			keep := vs[0]
			for _, v := range vs {
				if v == g.LeaderNode {
					keep = v
				}
			}
			for _, v := range vs {
				if v != keep {
					remove = append(remove, v)
				}
			}
		}
	}
	if len(remove) > 0 {
		_, err := admin.ChangeReplicas(ctx, &pb.ChangeReplicasRequest{GroupId: d.GroupId, RemoveNodes: remove})
		return false, errors.Wrapf(err, "group %d: removing %v", d.GroupId, remove)
	}
	if regionOf[g.LeaderNode] != regions[0] {
		to := voters[regions[0]][0]
		_, err := admin.TransferLeader(ctx, &pb.TransferLeaderRequest{GroupId: d.GroupId, TargetNode: to})
		return false, errors.Wrapf(err, "group %d: moving the leader to node %d", d.GroupId, to)
	}
	// With fewer than three regions, up-replication adds the rest.
	return nvoters >= min(3, len(c.nodes)), nil
}

// nodeIn picks the node of region r that holds a group's voter there,
// spreading groups over the region's zones.
func (c *demoCluster) nodeIn(r int, groupID uint64) uint64 {
	nr := len(c.opts.regions)
	return c.nodes[r+nr*int(groupID%uint64(c.opts.nodesPerRegion))].NodeID()
}
