package engine

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
)

// aggNode is hash aggregation: output rows are the group values then one
// slot per aggregate.
//
// Groups come out in the order of their first row while the table fits;
// nothing above relies on it (ORDER BY sorts above), but unordered results
// stay stable. A table that outgrows its share follows spillhash.go: the
// groups it holds keep aggregating in memory, and the other groups' rows
// go to partitions as events — the group values and the evaluated
// arguments, so that no expression runs twice. Each partition is
// aggregated after the held groups are out. A group's rows keep their
// input order on the way, so order-sensitive results (GROUP_CONCAT, a
// DOUBLE's SUM) are those of an in-memory run.
//
// A DISTINCT aggregate keeps no set per group: every (aggregate, group,
// value) goes through one spillSet, and its first occurrence is aggregated
// like a plain value. A group's state is then a few fields whatever its
// size, and one group with many distinct values spills like any big set.
type aggNode struct {
	in     node
	groups []expr
	aggs   []*aggSpec
}

func (n *aggNode) width() int { return len(n.groups) + len(n.aggs) }
func (n *aggNode) explain(ind string, out *[]string) {
	*out = append(*out, fmt.Sprintf("%shash aggregate (%d group column(s), %d aggregate(s))", ind, len(n.groups), len(n.aggs)))
	n.in.explain(ind+"  ", out)
}

// dedups reports whether the aggregate sees each distinct value once.
func (a *aggSpec) dedups() bool { return a.distinct && a.arg != nil }

type aggState struct {
	count  int64
	sum    types.Datum
	minmax types.Datum
	has    bool
	concat []string
}

type aggGroup struct {
	vals   []types.Datum
	states []aggState
}

// An event is what reaches a group, in memory or in a partition file:
//
//	group values..., tag, one value slot per aggregate
//
// Tag -1 is an input row: the slots hold the plain aggregates' arguments.
// Tag j is the first occurrence of aggregate j's DISTINCT value, in slot
// j. Unused slots are NULL.
const rowEvent = -1

func (n *aggNode) event(gv []types.Datum, tag int, vals []types.Datum) []types.Datum {
	ev := make([]types.Datum, 0, len(gv)+1+len(n.aggs))
	ev = append(append(ev, gv...), types.NewInt(int64(tag)))
	for j, a := range n.aggs {
		if (tag == rowEvent && !a.dedups()) || tag == j {
			ev = append(ev, vals[j])
		} else {
			ev = append(ev, types.Null())
		}
	}
	return ev
}

// dedupKey identifies aggregate j's value v within the group of key gk
// (keys are self-delimiting, so the concatenation is unambiguous).
func dedupKey(j int, gk string, v types.Datum) string {
	b := binary.AppendUvarint(nil, uint64(j))
	b = append(b, gk...)
	return string(rowenc.EncodeKey(b, v, false))
}

// aggTable is one level's groups.
type aggTable struct {
	spillLevels
	n      *aggNode
	groups map[string]*aggGroup
	order  []*aggGroup
}

