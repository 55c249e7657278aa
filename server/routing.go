package server

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// connCache keeps one client connection per address.
type connCache struct {
	// dialOpts are added to every connection's (the simulated WAN's
	// declaration of this node's region); set by init.
	dialOpts []grpc.DialOption
	mu       sync.Mutex
	conns    map[string]*grpc.ClientConn
}

func (c *connCache) init(dialOpts ...grpc.DialOption) {
	c.dialOpts = dialOpts
	c.conns = make(map[string]*grpc.ClientConn)
}

func (c *connCache) get(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize))},
		append(pb.WindowDialOptions(), c.dialOpts...)...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, err
	}
	c.conns[addr] = cc
	return cc, nil
}

func (c *connCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, cc := range c.conns {
		_ = cc.Close()
		delete(c.conns, a)
	}
}

// rangeCache is the gateway's cache of the range directory and of group
// leaders. Entries are replaced by newer generations and dropped when a
// replica says they are stale.
type rangeCache struct {
	mu      sync.Mutex
	byStart []*pb.GroupDescriptor // sorted by start key, non-overlapping
	leaders map[uint64]uint64
}

func (c *rangeCache) init() { c.leaders = make(map[uint64]uint64) }

func (c *rangeCache) find(key []byte) *pb.GroupDescriptor {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := sort.Search(len(c.byStart), func(i int) bool { return bytes.Compare(c.byStart[i].StartKey, key) > 0 })
	if i == 0 {
		return nil
	}
	if d := c.byStart[i-1]; paxosgroup.ContainsKey(d, key) {
		return d
	}
	return nil
}

// findGroup returns the cached descriptor of a group, by ID.
func (c *rangeCache) findGroup(id uint64) *pb.GroupDescriptor {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.byStart {
		if d.GroupId == id {
			return d
		}
	}
	return nil
}

func (c *rangeCache) insert(d *pb.GroupDescriptor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.byStart[:0]
	for _, o := range c.byStart {
		overlaps := (len(o.EndKey) == 0 || bytes.Compare(d.StartKey, o.EndKey) < 0) &&
			(len(d.EndKey) == 0 || bytes.Compare(o.StartKey, d.EndKey) < 0)
		if overlaps {
			if o.GroupId == d.GroupId && o.Generation > d.Generation {
				return
			}
			continue
		}
		kept = append(kept, o)
	}
	c.byStart = append(kept, d)
	sort.Slice(c.byStart, func(i, j int) bool { return bytes.Compare(c.byStart[i].StartKey, c.byStart[j].StartKey) < 0 })
}

func (c *rangeCache) evict(groupID uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.byStart[:0]
	for _, o := range c.byStart {
		if o.GroupId != groupID {
			kept = append(kept, o)
		}
	}
	c.byStart = kept
	delete(c.leaders, groupID)
}

func (c *rangeCache) leader(groupID uint64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaders[groupID]
}

func (c *rangeCache) setLeader(groupID, node uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if node == 0 {
		delete(c.leaders, groupID)
		return
	}
	c.leaders[groupID] = node
}

// lookup returns the descriptor of the group holding key, from the cache or
// the directory.
func (n *Node) lookup(ctx context.Context, key []byte) (*pb.GroupDescriptor, error) {
	if d := n.ranges.find(key); d != nil {
		return d, nil
	}
	d, err := metaRouter{n}.LookupRange(ctx, key)
	if err != nil {
		return nil, err
	}
	n.ranges.insert(d)
	return d, nil
}

// callMeta calls fn at the meta group's leader, following hints and trying
// every meta replica, until ctx ends.
func (n *Node) callMeta(ctx context.Context, fn func(ctx context.Context, node uint64) error) error {
	h := n.Host()
	if h == nil {
		return status.Error(codes.Unavailable, "server: node has not joined a cluster yet")
	}
	return retry(ctx, func() error {
		meta, hint := h.MetaView()
		cands := []uint64{}
		if l := h.LeaderNode(paxosgroup.MetaGroupID); l != 0 {
			cands = append(cands, l)
		}
		if hint != 0 {
			cands = append(cands, hint)
		}
		for _, r := range meta.GetReplicas() {
			cands = append(cands, r.NodeId)
		}
		if len(cands) == 0 {
			return status.Error(codes.Unavailable, "server: the meta group's replicas are unknown here yet")
		}
		var last error
		tried := map[uint64]bool{}
		for _, c := range cands {
			if tried[c] {
				continue
			}
			tried[c] = true
			err := fn(ctx, c)
			if err == nil || !retryable(err) {
				return err
			}
			if re := routingError(err); re != nil && re.LeaderNode != 0 && !tried[re.LeaderNode] {
				tried[re.LeaderNode] = true
				if err = fn(ctx, re.LeaderNode); err == nil || !retryable(err) {
					return err
				}
			}
			last = err
		}
		return last
	})
}

func (n *Node) adminClient(node uint64) (pb.AdminClient, error) {
	cc, err := n.nodeConn(node)
	if err != nil {
		return nil, err
	}
	return pb.NewAdminClient(cc), nil
}

func (n *Node) kvClient(node uint64) (pb.KVClient, error) {
	cc, err := n.nodeConn(node)
	if err != nil {
		return nil, err
	}
	return pb.NewKVClient(cc), nil
}

func (n *Node) nodeConn(node uint64) (*grpc.ClientConn, error) {
	nd, ok := n.Host().Node(node)
	if !ok {
		return nil, status.Errorf(codes.Unavailable, "server: no address known for node %d", node)
	}
	return n.conns.get(nd.Address)
}

// metaRouter lets the Raft host reach the meta group (splits, directory
// publication).
type metaRouter struct{ n *Node }

