package main

// The bank workload against real processes, under the faults of
// txnfault_test.go: transfers between accounts in different groups run in
// the test's txn.Client (a transfer reads both balances and writes both
// back, which a KV.Txn script cannot express); audits read every account
// through KV.Txn at a random process (strong, bounded-stale and exact-stale
// snapshots, and locking reads) and through the test's client with a
// random replica as nearest. Every audit must see the initial total and no
// negative balance.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/txn"
)

const (
	bankAccounts = 12
	bankInitial  = 100
)

// bankKey spreads the accounts over the six groups of faultSplits.
func bankKey(i int) string { return fmt.Sprintf("%c/acct%02d", 'a'+i%6, i) }

type bankRun struct {
	t      *testing.T
	fc     *faultCluster
	nem    *procNemesis
	router *procRouter
	clock  *truetime.TrueTime
	seed   uint64
	// openedTS is the commit timestamp of the transaction that opened the
	// accounts: exact-stale audits read no earlier.
	openedTS  int64
	transfers tally
	// declined counts transfers not made for want of funds.
	declined atomic.Int64
	audits   struct{ strong, bounded, exact, locking, client, failed atomic.Int64 }
	bad      atomic.Int64
	mu       struct {
		sync.Mutex
		firstBad string
	}
}

func (b *bankRun) violation(format string, args ...any) {
	b.bad.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.firstBad == "" {
		b.mu.firstBad = fmt.Sprintf(format, args...)
	}
}

// open writes the initial balances in one transaction over all groups (a
// KV.Txn script of blind writes: retried until it commits, which repeats
// the same values).
func (b *bankRun) open() {
	req := &pb.TxnScriptRequest{}
	for i := range bankAccounts {
		req.Ops = append(req.Ops, &pb.TxnScriptOp{Kind: pb.TxnScriptOp_PUT, Key: []byte(bankKey(i)), Value: []byte(strconv.Itoa(bankInitial))})
	}
	b.fc.waitFor(60*time.Second, "the accounts to open", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := b.fc.kv(0).Txn(ctx, req)
		if err == nil {
			b.openedTS = resp.CommitTs
		}
		return err == nil
	})
}

// check verifies one audit's balances. A read below the opening's commit
// timestamp (a bounded-stale one may choose it) sees no account at all, or
// an earlier ambiguous attempt of the opening.
func (b *bankRun) check(what string, ts int64, vals [][]byte, found []bool) {
	if ts < b.openedTS && !slices.Contains(found, true) {
		return
	}
	total := 0
	for i, v := range vals {
		if !found[i] {
			b.violation("%s at ts %d: account %s is missing", what, ts, bankKey(i))
			return
		}
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 {
			b.violation("%s at ts %d: account %s = %q", what, ts, bankKey(i), v)
			return
		}
		total += n
	}
	if total != bankAccounts*bankInitial {
		b.violation("%s at ts %d: total %d, want %d (balances %q)", what, ts, total, bankAccounts*bankInitial, vals)
	}
}

// transfer moves a random amount between two random accounts in one
// read-write transaction of the test's client.
func (b *bankRun) transfer(ctx context.Context, rng *rand.Rand) {
	from, to := rng.IntN(bankAccounts), rng.IntN(bankAccounts)
	for to == from {
		to = rng.IntN(bankAccounts)
	}
	amount := 1 + rng.IntN(30)
	tx, err := b.router.client(b.clock, 0).Begin(ctx, txn.Options{})
	if err != nil {
		b.transfers.add(outcomeOf(err))
		return
	}
	vals, _, err := tx.GetMany(ctx, [][]byte{[]byte(bankKey(from)), []byte(bankKey(to))})
	if err != nil {
		tx.Rollback(ctx)
		b.transfers.add(outcomeOf(err))
		return
	}
	x, _ := strconv.Atoi(string(vals[0]))
	y, _ := strconv.Atoi(string(vals[1]))
	if x < amount {
		tx.Rollback(ctx)
		b.declined.Add(1)
		return
	}
	_ = tx.Put([]byte(bankKey(from)), []byte(strconv.Itoa(x-amount)))
	_ = tx.Put([]byte(bankKey(to)), []byte(strconv.Itoa(y+amount)))
	ts, err := tx.Commit(ctx)
	b.transfers.add(outcomeOf(err))
	if err == nil && ts >= time.Now().UnixNano() {
		b.violation("transfer acknowledged at ts %d before true time passed it", ts)
	}
}

// Audit kinds.
const (
	auditStrong = iota
	auditBounded
	auditExact
	auditLocking
	auditClient
	auditKinds
)

