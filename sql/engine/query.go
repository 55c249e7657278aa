package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/model"
	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
)

// query is a planned SELECT or UNION: a node tree and its output columns.
type query struct {
	root node
	out  []Column
	// tables the query reads, for EXPLAIN's groups-touched line.
	tables []*TableDesc
}

func (q *query) columns() []Column { return q.out }

func (q *query) open(c *stmtCtx) (rowIter, error) { return q.root.open(c) }

// planQuery plans a SELECT or a set operation.
func (cp *compiler) planQuery(n ast.ResultSetNode, outer *scope) (*query, error) {
	switch n := n.(type) {
	case *ast.SelectStmt:
		return cp.planSelect(n, outer)
	case *ast.SetOprStmt:
		return cp.planSetOp(n, outer)
	case *ast.SubqueryExpr:
		return cp.planQuery(n.Query, outer)
	}
	return nil, sqlerr.NotSupported(fmt.Sprintf("query %T", n))
}

// fromItem is a planned FROM element: base tables keep their access so
// that WHERE conjuncts can be pushed into it.
type fromItem struct {
	n      node
	sc     *scope
	base   *tableAccess // set for a base table
	tables []*TableDesc
}

func (cp *compiler) planFrom(n ast.ResultSetNode, outer *scope) (*fromItem, []expr, error) {
	switch n := n.(type) {
	case *ast.TableSource:
		alias := n.AsName.O
		switch src := n.Source.(type) {
		case *ast.TableName:
			db := src.Schema.O
			if db == "" {
				db = cp.s.db
			}
			if src.AsOf != nil && !cp.sc.asOf {
				return nil, nil, sqlerr.NotSupported("AS OF TIMESTAMP on one table of a join; put it on the first table")
			}
			t, err := cp.sc.table(db, src.Name.O)
			if err != nil {
				return nil, nil, err
			}
			if alias == "" {
				alias = t.Name
			}
			sc := &scope{outer: outer}
			for _, col := range t.Columns {
				sc.cols = append(sc.cols, scopeCol{table: alias, name: col.Name, db: t.DBName, orgTable: t.Name, t: col.Type, desc: col, hidden: col.Hidden})
			}
			a := &tableAccess{t: t, alias: alias, forWrite: cp.sc.forUpdate}
			return &fromItem{n: a, sc: sc, base: a, tables: []*TableDesc{t}}, nil, nil
		default:
			q, err := cp.planQuery(src, outer)
			if err != nil {
				return nil, nil, err
			}
			if alias == "" {
				return nil, nil, sqlerr.New(1248, "42000", "Every derived table must have its own alias")
			}
			sc := &scope{outer: outer}
			for _, col := range q.out {
				sc.cols = append(sc.cols, scopeCol{table: alias, name: col.Name, t: col.Type})
			}
			return &fromItem{n: &queryNode{q: q}, sc: sc, tables: q.tables}, nil, nil
		}
	case *ast.Join:
		left, lconj, err := cp.planFrom(n.Left, outer)
		if err != nil {
			return nil, nil, err
		}
		if n.Right == nil {
			return left, lconj, nil
		}
		right, rconj, err := cp.planFrom(n.Right, outer)
		if err != nil {
			return nil, nil, err
		}
		sc := &scope{outer: outer, cols: append(append([]scopeCol{}, left.sc.cols...), right.sc.cols...)}
		var on []ast.ExprNode
		if n.On != nil {
			on = splitAnd(n.On.Expr)
		}
		for _, u := range n.Using {
			on = append(on, &ast.BinaryOperationExpr{Op: opcode.EQ,
				L: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: model.NewCIStr(lastAlias(left.sc, u.Name.O)), Name: u.Name}},
				R: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: model.NewCIStr(lastAlias(right.sc, u.Name.O)), Name: u.Name}}})
		}
		if n.NaturalJoin {
			return nil, nil, sqlerr.NotSupported("NATURAL JOIN")
		}
		switch n.Tp {
		case ast.CrossJoin:
			// Inner join: ON conditions act like WHERE conjuncts. The
			// right side's own conjuncts move to the joined row's positions.
			conj := append([]expr{}, lconj...)
			for _, e := range rconj {
				conj = append(conj, shift(e, -left.n.width()))
			}
			j := &joinItem{left: left, right: right, sc: sc}
			for _, o := range on {
				e, err := cp.compile(sc, o)
				if err != nil {
					return nil, nil, err
				}
				conj = append(conj, e)
			}
			return &fromItem{n: j, sc: sc, tables: append(left.tables, right.tables...)}, conj, nil
		case ast.LeftJoin, ast.RightJoin:
			// A RIGHT JOIN is the LEFT JOIN with the sides swapped, its
			// columns put back in the written order afterwards.
			outerSide, innerSide := left, right
			joinSc := sc
			if n.Tp == ast.RightJoin {
				outerSide, innerSide = right, left
				joinSc = &scope{outer: outer, cols: append(append([]scopeCol{}, right.sc.cols...), left.sc.cols...)}
			}
			var onE []expr
			for _, o := range on {
				e, err := cp.compile(joinSc, o)
				if err != nil {
					return nil, nil, err
				}
				onE = append(onE, e)
			}
			// Each side's own conjuncts stay inside it: above an outer join
			// they would drop its NULL-extended rows.
			for _, side := range []struct {
				f    *fromItem
				conj []expr
			}{{outerSide, lconj}, {innerSide, rconj}} {
				if rest := finishFrom(side.f, side.conj); len(rest) > 0 {
					side.f.n = &filterNode{in: side.f.n, conds: rest}
				}
			}
			var j node = leftJoin(outerSide.n, innerSide.n, onE)
			if n.Tp == ast.RightJoin {
				rw, lw := right.n.width(), left.n.width()
				var cols []expr
				for i := range lw {
					cols = append(cols, &colRef{i: rw + i, t: left.sc.cols[i].t})
				}
				for i := range rw {
					cols = append(cols, &colRef{i: i, t: right.sc.cols[i].t})
				}
				j = &projectNode{in: j, exprs: cols}
			}
			return &fromItem{n: j, sc: sc, tables: append(left.tables, right.tables...)}, nil, nil
		}
	}
	return nil, nil, sqlerr.NotSupported(fmt.Sprintf("FROM item %T", n))
}

