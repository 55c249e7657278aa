package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/netsim"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/pushdown"
	"github.com/meridiandb/meridian/storage"
	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/truetime/timemaster"
	"github.com/meridiandb/meridian/txn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Config configures a node. Zero values take the documented defaults.
type Config struct {
	// StoreDir is the node's data directory. Required.
	StoreDir string
	// ListenAddr is the gRPC address. Default 127.0.0.1:7400.
	ListenAddr string
	// AdvertiseAddr is the gRPC address peers and clients use; default
	// the bound ListenAddr.
	AdvertiseAddr string
	// HTTPAddr serves /healthz and /metrics. Default 127.0.0.1:7401;
	// "-" disables HTTP.
	HTTPAddr string
	Region   string // default "local"
	Zone     string // default "a"
	// Join lists nodes of an existing cluster to join.
	Join   []string
	Logger *slog.Logger
	// Paxos tunes the Raft host (NodeID, Engine, StateMachine and Logger
	// are filled in by the node).
	Paxos paxosgroup.Options
	// Storage tunes the engine. Its CacheSize defaults to
	// DefaultCacheSize here (the block cache holds what point reads and
	// scans touch; a node that misses it reads and decompresses blocks
	// from the file system on every query).
	Storage storage.Options
	// Clock configures TrueTime: time masters, max ε (--time-masters,
	// --max-epsilon). No masters: single-machine mode.
	Clock truetime.Options
	// TimeMasterAddr, if set, runs an NTP time master in this node on
	// that UDP address (--time-master), declaring TimeMasterUncertainty
	// (default 1ms).
	TimeMasterAddr        string
	TimeMasterUncertainty time.Duration
	// TxnKnobs break transaction invariants on purpose (negative controls
	// of the checkers); tests only.
	TxnKnobs txn.ServerTestingKnobs
	// TxnClockSkew shifts the transaction layer's view of TrueTime by this
	// much (within ε: tests of the timestamp rules under skew).
	TxnClockSkew time.Duration
	// TxnCloseAhead overrides txn.ServerConfig.CloseAhead (0: default).
	TxnCloseAhead time.Duration
	// TxnWoundGrace overrides txn.ServerConfig.WoundGrace (0: default;
	// negative: wound at once).
	TxnWoundGrace time.Duration
	// GCTTL is how long old versions are kept (--gc-ttl): snapshot reads
	// older than this are refused, and the node's garbage collector
	// removes what only such reads could see. Default DefaultGCTTL;
	// negative: versions are kept forever.
	GCTTL time.Duration
	// MySQLAddr serves the MySQL protocol on this address; empty: off.
	MySQLAddr string
	// Network simulates the WAN (--latency): calls from clients and nodes
	// that declare their region are delayed by the trip between that
	// region and Region, in each direction, and, unless Paxos.Network is
	// set, so is Raft traffic. Every node of a cluster should share the
	// same matrix. Nil (default): no simulation and no cost.
	Network *netsim.Network
}

// DefaultCacheSize is a node's default block cache (memory is taken only
// as blocks are read).
const DefaultCacheSize = 1 << 30

// DefaultGCTTL is the default Config.GCTTL.
const DefaultGCTTL = 10 * time.Minute

func (c *Config) ensureDefaults() {
	if c.Storage.CacheSize == 0 {
		c.Storage.CacheSize = DefaultCacheSize
	}
	if c.GCTTL == 0 {
		c.GCTTL = DefaultGCTTL
	}
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:7400"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:7401"
	}
	if c.Region == "" {
		c.Region = "local"
	}
	if c.Zone == "" {
		c.Zone = "a"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Network != nil && c.Paxos.Network == nil {
		c.Paxos.Network = c.Network
	}
}

// Store-local keys of the node's identity.
const (
	localClusterID = "cluster-id"
	localNodeID    = "node-id"
	localNodes     = "nodes"
)

// MaxKeySize and MaxValueSize bound what clients may write.
const (
	MaxKeySize   = storage.MaxKeySize
	MaxValueSize = storage.MaxValueSize
	// maxMessageSize leaves room for a maximal value plus framing.
	maxMessageSize = MaxValueSize + MaxKeySize + 1<<20
)

