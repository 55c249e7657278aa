package main

// Transaction fault runs against real processes (DESIGN.md §6): three
// `meridian start` processes on loopback, the user keyspace split into six
// groups, eight clients, and a nemesis that every 1–3 s SIGKILLs and
// restarts a process, SIGSTOPs one for a few seconds, isolates one from the
// others (faultnet_test.go), or forces a leader transfer. The list-append
// run is checked by elle for strict serializability including real time;
// the bank run checks that transfers across groups keep the total constant
// and no balance negative.
//
// How the clients talk to the processes (gRPC only):
//   - read-write list-append transactions run in a txn.Client in the test
//     process (faultnet_test.go): an append reads the list and writes it
//     back extended, which a KV.Txn script cannot express (its PUT values
//     are fixed before the script runs, and it has no append or
//     compare-and-set op). The client calls the nodes' Txn service: locking
//     reads, prepares and decisions at the group leaders, so SIGKILL and
//     SIGSTOP hit participants and coordinators mid-commit;
//   - read-write transactions that only read, and read-only snapshot
//     transactions, go through KV.Txn to a random process, which runs them
//     as gateway (snapshot reads at its own replica first);
//   - more snapshot transactions run in the test's txn.Client with a random
//     node as "nearest" replica.
//
// Outcomes: ok; failed when the error says the transaction certainly did
// not commit (gRPC Aborted, the retryable class); unknown (elle's Info,
// maybe committed) for everything else: Unavailable, Unknown (ambiguous),
// DeadlineExceeded, a connection cut by SIGKILL.
//
// MERIDIAN_SOAK=1 (make soak) makes both runs last five minutes, the
// list-append one longer if it has not committed 10,000 transactions yet.
// MERIDIAN_SEED replays a seed (the schedule of faults and operations; the
// interleaving is real time and differs).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/elle"
	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/txn"
)

// faultSplits cut the user keyspace into six groups: [.., b), [b, c), ...,
// [f, ..). Keys starting with a..f land in one group each.
var faultSplits = []string{"b", "c", "d", "e", "f"}

func soak() bool { return os.Getenv("MERIDIAN_SOAK") != "" }

// faultSeed is the run's seed: MERIDIAN_SEED, or the clock.
func faultSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MERIDIAN_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MERIDIAN_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with MERIDIAN_SEED=%d)", seed, seed)
	return seed
}

// outcomeOf classifies a transaction's result: only the retryable class
// (gRPC Aborted) says that nothing was committed.
func outcomeOf(err error) elle.Outcome {
	switch {
	case err == nil:
		return elle.OK
	case txn.IsRetryable(err):
		return elle.Fail
	}
	return elle.Info
}

// tally counts outcomes of one kind of transaction.
type tally struct{ ok, fail, info atomic.Int64 }

func (t *tally) add(o elle.Outcome) {
	switch o {
	case elle.OK:
		t.ok.Add(1)
	case elle.Fail:
		t.fail.Add(1)
	default:
		t.info.Add(1)
	}
}

func (t *tally) String() string {
	return fmt.Sprintf("%d ok / %d failed / %d unknown", t.ok.Load(), t.fail.Load(), t.info.Load())
}

// ---------------------------------------------------------------------------
// The nemesis.

// procNemesis injects one fault at a time, 1–3 s apart, and always undoes
// it (restart, SIGCONT, heal) before the next one or before returning.
type procNemesis struct {
	t  *testing.T
	fc *faultCluster
	// up[i] is false while process i is killed: clients skip it as gateway.
	up     []atomic.Bool
	counts struct{ kill, pause, partition, transfer, transferErr atomic.Int64 }
	errs   chan string
}

func newProcNemesis(t *testing.T, fc *faultCluster) *procNemesis {
	n := &procNemesis{t: t, fc: fc, up: make([]atomic.Bool, len(fc.procs)), errs: make(chan string, 16)}
	for i := range n.up {
		n.up[i].Store(true)
	}
	return n
}

func (n *procNemesis) total() int64 {
	return n.counts.kill.Load() + n.counts.pause.Load() + n.counts.partition.Load() + n.counts.transfer.Load()
}

func (n *procNemesis) String() string {
	return fmt.Sprintf("%d faults: %d SIGKILL+restart, %d SIGSTOP/SIGCONT, %d partitions, %d leader transfers (%d refused)",
		n.total(), n.counts.kill.Load(), n.counts.pause.Load(), n.counts.partition.Load(),
		n.counts.transfer.Load(), n.counts.transferErr.Load())
}

