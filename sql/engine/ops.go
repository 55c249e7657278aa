package engine

import (
	"container/heap"
	"fmt"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
)

// sliceIter serves materialized rows.
type sliceIter struct{ rows [][]types.Datum }

func (it *sliceIter) next(*stmtCtx) ([]types.Datum, error) {
	if len(it.rows) == 0 {
		return nil, nil
	}
	r := it.rows[0]
	it.rows = it.rows[1:]
	return r, nil
}
func (it *sliceIter) close() {}

// funcIter adapts closures.
type funcIter struct {
	nextFn  func(c *stmtCtx) ([]types.Datum, error)
	closeFn func()
}

func (it *funcIter) next(c *stmtCtx) ([]types.Datum, error) { return it.nextFn(c) }
func (it *funcIter) close() {
	if it.closeFn != nil {
		it.closeFn()
	}
}

// dualNode is FROM-less SELECT: one empty row.
type dualNode struct{}

func (dualNode) width() int { return 0 }
func (dualNode) open(*stmtCtx) (rowIter, error) {
	return &sliceIter{rows: [][]types.Datum{{}}}, nil
}
func (dualNode) explain(ind string, out *[]string) { *out = append(*out, ind+"no table") }

// queryNode wraps a derived table.
type queryNode struct{ q *query }

func (n *queryNode) width() int                       { return len(n.q.out) }
func (n *queryNode) open(c *stmtCtx) (rowIter, error) { return n.q.root.open(c) }
func (n *queryNode) explain(ind string, out *[]string) {
	*out = append(*out, ind+"derived table")
	n.q.root.explain(ind+"  ", out)
}

type filterNode struct {
	in    node
	conds []expr
}

func (n *filterNode) width() int { return n.in.width() }
func (n *filterNode) explain(ind string, out *[]string) {
	*out = append(*out, fmt.Sprintf("%sfilter (%d condition(s))", ind, len(n.conds)))
	n.in.explain(ind+"  ", out)
}
func (n *filterNode) open(c *stmtCtx) (rowIter, error) {
	in, err := n.in.open(c)
	if err != nil {
		return nil, err
	}
	return &funcIter{closeFn: in.close, nextFn: func(c *stmtCtx) ([]types.Datum, error) {
		for {
			r, err := in.next(c)
			if r == nil || err != nil {
				return nil, err
			}
			if ok, err := passes(c, n.conds, r); err != nil || ok {
				return r, err
			}
		}
	}}, nil
}

type projectNode struct {
	in    node
	exprs []expr
}