// Node is one running Meridian node.
type Node struct {
	cfg     Config
	logger  *slog.Logger
	engine  *storage.Engine
	grpc    *grpc.Server
	lis     net.Listener
	httpSrv *http.Server
	httpLis net.Listener
	reg     *prometheus.Registry
	conns   connCache
	ranges  rangeCache
	syncLat prometheus.Histogram
	clock   *truetime.TrueTime
	master  *timemaster.Server
	mysql   *mysqlListener     // nil unless cfg.MySQLAddr (mysql.go)
	cancel  context.CancelFunc // stops the clock and time master

	mu struct {
		sync.Mutex
		clusterID string
		nodeID    uint64
		host      *paxosgroup.Host
		txn       *txn.Server
		txnClient *txn.Client
		sql       *engine.Engine
	}
	// writes batches the single-key KV writes of the groups led here.
	writes *writeBatcher
	// sqlStreams tracks the gRPC SQL sessions.
	sqlStreams sqlStreams

	// inflight counts the unary RPCs being served; inflightMu orders its
	// Add with Stop's Wait (a WaitGroup must not be added to while it is
	// waited on at zero), and stopping refuses new RPCs under it.
	inflightMu sync.Mutex
	stopping   bool
	inflight   sync.WaitGroup
	ready      chan struct{} // closed once the host runs
	stopper    chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup
}

