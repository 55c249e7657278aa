package paxosgroup

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/netsim"
	"google.golang.org/grpc"
)

// Tests of the simulated WAN in the transport. They drive a
// netsim.ManualClock: a message held by the network can leave only when a
// timer fires, so "not delivered yet" is checked right after the timer is
// armed, and delivery right after the clock passes its deadline.

var wanEpoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// The regions of the test nodes: 1 and 3 in us-east, 2 in us-west, 4 in
// eu-west.
var wanNodes = []*pb.NodeDescriptor{
	{NodeId: 1, Region: "us-east"}, {NodeId: 2, Region: "us-west"},
	{NodeId: 3, Region: "us-east"}, {NodeId: 4, Region: "eu-west"},
}

// recorder is a transportHandler that reports what reaches it and
// acknowledges every heartbeat.
type recorder struct {
	batches chan *pb.RaftBatch
	acks    chan []*pb.HeartbeatAck
	snaps   chan *pb.SnapshotHeader
}

func newRecorder() *recorder {
	return &recorder{batches: make(chan *pb.RaftBatch, 1000), acks: make(chan []*pb.HeartbeatAck, 100), snaps: make(chan *pb.SnapshotHeader, 10)}
}

func (r *recorder) handleBatch(b *pb.RaftBatch) []*pb.HeartbeatAck {
	r.batches <- b
	var acks []*pb.HeartbeatAck
	for _, hb := range b.Heartbeats {
		acks = append(acks, &pb.HeartbeatAck{Seq: hb.Seq})
	}
	return acks
}

func (r *recorder) handleAcks(_ uint64, acks []*pb.HeartbeatAck) { r.acks <- acks }

func (r *recorder) receiveSnapshot(h *pb.SnapshotHeader, _, _ [][]byte) error {
	r.snaps <- h
	return nil
}

func (r *recorder) peerUnreachable(uint64) {}

// wanCluster is a set of transports on loopback gRPC sharing a network.
type wanCluster struct {
	t     *testing.T
	clock *netsim.ManualClock
	mu    sync.Mutex
	addrs map[uint64]string
	trs   map[uint64]*transport
	recs  map[uint64]*recorder
}

func newWANCluster(t *testing.T, latency string, faults *Faults, ids ...uint64) *wanCluster {
	t.Helper()
	m, err := netsim.ParseLatency(latency)
	if err != nil {
		t.Fatal(err)
	}
	c := &wanCluster{t: t, clock: netsim.NewManualClock(wanEpoch), addrs: map[uint64]string{},
		trs: map[uint64]*transport{}, recs: map[uint64]*recorder{}}
	opts := &Options{Network: netsim.New(netsim.Options{Latency: m, Clock: c.clock, Seed: 1}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	opts.TestingKnobs.Faults = faults
	for _, id := range ids {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		tr := newTransport(id, rec, c.resolve, opts)
		tr.learnRegions(nil, wanNodes)
		s := grpc.NewServer()
		pb.RegisterRaftServer(s, tr)
		go func() { _ = s.Serve(lis) }()
		t.Cleanup(func() { tr.close(); s.Stop() })
		c.addrs[id], c.trs[id], c.recs[id] = lis.Addr().String(), tr, rec
	}
	return c
}

func (c *wanCluster) resolve(id uint64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.addrs[id]
	return a, ok
}

func (c *wanCluster) waitPending(n int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.clock.WaitPending(ctx, n); err != nil {
		c.t.Fatalf("waiting for %d pending timers: %v", n, err)
	}
}

func receive[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never arrived", what)
		panic("unreachable")
	}
}

func nothing[T any](t *testing.T, ch chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s arrived early: %v", what, v)
	default:
	}
}

