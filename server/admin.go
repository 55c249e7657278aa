package server

import (
	"context"
	"sort"
	"sync"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/truetime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

type adminService struct {
	pb.UnimplementedAdminServer
	n *Node
}

var _ pb.AdminServer = adminService{}

func (a adminService) Init(ctx context.Context, _ *pb.InitRequest) (*pb.InitResponse, error) {
	resp, err := a.n.Init(ctx)
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return nil, err
		}
		return nil, toStatus(err)
	}
	return resp, nil
}

func (a adminService) Join(ctx context.Context, req *pb.JoinRequest) (*pb.JoinResponse, error) {
	h := a.n.Host()
	if h == nil {
		return nil, status.Error(codes.FailedPrecondition, "this node is not part of an initialized cluster yet")
	}
	a.n.mu.Lock()
	cid := a.n.mu.clusterID
	a.n.mu.Unlock()
	if req.ClusterId != "" && req.ClusterId != cid {
		return nil, status.Errorf(codes.InvalidArgument,
			"the joining node belongs to cluster %s, this is cluster %s; point --join at its own cluster or start it on an empty --store", req.ClusterId, cid)
	}
	nd := req.GetNode()
	if nd == nil || nd.Address == "" {
		return nil, status.Error(codes.InvalidArgument, "join request without the node's address")
	}
	cmd := &pb.MetaCommand{Nodes: []*pb.NodeDescriptor{nd}}
	if nd.NodeId == 0 {
		cmd.AllocateNodeIds = 1
	}
	id, err := metaRouter{a.n}.ProposeMeta(ctx, cmd)
	if err != nil {
		return nil, toStatus(err)
	}
	joined := proto.CloneOf(nd)
	if nd.NodeId == 0 {
		joined.NodeId = id
	}
	h.UpdateNodes(joined)
	meta, _ := h.MetaView()
	return &pb.JoinResponse{NodeId: joined.NodeId, ClusterId: cid, Nodes: h.Nodes(), Meta: meta}, nil
}

func (a adminService) ProposeMeta(ctx context.Context, cmd *pb.MetaCommand) (*pb.ProposeMetaResponse, error) {
	h := a.n.Host()
	if h == nil {
		return nil, status.Error(codes.Unavailable, errNotReady.Error())
	}
	id, err := h.ApplyMeta(ctx, cmd)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ProposeMetaResponse{FirstId: id}, nil
}

