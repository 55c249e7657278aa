package pushdown

import (
	"testing"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
)

var testCols = []rowenc.ColumnDesc{
	{ID: 1, T: types.NewT(types.Int)},
	{ID: 2, T: types.T{Kind: types.VarChar, Length: 10}},
}

func col(i int) *Expr           { return &Expr{Op: OpCol, Col: i} }
func cst(d types.Datum) *Expr   { return &Expr{Op: OpConst, Const: d} }
func op(o Op, a ...*Expr) *Expr { return &Expr{Op: o, Args: a} }
func row(vals ...types.Datum) []byte {
	return rowenc.EncodeRow(nil, []uint32{1, 2}, vals)
}

// TestSemantics: three-valued logic as SQL has it; a row passes only when
// the filter is known true.
func TestSemantics(t *testing.T) {
	null, one, ab := types.Null(), types.NewInt(1), types.NewString("ab")
	for _, c := range []struct {
		name string
		e    *Expr
		row  []byte
		want bool
	}{
		{"eq", op(OpEQ, col(0), cst(one)), row(one, ab), true},
		{"eq null", op(OpEQ, col(0), cst(one)), row(null, ab), false},
		{"not of unknown stays unknown", op(OpNot, op(OpEQ, col(0), cst(one))), row(null, ab), false},
		{"or with unknown and true", op(OpOr, op(OpEQ, col(0), cst(one)), op(OpEQ, col(1), cst(ab))), row(null, ab), true},
		{"and with unknown and false", op(OpNot, op(OpAnd, op(OpEQ, col(0), cst(one)), op(OpEQ, col(1), cst(types.NewString("x"))))), row(null, ab), true},
		{"in with null candidate", op(OpNot, op(OpIn, col(0), cst(types.NewInt(2)), cst(null))), row(one, ab), false},
		{"is null", op(OpIsNull, col(0)), row(null, ab), true},
		{"like", &Expr{Op: OpLike, Args: []*Expr{col(1), cst(types.NewString("a%"))}, Esc: '\\'}, row(one, ab), true},
		{"ilike", &Expr{Op: OpLike, Args: []*Expr{col(1), cst(types.NewString("A_"))}, Esc: '\\', CI: true}, row(one, ab), true},
		{"numeric string compare", op(OpLT, col(1), cst(one)), row(one, types.NewString("0.5")), true},
	} {
		f, err := Compile(Encode(testCols, c.e))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := f(c.row)
		if err != nil || got != c.want {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.want)
		}
	}
}

// FuzzCompile: any bytes compile to a filter or an error, never a panic,
// and a compiled filter runs without panicking on any row bytes.
func FuzzCompile(f *testing.F) {
	f.Add(Encode(testCols, op(OpAnd, op(OpEQ, col(0), cst(types.NewInt(3))), op(OpIsNull, col(1)))), row(types.NewInt(3), types.Null()))
	f.Add([]byte{1, 1, 5, 0, 0, 0, 0, 0, 3, 1}, []byte{})
	f.Fuzz(func(t *testing.T, spec, value []byte) {
		if flt, err := Compile(spec); err == nil {
			flt(value)
		}
	})
}