// upNode returns a random process that is not killed.
func (n *procNemesis) upNode(rng *rand.Rand) int {
	for {
		i := rng.IntN(len(n.up))
		if n.up[i].Load() {
			return i
		}
	}
}

func (n *procNemesis) fail(format string, args ...any) {
	select {
	case n.errs <- fmt.Sprintf(format, args...):
	default:
	}
}

// run injects faults until stop is closed.
func (n *procNemesis) run(seed uint64, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(seed, 999))
	wait := func(d time.Duration) bool {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-stop:
			return false
		case <-tm.C:
			return true
		}
	}
	for i := 0; ; i++ {
		if !wait(time.Duration(1000+rng.IntN(2000)) * time.Millisecond) {
			return
		}
		n.checkAlive()
		node := rng.IntN(len(n.fc.procs))
		name := n.fc.procs[node].name
		switch k := rng.IntN(100); {
		case k < 25:
			n.t.Logf("nemesis %d: SIGKILL %s", i, name)
			n.counts.kill.Add(1)
			n.up[node].Store(false)
			n.fc.procs[node].kill()
			wait(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
			n.restart(node)
			n.up[node].Store(true)
		case k < 50:
			d := time.Duration(1500+rng.IntN(2500)) * time.Millisecond
			n.t.Logf("nemesis %d: SIGSTOP %s for %v", i, name, d)
			n.counts.pause.Add(1)
			if err := n.fc.signal(node, syscall.SIGSTOP); err != nil {
				n.fail("SIGSTOP %s: %v", name, err)
			}
			wait(d)
			if err := n.fc.signal(node, syscall.SIGCONT); err != nil {
				n.fail("SIGCONT %s: %v", name, err)
			}
		case k < 70:
			d := time.Duration(1000+rng.IntN(2000)) * time.Millisecond
			n.t.Logf("nemesis %d: isolate %s from the other nodes for %v", i, name, d)
			n.counts.partition.Add(1)
			n.fc.isolate(node)
			wait(d)
			n.fc.isolate(-1)
		default:
			n.transfer(i, rng, node)
		}
	}
}

// checkAlive reports a process that exited without being killed (a node
// panics on a broken invariant) and starts it again, so that a later
// SIGKILL cannot hide the crash.
func (n *procNemesis) checkAlive() {
	for i, p := range n.fc.procs {
		if !p.running() {
			n.fail("%s exited on its own: %v (see %s)", p.name, p.waitErr, p.logPath)
			n.restart(i)
		}
	}
}

// restart starts a killed process again and waits until it serves.
func (n *procNemesis) restart(i int) {
	p := n.fc.procs[i]
	if err := n.fc.relaunch(i); err != nil {
		n.fail("%v", err)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !n.fc.serving(i) {
		if !p.running() {
			n.fail("%s exited after its restart: %v", p.name, p.waitErr)
			return
		}
		if time.Now().After(deadline) {
			n.fail("%s does not serve 30s after its restart", p.name)
			return
		}
		<-tick.C
	}
}

func (n *procNemesis) transfer(i int, rng *rand.Rand, target int) {
	g := n.fc.groups[rng.IntN(len(n.fc.groups))]
	via := n.upNode(rng)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := n.fc.admin(via).TransferLeader(ctx, &pb.TransferLeaderRequest{GroupId: g, TargetNode: n.fc.ids[target]})
	cancel()
	n.counts.transfer.Add(1)
	if err != nil {
		n.counts.transferErr.Add(1)
	}
	n.t.Logf("nemesis %d: transfer group %d's leadership to %s: err=%v", i, g, n.fc.procs[target].name, err)
}

// startNemesis runs the nemesis until the returned function is called.
func startNemesis(n *procNemesis, seed uint64) (stop func()) {
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); n.run(seed, ch) }()
	return func() { close(ch); <-done }
}

