package txn

import (
	"context"
	"testing"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// hintRouter is a Router whose cache names a former leader: node 1
// refuses with a hint to node 2, which answers.
type hintRouter struct {
	leader uint64
	desc   *pb.GroupDescriptor
}

func (r *hintRouter) LookupKey(context.Context, []byte) (*pb.GroupDescriptor, error) {
	return r.desc, nil
}
func (r *hintRouter) LookupGroup(context.Context, uint64) (*pb.GroupDescriptor, error) {
	return r.desc, nil
}
func (r *hintRouter) Leader(uint64) uint64                     { return r.leader }
func (r *hintRouter) SetLeader(_, node uint64)                 { r.leader = node }
func (r *hintRouter) Evict(uint64)                             {}
func (r *hintRouter) Insert(*pb.GroupDescriptor)               {}
func (r *hintRouter) Client(node uint64) (pb.TxnClient, error) { return nodeClient{id: node}, nil }
func (r *hintRouter) Self() uint64                             { return 0 }
func (r *hintRouter) Region(uint64) string                     { return "" }

// nodeClient is the client of one node; only its identity is used.
type nodeClient struct {
	pb.TxnClient
	id uint64
}

// TestCallGroupLeaderRemembersTheHintedLeader: after a not-leader refusal
// whose hint led to the node that answered, the cache names that node,
// not the one that refused (which sent every later call through it).
func TestCallGroupLeaderRemembersTheHintedLeader(t *testing.T) {
	r := &hintRouter{leader: 1, desc: &pb.GroupDescriptor{GroupId: 7, Replicas: []*pb.ReplicaDescriptor{
		{NodeId: 1, Type: pb.ReplicaType_VOTER}, {NodeId: 2, Type: pb.ReplicaType_VOTER}}}}
	var calls []uint64
	for range 2 {
		calls = calls[:0]
		err := callGroupLeader(context.Background(), r, 7, nil, func(_ context.Context, cl pb.TxnClient) error {
			node := cl.(nodeClient).id
			calls = append(calls, node)
			if node == 1 {
				st, _ := status.New(codes.FailedPrecondition, "not leader").WithDetails(
					&pb.RoutingError{Reason: pb.RoutingError_NOT_LEADER, LeaderNode: 2})
				return st.Err()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.leader != 2 {
			t.Fatalf("after calls to %v the cached leader is node %d, want 2", calls, r.leader)
		}
	}
	if len(calls) != 1 {
		t.Fatalf("second call went to %v; want node 2 directly", calls)
	}
}
