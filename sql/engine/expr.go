package engine

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/meridiandb/meridian/sql/pushdown"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
)

// expr is a compiled expression: names resolved to row positions, so that
// evaluation is a walk over small structs.
type expr interface {
	eval(c *stmtCtx, row []types.Datum) (types.Datum, error)
	typ() types.T
}

var (
	tBigInt  = types.NewT(types.BigInt)
	tDouble  = types.NewT(types.Double)
	tDecimal = types.T{Kind: types.Decimal, Precision: 65, Scale: 4, Length: -1}
	tText    = types.T{Kind: types.VarChar, Length: 65535}
	tBytes   = types.T{Kind: types.VarBinary, Length: 65535}
	tDT      = types.T{Kind: types.DateTime, Length: -1}
	tDate    = types.T{Kind: types.Date, Length: -1}
)

var (
	dTrue  = types.NewInt(1)
	dFalse = types.NewInt(0)
)

func boolDatum(b bool) types.Datum {
	if b {
		return dTrue
	}
	return dFalse
}

// scopeCol is a column visible to expressions: a table column of a FROM
// item or a computed output column.
type scopeCol struct {
	table, name  string // table alias and column name, for resolution
	db, orgTable string
	t            types.T
	desc         *ColumnDesc // nil for computed columns
	hidden       bool        // not part of SELECT *
}

// scope resolves names to row positions.
type scope struct {
	cols []scopeCol
	// aggs, when compiling a grouped query's outputs: aggregate calls
	// found so far, evaluated by the aggregation operator into the slots
	// after the group columns.
	agg *aggCollector
	// outer is the enclosing query's scope: a name found there is a
	// correlated reference to the outer row (outerRef).
	outer *scope
	// aliases are the select list's aliases, which HAVING and ORDER BY may
	// name (already compiled for the output row).
	aliases map[string]expr
}

// aliasRef is a select-list alias used in HAVING or ORDER BY.
type aliasRef struct{ e expr }

func (e *aliasRef) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) { return e.e.eval(c, row) }
func (e *aliasRef) typ() types.T                                            { return e.e.typ() }

func (s *scope) resolve(cn *ast.ColumnName) (int, error) {
	name, table := cn.Name.L, cn.Table.L
	found := -1
	for i, c := range s.cols {
		if !strings.EqualFold(c.name, name) || (table != "" && !strings.EqualFold(c.table, table)) {
			continue
		}
		if cn.Schema.L != "" && !strings.EqualFold(c.db, cn.Schema.O) {
			continue
		}
		if found >= 0 {
			return 0, sqlerr.New(1052, "23000", "Column '%s' in field list is ambiguous", cn.Name.O)
		}
		found = i
	}
	if found < 0 {
		full := cn.Name.O
		if cn.Table.O != "" {
			full = cn.Table.O + "." + full
		}
		return 0, sqlerr.UnknownColumn(full, "field list")
	}
	return found, nil
}

// compiler turns AST expressions into exprs within a statement.
type compiler struct {
	s  *Session
	sc *stmtCtx
	// outerRefs counts correlated references compiled so far (a subquery
	// that adds some is correlated).
	outerRefs int
}

