package main

// The fault machinery of the process-level transaction tests
// (txnfault_test.go): three `meridian start` processes that reach each
// other only through TCP proxies in the test process, so that the test can
// partition them; SIGKILL, restart, SIGSTOP and SIGCONT of the processes;
// and a transaction client (txn.Client) that runs in the test process and
// talks to the nodes over gRPC only (Admin.RangeLookup for routing, the Txn
// service for reads, prepares and commits).
//
// Partitions. Each node advertises its proxy's address (--advertise), so
// every node-to-node connection (Raft, 2PC, forwarding) goes through the
// proxy of the node it reaches. A proxy learns which node dialled it from
// the kernel: the accepted connection's peer port names a socket in
// /proc/net/tcp, whose inode is among the file descriptors of exactly one
// node process. Isolating a node refuses and cuts every connection between
// it and the others, in both directions. The test's own clients dial the
// nodes' listen addresses directly: a partition separates nodes, not
// clients, as netsim's Isolate does in the in-process suites.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/txn"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// faultCluster is a procCluster of three nodes behind partitionable
// proxies, split into user groups.
type faultCluster struct {
	*procCluster
	proxies []*peerProxy
	pids    []atomic.Int64 // per process index: the running process's pid
	ids     []uint64       // per process index: its node ID
	conns   []*grpc.ClientConn
	groups  []uint64 // user group IDs
	// isolated is the index of the node cut off from the others, -1: none.
	isolated atomic.Int64
	// unknownSources counts proxied connections whose dialling process
	// was not found (they are not cut by a partition of another node).
	unknownSources atomic.Int64
	// cutConns and refusedConns count connections the partitions closed
	// and refused.
	cutConns, refusedConns atomic.Int64
}

// startFaultCluster starts three nodes, initializes the cluster and splits
// the user keyspace at splits.
func startFaultCluster(t *testing.T, splits []string) *faultCluster {
	t.Helper()
	c := newProcCluster(t)
	const n = 3
	fc := &faultCluster{procCluster: c, pids: make([]atomic.Int64, n), ids: make([]uint64, n)}
	fc.isolated.Store(-1)
	dir := c.dir
	for i := range n {
		p := &proc{name: fmt.Sprintf("n%d", i+1), addr: freePort(t),
			store: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), logPath: filepath.Join(dir, fmt.Sprintf("n%d.log", i+1))}
		px := fc.newProxy(i, p.addr)
		p.args = []string{"start", "--store", p.store, "--listen", p.addr, "--advertise", px.addr,
			"--http-addr", freePort(t), "--region", "local", "--zone", string(rune('a' + i)), "--log-level", "info"}
		if i > 0 {
			p.args = append(p.args, "--join", c.procs[0].addr)
		}
		c.procs = append(c.procs, p)
		fc.conns = append(fc.conns, dialNode(t, p.addr))
		c.start(p)
		fc.pids[i].Store(int64(p.cmd.Process.Pid))
	}
	t.Cleanup(fc.closeProxies)
	for _, p := range c.procs {
		c.waitServing(p)
	}
	if stdout, stderr, code := c.run("init", "--host", c.procs[0].addr); code != 0 {
		t.Fatalf("init: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	c.waitFor(60*time.Second, "every group to have 3 voters and a lease", func() bool {
		st, err := fc.status(0)
		return err == nil && len(st.Nodes) == n && replicatedWithLease(st, 3)
	})
	st, _ := fc.status(0)
	for _, nd := range st.Nodes {
		for i, px := range fc.proxies {
			if nd.Node.GetAddress() == px.addr {
				fc.ids[i] = nd.Node.GetNodeId()
			}
		}
	}
	for i, id := range fc.ids {
		if id == 0 {
			t.Fatalf("no node advertises %s (%s's proxy): %v", fc.proxies[i].addr, c.procs[i].name, st.Nodes)
		}
	}
	for _, k := range splits {
		c.waitFor(30*time.Second, "a split at "+k, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := fc.admin(0).Split(ctx, &pb.SplitRequest{SplitKey: []byte(k)})
			return err == nil
		})
	}
	c.waitFor(60*time.Second, fmt.Sprintf("%d groups with 3 voters and a lease", len(splits)+2), func() bool {
		st, err := fc.status(0)
		return err == nil && len(st.Groups) == len(splits)+2 && replicatedWithLease(st, 3)
	})
	st, _ = fc.status(0)
	for _, g := range st.Groups {
		if id := g.Descriptor_.GetGroupId(); id != paxosgroup.MetaGroupID {
			fc.groups = append(fc.groups, id)
		}
	}
	t.Logf("cluster up: nodes %v, user groups %v", fc.ids, fc.groups)
	return fc
}

