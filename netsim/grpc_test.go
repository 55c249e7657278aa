package netsim_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/netsim"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// kv answers Get with the caller's declared region and counts calls.
type kv struct {
	pb.UnimplementedKVServer
	calls atomic.Int32
}

func (s *kv) Get(ctx context.Context, _ *pb.GetRequest) (*pb.GetResponse, error) {
	s.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	var v []byte
	if r := md.Get(netsim.RegionMetadataKey); len(r) > 0 {
		v = []byte(r[0])
	}
	return &pb.GetResponse{Value: v}, nil
}

// serve starts a KV server in region us-east (node 1) behind the network's
// interceptors and returns a client connection made with opts.
func serve(t *testing.T, n *netsim.Network, opts ...grpc.DialOption) (*kv, pb.KVClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(n.ServerOptions("us-east", func() uint64 { return 1 })...)
	impl := &kv{}
	pb.RegisterKVServer(s, impl)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return impl, pb.KVClient(pb.NewKVClient(cc))
}

func waitPending(t *testing.T, c *netsim.ManualClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitPending(ctx, n); err != nil {
		t.Fatalf("waiting for %d pending timers: %v", n, err)
	}
}

// TestUnaryCallPaysRoundTrip: a client in us-west calling a node in us-east
// waits one-way before the handler runs and one-way for the answer.
func TestUnaryCallPaysRoundTrip(t *testing.T) {
	m, err := netsim.ParseLatency("us-east/us-west=64ms")
	if err != nil {
		t.Fatal(err)
	}
	clock := netsim.NewManualClock(epoch)
	n := netsim.New(netsim.Options{Latency: m, Clock: clock})
	impl, cl := serve(t, n, netsim.CallerDialOptions("us-west", nil)...)

	type result struct {
		resp *pb.GetResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := cl.Get(context.Background(), &pb.GetRequest{Key: []byte("k")})
		done <- result{resp, err}
	}()
	waitPending(t, clock, 1) // the request is held
	if impl.calls.Load() != 0 {
		t.Fatal("handler ran before the request's one-way delay")
	}
	clock.Advance(31 * time.Millisecond)
	if impl.calls.Load() != 0 || clock.Pending() != 1 {
		t.Fatal("request released before 32ms")
	}
	clock.Advance(time.Millisecond)
	waitPending(t, clock, 1) // the handler ran; the response is held
	if impl.calls.Load() != 1 {
		t.Fatal("handler did not run once")
	}
	select {
	case <-done:
		t.Fatal("response arrived before its one-way delay")
	default:
	}
	clock.Advance(32 * time.Millisecond)
	r := <-done
	if r.err != nil || string(r.resp.Value) != "us-west" {
		t.Fatalf("Get = %v, %v", r.resp, r.err)
	}
	if got := clock.Now().Sub(epoch); got != 64*time.Millisecond {
		t.Fatalf("call took %s of simulated time, want the 64ms RTT", got)
	}
}

// TestUnaryCallWithinRegionAndUndeclared: a caller in the server's region,
// or one that declares nothing, costs no timer.
func TestUnaryCallWithinRegionAndUndeclared(t *testing.T) {
	m, err := netsim.ParseLatency("us-east/us-west=64ms")
	if err != nil {
		t.Fatal(err)
	}
	clock := netsim.NewManualClock(epoch)
	n := netsim.New(netsim.Options{Latency: m, Clock: clock})
	for _, opts := range [][]grpc.DialOption{netsim.CallerDialOptions("us-east", nil), netsim.CallerDialOptions("", nil), nil} {
		_, cl := serve(t, n, opts...)
		if _, err := cl.Get(context.Background(), &pb.GetRequest{Key: []byte("k")}); err != nil {
			t.Fatal(err)
		}
	}
	if clock.Created() != 0 {
		t.Fatalf("%d timers created for calls that cross no region", clock.Created())
	}
}