// TestWANDelaysPerDirection: a message takes RTT/2 one way, each direction
// on its own (an extra delay set on one direction only shows it), and none
// within a region, where no timer is ever made.
func TestWANDelaysPerDirection(t *testing.T) {
	f := netsim.NewFaults(1)
	f.SetExtraDelay(2, 1, 10*time.Millisecond)
	c := newWANCluster(t, "us-east/us-west=64ms,us-east/eu-west=88ms,us-west/eu-west=140ms", f, 1, 2, 3)

	// Within us-east: delivered with the clock standing still.
	c.trs[1].send(3, &pb.RaftEnvelope{GroupId: 13})
	if b := receive(t, c.recs[3].batches, "1->3"); b.Messages[0].GroupId != 13 {
		t.Fatalf("1->3 delivered %v", b)
	}
	if n := c.clock.Created(); n != 0 {
		t.Fatalf("%d timers made for traffic within a region", n)
	}

	for _, tc := range []struct {
		from, to uint64
		oneWay   time.Duration
	}{
		{1, 2, 32 * time.Millisecond},
		{2, 1, 42 * time.Millisecond}, // 32ms plus the extra 10ms of 2->1
	} {
		c.trs[tc.from].send(tc.to, &pb.RaftEnvelope{GroupId: tc.from*10 + tc.to})
		c.waitPending(1)
		c.clock.Advance(tc.oneWay - time.Millisecond)
		nothing(t, c.recs[tc.to].batches, "message")
		c.clock.Advance(time.Millisecond)
		if b := receive(t, c.recs[tc.to].batches, "message"); b.Messages[0].GroupId != tc.from*10+tc.to {
			t.Fatalf("%d->%d delivered %v", tc.from, tc.to, b)
		}
	}
}

// TestWANHeartbeatAcksDelayed: a heartbeat pays the trip there, and its
// acknowledgement, which rides back on the same stream, the trip back.
func TestWANHeartbeatAcksDelayed(t *testing.T) {
	c := newWANCluster(t, "us-east/us-west=64ms", nil, 1, 2)
	c.trs[1].sendHeartbeat(2, &pb.Heartbeat{Seq: 7, Sender: wanNodes[0], Nodes: wanNodes})
	c.waitPending(1)
	c.clock.Advance(32 * time.Millisecond)
	if b := receive(t, c.recs[2].batches, "heartbeat"); len(b.Heartbeats) != 1 || b.Heartbeats[0].Seq != 7 {
		t.Fatalf("delivered %v", b)
	}
	c.waitPending(1) // the acknowledgement is held at node 1
	nothing(t, c.recs[1].acks, "ack")
	c.clock.Advance(31 * time.Millisecond)
	nothing(t, c.recs[1].acks, "ack")
	c.clock.Advance(time.Millisecond)
	if acks := receive(t, c.recs[1].acks, "ack"); len(acks) != 1 || acks[0].Seq != 7 {
		t.Fatalf("acks %v", acks)
	}
}

// TestWANSnapshotDelayed: a snapshot is held for the trip there, and its
// sender waits for the trip back.
func TestWANSnapshotDelayed(t *testing.T) {
	c := newWANCluster(t, "us-east/eu-west=88ms", nil, 1, 4)
	done := make(chan error, 1)
	go func() {
		done <- c.trs[1].sendSnapshot(context.Background(), 4, &pb.SnapshotHeader{FromNode: 1, ToNode: 4, GroupId: 9},
			func(fn func(k, v []byte) error) error { return fn([]byte("k"), []byte("v")) })
	}()
	c.waitPending(1)
	c.clock.Advance(43 * time.Millisecond)
	nothing(t, c.recs[4].snaps, "snapshot")
	c.clock.Advance(time.Millisecond)
	if h := receive(t, c.recs[4].snaps, "snapshot"); h.GroupId != 9 {
		t.Fatalf("snapshot %v", h)
	}
	c.waitPending(1)
	nothing(t, done, "snapshot answer")
	c.clock.Advance(44 * time.Millisecond)
	if err := receive(t, done, "snapshot answer"); err != nil {
		t.Fatal(err)
	}
}