func (a adminService) RangeLookup(ctx context.Context, req *pb.RangeLookupRequest) (*pb.RangeLookupResponse, error) {
	h := a.n.Host()
	if h == nil {
		return nil, status.Error(codes.Unavailable, errNotReady.Error())
	}
	var d *pb.GroupDescriptor
	var err error
	if req.GroupId != 0 {
		d, err = lookupGroupLocal(ctx, h, req.GroupId)
	} else {
		d, err = h.LookupRange(ctx, req.Key)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.RangeLookupResponse{Descriptor_: d, LeaderNode: h.LeaderNode(d.GroupId)}, nil
}

// Split, TransferLeader and ChangeReplicas run at the group's leader; any
// node forwards them there.
func (a adminService) Split(ctx context.Context, req *pb.SplitRequest) (*pb.SplitResponse, error) {
	if err := validateKey(req.SplitKey); err != nil {
		return nil, err
	}
	var out *pb.SplitResponse
	err := a.n.routeKey(ctx, req.SplitKey, false, func(ctx context.Context, node uint64, d *pb.GroupDescriptor) error {
		if node != a.n.NodeID() {
			cl, err := a.n.adminClient(node)
			if err != nil {
				return err
			}
			out, err = cl.Split(ctx, req)
			return err
		}
		l, r, err := a.n.Host().Split(ctx, req.SplitKey)
		if err != nil {
			return toStatus(err)
		}
		out = &pb.SplitResponse{Left: l, Right: r}
		return nil
	})
	if err == nil {
		a.n.ranges.evict(out.Left.GroupId)
	}
	return out, err
}

func (a adminService) routeGroup(ctx context.Context, groupID uint64, fn func(ctx context.Context, node uint64) error) error {
	h := a.n.Host()
	if h == nil {
		return status.Error(codes.Unavailable, errNotReady.Error())
	}
	d, ok := h.Descriptor(groupID)
	if !ok {
		for _, g := range a.n.clusterStatus(ctx, a.n.localStatus()).Groups {
			if g.Descriptor_.GroupId == groupID {
				d, ok = g.Descriptor_, true
			}
		}
	}
	if !ok {
		return status.Errorf(codes.NotFound, "no node reports group %d", groupID)
	}
	return a.n.routeKeyForGroup(ctx, d, fn)
}

func (a adminService) TransferLeader(ctx context.Context, req *pb.TransferLeaderRequest) (*pb.TransferLeaderResponse, error) {
	err := a.routeGroup(ctx, req.GroupId, func(ctx context.Context, node uint64) error {
		if node != a.n.NodeID() {
			cl, err := a.n.adminClient(node)
			if err != nil {
				return err
			}
			_, err = cl.TransferLeader(ctx, req)
			return err
		}
		return toStatus(a.n.Host().TransferLeader(ctx, req.GroupId, req.TargetNode))
	})
	if err != nil {
		return nil, err
	}
	return &pb.TransferLeaderResponse{}, nil
}

func (a adminService) ChangeReplicas(ctx context.Context, req *pb.ChangeReplicasRequest) (*pb.ChangeReplicasResponse, error) {
	var out *pb.ChangeReplicasResponse
	err := a.routeGroup(ctx, req.GroupId, func(ctx context.Context, node uint64) error {
		if node != a.n.NodeID() {
			cl, err := a.n.adminClient(node)
			if err != nil {
				return err
			}
			out, err = cl.ChangeReplicas(ctx, req)
			return err
		}
		d, err := a.n.Host().ChangeReplicas(ctx, req.GroupId, req.AddNodes, req.RemoveNodes)
		if err != nil {
			return toStatus(err)
		}
		out = &pb.ChangeReplicasResponse{Descriptor_: d}
		return nil
	})
	return out, err
}

// routeKeyForGroup runs fn at the group's leader (following hints).
func (n *Node) routeKeyForGroup(ctx context.Context, d *pb.GroupDescriptor, fn func(ctx context.Context, node uint64) error) error {
	return retry(ctx, func() error {
		var last error
		for _, node := range n.leaderCandidates(d) {
			err := fn(ctx, node)
			if err == nil || !retryable(err) {
				return err
			}
			if re := routingError(err); re != nil && re.LeaderNode != 0 {
				n.ranges.setLeader(d.GroupId, re.LeaderNode)
				return err
			}
			last = err
		}
		return last
	})
}

func (a adminService) Status(ctx context.Context, req *pb.StatusRequest) (*pb.StatusResponse, error) {
	h := a.n.Host()
	if h == nil {
		return &pb.StatusResponse{}, nil
	}
	local := a.n.localStatus()
	if req.LocalOnly {
		return local, nil
	}
	return a.n.clusterStatus(ctx, local), nil
}

func (n *Node) localStatus() *pb.StatusResponse {
	h := n.Host()
	n.mu.Lock()
	cid, id := n.mu.clusterID, n.mu.nodeID
	n.mu.Unlock()
	out := &pb.StatusResponse{ClusterId: cid, NodeId: id}
	self, _ := h.Node(id)
	out.Nodes = append(out.Nodes, &pb.NodeStatus{Node: self, Live: true, LastHeartbeatUnixNanos: time.Now().UnixNano(),
		Clock: clockStatus(n.clock.Status())})
	for _, g := range h.Status() {
		out.Groups = append(out.Groups, &pb.GroupStatus{
			Descriptor_: g.Descriptor, LeaderReplica: g.LeaderID, LeaderNode: g.LeaderNode,
			AppliedIndex: g.AppliedIndex, CommitIndex: g.CommitIndex, Term: g.Term,
			LeaseValid: g.LeaseValid, ReportingNode: id,
		})
	}
	return out
}

// clusterStatus asks every known node for its local view and merges: a
// node is live if it answered; a group is described by its leader's
// report when there is one.
func (n *Node) clusterStatus(ctx context.Context, local *pb.StatusResponse) *pb.StatusResponse {
	h := n.Host()
	nodes := h.Nodes()
	out := &pb.StatusResponse{ClusterId: local.ClusterId, NodeId: local.NodeId}
	reports := make([]*pb.StatusResponse, len(nodes))
	var wg sync.WaitGroup
	for i, nd := range nodes {
		if nd.NodeId == local.NodeId {
			reports[i] = local
			continue
		}
		wg.Add(1)
		go func(i int, nd *pb.NodeDescriptor) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			cl, err := n.adminClient(nd.NodeId)
			if err != nil {
				return
			}
			if r, err := cl.Status(cctx, &pb.StatusRequest{LocalOnly: true}); err == nil {
				reports[i] = r
			}
		}(i, nd)
	}
	wg.Wait()
	groups := map[uint64]*pb.GroupStatus{}
	for i, nd := range nodes {
		r := reports[i]
		ns := &pb.NodeStatus{Node: nd, Live: r != nil}
		if _, t := h.IsLive(nd.NodeId); !t.IsZero() {
			ns.LastHeartbeatUnixNanos = t.UnixNano()
		}
		if r == nil {
			ns.Error = "unreachable"
		} else if len(r.Nodes) > 0 {
			ns.Clock = r.Nodes[0].Clock
		}
		out.Nodes = append(out.Nodes, ns)
		if r == nil {
			continue
		}
		for _, g := range r.Groups {
			cur, ok := groups[g.Descriptor_.GroupId]
			better := !ok || (g.LeaderNode == g.ReportingNode && cur.LeaderNode != cur.ReportingNode) ||
				(g.Descriptor_.Generation > cur.Descriptor_.Generation) ||
				(g.LeaderNode == g.ReportingNode) == (cur.LeaderNode == cur.ReportingNode) && g.AppliedIndex > cur.AppliedIndex
			if better {
				groups[g.Descriptor_.GroupId] = g
			}
		}
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, g)
	}
	sort.Slice(out.Groups, func(i, j int) bool {
		return string(out.Groups[i].Descriptor_.StartKey) < string(out.Groups[j].Descriptor_.StartKey)
	})
	return out
}