func lastAlias(sc *scope, col string) string {
	for i := len(sc.cols) - 1; i >= 0; i-- {
		if strings.EqualFold(sc.cols[i].name, col) {
			return sc.cols[i].table
		}
	}
	return ""
}

// joinItem is an inner join whose method is chosen once WHERE conjuncts
// are known (finishJoins).
type joinItem struct {
	left, right *fromItem
	sc          *scope
	built       node
}

func (j *joinItem) width() int                        { return j.left.n.width() + j.right.n.width() }
func (j *joinItem) open(c *stmtCtx) (rowIter, error)  { return j.built.open(c) }
func (j *joinItem) explain(ind string, out *[]string) { j.built.explain(ind, out) }

func splitAnd(e ast.ExprNode) []ast.ExprNode {
	if b, ok := e.(*ast.BinaryOperationExpr); ok && b.Op == opcode.LogicAnd {
		return append(splitAnd(b.L), splitAnd(b.R)...)
	}
	if p, ok := e.(*ast.ParenthesesExpr); ok {
		if b, ok := p.Expr.(*ast.BinaryOperationExpr); ok && b.Op == opcode.LogicAnd {
			return splitAnd(b)
		}
	}
	return []ast.ExprNode{e}
}

// colsOf lists the row positions an expression reads.
func colsOf(e expr, out map[int]bool) bool {
	switch x := e.(type) {
	case *colRef:
		out[x.i] = true
	case *constExpr, *paramExpr, *insertValueRef:
	case *funcExpr:
		for _, a := range x.args {
			if !colsOf(a, out) {
				return false
			}
		}
	case *cmpExpr:
		return colsOf(x.l, out) && colsOf(x.r, out)
	case *logicExpr:
		return colsOf(x.l, out) && colsOf(x.r, out)
	case *notExpr:
		return colsOf(x.e, out)
	case *isNullExpr:
		return colsOf(x.e, out)
	case *isTruthExpr:
		return colsOf(x.e, out)
	case *inExpr:
		if (x.sub != nil && x.sub.correlated) || !colsOf(x.e, out) {
			return false
		}
		for _, a := range x.list {
			if !colsOf(a, out) {
				return false
			}
		}
	case *likeExpr:
		return colsOf(x.e, out) && colsOf(x.pat, out)
	case *caseExpr:
		all := append(append(append([]expr{}, x.when...), x.then...), x.value, x.els)
		for _, a := range all {
			if a != nil && !colsOf(a, out) {
				return false
			}
		}
	case *existsExpr:
		return !x.sub.correlated // a correlated one reads the full row
	case *scalarSubExpr:
		return !x.sub.correlated
	case *quantExpr:
		return !x.sub.correlated && colsOf(x.l, out)
	case *outerRef:
	default:
		return false // unknown shape: keep it above the join
	}
	return true
}

