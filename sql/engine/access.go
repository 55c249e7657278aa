package engine

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/meridiandb/meridian/sql/pushdown"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// rowIter produces rows; next returns nil at the end. Rows may be reused
// by nothing: each returned slice belongs to the caller.
type rowIter interface {
	next(c *stmtCtx) ([]types.Datum, error)
	close()
}

// node is a planned operator.
type node interface {
	open(c *stmtCtx) (rowIter, error)
	width() int
	explain(indent string, out *[]string)
}

// scanChunk is how many stored rows a scan reads per round trip.
const scanChunk = 256

// accessKind is how a table is read.
type accessKind int

const (
	fullScan    accessKind = iota
	pointGet               // primary key equality on every key column
	pkRange                // a span of the primary key
	indexLookup            // equality on a prefix of a secondary index, then the rows
)

// tableAccess reads one table's rows (every column, in Columns order),
// filtered by the conjuncts pushed to it.
type tableAccess struct {
	t     *TableDesc
	alias string
	kind  accessKind
	// pointGet: one tuple of PK expressions per key (IN lists give many).
	points [][]expr
	// pkRange / indexLookup: equality prefix values, and for pkRange an
	// optional range on the next column.
	prefix []expr
	lo, hi expr
	loIncl bool
	hiIncl bool
	index  *IndexDesc
	filter []expr
	// The conjuncts of filter that gave prefix, lo and hi: a span that
	// holds exactly the rows they accept makes them true of every row in
	// it (tableAccess.exactFilter).
	prefixSrc    []expr
	loSrc, hiSrc expr
	forWrite     bool // reads of UPDATE/DELETE and FOR UPDATE
}

func (a *tableAccess) width() int { return len(a.t.Columns) }

func (a *tableAccess) explain(indent string, out *[]string) {
	var s string
	switch a.kind {
	case pointGet:
		s = fmt.Sprintf("point get %s on PRIMARY (%d key(s))", a.t.Name, len(a.points))
	case pkRange:
		s = fmt.Sprintf("range scan %s on PRIMARY", a.t.Name)
	case indexLookup:
		s = fmt.Sprintf("index lookup %s on %s", a.t.Name, a.index.Name)
	default:
		s = fmt.Sprintf("full scan %s", a.t.Name)
	}
	if len(a.filter) > 0 {
		s += fmt.Sprintf(", filter (%d condition(s))", len(a.filter))
	}
	*out = append(*out, indent+s)
}

// convertKey converts a constant to a key column's type, exactly: a value
// the column cannot hold as is (1.5 for an INT) cannot use the key.
func convertKey(d types.Datum, t types.T) (types.Datum, bool) {
	if d.IsNull() {
		return d, false
	}
	v, err := types.Convert(d, t)
	if err != nil {
		return d, false
	}
	if k, err := types.Compare(v, d); err != nil || k != 0 {
		return d, false
	}
	return v, true
}

// pkKey evaluates exprs over row into the primary key of table tableID,
// whose columns have types pkT; nil when a value cannot be a key column's
// exactly (see convertKey): no row has that key.
func pkKey(c *stmtCtx, tableID uint32, pkT []types.T, exprs []expr, row []types.Datum) ([]byte, error) {
	vals := make([]types.Datum, len(exprs))
	for i, e := range exprs {
		d, err := e.eval(c, row)
		if err != nil {
			return nil, err
		}
		var ok bool
		if vals[i], ok = convertKey(d, pkT[i]); !ok {
			return nil, nil
		}
	}
	return rowenc.EncodeIndexKey(tableID, rowenc.PrimaryIndexID, vals, nil), nil
}

