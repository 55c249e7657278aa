package txn

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"pgregory.net/rapid"
)

// TestLockTableDataDriven runs the scripts in testdata/locktable against
// one LockTable. Rewrite expectations with -rewrite. Transactions are named
// (their TxnID is the name's bytes) and printed by name.
//
//	new [no-wound] [defer-wounds]
//	    A fresh table (no-wound sets TestingKnobs.NoWound, defer-wounds
//	    DeferWounds).
//	txn name=N ts=T
//	    Declare transaction N with start timestamp T (smaller is older).
//	acquire txn=N key=K mode=shared|exclusive
//	    Acquire; prints "granted", "wounded", or
//	    "waiting for A,B" then "wound X,Y" / "deferred W" /
//	    "wound-prepared Z" if any.
//	acquire-range txn=N start=K [end=K]
//	    AcquireRange on [start, end) (no end: unbounded); prints as acquire.
//	release txn=N
//	    Release; prints one "grant N K mode" line per woken request, in
//	    the order returned, or "no grants".
//	prepare txn=N
//	    MarkPrepared; prints "prepared", with "(had been wounded)" if so.
//	rebuild
//	N keys=(K1,K2,...)
//	...
//	    Rebuild from prepared records, one per input line (the txn must
//	    have been declared); prints the dropped txns, then the table.
//	print
//	    One line per key: "K: holders N/mode... | waiting N/mode...", then
//	    the wounded txns.
//	waits-for txn=N
//	    The txns N waits for, oldest first.
//	wound-blockers txn=N
//	    WoundBlockers (a deferred wound's grace ended); prints as acquire,
//	    or "not waiting".
//	metrics
//	    The counters and gauges.
func TestLockTableDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/locktable", func(t *testing.T, path string) {
		lt := NewLockTable(LockTableOptions{})
		metas := map[string]TxnMeta{}
		meta := func(d *datadriven.TestData, name string) TxnMeta {
			m, ok := metas[name]
			if !ok {
				d.Fatalf(t, "unknown txn %q", name)
			}
			return m
		}
		argTxn := func(d *datadriven.TestData) TxnMeta {
			var name string
			d.ScanArgs(t, "txn", &name)
			return meta(d, name)
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "new":
				lt = NewLockTable(LockTableOptions{
					DeferWounds:  d.HasArg("defer-wounds"),
					TestingKnobs: LockTableTestingKnobs{NoWound: d.HasArg("no-wound")},
				})
				metas = map[string]TxnMeta{}
				return ""
			case "txn":
				var name string
				var ts int64
				d.ScanArgs(t, "name", &name)
				d.ScanArgs(t, "ts", &ts)
				metas[name] = TxnMeta{ID: testID(name), StartTS: ts}
				return ""
			case "acquire":
				m := argTxn(d)
				var key, mode string
				d.ScanArgs(t, "key", &key)
				d.ScanArgs(t, "mode", &mode)
				return fmtResult(lt.Acquire(m, []byte(key), parseMode(t, d, mode)))
			case "acquire-range":
				m := argTxn(d)
				var start, end string
				d.ScanArgs(t, "start", &start)
				d.MaybeScanArgs(t, "end", &end)
				return fmtResult(lt.AcquireRange(m, []byte(start), spanEnd(end)))
			case "release":
				grants := lt.Release(argTxn(d).ID)
				if len(grants) == 0 {
					return "no grants"
				}
				var b strings.Builder
				for _, g := range grants {
					if g.Range {
						fmt.Fprintf(&b, "grant %s [%s,%s) %s\n", testName(g.Txn), g.Key, g.End, g.Mode)
						continue
					}
					fmt.Fprintf(&b, "grant %s %s %s\n", testName(g.Txn), g.Key, g.Mode)
				}
				return b.String()
			case "prepare":
				if lt.MarkPrepared(argTxn(d).ID) {
					return "prepared (had been wounded)"
				}
				return "prepared"
			case "rebuild":
				return rebuild(t, d, lt, meta)
			case "print":
				return fmtTable(lt)
			case "waits-for":
				return fmtIDs(lt.WaitsFor(argTxn(d).ID))
			case "wound-blockers":
				res := lt.WoundBlockers(argTxn(d).ID)
				if res.Status == 0 {
					return "not waiting"
				}
				return fmtResult(res)
			case "metrics":
				m := lt.Metrics()
				return fmt.Sprintf("acquires=%d waits=%d wounds=%d wounds-prepared=%d deferrals=%d grants=%d txns=%d keys=%d",
					m.Acquires, m.Waits, m.Wounds, m.WoundsPrepared, m.Deferrals, m.Grants, m.Txns, m.Keys)
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

func rebuild(
	t *testing.T, d *datadriven.TestData, lt *LockTable,
	meta func(*datadriven.TestData, string) TxnMeta,
) string {
	var prepared []PreparedTxn
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		if line == "" {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(rest), "keys=("), ")")
		p := PreparedTxn{Txn: meta(d, name)}
		for _, k := range strings.Split(rest, ",") {
			if k != "" {
				p.WriteKeys = append(p.WriteKeys, []byte(k))
			}
		}
		prepared = append(prepared, p)
	}
	dropped := lt.Rebuild(prepared)
	return "dropped " + fmtIDs(dropped) + "\n" + fmtTable(lt)
}

