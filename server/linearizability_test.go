package server_test

// Linearizability of single-key operations under faults, checked with
// porcupine. The run is split in three, as in kvnemesis:
//
//   - the generator turns a seed into a plan: which keys, how many clients,
//     and a fault schedule (isolate the leader, stop/restart a node,
//     transfer leadership, split a range), each fault held for 0.5–1 s;
//   - the applier runs the plan against a servertest cluster: N clients
//     doing puts of unique values and gets on a few keys through random
//     nodes, while a nemesis applies the schedule; it records every
//     operation's call and return time;
//   - the validator checks the history against a per-key register model.
//
// A put whose outcome the client cannot know (any error but a bad
// argument: ambiguous result, deadline, unavailable after sending, ...)
// is recorded as possibly applied: it returns at +∞, so porcupine may
// place it anywhere after its call or never. Failed gets are dropped.
//
// The negative control breaks the system on purpose (reads served by a
// partitioned follower without a lease) and asserts that the checker says
// Illegal.
//
// Replay a run with MERIDIAN_SEED=<seed>; MERIDIAN_SOAK=1 runs longer.

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/server/servertest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ---------------------------------------------------------------------------
// Model.

type regOpKind int

const (
	regGet regOpKind = iota
	regPut
)

// regInput is a porcupine operation input.
type regInput struct {
	kind  regOpKind
	key   string
	value string // put only
}

// regOutput is a get's result (puts have none).
type regOutput struct {
	value string
	found bool
}

// registerModel is a map of independent registers, partitioned by key; the
// per-partition state is the register's value ("" = absent; puts never
// write "").
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(regInput).key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st, in := state.(string), input.(regInput)
		if in.kind == regPut {
			return true, in.value
		}
		out := output.(regOutput)
		if !out.found {
			return st == "", st
		}
		return out.value == st, st
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(regInput)
		if in.kind == regPut {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		out := output.(regOutput)
		if !out.found {
			return fmt.Sprintf("get(%s) -> <none>", in.key)
		}
		return fmt.Sprintf("get(%s) -> %s", in.key, out.value)
	},
	DescribeState: func(state interface{}) string {
		if state.(string) == "" {
			return "<none>"
		}
		return state.(string)
	},
}

// ---------------------------------------------------------------------------
// Generator.

type faultKind int

const (
	faultNone faultKind = iota
	faultIsolateLeader
	faultRestartNode
	faultTransferLeader
	faultSplit
)

func (k faultKind) String() string {
	return [...]string{"none", "isolate-leader", "restart-node", "transfer-leader", "split"}[k]
}

// faultStep is one entry of the schedule: apply the fault, hold it, undo
// it (heal, restart). The node is an index chosen by the generator; the
// applier resolves "the leader" at run time.
type faultStep struct {
	kind     faultKind
	hold     time.Duration
	node     int    // restart: which node; transfer: target (skipped if it leads)
	splitKey string // split
}

type linPlan struct {
	seed     int64
	nodes    int
	clients  int
	keys     []string
	duration time.Duration
	faults   []faultStep
}

func generateLinPlan(seed int64, duration time.Duration, withFaults bool) linPlan {
	rng := rand.New(rand.NewSource(seed))
	p := linPlan{seed: seed, nodes: 3, clients: 8 + rng.Intn(5), duration: duration}
	nkeys := 5 + rng.Intn(4)
	for i := 0; i < nkeys; i++ {
		p.keys = append(p.keys, fmt.Sprintf("k%d", i))
	}
	if !withFaults {
		return p
	}
	for total := time.Duration(0); total < duration; {
		s := faultStep{hold: 500*time.Millisecond + time.Duration(rng.Int63n(int64(500*time.Millisecond)))}
		switch x := rng.Intn(10); {
		case x < 3:
			s.kind = faultIsolateLeader
		case x < 5:
			s.kind = faultRestartNode
			s.node = rng.Intn(p.nodes)
		case x < 7:
			s.kind = faultTransferLeader
			s.node = rng.Intn(p.nodes)
		case x < 8:
			s.kind = faultSplit
			s.splitKey = p.keys[1+rng.Intn(nkeys-1)]
		default:
			s.kind = faultNone
		}
		p.faults = append(p.faults, s)
		total += s.hold
	}
	return p
}

// ---------------------------------------------------------------------------
// Applier.

// linTarget decides where a client sends an operation: a node index and,
// for the negative control, an explicit routing that makes that node serve
// the read from its own replica.
type linTarget func(rng *rand.Rand, kind regOpKind) (node int, routing *pb.Routing)

