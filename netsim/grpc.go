package netsim

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys by which a gRPC caller declares where it is. A client
// declares only its region (the driver's ?region=, the shell's --region); a
// node calling another node declares its node ID too, so that node faults
// apply to its calls.
const (
	RegionMetadataKey = "meridian-region"
	NodeMetadataKey   = "meridian-node"
)

// OutgoingContext returns ctx with the caller's region (and node, if
// non-zero) declared for the calls made with it: for clients that cannot
// use CallerDialOptions.
func OutgoingContext(ctx context.Context, region string, node uint64) context.Context {
	if region == "" {
		return ctx
	}
	if node == 0 {
		return metadata.AppendToOutgoingContext(ctx, RegionMetadataKey, region)
	}
	return metadata.AppendToOutgoingContext(ctx, RegionMetadataKey, region, NodeMetadataKey, strconv.FormatUint(node, 10))
}

// CallerDialOptions declare the caller's region on every call of a
// connection. node, if non-nil, returns the caller's node ID at call time
// (a node learns it only when it joins). An empty region returns no
// options: such a caller is not delayed.
func CallerDialOptions(region string, node func() uint64) []grpc.DialOption {
	if region == "" {
		return nil
	}
	declare := func(ctx context.Context) context.Context {
		var id uint64
		if node != nil {
			id = node()
		}
		return OutgoingContext(ctx, region, id)
	}
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any,
			cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(declare(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
			method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(declare(ctx), desc, cc, method, opts...)
		}),
	}
}

// caller reads the endpoint a call declared; ok is false for callers that
// declared nothing, which pass undelayed.
func caller(ctx context.Context) (Endpoint, bool) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return Endpoint{}, false
	}
	r := md.Get(RegionMetadataKey)
	if len(r) == 0 || r[0] == "" {
		return Endpoint{}, false
	}
	e := Endpoint{Region: r[0]}
	if n := md.Get(NodeMetadataKey); len(n) > 0 {
		e.Node, _ = strconv.ParseUint(n[0], 10, 64)
	}
	return e, true
}

// ServerOptions install the interceptors that delay calls from callers
// that declared their region: the server, which knows the matrix and its
// own place, plays the WAN for both directions, so a client needs to know
// only its region. region is the server's region; node, if non-nil,
// returns its node ID (0 until it joins). Install them only when a network
// is configured: without them a call costs nothing. Raft traffic passes
// through undelayed because the paxosgroup transport declares nothing (it
// delays Raft itself): never put CallerDialOptions in its DialOptions.
func (n *Network) ServerOptions(region string, node func() uint64) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(n.UnaryServerInterceptor(region, node)),
		grpc.ChainStreamInterceptor(n.StreamServerInterceptor(region, node)),
	}
}

func self(region string, node func() uint64) Endpoint {
	e := Endpoint{Region: region}
	if node != nil {
		e.Node = node()
	}
	return e
}

// UnaryServerInterceptor delays a declared caller's request by the
// one-way trip to the server before the handler runs, and the response by
// the trip back after it. A lost request fails with Unavailable before the
// handler runs; a lost response fails with Unavailable after it ran (the
// caller cannot tell which: an ambiguous outcome, as on a real network).
func (n *Network) UnaryServerInterceptor(region string, node func() uint64) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		from, ok := caller(ctx)
		if !ok {
			return handler(ctx, req)
		}
		var resp any
		var herr error
		err := n.Exchange(ctx, from, self(region, node), func() error {
			resp, herr = handler(ctx, req)
			return nil
		})
		if err != nil {
			return nil, toStatus(err)
		}
		return resp, herr
	}
}

// toStatus turns the network's failures into what a gRPC caller sees.
func toStatus(err error) error {
	if errors.Is(err, ErrLost) {
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.FromContextError(err).Err()
}

// StreamServerInterceptor delays the messages of a declared caller's
// stream. Each direction is a Path, so messages keep their order. Received
// messages are held until one-way after they were read; sent messages
// until one-way after the handler would have sent them had earlier sends
// not been held (the time held is subtracted), so a burst of sends stays
// pipelined and costs one one-way trip, not one per message. The status
// follows the last message. A lost message breaks the stream with
// Unavailable.
func (n *Network) StreamServerInterceptor(region string, node func() uint64) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		from, ok := caller(ss.Context())
		if !ok {
			return handler(srv, ss)
		}
		to := self(region, node)
		ds := &delayedStream{ServerStream: ss, clock: n.opts.Clock, in: n.NewPath(from, to), out: n.NewPath(to, from)}
		err := handler(srv, ds)
		if werr := ds.hold(ds.out, ds.virtualNow(), "status"); werr != nil {
			return werr
		}
		return err
	}
}

type delayedStream struct {
	grpc.ServerStream
	clock   Clock
	in, out *Path
	mu      sync.Mutex
	held    time.Duration // time SendMsg spent holding messages
}

func (s *delayedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := s.hold(s.in, s.clock.Now(), "message"); err != nil {
		return err
	}
	// The handler waited for the caller, so what it sends next leaves
	// from now: time held on earlier sends no longer runs ahead of it.
	// Otherwise, on a request-response stream (a SQL session), every
	// answer after the first would arrive one-way early.
	s.mu.Lock()
	s.held = 0
	s.mu.Unlock()
	return nil
}

// virtualNow is when the handler would be now had SendMsg not held it.
func (s *delayedStream) virtualNow() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.Now().Add(-s.held)
}

func (s *delayedStream) SendMsg(m any) error {
	start := s.clock.Now()
	if err := s.hold(s.out, s.virtualNow(), "message"); err != nil {
		return err
	}
	s.mu.Lock()
	s.held += s.clock.Now().Sub(start)
	s.mu.Unlock()
	return s.ServerStream.SendMsg(m)
}

// hold waits until the delivery time p schedules for a message that
// entered it at sent.
func (s *delayedStream) hold(p *Path, sent time.Time, what string) error {
	at, lost := p.Schedule(sent)
	if lost {
		return toStatus(lostError("stream "+what, p.from, p.to))
	}
	if err := Sleep(s.Context(), s.clock, at.Sub(s.clock.Now())); err != nil {
		return toStatus(err)
	}
	return nil
}
