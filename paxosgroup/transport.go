package paxosgroup

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/netsim"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// transportHandler is what the transport needs from its host.
type transportHandler interface {
	// handleBatch processes an inbound batch and returns acknowledgements
	// for its heartbeats.
	handleBatch(b *pb.RaftBatch) []*pb.HeartbeatAck
	// handleAcks processes acknowledgements returned by a peer.
	handleAcks(from uint64, acks []*pb.HeartbeatAck)
	// receiveSnapshot takes a whole streamed snapshot.
	receiveSnapshot(h *pb.SnapshotHeader, keys, values [][]byte) error
	// peerUnreachable tells the groups that messages to node were lost.
	peerUnreachable(node uint64)
}

// transport keeps one long-lived outbound gRPC stream per peer node. Raft
// messages of every group bound for that peer are queued and sent in
// batches: whatever accumulated while the previous send was in flight goes
// in the next one, so batches grow with load and latency stays low when
// idle. Snapshots use their own streaming RPC so that a large one never
// delays heartbeats.
//
// With a simulated network (Options.Network, or fault knobs), each queued
// message carries the time the network lets it arrive: the peer's sender
// takes only what is due, and one timer per peer wakes it for the next
// due message. The delay is applied on the sending node (for heartbeat
// acknowledgements, which ride back on the same stream, on the node that
// receives them), so the receiving side of a stream is unchanged. Without
// a network the queue carries no times and no timer exists.
type transport struct {
	pb.UnimplementedRaftServer

	nodeID  uint64
	handler transportHandler
	resolve func(node uint64) (string, bool)
	dialOps []grpc.DialOption
	faults  *Faults
	net     *netsim.Network // nil: no simulation, at the cost of nil checks
	logger  *slog.Logger
	// regions maps node IDs to regions for the simulated network. It is
	// learnt from the node lists that outgoing heartbeats carry, because
	// messages are sent under replica locks, which must not wait for the
	// host's node directory (lock order: Host.mu before replica.mu).
	regions atomic.Pointer[map[uint64]string]

	mu struct {
		sync.Mutex
		peers  map[uint64]*peer
		closed bool
	}
	stopper chan struct{}
	wg      sync.WaitGroup
}

func newTransport(nodeID uint64, h transportHandler, resolve func(uint64) (string, bool), opts *Options) *transport {
	t := &transport{
		nodeID:  nodeID,
		handler: h,
		resolve: resolve,
		dialOps: opts.DialOptions,
		net:     opts.Network,
		logger:  opts.Logger,
		stopper: make(chan struct{}),
	}
	// The fault knob overrides the network's faults, so a test cluster can
	// share a latency matrix and still partition only its own nodes.
	if f := opts.TestingKnobs.Faults; f != nil {
		if t.net == nil {
			t.net = netsim.New(netsim.Options{Faults: f})
		} else {
			t.net = t.net.WithFaults(f)
		}
	}
	if t.net != nil {
		t.faults = t.net.Faults()
	}
	if len(t.dialOps) == 0 {
		t.dialOps = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	t.dialOps = append(pb.WindowDialOptions(), t.dialOps...)
	t.mu.peers = make(map[uint64]*peer)
	return t
}

// peer is the outbound side of one node pair.
type peer struct {
	t      *transport
	nodeID uint64
	notify chan struct{}

	mu struct {
		sync.Mutex
		msgs       []*pb.RaftEnvelope
		heartbeats []*pb.Heartbeat
		conn       *grpc.ClientConn
		addr       string

		// Only with a simulated network.
		sim simQueue
	}
}

// simQueue holds what the simulated network has not delivered yet. msgDue
// and hbDue run parallel to peer.mu.msgs and peer.mu.heartbeats and never
// decrease, so what is due is a prefix. Heartbeats queue instead of
// replacing each other: with a one-way delay longer than the heartbeat
// interval, replacing would postpone every heartbeat forever.
type simQueue struct {
	out, back *netsim.Path // to the peer, and back (acks); nil until used
	msgDue    []time.Time
	hbDue     []time.Time
	acks      []heldAcks
	timer     netsim.Timer // wakes the sender at timerAt
	timerAt   time.Time
}

type heldAcks struct {
	due  time.Time
	acks []*pb.HeartbeatAck
}

// maxQueued bounds what waits for a peer that cannot be reached: Raft
// retransmits, so dropping is safe and keeps memory bounded.
const maxQueued = 10000

func (t *transport) peer(node uint64) *peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return nil
	}
	p, ok := t.mu.peers[node]
	if !ok {
		p = &peer{t: t, nodeID: node, notify: make(chan struct{}, 1)}
		t.mu.peers[node] = p
		t.wg.Add(1)
		go p.run()
	}
	return p
}

