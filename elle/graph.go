package elle

import (
	"fmt"
	"sort"
	"strings"
)

// edge is one dependency from the txn owning the adjacency list to `to`,
// with the evidence needed to explain it.
type edge struct {
	to         int32
	kind       EdgeKind
	unobserved bool  // ww/rw to an append no read observed
	key        int32 // ww, wr, rw
	n          int32 // length of the read (wr, rw)
	v1, v2     int   // ww: earlier, later value; wr: value read last; rw: last value read, next value
}

// graph is an adjacency-list dependency graph over txn ids.
type graph struct {
	adj    [][]edge
	nEdges int
}

func (g *graph) init(n int) { g.adj = make([][]edge, n) }

func (g *graph) add(from int, e edge) { g.adj[from] = append(g.adj[from], e) }

// finish sorts each adjacency list by (to, kind) and drops duplicate
// (to, kind) pairs. Kind bits are ordered ww < wr < rw < process <
// realtime, so a breadth-first search meets data edges first and labels
// cycles with them.
func (g *graph) finish() {
	for u, es := range g.adj {
		sort.SliceStable(es, func(a, b int) bool {
			if es[a].to != es[b].to {
				return es[a].to < es[b].to
			}
			return es[a].kind < es[b].kind
		})
		out := es[:0]
		for i, e := range es {
			if i > 0 && e.to == es[i-1].to && e.kind == es[i-1].kind {
				continue
			}
			out = append(out, e)
		}
		g.adj[u] = out
		g.nEdges += len(out)
	}
}

// scc returns the strongly connected component id of every node (Tarjan,
// iterative so that long chains cannot exhaust the stack).
func (g *graph) scc() []int32 {
	n := len(g.adj)
	index := make([]int32, n)
	low := make([]int32, n)
	comp := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
		comp[i] = -1
	}
	var stack []int32
	type frame struct{ v, next int32 }
	var calls []frame
	var counter, ncomp int32
	for root := range n {
		if index[root] >= 0 {
			continue
		}
		calls = append(calls, frame{v: int32(root)})
		index[root], low[root] = counter, counter
		counter++
		stack = append(stack, int32(root))
		onStack[root] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.v
			if int(f.next) < len(g.adj[v]) {
				w := g.adj[v][f.next].to
				f.next++
				if index[w] < 0 {
					index[w], low[w] = counter, counter
					counter++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{v: w})
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				p := calls[len(calls)-1].v
				if low[v] < low[p] {
					low[p] = low[v]
				}
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
		}
	}
	return comp
}

// bfsState is reused across searches; stamps avoid clearing arrays.
type bfsState struct {
	stamp   []int32
	gen     int32
	parent  []int32
	viaEdge []int32
	queue   []int32
}

// path returns the edges of a shortest path from src to dst that uses only
// edges whose kind is in mask and nodes of component cid, or nil. Every
// edge examined costs one unit of *budget; the search stops at zero.
func (g *graph) path(s *bfsState, comp []int32, cid, src, dst int32, mask EdgeKind, budget *int) [][2]int32 {
	s.gen++
	s.stamp[src] = s.gen
	s.queue = append(s.queue[:0], src)
	for qi := 0; qi < len(s.queue); qi++ {
		u := s.queue[qi]
		for ei, e := range g.adj[u] {
			*budget--
			if e.kind&mask == 0 || comp[e.to] != cid || s.stamp[e.to] == s.gen {
				continue
			}
			s.stamp[e.to] = s.gen
			s.parent[e.to], s.viaEdge[e.to] = u, int32(ei)
			if e.to == dst {
				var p [][2]int32
				for v := dst; v != src; v = s.parent[v] {
					p = append(p, [2]int32{s.parent[v], s.viaEdge[v]})
				}
				for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
					p[i], p[j] = p[j], p[i]
				}
				return p
			}
			s.queue = append(s.queue, e.to)
		}
		if *budget <= 0 {
			return nil
		}
	}
	return nil
}

// cycleSpec says how to look for one anomaly class: a cycle through an
// edge of a `special` kind closed by a path of `mask` kinds.
type cycleSpec struct {
	base     AnomalyType
	special  EdgeKind
	mask     EdgeKind
	needsOrd bool // the cycle must contain a process or real-time edge
}

const orderEdges = Process | Realtime

var (
	dataSpecs = []cycleSpec{
		{G0, WW, WW, false},
		{G1c, WR, WW | WR, false},
		{GSingle, RW, WW | WR, false},
		{G2Item, RW, WW | WR | RW, false},
	}
	orderSpecs = []cycleSpec{
		{G0, orderEdges, WW | orderEdges, true},
		{G1c, WR, WW | WR | orderEdges, true},
		{GSingle, RW, WW | WR | orderEdges, true},
		{G2Item, RW, WW | WR | RW | orderEdges, true},
	}
)