// shift rebases an expression's column positions by -off.
func shift(e expr, off int) expr {
	switch x := e.(type) {
	case *colRef:
		return &colRef{i: x.i - off, t: x.t}
	case *funcExpr:
		n := *x
		n.args = make([]expr, len(x.args))
		for i, a := range x.args {
			n.args[i] = shift(a, off)
		}
		return &n
	case *cmpExpr:
		return &cmpExpr{op: x.op, l: shift(x.l, off), r: shift(x.r, off)}
	case *logicExpr:
		return &logicExpr{op: x.op, l: shift(x.l, off), r: shift(x.r, off)}
	case *notExpr:
		return &notExpr{e: shift(x.e, off)}
	case *isNullExpr:
		return &isNullExpr{e: shift(x.e, off), not: x.not}
	case *isTruthExpr:
		return &isTruthExpr{e: shift(x.e, off), not: x.not, truth: x.truth}
	case *inExpr:
		n := &inExpr{e: shift(x.e, off), sub: x.sub, not: x.not}
		for _, a := range x.list {
			n.list = append(n.list, shift(a, off))
		}
		return n
	case *likeExpr:
		return &likeExpr{e: shift(x.e, off), pat: shift(x.pat, off), not: x.not, ci: x.ci, esc: x.esc}
	case *caseExpr:
		n := &caseExpr{}
		if x.value != nil {
			n.value = shift(x.value, off)
		}
		if x.els != nil {
			n.els = shift(x.els, off)
		}
		for i := range x.when {
			n.when = append(n.when, shift(x.when[i], off))
			n.then = append(n.then, shift(x.then[i], off))
		}
		return n
	case *quantExpr:
		return &quantExpr{op: x.op, all: x.all, l: shift(x.l, off), sub: x.sub}
	}
	return e
}

// pushToBase finishes a FROM item with the conjuncts that read only it
// (positions relative to the item).
func pushToBase(f *fromItem, conj []expr) {
	switch {
	case f.base != nil:
		chooseAccess(f.base, conj)
	case len(conj) > 0:
		f.n = &filterNode{in: f.n, conds: conj}
	}
}

// readsInOrder reports whether from's rows already come in the order of
// keys (expressions over from's columns), so that no sort is needed: one
// table read along its primary key (a range after an equality prefix, or
// a full scan), ordered ascending by the key columns after the prefix. A
// LIMIT then stops the scan early instead of sorting the whole span (the
// oldest of a district's new orders).
func readsInOrder(from *fromItem, keys []expr, desc []bool) bool {
	a := from.base
	if a == nil || from.n != node(a) || (a.kind != pkRange && a.kind != fullScan) {
		return false
	}
	n := len(a.prefix)
	if len(keys) > len(a.t.PK)-n {
		return false
	}
	for i, k := range keys {
		r, ok := k.(*colRef)
		if !ok || desc[i] || r.i != a.t.colIndex(a.t.PK[n+i]) {
			return false
		}
	}
	return true
}