func parseMode(t *testing.T, d *datadriven.TestData, s string) Mode {
	switch s {
	case "shared":
		return Shared
	case "exclusive":
		return Exclusive
	}
	d.Fatalf(t, "unknown mode %q", s)
	return 0
}

// testID makes a TxnID from a short name; testName reverses it.
func testID(name string) TxnID {
	var id TxnID
	copy(id[:], name)
	return id
}

func testName(id TxnID) string { return string(bytes.TrimRight(id[:], "\x00")) }

func fmtIDs(ids []TxnID) string {
	if len(ids) == 0 {
		return "none"
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = testName(id)
	}
	return strings.Join(names, ",")
}

func fmtResult(r Result) string {
	if r.Status != Waiting {
		return r.Status.String()
	}
	s := "waiting for " + fmtIDs(r.WaitsFor)
	if len(r.Wound) > 0 {
		s += "\nwound " + fmtIDs(r.Wound)
	}
	if len(r.Deferred) > 0 {
		s += "\ndeferred " + fmtIDs(r.Deferred)
	}
	if len(r.WoundPrepared) > 0 {
		s += "\nwound-prepared " + fmtIDs(r.WoundPrepared)
	}
	return s
}

func fmtLocks(ls []Lock) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = testName(l.Txn) + "/" + l.Mode.String()
	}
	return strings.Join(parts, " ")
}

func fmtTable(lt *LockTable) string {
	var b strings.Builder
	keys := lt.Keys()
	held, queued := lt.Spans()
	if len(keys)+len(held)+len(queued) == 0 {
		b.WriteString("empty\n")
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: holders %s", k, fmtLocks(lt.Holders(k)))
		if ws := lt.Waiters(k); len(ws) > 0 {
			fmt.Fprintf(&b, " | waiting %s", fmtLocks(ws))
		}
		b.WriteString("\n")
	}
	for _, sp := range held {
		fmt.Fprintf(&b, "span [%s,%s): holder %s\n", sp.Start, sp.End, testName(sp.Txn))
	}
	for _, sp := range queued {
		fmt.Fprintf(&b, "span [%s,%s): waiting %s\n", sp.Start, sp.End, testName(sp.Txn))
	}
	var wounded, prepared []string
	for id, t := range lt.txns {
		if t.wounded {
			wounded = append(wounded, testName(id))
		}
		if t.meta.Prepared {
			prepared = append(prepared, testName(id))
		}
	}
	slices.Sort(wounded)
	slices.Sort(prepared)
	if len(wounded) > 0 {
		fmt.Fprintf(&b, "wounded %s\n", strings.Join(wounded, ","))
	}
	if len(prepared) > 0 {
		fmt.Fprintf(&b, "prepared %s\n", strings.Join(prepared, ","))
	}
	return b.String()
}