// audit reads every account in one transaction of kind k, through process
// node.
func (b *bankRun) audit(ctx context.Context, rng *rand.Rand, node, k int) {
	keys := make([][]byte, bankAccounts)
	for i := range keys {
		keys[i] = []byte(bankKey(i))
	}
	if k == auditClient {
		self := b.fc.ids[node]
		tx, err := b.router.client(b.clock, self).Begin(ctx, txn.Options{ReadOnly: true})
		if err == nil {
			var vals [][]byte
			var found []bool
			if vals, found, err = tx.GetMany(ctx, keys); err == nil {
				b.check(fmt.Sprintf("snapshot audit preferring node %d", self), tx.ReadTimestamp(), vals, found)
				b.audits.client.Add(1)
				return
			}
		}
		b.audits.failed.Add(1)
		return
	}
	req := &pb.TxnScriptRequest{ReadOnly: k != auditLocking}
	what := []string{"strong snapshot", "bounded-stale snapshot", "exact-stale snapshot", "locking"}[k]
	counter := []*atomic.Int64{&b.audits.strong, &b.audits.bounded, &b.audits.exact, &b.audits.locking}[k]
	switch k {
	case auditBounded:
		req.MaxStalenessNanos = int64(time.Duration(1+rng.IntN(5)) * time.Second)
	case auditExact:
		req.ReadTimestamp = max(b.openedTS, time.Now().Add(-time.Duration(rng.IntN(3000))*time.Millisecond).UnixNano())
	}
	for _, key := range keys {
		req.Ops = append(req.Ops, &pb.TxnScriptOp{Kind: pb.TxnScriptOp_GET, Key: key})
	}
	resp, err := b.fc.kv(node).Txn(ctx, req)
	if err != nil {
		b.audits.failed.Add(1)
		return
	}
	vals := make([][]byte, len(keys))
	found := make([]bool, len(keys))
	for i, r := range resp.Results {
		vals[i], found[i] = r.Value, r.Found
	}
	b.check(fmt.Sprintf("%s audit via %s", what, b.fc.procs[node].name), resp.CommitTs, vals, found)
	counter.Add(1)
}

func (b *bankRun) worker(w int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(b.seed, uint64(w)))
	for {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout(rng))
		if w%4 == 0 {
			b.audit(ctx, rng, b.nem.upNode(rng), rng.IntN(auditKinds))
		} else {
			b.transfer(ctx, rng)
		}
		cancel()
	}
}

// TestProcessTxnBankFault: transfers across groups keep the total constant
// and no balance negative, as every kind of audit from every process sees
// it, while processes are SIGKILLed and restarted, SIGSTOPped, isolated,
// and leaders are moved.
func TestProcessTxnBankFault(t *testing.T) {
	const workers = 8
	fc := startFaultCluster(t, faultSplits)
	b := &bankRun{t: t, fc: fc, nem: newProcNemesis(t, fc), router: newProcRouter(fc),
		clock: newTestClock(t), seed: faultSeed(t)}
	b.open()
	stopNem := startNemesis(b.nem, b.seed)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); b.worker(w, stop) }()
	}
	d := 10 * time.Second
	if soak() {
		d = 5 * time.Minute
	}
	runFor(d, d, func() bool { return true })
	stopNem()
	close(stop)
	wg.Wait()
	fc.settle(b.nem)
	// Final audits after the faults: a locking read and a strong snapshot
	// through every process.
	rng := rand.New(rand.NewPCG(b.seed, 1000))
	failed := b.audits.failed.Load()
	for i := range fc.procs {
		for _, k := range []int{auditLocking, auditStrong} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			b.audit(ctx, rng, i, k)
			cancel()
		}
	}
	if n := b.audits.failed.Load() - failed; n > 0 {
		t.Errorf("%d of the final audits after the faults failed", n)
	}

	a := &b.audits
	t.Logf("seed %d: transfers %v, %d declined (insufficient funds); audits: %d strong, %d bounded-stale, %d exact-stale, "+
		"%d locking via KV.Txn, %d snapshot via the test's client, %d failed; %d violations",
		b.seed, &b.transfers, b.declined.Load(), a.strong.Load(), a.bounded.Load(), a.exact.Load(), a.locking.Load(),
		a.client.Load(), a.failed.Load(), b.bad.Load())
	t.Logf("nemesis: %v", b.nem)
	if b.bad.Load() > 0 {
		t.Fatalf("seed %d: %d bad audits; first: %s", b.seed, b.bad.Load(), b.mu.firstBad)
	}
	if b.transfers.ok.Load() < 10 || a.strong.Load()+a.locking.Load() == 0 {
		t.Fatalf("seed %d: too little done to mean anything: transfers %v", b.seed, &b.transfers)
	}
}
