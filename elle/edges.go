package elle

import (
	"fmt"
	"slices"
	"sort"
)

type appender struct {
	txn int32
	val int
}

// addDataEdges adds ww, wr and rw edges inferred from each key's version
// order. Keys with incompatible reads get none.
func (c *checker) addDataEdges() {
	unobs := c.unobservedAppends()
	lastW := make([]int32, len(c.keys)) // last committed writer in each version order
	lastV := make([]int, len(c.keys))
	for k, vs := range c.versions {
		lastW[k] = -1
		if c.badKey[k] {
			continue
		}
		prev, prevVal := int32(-1), 0
		for _, v := range vs {
			w, ok := c.writers[k][v]
			if !ok || !c.node[w.txn] {
				continue // garbage or aborted value: reported already
			}
			if prev >= 0 && w.txn != prev {
				c.g.add(int(prev), edge{to: w.txn, kind: WW, key: int32(k), v1: prevVal, v2: v})
			}
			prev, prevVal = w.txn, v
		}
		lastW[k], lastV[k] = prev, prevVal
		// A committed append nobody observed comes after every observed
		// version: lists only grow, so any read after it would contain it.
		for _, u := range unobs[k] {
			if prev >= 0 && u.txn != prev {
				c.g.add(int(prev), edge{to: u.txn, kind: WW, key: int32(k), v1: prevVal, v2: u.val, unobserved: true})
			}
		}
	}
	c.forEachRead(func(i int, k int32, vals []int) {
		if c.badKey[k] {
			return
		}
		// Strip values the reader appended itself: they say nothing about
		// other transactions.
		j := len(vals)
		for j > 0 {
			if w, ok := c.writers[k][vals[j-1]]; ok && int(w.txn) == i {
				j--
				continue
			}
			break
		}
		if j > 0 {
			if w, ok := c.writers[k][vals[j-1]]; ok && c.node[w.txn] {
				c.g.add(int(w.txn), edge{to: int32(i), kind: WR, key: k, v1: vals[j-1], n: int32(len(vals))})
			}
		}
		if j < len(vals) {
			return // read its own appends: the next foreign writer follows via ww
		}
		c.addAntiDependency(i, k, vals, unobs[k])
	})
}

// addAntiDependency adds i -rw-> T where T appended the element right after
// the prefix vals in the version order of k (or every unobserved committed
// appender, if vals is the whole observed order).
func (c *checker) addAntiDependency(i int, k int32, vals []int, unobs []appender) {
	vs := c.versions[k]
	last, lastW := 0, int32(-1)
	if len(vals) > 0 {
		last = vals[len(vals)-1]
		if w, ok := c.writers[k][last]; ok {
			lastW = w.txn
		}
	}
	for idx := len(vals); idx < len(vs); idx++ {
		w, ok := c.writers[k][vs[idx]]
		// Skip garbage and aborted values (reported already) and the rest
		// of an intermediate read's writer (G1b, reported already).
		if !ok || !c.node[w.txn] || w.txn == lastW {
			continue
		}
		if int(w.txn) != i {
			c.g.add(i, edge{to: w.txn, kind: RW, key: k, v1: last, v2: vs[idx], n: int32(len(vals))})
		}
		return
	}
	for _, u := range unobs {
		if int(u.txn) != i && u.txn != lastW {
			c.g.add(i, edge{to: u.txn, kind: RW, key: k, v1: last, v2: u.val, n: int32(len(vals)), unobserved: true})
		}
	}
}

// unobservedAppends lists, per key, the committed txns with an append no
// OK read observed (one entry per txn: its first such value).
func (c *checker) unobservedAppends() [][]appender {
	unobs := make([][]appender, len(c.keys))
	for i, t := range c.h {
		if !c.node[i] {
			continue
		}
		for _, op := range t.Ops {
			if op.Kind != OpAppend {
				continue
			}
			k := c.keyID[op.Key]
			if c.observed[k][op.Value] {
				continue
			}
			if n := len(unobs[k]); n > 0 && int(unobs[k][n-1].txn) == i {
				continue
			}
			unobs[k] = append(unobs[k], appender{txn: int32(i), val: op.Value})
		}
	}
	return unobs
}

