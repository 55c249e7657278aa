package elle

import (
	"fmt"
	"slices"
	"sort"
)

// writer records who appended one value of one key.
type writer struct {
	txn   int32
	final bool // the last value this txn appended to the key
}

// checker holds the indexes built over one history. Keys are interned as
// int32 ids; transactions are their history indices.
type checker struct {
	h     History
	opts  Options
	res   *Result
	keys  []string
	keyID map[string]int32

	writers  []map[int]writer // per key: value -> writer
	observed []map[int]bool   // per key: values seen by some OK read
	node     []bool           // per txn: takes part in the graph (committed)
	versions [][]int          // per key: inferred version order; nil if incompatible
	badKey   []bool           // per key: reads disagree, no dependencies inferred
	g        graph
}

// Check checks h for the anomalies described in the package documentation.
// It returns an error wrapping ErrMalformed if the history breaks the
// recording contract (the same value appended twice to a key, an unknown op
// kind or outcome, Complete before Invoke for an OK transaction). h is not
// modified.
func Check(h History, opts Options) (Result, error) {
	opts.ensureDefaults()
	res := Result{Counts: map[AnomalyType]int{}}
	c := &checker{h: h, opts: opts, res: &res, keyID: map[string]int32{}}
	if err := c.indexAppends(); err != nil {
		return Result{}, err
	}
	c.checkReads()
	c.markCommitted()
	c.checkAppendOrder()
	c.inferVersions()
	c.g.init(len(h))
	c.addDataEdges()
	if !opts.NoRealtime {
		c.addRealtimeEdges()
	}
	if opts.ProcessOrder {
		c.addProcessEdges()
	}
	c.g.finish()
	c.checkTimestamps()
	c.findCycles()
	res.Stats.Txns = len(h)
	res.Stats.Keys = len(c.keys)
	res.Stats.Edges = c.g.nEdges
	for _, n := range c.node {
		if n {
			res.Stats.Nodes++
		}
	}
	res.Valid = len(res.Counts) == 0
	sortAnomalies(res.Anomalies)
	return res, nil
}

func (c *checker) report(a Anomaly) {
	c.res.Counts[a.Type]++
	if c.res.Counts[a.Type] <= c.opts.MaxPerType {
		c.res.Anomalies = append(c.res.Anomalies, a)
	}
}

func sortAnomalies(as []Anomaly) {
	rank := func(t AnomalyType) int {
		for i, x := range []AnomalyType{G0, G1a, G1b, G1c, GSingle, G2Item,
			G0Process, G1cProcess, GSingleProcess, G2ItemProcess,
			G0Realtime, G1cRealtime, GSingleRealtime, G2ItemRealtime,
			Internal, Incompatible, DuplicateElems, GarbageRead, TimestampOrder} {
			if x == t {
				return i
			}
		}
		return 100
	}
	sort.SliceStable(as, func(i, j int) bool { return rank(as[i].Type) < rank(as[j].Type) })
}

func (c *checker) intern(key string) int32 {
	if id, ok := c.keyID[key]; ok {
		return id
	}
	id := int32(len(c.keys))
	c.keyID[key] = id
	c.keys = append(c.keys, key)
	c.writers = append(c.writers, map[int]writer{})
	c.observed = append(c.observed, map[int]bool{})
	return id
}

// indexAppends validates the history and records the writer of every value.
func (c *checker) indexAppends() error {
	last := map[int32]int{}
	for i, t := range c.h {
		switch t.Outcome {
		case OK, Fail, Info:
		default:
			return malformedf("T%d has outcome %d", i, t.Outcome)
		}
		if t.Outcome == OK && t.Complete < t.Invoke {
			return malformedf("T%d completes at %d before its invocation at %d", i, t.Complete, t.Invoke)
		}
		clear(last)
		for _, op := range t.Ops {
			k := c.intern(op.Key)
			switch op.Kind {
			case OpRead:
			case OpAppend:
				if w, dup := c.writers[k][op.Value]; dup {
					return malformedf("value %d appended to key %q by both T%d and T%d; values must be unique per key",
						op.Value, op.Key, w.txn, i)
				}
				c.writers[k][op.Value] = writer{txn: int32(i)}
				last[k] = op.Value
			default:
				return malformedf("T%d has op kind %d", i, op.Kind)
			}
		}
		for k, v := range last {
			w := c.writers[k][v]
			w.final = true
			c.writers[k][v] = w
		}
	}
	return nil
}

