// Package servertest runs in-process Meridian clusters for tests: real
// nodes, real gRPC on loopback, real Pebble stores in temporary
// directories, with transport-level fault injection.
package servertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/storage"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options shape a test cluster.
type Options struct {
	Nodes int // default 3
	// Paxos overrides the fast test defaults below.
	Paxos func(o *paxosgroup.Options)
	// Verbose logs at debug level to stderr (default: warnings only).
	Verbose bool
	// Storage adjusts node i's engine options (e.g. fault-injecting FS).
	Storage func(i int, o *storage.Options)
	// Node adjusts node i's configuration before it first starts.
	Node func(i int, c *server.Config)
}

// FastPaxos are timings that keep failover in tests around a second while
// tolerating the scheduling stalls of a loaded 2-core machine.
func FastPaxos(o *paxosgroup.Options) {
	o.TickInterval = 30 * time.Millisecond
	o.HeartbeatTicks = 2
	o.ElectionTicks = 10
	o.SupportDuration = 600 * time.Millisecond
	o.LeaseMargin = 20 * time.Millisecond
	o.MaintenanceInterval = 100 * time.Millisecond
}

// Cluster is a running test cluster.
type Cluster struct {
	t      testing.TB
	Faults *paxosgroup.Faults
	Nodes  []*server.Node // nil while stopped
	// nodesMu guards the entries of Nodes for Node: goroutines other
	// than the one that starts and stops nodes must ask Node.
	nodesMu sync.Mutex
	cfgs    []server.Config
	connMu  sync.Mutex
	conns   map[int]*grpc.ClientConn
}

// Start starts a cluster, initializes it on node 1, joins the others and
// waits until every group has a voter on every node (up to 3).
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	c := &Cluster{t: t, Faults: &paxosgroup.Faults{}}
	level := slog.LevelWarn
	if opts.Verbose || os.Getenv("MERIDIAN_TEST_VERBOSE") != "" {
		level = slog.LevelDebug
	}
	var w io.Writer = os.Stderr
	dir := t.TempDir()
	for i := 0; i < opts.Nodes; i++ {
		po := paxosgroup.Options{}
		FastPaxos(&po)
		if opts.Paxos != nil {
			opts.Paxos(&po)
		}
		po.TestingKnobs.Faults = c.Faults
		cfg := server.Config{
			StoreDir:   filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			ListenAddr: freeAddr(t),
			HTTPAddr:   "-",
			Region:     "local",
			Zone:       string(rune('a' + i%3)),
			Logger:     slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("test", t.Name()),
			Paxos:      po,
		}
		if i > 0 {
			cfg.Join = []string{c.cfgs[0].ListenAddr}
		}
		if opts.Storage != nil {
			opts.Storage(i, &cfg.Storage)
		}
		if opts.Node != nil {
			opts.Node(i, &cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.Nodes = append(c.Nodes, nil)
		c.startNode(i, i > 0)
		if i == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := c.Nodes[0].Init(ctx); err != nil {
				cancel()
				t.Fatalf("init: %v", err)
			}
			cancel()
		}
	}
	t.Cleanup(c.Stop)
	c.WaitReplicated(min(3, opts.Nodes))
	return c
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Config returns node i's configuration, for restarts with changes.
func (c *Cluster) Config(i int) *server.Config { return &c.cfgs[i] }

// StartNode restarts node i on its store and address and waits until it
// runs as a cluster member again.
func (c *Cluster) StartNode(i int) { c.t.Helper(); c.startNode(i, true) }

func (c *Cluster) startNode(i int, wait bool) {
	c.t.Helper()
	var n *server.Node
	var err error
	// The port may linger briefly after a stop.
	c.WaitFor(10*time.Second, fmt.Sprintf("node %d to start", i+1), func() bool {
		n, err = server.Start(c.cfgs[i])
		return err == nil
	})
	c.nodesMu.Lock()
	c.Nodes[i] = n
	c.nodesMu.Unlock()
	if !wait {
		return
	}
	select {
	case <-n.Ready():
	case <-time.After(30 * time.Second):
		c.t.Fatalf("node %d did not join", i+1)
	}
}

// StopNode stops node i gracefully (its store stays).
func (c *Cluster) StopNode(i int) {
	if c.Nodes[i] != nil {
		c.Nodes[i].Stop()
		c.nodesMu.Lock()
		c.Nodes[i] = nil
		c.nodesMu.Unlock()
	}
}

// Node returns node i, nil while it is stopped; safe to call from any
// goroutine while the test starts and stops nodes.
func (c *Cluster) Node(i int) *server.Node {
	c.nodesMu.Lock()
	defer c.nodesMu.Unlock()
	return c.Nodes[i]
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for i := range c.Nodes {
		c.StopNode(i)
	}
}

// NodeID of node index i (1-based IDs follow start order).
func (c *Cluster) NodeID(i int) uint64 { return uint64(i + 1) }

// Index of the node with the given ID.
func (c *Cluster) Index(nodeID uint64) int { return int(nodeID - 1) }

// Addr of node i.
func (c *Cluster) Addr(i int) string { return c.cfgs[i].ListenAddr }

// Conn returns a client connection to node i (one per node, reused).
func (c *Cluster) Conn(i int) *grpc.ClientConn {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if c.conns == nil {
		c.conns = map[int]*grpc.ClientConn{}
	}
	if cc, ok := c.conns[i]; ok {
		return cc
	}
	// Wait for ready: a node being restarted should delay a call, not
	// fail it with "connection refused".
	cc, err := grpc.NewClient(c.Addr(i), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cc.Close() })
	c.conns[i] = cc
	return cc
}

