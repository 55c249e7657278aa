package engine

import (
	"container/heap"
	"fmt"
	"strings"

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
	var runs []*spillFile
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

// nestedJoin joins every left row with every right row that passes on;
// with leftOuter, unmatched left rows get NULLs. The right (inner) side is
// read once into a rowBuffer and re-read from it. While it fits in memory
// the left rows are taken one at a time, so rows come out left row by left
// row and a LIMIT above stops early; once it spilled, the left rows are
// taken in blocks that fit a quarter of the statement's memory and the
// inner side is read from disk once per block (a block nested loop), not
// once per left row.
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

// materialize reads n's rows into a buffer that spills to disk past a
// quarter of the statement's memory; op names the reader in errors. The
// caller closes the buffer (which gives back its memory and its file).
func materialize(c *stmtCtx, n node, op string) (*rowBuffer, error) {
	it, err := n.open(c)
	if err != nil {
		return nil, err
	}
	defer it.close()
	b := newRowBuffer(c, op)
	for {
		r, err := it.next(c)
		if err == nil && r != nil {
			err = b.add(r)
		}
		if err != nil {
			b.close()
			return nil, err
		}
		if r == nil {
			return b, nil
		}
	}
}

func (n *nestedJoin) open(c *stmtCtx) (rowIter, error) {
	inner, err := materialize(c, n.right, "nested loop join")
	if err != nil {
		return nil, err
	}
	left, err := n.left.open(c)
	if err != nil {
		inner.close()
		return nil, err
	}
	return &nestedIter{n: n, left: left, inner: inner, mem: newHashMem(c), ext: -1}, nil
}

// nestedIter joins a block of left rows with each inner row in turn.
type nestedIter struct {
	n       *nestedJoin
	left    rowIter // nil once read through
	carry   []types.Datum
	inner   *rowBuffer
	mem     hashMem // the block's rows
	block   [][]types.Datum
	matched []bool
	scratch []types.Datum // the joined row being tested

	scanning bool          // inner is being read for the block
	r        []types.Datum // the inner row being joined with the block
	bi       int           // the next block row to join r with
	ext      int           // leftOuter: the next block row to NULL-extend once the scan ended; -1 otherwise
}

func (it *nestedIter) next(c *stmtCtx) ([]types.Datum, error) {
	lw := it.n.left.width()
	for {
		if it.r != nil {
			for it.bi < len(it.block) {
				l := it.block[it.bi]
				it.bi++
				it.scratch = append(append(it.scratch[:0], l...), it.r...)
				ok, err := passes(c, it.n.on, it.scratch)
				if err != nil {
					return nil, err
				}
				if ok {
					it.matched[it.bi-1] = true
					row := make([]types.Datum, lw+len(it.r))
					copy(row, it.scratch)
					return row, nil
				}
			}
			it.r = nil
		}
		if it.scanning {
			r, err := it.inner.next()
			if err != nil {
				return nil, err
			}
			if r != nil {
				it.r, it.bi = r, 0
				continue
			}
			it.scanning, it.ext = false, -1
			if it.n.leftOuter {
				it.ext = 0
			}
		}
		if it.ext >= 0 {
			for it.ext < len(it.block) {
				i := it.ext
				it.ext++
				if !it.matched[i] {
					row := make([]types.Datum, lw, lw+it.n.rightW)
					copy(row, it.block[i])
					for range it.n.rightW {
						row = append(row, types.Null())
					}
					return row, nil
				}
			}
			it.ext = -1
		}
		if err := it.nextBlock(c); err != nil || len(it.block) == 0 {
			return nil, err
		}
	}
}

// nextBlock reads the next block of left rows and starts reading the inner
// side for it: one row while the inner side is in memory, else as many as
// fit (at least one).
func (it *nestedIter) nextBlock(c *stmtCtx) error {
	it.mem.release()
	it.block, it.matched, it.ext = it.block[:0], it.matched[:0], -1
	for it.left != nil || it.carry != nil {
		l := it.carry
		it.carry = nil
		if l == nil {
			var err error
			if l, err = it.left.next(c); err != nil {
				return err
			}
			if l == nil {
				it.left.close()
				it.left = nil
				break
			}
		}
		if it.inner.spilled() {
			size := rowSize(l) + rowSliceBytes
			if !it.mem.fits(size) { // never for the first row
				it.carry = l
				break
			}
			if err := it.mem.add(size); err != nil {
				return err
			}
		} else if len(it.block) > 0 {
			it.carry = l
			break
		}
		it.block = append(it.block, l)
		it.matched = append(it.matched, false)
	}
	if len(it.block) == 0 {
		return nil
	}
	it.scanning = true
	return it.inner.rewind()
}

func (it *nestedIter) close() {
	if it.left != nil {
		it.left.close()
		it.left = nil
	}
	it.inner.close()
	it.mem.release()
	it.block, it.carry = nil, nil
}

// lookupJoin reads the right table's rows by primary key for each batch of
// left rows (batched point gets).
//
// A left value is converted to its key column's type, which finds exactly
// the rows = matches only when the two compare in the column's terms:
// integers and decimals with an integer or decimal column, doubles with a
// double column, integers and decimals with a double column (each number
// is one double), strings with a string column, times with a time column.
// Otherwise = compares otherwise — a number with a string as doubles, so
// 1 matches '1', ' 1' and '1.0' — and a lookup would miss rows: with key
// types that do not fit, the join runs as a hash join instead (whose keys
// hash in the comparison's terms); a left row whose value does not fit
// (an expression typed loosely) is joined row by row at the end.
type lookupJoin struct {
	left  node
	right *tableAccess
	keys  []expr // right PK columns, as expressions over the left row
	on    []expr
}

func (n *lookupJoin) width() int { return n.left.width() + len(n.right.t.Columns) }
func (n *lookupJoin) explain(ind string, out *[]string) {
	if h := n.hashJoin(); h != nil {
		h.explain(ind, out)
		return
	}
	*out = append(*out, fmt.Sprintf("%sindex lookup join on %s PRIMARY", ind, n.right.t.Name))
	n.left.explain(ind+"  ", out)
}

// lookupFits reports whether looking a value of class c up in a key
// column of type col finds exactly the rows = matches.
func lookupFits(c typeClass, col types.T) bool {
	cc := classOf(col)
	return c != classOther && (c == cc || (c == classExact && cc == classApprox))
}

// hashJoin is the join as a hash join when a key's declared type does not
// fit its column; nil when the lookup is exact.
func (n *lookupJoin) hashJoin() *hashJoin {
	t := n.right.t
	pkT := t.pkTypes()
	fits := true
	for i, k := range n.keys {
		fits = fits && lookupFits(classOf(k.typ()), pkT[i])
	}
	if fits {
		return nil
	}
	rk := make([]expr, len(t.PK))
	for i, id := range t.PK {
		ci := t.colIndex(id)
		rk[i] = &colRef{i: ci, t: t.Columns[ci].Type}
	}
	return &hashJoin{left: n.left, right: n.right, lkeys: n.keys, rkeys: rk, on: n.on}
}

// lookupKey is the primary key a left row looks up: nil, false when no row
// can match (a NULL, a value no key column value equals), nil, true when
// the row must be joined row by row (a value that does not fit).
func (n *lookupJoin) lookupKey(c *stmtCtx, pkT []types.T, row []types.Datum) ([]byte, bool, error) {
	vals := make([]types.Datum, len(n.keys))
	for i, e := range n.keys {
		d, err := e.eval(c, row)
		if err != nil || d.IsNull() {
			return nil, false, err
		}
		if !lookupFits(kindClass(d.Kind()), pkT[i]) {
			return nil, true, nil
		}
		var ok bool
		if vals[i], ok = convertKey(d, pkT[i]); !ok {
			return nil, false, nil
		}
	}
	return rowenc.EncodeIndexKey(n.right.t.ID, rowenc.PrimaryIndexID, vals, nil), false, nil
}

func (n *lookupJoin) open(c *stmtCtx) (rowIter, error) {
	if h := n.hashJoin(); h != nil {
		return h.open(c)
	}
	left, err := n.left.open(c)
	if err != nil {
		return nil, err
	}
	t := n.right.t
	pkT := t.pkTypes()
	descs := c.rowDescs(t)
	var pending [][]types.Datum
	done := false
	// Left rows to join row by row, and that join once they are all read.
	var odd *rowBuffer
	var oddIt rowIter
	closeAll := func() {
		if left != nil {
			left.close()
		}
		if oddIt != nil {
			oddIt.close()
		}
		if odd != nil {
			odd.close()
		}
		left, oddIt, odd = nil, nil, nil
	}
	return &funcIter{closeFn: closeAll, nextFn: func(c *stmtCtx) ([]types.Datum, error) {
		for len(pending) == 0 {
			if done {
				if odd == nil {
					return nil, nil
				}
				if oddIt == nil {
					nj := &nestedJoin{left: &bufferNode{b: odd, w: n.left.width()}, right: n.right, rightW: len(t.Columns), on: n.on}
					it, err := nj.open(c)
					if err != nil {
						return nil, err
					}
					oddIt = it
				}
				r, err := oddIt.next(c)
				if r == nil && err == nil {
					oddIt.close()
					odd.close()
					oddIt, odd = nil, nil
				}
				return r, err
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
				k, isOdd, err := n.lookupKey(c, pkT, l)
				switch {
				case err != nil:
					return nil, err
				case isOdd:
					if odd == nil {
						odd = newRowBuffer(c, "index lookup join")
					}
					if err := odd.add(l); err != nil {
						return nil, err
					}
				case k != nil:
					batch = append(batch, l)
					keys = append(keys, k)
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

// bufferNode serves a rowBuffer's rows, from the start each time it is
// opened; the buffer stays its owner's to close.
type bufferNode struct {
	b *rowBuffer
	w int
}

func (n *bufferNode) width() int                        { return n.w }
func (n *bufferNode) explain(ind string, out *[]string) { *out = append(*out, ind+"buffered rows") }
func (n *bufferNode) open(*stmtCtx) (rowIter, error) {
	if err := n.b.rewind(); err != nil {
		return nil, err
	}
	return &funcIter{nextFn: func(*stmtCtx) ([]types.Datum, error) { return n.b.next() }}, nil
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
