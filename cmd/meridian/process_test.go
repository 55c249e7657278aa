package main

// End-to-end tests of the real binary: build `meridian`, run three
// `meridian start` processes on loopback, and drive them with the CLI and
// with gRPC clients, as an operator and an application would. Covers
// replication through the CLI, SIGKILL of the leaseholder under
// concurrent writes (no acknowledged write lost), restart and catch-up
// with a persisted identity, a second start on a locked store, a second
// init, and graceful shutdown on SIGTERM.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

const firstUserGroup = 2 // paxosgroup.FirstUserGroupID

// ---------------------------------------------------------------------------
// Building and running processes.

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildDir  string
)

// moduleRoot walks up from the test's working directory to go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's working directory")
		}
		dir = parent
	}
}

// meridianBinary builds the binary once per test run.
func meridianBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the meridian binary")
	}
	buildOnce.Do(func() {
		root := moduleRoot(t)
		buildDir, buildErr = os.MkdirTemp("", "meridian-bin-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "meridian")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/meridian")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/meridian: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is one `meridian start` process and the flags to restart it with.
type proc struct {
	name    string
	args    []string
	addr    string
	store   string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

type procCluster struct {
	t     *testing.T
	bin   string
	dir   string // stores and logs
	procs []*proc
}

func (c *procCluster) start(p *proc) {
	c.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	p.cmd = exec.Command(c.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		c.t.Fatalf("starting %s: %v", p.name, err)
	}
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = p.cmd.Wait()
		_ = logf.Close()
		close(p.exited)
	}()
}

func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the process and waits for it.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (c *procCluster) dumpLogs() {
	for _, p := range c.procs {
		data, _ := os.ReadFile(p.logPath)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		c.t.Logf("---- last lines of %s (%s) ----\n%s", p.name, p.logPath, strings.Join(lines, "\n"))
	}
}

// newProcCluster returns an empty cluster whose processes are killed (and
// whose logs are printed, if the test failed) when the test ends.
func newProcCluster(t *testing.T) *procCluster {
	t.Helper()
	// The directory is made before the cleanup below is registered, so
	// that it is removed after the logs are printed.
	c := &procCluster{t: t, bin: meridianBinary(t), dir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs()
		}
		for _, p := range c.procs {
			p.kill()
		}
	})
	return c
}

func startProcCluster(t *testing.T, n int) *procCluster {
	t.Helper()
	c := newProcCluster(t)
	dir := c.dir
	for i := 0; i < n; i++ {
		p := &proc{name: fmt.Sprintf("n%d", i+1), addr: freePort(t),
			store: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), logPath: filepath.Join(dir, fmt.Sprintf("n%d.log", i+1))}
		p.args = []string{"start", "--store", p.store, "--listen", p.addr, "--http-addr", freePort(t),
			"--region", "local", "--zone", string(rune('a' + i)), "--log-level", "info"}
		if i > 0 {
			p.args = append(p.args, "--join", c.procs[0].addr)
		}
		c.procs = append(c.procs, p)
		c.start(p)
	}
	for _, p := range c.procs {
		c.waitServing(p)
	}
	return c
}

// run runs a CLI command to completion and returns stdout, stderr and the
// exit code.
func (c *procCluster) run(args ...string) (string, string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			c.t.Fatalf("meridian %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// waitFor polls cond until it holds; on timeout it fails the test, with
// what the optional detail functions say about the last state seen.
func (c *procCluster) waitFor(timeout time.Duration, what string, cond func() bool, detail ...func() string) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			var more []string
			for _, d := range detail {
				more = append(more, d())
			}
			c.t.Fatalf("timed out after %s waiting for %s %s", timeout, what, strings.Join(more, "; "))
		}
		<-tick.C
	}
}