// TestUnaryCallFaults: a node's calls to a node it is partitioned from fail
// as Unavailable; clients (node 0) are not touched by node faults.
func TestUnaryCallFaults(t *testing.T) {
	f := netsim.NewFaults(1)
	f.Partition(1, 2)
	n := netsim.New(netsim.Options{Faults: f})
	impl, fromNode2 := serve(t, n, netsim.CallerDialOptions("us-east", func() uint64 { return 2 })...)
	_, err := fromNode2.Get(context.Background(), &pb.GetRequest{Key: []byte("k")})
	if status.Code(err) != codes.Unavailable || impl.calls.Load() != 0 {
		t.Fatalf("partitioned call = %v (handler ran %d times), want Unavailable before the handler", err, impl.calls.Load())
	}
	_, client := serve(t, n, netsim.CallerDialOptions("us-east", nil)...)
	if _, err := client.Get(context.Background(), &pb.GetRequest{Key: []byte("k")}); err != nil {
		t.Fatalf("client call: %v", err)
	}
	f.Heal()
	if _, err := fromNode2.Get(context.Background(), &pb.GetRequest{Key: []byte("k")}); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
}

// fakeStream hands out requests at once and records when each response
// leaves.
type fakeStream struct {
	grpc.ServerStream
	ctx   context.Context
	clock *netsim.ManualClock
	sent  []time.Duration
}

func (s *fakeStream) Context() context.Context { return s.ctx }
func (s *fakeStream) RecvMsg(any) error        { return nil }
func (s *fakeStream) SendMsg(any) error {
	s.sent = append(s.sent, s.clock.Now().Sub(epoch))
	return nil
}

// TestStreamBurstPaysOneTrip: a request, then a burst of three responses,
// costs one round trip in all, not one trip per response.
func TestStreamBurstPaysOneTrip(t *testing.T) {
	m, err := netsim.ParseLatency("us-east/us-west=64ms")
	if err != nil {
		t.Fatal(err)
	}
	clock := netsim.NewManualClock(epoch)
	n := netsim.New(netsim.Options{Latency: m, Clock: clock})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(netsim.RegionMetadataKey, "us-west"))
	fs := &fakeStream{ctx: ctx, clock: clock}
	done := make(chan error, 1)
	go func() {
		done <- n.StreamServerInterceptor("us-east", nil)(nil, fs, &grpc.StreamServerInfo{}, func(_ any, ss grpc.ServerStream) error {
			if err := ss.RecvMsg(nil); err != nil {
				return err
			}
			for range 3 {
				if err := ss.SendMsg(nil); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	waitPending(t, clock, 1)
	clock.Advance(32 * time.Millisecond) // the request arrives
	waitPending(t, clock, 1)
	clock.Advance(32 * time.Millisecond) // the first response arrives
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(fs.sent) != 3 || fs.sent[0] != 64*time.Millisecond || fs.sent[2] != 64*time.Millisecond {
		t.Fatalf("responses left at %v, want all at 64ms", fs.sent)
	}
	if clock.Created() != 2 {
		t.Fatalf("%d timers for one request and a burst, want 2", clock.Created())
	}
}

// TestStreamExchangesEachPayRoundTrip: on a stream used for request and
// response in turn, as a SQL session is, every exchange costs a round trip,
// not only the first.
func TestStreamExchangesEachPayRoundTrip(t *testing.T) {
	m, err := netsim.ParseLatency("us-east/us-west=64ms")
	if err != nil {
		t.Fatal(err)
	}
	clock := netsim.NewManualClock(epoch)
	n := netsim.New(netsim.Options{Latency: m, Clock: clock})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(netsim.RegionMetadataKey, "us-west"))
	fs := &fakeStream{ctx: ctx, clock: clock}
	done := make(chan error, 1)
	go func() {
		done <- n.StreamServerInterceptor("us-east", nil)(nil, fs, &grpc.StreamServerInfo{}, func(_ any, ss grpc.ServerStream) error {
			for range 2 {
				if err := ss.RecvMsg(nil); err != nil {
					return err
				}
				if err := ss.SendMsg(nil); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	for range 4 { // request, response, request, response
		waitPending(t, clock, 1)
		clock.Advance(32 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(fs.sent) != 2 || fs.sent[0] != 64*time.Millisecond || fs.sent[1] != 128*time.Millisecond {
		t.Fatalf("responses left at %v, want 64ms and 128ms", fs.sent)
	}
}