// finishFrom distributes conjuncts over the FROM tree (positions relative
// to f) and picks join methods; it returns the conjuncts it could not
// place.
func finishFrom(f *fromItem, conj []expr) []expr {
	j, ok := f.n.(*joinItem)
	if !ok {
		var mine, rest []expr
		for _, e := range conj {
			cols := map[int]bool{}
			if colsOf(e, cols) {
				mine = append(mine, e)
			} else {
				rest = append(rest, e)
			}
		}
		pushToBase(f, mine)
		return rest
	}
	lw := j.left.n.width()
	var lc, rc, cross, rest []expr
	for _, e := range conj {
		cols := map[int]bool{}
		if !colsOf(e, cols) {
			rest = append(rest, e)
			continue
		}
		l, r := false, false
		for i := range cols {
			if i < lw {
				l = true
			} else {
				r = true
			}
		}
		switch {
		case l && r:
			cross = append(cross, e)
		case r:
			rc = append(rc, shift(e, lw))
		default:
			lc = append(lc, e)
		}
	}
	rest = append(rest, finishFrom(j.left, lc)...)
	// Index lookup join: the right side is a base table whose primary key
	// is fully determined by left columns through equalities.
	if rb := j.right.base; rb != nil {
		t := rb.t
		keyOf := map[int]expr{} // right PK position -> left expression
		var remaining []expr
		for _, e := range cross {
			if x, ok := e.(*cmpExpr); ok && x.op == opcode.EQ {
				lr, lok := x.l.(*colRef)
				rr, rok := x.r.(*colRef)
				if lok && rok {
					if lr.i >= lw && rr.i < lw {
						lr, rr = rr, lr
					}
					if lr.i < lw && rr.i >= lw {
						keyOf[rr.i-lw] = lr
						remaining = append(remaining, e)
						continue
					}
				}
			}
			remaining = append(remaining, e)
		}
		full := len(t.PK) > 0
		for _, id := range t.PK {
			if _, ok := keyOf[t.colIndex(id)]; !ok {
				full = false
			}
		}
		if full {
			chooseAccess(rb, rc)
			keys := make([]expr, len(t.PK))
			for i, id := range t.PK {
				keys[i] = keyOf[t.colIndex(id)]
			}
			j.built = &lookupJoin{left: j.left.n, right: rb, keys: keys, on: remaining}
			return rest
		}
	}
	rest = append(rest, finishFrom(j.right, rc)...)
	// Hash join on equalities between the sides, else a nested loop.
	var lk, rk []expr
	var other []expr
	for _, e := range cross {
		if x, ok := e.(*cmpExpr); ok && x.op == opcode.EQ {
			lc, rc := map[int]bool{}, map[int]bool{}
			colsOf(x.l, lc)
			colsOf(x.r, rc)
			if side(lc, lw) == 1 && side(rc, lw) == 2 {
				lk, rk = append(lk, x.l), append(rk, shift(x.r, lw))
				continue
			}
			if side(lc, lw) == 2 && side(rc, lw) == 1 {
				lk, rk = append(lk, x.r), append(rk, shift(x.l, lw))
				continue
			}
		}
		other = append(other, e)
	}
	if len(lk) > 0 {
		j.built = &hashJoin{left: j.left.n, right: j.right.n, lkeys: lk, rkeys: rk, on: other}
	} else {
		j.built = &nestedJoin{left: j.left.n, right: j.right.n, rightW: j.right.n.width(), on: other}
	}
	return rest
}

// side: 1 all left, 2 all right, 0 mixed or none.
func side(cols map[int]bool, lw int) int {
	s := 0
	for i := range cols {
		c := 1
		if i >= lw {
			c = 2
		}
		if s != 0 && s != c {
			return 0
		}
		s = c
	}
	return s
}