func (m metaRouter) ProposeMeta(ctx context.Context, cmd *pb.MetaCommand) (uint64, error) {
	var id uint64
	err := m.n.callMeta(ctx, func(ctx context.Context, node uint64) error {
		if node == m.n.NodeID() {
			var err error
			id, err = m.n.Host().ApplyMeta(ctx, cmd)
			return toStatus(err)
		}
		cl, err := m.n.adminClient(node)
		if err != nil {
			return err
		}
		resp, err := cl.ProposeMeta(ctx, cmd)
		if err != nil {
			return err
		}
		id = resp.FirstId
		return nil
	})
	return id, err
}

// LookupRange reads the directory at the meta leader, bypassing the cache.
func (m metaRouter) LookupRange(ctx context.Context, key []byte) (*pb.GroupDescriptor, error) {
	var d *pb.GroupDescriptor
	err := m.n.callMeta(ctx, func(ctx context.Context, node uint64) error {
		if node == m.n.NodeID() {
			var err error
			d, err = m.n.Host().LookupRange(ctx, key)
			return toStatus(err)
		}
		cl, err := m.n.adminClient(node)
		if err != nil {
			return err
		}
		resp, err := cl.RangeLookup(ctx, &pb.RangeLookupRequest{Key: key})
		if err != nil {
			return err
		}
		d = resp.Descriptor_
		return nil
	})
	return d, err
}

// routeKey runs fn at the leader of the group holding key. fn gets the
// node to call and the routing to send. Not-leader and wrong-range answers
// are followed; an ambiguous result is returned as is, never retried.
//
// A write that reached another node and failed there for any reason other
// than a routing refusal may have been proposed before the failure (a
// leader killed mid-request answers Unavailable): it becomes an ambiguous
// result, never a retry (DESIGN.md invariant 10).
func (n *Node) routeKey(ctx context.Context, key []byte, write bool,
	fn func(ctx context.Context, node uint64, d *pb.GroupDescriptor) error) error {
	if n.Host() == nil {
		return status.Error(codes.Unavailable, "server: node has not joined a cluster yet; run `meridian init` or check --join")
	}
	// Fast path: the cached descriptor and leader answer (almost always),
	// with no retry machinery.
	if d := n.ranges.find(key); d != nil {
		if leader := n.ranges.leader(d.GroupId); leader != 0 {
			err := fn(ctx, leader, d)
			if err == nil {
				return nil
			}
			switch re := routingError(err); {
			case re != nil && re.Reason == pb.RoutingError_NOT_LEADER:
				n.ranges.setLeader(d.GroupId, re.LeaderNode)
			case re != nil:
				n.ranges.evict(d.GroupId)
			case write && leader != n.NodeID() && !notSent(err):
				return ambiguousForward(err)
			case !retryable(err):
				return err
			}
			// A refusal that certainly preceded any proposal: route afresh.
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	return retry(ctx, func() error {
		d, err := n.lookup(ctx, key)
		if err != nil {
			return err
		}
		cands := n.leaderCandidates(d)
		tried := map[uint64]bool{}
		var last error
		for len(cands) > 0 {
			node := cands[0]
			cands = cands[1:]
			if tried[node] {
				continue
			}
			tried[node] = true
			err := fn(ctx, node, d)
			if err == nil {
				n.ranges.setLeader(d.GroupId, node)
				return nil
			}
			re := routingError(err)
			if write && re == nil && node != n.NodeID() && !notSent(err) {
				return ambiguousForward(err)
			}
			switch {
			case re != nil && re.Reason == pb.RoutingError_NOT_LEADER && re.LeaderNode != 0 && !tried[re.LeaderNode]:
				// Follow the hint at once.
				n.ranges.setLeader(d.GroupId, re.LeaderNode)
				cands = append([]uint64{re.LeaderNode}, cands...)
			case re != nil && re.Reason != pb.RoutingError_NOT_LEADER:
				n.ranges.evict(d.GroupId)
				if re.Descriptor_ != nil && re.Reason == pb.RoutingError_WRONG_RANGE {
					n.ranges.insert(proto.CloneOf(re.Descriptor_))
				}
				return err
			case !retryable(err):
				return err
			}
			last = err
		}
		n.ranges.setLeader(d.GroupId, 0)
		if last == nil {
			last = status.Errorf(codes.Unavailable, "server: group %d has no reachable replica", d.GroupId)
		}
		return last
	})
}

// leaderCandidates orders the group's nodes: the cached leader first, then
// this node, then the other voters.
func (n *Node) leaderCandidates(d *pb.GroupDescriptor) []uint64 {
	var out []uint64
	seen := map[uint64]bool{}
	add := func(id uint64) {
		if id != 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	add(n.ranges.leader(d.GroupId))
	if h := n.Host(); h != nil {
		add(h.LeaderNode(d.GroupId))
	}
	for _, r := range d.Replicas {
		if r.Type == pb.ReplicaType_VOTER {
			add(r.NodeId)
		}
	}
	return out
}

var errNotReady = errors.New("server: node has not joined a cluster yet")

// ambiguousForward reports a forwarded write that failed after it may have
// been proposed.
func ambiguousForward(err error) error {
	if IsAmbiguous(err) {
		return err
	}
	return status.Error(codes.Unknown, "ambiguous result: forwarded write failed: "+err.Error())
}

// notSent reports whether a failed call certainly never reached the other
// node: it could not be dialed, or its address is unknown.
func notSent(err error) bool {
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.Unavailable {
		return false
	}
	m := s.Message()
	return strings.Contains(m, "while dialing") || strings.Contains(m, "no address known") ||
		strings.Contains(m, errNotReady.Error())
}