func (cp *compiler) compile(sc *scope, n ast.ExprNode) (expr, error) {
	switch n := n.(type) {
	case *test_driver.ParamMarkerExpr:
		i, ok := cp.s.paramOrder[n]
		if !ok {
			return nil, sqlerr.New(1210, "HY000", "Incorrect arguments: ? placeholders need a prepared statement")
		}
		t := tText
		if i < len(cp.sc.params) {
			t = typeOfDatum(cp.sc.params[i])
		}
		return &paramExpr{i: i, t: t}, nil
	case *test_driver.ValueExpr:
		d, t, err := literal(&n.Datum)
		if err != nil {
			return nil, err
		}
		return &constExpr{d: d, t: t}, nil
	case *ast.ParenthesesExpr:
		return cp.compile(sc, n.Expr)
	case *ast.ColumnNameExpr:
		i, err := sc.resolve(n.Name)
		if err != nil {
			if a, ok := sc.aliases[strings.ToLower(n.Name.Name.O)]; ok && n.Name.Table.O == "" {
				return &aliasRef{e: a}, nil
			}
			if !sqlerr.Is(err, sqlerr.CodeBadField) {
				return nil, err
			}
			up := 0
			for o := sc.outer; o != nil; o = o.outer {
				up++
				if j, oerr := o.resolve(n.Name); oerr == nil {
					cp.outerRefs++
					return &outerRef{up: up, i: j, t: o.cols[j].t}, nil
				}
			}
			return nil, err
		}
		return &colRef{i: i, t: sc.cols[i].t}, nil
	case *ast.BinaryOperationExpr:
		l, err := cp.compile(sc, n.L)
		if err != nil {
			return nil, err
		}
		r, err := cp.compile(sc, n.R)
		if err != nil {
			return nil, err
		}
		return binaryOp(n.Op, l, r)
	case *ast.UnaryOperationExpr:
		v, err := cp.compile(sc, n.V)
		if err != nil {
			return nil, err
		}
		switch n.Op {
		case opcode.Minus:
			return &funcExpr{name: "-", args: []expr{v}, t: v.typ(), fn: func(_ *stmtCtx, a []types.Datum) (types.Datum, error) { return types.Neg(a[0]) }}, nil
		case opcode.Plus:
			return v, nil
		case opcode.Not, opcode.Not2:
			return &notExpr{e: v}, nil
		}
		return nil, sqlerr.NotSupported("operator " + n.Op.String())
	case *ast.IsNullExpr:
		v, err := cp.compile(sc, n.Expr)
		if err != nil {
			return nil, err
		}
		return &isNullExpr{e: v, not: n.Not}, nil
	case *ast.IsTruthExpr:
		v, err := cp.compile(sc, n.Expr)
		if err != nil {
			return nil, err
		}
		return &isTruthExpr{e: v, not: n.Not, truth: n.True != 0}, nil
	case *ast.BetweenExpr:
		v, err := cp.compile(sc, n.Expr)
		if err != nil {
			return nil, err
		}
		lo, err := cp.compile(sc, n.Left)
		if err != nil {
			return nil, err
		}
		hi, err := cp.compile(sc, n.Right)
		if err != nil {
			return nil, err
		}
		e := expr(&logicExpr{op: opcode.LogicAnd, l: &cmpExpr{op: opcode.GE, l: v, r: lo}, r: &cmpExpr{op: opcode.LE, l: v, r: hi}})
		if n.Not {
			e = &notExpr{e: e}
		}
		return e, nil
	case *ast.PatternInExpr:
		v, err := cp.compile(sc, n.Expr)
		if err != nil {
			return nil, err
		}
		in := &inExpr{e: v, not: n.Not}
		if n.Sel != nil {
			sq, ok := n.Sel.(*ast.SubqueryExpr)
			if !ok {
				return nil, sqlerr.NotSupported("IN with a non-subquery")
			}
			sub, err := cp.subquery(sc, sq.Query)
			if err != nil {
				return nil, err
			}
			in.sub = sub
			return in, nil
		}
		for _, x := range n.List {
			e, err := cp.compile(sc, x)
			if err != nil {
				return nil, err
			}
			in.list = append(in.list, e)
		}
		return in, nil
	case *ast.PatternLikeOrIlikeExpr:
		v, err := cp.compile(sc, n.Expr)
		if err != nil {
			return nil, err
		}
		p, err := cp.compile(sc, n.Pattern)
		if err != nil {
			return nil, err
		}
		esc := n.Escape
		if esc == 0 {
			esc = '\\'
		}
		return &likeExpr{e: v, pat: p, not: n.Not, esc: esc, ci: !n.IsLike}, nil
	case *ast.CaseExpr:
		ce := &caseExpr{}
		var err error
		if n.Value != nil {
			if ce.value, err = cp.compile(sc, n.Value); err != nil {
				return nil, err
			}
		}
		for _, w := range n.WhenClauses {
			c, err := cp.compile(sc, w.Expr)
			if err != nil {
				return nil, err
			}
			r, err := cp.compile(sc, w.Result)
			if err != nil {
				return nil, err
			}
			ce.when = append(ce.when, c)
			ce.then = append(ce.then, r)
		}
		if n.ElseClause != nil {
			if ce.els, err = cp.compile(sc, n.ElseClause); err != nil {
				return nil, err
			}
		}
		return ce, nil
	case *ast.FuncCastExpr:
		v, err := cp.compile(sc, n.Expr)
		if err != nil {
			return nil, err
		}
		t, err := types.FromFieldType(n.Tp)
		if err != nil {
			return nil, err
		}
		return &funcExpr{name: "CAST", args: []expr{v}, t: t, fn: func(c *stmtCtx, a []types.Datum) (types.Datum, error) {
			d, trunc := types.Cast(a[0], t)
			if trunc {
				c.warn(sqlerr.TruncatedWrongValue(t.String(), types.ToString(a[0])))
			}
			return d, nil
		}}, nil
	case *ast.FuncCallExpr:
		return cp.funcCall(sc, n)
	case *ast.AggregateFuncExpr:
		if sc.agg == nil {
			return nil, sqlerr.New(1111, "HY000", "Invalid use of group function")
		}
		return sc.agg.add(cp, n)
	case *ast.VariableExpr:
		return cp.variable(n)
	case *ast.SubqueryExpr:
		sub, err := cp.subquery(sc, n.Query)
		if err != nil {
			return nil, err
		}
		if n.Exists {
			return &existsExpr{sub: sub}, nil
		}
		return &scalarSubExpr{sub: sub}, nil
	case *ast.ExistsSubqueryExpr:
		sq, ok := n.Sel.(*ast.SubqueryExpr)
		if !ok {
			return nil, sqlerr.NotSupported("EXISTS without a subquery")
		}
		sub, err := cp.subquery(sc, sq.Query)
		if err != nil {
			return nil, err
		}
		var e expr = &existsExpr{sub: sub}
		if n.Not {
			e = &notExpr{e: e}
		}
		return e, nil
	case *ast.CompareSubqueryExpr:
		l, err := cp.compile(sc, n.L)
		if err != nil {
			return nil, err
		}
		sq, ok := n.R.(*ast.SubqueryExpr)
		if !ok {
			return nil, sqlerr.NotSupported("comparison with a non-subquery")
		}
		sub, err := cp.subquery(sc, sq.Query)
		if err != nil {
			return nil, err
		}
		if n.Op == opcode.EQ && n.All == false {
			return &inExpr{e: l, sub: sub}, nil
		}
		return &quantExpr{op: n.Op, all: n.All, l: l, sub: sub}, nil
	case *ast.DefaultExpr:
		return nil, sqlerr.NotSupported("DEFAULT in this position")
	case *ast.ValuesExpr:
		if cp.sc.insertValues == nil {
			return nil, sqlerr.NotSupported("VALUES() outside ON DUPLICATE KEY UPDATE")
		}
		i, err := cp.sc.insertValues.resolve(n.Column.Name)
		if err != nil {
			return nil, err
		}
		return &insertValueRef{i: i, t: cp.sc.insertValues.cols[i].t}, nil
	case *ast.TimeUnitExpr:
		return &constExpr{d: types.NewString(n.Unit.String()), t: tText}, nil
	case *ast.TrimDirectionExpr:
		return &constExpr{d: types.NewString(n.Direction.String()), t: tText}, nil
	case *ast.RowExpr:
		return nil, sqlerr.NotSupported("row constructors")
	}
	return nil, sqlerr.NotSupported(fmt.Sprintf("expression %T", n))
}