type linRun struct {
	t      *testing.T
	c      *servertest.Cluster
	plan   linPlan
	kvs    []pb.KVClient
	admins []pb.AdminClient
	up     []atomic.Bool
	start  time.Time

	ambiguousPuts atomic.Int64
	failedGets    atomic.Int64
}

func newLinRun(t *testing.T, c *servertest.Cluster, plan linPlan) *linRun {
	r := &linRun{t: t, c: c, plan: plan, up: make([]atomic.Bool, plan.nodes)}
	for i := 0; i < plan.nodes; i++ {
		r.kvs = append(r.kvs, c.KV(i))
		r.admins = append(r.admins, c.Admin(i))
		r.up[i].Store(true)
	}
	return r
}

// randomUpNode picks a running node (any node if none is marked up).
func (r *linRun) randomUpNode(rng *rand.Rand) int {
	var cands []int
	for i := range r.up {
		if r.up[i].Load() {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return rng.Intn(len(r.up))
	}
	return cands[rng.Intn(len(cands))]
}

func (r *linRun) now() int64 { return int64(time.Since(r.start)) }

// client runs random operations until stop closes and returns its history.
func (r *linRun) client(id int, stop <-chan struct{}, target linTarget) []porcupine.Operation {
	rng := rand.New(rand.NewSource(r.plan.seed*1000 + int64(id) + 1))
	var ops []porcupine.Operation
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return ops
		default:
		}
		key := r.plan.keys[rng.Intn(len(r.plan.keys))]
		kind := regGet
		if rng.Intn(2) == 0 {
			kind = regPut
		}
		node, routing := target(rng, kind)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if kind == regPut {
			in := regInput{kind: regPut, key: key, value: fmt.Sprintf("c%d-%d", id, seq)}
			call := r.now()
			_, err := r.kvs[node].Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte(in.value)})
			ret := r.now()
			if err != nil {
				if status.Code(err) == codes.InvalidArgument {
					r.t.Errorf("client %d: put refused as invalid: %v", id, err)
				}
				// Possibly applied: it may take effect at any time after
				// its call, or never.
				ret = math.MaxInt64
				r.ambiguousPuts.Add(1)
			}
			ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: regOutput{}, Return: ret,
				Metadata: fmt.Sprintf("node %d", node+1)})
		} else {
			call := r.now()
			resp, err := r.kvs[node].Get(ctx, &pb.GetRequest{Key: []byte(key), Routing: routing})
			ret := r.now()
			if err != nil {
				r.failedGets.Add(1)
			} else {
				ops = append(ops, porcupine.Operation{ClientId: id, Input: regInput{kind: regGet, key: key}, Call: call,
					Output: regOutput{value: string(resp.Value), found: resp.Found}, Return: ret,
					Metadata: fmt.Sprintf("node %d", node+1)})
			}
		}
		cancel()
	}
}

// nemesis applies the fault schedule until it ends or stop closes, and
// leaves the cluster healed with every node running.
func (r *linRun) nemesis(stop <-chan struct{}) {
	t, c := r.t, r.c
	rng := rand.New(rand.NewSource(r.plan.seed))
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
	for i, s := range r.plan.faults {
		switch s.kind {
		case faultNone:
			t.Logf("nemesis %d: nothing for %s", i, s.hold)
			if !wait(s.hold) {
				return
			}
		case faultIsolateLeader:
			l := c.LeaderOf(paxosgroup.FirstUserGroupID)
			if l < 0 {
				t.Logf("nemesis %d: isolate-leader skipped, no leaseholder of group 2", i)
				if !wait(s.hold) {
					return
				}
				continue
			}
			var others []uint64
			for j := 0; j < r.plan.nodes; j++ {
				if j != l {
					others = append(others, c.NodeID(j))
				}
			}
			t.Logf("nemesis %d: isolate node %d (leader of group 2) for %s", i, l+1, s.hold)
			c.Faults.Isolate(c.NodeID(l), others...)
			ok := wait(s.hold)
			c.Faults.Heal()
			if !ok {
				return
			}
		case faultRestartNode:
			t.Logf("nemesis %d: stop node %d for %s", i, s.node+1, s.hold)
			r.up[s.node].Store(false)
			c.StopNode(s.node)
			ok := wait(s.hold)
			c.StartNode(s.node)
			r.up[s.node].Store(true)
			if !ok {
				return
			}
		case faultTransferLeader:
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err := r.admins[r.randomUpNode(rng)].TransferLeader(ctx,
				&pb.TransferLeaderRequest{GroupId: paxosgroup.FirstUserGroupID, TargetNode: c.NodeID(s.node)})
			cancel()
			t.Logf("nemesis %d: transfer leadership of group 2 to node %d: err=%v", i, s.node+1, err)
			if !wait(s.hold) {
				return
			}
		case faultSplit:
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err := r.admins[r.randomUpNode(rng)].Split(ctx,
				&pb.SplitRequest{SplitKey: []byte(s.splitKey)})
			cancel()
			t.Logf("nemesis %d: split at %q: err=%v", i, s.splitKey, err)
			if !wait(s.hold) {
				return
			}
		}
	}
}