// dialNode returns a client connection that reconnects quickly after its
// node restarts (gRPC's default backoff grows to two minutes).
func dialNode(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func (fc *faultCluster) admin(i int) pb.AdminClient { return pb.NewAdminClient(fc.conns[i]) }
func (fc *faultCluster) kv(i int) pb.KVClient       { return pb.NewKVClient(fc.conns[i]) }

func (fc *faultCluster) status(i int) (*pb.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return fc.admin(i).Status(ctx, &pb.StatusRequest{})
}

// index returns the process index of a node ID (-1 if unknown).
func (fc *faultCluster) index(id uint64) int {
	for i, x := range fc.ids {
		if x == id {
			return i
		}
	}
	return -1
}

// ---------------------------------------------------------------------------
// Process faults.

// relaunch starts process i again with its flags. Unlike procCluster.start
// it returns errors, for callers outside the test goroutine.
func (fc *faultCluster) relaunch(i int) error {
	p := fc.procs[i]
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(fc.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("restarting %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	fc.pids[i].Store(int64(cmd.Process.Pid))
	go func() {
		p.waitErr = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	return nil
}

// serving reports whether process i answers a local status request.
func (fc *faultCluster) serving(i int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := fc.admin(i).Status(ctx, &pb.StatusRequest{LocalOnly: true})
	return err == nil && st.NodeId == fc.ids[i]
}

func (fc *faultCluster) signal(i int, sig syscall.Signal) error {
	return fc.procs[i].cmd.Process.Signal(sig)
}

// ---------------------------------------------------------------------------
// Partitions.

// isolate cuts node i off from the other nodes (-1: heal).
func (fc *faultCluster) isolate(i int) {
	fc.isolated.Store(int64(i))
	for _, px := range fc.proxies {
		px.cut()
	}
}

// blocked reports whether a connection from process src (-1: unknown) to
// process dst is cut by the current partition.
func (fc *faultCluster) blocked(src, dst int) bool {
	iso := int(fc.isolated.Load())
	switch {
	case iso < 0 || src == dst:
		return false
	case src < 0:
		return dst == iso
	}
	return src == iso || dst == iso
}

// peerProxy forwards the connections that other nodes open to one node.
type peerProxy struct {
	fc     *faultCluster
	idx    int
	addr   string
	target string
	ln     net.Listener
	mu     struct {
		sync.Mutex
		conns  map[*proxiedConn]struct{}
		closed bool
	}
	wg sync.WaitGroup
}

type proxiedConn struct {
	src     int
	in, out net.Conn
}

func (c *proxiedConn) close() { _ = c.in.Close(); _ = c.out.Close() }

func (fc *faultCluster) newProxy(idx int, target string) *peerProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fc.t.Fatal(err)
	}
	px := &peerProxy{fc: fc, idx: idx, addr: ln.Addr().String(), target: target, ln: ln}
	px.mu.conns = map[*proxiedConn]struct{}{}
	fc.proxies = append(fc.proxies, px)
	px.wg.Add(1)
	go px.serve()
	return px
}

func (fc *faultCluster) closeProxies() {
	for _, px := range fc.proxies {
		_ = px.ln.Close()
		px.mu.Lock()
		px.mu.closed = true
		for c := range px.mu.conns {
			c.close()
		}
		px.mu.Unlock()
		px.wg.Wait()
	}
}

func (px *peerProxy) serve() {
	defer px.wg.Done()
	for {
		in, err := px.ln.Accept()
		if err != nil {
			return
		}
		px.wg.Add(1)
		go px.handle(in)
	}
}

func (px *peerProxy) handle(in net.Conn) {
	defer px.wg.Done()
	src := px.fc.sourceOf(in)
	if src < 0 {
		px.fc.unknownSources.Add(1)
	}
	if px.fc.blocked(src, px.idx) {
		px.fc.refusedConns.Add(1)
		_ = in.Close()
		return
	}
	out, err := net.DialTimeout("tcp", px.target, 2*time.Second)
	if err != nil {
		_ = in.Close()
		return
	}
	c := &proxiedConn{src: src, in: in, out: out}
	// Registered and checked under the lock that cut holds, so a partition
	// that starts now either sees this connection or is seen by it.
	px.mu.Lock()
	if px.mu.closed || px.fc.blocked(src, px.idx) {
		px.mu.Unlock()
		c.close()
		return
	}
	px.mu.conns[c] = struct{}{}
	px.mu.Unlock()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, in)
		c.close()
		close(done)
	}()
	_, _ = io.Copy(in, out)
	c.close()
	<-done
	px.mu.Lock()
	delete(px.mu.conns, c)
	px.mu.Unlock()
}