// literal converts a parser literal.
func literal(d *test_driver.Datum) (types.Datum, types.T, error) {
	switch d.Kind() {
	case test_driver.KindNull:
		return types.Null(), tBigInt, nil
	case test_driver.KindInt64:
		return types.NewInt(d.GetInt64()), tBigInt, nil
	case test_driver.KindUint64:
		return types.NewUint(d.GetUint64()), types.T{Kind: types.BigInt, Unsigned: true, Length: -1}, nil
	case test_driver.KindFloat32, test_driver.KindFloat64:
		return types.NewFloat(d.GetFloat64()), tDouble, nil
	case test_driver.KindString:
		return types.NewString(d.GetString()), tText, nil
	case test_driver.KindBytes:
		return types.NewBytes(d.GetBytes()), tBytes, nil
	case test_driver.KindBinaryLiteral, test_driver.KindMysqlBit:
		return types.NewBytes([]byte(d.GetBinaryLiteral())), tBytes, nil
	case test_driver.KindMysqlDecimal:
		v, err := types.ParseDecimal(d.GetMysqlDecimal().String())
		if err != nil {
			return types.Datum{}, types.T{}, err
		}
		return v, tDecimal, nil
	}
	return types.Datum{}, types.T{}, sqlerr.NotSupported(fmt.Sprintf("literal of kind %d", d.Kind()))
}