func (c *procCluster) conn(addr string) *grpc.ClientConn {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func (c *procCluster) grpcStatus(addr string, localOnly bool) (*pb.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return pb.NewAdminClient(c.conn(addr)).Status(ctx, &pb.StatusRequest{LocalOnly: localOnly})
}

// waitServing waits until the process answers gRPC.
func (c *procCluster) waitServing(p *proc) {
	c.t.Helper()
	c.waitFor(30*time.Second, p.name+" to serve gRPC", func() bool {
		if !p.running() {
			c.t.Fatalf("%s exited: %v", p.name, p.waitErr)
		}
		_, err := c.grpcStatus(p.addr, true)
		return err == nil
	})
}

// cliStatus runs `meridian status --format json` and decodes it.
func (c *procCluster) cliStatus(addr string) (*pb.StatusResponse, error) {
	stdout, stderr, code := c.run("status", "--host", addr, "--format", "json")
	if code != 0 {
		return nil, fmt.Errorf("status exited %d: %s", code, stderr)
	}
	var st pb.StatusResponse
	if err := protojson.Unmarshal([]byte(stdout), &st); err != nil {
		c.t.Fatalf("status --format json printed what protojson cannot read: %v\n%s", err, stdout)
	}
	return &st, nil
}

// replicatedWithLease: every group has `voters` voters and a valid lease.
func replicatedWithLease(st *pb.StatusResponse, voters int) bool {
	if len(st.Groups) == 0 {
		return false
	}
	for _, g := range st.Groups {
		if !settledGroup(g, voters) {
			return false
		}
	}
	return true
}

// settledGroup: g has `voters` voters and a valid lease.
func settledGroup(g *pb.GroupStatus, voters int) bool {
	n := 0
	for _, r := range g.Descriptor_.GetReplicas() {
		if r.Type == pb.ReplicaType_VOTER {
			n++
		}
	}
	return n == voters && g.LeaseValid
}

// unsettled describes the groups that replicatedWithLease waits for.
func unsettled(st *pb.StatusResponse, voters int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d nodes;", len(st.Nodes))
	for _, g := range st.Groups {
		if !settledGroup(g, voters) {
			fmt.Fprintf(&b, " group %d: replicas %v, leader node %d (reported by %d), term %d, lease valid %v, applied %d;",
				g.Descriptor_.GetGroupId(), g.Descriptor_.GetReplicas(), g.LeaderNode, g.ReportingNode, g.Term, g.LeaseValid, g.AppliedIndex)
		}
	}
	return b.String()
}

func groupStatus(st *pb.StatusResponse, id uint64) *pb.GroupStatus {
	for _, g := range st.Groups {
		if g.Descriptor_.GetGroupId() == id {
			return g
		}
	}
	return nil
}

func (c *procCluster) byNodeID(st *pb.StatusResponse, id uint64) *proc {
	for _, n := range st.Nodes {
		if n.Node.GetNodeId() == id {
			for _, p := range c.procs {
				if p.addr == n.Node.GetAddress() {
					return p
				}
			}
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Writers with an acknowledged-write ledger.

// ledger records, per key, the newest acknowledged sequence number and
// every sequence number attempted (acknowledged or ambiguous). Each key
// has one writer, which writes increasing sequence numbers one at a time.
type ledger struct {
	mu        sync.Mutex
	lastAcked map[string]int
	attempted map[string]map[int]bool
	acks      int
	errs      int
}

func (l *ledger) ackCount() int { l.mu.Lock(); defer l.mu.Unlock(); return l.acks }

func runProcWriters(c *procCluster, writers int, stop <-chan struct{}) (*ledger, *sync.WaitGroup) {
	l := &ledger{lastAcked: map[string]int{}, attempted: map[string]map[int]bool{}}
	var wg sync.WaitGroup
	var kvs []pb.KVClient
	for _, p := range c.procs {
		kvs = append(kvs, pb.NewKVClient(c.conn(p.addr)))
	}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for seq := 1; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, seq%8)
				l.mu.Lock()
				if l.attempted[key] == nil {
					l.attempted[key] = map[int]bool{}
				}
				l.attempted[key][seq] = true
				l.mu.Unlock()
				// Spread over every node, the one about to die included:
				// its failures are ambiguous writes.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := kvs[(w+seq)%len(kvs)].Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte(strconv.Itoa(seq))})
				cancel()
				l.mu.Lock()
				if err == nil {
					l.lastAcked[key] = seq
					l.acks++
				} else {
					l.errs++
				}
				l.mu.Unlock()
			}
		}(w)
	}
	return l, &wg
}

// verify reads every key that had an acknowledged write: it must hold the
// newest acknowledged value or a later attempted (ambiguous) one.
func (l *ledger) verify(t *testing.T, kv pb.KVClient) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, acked := range l.lastAcked {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		resp, err := kv.Get(ctx, &pb.GetRequest{Key: []byte(key)})
		cancel()
		if err != nil {
			t.Fatalf("reading back %s: %v", key, err)
		}
		if !resp.Found {
			t.Fatalf("acknowledged write lost: %s is absent (last acknowledged value %d)", key, acked)
		}
		got, err := strconv.Atoi(string(resp.Value))
		if err != nil || !l.attempted[key][got] {
			t.Fatalf("%s = %q, a value nobody wrote", key, resp.Value)
		}
		if got < acked {
			t.Fatalf("acknowledged write lost: %s = %d, but %d was acknowledged later", key, got, acked)
		}
	}
	t.Logf("%d acknowledged writes (%d failed or ambiguous); %d keys read back intact", l.acks, l.errs, len(l.lastAcked))
}