// send queues a Raft message for node.
func (t *transport) send(node uint64, env *pb.RaftEnvelope) {
	if t.faults.Blocked(t.nodeID, node) {
		return
	}
	p := t.peer(node)
	if p == nil {
		return
	}
	p.mu.Lock()
	if len(p.mu.msgs) < maxQueued {
		if t.net == nil {
			p.mu.msgs = append(p.mu.msgs, env)
		} else if due, lost := p.scheduleLocked(&p.mu.sim.msgDue); !lost {
			p.mu.msgs = append(p.mu.msgs, env)
			p.mu.sim.msgDue = append(p.mu.sim.msgDue, due)
		}
	}
	p.mu.Unlock()
	p.wake()
}

// sendHeartbeat queues a liveness heartbeat for node.
func (t *transport) sendHeartbeat(node uint64, hb *pb.Heartbeat) {
	if t.faults.Blocked(t.nodeID, node) {
		return
	}
	p := t.peer(node)
	if p == nil {
		return
	}
	if t.net != nil {
		t.learnRegions(hb.Sender, hb.Nodes)
	}
	p.mu.Lock()
	switch {
	case t.net == nil:
		// Only the newest heartbeat matters.
		p.mu.heartbeats = append(p.mu.heartbeats[:0], hb)
	default:
		// Of the heartbeats already due, only the newest will be sent.
		q := &p.mu.sim
		now := p.t.net.Clock().Now()
		if n := sort.Search(len(q.hbDue), func(i int) bool { return q.hbDue[i].After(now) }); n > 1 {
			p.mu.heartbeats, q.hbDue = p.mu.heartbeats[n-1:], q.hbDue[n-1:]
		}
		if due, lost := p.scheduleLocked(&q.hbDue); !lost && len(q.hbDue) < maxQueued {
			p.mu.heartbeats = append(p.mu.heartbeats, hb)
			q.hbDue = append(q.hbDue, due)
		}
	}
	p.mu.Unlock()
	p.wake()
}

// learnRegions records the regions of the nodes a heartbeat describes,
// copying the map only when one changed (rarely: regions are fixed, nodes
// come and go).
func (t *transport) learnRegions(sender *pb.NodeDescriptor, nodes []*pb.NodeDescriptor) {
	cur := t.regions.Load()
	var next map[uint64]string
	learn := func(n *pb.NodeDescriptor) {
		if n.GetNodeId() == 0 || n.GetRegion() == "" || (cur != nil && (*cur)[n.NodeId] == n.Region) {
			return
		}
		if next == nil {
			next = make(map[uint64]string)
			if cur != nil {
				maps.Copy(next, *cur)
			}
		}
		next[n.NodeId] = n.Region
	}
	learn(sender)
	for _, n := range nodes {
		learn(n)
	}
	if next != nil {
		t.regions.Store(&next)
	}
}

// endpoints places this node and node for the simulated network; a node
// whose region is not known yet (before the first heartbeat) is in no
// region: no latency.
func (t *transport) endpoints(node uint64) (self, peer netsim.Endpoint) {
	self, peer = netsim.Endpoint{Node: t.nodeID}, netsim.Endpoint{Node: node}
	if m := t.regions.Load(); m != nil {
		self.Region, peer.Region = (*m)[t.nodeID], (*m)[node]
	}
	return self, peer
}

