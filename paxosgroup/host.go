package paxosgroup

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/storage"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// StateMachine applies the user commands of every group on this node. It is
// the boundary between consensus and what is replicated: the transaction
// layer implements it.
type StateMachine interface {
	// Apply stages the effects of one committed command into b. It runs on
	// every replica of the group, in log order, and must be deterministic.
	// ac describes the group at this point of the log: the command must
	// touch only keys in ac.Descriptor's span and should return a
	// *WrongRangeError otherwise. The result and error go to the proposer
	// if it waits on this replica; an error is an outcome, not a failure of
	// the replica. The slices of cmd are valid only during the call.
	Apply(b *storage.Batch, ac *ApplyContext, cmd []byte) (result []byte, err error)
}

// RecordSpanner is implemented by state machines that keep per-group
// records outside the MVCC span (the transaction layer's prepared and
// decision records): the span travels with Raft snapshots and is cleared
// when a replica is removed.
type RecordSpanner interface {
	RecordSpan(groupID uint64) (start, end []byte)
	// CanSplit reports, from the group's replicated records as of this
	// point of the log, whether it may split now (nil) or why not. Records
	// stay with the left-hand group, so a split must not strand records
	// that concern keys moving right (prepared transactions).
	CanSplit(r storage.RecordReader, groupID uint64) error
}

// ApplyContext is the replicated state a command applies against.
type ApplyContext struct {
	Descriptor *pb.GroupDescriptor
	Index      uint64
	// MaxWriteTS is the highest version timestamp the group has written;
	// a state machine that writes versions raises it. It is persisted with
	// the applied index, inherited by both sides of a split and carried by
	// snapshots.
	MaxWriteTS int64
	// StateGen names the lineage of this replica's applied state: it
	// changes whenever the group's state on this node changes other than
	// by applying its commands in order (a replica created or reloaded, a
	// Raft snapshot installed, a failed apply). A state machine may cache
	// what it derives from the group's records under it. Generations are
	// unique within the process.
	StateGen uint64
}

// stateGens issues ApplyContext.StateGen values.
var stateGens atomic.Uint64

// Router lets a host reach the meta group wherever its leader is; the
// server implements it with its client connections.
type Router interface {
	// ProposeMeta runs cmd on the meta group and returns the first ID
	// allocated, if the command allocates.
	ProposeMeta(ctx context.Context, cmd *pb.MetaCommand) (uint64, error)
	// LookupRange reads, at the meta group's leaseholder, the descriptor
	// of the group whose span holds key.
	LookupRange(ctx context.Context, key []byte) (*pb.GroupDescriptor, error)
}

// Host runs the replicas of all groups on one node.
//
// Lock order: Host.mu before replica.mu; replica.inboxMu is a leaf.
type Host struct {
	opts      Options
	engine    *storage.Engine
	sm        StateMachine
	logger    *slog.Logger
	live      *liveness
	transport *transport
	sched     *scheduler
	router    atomic.Pointer[routerBox]
	metrics   *Metrics

	proposalBase uint64
	proposalSeq  atomic.Uint64

	mu struct {
		sync.RWMutex
		replicas   map[uint64]*replica
		nodes      map[uint64]*pb.NodeDescriptor
		meta       *pb.GroupDescriptor
		metaLeader uint64
		tombstones map[uint64]uint64 // group -> highest removed replica ID
		// splitting holds the right-hand groups of splits being applied
		// here: until the split installs them, no message may create a
		// replica for them (its writes would race the split's).
		splitting map[uint64]bool
	}

	outSnaps  snapshotRegistry
	stopper   chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
	changeSem chan struct{}
}

type routerBox struct{ r Router }

// NewHost creates a host; Start loads the replicas found in the engine.
func NewHost(opts Options) (*Host, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	h := &Host{
		opts:         opts,
		engine:       opts.Engine,
		sm:           opts.StateMachine,
		logger:       opts.Logger.With("node", opts.NodeID),
		live:         newLiveness(&opts),
		proposalBase: binary.BigEndian.Uint64(seed[:]),
		stopper:      make(chan struct{}),
		changeSem:    make(chan struct{}, 1),
		metrics:      newMetrics(),
	}
	h.mu.replicas = make(map[uint64]*replica)
	h.mu.nodes = make(map[uint64]*pb.NodeDescriptor)
	h.mu.tombstones = make(map[uint64]uint64)
	h.mu.splitting = make(map[uint64]bool)
	h.transport = newTransport(opts.NodeID, h, h.nodeAddress, &h.opts)
	h.sched = newScheduler(opts.Workers, h.processGroup)
	h.outSnaps.init()
	return h, nil
}