// detachedPeer gives a transport a peer without a sending goroutine, so a
// test can call take itself.
func detachedPeer(tr *transport, node uint64) *peer {
	p := &peer{t: tr, nodeID: node, notify: make(chan struct{}, 1)}
	tr.mu.peers[node] = p
	return p
}

// TestWANOrderWithJitter: jitter far larger than the gap between sends
// never reorders a peer's messages, none leaves before the one-way floor,
// and the peer never has more than one timer.
func TestWANOrderWithJitter(t *testing.T) {
	m, err := netsim.ParseLatency("us-east/us-west=20ms~30ms")
	if err != nil {
		t.Fatal(err)
	}
	clock := netsim.NewManualClock(wanEpoch)
	opts := &Options{Network: netsim.New(netsim.Options{Latency: m, Clock: clock, Seed: 3})}
	tr := newTransport(1, newRecorder(), func(uint64) (string, bool) { return "", false }, opts)
	tr.learnRegions(nil, wanNodes)
	p := detachedPeer(tr, 2)

	const n = 300
	sentAt := make(map[uint64]time.Time)
	var got []uint64
	drain := func() {
		for {
			b, ok := p.take()
			if !ok {
				break
			}
			for _, e := range b.Messages {
				if d := clock.Now().Sub(sentAt[e.GroupId]); d < 10*time.Millisecond {
					t.Fatalf("message %d left %s after it was sent, below the 10ms floor", e.GroupId, d)
				}
				got = append(got, e.GroupId)
			}
		}
		if clock.Pending() > 1 {
			t.Fatalf("%d timers pending for one peer", clock.Pending())
		}
	}
	for i := range uint64(n) {
		sentAt[i] = clock.Now()
		tr.send(2, &pb.RaftEnvelope{GroupId: i})
		drain()
		clock.Advance(time.Millisecond)
	}
	for range 60 {
		drain()
		clock.Advance(time.Millisecond)
	}
	drain()
	if len(got) != n {
		t.Fatalf("delivered %d of %d messages", len(got), n)
	}
	for i, id := range got {
		if id != uint64(i) {
			t.Fatalf("message %d delivered in position %d", id, i)
		}
	}
}

// TestWANUnsetIsFree: without a network or faults the transport keeps no
// delivery times and batches everything at once, as before the simulation
// existed; with a fault knob alone, partitions drop as they always did.
func TestWANUnsetIsFree(t *testing.T) {
	tr := newTransport(1, newRecorder(), func(uint64) (string, bool) { return "", false }, &Options{})
	if tr.net != nil || tr.faults != nil {
		t.Fatal("an unset network must leave the transport without simulation")
	}
	p := detachedPeer(tr, 2)
	tr.send(2, &pb.RaftEnvelope{GroupId: 1})
	tr.sendHeartbeat(2, &pb.Heartbeat{Seq: 1})
	tr.sendHeartbeat(2, &pb.Heartbeat{Seq: 2})
	if p.mu.sim.msgDue != nil || p.mu.sim.hbDue != nil || p.mu.sim.out != nil {
		t.Fatal("delivery times kept without a network")
	}
	b, ok := p.take()
	if !ok || len(b.Messages) != 1 || len(b.Heartbeats) != 1 || b.Heartbeats[0].Seq != 2 {
		t.Fatalf("take = %v", b)
	}

	f := &Faults{}
	opts := &Options{}
	opts.TestingKnobs.Faults = f
	tr = newTransport(1, newRecorder(), func(uint64) (string, bool) { return "", false }, opts)
	p = detachedPeer(tr, 2)
	f.Block(1, 2)
	tr.send(2, &pb.RaftEnvelope{GroupId: 1})
	if _, ok := p.take(); ok {
		t.Fatal("a blocked message was queued")
	}
	f.Heal()
	tr.send(2, &pb.RaftEnvelope{GroupId: 2})
	if b, ok := p.take(); !ok || b.Messages[0].GroupId != 2 {
		t.Fatalf("after Heal take = %v", b)
	}
}