// Start opens the store, starts listening and, if the store already has an
// identity, rejoins the cluster as that node. A fresh node joins through
// cfg.Join in the background, or waits for Init.
func Start(cfg Config) (*Node, error) {
	cfg.ensureDefaults()
	if cfg.StoreDir == "" {
		return nil, errors.New("server: --store is required")
	}
	if cfg.Network != nil {
		if err := cfg.Network.Latency().Validate(cfg.Region); err != nil {
			return nil, errors.Wrap(err, "server: --region")
		}
	}
	n := &Node{cfg: cfg, logger: cfg.Logger, ready: make(chan struct{}), stopper: make(chan struct{}), reg: prometheus.NewRegistry()}
	n.syncLat = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "meridian_storage_fsync_seconds", Help: "Latency of write-ahead log fsyncs.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18)})
	n.reg.MustRegister(n.syncLat, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.writes = newWriteBatcher(n.reg)
	sopts := cfg.Storage
	prev := sopts.SyncObserver
	sopts.SyncObserver = func(d time.Duration) {
		n.syncLat.Observe(d.Seconds())
		if prev != nil {
			prev(d)
		}
	}
	// Every SQL statement reads its tables' descriptors, and workloads
	// read some rows far more often than others: keep the newest versions
	// of the keys read most in memory, all keys being candidates.
	if sopts.NewestCached == nil {
		sopts.NewestCached = []storage.Span{{Start: []byte{}}}
	}
	eng, err := storage.Open(cfg.StoreDir, sopts)
	if err != nil {
		return nil, err
	}
	n.engine = eng
	n.ranges.init()
	if cfg.Network != nil {
		// Peers' interceptors delay what this node asks of them by the
		// trip from its region. Raft does not come this way: its
		// transport delays itself (Paxos.Network), so it must not declare
		// a region as well.
		n.conns.init(netsim.CallerDialOptions(cfg.Region, n.NodeID)...)
	} else {
		n.conns.init()
	}
	if err := n.startClock(); err != nil {
		_ = eng.Close()
		return nil, err
	}
	if err := n.listen(); err != nil {
		n.cancel()
		_ = eng.Close()
		return nil, err
	}
	cid, hasCluster, err := eng.GetLocal(localClusterID)
	if err != nil {
		n.Stop()
		return nil, err
	}
	nid, hasNode, err := eng.GetLocal(localNodeID)
	if err != nil {
		n.Stop()
		return nil, err
	}
	switch {
	case hasCluster && hasNode && len(nid) == 8:
		if err := n.startHost(string(cid), binary.BigEndian.Uint64(nid)); err != nil {
			n.Stop()
			return nil, err
		}
		// Tell the cluster our address in case it changed.
		if len(cfg.Join) > 0 {
			n.wg.Add(1)
			go n.joinLoop()
		}
	case len(cfg.Join) > 0:
		n.wg.Add(1)
		go n.joinLoop()
	default:
		n.logger.Info("waiting for `meridian init`", "addr", n.Addr())
	}
	if err := n.startMySQL(); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

// streamWorkers is the gRPC server's goroutine pool (see listen).
const streamWorkers = 1024

func (n *Node) listen() error {
	lis, err := net.Listen("tcp", n.cfg.ListenAddr)
	if err != nil {
		return errors.Wrapf(err, "server: listening on %s", n.cfg.ListenAddr)
	}
	n.lis = lis
	if n.cfg.AdvertiseAddr == "" {
		n.cfg.AdvertiseAddr = lis.Addr().String()
	}
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize),
		grpc.UnaryInterceptor(n.trackInflight),
		// Reuse goroutines across requests instead of growing a fresh
		// stack for each (stack copying was a quarter of a leaseholder's
		// CPU under 1,000 clients' reads). A worker serves one stream
		// at a time, long-lived Raft and SQL streams included, and a
		// stream that finds every worker busy gets a new goroutine, so
		// the pool is sized for a loaded node's requests in flight;
		// an idle worker is one parked goroutine.
		grpc.NumStreamWorkers(streamWorkers)}
	opts = append(opts, pb.WindowServerOptions()...)
	if n.cfg.Network != nil {
		// Installed only with a network: without, a call costs nothing.
		opts = append(opts, n.cfg.Network.ServerOptions(n.cfg.Region, n.NodeID)...)
	}
	n.grpc = grpc.NewServer(opts...)
	pb.RegisterRaftServer(n.grpc, raftProxy{n: n})
	pb.RegisterKVServer(n.grpc, kvService{n: n})
	pb.RegisterAdminServer(n.grpc, adminService{n: n})
	pb.RegisterTxnServer(n.grpc, txnProxy{n: n})
	pb.RegisterSQLServer(n.grpc, sqlService{n: n})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.grpc.Serve(lis); err != nil {
			n.logger.Error("gRPC server stopped", "err", err.Error())
		}
	}()
	if n.cfg.HTTPAddr != "-" {
		hl, err := net.Listen("tcp", n.cfg.HTTPAddr)
		if err != nil {
			return errors.Wrapf(err, "server: listening on %s (HTTP)", n.cfg.HTTPAddr)
		}
		n.httpLis = hl
		n.httpSrv = &http.Server{Handler: n.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.httpSrv.Serve(hl); err != nil && err != http.ErrServerClosed {
				n.logger.Error("HTTP server stopped", "err", err.Error())
			}
		}()
	}
	return nil
}

// startClock starts TrueTime (and the embedded time master, if any).
func (n *Node) startClock() error {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if n.cfg.TimeMasterAddr != "" {
		m, err := timemaster.New(timemaster.Options{Uncertainty: n.cfg.TimeMasterUncertainty, Logger: n.logger})
		if err != nil {
			return err
		}
		conn, err := timemaster.Listen(n.cfg.TimeMasterAddr)
		if err != nil {
			return errors.Wrapf(err, "server: time master on %s", n.cfg.TimeMasterAddr)
		}
		n.master = m
		n.reg.MustRegister(timemaster.NewCollector(m))
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			_ = m.Serve(ctx, conn)
		}()
	}
	tt, err := truetime.New(truetime.SystemClock(), n.cfg.Clock)
	if err != nil {
		return err
	}
	n.clock = tt
	n.reg.MustRegister(truetime.NewCollector(tt))
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		tt.Run(ctx)
	}()
	return nil
}

// Clock is the node's TrueTime.
func (n *Node) Clock() *truetime.TrueTime { return n.clock }

// Addr is the node's gRPC address.
func (n *Node) Addr() string { return n.cfg.AdvertiseAddr }