// NodeID is this host's node.
func (h *Host) NodeID() uint64 { return h.opts.NodeID }

// Engine is the node's store.
func (h *Host) Engine() *storage.Engine { return h.engine }

// Metrics returns the host's Prometheus collectors.
func (h *Host) Metrics() *Metrics { return h.metrics }

// SetRouter installs the way to the meta group.
func (h *Host) SetRouter(r Router) { h.router.Store(&routerBox{r}) }

// RegisterGRPC registers the node-to-node Raft service.
func (h *Host) RegisterGRPC(s *grpc.Server) { pb.RegisterRaftServer(s, h.transport) }

// Start loads every replica persisted in the engine and starts the
// scheduler, ticker, heartbeats and maintenance.
func (h *Host) Start() error {
	ids, err := h.engine.Groups()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := h.loadReplica(id); err != nil {
			return errors.Wrapf(err, "paxosgroup: loading group %d", id)
		}
	}
	if err := h.loadTombstones(); err != nil {
		return err
	}
	h.sched.start()
	h.wg.Add(2)
	go h.every(h.opts.TickInterval, h.tick)
	go h.maintenanceLoop()
	return nil
}

// Stop stops processing and closes connections. It does not close the
// engine.
func (h *Host) Stop() {
	h.stopOnce.Do(func() {
		close(h.stopper)
		h.transport.close()
		h.wg.Wait()
		h.sched.stop()
		h.mu.RLock()
		for _, r := range h.mu.replicas {
			r.failProposals(ErrStopped)
		}
		h.mu.RUnlock()
		h.outSnaps.closeAll()
	})
}

func (h *Host) stopped() bool {
	select {
	case <-h.stopper:
		return true
	default:
		return false
	}
}

// ---------------------------------------------------------------------------
// Nodes and the meta group, as gossiped.

// UpdateNodes merges node descriptors into the host's address book.
func (h *Host) UpdateNodes(nodes ...*pb.NodeDescriptor) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range nodes {
		if n.GetNodeId() == 0 {
			continue
		}
		h.mu.nodes[n.NodeId] = proto.Clone(n).(*pb.NodeDescriptor)
	}
}

// Nodes returns the known nodes, by ID.
func (h *Host) Nodes() []*pb.NodeDescriptor {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*pb.NodeDescriptor, 0, len(h.mu.nodes))
	for _, n := range h.mu.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeId < out[j].NodeId })
	return out
}

// Node returns one node's descriptor.
func (h *Host) Node(id uint64) (*pb.NodeDescriptor, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n, ok := h.mu.nodes[id]
	return n, ok
}

func (h *Host) nodeAddress(id uint64) (string, bool) {
	n, ok := h.Node(id)
	if !ok || n.Address == "" {
		return "", false
	}
	return n.Address, true
}

// IsLive reports whether node was heard from recently (this node is always
// live), and when.
func (h *Host) IsLive(node uint64) (bool, time.Time) {
	if node == h.opts.NodeID {
		return true, time.Now()
	}
	return h.live.isLive(node)
}

// observeMeta records a view of the meta group's descriptor and leader,
// keeping the newest generation.
func (h *Host) observeMeta(d *pb.GroupDescriptor, leader uint64) {
	if d == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.meta == nil || d.Generation > h.mu.meta.Generation {
		h.mu.meta = proto.Clone(d).(*pb.GroupDescriptor)
	}
	if leader != 0 && d.Generation >= h.mu.meta.Generation {
		h.mu.metaLeader = leader
	}
}