// The property test below is split as kvnemesis is: a generator (random
// transactions with random start timestamps and random read and write
// keys), an applier (a simulated caller that runs them against one table
// in a random interleaving, aborting wounded transactions after a random
// delay and restarting them with their start timestamp) and a validator
// (checkWaitsFor and the liveness checks in run).

// simTxn is one transaction of the simulation: it reads its read keys one
// at a time (shared locks), then at prepare locks its write keys
// (exclusive, upgrading reads), is marked prepared, and commits.
type simTxn struct {
	meta   TxnMeta
	reads  []string
	writes []string
	pc     int  // next lock to acquire: reads, then writes
	parked bool // waiting for a grant
	// graceOver: the grace of the parked request's deferred wounds ended
	// (the caller calls WoundBlockers once per wait).
	graceOver bool
	doomed    bool // wounded, the simulated caller has not aborted it yet
	done      bool
	aborts    int
}

func (s *simTxn) locks() int { return len(s.reads) + len(s.writes) }

// next returns the next lock: a key, or for a read written "b-d" the
// span [b, d) ("b-": unbounded), with end non-nil only for spans.
func (s *simTxn) next() (key string, end *string, mode Mode) {
	if s.pc < len(s.reads) {
		k := s.reads[s.pc]
		if start, e, ok := strings.Cut(k, "-"); ok {
			return start, &e, Shared
		}
		return k, nil, Shared
	}
	return s.writes[s.pc-len(s.reads)], nil, Exclusive
}

// spanEnd converts a sim span end ("" = unbounded) to AcquireRange's.
func spanEnd(e string) []byte {
	if e == "" {
		return nil
	}
	return []byte(e)
}

type sim struct {
	// onlyCycles limits checkWaitsFor to the cycle checks (for the
	// negative control of the no-deadlock property itself).
	onlyCycles bool
	lt         *LockTable
	txns       []*simTxn
	byID       map[TxnID]*simTxn
}

func newSim(opts LockTableOptions, txns []*simTxn) *sim {
	s := &sim{lt: NewLockTable(opts), txns: txns, byID: map[TxnID]*simTxn{}}
	for _, t := range txns {
		s.byID[t.meta.ID] = t
	}
	return s
}

// action is something the simulated caller can do next.
type action struct {
	txn   *simTxn
	abort bool // release a doomed txn
	// expire ends the grace of a parked txn's deferred wounds
	// (WoundBlockers); otherwise the action steps the txn.
	expire bool
}

// enabled lists the possible actions in a deterministic order. A parked
// txn cannot step, but its grace may end (under DeferWounds); a doomed one
// may still step (its requests race with the wound) or be aborted.
func (s *sim) enabled() []action {
	var as []action
	for _, t := range s.txns {
		if t.done {
			continue
		}
		if t.doomed {
			as = append(as, action{txn: t, abort: true})
		}
		if !t.parked {
			as = append(as, action{txn: t})
		} else if s.lt.opts.DeferWounds && !t.graceOver {
			as = append(as, action{txn: t, expire: true})
		}
	}
	return as
}

// do performs one action; it returns an error when the table breaks a
// rule the caller relies on.
func (s *sim) do(a action) error {
	t := a.txn
	switch {
	case a.abort:
		s.release(t)
		t.pc, t.parked, t.doomed, t.done = 0, false, false, false
		t.meta.Prepared = false
		t.aborts++
	case a.expire:
		t.graceOver = true
		for _, id := range s.lt.WoundBlockers(t.meta.ID).Wound {
			if err := s.wound(t, s.byID[id]); err != nil {
				return err
			}
		}
	case t.pc < t.locks():
		key, end, mode := t.next()
		var res Result
		if end != nil {
			res = s.lt.AcquireRange(t.meta, []byte(key), spanEnd(*end))
		} else {
			res = s.lt.Acquire(t.meta, []byte(key), mode)
		}
		switch res.Status {
		case Granted:
			t.pc++
		case Waiting:
			t.parked, t.graceOver = true, false
		case Wounded:
			if !t.doomed {
				if err := s.woundedAtWait(t); err != nil {
					return err
				}
			}
		}
		for _, id := range res.Wound {
			if err := s.wound(t, s.byID[id]); err != nil {
				return err
			}
		}
	case !t.meta.Prepared:
		s.lt.MarkPrepared(t.meta.ID)
		t.meta.Prepared, t.doomed = true, false // prepared wins the race with a wound
	default:
		s.release(t)
		t.done = true
	}
	return nil
}