type constExpr struct {
	d types.Datum
	t types.T
}

func (e *constExpr) eval(*stmtCtx, []types.Datum) (types.Datum, error) { return e.d, nil }
func (e *constExpr) typ() types.T                                      { return e.t }

type paramExpr struct {
	i int
	t types.T
}

func (e *paramExpr) eval(c *stmtCtx, _ []types.Datum) (types.Datum, error) {
	if e.i >= len(c.params) {
		return types.Datum{}, sqlerr.WrongArguments("EXECUTE")
	}
	return c.params[e.i], nil
}
func (e *paramExpr) typ() types.T { return e.t }

// typeOfDatum is the type a bound argument brings, for result metadata.
func typeOfDatum(d types.Datum) types.T {
	switch d.Kind() {
	case types.KindInt:
		return tBigInt
	case types.KindUint:
		return types.T{Kind: types.BigInt, Unsigned: true, Length: -1}
	case types.KindFloat:
		return tDouble
	case types.KindDecimal:
		return tDecimal
	case types.KindBytes:
		return tBytes
	case types.KindTime:
		return tDT
	}
	return tText
}

type colRef struct {
	i int
	t types.T
}

func (e *colRef) eval(_ *stmtCtx, row []types.Datum) (types.Datum, error) { return row[e.i], nil }
func (e *colRef) typ() types.T                                            { return e.t }

type insertValueRef struct {
	i int
	t types.T
}

func (e *insertValueRef) eval(c *stmtCtx, _ []types.Datum) (types.Datum, error) {
	return c.insertRow[e.i], nil
}
func (e *insertValueRef) typ() types.T { return e.t }

// funcExpr applies fn to its evaluated arguments; NULL handling is fn's.
type funcExpr struct {
	name string
	args []expr
	t    types.T
	fn   func(c *stmtCtx, args []types.Datum) (types.Datum, error)
}

func (e *funcExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	vals := make([]types.Datum, len(e.args))
	for i, a := range e.args {
		v, err := a.eval(c, row)
		if err != nil {
			return types.Datum{}, err
		}
		vals[i] = v
	}
	return e.fn(c, vals)
}
func (e *funcExpr) typ() types.T { return e.t }