// addRealtimeEdges adds T1 -> T2 whenever T1 completed before T2 was
// invoked, as a transitive reduction: T2 gets edges only from the frontier
// of most recently completed txns (Elle's approach), so the edge count is
// about txns × concurrency instead of txns². Info txns never complete.
func (c *checker) addRealtimeEdges() {
	type event struct {
		at       int64
		complete bool
		txn      int32
	}
	var evs []event
	for i, t := range c.h {
		if !c.node[i] {
			continue
		}
		evs = append(evs, event{at: t.Invoke, txn: int32(i)})
		if t.Outcome == OK {
			evs = append(evs, event{at: t.Complete, complete: true, txn: int32(i)})
		}
	}
	// At equal times invocations go first: T1 must complete strictly
	// before T2 is invoked.
	sort.Slice(evs, func(a, b int) bool {
		if evs[a].at != evs[b].at {
			return evs[a].at < evs[b].at
		}
		return !evs[a].complete && evs[b].complete
	})
	var frontier []int32
	preds := make(map[int32][]int32)
	covered := make([]bool, len(c.h))
	for _, ev := range evs {
		if !ev.complete {
			for _, f := range frontier {
				c.g.add(int(f), edge{to: ev.txn, kind: Realtime})
			}
			preds[ev.txn] = slices.Clone(frontier)
			continue
		}
		// Everything that preceded ev.txn is now reachable through it.
		for _, p := range preds[ev.txn] {
			covered[p] = true
		}
		delete(preds, ev.txn)
		frontier = slices.DeleteFunc(frontier, func(f int32) bool { return covered[f] })
		frontier = append(frontier, ev.txn)
	}
}

// addProcessEdges links each committed txn of a process to the next one
// invoked by that process. Info txns get no outgoing edge: they may commit
// after the process moved on.
func (c *checker) addProcessEdges() {
	byProc := map[int][]int32{}
	for i, t := range c.h {
		if c.node[i] {
			byProc[t.Process] = append(byProc[t.Process], int32(i))
		}
	}
	for _, ts := range byProc {
		sort.SliceStable(ts, func(a, b int) bool { return c.h[ts[a]].Invoke < c.h[ts[b]].Invoke })
		prev := int32(-1)
		for _, t := range ts {
			if prev >= 0 {
				c.g.add(int(prev), edge{to: t, kind: Process})
			}
			if c.h[t].Outcome == OK {
				prev = t
			}
		}
	}
}

// checkTimestamps checks reported commit timestamps against the graph: a
// ww or rw dependency needs a strictly larger timestamp, a wr dependency a
// larger or equal one (a read-only txn at t sees commits at t), and a txn
// invoked after a writing txn completed needs a strictly larger timestamp
// (commit wait, DESIGN.md §2 invariant 3).
func (c *checker) checkTimestamps() {
	ts := func(i int) int64 {
		if c.h[i].Outcome != OK {
			return 0
		}
		return c.h[i].CommitTS
	}
	for u := range c.g.adj {
		tu := ts(u)
		if tu == 0 {
			continue
		}
		for _, e := range c.g.adj[u] {
			tv := ts(int(e.to))
			if tv == 0 || e.kind&(WW|WR|RW) == 0 {
				continue
			}
			if tu < tv || (e.kind == WR && tu == tv) {
				continue
			}
			c.report(Anomaly{Type: TimestampOrder, Txns: []int{u, int(e.to)}, Key: c.keys[e.key],
				Explanation: fmt.Sprintf("T%d (ts %d) < T%d (ts %d) by a %s dependency, but the timestamps are not ordered that way: %s",
					u, tu, e.to, tv, e.kind, c.why(u, e))})
		}
	}
	c.checkRealtimeTimestamps(ts)
}

func (c *checker) checkRealtimeTimestamps(ts func(int) int64) {
	var writers []int
	for i, t := range c.h {
		if ts(i) != 0 && slices.ContainsFunc(t.Ops, func(op Op) bool { return op.Kind == OpAppend }) {
			writers = append(writers, i)
		}
	}
	sort.Slice(writers, func(a, b int) bool { return c.h[writers[a]].Complete < c.h[writers[b]].Complete })
	maxIdx := make([]int, len(writers)) // argmax of ts over writers[:j+1]
	for j, w := range writers {
		maxIdx[j] = w
		if j > 0 && ts(maxIdx[j-1]) > ts(w) {
			maxIdx[j] = maxIdx[j-1]
		}
	}
	for i, t := range c.h {
		if ts(i) == 0 {
			continue
		}
		n := sort.Search(len(writers), func(j int) bool { return c.h[writers[j]].Complete >= t.Invoke })
		if n == 0 {
			continue
		}
		if w := maxIdx[n-1]; ts(w) >= ts(i) {
			c.report(Anomaly{Type: TimestampOrder, Txns: []int{w, i},
				Explanation: fmt.Sprintf("T%d completed at %d before T%d was invoked at %d, but T%d committed at ts %d ≥ T%d's ts %d",
					w, c.h[w].Complete, i, t.Invoke, w, ts(w), i, ts(i))})
		}
	}
}