// cut closes the connections the current partition blocks.
func (px *peerProxy) cut() {
	px.mu.Lock()
	defer px.mu.Unlock()
	for c := range px.mu.conns {
		if px.fc.blocked(c.src, px.idx) {
			px.fc.cutConns.Add(1)
			c.close()
		}
	}
}

// sourceOf finds the node process that dialled in (-1: none found): the
// dialler's socket is the /proc/net/tcp entry whose local address is in's
// remote address, and its inode is an open file of one node process.
func (fc *faultCluster) sourceOf(in net.Conn) int {
	remote, ok1 := in.RemoteAddr().(*net.TCPAddr)
	local, ok2 := in.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return -1
	}
	inode := socketInode(procNetAddr(remote), procNetAddr(local))
	if inode == "" {
		return -1
	}
	want := "socket:[" + inode + "]"
	for i := range fc.pids {
		dir := fmt.Sprintf("/proc/%d/fd", fc.pids[i].Load())
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
				return i
			}
		}
	}
	return -1
}

// procNetAddr formats an IPv4 TCP address as /proc/net/tcp does.
func procNetAddr(a *net.TCPAddr) string {
	ip := a.IP.To4()
	if ip == nil {
		return ""
	}
	return fmt.Sprintf("%08X:%04X", binary.LittleEndian.Uint32(ip), a.Port)
}