// settle waits, after the faults, until every process serves and every
// group has three voters and a lease, and checks that no process exited on
// its own (a node panics on a broken invariant).
func (fc *faultCluster) settle(n *procNemesis) {
	t := fc.t
	t.Helper()
	for drained := false; !drained; {
		select {
		case e := <-n.errs:
			t.Errorf("nemesis: %s", e)
		default:
			drained = true
		}
	}
	for i, p := range fc.procs {
		if !p.running() {
			t.Fatalf("%s is not running: %v", p.name, p.waitErr)
		}
		fc.waitFor(30*time.Second, p.name+" to serve", func() bool { return fc.serving(i) })
	}
	var last string
	fc.waitFor(60*time.Second, "every group to have 3 voters and a lease after the faults", func() bool {
		st, err := fc.status(0)
		if err != nil {
			last = err.Error()
			return false
		}
		last = unsettled(st, 3)
		return len(st.Nodes) == len(fc.procs) && replicatedWithLease(st, 3)
	}, func() string { return "last status: " + last }, fc.localViews)
	t.Logf("partitions cut %d node-to-node connections and refused %d; %d connections came from an unidentified process",
		fc.cutConns.Load(), fc.refusedConns.Load(), fc.unknownSources.Load())
}

// localViews describes what each process reports about its own replicas
// of the groups without a leader or lease, for a settle that timed out.
func (fc *faultCluster) localViews() string {
	var b strings.Builder
	for i, p := range fc.procs {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := fc.admin(i).Status(ctx, &pb.StatusRequest{LocalOnly: true})
		cancel()
		if err != nil {
			fmt.Fprintf(&b, "\n%s: %v", p.name, err)
			continue
		}
		fmt.Fprintf(&b, "\n%s (node %d):", p.name, st.NodeId)
		for _, g := range st.Groups {
			if !g.LeaseValid {
				fmt.Fprintf(&b, " group %d leader node %d term %d commit %d applied %d;",
					g.Descriptor_.GetGroupId(), g.LeaderNode, g.Term, g.CommitIndex, g.AppliedIndex)
			}
		}
	}
	return b.String()
}

// runFor lets a workload run until enough holds (checked every second)
// and at least minDur passed, or maxDur passed. It reports whether enough
// was reached.
func runFor(minDur, maxDur time.Duration, enough func() bool) bool {
	start := time.Now()
	tick := time.NewTicker(time.Second) // pacing of the check, not a wait for it
	defer tick.Stop()
	for {
		<-tick.C
		el := time.Since(start)
		if el >= minDur && enough() {
			return true
		}
		if el >= maxDur {
			return false
		}
	}
}

// clientTimeout is a transaction's deadline: 1.5–5 s, so that some
// transactions give up while a process is paused (1.5–4 s) and learn
// nothing about their outcome.
func clientTimeout(rng *rand.Rand) time.Duration {
	return time.Duration(1500+rng.IntN(3500)) * time.Millisecond
}

// ---------------------------------------------------------------------------
// List-append.

// procAppendRun is the list-append workload against the processes.
type procAppendRun struct {
	t      *testing.T
	fc     *faultCluster
	nem    *procNemesis
	router *procRouter
	clock  *truetime.TrueTime
	seed   uint64
	start  time.Time
	rec    elle.Recorder
	next   atomic.Int64 // the last appended value
	begun  atomic.Int64 // transactions begun: picks the key generation
	mu     struct {
		sync.Mutex
		keys map[string]bool // every key used
	}
	rwClient, rwScript, roScript, roClient tally
	// lateAcks counts commits acknowledged before true time (the shared
	// system clock) passed their timestamp (invariant 3).
	lateAcks atomic.Int64
}

// appendKeysPerGen keys are in use at a time, two per group; a new
// generation starts every appendGenTxns transactions so lists stay short.
const (
	appendKeysPerGen = 12
	appendGenTxns    = 1500
)

func (r *procAppendRun) mono() int64 { return int64(time.Since(r.start)) }

func (r *procAppendRun) key(rng *rand.Rand, gen int64) string {
	k := rng.IntN(appendKeysPerGen)
	key := fmt.Sprintf("%c%d/%d", 'a'+k/2, k%2, gen)
	r.mu.Lock()
	r.mu.keys[key] = true
	r.mu.Unlock()
	return key
}

// ops returns 1–4 micro-ops; appends only if writes.
func (r *procAppendRun) ops(rng *rand.Rand, writes bool) []elle.Op {
	gen := r.begun.Add(1) / appendGenTxns
	var ops []elle.Op
	for range 1 + rng.IntN(4) {
		k := r.key(rng, gen)
		if writes && rng.IntN(2) == 0 {
			ops = append(ops, elle.Append(k, int(r.next.Add(1))))
		} else {
			ops = append(ops, elle.Op{Kind: elle.OpRead, Key: k})
		}
	}
	return ops
}