// HTTPAddr is the node's HTTP address ("" if disabled).
func (n *Node) HTTPAddr() string {
	if n.httpLis == nil {
		return ""
	}
	return n.httpLis.Addr().String()
}

// NodeID returns the node's ID, 0 before it joined a cluster.
func (n *Node) NodeID() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.nodeID
}

// Host returns the Raft host, nil before the node joined a cluster.
func (n *Node) Host() *paxosgroup.Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.host
}

// Ready is closed once the node serves as a member of a cluster.
func (n *Node) Ready() <-chan struct{} { return n.ready }

func (n *Node) self(id uint64) *pb.NodeDescriptor {
	return &pb.NodeDescriptor{NodeId: id, Address: n.cfg.AdvertiseAddr, HttpAddress: n.HTTPAddr(),
		Region: n.cfg.Region, Zone: n.cfg.Zone}
}

// startHost persists the identity and starts the Raft host.
func (n *Node) startHost(clusterID string, nodeID uint64) error {
	if err := n.engine.SetLocal(localClusterID, []byte(clusterID)); err != nil {
		return err
	}
	if err := n.engine.SetLocal(localNodeID, binary.BigEndian.AppendUint64(nil, nodeID)); err != nil {
		return err
	}
	opts := n.cfg.Paxos
	opts.NodeID = nodeID
	opts.Engine = n.engine
	sm, err := txn.NewStateMachine(txn.ParticipantOptions{FilterTombstones: true})
	if err != nil {
		return err
	}
	opts.StateMachine = sm
	opts.Logger = n.logger
	h, err := paxosgroup.NewHost(opts)
	if err != nil {
		return err
	}
	h.SetRouter(metaRouter{n})
	h.UpdateNodes(n.self(nodeID))
	if data, ok, err := n.engine.GetLocal(localNodes); err == nil && ok {
		var saved pb.JoinResponse
		if proto.Unmarshal(data, &saved) == nil {
			for _, nd := range saved.Nodes {
				if nd.NodeId != nodeID {
					h.UpdateNodes(nd)
				}
			}
			h.UpdateNodes(n.self(nodeID))
		}
	}
	if err := h.RegisterMetrics(n.reg); err != nil {
		return err
	}
	if err := h.Start(); err != nil {
		return err
	}
	var clock txn.Clock = n.clock
	if n.cfg.TxnClockSkew != 0 {
		clock = txn.SkewedClock{Clock: n.clock, Skew: n.cfg.TxnClockSkew}
	}
	ts := txn.NewServer(txn.ServerConfig{
		Host: h, Clock: clock, Router: txnRouter{n}, ToStatus: toStatus, Logger: n.logger,
		TestingKnobs: n.cfg.TxnKnobs, CloseAhead: n.cfg.TxnCloseAhead, WoundGrace: n.cfg.TxnWoundGrace, GCTTL: max(n.cfg.GCTTL, 0),
		// SQL scans push their WHERE conditions down to the groups.
		CompileFilter: func(spec []byte) (txn.RowFilter, error) {
			f, err := pushdown.Compile(spec)
			return txn.RowFilter(f), err
		},
	})
	if err := ts.Metrics().Register(n.reg); err != nil {
		return err
	}
	txnClient := txn.NewClient(txnRouter{n}, clock)
	// The SQL engine runs on the transaction client, which exists only
	// once the node is a cluster member.
	sqlEngine := engine.New(engine.Config{Txn: txnClient, NodeID: nodeID, Logger: n.logger.With("node", nodeID, "component", "sql")})
	n.mu.Lock()
	n.mu.clusterID, n.mu.nodeID, n.mu.host = clusterID, nodeID, h
	n.mu.txn, n.mu.txnClient, n.mu.sql = ts, txnClient, sqlEngine
	n.mu.Unlock()
	ts.Start()
	close(n.ready)
	n.logger = n.logger.With("node", nodeID)
	n.logger.Info("node started", "cluster", clusterID, "addr", n.Addr(), "region", n.cfg.Region, "zone", n.cfg.Zone)
	n.wg.Add(1)
	go n.saveNodesLoop()
	if n.cfg.GCTTL > 0 {
		n.wg.Add(1)
		go n.gcLoop()
	}
	return nil
}