// raftProxy serves the Raft transport once the host exists.
type raftProxy struct {
	pb.UnimplementedRaftServer
	n *Node
}

func (p raftProxy) RaftStream(s pb.Raft_RaftStreamServer) error {
	h := p.n.Host()
	if h == nil {
		return status.Error(codes.Unavailable, errNotReady.Error())
	}
	return h.RaftServer().RaftStream(s)
}

func (p raftProxy) Snapshot(s pb.Raft_SnapshotServer) error {
	h := p.n.Host()
	if h == nil {
		return status.Error(codes.Unavailable, errNotReady.Error())
	}
	return h.RaftServer().Snapshot(s)
}

func clockStatus(s truetime.Status) *pb.ClockStatus {
	out := &pb.ClockStatus{EpsilonNanos: int64(s.Epsilon), OffsetNanos: int64(s.Offset),
		LastSyncUnixNanos: s.LastSync, Fenced: s.Fenced}
	for _, src := range s.Sources {
		state := "ok"
		switch {
		case !src.Reachable:
			state = "unreachable"
		case src.Outvoted:
			state = "outvoted"
		}
		if src.LastError != "" && !src.Reachable {
			state += ": " + src.LastError
		}
		out.Sources = append(out.Sources, &pb.ClockSource{Address: src.Address, Healthy: src.Reachable && !src.Outvoted,
			OffsetNanos: int64(src.LastOffset), RttNanos: int64(src.LastRTT), State: state})
	}
	return out
}
