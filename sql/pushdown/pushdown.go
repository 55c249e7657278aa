// Package pushdown carries row filters from the SQL engine to the groups
// that store the rows, so that a scan ships only the rows that can match
// (the "predicate pushdown to the groups").
//
// The engine builds a filter from the WHERE conjuncts it can express here
// (comparisons of columns with constants, IS NULL, IN lists, LIKE, AND,
// OR, NOT) and encodes it with the table's column layout; the leader or
// replica serving the scan compiles it (cached by its bytes) and drops the
// rows it rejects. The semantics are the engine's: SQL three-valued logic
// with sql/types comparison, and a row passes only when the filter is
// known true. The engine re-checks every condition on the rows it gets, so
// a filter may only ever be weaker than the query, never stronger.
//
// The transaction layer only sees an opaque byte string and a function
// from row values to bool; server wires Compile in.
package pushdown

import (
	"encoding/binary"
	"strings"
	"sync"

	"github.com/cockroachdb/errors"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
)

// Op is a filter node's operator.
type Op byte

// The operators. Cmp* compare two operands; IsNull, In and Like test one.
const (
	OpCol Op = iota + 1
	OpConst
	OpAnd
	OpOr
	OpNot
	OpEQ
	OpNE
	OpLT
	OpLE
	OpGT
	OpGE
	OpIsNull
	OpIn
	OpLike
)

// Expr is a filter expression tree.
type Expr struct {
	Op    Op
	Col   int         // OpCol: position in the row
	Const types.Datum // OpConst
	Args  []*Expr
	// Esc is LIKE's escape character; CI makes it case-insensitive (ILIKE).
	Esc byte
	CI  bool
}

// Encode serializes a filter over rows with the given column layout.
func Encode(cols []rowenc.ColumnDesc, e *Expr) []byte {
	b := binary.AppendUvarint(nil, uint64(len(cols)))
	for _, c := range cols {
		b = binary.AppendUvarint(b, uint64(c.ID))
		b = append(b, byte(c.T.Kind))
		u := byte(0)
		if c.T.Unsigned {
			u = 1
		}
		b = append(b, u)
		b = binary.AppendVarint(b, int64(c.T.Length))
		b = binary.AppendVarint(b, int64(c.T.Precision))
		b = binary.AppendVarint(b, int64(c.T.Scale))
		b = rowenc.EncodeValue(b, c.Default)
	}
	return encodeExpr(b, e)
}

func encodeExpr(b []byte, e *Expr) []byte {
	b = append(b, byte(e.Op))
	switch e.Op {
	case OpCol:
		b = binary.AppendUvarint(b, uint64(e.Col))
	case OpConst:
		b = rowenc.EncodeValue(b, e.Const)
	default:
		if e.Op == OpLike {
			ci := byte(0)
			if e.CI {
				ci = 1
			}
			b = append(b, e.Esc, ci)
		}
		b = binary.AppendUvarint(b, uint64(len(e.Args)))
		for _, a := range e.Args {
			b = encodeExpr(b, a)
		}
	}
	return b
}

var errBad = errors.New("pushdown: malformed filter")

type decoder struct{ b []byte }

func (d *decoder) uvarint() (uint64, error) {
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		return 0, errBad
	}
	d.b = d.b[k:]
	return v, nil
}

func (d *decoder) varint() (int64, error) {
	v, k := binary.Varint(d.b)
	if k <= 0 {
		return 0, errBad
	}
	d.b = d.b[k:]
	return v, nil
}