// gcMargin keeps the garbage collector this far behind the read horizon,
// so that no node's clock (whose ε is bounded far below it) lets a read
// that another node's horizon admits find its versions collected, also in
// a Raft snapshot taken from another replica.
const gcMargin = time.Minute

// gcLoop removes, every GCTTL/2, the versions of this node's replicas that
// no admitted read can see: those shadowed by a newer version at or below
// TT.Now().earliest - GCTTL - gcMargin, and tombstones that are the
// newest version there. Every replica collects on its own (nothing is
// logged): reads below the horizon are refused everywhere
// (txn.ServerConfig.GCTTL), and writes never land that far below the
// closed timestamps.
func (n *Node) gcLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.GCTTL / 2)
	defer t.Stop()
	for {
		select {
		case <-n.stopper:
			return
		case <-t.C:
		}
		threshold := n.clock.Now().Earliest - (n.cfg.GCTTL + gcMargin).Nanoseconds()
		start := time.Now()
		removed, err := n.engine.MVCCGC(nil, nil, threshold)
		if err != nil {
			n.logger.Warn("garbage collection of old versions", "err", err.Error())
			continue
		}
		n.logger.Info("garbage collection of old versions", "removed", removed, "took", time.Since(start).Round(time.Millisecond))
	}
}

// saveNodesLoop persists the address book so that a restarted node can
// reach its peers before anyone reaches it.
func (n *Node) saveNodesLoop() {
	defer n.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var last []byte
	for {
		h := n.Host()
		data, err := proto.Marshal(&pb.JoinResponse{Nodes: h.Nodes()})
		if err == nil && string(data) != string(last) {
			if err := n.engine.SetLocal(localNodes, data); err == nil {
				last = data
			}
		}
		select {
		case <-n.stopper:
			return
		case <-t.C:
		}
	}
}

// Init bootstraps a new cluster on this node: the meta group and the first
// user group, one replica each, here. Other nodes join and the groups
// up-replicate to them.
func (n *Node) Init(ctx context.Context) (*pb.InitResponse, error) {
	n.mu.Lock()
	if n.mu.clusterID != "" {
		cid := n.mu.clusterID
		n.mu.Unlock()
		return nil, status.Errorf(codes.AlreadyExists,
			"cluster %s is already initialized; init runs once per cluster (start new nodes with --join instead)", cid)
	}
	n.mu.Unlock()
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	clusterID := hex.EncodeToString(raw[:])
	const nodeID = 1
	if err := n.startHost(clusterID, nodeID); err != nil {
		return nil, err
	}
	h := n.Host()
	replicas := []*pb.ReplicaDescriptor{{ReplicaId: 1, NodeId: nodeID, Type: pb.ReplicaType_VOTER}}
	meta := &pb.GroupDescriptor{GroupId: paxosgroup.MetaGroupID, StartKey: paxosgroup.MetaSpanStart,
		EndKey: paxosgroup.MetaSpanEnd, Replicas: replicas, Generation: 1, NextReplicaId: 2}
	user := &pb.GroupDescriptor{GroupId: paxosgroup.FirstUserGroupID, StartKey: paxosgroup.UserSpanStart,
		Replicas: replicas, Generation: 1, NextReplicaId: 2}
	if err := h.Bootstrap(meta, user); err != nil {
		return nil, err
	}
	cmd := &pb.MetaCommand{AllocateNodeIds: 1, Nodes: []*pb.NodeDescriptor{n.self(0)}, Descriptors: []*pb.GroupDescriptor{meta, user}}
	var id uint64
	err := retry(ctx, func() error {
		var err error
		id, err = h.ApplyMeta(ctx, cmd)
		return err
	})
	if err != nil {
		return nil, errors.Wrap(err, "server: writing the first directory records")
	}
	if id != nodeID {
		return nil, errors.AssertionFailedf("server: bootstrap allocated node ID %d", id)
	}
	return &pb.InitResponse{ClusterId: clusterID, NodeId: nodeID}, nil
}