func binaryOp(op opcode.Op, l, r expr) (expr, error) {
	switch op {
	case opcode.LogicAnd, opcode.LogicOr, opcode.LogicXor:
		return &logicExpr{op: op, l: l, r: r}, nil
	case opcode.EQ, opcode.NE, opcode.LT, opcode.LE, opcode.GT, opcode.GE, opcode.NullEQ:
		return &cmpExpr{op: op, l: l, r: r}, nil
	}
	var f func(a, b types.Datum) (types.Datum, error)
	t := arithType(l.typ(), r.typ())
	switch op {
	case opcode.Plus:
		f = types.Add
	case opcode.Minus:
		f = types.Sub
	case opcode.Mul:
		f = types.Mul
	case opcode.Div:
		f, t = types.Div, tDecimal
		if l.typ().Kind == types.Double || r.typ().Kind == types.Double || l.typ().Kind == types.Float || r.typ().Kind == types.Float {
			t = tDouble
		}
	case opcode.IntDiv:
		f, t = types.IntDiv, tBigInt
	case opcode.Mod:
		f = types.Mod
	default:
		return nil, sqlerr.NotSupported("operator " + op.String())
	}
	return &funcExpr{name: op.String(), args: []expr{l, r}, t: t, fn: func(_ *stmtCtx, a []types.Datum) (types.Datum, error) {
		return f(a[0], a[1])
	}}, nil
}

// arithType approximates MySQL's result type of + - * % for metadata.
func arithType(a, b types.T) types.T {
	switch {
	case a.Kind == types.Double || b.Kind == types.Double || a.Kind == types.Float || b.Kind == types.Float || a.IsString() || b.IsString():
		return tDouble
	case a.Kind == types.Decimal || b.Kind == types.Decimal:
		return tDecimal
	case a.Unsigned || b.Unsigned:
		// MySQL: an unsigned operand makes integer arithmetic unsigned.
		return types.T{Kind: types.BigInt, Unsigned: true, Length: -1}
	}
	return tBigInt
}

type cmpExpr struct {
	op   opcode.Op
	l, r expr
}

func (e *cmpExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	a, err := e.l.eval(c, row)
	if err != nil {
		return types.Datum{}, err
	}
	b, err := e.r.eval(c, row)
	if err != nil {
		return types.Datum{}, err
	}
	if e.op == opcode.NullEQ {
		if a.IsNull() || b.IsNull() {
			return boolDatum(a.IsNull() && b.IsNull()), nil
		}
	} else if a.IsNull() || b.IsNull() {
		return types.Null(), nil
	}
	k, err := types.Compare(a, b)
	if err != nil {
		return types.Datum{}, err
	}
	return boolDatum(cmpHolds(e.op, k)), nil
}

func cmpHolds(op opcode.Op, k int) bool {
	switch op {
	case opcode.EQ, opcode.NullEQ:
		return k == 0
	case opcode.NE:
		return k != 0
	case opcode.LT:
		return k < 0
	case opcode.LE:
		return k <= 0
	case opcode.GT:
		return k > 0
	case opcode.GE:
		return k >= 0
	}
	return false
}

func (e *cmpExpr) typ() types.T { return tBigInt }

// truth is SQL's three-valued truth of a value: NULL is unknown.
func truth(d types.Datum) (val, known bool) {
	if d.IsNull() {
		return false, false
	}
	return types.ToBool(d), true
}

type logicExpr struct {
	op   opcode.Op
	l, r expr
}

func (e *logicExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	a, err := e.l.eval(c, row)
	if err != nil {
		return types.Datum{}, err
	}
	av, ak := truth(a)
	switch e.op {
	case opcode.LogicAnd:
		if ak && !av {
			return dFalse, nil
		}
	case opcode.LogicOr:
		if ak && av {
			return dTrue, nil
		}
	}
	b, err := e.r.eval(c, row)
	if err != nil {
		return types.Datum{}, err
	}
	bv, bk := truth(b)
	switch e.op {
	case opcode.LogicAnd:
		if bk && !bv {
			return dFalse, nil
		}
		if ak && bk {
			return dTrue, nil
		}
	case opcode.LogicOr:
		if bk && bv {
			return dTrue, nil
		}
		if ak && bk {
			return dFalse, nil
		}
	case opcode.LogicXor:
		if ak && bk {
			return boolDatum(av != bv), nil
		}
	}
	return types.Null(), nil
}
func (e *logicExpr) typ() types.T { return tBigInt }

type notExpr struct{ e expr }

func (e *notExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	v, err := e.e.eval(c, row)
	if err != nil || v.IsNull() {
		return v, err
	}
	return boolDatum(!types.ToBool(v)), nil
}
func (e *notExpr) typ() types.T { return tBigInt }