// KV is a KV client of node i.
func (c *Cluster) KV(i int) pb.KVClient { return pb.NewKVClient(c.Conn(i)) }

// Admin is an admin client of node i.
func (c *Cluster) Admin(i int) pb.AdminClient { return pb.NewAdminClient(c.Conn(i)) }

// WaitFor polls cond until it holds or the timeout passes (then fails the
// test naming what it waited for).
func (c *Cluster) WaitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	if !poll(timeout, cond) {
		c.t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// poll reports whether cond held within timeout, asking every 10ms.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// Status returns the cluster status as seen by the first running node.
func (c *Cluster) Status() *pb.StatusResponse {
	for _, n := range c.Nodes {
		if n == nil || n.Host() == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := pb.NewAdminClient(c.Conn(c.Index(n.NodeID()))).Status(ctx, &pb.StatusRequest{})
		cancel()
		if err == nil {
			return st
		}
	}
	return &pb.StatusResponse{}
}

// WaitReplicated waits until every group known to the local hosts has
// `voters` voters and a leaseholder.
func (c *Cluster) WaitReplicated(voters int) {
	c.t.Helper()
	// last is what the final status lacked, for the failure message: a
	// cluster that never settles on a loaded machine is otherwise a bare
	// timeout.
	last := "no status"
	const timeout = 60 * time.Second
	if !poll(timeout, func() bool {
		st := c.Status()
		if len(st.Groups) == 0 {
			last = "no groups"
			return false
		}
		for _, g := range st.Groups {
			n := 0
			for _, r := range g.Descriptor_.Replicas {
				if r.Type == pb.ReplicaType_VOTER {
					n++
				}
			}
			if n != voters || !g.LeaseValid {
				last = fmt.Sprintf("group %d has %d voters, leader node %d, lease valid %t",
					g.Descriptor_.GroupId, n, g.LeaderNode, g.LeaseValid)
				return false
			}
		}
		return true
	}) {
		c.t.Fatalf("timed out after %s waiting for all groups to have %d voters and a lease; last: %s", timeout, voters, last)
	}
}

// LeaderOf returns the index of the node leading the group (-1 if none
// is known).
func (c *Cluster) LeaderOf(groupID uint64) int {
	for _, n := range c.Nodes {
		if n == nil || n.Host() == nil {
			continue
		}
		for _, g := range n.Host().Status() {
			if g.Descriptor.GroupId == groupID && g.LeaderNode == n.NodeID() && g.LeaseValid {
				return c.Index(n.NodeID())
			}
		}
	}
	return -1
}