// checkReads looks at every read of every OK transaction on its own:
// internal consistency, duplicates, garbage, aborted and intermediate reads.
func (c *checker) checkReads() {
	for i, t := range c.h {
		if t.Outcome != OK {
			continue
		}
		c.checkInternal(i, t)
		for _, op := range t.Ops {
			if op.Kind != OpRead {
				continue
			}
			k := c.keyID[op.Key]
			c.checkOneRead(i, k, op.Values)
		}
	}
}

func (c *checker) checkOneRead(i int, k int32, vals []int) {
	key := c.keys[k]
	seen := make(map[int]bool, len(vals))
	dupReported, garbageReported, abortReported := false, false, false
	for _, v := range vals {
		c.observed[k][v] = true
		if seen[v] && !dupReported {
			dupReported = true
			c.report(Anomaly{Type: DuplicateElems, Txns: []int{i}, Key: key,
				Explanation: fmt.Sprintf("T%d read %q = %v, in which %d appears more than once", i, key, vals, v)})
		}
		seen[v] = true
		w, ok := c.writers[k][v]
		switch {
		case !ok && !garbageReported:
			garbageReported = true
			c.report(Anomaly{Type: GarbageRead, Txns: []int{i}, Key: key,
				Explanation: fmt.Sprintf("T%d read %q = %v, containing %d, which no transaction appended", i, key, vals, v)})
		case ok && c.h[w.txn].Outcome == Fail && !abortReported:
			abortReported = true
			c.report(Anomaly{Type: G1a, Txns: []int{i, int(w.txn)}, Key: key,
				Explanation: fmt.Sprintf("T%d read %q = %v, containing %d, which was appended by T%d, which aborted", i, key, vals, v, w.txn)})
		}
	}
	// G1b: the state read must not be an intermediate state of another txn.
	// Trailing values the reader appended itself are skipped: what matters
	// is the state it read from others.
	if lw, lv, ok := c.lastForeign(i, k, vals); ok && !lw.final {
		fin := c.finalAppend(int(lw.txn), key)
		c.report(Anomaly{Type: G1b, Txns: []int{i, int(lw.txn)}, Key: key,
			Explanation: fmt.Sprintf("T%d read %q = %v, whose last element %d is an intermediate append of T%d (its final append to %q is %d)",
				i, key, vals, lv, lw.txn, key, fin)})
	}
}

// lastForeign returns the writer of the last value of vals not appended by
// txn i itself, and that value.
func (c *checker) lastForeign(i int, k int32, vals []int) (writer, int, bool) {
	for j := len(vals) - 1; j >= 0; j-- {
		w, ok := c.writers[k][vals[j]]
		if !ok {
			return writer{}, 0, false
		}
		if int(w.txn) != i {
			return w, vals[j], true
		}
	}
	return writer{}, 0, false
}

func (c *checker) finalAppend(txn int, key string) int {
	v := 0
	for _, op := range c.h[txn].Ops {
		if op.Kind == OpAppend && op.Key == key {
			v = op.Value
		}
	}
	return v
}