func (s *sim) wound(by, w *simTxn) error {
	if !by.meta.olderThan(w.meta) || w.meta.Prepared || w.doomed {
		return fmt.Errorf("%s wounded %s (prepared=%t, already doomed=%t)",
			testName(by.meta.ID), testName(w.meta.ID), w.meta.Prepared, w.doomed)
	}
	if w == s.oldest() {
		return fmt.Errorf("oldest unfinished txn %s wounded by %s", testName(w.meta.ID), testName(by.meta.ID))
	}
	w.doomed = true
	return nil
}

// woundedAtWait checks a txn told Wounded when it asked to wait without
// having been wounded before: only DeferWounds does that, to a txn whose
// wait would close a cycle. Such a cycle leaves t for an older live txn
// that waits itself (t's other blockers are younger holders that do not
// lead back to t, or would have been wounded), and so t is not the oldest.
func (s *sim) woundedAtWait(t *simTxn) error {
	olderWaits := false
	for _, o := range s.txns {
		if o.parked && !o.doomed && o.meta.olderThan(t.meta) {
			olderWaits = true
		}
	}
	if !s.lt.opts.DeferWounds || !olderWaits {
		return fmt.Errorf("%s told wounded but never wounded", testName(t.meta.ID))
	}
	if t == s.oldest() {
		return fmt.Errorf("oldest unfinished txn %s wounded at its wait", testName(t.meta.ID))
	}
	t.doomed = true
	return nil
}

func (s *sim) oldest() *simTxn {
	var o *simTxn
	for _, t := range s.txns {
		if !t.done && (o == nil || t.meta.olderThan(o.meta)) {
			o = t
		}
	}
	return o
}

func (s *sim) release(t *simTxn) {
	for _, g := range s.lt.Release(t.meta.ID) {
		w := s.byID[g.Txn]
		key, end, mode := w.next()
		if !w.parked || key != string(g.Key) || mode != g.Mode || (end != nil) != g.Range ||
			(end != nil && !bytes.Equal(spanEnd(*end), g.End)) {
			panic(fmt.Sprintf("unexpected grant %s %s %s", testName(g.Txn), g.Key, g.Mode))
		}
		w.parked = false
		w.pc++
	}
}

// checkWaitsFor validates the waits-for graph: a txn waits only for older
// txns, wounded ones, prepared ones or (under DeferWounds) younger ones;
// prepared txns wait for nothing; the graph is acyclic once edges into
// wounded txns (being aborted) are dropped, and fully acyclic when no
// wound is pending.
func (s *sim) checkWaitsFor() error {
	if err := checkExclusion(s.lt); err != nil {
		return err
	}
	edges := map[TxnID][]TxnID{}
	pending := false
	for _, t := range s.txns {
		pending = pending || t.doomed
		if t.done {
			continue
		}
		wf := s.lt.WaitsFor(t.meta.ID)
		if t.parked != (len(wf) > 0) {
			return fmt.Errorf("%s parked=%t but waits for %s", testName(t.meta.ID), t.parked, fmtIDs(wf))
		}
		if t.meta.Prepared && len(wf) > 0 {
			return fmt.Errorf("prepared %s waits for %s", testName(t.meta.ID), fmtIDs(wf))
		}
		edges[t.meta.ID] = wf
	}
	if c := findCycle(edges, func(id TxnID) bool { return !s.byID[id].doomed }); c != nil {
		return fmt.Errorf("waits-for cycle among live txns: %s", fmtIDs(c))
	}
	if c := findCycle(edges, func(TxnID) bool { return true }); c != nil && !pending {
		return fmt.Errorf("waits-for cycle: %s", fmtIDs(c))
	}
	if s.onlyCycles {
		return nil
	}
	for _, t := range s.txns {
		for _, hid := range edges[t.meta.ID] {
			h := s.byID[hid]
			if h.meta.olderThan(t.meta) || h.doomed || h.meta.Prepared {
				continue
			}
			if !s.lt.opts.DeferWounds {
				return fmt.Errorf("%s waits for younger live %s", testName(t.meta.ID), testName(hid))
			}
		}
	}
	return nil
}