// pathsLocked returns the paths to the peer and back, (re)made while a
// region is unknown: a peer can be sent to before its descriptor arrives.
func (p *peer) pathsLocked() (out, back *netsim.Path) {
	q := &p.mu.sim
	if q.out == nil || q.out.From().Region == "" || q.out.To().Region == "" {
		self, peer := p.t.endpoints(p.nodeID)
		if q.out == nil || self != q.out.From() || peer != q.out.To() {
			q.out, q.back = p.t.net.NewPath(self, peer), p.t.net.NewPath(peer, self)
		}
	}
	return q.out, q.back
}

// scheduleLocked asks the network when a message sent now reaches the
// peer; due is the queue it will join, whose order it must keep (a path
// made anew when a region became known starts its own order).
func (p *peer) scheduleLocked(due *[]time.Time) (time.Time, bool) {
	out, _ := p.pathsLocked()
	at, lost := out.Schedule(out.Clock().Now())
	if n := len(*due); !lost && n > 0 && at.Before((*due)[n-1]) {
		at = (*due)[n-1]
	}
	return at, lost
}

// holdAcks keeps acknowledgements that just arrived until the trip back
// from the peer is over; the sender loop delivers them.
func (p *peer) holdAcks(acks []*pb.HeartbeatAck) {
	if len(acks) == 0 {
		return
	}
	p.mu.Lock()
	_, back := p.pathsLocked()
	at, lost := back.Schedule(back.Clock().Now())
	if !lost {
		p.mu.sim.acks = append(p.mu.sim.acks, heldAcks{due: at, acks: acks})
	}
	p.mu.Unlock()
	p.wake()
}

// dueAcks removes and returns the held acknowledgements that are due.
func (p *peer) dueAcks() []heldAcks {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := &p.mu.sim
	now := p.t.net.Clock().Now()
	n := sort.Search(len(q.acks), func(i int) bool { return q.acks[i].due.After(now) })
	due := q.acks[:n:n]
	q.acks = q.acks[n:]
	p.armLocked(now)
	return due
}

// armLocked makes sure the sender wakes when the earliest held item is
// due. One timer per peer, re-armed only when something falls due earlier.
func (p *peer) armLocked(now time.Time) {
	q := &p.mu.sim
	var next time.Time
	for _, d := range []*[]time.Time{&q.msgDue, &q.hbDue} {
		if len(*d) > 0 && (next.IsZero() || (*d)[0].Before(next)) {
			next = (*d)[0]
		}
	}
	if len(q.acks) > 0 && (next.IsZero() || q.acks[0].due.Before(next)) {
		next = q.acks[0].due
	}
	// What is due already needs no timer: whoever queued it woke the
	// sender, which takes it next.
	if !next.After(now) || (q.timer != nil && !q.timerAt.After(next)) {
		return
	}
	if q.timer != nil {
		q.timer.Stop()
	}
	q.timerAt = next
	q.timer = p.t.net.Clock().AfterFunc(next.Sub(now), func() {
		p.mu.Lock()
		if q.timerAt.Equal(next) {
			q.timer = nil
		}
		p.mu.Unlock()
		p.wake()
	})
}

// stopTimerLocked cancels the sender's wake-up.
func (p *peer) stopTimerLocked() {
	if q := &p.mu.sim; q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
}

func (p *peer) wake() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

func (p *peer) take() (*pb.RaftBatch, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.t.net != nil {
		return p.takeDueLocked()
	}
	if len(p.mu.msgs) == 0 && len(p.mu.heartbeats) == 0 {
		return nil, false
	}
	b := &pb.RaftBatch{FromNode: p.t.nodeID, ToNode: p.nodeID, Messages: p.mu.msgs, Heartbeats: p.mu.heartbeats}
	p.mu.msgs = nil
	p.mu.heartbeats = nil
	return b, true
}