func (d *decoder) byte() (byte, error) {
	if len(d.b) == 0 {
		return 0, errBad
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c, nil
}

func (d *decoder) value() (types.Datum, error) {
	v, rest, err := rowenc.DecodeValue(d.b)
	if err != nil {
		return v, errBad
	}
	d.b = rest
	return v, nil
}

func (d *decoder) expr(depth, ncols int) (*Expr, error) {
	if depth > 64 {
		return nil, errBad
	}
	op, err := d.byte()
	if err != nil {
		return nil, err
	}
	e := &Expr{Op: Op(op)}
	switch e.Op {
	case OpCol:
		c, err := d.uvarint()
		if err != nil || c >= uint64(ncols) {
			return nil, errBad
		}
		e.Col = int(c)
	case OpConst:
		if e.Const, err = d.value(); err != nil {
			return nil, err
		}
	case OpAnd, OpOr, OpNot, OpEQ, OpNE, OpLT, OpLE, OpGT, OpGE, OpIsNull, OpIn, OpLike:
		if e.Op == OpLike {
			if e.Esc, err = d.byte(); err != nil {
				return nil, err
			}
			ci, err := d.byte()
			if err != nil {
				return nil, err
			}
			e.CI = ci == 1
		}
		n, err := d.uvarint()
		if err != nil || n > uint64(len(d.b)) {
			return nil, errBad
		}
		for range n {
			a, err := d.expr(depth+1, ncols)
			if err != nil {
				return nil, err
			}
			e.Args = append(e.Args, a)
		}
		if !arityOK(e) {
			return nil, errBad
		}
	default:
		return nil, errBad
	}
	return e, nil
}

// arityOK checks a node's arguments: logic nodes take filters, the others
// take only columns and constants.
func arityOK(e *Expr) bool {
	switch e.Op {
	case OpNot, OpAnd, OpOr:
		for _, a := range e.Args {
			if a.Op == OpCol || a.Op == OpConst {
				return false
			}
		}
		return len(e.Args) == 1 || (e.Op != OpNot && len(e.Args) > 1)
	}
	for _, a := range e.Args {
		if a.Op != OpCol && a.Op != OpConst {
			return false
		}
	}
	switch e.Op {
	case OpIsNull:
		return len(e.Args) == 1
	case OpIn:
		return len(e.Args) >= 1
	}
	return len(e.Args) == 2
}

// Filter is a compiled filter over stored row values.
type Filter func(value []byte) (bool, error)

var cache sync.Map // string(spec) -> Filter

// Compile decodes a filter (cached by its bytes: one scan's chunks and a
// statement's repetitions share it).
func Compile(spec []byte) (Filter, error) {
	if f, ok := cache.Load(string(spec)); ok {
		return f.(Filter), nil
	}
	d := &decoder{b: spec}
	n, err := d.uvarint()
	if err != nil || n > uint64(len(spec)) {
		return nil, errBad
	}
	cols := make([]rowenc.ColumnDesc, n)
	for i := range cols {
		id, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		kind, err := d.byte()
		if err != nil {
			return nil, err
		}
		u, err := d.byte()
		if err != nil {
			return nil, err
		}
		var lps [3]int64
		for j := range lps {
			if lps[j], err = d.varint(); err != nil {
				return nil, err
			}
		}
		def, err := d.value()
		if err != nil {
			return nil, err
		}
		cols[i] = rowenc.ColumnDesc{ID: uint32(id), T: types.T{Kind: types.TypeKind(kind), Unsigned: u == 1,
			Length: int(lps[0]), Precision: int(lps[1]), Scale: int(lps[2])}, Default: def}
	}
	e, err := d.expr(0, len(cols))
	if err != nil {
		return nil, err
	}
	if e.Op == OpCol || e.Op == OpConst {
		return nil, errBad // a filter is a condition, not a value
	}
	if len(d.b) != 0 {
		return nil, errBad
	}
	f := Filter(func(value []byte) (bool, error) {
		row, err := rowenc.DecodeRow(value, cols)
		if err != nil {
			return false, err
		}
		v, known, err := eval(e, row)
		return known && v, err
	})
	if len(spec) < 4096 {
		cache.Store(string(spec), f)
	}
	return f, nil
}

// eval is three-valued: known is false for SQL NULL (unknown).
func eval(e *Expr, row []types.Datum) (val, known bool, err error) {
	switch e.Op {
	case OpAnd:
		allKnown := true
		for _, a := range e.Args {
			v, k, err := eval(a, row)
			if err != nil {
				return false, false, err
			}
			if k && !v {
				return false, true, nil
			}
			allKnown = allKnown && k
		}
		return true, allKnown, nil
	case OpOr:
		allKnown := true
		for _, a := range e.Args {
			v, k, err := eval(a, row)
			if err != nil {
				return false, false, err
			}
			if k && v {
				return true, true, nil
			}
			allKnown = allKnown && k
		}
		return false, allKnown, nil
	case OpNot:
		v, k, err := eval(e.Args[0], row)
		return !v, k, err
	case OpIsNull:
		return value(e.Args[0], row).IsNull(), true, nil
	case OpIn:
		x := value(e.Args[0], row)
		if x.IsNull() {
			return false, false, nil
		}
		sawNull := false
		for _, a := range e.Args[1:] {
			y := value(a, row)
			if y.IsNull() {
				sawNull = true
				continue
			}
			c, err := types.Compare(x, y)
			if err != nil {
				return false, false, err
			}
			if c == 0 {
				return true, true, nil
			}
		}
		return false, !sawNull, nil
	case OpLike:
		x, p := value(e.Args[0], row), value(e.Args[1], row)
		if x.IsNull() || p.IsNull() {
			return false, false, nil
		}
		s, pat := types.ToString(x), types.ToString(p)
		if e.CI {
			s, pat = strings.ToLower(s), strings.ToLower(pat)
		}
		return Like(s, pat, e.Esc), true, nil
	}
	x, y := value(e.Args[0], row), value(e.Args[1], row)
	if x.IsNull() || y.IsNull() {
		return false, false, nil
	}
	c, err := types.Compare(x, y)
	if err != nil {
		return false, false, err
	}
	switch e.Op {
	case OpEQ:
		return c == 0, true, nil
	case OpNE:
		return c != 0, true, nil
	case OpLT:
		return c < 0, true, nil
	case OpLE:
		return c <= 0, true, nil
	case OpGT:
		return c > 0, true, nil
	case OpGE:
		return c >= 0, true, nil
	}
	return false, false, errBad
}

func value(e *Expr, row []types.Datum) types.Datum {
	if e.Op == OpCol {
		return row[e.Col]
	}
	return e.Const
}

// Like matches s against a LIKE pattern (% any run, _ one character, esc
// quotes the next character), by runes. The engine uses it too, so both
// sides of a pushed-down LIKE agree.
func Like(s, pat string, esc byte) bool {
	sr, pr := []rune(s), []rune(pat)
	memo := map[[2]int]bool{}
	var m func(i, j int) bool
	m = func(i, j int) bool {
		key := [2]int{i, j}
		if v, ok := memo[key]; ok {
			return v
		}
		var res bool
		switch {
		case j == len(pr):
			res = i == len(sr)
		case pr[j] == '%':
			res = m(i, j+1) || (i < len(sr) && m(i+1, j))
		case pr[j] == '_':
			res = i < len(sr) && m(i+1, j+1)
		case pr[j] == rune(esc) && j+1 < len(pr):
			res = i < len(sr) && sr[i] == pr[j+1] && m(i+1, j+2)
		default:
			res = i < len(sr) && sr[i] == pr[j] && m(i+1, j+1)
		}
		memo[key] = res
		return res
	}
	return m(0, 0)
}