// joinLoop asks the join addresses for a node ID until one answers.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	backoff := 200 * time.Millisecond
	for {
		for _, addr := range n.cfg.Join {
			if addr == n.cfg.AdvertiseAddr || addr == n.lis.Addr().String() {
				continue
			}
			if done := n.tryJoin(addr); done {
				return
			}
		}
		select {
		case <-n.stopper:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (n *Node) tryJoin(addr string) bool {
	id := n.NodeID()
	n.mu.Lock()
	cid := n.mu.clusterID
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := n.conns.get(addr)
	if err != nil {
		return false
	}
	resp, err := pb.NewAdminClient(conn).Join(ctx, &pb.JoinRequest{Node: n.self(id), ClusterId: cid})
	if err != nil {
		if s, _ := status.FromError(err); s.Code() == codes.InvalidArgument {
			n.logger.Error("join refused", "addr", addr, "err", err.Error())
		}
		return false
	}
	if id == 0 {
		if err := n.startHost(resp.ClusterId, resp.NodeId); err != nil {
			n.logger.Error("starting after join", "err", err.Error())
			return false
		}
	}
	h := n.Host()
	h.UpdateNodes(resp.Nodes...)
	h.UpdateNodes(n.self(resp.NodeId))
	n.logger.Info("joined cluster", "via", addr, "cluster", resp.ClusterId, "node", resp.NodeId)
	return true
}

// trackInflight counts unary RPCs so that Stop can let them finish, and
// refuses new ones once the node is stopping.
func (n *Node) trackInflight(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	n.inflightMu.Lock()
	if n.stopping {
		n.inflightMu.Unlock()
		return nil, status.Error(codes.Unavailable, "server: node is shutting down; use another node")
	}
	n.inflight.Add(1)
	n.inflightMu.Unlock()
	defer n.inflight.Done()
	return handler(ctx, req)
}

// Stop shuts the node down gracefully: new requests are refused, requests
// in flight get up to two seconds to finish, then the gRPC server (and the
// peers' Raft streams with it), the Raft host and the HTTP server stop and
// the store is closed.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		close(n.stopper)
		n.inflightMu.Lock()
		n.stopping = true
		n.inflightMu.Unlock()
		n.stopMySQL()
		drained := make(chan struct{})
		go func() { n.inflight.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(2 * time.Second):
		}
		// SQL sessions end while the transaction layer still runs, so
		// that their open transactions roll back.
		n.sqlStreams.closeAndWait()
		// Client requests have drained; what remains are peers' Raft
		// streams, which would hold a graceful stop open.
		if n.grpc != nil {
			n.grpc.Stop()
		}
		if ts := n.txnServer(); ts != nil {
			ts.Stop()
		}
		if h := n.Host(); h != nil {
			h.Stop()
		}
		if n.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = n.httpSrv.Shutdown(ctx)
			cancel()
		}
		if n.cancel != nil {
			n.cancel()
		}
		n.wg.Wait()
		n.conns.closeAll()
		if err := n.engine.Close(); err != nil {
			n.logger.Error("closing store", "err", err.Error())
		}
	})
}

// retry runs fn until it succeeds, the error is not worth retrying, or
// ctx ends. Routing errors and unavailability are retried.
func retry(ctx context.Context, fn func() error) error {
	backoff := 20 * time.Millisecond
	for {
		err := fn()
		if err == nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.CombineErrors(ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

func retryable(err error) bool {
	if errors.Is(err, paxosgroup.ErrNotLeader) || errors.Is(err, paxosgroup.ErrGroupNotFound) ||
		errors.Is(err, paxosgroup.ErrWrongRange) {
		return true
	}
	if routingError(err) != nil {
		return true
	}
	s, ok := status.FromError(err)
	return ok && (s.Code() == codes.Unavailable || s.Code() == codes.FailedPrecondition)
}