// planSelect plans one SELECT block.
func (cp *compiler) planSelect(sel *ast.SelectStmt, outer *scope) (*query, error) {
	if sel.LockInfo != nil && sel.LockInfo.LockType != ast.SelectLockNone {
		cp.sc.forUpdate = true
	}
	var from *fromItem
	var conj []expr
	if sel.From != nil && sel.From.TableRefs != nil {
		var err error
		if from, conj, err = cp.planFrom(sel.From.TableRefs, outer); err != nil {
			return nil, err
		}
	} else {
		from = &fromItem{n: &dualNode{}, sc: &scope{outer: outer}}
	}
	sc := from.sc
	if sel.Where != nil {
		for _, w := range splitAnd(sel.Where) {
			e, err := cp.compile(sc, w)
			if err != nil {
				return nil, err
			}
			conj = append(conj, e)
		}
	}
	rest := finishFrom(from, conj)
	var root node = from.n
	if len(rest) > 0 {
		root = &filterNode{in: root, conds: rest}
	}
	q := &query{tables: from.tables}

	// Output expressions (expanding *), with aggregation when grouped.
	grouped := sel.GroupBy != nil || hasAgg(sel)
	var agg *aggCollector
	if grouped {
		agg = &aggCollector{in: sc}
		for _, g := range groupItems(sel) {
			e, err := cp.compileGroupItem(sc, sel, g)
			if err != nil {
				return nil, err
			}
			agg.groups = append(agg.groups, e)
		}
	}
	var outs []expr
	aliases := map[string]expr{}
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			tbl := f.WildCard.Table.L
			n := 0
			for i, c := range sc.cols {
				if c.hidden || (tbl != "" && !strings.EqualFold(c.table, tbl)) {
					continue
				}
				n++
				var e expr = &colRef{i: i, t: c.t}
				if grouped {
					var err error
					if e, err = agg.groupRef(i); err != nil {
						return nil, err
					}
				}
				outs = append(outs, e)
				q.out = append(q.out, columnOf(c, c.name))
			}
			if n == 0 && tbl != "" {
				return nil, sqlerr.UnknownTable(f.WildCard.Table.O)
			}
			continue
		}
		e, err := cp.compileOut(sc, agg, f.Expr)
		if err != nil {
			return nil, err
		}
		outs = append(outs, e)
		if f.AsName.O != "" {
			aliases[strings.ToLower(f.AsName.O)] = e
		}
		name := f.AsName.O
		if name == "" {
			name = fieldName(f)
		}
		col := Column{Name: name, Type: e.typ()}
		if r, ok := f.Expr.(*ast.ColumnNameExpr); ok {
			if i, err := sc.resolve(r.Name); err == nil {
				col = columnOf(sc.cols[i], name)
			}
		}
		q.out = append(q.out, col)
	}
	in := &scope{cols: sc.cols, outer: sc.outer, aliases: aliases}
	sc = in
	var having expr
	if sel.Having != nil {
		var err error
		if having, err = cp.compileOut(sc, agg, sel.Having.Expr); err != nil {
			return nil, err
		}
	}
	// ORDER BY: an output alias or position, or an expression.
	var orderKeys []expr
	var desc []bool
	if sel.OrderBy != nil {
		for _, it := range sel.OrderBy.Items {
			e, err := cp.orderExpr(sc, agg, q, outs, it.Expr)
			if err != nil {
				return nil, err
			}
			orderKeys = append(orderKeys, e)
			desc = append(desc, it.Desc)
		}
	}
	if grouped {
		root = &aggNode{in: root, groups: agg.groups, aggs: agg.aggs}
		if having != nil {
			root = &filterNode{in: root, conds: []expr{having}}
		}
	}
	// Project outputs plus hidden sort keys, sort, then cut the keys.
	proj := append(append([]expr{}, outs...), orderKeys...)
	root = &projectNode{in: root, exprs: proj}
	if sel.Distinct {
		root = &distinctNode{in: root, n: len(outs)}
	}
	offset, count, err := cp.limit(sel.Limit)
	if err != nil {
		return nil, err
	}
	if len(orderKeys) > 0 && !(!grouped && !sel.Distinct && readsInOrder(from, orderKeys, desc)) {
		keys := make([]int, len(orderKeys))
		for i := range keys {
			keys[i] = len(outs) + i
		}
		root = &sortNode{in: root, keys: keys, desc: desc, topN: count, offset: offset}
	}
	if count != nil {
		root = &limitNode{in: root, offset: offset, count: count}
	}
	if len(orderKeys) > 0 {
		root = &cutNode{in: root, n: len(outs)}
	}
	q.root = root
	return q, nil
}

func columnOf(c scopeCol, name string) Column {
	col := Column{Name: name, OrgName: c.name, Table: c.table, OrgTable: c.orgTable, Database: c.db, Type: c.t}
	if c.desc != nil {
		col.NotNull, col.AutoIncrement = c.desc.NotNull, c.desc.AutoInc
	}
	if c.desc == nil {
		col.OrgName = ""
	}
	return col
}

// fieldName is the label MySQL gives an unaliased select expression: its
// text as written.
func fieldName(f *ast.SelectField) string {
	if c, ok := f.Expr.(*ast.ColumnNameExpr); ok {
		return c.Name.Name.O
	}
	if t := f.Text(); t != "" {
		return t
	}
	var b strings.Builder
	restore(f.Expr, &b)
	return b.String()
}

func (cp *compiler) limit(l *ast.Limit) (offset expr, count expr, err error) {
	if l == nil {
		return nil, nil, nil
	}
	sc := &scope{}
	if count, err = cp.compile(sc, l.Count); err != nil {
		return nil, nil, err
	}
	if l.Offset != nil {
		if offset, err = cp.compile(sc, l.Offset); err != nil {
			return nil, nil, err
		}
	}
	return offset, count, nil
}

