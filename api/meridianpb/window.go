package meridianpb

import "google.golang.org/grpc"

// Flow-control windows of Meridian's gRPC connections, set on both ends.
//
// Left to itself, gRPC sizes windows by estimating the bandwidth-delay
// product: whenever data arrives and no estimate is in flight, the
// receiver sends a window update and a ping, and the sender answers the
// ping. For Meridian's small messages in request/response patterns (Raft
// appends and acknowledgements, single-key requests) that is two extra
// socket writes, and wake-ups on both ends, for almost every message
// (strace of a leaseholder under single-client puts: 7.7 writes per put,
// 4.2 with fixed windows). A window that is set turns the estimator off.
//
// 4 MiB per stream and 16 MiB per connection let a stream move 40 MiB/s
// across a 100 ms round trip (a snapshot between regions) and stay within
// what the estimator itself would allow (16 MiB). The windows bound what a
// sender may have in flight; memory is used only for what is sent.
const (
	StreamWindowBytes = 4 << 20
	ConnWindowBytes   = 16 << 20
)

// WindowDialOptions sets a client connection's windows.
func WindowDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithInitialWindowSize(StreamWindowBytes), grpc.WithInitialConnWindowSize(ConnWindowBytes)}
}

// WindowServerOptions sets a server's windows.
func WindowServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.InitialWindowSize(StreamWindowBytes), grpc.InitialConnWindowSize(ConnWindowBytes)}
}