// checkExclusion is the safety property: an exclusive holder of a key is
// its only holder, and no other transaction holds a span over it.
func checkExclusion(lt *LockTable) error {
	held, _ := lt.Spans()
	for _, k := range lt.Keys() {
		hs := lt.Holders(k)
		for _, h := range hs {
			if h.Mode != Exclusive {
				continue
			}
			if len(hs) > 1 {
				return fmt.Errorf("%s holds %s exclusive beside %s", testName(h.Txn), k, fmtLocks(hs))
			}
			for _, sp := range held {
				r := rangeEntry{start: sp.Start, end: sp.End}
				if sp.Txn != h.Txn && r.contains(string(k)) {
					return fmt.Errorf("%s holds %s exclusive inside %s's span [%s,%s)",
						testName(h.Txn), k, testName(sp.Txn), sp.Start, sp.End)
				}
			}
		}
	}
	return nil
}

// findCycle returns a cycle of the graph restricted to edges whose target
// passes keep, or nil.
func findCycle(edges map[TxnID][]TxnID, keep func(TxnID) bool) []TxnID {
	const (
		white = iota
		grey
		black
	)
	color := map[TxnID]int{}
	var stack []TxnID
	var visit func(TxnID) []TxnID
	visit = func(v TxnID) []TxnID {
		color[v] = grey
		stack = append(stack, v)
		for _, w := range edges[v] {
			if !keep(w) {
				continue
			}
			switch color[w] {
			case grey:
				return append(slices.Clone(stack[slices.Index(stack, w):]), w)
			case white:
				if c := visit(w); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[v] = black
		return nil
	}
	ids := make([]TxnID, 0, len(edges))
	for id := range edges {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b TxnID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		if color[id] == white {
			if c := visit(id); c != nil {
				return c
			}
		}
	}
	return nil
}

// run drives the simulation with choose picking among enabled actions
// until every txn committed. It fails on a broken rule, on a deadlock (no
// enabled action while txns remain) and on livelock (maxSteps).
func (s *sim) run(choose func(n int) int, maxSteps int) error {
	for step := 0; ; step++ {
		if err := s.checkWaitsFor(); err != nil {
			return fmt.Errorf("step %d: %w", step, err)
		}
		as := s.enabled()
		if len(as) == 0 {
			break
		}
		if step == maxSteps {
			return fmt.Errorf("not finished after %d steps", maxSteps)
		}
		if err := s.do(as[choose(len(as))]); err != nil {
			return fmt.Errorf("step %d: %w", step, err)
		}
	}
	for _, t := range s.txns {
		if !t.done {
			return fmt.Errorf("deadlock: %s never finished (parked=%t)", testName(t.meta.ID), t.parked)
		}
	}
	if m := s.lt.Metrics(); m.Txns != 0 || m.Keys != 0 {
		return fmt.Errorf("table not empty after all txns finished: %+v", m)
	}
	return nil
}

func genSimTxns(rt *rapid.T) []*simTxn {
	n := rapid.IntRange(2, 7).Draw(rt, "txns")
	nKeys := rapid.IntRange(1, 5).Draw(rt, "keys")
	key := rapid.Map(rapid.IntRange(0, nKeys-1), func(i int) string { return string(rune('a' + i)) })
	keys := rapid.SliceOfNDistinct(key, 0, 3, func(k string) string { return k })
	// A read is a key or, one time in three, a span [k, k+w) or [k, ∞).
	read := rapid.Custom(func(rt *rapid.T) string {
		k := key.Draw(rt, "key")
		if rapid.IntRange(0, 2).Draw(rt, "span") > 0 {
			return k
		}
		if w := rapid.IntRange(0, nKeys).Draw(rt, "width"); w > 0 {
			return k + "-" + string(rune(k[0])+rune(w))
		}
		return k + "-"
	})
	reads := rapid.SliceOfNDistinct(read, 0, 3, func(k string) string { return k })
	txns := make([]*simTxn, n)
	for i := range txns {
		txns[i] = &simTxn{
			meta: TxnMeta{
				ID:      testID(fmt.Sprintf("t%d", i)),
				StartTS: rapid.Int64Range(1, 6).Draw(rt, "ts"), // collisions test the ID tie-break
			},
			reads:  reads.Draw(rt, "reads"),
			writes: keys.Draw(rt, "writes"),
		}
	}
	return txns
}

// TestLockTableNoDeadlock: random transactions in random interleavings,
// with wounded ones aborted (after a random delay) and restarted, never
// build a waits-for cycle, and all of them commit.
// Under DeferWounds the grace of a parked txn may end at any step.
func TestLockTableNoDeadlock(t *testing.T) {
	for _, deferWounds := range []bool{false, true} {
		t.Run(fmt.Sprintf("defer=%t", deferWounds), func(t *testing.T) {
			var total LockTableMetrics
			var aborts, runs int
			rapid.Check(t, func(rt *rapid.T) {
				s := newSim(LockTableOptions{DeferWounds: deferWounds}, genSimTxns(rt))
				choose := func(n int) int { return rapid.IntRange(0, n-1).Draw(rt, "action") }
				if err := s.run(choose, 10_000); err != nil {
					rt.Fatal(err)
				}
				m := s.lt.Metrics()
				total.Acquires, total.Waits = total.Acquires+m.Acquires, total.Waits+m.Waits
				total.Wounds, total.Deferrals = total.Wounds+m.Wounds, total.Deferrals+m.Deferrals
				for _, t := range s.txns {
					aborts += t.aborts
				}
				runs++
			})
			// Shows that the runs exercise waiting, wounding and deferring at all.
			t.Logf("%d runs: %d acquires, %d waits, %d wounds, %d deferrals, %d aborts",
				runs, total.Acquires, total.Waits, total.Wounds, total.Deferrals, aborts)
		})
	}
}

// TestLockTableNoDeadlockNegativeControl breaks wound-wait on purpose
// (plain 2PL, or a deferred wound whose holder may wait) and shows that
// the validator catches the classic deadlock.
func TestLockTableNoDeadlockNegativeControl(t *testing.T) {
	t1 := &simTxn{meta: TxnMeta{ID: testID("t1"), StartTS: 1}, reads: []string{"a"}, writes: []string{"b"}}
	t2 := &simTxn{meta: TxnMeta{ID: testID("t2"), StartTS: 2}, reads: []string{"b"}, writes: []string{"a"}}
	// t1 reads a, t2 reads b, t1 writes b, t2 writes a (under DeferWounds
	// the first action of the parked t1 ends its grace, which comes later).
	script := []int{0, 1, 0, 1}
	for _, c := range []struct {
		noWound, onlyCycles        bool
		deferWounds, waitIntoCycle bool
		want                       string
	}{
		{noWound: true, want: "t1 waits for younger live t2"},
		{noWound: true, onlyCycles: true, want: "cycle among live txns: t1,t2,t1"},
		{noWound: false},
		{deferWounds: true, waitIntoCycle: true, want: "cycle among live txns: t1,t2,t1"},
		{deferWounds: true},
	} {
		s := newSim(LockTableOptions{DeferWounds: c.deferWounds, TestingKnobs: LockTableTestingKnobs{
			NoWound: c.noWound, WaitIntoCycle: c.waitIntoCycle}}, []*simTxn{t1, t2})
		s.onlyCycles = c.onlyCycles
		i := 0
		choose := func(n int) int {
			if i < len(script) {
				i++
				return min(script[i-1], n-1)
			}
			return 0
		}
		err := s.run(choose, 100)
		switch {
		case c.want == "" && err != nil:
			t.Fatalf("wound-wait: %v", err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Fatalf("%+v: want %q, got %v", c, c.want, err)
		}
		t.Logf("noWound=%t onlyCycles=%t deferWounds=%t waitIntoCycle=%t: %v",
			c.noWound, c.onlyCycles, c.deferWounds, c.waitIntoCycle, err)
		for _, tx := range []*simTxn{t1, t2} {
			*tx = simTxn{meta: TxnMeta{ID: tx.meta.ID, StartTS: tx.meta.StartTS}, reads: tx.reads, writes: tx.writes}
		}
	}
}

// TestLockTableCallerBugsPanic: misuse that would corrupt the table is an
// assertion failure, not a silent change.
func TestLockTableCallerBugsPanic(t *testing.T) {
	t1 := TxnMeta{ID: testID("t1"), StartTS: 10}
	t2 := TxnMeta{ID: testID("t2"), StartTS: 20}
	for _, c := range []struct {
		name string
		f    func(lt *LockTable)
	}{
		{"zero id", func(lt *LockTable) { lt.Acquire(TxnMeta{StartTS: 1}, []byte("a"), Shared) }},
		{"bad mode", func(lt *LockTable) { lt.Acquire(t1, []byte("a"), 0) }},
		{"start ts changes", func(lt *LockTable) {
			lt.Acquire(t1, []byte("a"), Shared)
			lt.Acquire(TxnMeta{ID: t1.ID, StartTS: 11}, []byte("b"), Shared)
		}},
		{"prepared acquires a new lock", func(lt *LockTable) {
			lt.Acquire(t1, []byte("a"), Exclusive)
			lt.MarkPrepared(t1.ID)
			lt.Acquire(t1, []byte("b"), Shared)
		}},
		{"prepared acquires a new span", func(lt *LockTable) {
			lt.Acquire(t1, []byte("a"), Exclusive)
			lt.MarkPrepared(t1.ID)
			lt.AcquireRange(t1, []byte("b"), []byte("c"))
		}},
		{"empty span", func(lt *LockTable) { lt.AcquireRange(t1, []byte("b"), []byte("b")) }},
		{"prepared while waiting for a span", func(lt *LockTable) {
			lt.Acquire(t1, []byte("a"), Exclusive)
			lt.AcquireRange(t2, []byte("a"), nil)
			lt.MarkPrepared(t2.ID)
		}},
		{"prepared while waiting", func(lt *LockTable) {
			lt.Acquire(t1, []byte("a"), Exclusive)
			lt.Acquire(t2, []byte("a"), Exclusive)
			lt.MarkPrepared(t2.ID)
		}},
		{"rebuild with two writers of a key", func(lt *LockTable) {
			lt.Rebuild([]PreparedTxn{{Txn: t1, WriteKeys: [][]byte{[]byte("a")}}, {Txn: t2, WriteKeys: [][]byte{[]byte("a")}}})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if err, ok := r.(error); !ok || !errors.HasAssertionFailure(err) {
					t.Fatalf("want an assertion failure panic, got %v", r)
				}
			}()
			c.f(NewLockTable(LockTableOptions{}))
		})
	}
}

// TestLockTableCountsExclusiveGrants: every way a key becomes held
// exclusively (a grant, an upgrade, a queued writer granted on release, a
// rebuild from prepared transactions) moves ExclusiveGrants, and shared
// grants do not. An unlocked read relies on it (Server.ReadLatestUnlocked),
// and so does a locked scan that skips its second read (with
// HeldExclusiveIn).
func TestLockTableCountsExclusiveGrants(t *testing.T) {
	lt := NewLockTable(LockTableOptions{})
	a, b := TxnMeta{ID: testID("a"), StartTS: 1}, TxnMeta{ID: testID("b"), StartTS: 2}
	step := func(what string, want uint64, held bool) {
		t.Helper()
		if got := lt.ExclusiveGrants(); got != want {
			t.Fatalf("after %s: %d exclusive grants, want %d", what, got, want)
		}
		if got := lt.HeldExclusive([]byte("k")); got != held {
			t.Fatalf("after %s: k held exclusively %t, want %t", what, got, held)
		}
		if got := lt.HeldExclusiveIn([]byte("j"), []byte("l")); got != held {
			t.Fatalf("after %s: [j, l) held exclusively %t, want %t", what, got, held)
		}
		if lt.HeldExclusiveIn([]byte("k\x00"), nil) || lt.HeldExclusiveIn([]byte("a"), []byte("k")) {
			t.Fatalf("after %s: a span without k reported held exclusively", what)
		}
	}
	lt.Acquire(a, []byte("k"), Shared)
	step("a shared grant", 0, false)
	lt.Acquire(a, []byte("k"), Exclusive)
	step("an upgrade", 1, true)
	if res := lt.Acquire(b, []byte("k"), Exclusive); res.Status != Waiting {
		t.Fatalf("b's request: %v", res.Status)
	}
	step("a queued request", 1, true)
	lt.Release(a.ID)
	step("b granted on a's release", 2, true)
	lt.Release(b.ID)
	step("b's release", 2, false)
	lt.Rebuild([]PreparedTxn{{Txn: a, WriteKeys: [][]byte{[]byte("k")}}})
	step("a rebuild", 3, true)
}

// TestLockTableExclusiveGrantedIn: a locked scan learns whether a writer
// was granted a key of its span since it looked, however the grant came
// about; grants outside the span do not count, and more grants than the
// table remembers count as one inside.
func TestLockTableExclusiveGrantedIn(t *testing.T) {
	lt := NewLockTable(LockTableOptions{})
	a, b := TxnMeta{ID: testID("a"), StartTS: 1}, TxnMeta{ID: testID("b"), StartTS: 2}
	check := func(what string, since uint64, start, end string, want bool) {
		t.Helper()
		var e []byte
		if end != "" {
			e = []byte(end)
		}
		if got := lt.ExclusiveGrantedIn(since, []byte(start), e); got != want {
			t.Fatalf("after %s: exclusive grant in [%q, %q) since %d = %t, want %t", what, start, end, since, got, want)
		}
	}
	since := lt.ExclusiveGrants()
	lt.Acquire(a, []byte("k"), Shared)
	check("a shared grant", since, "a", "", false)
	lt.Acquire(a, []byte("k"), Exclusive)
	check("an upgrade", since, "j", "l", true)
	check("an upgrade", since, "k", "k\x00", true)
	check("an upgrade", since, "k\x00", "", false)
	check("an upgrade", since, "a", "k", false)
	since = lt.ExclusiveGrants()
	lt.Acquire(b, []byte("k"), Exclusive)
	lt.Acquire(b, []byte("m"), Exclusive)
	check("a grant of m", since, "a", "l", false)
	check("a grant of m", since, "l", "", true)
	since = lt.ExclusiveGrants()
	lt.Release(a.ID)
	check("b granted k on a's release", since, "k", "l", true)
	lt.Release(b.ID)
	since = lt.ExclusiveGrants()
	lt.Rebuild([]PreparedTxn{{Txn: a, WriteKeys: [][]byte{[]byte("p")}}})
	check("a rebuild", since, "o", "q", true)
	check("a rebuild", since, "a", "o", false)
	lt.Release(a.ID)

	since = lt.ExclusiveGrants()
	for i := range recentExclusiveGrants {
		c := TxnMeta{ID: testID(fmt.Sprintf("c%d", i)), StartTS: int64(10 + i)}
		lt.Acquire(c, []byte(fmt.Sprintf("z%03d", i)), Exclusive)
		lt.Release(c.ID)
	}
	check("as many grants outside as remembered", since, "a", "y", false)
	lt.Acquire(a, []byte("z999"), Exclusive)
	check("one grant more than remembered", since, "a", "y", true)
}