func hasAgg(sel *ast.SelectStmt) bool {
	v := &aggFinder{}
	for _, f := range sel.Fields.Fields {
		if f.Expr != nil {
			f.Expr.Accept(v)
		}
	}
	if sel.Having != nil {
		sel.Having.Expr.Accept(v)
	}
	if sel.OrderBy != nil {
		for _, it := range sel.OrderBy.Items {
			it.Expr.Accept(v)
		}
	}
	return v.found
}

type aggFinder struct{ found bool }

func (v *aggFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.AggregateFuncExpr:
		v.found = true
		return n, true
	case *ast.SubqueryExpr:
		return n, true
	}
	return n, false
}
func (v *aggFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func groupItems(sel *ast.SelectStmt) []ast.ExprNode {
	if sel.GroupBy == nil {
		return nil
	}
	out := make([]ast.ExprNode, len(sel.GroupBy.Items))
	for i, it := range sel.GroupBy.Items {
		out[i] = it.Expr
	}
	return out
}

// compileGroupItem compiles a GROUP BY item: a column, an output alias or
// position, or an expression.
func (cp *compiler) compileGroupItem(sc *scope, sel *ast.SelectStmt, g ast.ExprNode) (expr, error) {
	if pos, ok := positionOf(g); ok {
		if pos < 1 || pos > len(sel.Fields.Fields) {
			return nil, sqlerr.UnknownColumn(fmt.Sprint(pos), "group statement")
		}
		return cp.compile(sc, sel.Fields.Fields[pos-1].Expr)
	}
	if c, ok := g.(*ast.ColumnNameExpr); ok && c.Name.Table.L == "" {
		if _, err := sc.resolve(c.Name); err != nil {
			for _, f := range sel.Fields.Fields {
				if strings.EqualFold(f.AsName.O, c.Name.Name.O) {
					return cp.compile(sc, f.Expr)
				}
			}
		}
	}
	return cp.compile(sc, g)
}

func positionOf(e ast.ExprNode) (int, bool) {
	if p, ok := e.(*ast.PositionExpr); ok && p.P == nil {
		return p.N, true
	}
	if v, ok := e.(ast.ValueExpr); ok {
		switch x := v.GetValue().(type) {
		case int64:
			return int(x), true
		case uint64:
			return int(x), true
		}
	}
	return 0, false
}

// compileOut compiles an output expression; in a grouped query, columns
// must be group columns and aggregates become slot references.
func (cp *compiler) compileOut(in *scope, agg *aggCollector, n ast.ExprNode) (expr, error) {
	if agg == nil {
		return cp.compile(in, n)
	}
	// Compile against the input scope with aggregates collected, then
	// rewrite input columns to group slots.
	sc := &scope{cols: in.cols, agg: agg, outer: in.outer, aliases: in.aliases}
	e, err := cp.compile(sc, n)
	if err != nil {
		return nil, err
	}
	return agg.rewrite(e)
}

func (cp *compiler) orderExpr(in *scope, agg *aggCollector, q *query, outs []expr, n ast.ExprNode) (expr, error) {
	if pos, ok := positionOf(n); ok {
		if pos < 1 || pos > len(outs) {
			return nil, sqlerr.UnknownColumn(fmt.Sprint(pos), "order clause")
		}
		return outs[pos-1], nil
	}
	if c, ok := n.(*ast.ColumnNameExpr); ok && c.Name.Table.L == "" {
		for i, col := range q.out {
			if strings.EqualFold(col.Name, c.Name.Name.O) && (col.OrgName == "" || !strings.EqualFold(col.OrgName, col.Name)) {
				return outs[i], nil
			}
		}
	}
	return cp.compileOut(in, agg, n)
}

// planSetOp plans UNION [ALL] chains (left to right).
func (cp *compiler) planSetOp(n *ast.SetOprStmt, outer *scope) (*query, error) {
	if n.SelectList == nil || len(n.SelectList.Selects) == 0 {
		return nil, sqlerr.NotSupported("empty set operation")
	}
	var q *query
	var parts []node
	distinct := false
	for i, s := range n.SelectList.Selects {
		rs, ok := s.(ast.ResultSetNode)
		if !ok {
			return nil, sqlerr.NotSupported("set operation item")
		}
		sub, err := cp.planQuery(rs, outer)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			q = &query{out: sub.out}
		} else {
			if len(sub.out) != len(q.out) {
				return nil, sqlerr.New(1222, "21000", "The used SELECT statements have a different number of columns")
			}
			var op *ast.SetOprType
			if sel, ok := s.(*ast.SelectStmt); ok {
				op = sel.AfterSetOperator
			} else if so, ok := s.(*ast.SetOprSelectList); ok {
				op = so.AfterSetOperator
			}
			if op != nil {
				switch *op {
				case ast.Union:
					distinct = true
				case ast.UnionAll:
				default:
					return nil, sqlerr.NotSupported("INTERSECT and EXCEPT")
				}
			}
		}
		q.tables = append(q.tables, sub.tables...)
		parts = append(parts, sub.root)
	}
	var root node = &unionNode{parts: parts, w: len(q.out)}
	if distinct {
		root = &distinctNode{in: root, n: len(q.out)}
	}
	sc := &scope{outer: outer}
	for _, c := range q.out {
		sc.cols = append(sc.cols, scopeCol{name: c.Name, t: c.Type})
	}
	if n.OrderBy != nil {
		var keys []int
		var desc []bool
		var exprs []expr
		for i := range q.out {
			exprs = append(exprs, &colRef{i: i, t: q.out[i].Type})
		}
		for _, it := range n.OrderBy.Items {
			var e expr
			if pos, ok := positionOf(it.Expr); ok && pos >= 1 && pos <= len(q.out) {
				e = exprs[pos-1]
			} else {
				var err error
				if e, err = cp.compile(sc, it.Expr); err != nil {
					return nil, err
				}
			}
			keys = append(keys, len(exprs))
			exprs = append(exprs, e)
			desc = append(desc, it.Desc)
		}
		root = &projectNode{in: root, exprs: exprs}
		root = &sortNode{in: root, keys: keys, desc: desc}
		root = &cutNode{in: root, n: len(q.out)}
	}
	if n.Limit != nil {
		offset, count, err := cp.limit(n.Limit)
		if err != nil {
			return nil, err
		}
		root = &limitNode{in: root, offset: offset, count: count}
	}
	q.root = root
	return q, nil
}

