package server

import (
	"context"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/txn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// txnRouter implements txn.Router with the node's range cache and
// connections.
type txnRouter struct{ n *Node }

var _ txn.Router = txnRouter{}

func (r txnRouter) LookupKey(ctx context.Context, key []byte) (*pb.GroupDescriptor, error) {
	if r.n.Host() == nil {
		return nil, status.Error(codes.Unavailable, errNotReady.Error())
	}
	return r.n.lookup(ctx, key)
}

func (r txnRouter) LookupGroup(ctx context.Context, id uint64) (*pb.GroupDescriptor, error) {
	if d := r.n.ranges.findGroup(id); d != nil {
		return d, nil
	}
	h := r.n.Host()
	if h == nil {
		return nil, status.Error(codes.Unavailable, errNotReady.Error())
	}
	if d, ok := h.Descriptor(id); ok {
		return d, nil
	}
	var d *pb.GroupDescriptor
	err := r.n.callMeta(ctx, func(ctx context.Context, node uint64) error {
		if node == r.n.NodeID() {
			var err error
			d, err = lookupGroupLocal(ctx, h, id)
			return toStatus(err)
		}
		cl, err := r.n.adminClient(node)
		if err != nil {
			return err
		}
		resp, err := cl.RangeLookup(ctx, &pb.RangeLookupRequest{GroupId: id})
		if err != nil {
			return err
		}
		d = resp.Descriptor_
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.n.ranges.insert(d)
	return d, nil
}

// lookupGroupLocal finds a group in the directory at the local meta
// leaseholder.
func lookupGroupLocal(ctx context.Context, h *paxosgroup.Host, id uint64) (*pb.GroupDescriptor, error) {
	ds, _, err := h.Directory(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.GroupId == id {
			return d, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "server: group %d is not in the range directory", id)
}

func (r txnRouter) Leader(groupID uint64) uint64   { return r.n.ranges.leader(groupID) }
func (r txnRouter) SetLeader(groupID, node uint64) { r.n.ranges.setLeader(groupID, node) }
func (r txnRouter) Evict(groupID uint64)           { r.n.ranges.evict(groupID) }
func (r txnRouter) Insert(d *pb.GroupDescriptor)   { r.n.ranges.insert(proto.CloneOf(d)) }
func (r txnRouter) Self() uint64                   { return r.n.NodeID() }

func (r txnRouter) Region(node uint64) string {
	if h := r.n.Host(); h != nil {
		if nd, ok := h.Node(node); ok {
			return nd.Region
		}
	}
	return ""
}

func (r txnRouter) Client(node uint64) (pb.TxnClient, error) {
	if node == r.n.NodeID() {
		if s := r.n.txnServer(); s != nil {
			return txn.LocalClient(s), nil
		}
	}
	cc, err := r.n.nodeConn(node)
	if err != nil {
		return nil, err
	}
	return pb.NewTxnClient(cc), nil
}

// txnProxy serves the transaction service once the node has joined.
type txnProxy struct {
	pb.UnimplementedTxnServer
	n *Node
}

func (n *Node) txnServer() *txn.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.txn
}

// TxnClient returns the node's transaction client (nil before it joined).
func (n *Node) TxnClient() *txn.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.txnClient
}

func (p txnProxy) srv() (*txn.Server, error) {
	if s := p.n.txnServer(); s != nil {
		return s, nil
	}
	return nil, status.Error(codes.Unavailable, errNotReady.Error())
}

func (p txnProxy) Read(ctx context.Context, in *pb.TxnReadRequest) (*pb.TxnReadResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.Read(ctx, in)
}
func (p txnProxy) SnapshotRead(ctx context.Context, in *pb.SnapshotReadRequest) (*pb.SnapshotReadResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.SnapshotRead(ctx, in)
}
func (p txnProxy) SnapshotReadMany(ctx context.Context, in *pb.SnapshotReadManyRequest) (*pb.SnapshotReadManyResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.SnapshotReadMany(ctx, in)
}

func (p txnProxy) CloseMany(ctx context.Context, in *pb.CloseManyRequest) (*pb.CloseManyResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.CloseMany(ctx, in)
}

func (p txnProxy) Prepare(ctx context.Context, in *pb.TxnPrepareRequest) (*pb.TxnPrepareResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.Prepare(ctx, in)
}
func (p txnProxy) Decide(ctx context.Context, in *pb.TxnDecideRequest) (*pb.TxnDecideResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.Decide(ctx, in)
}
func (p txnProxy) CommitOnePhase(ctx context.Context, in *pb.TxnOnePhaseRequest) (*pb.TxnDecideResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.CommitOnePhase(ctx, in)
}
func (p txnProxy) Vote(ctx context.Context, in *pb.TxnVoteRequest) (*pb.TxnVoteResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.Vote(ctx, in)
}
func (p txnProxy) Release(ctx context.Context, in *pb.TxnReleaseRequest) (*pb.TxnReleaseResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.Release(ctx, in)
}
func (p txnProxy) Resolve(ctx context.Context, in *pb.TxnResolveRequest) (*pb.TxnResolveResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.Resolve(ctx, in)
}
func (p txnProxy) Inquire(ctx context.Context, in *pb.TxnInquireRequest) (*pb.TxnResolveRequest, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.Inquire(ctx, in)
}
func (p txnProxy) Close(ctx context.Context, in *pb.CloseRequest) (*pb.ClosedTimestamp, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.Close(ctx, in)
}
func (p txnProxy) PublishClosed(ctx context.Context, in *pb.PublishClosedRequest) (*pb.PublishClosedResponse, error) {
	s, err := p.srv()
	if err != nil {
		return nil, err
	}
	return s.PublishClosed(ctx, in)
}