type isNullExpr struct {
	e   expr
	not bool
}

func (e *isNullExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	v, err := e.e.eval(c, row)
	if err != nil {
		return v, err
	}
	return boolDatum(v.IsNull() != e.not), nil
}
func (e *isNullExpr) typ() types.T { return tBigInt }

type isTruthExpr struct {
	e          expr
	not, truth bool
}

func (e *isTruthExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	v, err := e.e.eval(c, row)
	if err != nil {
		return v, err
	}
	val, known := truth(v)
	return boolDatum((known && val == e.truth) != e.not), nil
}
func (e *isTruthExpr) typ() types.T { return tBigInt }

type inExpr struct {
	e    expr
	list []expr
	sub  *subplan
	not  bool
}

func (e *inExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	v, err := e.e.eval(c, row)
	if err != nil {
		return v, err
	}
	var cands []types.Datum
	if e.sub != nil {
		rows, err := e.sub.rows(c, row)
		if err != nil {
			return types.Datum{}, err
		}
		for _, r := range rows {
			cands = append(cands, r[0])
		}
	} else {
		for _, x := range e.list {
			d, err := x.eval(c, row)
			if err != nil {
				return d, err
			}
			cands = append(cands, d)
		}
	}
	if v.IsNull() {
		if len(cands) == 0 {
			return boolDatum(e.not), nil
		}
		return types.Null(), nil
	}
	sawNull := false
	for _, d := range cands {
		if d.IsNull() {
			sawNull = true
			continue
		}
		k, err := types.Compare(v, d)
		if err != nil {
			return types.Datum{}, err
		}
		if k == 0 {
			return boolDatum(!e.not), nil
		}
	}
	if sawNull {
		return types.Null(), nil
	}
	return boolDatum(e.not), nil
}
func (e *inExpr) typ() types.T { return tBigInt }

type likeExpr struct {
	e, pat  expr
	not, ci bool
	esc     byte
}

func (e *likeExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	v, err := e.e.eval(c, row)
	if err != nil || v.IsNull() {
		return v, err
	}
	p, err := e.pat.eval(c, row)
	if err != nil || p.IsNull() {
		return p, err
	}
	s, pat := types.ToString(v), types.ToString(p)
	if e.ci {
		s, pat = strings.ToLower(s), strings.ToLower(pat)
	}
	return boolDatum(pushdown.Like(s, pat, e.esc) != e.not), nil
}
func (e *likeExpr) typ() types.T { return tBigInt }

type caseExpr struct {
	value      expr
	when, then []expr
	els        expr
}

func (e *caseExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	var v types.Datum
	var err error
	if e.value != nil {
		if v, err = e.value.eval(c, row); err != nil {
			return v, err
		}
	}
	for i, w := range e.when {
		d, err := w.eval(c, row)
		if err != nil {
			return d, err
		}
		hit := false
		if e.value != nil {
			if !v.IsNull() && !d.IsNull() {
				k, err := types.Compare(v, d)
				if err != nil {
					return d, err
				}
				hit = k == 0
			}
		} else {
			hit, _ = truth(d)
		}
		if hit {
			return e.then[i].eval(c, row)
		}
	}
	if e.els != nil {
		return e.els.eval(c, row)
	}
	return types.Null(), nil
}

func (e *caseExpr) typ() types.T {
	if len(e.then) > 0 {
		return e.then[0].typ()
	}
	return tText
}