// MetaView returns the newest known meta descriptor and a leader hint.
func (h *Host) MetaView() (*pb.GroupDescriptor, uint64) {
	if r := h.replica(MetaGroupID); r != nil {
		if d := r.descriptor(); d != nil {
			h.observeMeta(d, r.leaderNode.Load())
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.mu.meta, h.mu.metaLeader
}

// ---------------------------------------------------------------------------
// Replicas.

func (h *Host) replica(groupID uint64) *replica {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.mu.replicas[groupID]
}

// Replicas returns every local replica's group ID.
func (h *Host) groupIDs() []uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ids := make([]uint64, 0, len(h.mu.replicas))
	for id := range h.mu.replicas {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// loadReplica opens the persisted replica of a group.
func (h *Host) loadReplica(groupID uint64) (*replica, error) {
	rs, err := h.engine.RaftStorage(groupID)
	if err != nil {
		return nil, err
	}
	r, err := newReplica(h, groupID, rs)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.mu.replicas[groupID] = r
	h.mu.Unlock()
	return r, nil
}

// getOrCreateReplica returns the local replica of a group, creating an
// uninitialized one when a message names a replica we do not have yet (a
// replica being added, or the right side of a split this node has not
// applied yet). It returns nil for messages to removed replicas.
func (h *Host) getOrCreateReplica(groupID, replicaID uint64) *replica {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r, ok := h.mu.replicas[groupID]; ok {
		return r
	}
	if replicaID == 0 || replicaID <= h.mu.tombstones[groupID] || h.mu.splitting[groupID] || h.stopped() {
		return nil
	}
	rs, err := h.engine.RaftStorage(groupID)
	if err != nil {
		h.logger.Error("creating replica", "group", groupID, "err", err.Error())
		return nil
	}
	r, err := newUninitializedReplica(h, groupID, replicaID, rs)
	if err != nil {
		h.logger.Error("creating replica", "group", groupID, "err", err.Error())
		return nil
	}
	h.mu.replicas[groupID] = r
	return r
}

// ---------------------------------------------------------------------------
// Transport callbacks.

func (h *Host) handleBatch(b *pb.RaftBatch) []*pb.HeartbeatAck {
	var acks []*pb.HeartbeatAck
	for _, hb := range b.Heartbeats {
		if h.engine.Failed() != nil {
			// A node that cannot write must not keep its leaders
			// propped up with support.
			break
		}
		epoch := h.live.onHeartbeat(b.FromNode)
		if hb.Sender != nil {
			h.UpdateNodes(hb.Sender)
		}
		h.UpdateNodes(hb.Nodes...)
		h.observeMeta(hb.Meta, hb.MetaLeaderNode)
		acks = append(acks, &pb.HeartbeatAck{Seq: hb.Seq, Epoch: epoch})
	}
	for _, env := range b.Messages {
		var m raftpb.Message
		if err := proto.Unmarshal(env.Message, &m); err != nil {
			h.logger.Warn("dropping undecodable raft message", "from", b.FromNode, "err", err.Error())
			continue
		}
		h.deliver(env.GroupId, b.FromNode, env.SupportEpoch, &m)
	}
	return acks
}

func (h *Host) handleAcks(from uint64, acks []*pb.HeartbeatAck) {
	for _, a := range acks {
		h.live.onAck(from, a.Seq, a.Epoch)
	}
}

func (h *Host) peerUnreachable(node uint64) {
	for _, r := range h.replicas() {
		r.enqueueUnreachable(node)
	}
}

// deliver hands a Raft message to its replica, with the sender's support
// epoch for this node.
func (h *Host) deliver(groupID, fromNode, epoch uint64, m *raftpb.Message) {
	r := h.getOrCreateReplica(groupID, m.GetTo())
	if r == nil {
		return
	}
	if r.replicaID != m.GetTo() {
		// A message for another incarnation of our replica.
		return
	}
	r.learnPeer(m.GetFrom(), fromNode)
	r.lastHeard.Store(time.Now().UnixNano())
	if !r.isLeader.Load() && r.dropVote(m, fromNode) {
		return
	}
	// A leader keeps a refused vote request: it wakes the leader if it is
	// quiescent (process refuses it again, on Raft's state), whose next
	// heartbeat tells the candidate who leads. Otherwise a replica that
	// restarted while its leader was quiescent campaigns in vain until the
	// group's next write, and cannot serve reads meanwhile.
	transfer := string(m.GetContext()) == campaignTransferContext
	if isVoteRequest(m) {
		// dropVote enforces the lease promise. Raft's own CheckQuorum
		// lease ignores vote requests until the follower's election timer
		// runs out, but followers of a supported leader do not tick, so
		// that timer would never run out: a leader that stepped down and
		// campaigns again would be ignored by followers still supporting
		// its node, and the group would stall (found by the
		// linearizability test after a healed partition). Votes we let
		// through therefore bypass Raft's check, as leadership transfers
		// do.
		m.Context = []byte(campaignTransferContext)
	}
	r.enqueueMessage(inbound{m: m, epoch: epoch, transfer: transfer})
}

// ---------------------------------------------------------------------------
// Ticks and heartbeats.

// every calls fn every interval until the host stops.
func (h *Host) every(interval time.Duration, fn func()) {
	defer h.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-h.stopper:
			return
		case <-t.C:
		}
		fn()
	}
}

// replicas returns the local replicas (a copy, so callers hold no lock).
func (h *Host) replicas() []*replica {
	h.mu.RLock()
	defer h.mu.RUnlock()
	rs := make([]*replica, 0, len(h.mu.replicas))
	for _, r := range h.mu.replicas {
		rs = append(rs, r)
	}
	return rs
}

func (h *Host) tick() {
	h.sendHeartbeats()
	for _, r := range h.replicas() {
		if r.needsTick() {
			r.enqueueTick()
		}
	}
}

func (h *Host) sendHeartbeats() {
	if h.engine.Failed() != nil {
		return
	}
	nodes := h.Nodes()
	self, _ := h.Node(h.opts.NodeID)
	meta, metaLeader := h.MetaView()
	for _, n := range nodes {
		if n.NodeId == h.opts.NodeID {
			continue
		}
		h.transport.sendHeartbeat(n.NodeId, &pb.Heartbeat{
			Seq:                  h.live.nextHeartbeat(n.NodeId),
			SupportDurationNanos: int64(h.opts.SupportDuration),
			Sender:               self,
			Nodes:                nodes,
			Meta:                 meta,
			MetaLeaderNode:       metaLeader,
		})
	}
}

// ---------------------------------------------------------------------------
// Proposals and reads: the API for the layers above.

func (h *Host) nextProposalID() uint64 {
	return h.proposalBase + h.proposalSeq.Add(1)
}

// Propose replicates a state machine command through the group's Raft log
// and returns the state machine's result once this replica applied it.
// It must be called on the leader: elsewhere it returns a NotLeaderError.
// ErrAmbiguousResult means the outcome is unknown.
func (h *Host) Propose(ctx context.Context, groupID uint64, cmd []byte) ([]byte, error) {
	return h.propose(ctx, groupID, &pb.Command{Cmd: &pb.Command_User{User: cmd}})
}

func (h *Host) propose(ctx context.Context, groupID uint64, c *pb.Command) ([]byte, error) {
	r := h.replica(groupID)
	if r == nil {
		return nil, errors.Wrapf(ErrGroupNotFound, "group %d", groupID)
	}
	c.ProposalId = h.nextProposalID()
	data, err := proto.Marshal(c)
	if err != nil {
		return nil, err
	}
	p := &proposal{id: c.ProposalId, data: data, done: make(chan proposalResult, 1), start: time.Now()}
	return r.propose(ctx, p)
}

// ReadFunc reads a group's state at its leaseholder.
type ReadFunc func(desc *pb.GroupDescriptor, r storage.Reader) error

// Read runs fn against the group's state at this replica if it holds the
// lease, so that fn observes every write acknowledged before Read was
// called. Elsewhere it returns a NotLeaderError.
func (h *Host) Read(ctx context.Context, groupID uint64, fn ReadFunc) error {
	r := h.replica(groupID)
	if r == nil {
		return errors.Wrapf(ErrGroupNotFound, "group %d", groupID)
	}
	return r.read(ctx, fn)
}

// Descriptor returns the local replica's descriptor of a group.
func (h *Host) Descriptor(groupID uint64) (*pb.GroupDescriptor, bool) {
	r := h.replica(groupID)
	if r == nil {
		return nil, false
	}
	d := r.descriptor()
	return d, d != nil
}

// LocalGroupForKey returns the local replica's descriptor whose span holds
// key, if this node has one.
func (h *Host) LocalGroupForKey(key []byte) (*pb.GroupDescriptor, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, r := range h.mu.replicas {
		if d := r.descriptor(); d != nil && ContainsKey(d, key) {
			return d, true
		}
	}
	return nil, false
}

// LeaderNode returns the node the local replica believes leads the group.
func (h *Host) LeaderNode(groupID uint64) uint64 {
	if r := h.replica(groupID); r != nil {
		return r.leaderNode.Load()
	}
	return 0
}

// GroupStatus describes a local replica.
type GroupStatus struct {
	Descriptor   *pb.GroupDescriptor
	LeaderNode   uint64
	LeaderID     uint64
	Term         uint64
	AppliedIndex uint64
	CommitIndex  uint64
	LeaseValid   bool
	// Quiesced: an idle leader that stopped ticking (followers of a
	// supported leader never tick).
	Quiesced bool
}

// Status describes every local replica.
func (h *Host) Status() []GroupStatus {
	var out []GroupStatus
	for _, id := range h.groupIDs() {
		if r := h.replica(id); r != nil {
			if s, ok := r.status(); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// recordSpan returns the group's record span, if the state machine keeps
// one.
func (h *Host) recordSpan(groupID uint64) (start, end []byte, ok bool) {
	rs, ok := h.sm.(RecordSpanner)
	if !ok {
		return nil, nil, false
	}
	start, end = rs.RecordSpan(groupID)
	return start, end, true
}

// RaftServer is the node-to-node Raft service, for servers that register
// services before the host exists.
func (h *Host) RaftServer() pb.RaftServer { return h.transport }

// LeaseInfo describes a leaseholder's term, for the transaction layer's
// leader state (lock table, timestamps), which lives as long as one term.
type LeaseInfo struct {
	// Term is the Raft term of this leadership: leader memory built in
	// another term is stale.
	Term uint64
	// MaxWriteTS is the highest version timestamp applied here; every
	// entry of earlier terms is applied before a lease is held.
	MaxWriteTS int64
	Descriptor *pb.GroupDescriptor
}

// Lease waits (briefly, as Read does) until the local replica holds the
// group's lease and describes it; elsewhere it returns a NotLeaderError.
func (h *Host) Lease(ctx context.Context, groupID uint64) (LeaseInfo, error) {
	r := h.replica(groupID)
	if r == nil {
		return LeaseInfo{}, errors.Wrapf(ErrGroupNotFound, "group %d", groupID)
	}
	if !h.opts.TestingKnobs.UnsafeReadsWithoutLease {
		if err := r.waitLease(ctx); err != nil {
			return LeaseInfo{}, err
		}
	} else if r.desc.Load() == nil {
		return LeaseInfo{}, &NotLeaderError{GroupID: groupID}
	}
	return LeaseInfo{Term: r.leaseTerm.Load(), MaxWriteTS: r.maxWriteTS.Load(), Descriptor: r.desc.Load()}, nil
}

// MaxWriteTS returns the largest version timestamp the local replica has
// applied (0 if absent).
func (h *Host) MaxWriteTS(groupID uint64) int64 {
	if r := h.replica(groupID); r != nil {
		return r.maxWriteTS.Load()
	}
	return 0
}

// AppliedIndex returns the local replica's applied index (0 if absent).
func (h *Host) AppliedIndex(groupID uint64) uint64 {
	if r := h.replica(groupID); r != nil {
		return r.appliedIndex.Load()
	}
	return 0
}

// WaitApplied returns once the local replica has applied index, or when
// ctx ends.
func (h *Host) WaitApplied(ctx context.Context, groupID, index uint64) error {
	r := h.replica(groupID)
	if r == nil {
		return errors.Wrapf(ErrGroupNotFound, "group %d", groupID)
	}
	for r.appliedIndex.Load() < index {
		r.mu.Lock()
		changed := r.mu.changed
		r.mu.Unlock()
		if r.appliedIndex.Load() >= index {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return errors.Wrapf(ctx.Err(), "group %d: waiting for index %d (applied %d)", groupID, index, r.appliedIndex.Load())
		case <-h.stopper:
			return ErrStopped
		}
	}
	return nil
}

// LocalReplicaRead runs fn against the local replica's applied state,
// leaseholder or not: the caller has established that this state serves
// its read (a snapshot read below the replica's safe time).
func (h *Host) LocalReplicaRead(groupID uint64, fn ReadFunc) error {
	r := h.replica(groupID)
	if r == nil {
		return errors.Wrapf(ErrGroupNotFound, "group %d", groupID)
	}
	d := r.desc.Load()
	if d == nil {
		return &NotLeaderError{GroupID: groupID, LeaderNode: r.leaderNode.Load()}
	}
	return fn(d, h.engine)
}

// LedGroups returns the groups whose local replica holds the lease now.
func (h *Host) LedGroups() []uint64 {
	var out []uint64
	for _, r := range h.replicas() {
		if r.isLeader.Load() && r.h.live.monoNow() < r.leaseExpiry.Load() {
			out = append(out, r.groupID)
		}
	}
	return out
}
