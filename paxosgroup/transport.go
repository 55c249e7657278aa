package paxosgroup

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
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
type transport struct {
	pb.UnimplementedRaftServer

	nodeID  uint64
	handler transportHandler
	resolve func(node uint64) (string, bool)
	dialOps []grpc.DialOption
	faults  *Faults
	logger  *slog.Logger

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
		faults:  opts.TestingKnobs.Faults,
		logger:  opts.Logger,
		stopper: make(chan struct{}),
	}
	if len(t.dialOps) == 0 {
		t.dialOps = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
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
	}
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
	if t.faults.dropped(t.nodeID, node) {
		return
	}
	p := t.peer(node)
	if p == nil {
		return
	}
	p.mu.Lock()
	if len(p.mu.msgs) < maxQueued {
		p.mu.msgs = append(p.mu.msgs, env)
	}
	p.mu.Unlock()
	p.wake()
}

// sendHeartbeat queues a liveness heartbeat for node.
func (t *transport) sendHeartbeat(node uint64, hb *pb.Heartbeat) {
	if t.faults.dropped(t.nodeID, node) {
		return
	}
	p := t.peer(node)
	if p == nil {
		return
	}
	p.mu.Lock()
	// Only the newest heartbeat matters.
	p.mu.heartbeats = append(p.mu.heartbeats[:0], hb)
	p.mu.Unlock()
	p.wake()
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
	if len(p.mu.msgs) == 0 && len(p.mu.heartbeats) == 0 {
		return nil, false
	}
	b := &pb.RaftBatch{FromNode: p.t.nodeID, ToNode: p.nodeID, Messages: p.mu.msgs, Heartbeats: p.mu.heartbeats}
	p.mu.msgs = nil
	p.mu.heartbeats = nil
	return b, true
}

func (p *peer) discard() {
	p.mu.Lock()
	p.mu.msgs = nil
	p.mu.heartbeats = nil
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
			if p.t.faults.dropped(b.FromNode, p.t.nodeID) {
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
		if t.faults.dropped(b.FromNode, t.nodeID) {
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
// produced by export, in chunks.
func (t *transport) sendSnapshot(ctx context.Context, node uint64, h *pb.SnapshotHeader,
	export func(fn func(k, v []byte) error) error) error {
	if t.faults.dropped(t.nodeID, node) {
		return errors.Newf("paxosgroup: snapshot to node %d dropped by fault injection", node)
	}
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
	if t.faults.dropped(h.FromNode, t.nodeID) {
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
// partitions between nodes. A nil *Faults injects nothing.
type Faults struct {
	mu      sync.Mutex
	blocked map[[2]uint64]bool
}

// Block drops everything sent from node `from` to node `to`.
func (f *Faults) Block(from, to uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blocked == nil {
		f.blocked = make(map[[2]uint64]bool)
	}
	f.blocked[[2]uint64{from, to}] = true
}

// Partition cuts both directions between a and b.
func (f *Faults) Partition(a, b uint64) {
	f.Block(a, b)
	f.Block(b, a)
}

// Isolate cuts node from every node in others.
func (f *Faults) Isolate(node uint64, others ...uint64) {
	for _, o := range others {
		if o != node {
			f.Partition(node, o)
		}
	}
}

// Heal removes every injected fault.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blocked = nil
}

func (f *Faults) dropped(from, to uint64) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked[[2]uint64{from, to}]
}