// aggCollector gathers the aggregate calls of a grouped query's outputs.
type aggCollector struct {
	in     *scope
	groups []expr
	aggs   []*aggSpec
}

type aggSpec struct {
	fn       string // COUNT, SUM, AVG, MIN, MAX, GROUP_CONCAT
	arg      expr   // nil for COUNT(*)
	distinct bool
	t        types.T
}

// aggRef reads an aggregate's slot in the aggregation output.
type aggRef struct {
	slot int
	t    types.T
}

func (e *aggRef) eval(_ *stmtCtx, row []types.Datum) (types.Datum, error) { return row[e.slot], nil }
func (e *aggRef) typ() types.T                                            { return e.t }

func (a *aggCollector) add(cp *compiler, n *ast.AggregateFuncExpr) (expr, error) {
	fn := strings.ToUpper(n.F)
	spec := &aggSpec{fn: fn, distinct: n.Distinct}
	if !(fn == "COUNT" && len(n.Args) == 1 && isStar(n.Args[0])) {
		if len(n.Args) != 1 && fn != "GROUP_CONCAT" {
			return nil, sqlerr.WrongParamCount(fn)
		}
		arg, err := cp.compile(&scope{cols: a.in.cols, outer: a.in.outer}, n.Args[0])
		if err != nil {
			return nil, err
		}
		spec.arg = arg
	}
	switch fn {
	case "COUNT":
		spec.t = tBigInt
	case "SUM", "AVG":
		spec.t = tDecimal
		if spec.arg != nil && (spec.arg.typ().Kind == types.Double || spec.arg.typ().Kind == types.Float) {
			spec.t = tDouble
		}
	case "MIN", "MAX":
		spec.t = spec.arg.typ()
	case "GROUP_CONCAT":
		spec.t = tText
	default:
		return nil, sqlerr.NotSupported("aggregate " + fn)
	}
	a.aggs = append(a.aggs, spec)
	return &aggRef{slot: -len(a.aggs), t: spec.t}, nil // fixed up by rewrite
}

func isStar(e ast.ExprNode) bool {
	if v, ok := e.(ast.ValueExpr); ok {
		return v.GetValue() != nil && fmt.Sprint(v.GetValue()) == "1"
	}
	return false
}