func (r *procAppendRun) record(proc int, kind *tally, invoke int64, ops, done []elle.Op, ts int64, err error) {
	h := elle.Txn{Process: proc, Invoke: invoke, Complete: r.mono(), Ops: ops, Outcome: outcomeOf(err)}
	if h.Outcome == elle.OK {
		h.Ops, h.CommitTS = done, ts
		if hasAppends(ops) && ts >= time.Now().UnixNano() {
			r.lateAcks.Add(1)
		}
	}
	kind.add(h.Outcome)
	r.rec.Add(h)
}

func hasAppends(ops []elle.Op) bool {
	return slices.ContainsFunc(ops, func(op elle.Op) bool { return op.Kind == elle.OpAppend })
}

func (r *procAppendRun) worker(id int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(id)))
	for {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout(rng))
		switch k := rng.IntN(100); {
		case k < 50:
			r.clientTxn(ctx, id, rng, false)
		case k < 62:
			r.scriptTxn(ctx, id, rng, false)
		case k < 90:
			r.scriptTxn(ctx, id, rng, true)
		default:
			r.clientTxn(ctx, id, rng, true)
		}
		cancel()
	}
}

// clientTxn runs a transaction in the test's txn.Client: read-write with
// appends, or a snapshot read preferring a random replica.
func (r *procAppendRun) clientTxn(ctx context.Context, id int, rng *rand.Rand, readOnly bool) {
	ops := r.ops(rng, !readOnly)
	var self uint64
	kind := &r.rwClient
	if readOnly {
		self, kind = r.fc.ids[rng.IntN(len(r.fc.ids))], &r.roClient
	}
	invoke := r.mono()
	var done []elle.Op
	var ts int64
	tx, err := r.router.client(r.clock, self).Begin(ctx, txn.Options{ReadOnly: readOnly})
	if err == nil {
		if done, err = runAppendOps(ctx, tx, ops); err == nil {
			ts, err = tx.Commit(ctx)
		} else {
			tx.Rollback(ctx)
		}
	}
	r.record(id, kind, invoke, ops, done, ts, err)
}

// scriptTxn reads 1–4 keys in one KV.Txn call to a random live process:
// a read-write transaction (locking reads) or a snapshot one.
func (r *procAppendRun) scriptTxn(ctx context.Context, id int, rng *rand.Rand, readOnly bool) {
	ops := r.ops(rng, false)
	node := r.nem.upNode(rng)
	req := &pb.TxnScriptRequest{ReadOnly: readOnly}
	for _, op := range ops {
		req.Ops = append(req.Ops, &pb.TxnScriptOp{Kind: pb.TxnScriptOp_GET, Key: []byte(op.Key)})
	}
	kind := &r.rwScript
	if readOnly {
		kind = &r.roScript
	}
	invoke := r.mono()
	resp, err := r.fc.kv(node).Txn(ctx, req)
	var done []elle.Op
	var ts int64
	if err == nil {
		if len(resp.Results) != len(ops) {
			r.t.Errorf("KV.Txn via %s: %d results for %d ops", r.fc.procs[node].name, len(resp.Results), len(ops))
			return
		}
		for i, op := range ops {
			done = append(done, elle.Read(op.Key, decodeList(resp.Results[i].Value)...))
		}
		ts = resp.CommitTs
	}
	r.record(id, kind, invoke, ops, done, ts, err)
}

// runAppendOps runs ops in tx: an append reads the list and writes it back
// extended (buffered until commit; later reads in tx see it).
func runAppendOps(ctx context.Context, tx *txn.Txn, ops []elle.Op) ([]elle.Op, error) {
	out := make([]elle.Op, len(ops))
	for i, op := range ops {
		v, _, err := tx.Get(ctx, []byte(op.Key))
		if err != nil {
			return nil, err
		}
		l := decodeList(v)
		if op.Kind == elle.OpRead {
			out[i] = elle.Read(op.Key, l...)
			continue
		}
		if err := tx.Put([]byte(op.Key), encodeList(append(l, op.Value))); err != nil {
			return nil, err
		}
		out[i] = op
	}
	return out, nil
}