// takeDueLocked batches what the simulated network delivers by now: the
// due messages in order, and the newest due heartbeat.
func (p *peer) takeDueLocked() (*pb.RaftBatch, bool) {
	q := &p.mu.sim
	now := p.t.net.Clock().Now()
	nm := sort.Search(len(q.msgDue), func(i int) bool { return q.msgDue[i].After(now) })
	nh := sort.Search(len(q.hbDue), func(i int) bool { return q.hbDue[i].After(now) })
	var b *pb.RaftBatch
	if nm > 0 || nh > 0 {
		b = &pb.RaftBatch{FromNode: p.t.nodeID, ToNode: p.nodeID, Messages: p.mu.msgs[:nm:nm]}
		if nh > 0 {
			b.Heartbeats = []*pb.Heartbeat{p.mu.heartbeats[nh-1]}
		}
		p.mu.msgs, q.msgDue = p.mu.msgs[nm:], q.msgDue[nm:]
		p.mu.heartbeats, q.hbDue = p.mu.heartbeats[nh:], q.hbDue[nh:]
	}
	p.armLocked(now)
	return b, b != nil
}

func (p *peer) discard() {
	p.mu.Lock()
	p.mu.msgs = nil
	p.mu.heartbeats = nil
	if p.t.net != nil {
		p.stopTimerLocked()
		q := &p.mu.sim
		q.msgDue, q.hbDue, q.acks = nil, nil, nil
	}
	p.mu.Unlock()
}

// conn returns a client connection to the peer's current address.
func (p *peer) conn() (*grpc.ClientConn, error) {
	addr, ok := p.t.resolve(p.nodeID)
	if !ok {
		return nil, errors.Newf("paxosgroup: no address known for node %d", p.nodeID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.conn != nil && p.mu.addr == addr {
		return p.mu.conn, nil
	}
	if p.mu.conn != nil {
		_ = p.mu.conn.Close()
	}
	c, err := grpc.NewClient(addr, p.t.dialOps...)
	if err != nil {
		return nil, err
	}
	p.mu.conn, p.mu.addr = c, addr
	return c, nil
}

// run keeps a stream open and drains the queue into it until the
// transport stops.
func (p *peer) run() {
	defer p.t.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-p.t.stopper:
			p.mu.Lock()
			if p.mu.conn != nil {
				_ = p.mu.conn.Close()
			}
			if p.t.net != nil {
				p.stopTimerLocked()
			}
			p.mu.Unlock()
			return
		default:
		}
		err := p.stream()
		if err == nil {
			return
		}
		// Messages queued while the peer is unreachable are stale by the
		// time it is back; Raft resends what matters.
		p.discard()
		p.t.handler.peerUnreachable(p.nodeID)
		p.t.logger.Debug("raft stream to peer failed", "peer", p.nodeID, "err", err.Error())
		select {
		case <-p.t.stopper:
		case <-time.After(backoff):
		}
		if backoff < time.Second {
			backoff *= 2
		}
	}
}

// stream sends batches on one stream until it breaks (error) or the
// transport stops (nil).
func (p *peer) stream() error {
	conn, err := p.conn()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := pb.NewRaftClient(conn).RaftStream(ctx)
	if err != nil {
		return err
	}
	recvErr := make(chan error, 1)
	go func() {
		for {
			b, err := s.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if p.t.faults.Blocked(b.FromNode, p.t.nodeID) {
				continue
			}
			if p.t.net != nil {
				p.holdAcks(b.Acks)
				continue
			}
			p.t.handler.handleAcks(p.nodeID, b.Acks)
		}
	}()
	for {
		select {
		case <-p.t.stopper:
			_ = s.CloseSend()
			return nil
		case err := <-recvErr:
			return err
		case <-p.notify:
		}
		if p.t.net != nil {
			for _, h := range p.dueAcks() {
				p.t.handler.handleAcks(p.nodeID, h.acks)
			}
		}
		for {
			b, ok := p.take()
			if !ok {
				break
			}
			if err := s.Send(b); err != nil {
				return err
			}
		}
	}
}