// socketInode returns the inode of the IPv4 socket from local to remote.
func socketInode(local, remote string) string {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 9 && fs[1] == local && fs[2] == remote {
			return fs[9]
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// A transaction client outside the cluster.

// newTestClock returns a running TrueTime in single-machine mode, as the
// nodes run without time masters: every process reads the same system
// clock, which is true time here.
func newTestClock(t *testing.T) *truetime.TrueTime {
	t.Helper()
	tt, err := truetime.New(truetime.SystemClock(), truetime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = tt.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := tt.WaitSynced(wctx); err != nil {
		t.Fatalf("test clock: %v", err)
	}
	return tt
}

// procRouter implements txn.Router for a client in the test process: a
// cache of the range directory filled by Admin.RangeLookup at any node,
// leader hints, and the nodes' Txn services over gRPC.
type procRouter struct {
	fc   *faultCluster
	next atomic.Uint32
	mu   struct {
		sync.Mutex
		byStart []*pb.GroupDescriptor // sorted by start key, non-overlapping
		leaders map[uint64]uint64
	}
}

func newProcRouter(fc *faultCluster) *procRouter {
	r := &procRouter{fc: fc}
	r.mu.leaders = map[uint64]uint64{}
	return r
}

// gatewayRouter is a procRouter that calls node self "nearest": snapshot
// reads go to that replica first.
type gatewayRouter struct {
	*procRouter
	self uint64
}

var _ txn.Router = gatewayRouter{}

func (g gatewayRouter) Self() uint64 { return g.self }

// client returns a transaction client whose snapshot reads prefer node self
// (0: the leader).
func (r *procRouter) client(clock txn.Clock, self uint64) *txn.Client {
	return txn.NewClient(gatewayRouter{r, self}, clock)
}

func (r *procRouter) LookupKey(ctx context.Context, key []byte) (*pb.GroupDescriptor, error) {
	r.mu.Lock()
	i := sort.Search(len(r.mu.byStart), func(i int) bool { return bytes.Compare(r.mu.byStart[i].StartKey, key) > 0 })
	if i > 0 && paxosgroup.ContainsKey(r.mu.byStart[i-1], key) {
		d := r.mu.byStart[i-1]
		r.mu.Unlock()
		return d, nil
	}
	r.mu.Unlock()
	return r.lookup(ctx, &pb.RangeLookupRequest{Key: key})
}

func (r *procRouter) LookupGroup(ctx context.Context, id uint64) (*pb.GroupDescriptor, error) {
	r.mu.Lock()
	for _, d := range r.mu.byStart {
		if d.GroupId == id {
			r.mu.Unlock()
			return d, nil
		}
	}
	r.mu.Unlock()
	return r.lookup(ctx, &pb.RangeLookupRequest{GroupId: id})
}

// lookup asks the nodes in turn, each for at most a second (one may be
// paused), until one answers or ctx ends.
func (r *procRouter) lookup(ctx context.Context, req *pb.RangeLookupRequest) (*pb.GroupDescriptor, error) {
	var last error
	for attempt := 0; ; attempt++ {
		i := int(r.next.Add(1)) % len(r.fc.conns)
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := r.fc.admin(i).RangeLookup(cctx, req)
		cancel()
		if err == nil && resp.Descriptor_ != nil {
			r.Insert(resp.Descriptor_)
			if resp.LeaderNode != 0 {
				r.SetLeader(resp.Descriptor_.GroupId, resp.LeaderNode)
			}
			return resp.Descriptor_, nil
		}
		if err != nil {
			last = err
		}
		if attempt%len(r.fc.conns) == len(r.fc.conns)-1 {
			select {
			case <-ctx.Done():
				return nil, status.Errorf(codes.Unavailable, "range lookup: %v (last: %v)", ctx.Err(), last)
			case <-time.After(50 * time.Millisecond): // retry pacing
			}
		}
	}
}

func (r *procRouter) Insert(d *pb.GroupDescriptor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.mu.byStart[:0]
	for _, o := range r.mu.byStart {
		overlaps := (len(o.EndKey) == 0 || bytes.Compare(d.StartKey, o.EndKey) < 0) &&
			(len(d.EndKey) == 0 || bytes.Compare(o.StartKey, d.EndKey) < 0)
		if overlaps {
			if o.GroupId == d.GroupId && o.Generation > d.Generation {
				return
			}
			continue
		}
		kept = append(kept, o)
	}
	r.mu.byStart = append(kept, d)
	sort.Slice(r.mu.byStart, func(i, j int) bool { return bytes.Compare(r.mu.byStart[i].StartKey, r.mu.byStart[j].StartKey) < 0 })
}

func (r *procRouter) Evict(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.mu.byStart[:0]
	for _, o := range r.mu.byStart {
		if o.GroupId != id {
			kept = append(kept, o)
		}
	}
	r.mu.byStart = kept
	delete(r.mu.leaders, id)
}

func (r *procRouter) Leader(id uint64) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.leaders[id]
}

func (r *procRouter) SetLeader(id, node uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if node == 0 {
		delete(r.mu.leaders, id)
		return
	}
	r.mu.leaders[id] = node
}

func (r *procRouter) Client(node uint64) (pb.TxnClient, error) {
	i := r.fc.index(node)
	if i < 0 {
		return nil, fmt.Errorf("unknown node %d", node)
	}
	return pb.NewTxnClient(r.fc.conns[i]), nil
}

// Region is unknown: nearest means Self, then the leader.
func (r *procRouter) Region(uint64) string { return "" }