func decodeList(v []byte) []int {
	if len(v) == 0 {
		return nil
	}
	var out []int
	for _, f := range strings.Split(string(v), ",") {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

func encodeList(l []int) []byte {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = strconv.Itoa(v)
	}
	return []byte(strings.Join(s, ","))
}

// finalReads reads every key used, after the faults: a locking read-write
// script (retried until it commits) and a snapshot through each process.
// Appends that no read observed would otherwise go unchecked.
func (r *procAppendRun) finalReads() {
	r.mu.Lock()
	keys := make([]string, 0, len(r.mu.keys))
	for k := range r.mu.keys {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	slices.Sort(keys)
	read := func(node int, readOnly bool) error {
		req := &pb.TxnScriptRequest{ReadOnly: readOnly}
		var ops []elle.Op
		for _, k := range keys {
			req.Ops = append(req.Ops, &pb.TxnScriptOp{Kind: pb.TxnScriptOp_GET, Key: []byte(k)})
			ops = append(ops, elle.Op{Kind: elle.OpRead, Key: k})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		invoke := r.mono()
		resp, err := r.fc.kv(node).Txn(ctx, req)
		var done []elle.Op
		var ts int64
		if err == nil {
			for i, k := range keys {
				done = append(done, elle.Read(k, decodeList(resp.Results[i].Value)...))
			}
			ts = resp.CommitTs
		}
		kind := &r.rwScript
		if readOnly {
			kind = &r.roScript
		}
		r.record(-1-node, kind, invoke, ops, done, ts, err)
		return err
	}
	ok := false
	for attempt := 0; attempt < 10 && !ok; attempt++ {
		ok = read(attempt%len(r.fc.procs), false) == nil
	}
	if !ok {
		r.t.Errorf("the final locking read of all %d keys never committed", len(keys))
	}
	// A process restarted by the last fault may still be catching up on
	// a loaded machine (the whole suite shares two cores): its snapshot
	// read waits for its replicas to apply what the leaders closed. Three
	// attempts of 10 s each; every attempt is in the history.
	for i := range r.fc.procs {
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if err = read(i, true); err == nil {
				break
			}
		}
		if err != nil {
			r.t.Errorf("final snapshot read via %s failed three times, last: %v", r.fc.procs[i].name, err)
		}
	}
}

// TestProcessTxnListAppendFault: list-append transactions over six groups,
// with snapshot transactions through random processes, are strictly
// serializable while processes are SIGKILLed and restarted, SIGSTOPped,
// isolated, and leaders are moved.
func TestProcessTxnListAppendFault(t *testing.T) {
	const clients = 8
	fc := startFaultCluster(t, faultSplits)
	r := &procAppendRun{t: t, fc: fc, nem: newProcNemesis(t, fc), router: newProcRouter(fc),
		clock: newTestClock(t), seed: faultSeed(t), start: time.Now()}
	r.mu.keys = map[string]bool{}
	stopNem := startNemesis(r.nem, r.seed)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); r.worker(i, stop) }()
	}
	minDur, maxDur, want := 10*time.Second, 10*time.Second, int64(0)
	if soak() {
		minDur, maxDur, want = 5*time.Minute, 40*time.Minute, 10_000
	}
	committed := func() int64 {
		return r.rwClient.ok.Load() + r.rwScript.ok.Load() + r.roScript.ok.Load() + r.roClient.ok.Load()
	}
	reached := runFor(minDur, maxDur, func() bool { return committed() >= want })
	stopNem()
	close(stop)
	wg.Wait()
	fc.settle(r.nem)
	r.finalReads()

	h := r.rec.History()
	t.Logf("seed %d: %d transactions, %d committed (%d read-only); read-write via the test's client %v; "+
		"read-write (locking reads) via KV.Txn %v; snapshot via KV.Txn %v; snapshot via the test's client %v",
		r.seed, len(h), committed(), r.roScript.ok.Load()+r.roClient.ok.Load(), &r.rwClient, &r.rwScript, &r.roScript, &r.roClient)
	t.Logf("nemesis: %v", r.nem)
	res, err := elle.Check(h, elle.Options{})
	if err != nil {
		t.Fatalf("elle: %v", err)
	}
	if !res.Valid {
		t.Fatalf("seed %d: history of %d transactions is not strictly serializable:\n%s", r.seed, len(h), res.String())
	}
	t.Logf("elle: %s", strings.TrimSpace(res.String()))
	if n := r.lateAcks.Load(); n > 0 {
		t.Errorf("%d commits acknowledged before true time passed their timestamp", n)
	}
	if !reached {
		t.Fatalf("seed %d: only %d transactions committed in %v, want %d", r.seed, committed(), maxDur, want)
	}
	if r.rwClient.ok.Load() < 30 || r.roScript.ok.Load() < 10 {
		t.Fatalf("seed %d: too little committed to mean anything: %v read-write, %v snapshot", r.seed, &r.rwClient, &r.roScript)
	}
}