// funcCall compiles a built-in function call.
func (cp *compiler) funcCall(sc *scope, n *ast.FuncCallExpr) (expr, error) {
	name := strings.ToUpper(n.FnName.L)
	args := make([]expr, 0, len(n.Args))
	for _, a := range n.Args {
		e, err := cp.compile(sc, a)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	switch name {
	case "DATABASE", "SCHEMA":
		return &funcExpr{name: name, t: tText, fn: func(c *stmtCtx, _ []types.Datum) (types.Datum, error) {
			if c.s.db == "" {
				return types.Null(), nil
			}
			return types.NewString(c.s.db), nil
		}}, nil
	case "VERSION":
		return &constExpr{d: types.NewString(cp.s.e.cfg.Version), t: tText}, nil
	case "CONNECTION_ID":
		return &constExpr{d: types.NewUint(uint64(cp.s.id)), t: tBigInt}, nil
	case "USER", "CURRENT_USER", "SESSION_USER", "SYSTEM_USER":
		return &constExpr{d: types.NewString(cp.s.user + "@%"), t: tText}, nil
	case "LAST_INSERT_ID":
		if len(args) == 0 {
			return &funcExpr{name: name, t: tBigInt, fn: func(c *stmtCtx, _ []types.Datum) (types.Datum, error) {
				return types.NewUint(c.s.lastInsertID), nil
			}}, nil
		}
	case "FOUND_ROWS", "ROW_COUNT":
		return &funcExpr{name: name, t: tBigInt, fn: func(c *stmtCtx, _ []types.Datum) (types.Datum, error) {
			return types.NewInt(c.s.rowCount), nil
		}}, nil
	}
	def, ok := types.LookupBuiltin(name)
	if !ok {
		return nil, sqlerr.New(1305, "42000", "FUNCTION %s does not exist", strings.ToLower(name))
	}
	if err := def.CheckArity(len(args)); err != nil {
		return nil, err
	}
	return &funcExpr{name: name, args: args, t: builtinType(name, args), fn: func(c *stmtCtx, a []types.Datum) (types.Datum, error) {
		return def.Fn(&c.eval, a)
	}}, nil
}

// builtinType approximates a builtin's result type, for result metadata.
func builtinType(name string, args []expr) types.T {
	switch name {
	case "NOW", "CURRENT_TIMESTAMP", "SYSDATE", "LOCALTIME", "LOCALTIMESTAMP", "FROM_UNIXTIME", "DATE_ADD", "DATE_SUB", "ADDDATE", "SUBDATE", "STR_TO_DATE", "UTC_TIMESTAMP":
		return tDT
	case "CURDATE", "CURRENT_DATE", "DATE", "UTC_DATE":
		return tDate
	case "LENGTH", "CHAR_LENGTH", "CHARACTER_LENGTH", "INSTR", "LOCATE", "YEAR", "MONTH", "DAY", "DAYOFMONTH", "HOUR", "MINUTE", "SECOND", "DATEDIFF", "TIMESTAMPDIFF", "UNIX_TIMESTAMP", "CEIL", "CEILING", "FLOOR", "SIGN", "DAYOFWEEK", "DAYOFYEAR", "WEEKDAY", "QUARTER":
		return tBigInt
	case "ABS", "ROUND", "TRUNCATE", "MOD", "GREATEST", "LEAST", "IFNULL", "COALESCE", "NULLIF", "IF":
		for _, a := range args {
			if t := a.typ(); t.Kind != 0 {
				if name == "IF" {
					continue
				}
				return t
			}
		}
		if name == "IF" && len(args) == 3 {
			return args[1].typ()
		}
	case "POW", "POWER", "SQRT", "EXP", "LN", "LOG", "LOG2", "LOG10", "RAND", "PI", "SIN", "COS", "TAN":
		return tDouble
	}
	return tText
}

// variable compiles @@system and @user variables.
func (cp *compiler) variable(n *ast.VariableExpr) (expr, error) {
	name := strings.ToLower(n.Name)
	if !n.IsSystem {
		return &funcExpr{name: "@" + name, t: tText, fn: func(c *stmtCtx, _ []types.Datum) (types.Datum, error) {
			if v, ok := c.s.userVars[name]; ok {
				return v, nil
			}
			return types.Null(), nil
		}}, nil
	}
	return &funcExpr{name: "@@" + name, t: tText, fn: func(c *stmtCtx, _ []types.Datum) (types.Datum, error) {
		return c.s.sysVar(name, n.IsGlobal)
	}}, nil
}

// existsExpr: EXISTS (subquery).
type existsExpr struct{ sub *subplan }

func (e *existsExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	rows, err := e.sub.rows(c, row)
	if err != nil {
		return types.Datum{}, err
	}
	return boolDatum(len(rows) > 0), nil
}
func (e *existsExpr) typ() types.T { return tBigInt }

// scalarSubExpr: (SELECT one value).
type scalarSubExpr struct{ sub *subplan }

func (e *scalarSubExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	rows, err := e.sub.rows(c, row)
	if err != nil {
		return types.Datum{}, err
	}
	switch len(rows) {
	case 0:
		return types.Null(), nil
	case 1:
		return rows[0][0], nil
	}
	return types.Datum{}, sqlerr.New(1242, "21000", "Subquery returns more than 1 row")
}
func (e *scalarSubExpr) typ() types.T { return e.sub.cols[0].Type }

// quantExpr: x op ANY/ALL (subquery).
type quantExpr struct {
	op  opcode.Op
	all bool
	l   expr
	sub *subplan
}

func (e *quantExpr) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	v, err := e.l.eval(c, row)
	if err != nil {
		return v, err
	}
	rows, err := e.sub.rows(c, row)
	if err != nil {
		return types.Datum{}, err
	}
	if len(rows) == 0 {
		return boolDatum(e.all), nil
	}
	if v.IsNull() {
		return types.Null(), nil
	}
	sawNull := false
	for _, r := range rows {
		if r[0].IsNull() {
			sawNull = true
			continue
		}
		k, err := types.Compare(v, r[0])
		if err != nil {
			return types.Datum{}, err
		}
		h := cmpHolds(e.op, k)
		if e.all && !h {
			return dFalse, nil
		}
		if !e.all && h {
			return dTrue, nil
		}
	}
	if sawNull {
		return types.Null(), nil
	}
	return boolDatum(e.all), nil
}
func (e *quantExpr) typ() types.T { return tBigInt }