// checkInternal verifies that each read agrees with the txn's own earlier
// operations on the key: after a read R and appends A, a read must return
// exactly R++A; after appends A alone, a read must end with A.
func (c *checker) checkInternal(i int, t Txn) {
	type state struct {
		known bool
		list  []int // full expected list when known, else own appends so far
	}
	st := map[string]*state{}
	for _, op := range t.Ops {
		s := st[op.Key]
		if s == nil {
			s = &state{}
			st[op.Key] = s
		}
		switch op.Kind {
		case OpAppend:
			s.list = append(s.list, op.Value)
		case OpRead:
			var bad bool
			var want string
			if s.known {
				bad = !slices.Equal(op.Values, s.list)
				want = fmt.Sprintf("%v", s.list)
			} else if len(s.list) > 0 {
				n := len(op.Values)
				bad = n < len(s.list) || !slices.Equal(op.Values[n-len(s.list):], s.list)
				want = fmt.Sprintf("a list ending in %v", s.list)
			}
			if bad {
				c.report(Anomaly{Type: Internal, Txns: []int{i}, Key: op.Key,
					Explanation: fmt.Sprintf("T%d read %q = %v, but its own earlier operations imply %s", i, op.Key, op.Values, want)})
			}
			s.known = true
			s.list = slices.Clone(op.Values)
		}
	}
}

// markCommitted decides which txns are graph nodes: OK ones, and Info ones
// with at least one observed append (then they certainly committed).
func (c *checker) markCommitted() {
	c.node = make([]bool, len(c.h))
	for i, t := range c.h {
		switch t.Outcome {
		case OK:
			c.node[i] = true
		case Info:
			for _, op := range t.Ops {
				if op.Kind == OpAppend && c.observed[c.keyID[op.Key]][op.Value] {
					c.node[i] = true
					break
				}
			}
		}
	}
}

// inferVersions takes the longest OK read of each key as its version order,
// and reports reads that are not a prefix of it.
func (c *checker) inferVersions() {
	c.versions = make([][]int, len(c.keys))
	c.badKey = make([]bool, len(c.keys))
	longest := make([]int, len(c.keys))
	for k := range longest {
		longest[k] = -1
	}
	c.forEachRead(func(i int, k int32, vals []int) {
		if longest[k] < 0 || len(vals) > len(c.versions[k]) {
			longest[k] = i
			c.versions[k] = vals
		}
	})
	c.forEachRead(func(i int, k int32, vals []int) {
		v := c.versions[k]
		if slices.Equal(vals, v[:len(vals)]) {
			return
		}
		c.badKey[k] = true
		key := c.keys[k]
		c.report(Anomaly{Type: Incompatible, Txns: []int{i, longest[k]}, Key: key,
			Explanation: fmt.Sprintf("T%d read %q = %v, which is not a prefix of %v read by T%d: no single version order explains both",
				i, key, vals, v, longest[k])})
	})
	for k := range c.versions {
		if c.badKey[k] {
			c.versions[k] = nil
		}
	}
}

func (c *checker) forEachRead(f func(i int, k int32, vals []int)) {
	for i, t := range c.h {
		if t.Outcome != OK {
			continue
		}
		for _, op := range t.Ops {
			if op.Kind == OpRead {
				f(i, c.keyID[op.Key], op.Values)
			}
		}
	}
}

// checkAppendOrder reports a committed txn whose later append to a key was
// observed while an earlier one was not: its appends are ordered, so no
// version order explains that (an append of a committed txn was lost).
func (c *checker) checkAppendOrder() {
	for i, t := range c.h {
		if !c.node[i] {
			continue
		}
		missing := map[string]int{} // key -> first unobserved value
		done := map[string]bool{}   // keys reported already
		for _, op := range t.Ops {
			if op.Kind != OpAppend {
				continue
			}
			seen := c.observed[c.keyID[op.Key]][op.Value]
			m, gap := missing[op.Key]
			switch {
			case !seen && !gap:
				missing[op.Key] = op.Value
			case seen && gap && !done[op.Key]:
				done[op.Key] = true
				c.report(Anomaly{Type: Incompatible, Txns: []int{i}, Key: op.Key,
					Explanation: fmt.Sprintf("T%d (%s) appended %d and then %d to %q; reads observed %d but never %d",
						i, t.Outcome, m, op.Value, op.Key, op.Value, m)})
			}
		}
	}
}