// apply runs the clients (and the nemesis, if withNemesis) for the plan's
// duration and returns the merged history.
func (r *linRun) apply(target linTarget, withNemesis bool) []porcupine.Operation {
	r.start = time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	histories := make([][]porcupine.Operation, r.plan.clients)
	for i := 0; i < r.plan.clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			histories[i] = r.client(i, stop, target)
		}(i)
	}
	nemesisDone := make(chan struct{})
	go func() {
		defer close(nemesisDone)
		if withNemesis {
			r.nemesis(stop)
		}
	}()
	tm := time.NewTimer(r.plan.duration)
	<-tm.C
	close(stop)
	wg.Wait()
	<-nemesisDone
	var all []porcupine.Operation
	for _, h := range histories {
		all = append(all, h...)
	}
	return all
}

// ---------------------------------------------------------------------------
// Validator.

// pruneUnobservedPuts drops possibly-applied puts whose value no get
// returned. That is exact, not an approximation: a write that nobody read
// is, in any linearization, directly followed by another write or by the
// end of the history, so a linearization without it exists whenever one
// with it does; and porcupine may already place an op returning at +∞
// after everything else. It keeps the search small.
func pruneUnobservedPuts(ops []porcupine.Operation) []porcupine.Operation {
	seen := map[string]bool{}
	for _, op := range ops {
		if op.Input.(regInput).kind == regGet && op.Output.(regOutput).found {
			seen[op.Output.(regOutput).value] = true
		}
	}
	out := ops[:0:0]
	for _, op := range ops {
		in := op.Input.(regInput)
		if in.kind == regPut && op.Return == math.MaxInt64 && !seen[in.value] {
			continue
		}
		out = append(out, op)
	}
	return out
}

// checkLinearizable runs porcupine over ops. When the result differs from
// want, it writes porcupine's visualization of the history to a file and
// names it in the log; an expected result (the negative control's Illegal)
// leaves no file behind.
func checkLinearizable(t *testing.T, seed int64, ops []porcupine.Operation, timeout time.Duration, want porcupine.CheckResult) porcupine.CheckResult {
	t.Helper()
	checked := pruneUnobservedPuts(ops)
	var gets, puts, ambiguous int
	for _, op := range checked {
		switch {
		case op.Input.(regInput).kind == regGet:
			gets++
		case op.Return == math.MaxInt64:
			ambiguous++
		default:
			puts++
		}
	}
	res, info := porcupine.CheckOperationsVerbose(registerModel, checked, timeout)
	t.Logf("seed %d: porcupine %s over %d ops (%d gets, %d acknowledged puts, %d possibly-applied puts observed; %d unobserved dropped)",
		seed, res, len(checked), gets, puts, ambiguous, len(ops)-len(checked))
	if res != want {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("meridian-linearizability-%s-%d.html", sanitize(t.Name()), seed))
		if err := porcupine.VisualizePath(registerModel, info, path); err != nil {
			t.Logf("writing the visualization: %v", err)
		} else {
			t.Logf("seed %d: porcupine visualization written to %s", seed, path)
		}
	}
	return res
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Tests.

func linSeed(t *testing.T) int64 {
	seed := time.Now().UnixNano()
	if s := os.Getenv("MERIDIAN_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("MERIDIAN_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with MERIDIAN_SEED=%d)", seed, seed)
	return seed
}

// TestLinearizabilityUnderFaults: concurrent puts and gets through random
// nodes stay linearizable while leaders are isolated, nodes restart,
// leadership moves and ranges split.
func TestLinearizabilityUnderFaults(t *testing.T) {
	seed := linSeed(t)
	duration, rounds := 6*time.Second, 1
	if os.Getenv("MERIDIAN_SOAK") != "" {
		duration, rounds = 60*time.Second, 5
	}
	for round := 0; round < rounds; round++ {
		seed := seed + int64(round)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runUnderFaults(t, generateLinPlan(seed, duration, true))
		})
	}
}