// subplan is a subquery. An uncorrelated one runs once per statement, on
// first use; a correlated one (it reads the outer row through outerRef)
// runs again for every outer row, with that row pushed on the statement's
// outer-row stack.
type subplan struct {
	q          *query
	cols       []Column
	correlated bool
	done       bool
	result     [][]types.Datum
}

func (p *subplan) rows(c *stmtCtx, outer []types.Datum) ([][]types.Datum, error) {
	if p.done {
		return p.result, nil
	}
	if p.correlated {
		c.outer = append(c.outer, outer)
		defer func() { c.outer = c.outer[:len(c.outer)-1] }()
	}
	it, err := p.q.open(c)
	if err != nil {
		return nil, err
	}
	defer it.close()
	var result [][]types.Datum
	for {
		r, err := it.next(c)
		if err != nil {
			return nil, err
		}
		if r == nil {
			break
		}
		result = append(result, r)
	}
	if !p.correlated {
		p.result, p.done = result, true
	}
	return result, nil
}

// outerRef reads a column of an enclosing query's current row.
type outerRef struct {
	up, i int
	t     types.T
}

func (e *outerRef) eval(c *stmtCtx, _ []types.Datum) (types.Datum, error) {
	if e.up > len(c.outer) {
		return types.Datum{}, sqlerr.NotSupported("this use of an outer column")
	}
	return c.outer[len(c.outer)-e.up][e.i], nil
}
func (e *outerRef) typ() types.T { return e.t }

func (cp *compiler) subquery(sc *scope, n ast.ResultSetNode) (*subplan, error) {
	before := cp.outerRefs
	q, err := cp.planQuery(n, sc)
	if err != nil {
		return nil, err
	}
	return &subplan{q: q, cols: q.columns(), correlated: cp.outerRefs > before}, nil
}

// evalBool evaluates a predicate: true only when known true.
func evalBool(c *stmtCtx, e expr, row []types.Datum) (bool, error) {
	d, err := e.eval(c, row)
	if err != nil {
		return false, err
	}
	v, known := truth(d)
	return known && v, nil
}