// ---------------------------------------------------------------------------
// The test.

func TestProcessCluster(t *testing.T) {
	c := startProcCluster(t, 3)
	n1, n2, n3 := c.procs[0], c.procs[1], c.procs[2]

	stdout, stderr, code := c.run("init", "--host", n1.addr)
	if code != 0 || !strings.Contains(stdout, "initialized") {
		t.Fatalf("init: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	c.waitFor(45*time.Second, "every group to have 3 voters and a lease (meridian status --format json)", func() bool {
		st, err := c.cliStatus(n1.addr)
		return err == nil && replicatedWithLease(st, 3)
	})

	t.Run("second-init-fails", func(t *testing.T) {
		for _, p := range []*proc{n1, n2} {
			stdout, stderr, code := c.run("init", "--host", p.addr)
			if code == 0 {
				t.Fatalf("second init via %s succeeded: %s", p.name, stdout)
			}
			if !strings.Contains(stderr, "already initialized") {
				t.Fatalf("second init via %s: exit %d, stderr does not say the cluster is already initialized:\n%s", p.name, code, stderr)
			}
			t.Logf("second init via %s: exit %d: %s", p.name, code, strings.TrimSpace(stderr))
		}
	})

	t.Run("replication-through-cli", func(t *testing.T) {
		if _, stderr, code := c.run("kv", "put", "greeting", "hello meridian", "--host", n1.addr); code != 0 {
			t.Fatalf("kv put via n1: exit %d: %s", code, stderr)
		}
		stdout, stderr, code := c.run("kv", "get", "greeting", "--host", n3.addr)
		if code != 0 || stdout != "hello meridian\n" {
			t.Fatalf("kv get via n3: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if _, stderr, code := c.run("kv", "get", "no-such-key", "--host", n2.addr); code != 1 || !strings.Contains(stderr, "not found") {
			t.Fatalf("kv get of a missing key: exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("kv-txn-script", func(t *testing.T) {
		script := filepath.Join(t.TempDir(), "transfer.txt")
		if err := os.WriteFile(script, []byte("# a read, a write, and a read of the write\nget greeting\nput farewell goodbye\nget farewell\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := c.run("kv", "txn", script, "--host", n2.addr)
		if code != 0 || !strings.HasPrefix(stdout, "greeting\thello meridian\nfarewell\tgoodbye\ncommitted at ") {
			t.Fatalf("kv txn: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		var ts int64
		if _, err := fmt.Sscanf(stdout[strings.LastIndex(stdout, "committed at "):], "committed at %d", &ts); err != nil {
			t.Fatalf("kv txn output %q: %v", stdout, err)
		}
		// A snapshot read just below the commit still sees the greeting.
		stdout, stderr, code = c.run("kv", "txn", script, "--at", strconv.FormatInt(ts-1, 10), "--host", n3.addr)
		if code == 0 || !strings.Contains(stderr, "read-only transaction cannot write") {
			t.Fatalf("kv txn --at with writes: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		ro := filepath.Join(t.TempDir(), "read.txt")
		_ = os.WriteFile(ro, []byte("get greeting\nget farewell\n"), 0o644)
		stdout, stderr, code = c.run("kv", "txn", ro, "--at", strconv.FormatInt(ts-1, 10), "--host", n3.addr)
		if code != 0 || !strings.HasPrefix(stdout, "greeting\thello meridian\nfarewell\t(not found)\n") {
			t.Fatalf("kv txn --at %d: exit %d, stdout %q, stderr %q", ts-1, code, stdout, stderr)
		}
		bad := filepath.Join(t.TempDir(), "bad.txt")
		_ = os.WriteFile(bad, []byte("get a\nfrobnicate b\n"), 0o644)
		if _, stderr, code := c.run("kv", "txn", bad, "--host", n1.addr); code == 0 || !strings.Contains(stderr, "bad.txt:2") {
			t.Fatalf("kv txn with a bad line: exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("second-start-on-store-fails-fast", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, c.bin, "start", "--store", n1.store, "--listen", freePort(t), "--http-addr", freePort(t))
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("a second start on %s kept running instead of failing:\n%s", n1.store, out)
		}
		if err == nil {
			t.Fatalf("a second start on %s exited 0:\n%s", n1.store, out)
		}
		if !strings.Contains(string(out), n1.store) {
			t.Fatalf("a second start on a store in use failed without naming the store %s:\n%s", n1.store, out)
		}
		t.Logf("second start on the same store: %v: %s", err, strings.TrimSpace(string(out)))
		// The first process is unharmed.
		if !n1.running() {
			t.Fatalf("n1 exited: %v", n1.waitErr)
		}
	})

	var killed *proc
	var killedID uint64
	t.Run("sigkill-leader-under-writes", func(t *testing.T) {
		st, err := c.grpcStatus(n2.addr, false)
		if err != nil {
			t.Fatal(err)
		}
		g := groupStatus(st, firstUserGroup)
		if g == nil || g.LeaderNode == 0 {
			t.Fatalf("no leader of group %d in %v", firstUserGroup, st)
		}
		killedID = g.LeaderNode
		killed = c.byNodeID(st, killedID)
		if killed == nil {
			t.Fatalf("no process has node %d's address", killedID)
		}
		stop := make(chan struct{})
		l, wg := runProcWriters(c, 6, stop)
		defer func() {
			select {
			case <-stop:
			default:
				close(stop)
			}
			wg.Wait()
		}()
		c.waitFor(20*time.Second, "writes before the kill", func() bool { return l.ackCount() > 100 })
		t.Logf("SIGKILL %s (node %d, leader of group %d)", killed.name, killedID, firstUserGroup)
		killed.kill()
		atKill := l.ackCount()
		var survivor *proc
		for _, p := range c.procs {
			if p != killed {
				survivor = p
				break
			}
		}
		c.waitFor(30*time.Second, "a new leaseholder of group 2", func() bool {
			st, err := c.grpcStatus(survivor.addr, false)
			if err != nil {
				return false
			}
			g := groupStatus(st, firstUserGroup)
			return g != nil && g.LeaseValid && g.LeaderNode != 0 && g.LeaderNode != killedID
		})
		c.waitFor(30*time.Second, "writes to continue under the new leader", func() bool { return l.ackCount() > atKill+100 })
		close(stop)
		wg.Wait()
		l.verify(t, pb.NewKVClient(c.conn(survivor.addr)))
	})
	if killed == nil {
		t.FailNow()
	}

	t.Run("restart-rejoins-and-catches-up", func(t *testing.T) {
		c.start(killed)
		c.waitServing(killed)
		var leaderApplied uint64
		var leader *proc
		c.waitFor(30*time.Second, "the restarted node to report its old identity and group 2's leader to be known", func() bool {
			st, err := c.grpcStatus(killed.addr, true)
			if err != nil || st.NodeId == 0 {
				return false
			}
			if st.NodeId != killedID {
				t.Fatalf("restarted %s came back as node %d, was node %d", killed.name, st.NodeId, killedID)
			}
			for _, p := range c.procs {
				if p == killed {
					continue
				}
				lst, err := c.grpcStatus(p.addr, true)
				if err != nil {
					continue
				}
				if g := groupStatus(lst, firstUserGroup); g != nil && g.LeaderNode == lst.NodeId && g.LeaseValid {
					leader, leaderApplied = p, g.AppliedIndex
					return true
				}
			}
			return false
		})
		t.Logf("group 2 leader %s applied index %d", leader.name, leaderApplied)
		c.waitFor(30*time.Second, fmt.Sprintf("%s to apply group 2 up to %d", killed.name, leaderApplied), func() bool {
			st, err := c.grpcStatus(killed.addr, true)
			if err != nil {
				return false
			}
			g := groupStatus(st, firstUserGroup)
			return g != nil && g.AppliedIndex >= leaderApplied
		})
		c.waitFor(30*time.Second, "every group to have 3 voters and a lease again", func() bool {
			st, err := c.cliStatus(killed.addr)
			return err == nil && replicatedWithLease(st, 3) && len(st.Nodes) == 3
		})
		// Through the restarted node, the CLI still reads what was written
		// before the kill.
		stdout, stderr, code := c.run("kv", "get", "greeting", "--host", killed.addr)
		if code != 0 || stdout != "hello meridian\n" {
			t.Fatalf("kv get via restarted %s: exit %d, stdout %q, stderr %q", killed.name, code, stdout, stderr)
		}
	})

	t.Run("sigterm-exits-zero", func(t *testing.T) {
		p := n3
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not exit within 20s of SIGTERM", p.name)
		}
		if p.waitErr != nil {
			t.Fatalf("%s exited after SIGTERM with %v, want status 0", p.name, p.waitErr)
		}
		if !logMentions(p.logPath, "shutting down") {
			t.Errorf("%s's log does not record the shutdown", p.name)
		}
	})
}

func logMentions(path, s string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}
