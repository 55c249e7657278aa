package txn

import (
	"context"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc"
)

// LocalClient returns a pb.TxnClient that calls s directly: a node reaches
// its own transaction service without a network round trip.
func LocalClient(s pb.TxnServer) pb.TxnClient { return localClient{s} }

type localClient struct{ s pb.TxnServer }

func (c localClient) Read(ctx context.Context, in *pb.TxnReadRequest, _ ...grpc.CallOption) (*pb.TxnReadResponse, error) {
	return c.s.Read(ctx, in)
}
func (c localClient) SnapshotRead(ctx context.Context, in *pb.SnapshotReadRequest, _ ...grpc.CallOption) (*pb.SnapshotReadResponse, error) {
	return c.s.SnapshotRead(ctx, in)
}
func (c localClient) SnapshotReadMany(ctx context.Context, in *pb.SnapshotReadManyRequest, _ ...grpc.CallOption) (*pb.SnapshotReadManyResponse, error) {
	return c.s.SnapshotReadMany(ctx, in)
}
func (c localClient) CloseMany(ctx context.Context, in *pb.CloseManyRequest, _ ...grpc.CallOption) (*pb.CloseManyResponse, error) {
	return c.s.CloseMany(ctx, in)
}
func (c localClient) Prepare(ctx context.Context, in *pb.TxnPrepareRequest, _ ...grpc.CallOption) (*pb.TxnPrepareResponse, error) {
	return c.s.Prepare(ctx, in)
}
func (c localClient) Decide(ctx context.Context, in *pb.TxnDecideRequest, _ ...grpc.CallOption) (*pb.TxnDecideResponse, error) {
	return c.s.Decide(ctx, in)
}
func (c localClient) CommitOnePhase(ctx context.Context, in *pb.TxnOnePhaseRequest, _ ...grpc.CallOption) (*pb.TxnDecideResponse, error) {
	return c.s.CommitOnePhase(ctx, in)
}
func (c localClient) Vote(ctx context.Context, in *pb.TxnVoteRequest, _ ...grpc.CallOption) (*pb.TxnVoteResponse, error) {
	return c.s.Vote(ctx, in)
}
func (c localClient) Release(ctx context.Context, in *pb.TxnReleaseRequest, _ ...grpc.CallOption) (*pb.TxnReleaseResponse, error) {
	return c.s.Release(ctx, in)
}
func (c localClient) Resolve(ctx context.Context, in *pb.TxnResolveRequest, _ ...grpc.CallOption) (*pb.TxnResolveResponse, error) {
	return c.s.Resolve(ctx, in)
}
func (c localClient) Inquire(ctx context.Context, in *pb.TxnInquireRequest, _ ...grpc.CallOption) (*pb.TxnResolveRequest, error) {
	return c.s.Inquire(ctx, in)
}
func (c localClient) Close(ctx context.Context, in *pb.CloseRequest, _ ...grpc.CallOption) (*pb.ClosedTimestamp, error) {
	return c.s.Close(ctx, in)
}
func (c localClient) PublishClosed(ctx context.Context, in *pb.PublishClosedRequest, _ ...grpc.CallOption) (*pb.PublishClosedResponse, error) {
	return c.s.PublishClosed(ctx, in)
}