// route adds an event to its group; the group is created if the table can
// hold it, else the event goes to a partition.
func (t *aggTable) route(c *stmtCtx, gk string, gv []types.Datum, tag int, vals []types.Datum) error {
	g := t.groups[gk]
	if g == nil {
		size := len(gk) + rowSize(gv) + 64*len(t.n.aggs) + 64
		if t.parts != nil || !t.mem.fits(size) {
			return t.spill(c, gk, t.n.event(gv, tag, vals))
		}
		g = &aggGroup{vals: gv, states: make([]aggState, len(t.n.aggs))}
		t.groups[gk] = g
		t.order = append(t.order, g)
		if err := t.mem.add(size); err != nil {
			return err
		}
	}
	if tag != rowEvent {
		return t.add(t.n.aggs[tag], &g.states[tag], vals[tag])
	}
	for j, a := range t.n.aggs {
		switch {
		case a.dedups():
		case a.arg == nil: // COUNT(*)
			g.states[j].count++
		default:
			if err := t.add(a, &g.states[j], vals[j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// add aggregates one value (already deduplicated for DISTINCT).
func (t *aggTable) add(a *aggSpec, s *aggState, v types.Datum) error {
	if v.IsNull() {
		return nil
	}
	s.count++
	switch a.fn {
	case "SUM", "AVG":
		if v.Kind() == types.KindString {
			f, _ := types.ToFloat64(v)
			v = types.NewFloat(f)
		}
		if !s.has {
			s.sum, s.has = v, true
			if k := v.Kind(); k == types.KindInt || k == types.KindUint {
				d, _ := types.ToDecimal(v)
				s.sum = types.NewDecimal(d)
			}
			return nil
		}
		var err error
		s.sum, err = types.Add(s.sum, v)
		return err
	case "MIN", "MAX":
		if !s.has {
			s.minmax, s.has = v, true
			return nil
		}
		k, err := types.Compare(v, s.minmax)
		if err != nil {
			return err
		}
		if (a.fn == "MIN" && k < 0) || (a.fn == "MAX" && k > 0) {
			s.minmax = v
		}
	case "GROUP_CONCAT":
		str := types.ToString(v)
		s.concat = append(s.concat, str)
		return t.mem.add(len(str) + 16) // it grows with the group
	}
	return nil
}

func (n *aggNode) open(c *stmtCtx) (rowIter, error) {
	in, err := n.in.open(c)
	if err != nil {
		return nil, err
	}
	it := &aggIter{n: n, in: in, table: aggTable{
		spillLevels: spillLevels{op: "hash aggregate", mem: newHashMem(c)},
		n:           n, groups: map[string]*aggGroup{},
	}}
	for _, a := range n.aggs {
		if a.dedups() {
			it.dedup = newSpillSet(c, "hash aggregate")
			break
		}
	}
	return it, nil
}

// aggIter aggregates a level (the input, then each partition), emits its
// groups, and moves on to the next.
type aggIter struct {
	n     *aggNode
	in    rowIter   // the input; nil once read through
	dedup *spillSet // nil without DISTINCT aggregates
	table aggTable
	pos   int  // next group of the level to emit
	ready bool // the level's groups are complete
	done  bool // every level is out
}

func (it *aggIter) next(c *stmtCtx) ([]types.Datum, error) {
	for !it.done {
		if it.ready && it.pos < len(it.table.order) {
			g := it.table.order[it.pos]
			it.pos++
			return it.output(g)
		}
		var src *spillFile
		if it.ready {
			// The level is out: forget it and read the next partition.
			it.table.groups, it.table.order, it.pos, it.ready = map[string]*aggGroup{}, nil, 0, false
			var err error
			if src, err = it.table.nextSource(); err != nil {
				return nil, err
			}
			if src == nil {
				it.done = true
				break
			}
		}
		if err := it.fill(c, src); err != nil {
			return nil, err
		}
		it.ready = true
	}
	return nil, nil
}

// fill aggregates a level: the input when src is nil, else a partition.
func (it *aggIter) fill(c *stmtCtx, src *spillFile) error {
	if src != nil {
		ng := len(it.n.groups)
		for {
			ev, err := src.next()
			if err != nil || ev == nil {
				return err
			}
			gv := ev[:ng:ng]
			if err := it.table.route(c, keyOf(gv), gv, int(ev[ng].Int()), ev[ng+1:]); err != nil {
				return err
			}
		}
	}
	for {
		r, err := it.in.next(c)
		if err != nil {
			return err
		}
		if r == nil {
			break
		}
		if err := it.addRow(c, r); err != nil {
			return err
		}
	}
	it.in.close()
	it.in = nil
	if err := it.drainDedup(c); err != nil {
		return err
	}
	if len(it.table.order) == 0 && len(it.n.groups) == 0 {
		// Aggregates over no rows: one row (COUNT 0, others NULL).
		it.table.order = append(it.table.order, &aggGroup{states: make([]aggState, len(it.n.aggs))})
	}
	return nil
}

// addRow evaluates an input row's group values and arguments and routes
// its events.
func (it *aggIter) addRow(c *stmtCtx, r []types.Datum) error {
	n := it.n
	gv := make([]types.Datum, len(n.groups))
	var err error
	for i, g := range n.groups {
		if gv[i], err = g.eval(c, r); err != nil {
			return err
		}
	}
	vals := make([]types.Datum, len(n.aggs))
	for j, a := range n.aggs {
		if a.arg != nil {
			if vals[j], err = a.arg.eval(c, r); err != nil {
				return err
			}
		}
	}
	gk := keyOf(gv)
	if err := it.table.route(c, gk, gv, rowEvent, vals); err != nil {
		return err
	}
	for j, a := range n.aggs {
		if !a.dedups() || vals[j].IsNull() {
			continue
		}
		ev := n.event(gv, j, vals)
		first, err := it.dedup.admit(c, dedupKey(j, gk, vals[j]), ev)
		if err != nil {
			return err
		}
		if first {
			if err := it.table.route(c, gk, gv, j, vals); err != nil {
				return err
			}
		}
	}
	return nil
}

// drainDedup aggregates the DISTINCT values the dedup set spilled: each
// first occurrence found in its partitions goes to its group (held, or in
// a partition of the table's).
func (it *aggIter) drainDedup(c *stmtCtx) error {
	if it.dedup == nil {
		return nil
	}
	ng := len(it.n.groups)
	for {
		src, err := it.dedup.nextSource()
		if err != nil || src == nil {
			return err
		}
		for {
			ev, err := src.next()
			if err != nil {
				return err
			}
			if ev == nil {
				break
			}
			gv, j := ev[:ng:ng], int(ev[ng].Int())
			vals := ev[ng+1:]
			gk := keyOf(gv)
			first, err := it.dedup.admit(c, dedupKey(j, gk, vals[j]), ev)
			if err != nil {
				return err
			}
			if first {
				if err := it.table.route(c, gk, gv, j, vals); err != nil {
					return err
				}
			}
		}
	}
}

func (it *aggIter) output(g *aggGroup) ([]types.Datum, error) {
	row := make([]types.Datum, 0, len(it.n.groups)+len(it.n.aggs))
	row = append(row, g.vals...)
	for j, a := range it.n.aggs {
		v, err := finish(a, &g.states[j])
		if err != nil {
			return nil, err
		}
		row = append(row, v)
	}
	return row, nil
}

func (it *aggIter) close() {
	if it.in != nil {
		it.in.close()
	}
	if it.dedup != nil {
		it.dedup.close()
	}
	it.table.close()
}

func finish(a *aggSpec, s *aggState) (types.Datum, error) {
	switch a.fn {
	case "COUNT":
		return types.NewInt(s.count), nil
	case "SUM":
		if !s.has {
			return types.Null(), nil
		}
		return s.sum, nil
	case "AVG":
		if !s.has {
			return types.Null(), nil
		}
		if s.sum.Kind() == types.KindFloat {
			return types.NewFloat(s.sum.Float() / float64(s.count)), nil
		}
		var cnt apd.Decimal
		cnt.SetInt64(s.count)
		return types.Div(s.sum, types.NewDecimal(&cnt))
	case "MIN", "MAX":
		if !s.has {
			return types.Null(), nil
		}
		return s.minmax, nil
	case "GROUP_CONCAT":
		if s.count == 0 {
			return types.Null(), nil
		}
		return types.NewString(strings.Join(s.concat, ",")), nil
	}
	return types.Null(), nil
}