// classify names a cycle by its edges: data edges give the base class,
// order edges the suffix.
func classify(steps []Step) (base, full AnomalyType) {
	var wr, rw, rt, proc int
	for _, s := range steps {
		switch s.Kind {
		case WR:
			wr++
		case RW:
			rw++
		case Realtime:
			rt++
		case Process:
			proc++
		}
	}
	switch {
	case rw == 0 && wr == 0:
		base = G0
	case rw == 0:
		base = G1c
	case rw == 1:
		base = GSingle
	default:
		base = G2Item
	}
	switch {
	case rt > 0:
		return base, base + "-realtime"
	case proc > 0:
		return base, base + "-process"
	}
	return base, base
}

// findCycles reports, for each strongly connected component, at most one
// cycle per anomaly class; classes that need order edges are searched only
// when the component has no cycle of the same base class without them.
func (c *checker) findCycles() {
	comp := c.g.scc()
	members := map[int32][]int32{}
	for v, id := range comp {
		if c.node[v] {
			members[id] = append(members[id], int32(v))
		}
	}
	ids := make([]int32, 0, len(members))
	for id, ms := range members {
		if len(ms) >= 2 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(a, b int) bool { return members[ids[a]][0] < members[ids[b]][0] })
	n := len(c.g.adj)
	s := &bfsState{stamp: make([]int32, n), parent: make([]int32, n), viaEdge: make([]int32, n)}
	for _, id := range ids {
		c.res.Stats.NontrivialSCCs++
		found := map[AnomalyType]bool{}
		specs := dataSpecs
		if !c.opts.NoRealtime || c.opts.ProcessOrder {
			specs = append(append([]cycleSpec(nil), dataSpecs...), orderSpecs...)
		}
		for _, sp := range specs {
			if found[sp.base] {
				continue
			}
			if steps := c.searchCycle(s, comp, id, members[id], sp); steps != nil {
				found[sp.base] = true
				c.reportCycle(steps)
			}
		}
	}
}

func (c *checker) searchCycle(s *bfsState, comp []int32, cid int32, members []int32, sp cycleSpec) []Step {
	budget := c.opts.SearchBudget
	for _, u := range members {
		for _, e := range c.g.adj[u] {
			if e.kind&sp.special == 0 || comp[e.to] != cid {
				continue
			}
			p := c.g.path(s, comp, cid, e.to, u, sp.mask, &budget)
			if p == nil {
				if budget <= 0 {
					c.res.Stats.Truncated = true
					return nil
				}
				continue
			}
			steps := []Step{c.step(int(u), e)}
			for _, h := range p {
				steps = append(steps, c.step(int(h[0]), c.g.adj[h[0]][h[1]]))
			}
			base, full := classify(steps)
			if base == sp.base && (full != base) == sp.needsOrd {
				return steps
			}
		}
	}
	return nil
}

func (c *checker) step(from int, e edge) Step {
	return Step{From: from, To: int(e.to), Kind: e.kind, Why: c.why(from, e)}
}

func (c *checker) reportCycle(steps []Step) {
	_, full := classify(steps)
	txns := make([]int, len(steps))
	var b strings.Builder
	for i, s := range steps {
		txns[i] = s.From
		fmt.Fprintf(&b, "T%d -> ", s.From)
	}
	fmt.Fprintf(&b, "T%d:", steps[0].From)
	for _, s := range steps {
		fmt.Fprintf(&b, "\n  T%d < T%d (%s): %s", s.From, s.To, s.Kind, s.Why)
	}
	c.report(Anomaly{Type: full, Txns: txns, Cycle: steps, Explanation: "cycle " + b.String()})
}

// why explains one edge with the evidence that produced it.
func (c *checker) why(from int, e edge) string {
	to := int(e.to)
	switch e.kind {
	case WW:
		key := c.keys[e.key]
		if e.unobserved {
			return fmt.Sprintf("T%d appended %d to %q and committed, but no read observed it, so it follows %d, the last observed element, which T%d appended",
				to, e.v2, key, e.v1, from)
		}
		return fmt.Sprintf("T%d appended %d to %q right after %d, which T%d appended", to, e.v2, key, e.v1, from)
	case WR:
		return fmt.Sprintf("T%d read %q with %d elements, the last from others being %d, which T%d appended", to, c.keys[e.key], e.n, e.v1, from)
	case RW:
		key := c.keys[e.key]
		read := fmt.Sprintf("T%d read %q = []", from, key)
		if e.n > 0 {
			read = fmt.Sprintf("T%d read %q with %d elements ending in %d", from, key, e.n, e.v1)
		}
		if e.unobserved {
			return fmt.Sprintf("%s, the longest observed version; T%d appended %d, committed and never observed, so it comes after that read", read, to, e.v2)
		}
		return fmt.Sprintf("%s; T%d appended %d, the next element, so T%d read the version before T%d's append", read, to, e.v2, from, to)
	case Realtime:
		return fmt.Sprintf("T%d completed at %d before T%d was invoked at %d", from, c.h[from].Complete, to, c.h[to].Invoke)
	case Process:
		return fmt.Sprintf("T%d and T%d are successive transactions of process %d", from, to, c.h[from].Process)
	}
	return "?"
}