func (a *tableAccess) open(c *stmtCtx) (rowIter, error) {
	it := &tableIter{a: a, descs: c.rowDescs(a.t), filter: a.filter}
	t := a.t
	pkT := t.pkTypes()
	switch a.kind {
	case pointGet:
		var keys [][]byte
		for _, p := range a.points {
			k, err := pkKey(c, t.ID, pkT, p, nil)
			if err != nil {
				return nil, err
			}
			if k != nil {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, bytes.Compare)
		it.keys = slices.CompactFunc(keys, bytes.Equal)
	case pkRange, indexLookup:
		var types_ []types.T
		id := uint32(rowenc.PrimaryIndexID)
		if a.kind == pkRange {
			types_ = pkT
		} else {
			id = a.index.ID
			for _, cid := range a.index.Columns {
				types_ = append(types_, t.columnByID(cid).Type)
			}
		}
		vals := make([]types.Datum, 0, len(a.prefix)+1)
		for i, e := range a.prefix {
			d, err := e.eval(c, nil)
			if err != nil {
				return nil, err
			}
			v, ok := convertKey(d, types_[i])
			if !ok {
				return &tableIter{a: a, done: true}, nil // no row can match
			}
			vals = append(vals, v)
		}
		base := rowenc.EncodeIndexKey(t.ID, id, vals, nil)
		it.start, it.end = base, rowenc.PrefixEnd(base)
		var loExact, hiExact bool
		if a.lo != nil || a.hi != nil {
			ct := types_[len(vals)]
			if a.lo != nil {
				d, err := a.lo.eval(c, nil)
				if err != nil {
					return nil, err
				}
				if v, ok := convertKey(d, ct); ok {
					k := rowenc.EncodeKey(bytes.Clone(base), v, false)
					if !a.loIncl {
						k = rowenc.PrefixEnd(k)
					}
					it.start, loExact = k, ct.IsInteger()
				} else {
					it.start = rowenc.EncodeKey(bytes.Clone(base), types.Null(), false) // filter decides
				}
			}
			if a.hi != nil {
				d, err := a.hi.eval(c, nil)
				if err != nil {
					return nil, err
				}
				if v, ok := convertKey(d, ct); ok {
					k := rowenc.EncodeKey(bytes.Clone(base), v, false)
					if a.hiIncl {
						k = rowenc.PrefixEnd(k)
					}
					it.end, hiExact = k, ct.IsInteger()
				}
			}
		}
		if a.kind == indexLookup {
			it.lookup = true
		} else {
			it.filter = a.exactFilter(types_, loExact, hiExact)
		}
	default:
		p := rowenc.IndexPrefix(t.ID, rowenc.PrimaryIndexID)
		it.start, it.end = p, rowenc.PrefixEnd(p)
	}
	if !it.lookup && a.kind != pointGet {
		if f, err := pushFilter(c, it.descs, it.filter); err != nil {
			return nil, err
		} else if f != nil {
			it.pushed = pushdown.Encode(it.descs, f)
		}
	}
	return it, nil
}

// exactFilter returns the conjuncts of a primary key range's filter that
// its span does not already decide. A conjunct that gave the span's
// equality prefix or a bound is true of every row in the span when the
// key column is an integer and the constant converted exactly (key order
// is numeric order; a rounded or failed conversion only narrows the span
// to a superset). BETWEEN gives both bounds, so it goes only when both
// are exact. What remains is re-checked, and pushed to the groups, as
// before; sysbench's and TPC-C's range queries keep none, so their rows
// are no longer decoded in storage to test what the span already says.
func (a *tableAccess) exactFilter(keyTypes []types.T, loExact, hiExact bool) []expr {
	var decided []expr
	for i, src := range a.prefixSrc {
		if keyTypes[i].IsInteger() {
			decided = append(decided, src)
		}
	}
	if a.loSrc == a.hiSrc {
		// Both bounds from one conjunct (BETWEEN), or none.
		if a.loSrc != nil && loExact && hiExact {
			decided = append(decided, a.loSrc)
		}
	} else {
		for _, b := range []struct {
			src   expr
			exact bool
		}{{a.loSrc, loExact}, {a.hiSrc, hiExact}} {
			// An AND that gave only this bound says more than the span.
			if _, and := b.src.(*logicExpr); b.src != nil && b.exact && !and {
				decided = append(decided, b.src)
			}
		}
	}
	if len(decided) == 0 {
		return a.filter
	}
	rest := make([]expr, 0, len(a.filter))
	for _, e := range a.filter {
		if !slices.Contains(decided, e) {
			rest = append(rest, e)
		}
	}
	return rest
}

// pushFilter translates the conjuncts it can into a filter the groups
// run (a conjunction; the ones it cannot express are left to the engine,
// which re-checks all of them anyway).
func pushFilter(c *stmtCtx, descs []rowenc.ColumnDesc, conj []expr) (*pushdown.Expr, error) {
	var args []*pushdown.Expr
	for _, e := range conj {
		p, _, err := toPushdown(c, e)
		if err != nil {
			return nil, err
		}
		if p != nil {
			args = append(args, p)
		}
	}
	if len(args) == 0 {
		return nil, nil
	}
	return &pushdown.Expr{Op: pushdown.OpAnd, Args: args}, nil
}

var pushCmp = map[opcode.Op]pushdown.Op{opcode.EQ: pushdown.OpEQ, opcode.NE: pushdown.OpNE,
	opcode.LT: pushdown.OpLT, opcode.LE: pushdown.OpLE, opcode.GT: pushdown.OpGT, opcode.GE: pushdown.OpGE}

// toPushdown translates e into a filter that accepts at least the rows e
// accepts (nil: accept all); exact says it accepts exactly those, which
// NOT needs. Constants are evaluated now.
func toPushdown(c *stmtCtx, e expr) (p *pushdown.Expr, exact bool, err error) {
	leaf := func(x expr) (*pushdown.Expr, bool, error) {
		if r, ok := x.(*colRef); ok {
			return &pushdown.Expr{Op: pushdown.OpCol, Col: r.i}, true, nil
		}
		if isConst(x) {
			d, err := x.eval(c, nil)
			if err != nil {
				return nil, false, err
			}
			return &pushdown.Expr{Op: pushdown.OpConst, Const: d}, true, nil
		}
		return nil, false, nil
	}
	leaves := func(xs ...expr) ([]*pushdown.Expr, bool, error) {
		out := make([]*pushdown.Expr, len(xs))
		for i, x := range xs {
			l, ok, err := leaf(x)
			if err != nil || !ok {
				return nil, false, err
			}
			out[i] = l
		}
		return out, true, nil
	}
	switch x := e.(type) {
	case *cmpExpr:
		op, ok := pushCmp[x.op]
		if !ok {
			return nil, false, nil
		}
		args, ok, err := leaves(x.l, x.r)
		if !ok {
			return nil, false, err
		}
		return &pushdown.Expr{Op: op, Args: args}, true, nil
	case *isNullExpr:
		args, ok, err := leaves(x.e)
		if !ok {
			return nil, false, err
		}
		p := &pushdown.Expr{Op: pushdown.OpIsNull, Args: args}
		if x.not {
			p = &pushdown.Expr{Op: pushdown.OpNot, Args: []*pushdown.Expr{p}}
		}
		return p, true, nil
	case *inExpr:
		if x.sub != nil {
			return nil, false, nil
		}
		args, ok, err := leaves(append([]expr{x.e}, x.list...)...)
		if !ok {
			return nil, false, err
		}
		p := &pushdown.Expr{Op: pushdown.OpIn, Args: args}
		if x.not {
			p = &pushdown.Expr{Op: pushdown.OpNot, Args: []*pushdown.Expr{p}}
		}
		return p, true, nil
	case *likeExpr:
		args, ok, err := leaves(x.e, x.pat)
		if !ok {
			return nil, false, err
		}
		p := &pushdown.Expr{Op: pushdown.OpLike, Args: args, Esc: x.esc, CI: x.ci}
		if x.not {
			p = &pushdown.Expr{Op: pushdown.OpNot, Args: []*pushdown.Expr{p}}
		}
		return p, true, nil
	case *notExpr:
		inner, exact, err := toPushdown(c, x.e)
		if err != nil || inner == nil || !exact {
			return nil, false, err
		}
		return &pushdown.Expr{Op: pushdown.OpNot, Args: []*pushdown.Expr{inner}}, true, nil
	case *logicExpr:
		l, le, err := toPushdown(c, x.l)
		if err != nil {
			return nil, false, err
		}
		r, re, err := toPushdown(c, x.r)
		if err != nil {
			return nil, false, err
		}
		switch x.op {
		case opcode.LogicAnd:
			switch {
			case l == nil && r == nil:
				return nil, false, nil
			case l == nil:
				return r, false, nil
			case r == nil:
				return l, false, nil
			}
			return &pushdown.Expr{Op: pushdown.OpAnd, Args: []*pushdown.Expr{l, r}}, le && re, nil
		case opcode.LogicOr:
			if l == nil || r == nil {
				return nil, false, nil // one side accepts everything
			}
			return &pushdown.Expr{Op: pushdown.OpOr, Args: []*pushdown.Expr{l, r}}, le && re, nil
		}
	}
	return nil, false, nil
}

// tableIter streams a table access.
type tableIter struct {
	a     *tableAccess
	descs []rowenc.ColumnDesc
	// point gets
	keys [][]byte
	// scans
	start, end []byte
	lookup     bool
	// filter is what the engine checks on each row: the access's
	// conjuncts less those its span decides (exactFilter).
	filter []expr
	// pushed is the filter the groups apply to the scan (nil: none).
	pushed []byte
	buf    []txn.KeyValue
	done   bool
	// slab holds the values of the buffered rows still to decode, absent
	// the decoder's scratch flags (decode).
	slab   []types.Datum
	absent []bool
}

func (it *tableIter) close() {}

// decode decodes a row value. The operators above keep rows (a sort holds
// all of them), so each row has its own values, but they come from one
// allocation per chunk of rows rather than one per row. Strings share
// the value's bytes: values read come from the transaction layer as
// copies nothing writes again (its buffered writes are copies too).
func (it *tableIter) decode(v []byte) ([]types.Datum, error) {
	n := len(it.descs)
	if len(it.slab) < n {
		it.slab = make([]types.Datum, n*(len(it.buf)+1))
	}
	row := it.slab[:n:n]
	it.slab = it.slab[n:]
	if it.absent == nil {
		it.absent = make([]bool, n)
	}
	if err := rowenc.DecodeRowSharing(v, it.descs, row, it.absent); err != nil {
		return nil, err
	}
	for i, a := range it.absent {
		if a {
			row[i] = it.descs[i].Default
		}
	}
	return row, nil
}

func (it *tableIter) next(c *stmtCtx) ([]types.Datum, error) {
	for {
		if len(it.buf) == 0 {
			if err := it.fill(c); err != nil {
				return nil, err
			}
			if len(it.buf) == 0 {
				return nil, nil
			}
		}
		kv := it.buf[0]
		it.buf = it.buf[1:]
		row, err := it.decode(kv.Value)
		if err != nil {
			return nil, err
		}
		if ok, err := passes(c, it.filter, row); err != nil || ok {
			return row, err
		}
	}
}

func (it *tableIter) fill(c *stmtCtx) error {
	if it.done {
		return nil
	}
	getMany, scan := c.tx.GetMany, c.tx.ScanChunk
	if it.a.forWrite {
		// Rows about to be written are read under exclusive locks; a
		// secondary index's entries stay shared.
		getMany = c.tx.GetManyForUpdate
		if !it.lookup {
			scan = c.tx.ScanChunkForUpdate
		}
	}
	if it.keys != nil || it.a.kind == pointGet {
		it.done = true
		vals, found, err := getMany(c.ctx, it.keys)
		if err != nil {
			return err
		}
		for i, k := range it.keys {
			if found[i] {
				it.buf = append(it.buf, txn.KeyValue{Key: k, Value: vals[i]})
			}
		}
		return nil
	}
	rows, resume, err := scan(c.ctx, it.start, it.end, scanChunk, it.pushed)
	if err != nil {
		return err
	}
	c.s.e.fetched.Add(int64(len(rows)))
	if resume == nil {
		it.done = true
	} else {
		it.start = resume
	}
	if !it.lookup {
		it.buf = rows
		if len(rows) == 0 && !it.done {
			return it.fill(c)
		}
		return nil
	}
	// Index entries: fetch their rows.
	t := it.a.t
	keys := make([][]byte, 0, len(rows))
	for _, r := range rows {
		pk, err := pkFromIndexKey(t, it.a.index, r.Key)
		if err != nil {
			return err
		}
		keys = append(keys, rowenc.EncodeIndexKey(t.ID, rowenc.PrimaryIndexID, pk, nil))
	}
	vals, found, err := getMany(c.ctx, keys)
	if err != nil {
		return err
	}
	for i, k := range keys {
		if found[i] {
			it.buf = append(it.buf, txn.KeyValue{Key: k, Value: vals[i]})
		}
	}
	if len(it.buf) == 0 && !it.done {
		return it.fill(c)
	}
	return nil
}

// indexKeyColumns are the key columns of a secondary index entry: the
// index columns, then the primary key columns it does not hold.
func indexKeyColumns(t *TableDesc, ix *IndexDesc) []uint32 {
	cols := append([]uint32(nil), ix.Columns...)
	for _, id := range t.PK {
		if !slices.Contains(ix.Columns, id) {
			cols = append(cols, id)
		}
	}
	return cols
}

// indexEntryKey is the key of row's entry in ix (row in Columns order).
func indexEntryKey(t *TableDesc, ix *IndexDesc, row []types.Datum) []byte {
	cols := indexKeyColumns(t, ix)
	vals := make([]types.Datum, len(cols))
	for i, id := range cols {
		vals[i] = row[t.colIndex(id)]
	}
	return rowenc.EncodeIndexKey(t.ID, ix.ID, vals, nil)
}

// pkFromIndexKey decodes the primary key values from an index entry key.
func pkFromIndexKey(t *TableDesc, ix *IndexDesc, key []byte) ([]types.Datum, error) {
	_, _, rest, err := rowenc.DecodeIndexKey(key)
	if err != nil {
		return nil, err
	}
	cols := indexKeyColumns(t, ix)
	ts := make([]types.T, len(cols))
	for i, id := range cols {
		ts[i] = t.columnByID(id).Type
	}
	vals, _, err := rowenc.DecodeKeyColumns(rest, ts, nil)
	if err != nil {
		return nil, err
	}
	pk := make([]types.Datum, len(t.PK))
	for i, id := range t.PK {
		for j, cid := range cols {
			if cid == id {
				pk[i] = vals[j]
			}
		}
	}
	return pk, nil
}

// chooseAccess picks how to read t given the conjuncts pushed to it
// (compiled on t's own columns): point get > primary key range > secondary
// index equality > full scan. The conjuncts all stay as the filter, so a
// path only has to be a superset of the matching rows.
func chooseAccess(a *tableAccess, conj []expr) {
	t := a.t
	a.filter = conj
	eq := map[int][]expr{}    // column position -> constant it equals
	eqSrc := map[int][]expr{} // and the conjunct that says so
	type bound struct {
		e    expr
		incl bool
		src  expr
	}
	lo, hi := map[int]bound{}, map[int]bound{}
	ins := map[int][]expr{}
	for _, e := range conj {
		switch x := e.(type) {
		case *cmpExpr:
			col, cst, op, ok := colConst(x)
			if !ok {
				continue
			}
			switch op {
			case opcode.EQ:
				eq[col] = append(eq[col], cst)
				eqSrc[col] = append(eqSrc[col], e)
			case opcode.GT, opcode.GE:
				lo[col] = bound{cst, op == opcode.GE, e}
			case opcode.LT, opcode.LE:
				hi[col] = bound{cst, op == opcode.LE, e}
			}
		case *logicExpr:
			// BETWEEN compiles to (x >= lo AND x <= hi).
			if x.op == opcode.LogicAnd {
				for _, side := range []expr{x.l, x.r} {
					if cx, ok := side.(*cmpExpr); ok {
						if col, cst, op, ok := colConst(cx); ok {
							switch op {
							case opcode.GT, opcode.GE:
								lo[col] = bound{cst, op == opcode.GE, e}
							case opcode.LT, opcode.LE:
								hi[col] = bound{cst, op == opcode.LE, e}
							}
						}
					}
				}
			}
		case *inExpr:
			if r, ok := x.e.(*colRef); ok && x.sub == nil && !x.not && allConst(x.list) {
				ins[r.i] = x.list
			}
		}
	}
	pkPos := make([]int, len(t.PK))
	for i, id := range t.PK {
		pkPos[i] = t.colIndex(id)
	}
	// Point get: every PK column equal to a constant (one column may be
	// an IN list).
	all, inCol := true, -1
	for _, p := range pkPos {
		if len(eq[p]) == 0 {
			if _, ok := ins[p]; ok && inCol < 0 {
				inCol = p
				continue
			}
			all = false
		}
	}
	if all {
		a.kind = pointGet
		if inCol < 0 {
			tuple := make([]expr, len(pkPos))
			for i, p := range pkPos {
				tuple[i] = eq[p][0]
			}
			a.points = [][]expr{tuple}
		} else {
			for _, v := range ins[inCol] {
				tuple := make([]expr, len(pkPos))
				for i, p := range pkPos {
					if p == inCol {
						tuple[i] = v
					} else {
						tuple[i] = eq[p][0]
					}
				}
				a.points = append(a.points, tuple)
			}
		}
		return
	}
	// Primary key range: equality on a prefix, then a range — unless a
	// secondary index matches more columns by equality (a customer's
	// orders: the index on (warehouse, district, customer) beats the
	// whole district's span of the primary key).
	n := 0
	for n < len(pkPos) && len(eq[pkPos[n]]) > 0 {
		n++
	}
	best, bestN := bestIndex(t, eq)
	if n < len(pkPos) && bestN <= n {
		l, lok := lo[pkPos[n]]
		h, hok := hi[pkPos[n]]
		if n > 0 || lok || hok {
			a.kind = pkRange
			for _, p := range pkPos[:n] {
				a.prefix = append(a.prefix, eq[p][0])
				a.prefixSrc = append(a.prefixSrc, eqSrc[p][0])
			}
			if lok {
				a.lo, a.loIncl, a.loSrc = l.e, l.incl, l.src
			}
			if hok {
				a.hi, a.hiIncl, a.hiSrc = h.e, h.incl, h.src
			}
			return
		}
	}
	if best != nil {
		a.kind, a.index = indexLookup, best
		for _, id := range best.Columns[:bestN] {
			a.prefix = append(a.prefix, eq[t.colIndex(id)][0])
		}
		return
	}
	a.kind = fullScan
}

// bestIndex returns the secondary index with the longest prefix of
// columns equal to constants (eq: by column position), unique ones first
// on a tie, and that length; nil if none has one. Only public indexes: a
// write-only one is still being backfilled (it misses rows).
func bestIndex(t *TableDesc, eq map[int][]expr) (*IndexDesc, int) {
	best, bestN := (*IndexDesc)(nil), 0
	for _, ix := range t.Indexes {
		if ix.State != IndexPublic {
			continue
		}
		k := 0
		for k < len(ix.Columns) && len(eq[t.colIndex(ix.Columns[k])]) > 0 {
			k++
		}
		if k > bestN || (k == bestN && k > 0 && ix.Unique && !best.Unique) {
			best, bestN = ix, k
		}
	}
	return best, bestN
}

// colConst matches "column op constant" in either order.
func colConst(x *cmpExpr) (col int, cst expr, op opcode.Op, ok bool) {
	if r, isCol := x.l.(*colRef); isCol && isConst(x.r) {
		return r.i, x.r, x.op, true
	}
	if r, isCol := x.r.(*colRef); isCol && isConst(x.l) {
		flip := map[opcode.Op]opcode.Op{opcode.LT: opcode.GT, opcode.LE: opcode.GE, opcode.GT: opcode.LT, opcode.GE: opcode.LE, opcode.EQ: opcode.EQ}
		if f, ok := flip[x.op]; ok {
			return r.i, x.l, f, true
		}
	}
	return 0, nil, 0, false
}

func allConst(es []expr) bool {
	for _, e := range es {
		if !isConst(e) {
			return false
		}
	}
	return true
}

// isConst: the expression reads no row (literals, parameters, functions
// of them, variables).
func isConst(e expr) bool {
	switch x := e.(type) {
	case *constExpr, *paramExpr:
		return true
	case *funcExpr:
		if strings.HasPrefix(x.name, "@") || x.name == "RAND" {
			return false
		}
		return allConst(x.args)
	}
	return false
}