// groupRef maps input column i to its group slot, or fails as MySQL's
// ONLY_FULL_GROUP_BY does.
func (a *aggCollector) groupRef(i int) (expr, error) {
	for g, e := range a.groups {
		if r, ok := e.(*colRef); ok && r.i == i {
			return &colRef{i: g, t: r.t}, nil
		}
	}
	c := a.in.cols[i]
	return nil, sqlerr.New(1055, "42000", "Expression of SELECT list is not in GROUP BY clause and contains nonaggregated column '%s.%s' which is not functionally dependent on columns in GROUP BY clause", c.table, c.name)
}

// rewrite moves an output expression from input positions to the
// aggregation output: group columns then aggregate slots.
func (a *aggCollector) rewrite(e expr) (expr, error) {
	for g, ge := range a.groups {
		if sameExpr(ge, e) {
			return &colRef{i: g, t: ge.typ()}, nil
		}
	}
	switch x := e.(type) {
	case *aliasRef:
		return x.e, nil
	case *aggRef:
		return &aggRef{slot: len(a.groups) + (-x.slot - 1), t: x.t}, nil
	case *colRef:
		return a.groupRef(x.i)
	case *existsExpr:
		if x.sub.correlated {
			return nil, sqlerr.NotSupported("correlated subqueries in a grouped query")
		}
		return e, nil
	case *scalarSubExpr:
		if x.sub.correlated {
			return nil, sqlerr.NotSupported("correlated subqueries in a grouped query")
		}
		return e, nil
	case *constExpr, *paramExpr, *outerRef:
		return e, nil
	case *funcExpr:
		n := *x
		n.args = make([]expr, len(x.args))
		for i, arg := range x.args {
			r, err := a.rewrite(arg)
			if err != nil {
				return nil, err
			}
			n.args[i] = r
		}
		return &n, nil
	case *cmpExpr:
		l, err := a.rewrite(x.l)
		if err != nil {
			return nil, err
		}
		r, err := a.rewrite(x.r)
		return &cmpExpr{op: x.op, l: l, r: r}, err
	case *logicExpr:
		l, err := a.rewrite(x.l)
		if err != nil {
			return nil, err
		}
		r, err := a.rewrite(x.r)
		return &logicExpr{op: x.op, l: l, r: r}, err
	case *notExpr:
		v, err := a.rewrite(x.e)
		return &notExpr{e: v}, err
	case *isNullExpr:
		v, err := a.rewrite(x.e)
		return &isNullExpr{e: v, not: x.not}, err
	case *caseExpr:
		n := &caseExpr{}
		var err error
		if x.value != nil {
			if n.value, err = a.rewrite(x.value); err != nil {
				return nil, err
			}
		}
		if x.els != nil {
			if n.els, err = a.rewrite(x.els); err != nil {
				return nil, err
			}
		}
		for i := range x.when {
			w, err := a.rewrite(x.when[i])
			if err != nil {
				return nil, err
			}
			t, err := a.rewrite(x.then[i])
			if err != nil {
				return nil, err
			}
			n.when, n.then = append(n.when, w), append(n.then, t)
		}
		return n, nil
	case *inExpr:
		v, err := a.rewrite(x.e)
		if err != nil {
			return nil, err
		}
		if x.sub != nil && x.sub.correlated {
			return nil, sqlerr.NotSupported("correlated subqueries in a grouped query")
		}
		n := &inExpr{e: v, sub: x.sub, not: x.not}
		for _, l := range x.list {
			r, err := a.rewrite(l)
			if err != nil {
				return nil, err
			}
			n.list = append(n.list, r)
		}
		return n, nil
	}
	return nil, sqlerr.NotSupported(fmt.Sprintf("%T in a grouped query", e))
}

func sameExpr(a, b expr) bool {
	ra, ok1 := a.(*colRef)
	rb, ok2 := b.(*colRef)
	return ok1 && ok2 && ra.i == rb.i
}

// keyOf encodes values for hashing (GROUP BY, DISTINCT, joins): equal
// exactly when the values compare equal within one column type.
func keyOf(vals []types.Datum) string {
	var b []byte
	for _, v := range vals {
		b = rowenc.EncodeKey(b, v, false)
	}
	return string(b)
}

// sortRows sorts rows by the key positions.
func sortRows(rows [][]types.Datum, keys []int, desc []bool) error {
	var err error
	slices.SortStableFunc(rows, func(a, b []types.Datum) int {
		for n, k := range keys {
			c, e := types.Compare(a[k], b[k])
			if e != nil && err == nil {
				err = e
			}
			if c != 0 {
				if desc[n] {
					return -c
				}
				return c
			}
		}
		return 0
	})
	return err
}