// RaftStream implements pb.RaftServer: the inbound side of a peer's stream.
// It ends when the peer closes it or the gRPC server stops.
func (t *transport) RaftStream(s pb.Raft_RaftStreamServer) error {
	for {
		b, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if b.ToNode != t.nodeID {
			return errors.Newf("paxosgroup: batch for node %d reached node %d", b.ToNode, t.nodeID)
		}
		if t.faults.Blocked(b.FromNode, t.nodeID) {
			continue
		}
		acks := t.handler.handleBatch(b)
		if len(acks) > 0 {
			if err := s.Send(&pb.RaftBatch{FromNode: t.nodeID, ToNode: b.FromNode, Acks: acks}); err != nil {
				return err
			}
		}
	}
}

// snapshotChunkRecords bounds one chunk of a streamed snapshot.
const snapshotChunkBytes = 1 << 20

// sendSnapshot streams a snapshot: the header, then the span's records
// produced by export, in chunks. A simulated network holds it for the trip
// there before sending and for the trip back after the answer: snapshots
// are rare and have a goroutine of their own, so waiting in it stalls
// nothing else.
func (t *transport) sendSnapshot(ctx context.Context, node uint64, h *pb.SnapshotHeader,
	export func(fn func(k, v []byte) error) error) error {
	if t.net == nil {
		return t.streamSnapshot(ctx, node, h, export)
	}
	self, peer := t.endpoints(node)
	return t.net.Exchange(ctx, self, peer, func() error { return t.streamSnapshot(ctx, node, h, export) })
}

func (t *transport) streamSnapshot(ctx context.Context, node uint64, h *pb.SnapshotHeader,
	export func(fn func(k, v []byte) error) error) error {
	p := t.peer(node)
	if p == nil {
		return errors.New("paxosgroup: transport closed")
	}
	conn, err := p.conn()
	if err != nil {
		return err
	}
	s, err := pb.NewRaftClient(conn).Snapshot(ctx)
	if err != nil {
		return err
	}
	chunk := &pb.SnapshotChunk{Header: h}
	size := 0
	err = export(func(k, v []byte) error {
		chunk.Keys = append(chunk.Keys, append([]byte(nil), k...))
		chunk.Values = append(chunk.Values, append([]byte(nil), v...))
		size += len(k) + len(v)
		if size < snapshotChunkBytes {
			return nil
		}
		if err := s.Send(chunk); err != nil {
			return err
		}
		chunk, size = &pb.SnapshotChunk{}, 0
		return nil
	})
	if err != nil {
		return err
	}
	chunk.Final = true
	if err := s.Send(chunk); err != nil {
		return err
	}
	_, err = s.CloseAndRecv()
	return err
}

// Snapshot implements pb.RaftServer: receives a whole snapshot, then hands
// it to the host.
func (t *transport) Snapshot(s pb.Raft_SnapshotServer) error {
	var h *pb.SnapshotHeader
	var keys, values [][]byte
	for {
		c, err := s.Recv()
		if err != nil {
			return err
		}
		if h == nil {
			if c.Header == nil {
				return errors.New("paxosgroup: snapshot stream without header")
			}
			h = c.Header
		}
		if len(c.Keys) != len(c.Values) {
			return errors.New("paxosgroup: snapshot chunk with mismatched keys and values")
		}
		keys = append(keys, c.Keys...)
		values = append(values, c.Values...)
		if c.Final {
			break
		}
	}
	if t.faults.Blocked(h.FromNode, t.nodeID) {
		return errors.New("paxosgroup: snapshot dropped by fault injection")
	}
	if err := t.handler.receiveSnapshot(h, keys, values); err != nil {
		return err
	}
	return s.SendAndClose(&pb.SnapshotResponse{})
}

func (t *transport) close() {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		return
	}
	t.mu.closed = true
	t.mu.Unlock()
	close(t.stopper)
	t.wg.Wait()
}

// Faults injects transport-level failures for tests: one-way or two-way
// partitions between nodes, seeded random loss and extra delay (see
// netsim.Faults). A nil *Faults injects nothing.
type Faults = netsim.Faults