// TestLinearizabilityBatchedWritesUnderFaults is the faults run with
// enough clients that leaseholders commit single-key writes in batches
// (server.writeBatcher) while the nemesis isolates, restarts, moves and
// splits them.
func TestLinearizabilityBatchedWritesUnderFaults(t *testing.T) {
	seed := linSeed(t)
	plan := generateLinPlan(seed, 6*time.Second, true)
	plan.clients, plan.keys = 48, nil
	for i := range 24 {
		plan.keys = append(plan.keys, fmt.Sprintf("k%02d", i))
	}
	runUnderFaults(t, plan)
}

func runUnderFaults(t *testing.T, plan linPlan) {
	seed := plan.seed
	t.Logf("seed %d: %d nodes, %d clients, %d keys, %d fault steps over %s", seed, plan.nodes, plan.clients,
		len(plan.keys), len(plan.faults), plan.duration)
	c := servertest.Start(t, servertest.Options{Nodes: plan.nodes})
	r := newLinRun(t, c, plan)
	ops := r.apply(func(rng *rand.Rand, _ regOpKind) (int, *pb.Routing) { return r.randomUpNode(rng), nil }, true)
	t.Logf("seed %d: %d ops recorded, %d puts possibly applied, %d failed gets dropped", seed, len(ops),
		r.ambiguousPuts.Load(), r.failedGets.Load())
	if len(ops) < 50 {
		t.Fatalf("seed %d: only %d operations completed: the workload made no real progress", seed, len(ops))
	}
	if res := checkLinearizable(t, seed, ops, 60*time.Second, porcupine.Ok); res != porcupine.Ok {
		t.Fatalf("seed %d: history is not linearizable (porcupine: %s)", seed, res)
	}
}

// TestLinearizabilityNegativeControl shows the checker can fail: with
// UnsafeReadsWithoutLease every replica serves reads from its own state,
// and a follower cut off from the leader keeps answering with old values
// while writes proceed elsewhere. Porcupine must call that Illegal.
func TestLinearizabilityNegativeControl(t *testing.T) {
	seed := linSeed(t)
	plan := generateLinPlan(seed, 2*time.Second, false)
	c := servertest.Start(t, servertest.Options{Nodes: plan.nodes, Paxos: func(o *paxosgroup.Options) {
		o.TestingKnobs.UnsafeReadsWithoutLease = true
	}})
	r := newLinRun(t, c, plan)
	// Seed every key so that stale reads return a value, not just <none>.
	// (Retried: a slow machine may churn leadership during setup, and
	// rewriting the same initial value is harmless.)
	for _, k := range plan.keys {
		c.WaitFor(30*time.Second, "the initial write of "+k, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := r.kvs[0].Put(ctx, &pb.PutRequest{Key: []byte(k), Value: []byte("initial-" + k)})
			return err == nil
		})
	}
	// Pick a follower of group 2 that does not lead the meta group either,
	// and wait until it applied the initial writes (so that it has group 2
	// and answers reads), then cut it off.
	leader, metaLeader := c.LeaderOf(paxosgroup.FirstUserGroupID), c.LeaderOf(paxosgroup.MetaGroupID)
	stale := -1
	for i := plan.nodes - 1; i >= 0; i-- {
		if i != leader && (stale < 0 || i != metaLeader) {
			stale = i
		}
	}
	c.WaitFor(10*time.Second, "the follower to apply the initial writes", func() bool {
		for _, k := range plan.keys {
			v, _, ok, err := c.Nodes[stale].Host().Engine().MVCCGet([]byte(k), math.MaxInt64)
			if err != nil || !ok || string(v) != "initial-"+k {
				return false
			}
		}
		return true
	})
	var others []uint64
	var writers []int
	for i := 0; i < plan.nodes; i++ {
		if i != stale {
			others = append(others, c.NodeID(i))
			writers = append(writers, i)
		}
	}
	t.Logf("isolating node %d (follower of group 2); reads go to it directly", stale+1)
	c.Faults.Isolate(c.NodeID(stale), others...)
	ops := r.apply(func(rng *rand.Rand, kind regOpKind) (int, *pb.Routing) {
		if kind == regGet {
			return stale, &pb.Routing{GroupId: paxosgroup.FirstUserGroupID}
		}
		return writers[rng.Intn(len(writers))], nil
	}, false)
	c.Faults.Heal()
	// The initial puts belong to the history too: they completed before
	// every recorded operation.
	for _, k := range plan.keys {
		ops = append(ops, porcupine.Operation{ClientId: plan.clients, Input: regInput{kind: regPut, key: k, value: "initial-" + k},
			Call: -2, Output: regOutput{}, Return: -1})
	}
	t.Logf("seed %d: %d ops recorded, %d puts possibly applied, %d failed gets dropped", seed, len(ops),
		r.ambiguousPuts.Load(), r.failedGets.Load())
	if res := checkLinearizable(t, seed, ops, 60*time.Second, porcupine.Illegal); res != porcupine.Illegal {
		t.Fatalf("seed %d: porcupine says %s for stale follower reads; the checker cannot catch the bug it exists for", seed, res)
	}
}