func (n *projectNode) width() int { return len(n.exprs) }
func (n *projectNode) explain(ind string, out *[]string) {
	*out = append(*out, fmt.Sprintf("%sproject %d column(s)", ind, len(n.exprs)))
	n.in.explain(ind+"  ", out)
}
func (n *projectNode) open(c *stmtCtx) (rowIter, error) {
	in, err := n.in.open(c)
	if err != nil {
		return nil, err
	}
	return &funcIter{closeFn: in.close, nextFn: func(c *stmtCtx) ([]types.Datum, error) {
		r, err := in.next(c)
		if r == nil || err != nil {
			return nil, err
		}
		out := make([]types.Datum, len(n.exprs))
		for i, e := range n.exprs {
			if out[i], err = e.eval(c, r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}}, nil
}

// cutNode drops hidden trailing columns (sort keys).
type cutNode struct {
	in node
	n  int
}

func (n *cutNode) width() int                        { return n.n }
func (n *cutNode) explain(ind string, out *[]string) { n.in.explain(ind, out) }
func (n *cutNode) open(c *stmtCtx) (rowIter, error) {
	in, err := n.in.open(c)
	if err != nil {
		return nil, err
	}
	return &funcIter{closeFn: in.close, nextFn: func(c *stmtCtx) ([]types.Datum, error) {
		r, err := in.next(c)
		if r == nil || err != nil {
			return nil, err
		}
		return r[:n.n], nil
	}}, nil
}

type distinctNode struct {
	in node
	n  int // leading columns that define distinctness
}

func (n *distinctNode) width() int { return n.in.width() }
func (n *distinctNode) explain(ind string, out *[]string) {
	*out = append(*out, ind+"distinct (hash)")
	n.in.explain(ind+"  ", out)
}
func (n *distinctNode) open(c *stmtCtx) (rowIter, error) {
	in, err := n.in.open(c)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	return &funcIter{closeFn: in.close, nextFn: func(c *stmtCtx) ([]types.Datum, error) {
		for {
			r, err := in.next(c)
			if r == nil || err != nil {
				return nil, err
			}
			k := keyOf(r[:n.n])
			if !seen[k] {
				seen[k] = true
				if err := c.charge(len(k)); err != nil {
					return nil, err
				}
				return r, nil
			}
		}
	}}, nil
}

// intArg evaluates a LIMIT/OFFSET operand.
func intArg(c *stmtCtx, e expr) (int64, error) {
	if e == nil {
		return 0, nil
	}
	d, err := e.eval(c, nil)
	if err != nil {
		return 0, err
	}
	v, _ := types.ToInt64(d)
	if v < 0 {
		return 0, sqlerr.WrongArguments("LIMIT")
	}
	return v, nil
}

type limitNode struct {
	in            node
	offset, count expr
}

func (n *limitNode) width() int { return n.in.width() }
func (n *limitNode) explain(ind string, out *[]string) {
	*out = append(*out, ind+"limit")
	n.in.explain(ind+"  ", out)
}
func (n *limitNode) open(c *stmtCtx) (rowIter, error) {
	off, err := intArg(c, n.offset)
	if err != nil {
		return nil, err
	}
	cnt, err := intArg(c, n.count)
	if err != nil {
		return nil, err
	}
	in, err := n.in.open(c)
	if err != nil {
		return nil, err
	}
	return &funcIter{closeFn: in.close, nextFn: func(c *stmtCtx) ([]types.Datum, error) {
		for off > 0 {
			r, err := in.next(c)
			if r == nil || err != nil {
				return nil, err
			}
			off--
		}
		if cnt <= 0 {
			return nil, nil
		}
		cnt--
		return in.next(c)
	}}, nil
}

// sortNode sorts by key columns; with a LIMIT it keeps only the top
// offset+count rows in a heap (top-N), so ORDER BY ... LIMIT holds little.
type sortNode struct {
	in           node
	keys         []int
	desc         []bool
	topN, offset expr
}

func (n *sortNode) width() int { return n.in.width() }
func (n *sortNode) explain(ind string, out *[]string) {
	s := "sort"
	if n.topN != nil {
		s = "top-N sort"
	}
	*out = append(*out, ind+s)
	n.in.explain(ind+"  ", out)
}

type rowHeap struct {
	rows [][]types.Datum
	less func(a, b []types.Datum) bool
}

func (h *rowHeap) Len() int           { return len(h.rows) }
func (h *rowHeap) Less(i, j int) bool { return h.less(h.rows[j], h.rows[i]) } // max-heap
func (h *rowHeap) Swap(i, j int)      { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *rowHeap) Push(x any)         { h.rows = append(h.rows, x.([]types.Datum)) }
func (h *rowHeap) Pop() any {
	r := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return r
}

func (n *sortNode) open(c *stmtCtx) (rowIter, error) {
	in, err := n.in.open(c)
	if err != nil {
		return nil, err
	}
	defer in.close()
	var cmpErr error
	less := func(a, b []types.Datum) bool {
		for i, k := range n.keys {
			x, err := types.Compare(a[k], b[k])
			if err != nil && cmpErr == nil {
				cmpErr = err
			}
			if x != 0 {
				return (x < 0) != n.desc[i]
			}
		}
		return false
	}
	limit := int64(-1)
	if n.topN != nil {
		cnt, err := intArg(c, n.topN)
		if err != nil {
			return nil, err
		}
		off, err := intArg(c, n.offset)
		if err != nil {
			return nil, err
		}
		limit = cnt + off
	}
	h := &rowHeap{less: less}
	// A full sort holds at most a quarter of the statement's memory; past
	// that it spills sorted runs to disk and merges them (spill.go).
	share := c.s.e.cfg.MaxStatementMemory / 4
	var runs []*spillRun
	defer func() {
		if runs != nil && cmpErr != nil {
			for _, r := range runs {
				r.close()
			}
		}
	}()
	held := int64(0)
	for {
		r, err := in.next(c)
		if err != nil {
			for _, r := range runs {
				r.close()
			}
			return nil, err
		}
		if r == nil {
			break
		}
		if limit >= 0 {
			if int64(h.Len()) < limit {
				heap.Push(h, r)
			} else if limit > 0 && less(r, h.rows[0]) {
				h.rows[0] = r
				heap.Fix(h, 0)
			}
			continue
		}
		h.rows = append(h.rows, r)
		if held += int64(rowSize(r)); held > share {
			if err := sortRows(h.rows, n.keys, n.desc); err != nil {
				return nil, err
			}
			run, err := writeRun(h.rows)
			if err != nil {
				return nil, err
			}
			runs = append(runs, run)
			c.s.e.spills.Add(1)
			h.rows, held = nil, 0
		}
	}
	rows := h.rows
	if err := sortRows(rows, n.keys, n.desc); err != nil {
		return nil, err
	}
	if cmpErr != nil {
		return nil, cmpErr
	}
	if len(runs) > 0 {
		return newMergeIter(runs, rows, less)
	}
	return &sliceIter{rows: rows}, nil
}

func rowSize(r []types.Datum) int {
	n := 16 * len(r)
	for _, d := range r {
		if k := d.Kind(); k == types.KindString || k == types.KindBytes {
			n += len(d.Bytes()) + len(d.Str())
		}
	}
	return n
}

type unionNode struct {
	parts []node
	w     int
}

func (n *unionNode) width() int { return n.w }
func (n *unionNode) explain(ind string, out *[]string) {
	*out = append(*out, ind+"union")
	for _, p := range n.parts {
		p.explain(ind+"  ", out)
	}
}
func (n *unionNode) open(c *stmtCtx) (rowIter, error) {
	i := 0
	var cur rowIter
	return &funcIter{
		closeFn: func() {
			if cur != nil {
				cur.close()
			}
		},
		nextFn: func(c *stmtCtx) ([]types.Datum, error) {
			for {
				if cur == nil {
					if i == len(n.parts) {
						return nil, nil
					}
					var err error
					if cur, err = n.parts[i].open(c); err != nil {
						return nil, err
					}
					i++
				}
				r, err := cur.next(c)
				if err != nil {
					return nil, err
				}
				if r != nil {
					return r, nil
				}
				cur.close()
				cur = nil
			}
		}}, nil
}

// aggNode is hash aggregation: output rows are the group values then one
// slot per aggregate.
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

type aggState struct {
	count    int64
	sum      types.Datum
	minmax   types.Datum
	has      bool
	distinct map[string]bool
	concat   []string
}

func (n *aggNode) open(c *stmtCtx) (rowIter, error) {
	in, err := n.in.open(c)
	if err != nil {
		return nil, err
	}
	defer in.close()
	type group struct {
		vals   []types.Datum
		states []*aggState
	}
	groups := map[string]*group{}
	var order []string
	for {
		r, err := in.next(c)
		if err != nil {
			return nil, err
		}
		if r == nil {
			break
		}
		gv := make([]types.Datum, len(n.groups))
		for i, g := range n.groups {
			if gv[i], err = g.eval(c, r); err != nil {
				return nil, err
			}
		}
		k := keyOf(gv)
		g := groups[k]
		if g == nil {
			g = &group{vals: gv, states: make([]*aggState, len(n.aggs))}
			for i := range g.states {
				g.states[i] = &aggState{}
			}
			groups[k] = g
			order = append(order, k)
			if err := c.charge(len(k) + 64*len(n.aggs)); err != nil {
				return nil, err
			}
		}
		for i, a := range n.aggs {
			if err := accumulate(c, a, g.states[i], r); err != nil {
				return nil, err
			}
		}
	}
	if len(order) == 0 && len(n.groups) == 0 {
		// Aggregates over no rows: one row (COUNT 0, others NULL).
		order = append(order, "")
		g := &group{states: make([]*aggState, len(n.aggs))}
		for i := range g.states {
			g.states[i] = &aggState{}
		}
		groups[""] = g
	}
	rows := make([][]types.Datum, 0, len(order))
	for _, k := range order {
		g := groups[k]
		row := append([]types.Datum{}, g.vals...)
		for i, a := range n.aggs {
			v, err := finish(a, g.states[i])
			if err != nil {
				return nil, err
			}
			row = append(row, v)
		}
		rows = append(rows, row)
	}
	return &sliceIter{rows: rows}, nil
}

func accumulate(c *stmtCtx, a *aggSpec, s *aggState, row []types.Datum) error {
	if a.arg == nil { // COUNT(*)
		s.count++
		return nil
	}
	v, err := a.arg.eval(c, row)
	if err != nil || v.IsNull() {
		return err
	}
	if a.distinct {
		if s.distinct == nil {
			s.distinct = map[string]bool{}
		}
		k := keyOf([]types.Datum{v})
		if s.distinct[k] {
			return nil
		}
		s.distinct[k] = true
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
		s.concat = append(s.concat, types.ToString(v))
	}
	return nil
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

// nestedJoin: for each left row, every right row (re-read per left row
// only once: the right side is materialized). With leftOuter, unmatched
// left rows get NULLs.
type nestedJoin struct {
	left, right node
	rightW      int
	on          []expr
	leftOuter   bool
}

func (n *nestedJoin) width() int { return n.left.width() + n.rightW }
func (n *nestedJoin) explain(ind string, out *[]string) {
	kind := "nested loop join"
	if n.leftOuter {
		kind = "nested loop left join"
	}
	*out = append(*out, ind+kind)
	n.left.explain(ind+"  ", out)
	n.right.explain(ind+"  ", out)
}

func materialize(c *stmtCtx, n node) ([][]types.Datum, error) {
	it, err := n.open(c)
	if err != nil {
		return nil, err
	}
	defer it.close()
	var rows [][]types.Datum
	for {
		r, err := it.next(c)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return rows, nil
		}
		if err := c.charge(rowSize(r)); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
}

func (n *nestedJoin) open(c *stmtCtx) (rowIter, error) {
	right, err := materialize(c, n.right)
	if err != nil {
		return nil, err
	}
	left, err := n.left.open(c)
	if err != nil {
		return nil, err
	}
	var cur []types.Datum
	i, matched := 0, false
	return &funcIter{closeFn: left.close, nextFn: func(c *stmtCtx) ([]types.Datum, error) {
		for {
			if cur == nil {
				if cur, err = left.next(c); cur == nil || err != nil {
					return nil, err
				}
				i, matched = 0, false
			}
			for i < len(right) {
				row := append(append([]types.Datum{}, cur...), right[i]...)
				i++
				ok, err := passes(c, n.on, row)
				if err != nil {
					return nil, err
				}
				if ok {
					matched = true
					return row, nil
				}
			}
			l := cur
			cur = nil
			if n.leftOuter && !matched {
				row := append([]types.Datum{}, l...)
				for range n.rightW {
					row = append(row, types.Null())
				}
				return row, nil
			}
		}
	}}, nil
}

// hashJoin builds a hash table of the right side on its key expressions
// and probes it with each left row.
type hashJoin struct {
	left, right  node
	lkeys, rkeys []expr
	on           []expr
}

func (n *hashJoin) width() int { return n.left.width() + n.right.width() }
func (n *hashJoin) explain(ind string, out *[]string) {
	*out = append(*out, fmt.Sprintf("%shash join (%d key(s))", ind, len(n.lkeys)))
	n.left.explain(ind+"  ", out)
	n.right.explain(ind+"  ", out)
}

func evalKeys(c *stmtCtx, es []expr, row []types.Datum) (string, bool, error) {
	vals := make([]types.Datum, len(es))
	for i, e := range es {
		v, err := e.eval(c, row)
		if err != nil {
			return "", false, err
		}
		if v.IsNull() {
			return "", false, nil
		}
		// Hash on a common representation so 1 = 1.0 = '1' match as
		// Compare says they do.
		if v.Kind() != types.KindString && v.Kind() != types.KindBytes && v.Kind() != types.KindTime {
			d, _ := types.ToDecimal(v)
			v = types.NewDecimal(d)
		}
		vals[i] = v
	}
	return keyOf(vals), true, nil
}

func (n *hashJoin) open(c *stmtCtx) (rowIter, error) {
	right, err := materialize(c, n.right)
	if err != nil {
		return nil, err
	}
	table := map[string][][]types.Datum{}
	for _, r := range right {
		k, ok, err := evalKeys(c, n.rkeys, r)
		if err != nil {
			return nil, err
		}
		if ok {
			table[k] = append(table[k], r)
		}
	}
	left, err := n.left.open(c)
	if err != nil {
		return nil, err
	}
	var pending [][]types.Datum
	return &funcIter{closeFn: left.close, nextFn: func(c *stmtCtx) ([]types.Datum, error) {
		for {
			if len(pending) > 0 {
				r := pending[0]
				pending = pending[1:]
				return r, nil
			}
			l, err := left.next(c)
			if l == nil || err != nil {
				return nil, err
			}
			k, ok, err := evalKeys(c, n.lkeys, l)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			for _, r := range table[k] {
				row := append(append([]types.Datum{}, l...), r...)
				pass, err := passes(c, n.on, row)
				if err != nil {
					return nil, err
				}
				if pass {
					pending = append(pending, row)
				}
			}
		}
	}}, nil
}

// lookupJoin reads the right table's rows by primary key for each batch of
// left rows (batched point gets).
type lookupJoin struct {
	left  node
	right *tableAccess
	keys  []expr // right PK columns, as expressions over the left row
	on    []expr
}

func (n *lookupJoin) width() int { return n.left.width() + len(n.right.t.Columns) }
func (n *lookupJoin) explain(ind string, out *[]string) {
	*out = append(*out, fmt.Sprintf("%sindex lookup join on %s PRIMARY", ind, n.right.t.Name))
	n.left.explain(ind+"  ", out)
}

func (n *lookupJoin) open(c *stmtCtx) (rowIter, error) {
	left, err := n.left.open(c)
	if err != nil {
		return nil, err
	}
	t := n.right.t
	pkT := t.pkTypes()
	descs := c.rowDescs(t)
	var pending [][]types.Datum
	done := false
	return &funcIter{closeFn: left.close, nextFn: func(c *stmtCtx) ([]types.Datum, error) {
		for len(pending) == 0 {
			if done {
				return nil, nil
			}
			// A batch of left rows, then one GetMany.
			var batch [][]types.Datum
			var keys [][]byte
			var keyRow []int
			for len(batch) < scanChunk {
				l, err := left.next(c)
				if err != nil {
					return nil, err
				}
				if l == nil {
					done = true
					break
				}
				batch = append(batch, l)
				vals := make([]types.Datum, len(n.keys))
				ok := true
				for i, e := range n.keys {
					d, err := e.eval(c, l)
					if err != nil {
						return nil, err
					}
					if vals[i], ok = convertKey(d, pkT[i]); !ok {
						break
					}
				}
				if ok {
					keys = append(keys, rowenc.EncodeIndexKey(t.ID, rowenc.PrimaryIndexID, vals, nil))
					keyRow = append(keyRow, len(batch)-1)
				}
			}
			if len(keys) == 0 {
				continue
			}
			vals, found, err := c.tx.GetMany(c.ctx, keys)
			if err != nil {
				return nil, err
			}
			for i := range keys {
				if !found[i] {
					continue
				}
				r, err := rowenc.DecodeRow(vals[i], descs)
				if err != nil {
					return nil, err
				}
				pass, err := passes(c, n.right.filter, r)
				if err != nil {
					return nil, err
				}
				if !pass {
					continue
				}
				row := append(append([]types.Datum{}, batch[keyRow[i]]...), r...)
				if pass, err = passes(c, n.on, row); err != nil {
					return nil, err
				}
				if pass {
					pending = append(pending, row)
				}
			}
		}
		r := pending[0]
		pending = pending[1:]
		return r, nil
	}}, nil
}

// restore writes an expression's SQL text.
func restore(n ast.Node, b *strings.Builder) {
	_ = n.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, b))
}

// passes reports whether row satisfies every condition (known true).
func passes(c *stmtCtx, conds []expr, row []types.Datum) (bool, error) {
	for _, f := range conds {
		if ok, err := evalBool(c, f, row); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}