// TestLinearizabilityBatchedWrites: many clients writing a few keys at
// once have their single-key writes committed in batches at the
// leaseholder (one transaction each). The history stays linearizable, and
// each key ends with the value of its acknowledged put with the highest
// commit timestamp: every member of a batch was installed at the
// timestamp its client was told.
func TestLinearizabilityBatchedWrites(t *testing.T) {
	seed := linSeed(t)
	// Enough clients that a leaseholder has more writes at once than
	// batches in flight, spread over enough keys that porcupine's search
	// per key stays small.
	const clients, opsPerClient = 48, 30
	var keys []string
	for i := range 24 {
		keys = append(keys, fmt.Sprintf("k%02d", i))
	}
	c := servertest.Start(t, servertest.Options{Nodes: 3})
	type ack struct {
		key, value string
		ts         int64
	}
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	histories := make([][]porcupine.Operation, clients)
	acks := make([][]ack, clients)
	ambiguous := make([]map[string]bool, clients)
	var wg sync.WaitGroup
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed*1000 + int64(id)))
			ambiguous[id] = map[string]bool{}
			for seq := range opsPerClient {
				key := keys[rng.Intn(len(keys))]
				kv := c.KV(rng.Intn(3))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if rng.Intn(4) > 0 {
					in := regInput{kind: regPut, key: key, value: fmt.Sprintf("c%d-%d", id, seq)}
					call := now()
					resp, err := kv.Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte(in.value)})
					ret := now()
					if err != nil {
						t.Logf("client %d: put %s: %v (possibly applied)", id, key, err)
						ret = math.MaxInt64
						ambiguous[id][key] = true
					} else {
						acks[id] = append(acks[id], ack{key, in.value, resp.Timestamp})
					}
					histories[id] = append(histories[id], porcupine.Operation{ClientId: id, Input: in, Call: call, Output: regOutput{}, Return: ret})
				} else {
					call := now()
					resp, err := kv.Get(ctx, &pb.GetRequest{Key: []byte(key)})
					ret := now()
					if err == nil {
						histories[id] = append(histories[id], porcupine.Operation{ClientId: id, Input: regInput{kind: regGet, key: key}, Call: call,
							Output: regOutput{value: string(resp.Value), found: resp.Found}, Return: ret})
					}
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	var batches, writes uint64
	for i := range 3 {
		b, w := c.Nodes[i].KVWriteBatches()
		batches, writes = batches+b, writes+w
	}
	t.Logf("seed %d: %d single-key writes committed in %d batches", seed, writes, batches)
	if writes <= batches {
		t.Fatalf("seed %d: no batch held more than one write (%d writes, %d batches): the test did not exercise batching", seed, writes, batches)
	}
	var ops []porcupine.Operation
	for _, h := range histories {
		ops = append(ops, h...)
	}
	if res := checkLinearizable(t, seed, ops, 60*time.Second, porcupine.Ok); res != porcupine.Ok {
		t.Fatalf("seed %d: history is not linearizable (porcupine: %s)", seed, res)
	}
	latest := map[string]ack{}
	unsure := map[string]bool{}
	for id := range clients {
		for _, a := range acks[id] {
			if l, ok := latest[a.key]; ok && l.ts == a.ts {
				t.Errorf("seed %d: puts %s and %s of key %s were both acknowledged at timestamp %d", seed, l.value, a.value, a.key, a.ts)
			}
			if a.ts > latest[a.key].ts {
				latest[a.key] = a
			}
		}
		for k := range ambiguous[id] {
			unsure[k] = true
		}
	}
	for _, k := range keys {
		if unsure[k] {
			continue // a possibly-applied put may be the last
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := c.KV(0).Get(ctx, &pb.GetRequest{Key: []byte(k)})
		cancel()
		if err != nil {
			t.Fatalf("reading %s: %v", k, err)
		}
		if want := latest[k]; string(resp.Value) != want.value {
			t.Errorf("seed %d: key %s holds %q, but the acknowledged put with the highest timestamp (%d) wrote %q", seed, k, resp.Value, want.ts, want.value)
		}
	}
}
