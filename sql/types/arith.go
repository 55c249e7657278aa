package types

import (
	"math"
	"math/bits"

	"github.com/cockroachdb/apd/v3"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// Arithmetic follows MySQL's result types: a double (or a string, which
// arithmetic reads as a double) makes the result DOUBLE; otherwise a
// decimal makes it DECIMAL; otherwise it is BIGINT, UNSIGNED if either
// operand is unsigned (so 1 - 2 with an unsigned operand is out of range,
// as without NO_UNSIGNED_SUBTRACTION). Times take part as numbers
// (20240102). NULL in gives NULL out. Overflow is error 1690.
//
// Division (/) is DECIMAL for exact operands, with the dividend's scale
// plus div_precision_increment (4) digits, at most 30. Division or modulo
// by zero yields NULL: this is MySQL's result when ERROR_FOR_DIVISION_BY_ZERO
// does not apply, and it always applies only to INSERT/UPDATE in strict
// mode; an executor that wants error 1365 there checks for a zero divisor
// itself (DivisionByZero reports it).

// DivPrecisionIncrement is MySQL's div_precision_increment default.
const DivPrecisionIncrement = 4

type arithOp uint8

const (
	opAdd arithOp = iota
	opSub
	opMul
	opDiv
	opIntDiv
	opMod
)

var opSyms = [...]string{" + ", " - ", " * ", " / ", " DIV ", " % "}

// Add returns a + b.
func Add(a, b Datum) (Datum, error) { return arith(opAdd, a, b) }

// Sub returns a - b.
func Sub(a, b Datum) (Datum, error) { return arith(opSub, a, b) }

// Mul returns a * b.
func Mul(a, b Datum) (Datum, error) { return arith(opMul, a, b) }

// Div returns a / b (NULL when b is zero).
func Div(a, b Datum) (Datum, error) { return arith(opDiv, a, b) }

// IntDiv returns a DIV b: the quotient truncated toward zero, as BIGINT
// (NULL when b is zero).
func IntDiv(a, b Datum) (Datum, error) { return arith(opIntDiv, a, b) }

// Mod returns a % b with the sign of a (NULL when b is zero).
func Mod(a, b Datum) (Datum, error) { return arith(opMod, a, b) }

// DivisionByZero reports whether b is a zero divisor for /, DIV and %.
func DivisionByZero(b Datum) bool {
	if b.IsNull() {
		return false
	}
	n, _ := numericValue(b)
	switch n.kind {
	case KindFloat:
		return n.Float() == 0
	case KindDecimal:
		return n.dec.IsZero()
	}
	return n.i == 0
}

// Neg returns -a.
func Neg(a Datum) (Datum, error) {
	if a.IsNull() {
		return a, nil
	}
	n, _ := numericValue(a)
	switch n.kind {
	case KindInt:
		if n.i == math.MinInt64 {
			return Datum{}, sqlerr.ValueOutOfRange("BIGINT", "-("+n.String()+")")
		}
		return NewInt(-n.i), nil
	case KindUint:
		u := uint64(n.i)
		if u > 1<<63 {
			return Datum{}, sqlerr.ValueOutOfRange("BIGINT", "-("+n.String()+")")
		}
		return NewInt(int64(-u)), nil
	case KindFloat:
		return NewFloat(-n.Float()), nil
	case KindDecimal:
		return newDecimalOwned(new(apd.Decimal).Neg(n.dec)), nil
	}
	return Null(), nil
}

func arith(op arithOp, a, b Datum) (Datum, error) {
	if a.IsNull() || b.IsNull() {
		return Null(), nil
	}
	na, _ := numericValue(a)
	nb, _ := numericValue(b)
	if (op == opDiv || op == opIntDiv || op == opMod) && DivisionByZero(nb) {
		return Null(), nil
	}
	switch {
	case na.kind == KindFloat || nb.kind == KindFloat:
		if op == opIntDiv {
			return intDivDecimal(na, nb)
		}
		return floatArith(op, toFloatNum(na), toFloatNum(nb))
	case na.kind == KindDecimal || nb.kind == KindDecimal || op == opDiv:
		if op == opIntDiv {
			return intDivDecimal(na, nb)
		}
		return decimalArith(op, na, nb)
	case na.kind == KindUint || nb.kind == KindUint:
		return uintArith(op, na, nb)
	}
	return intArith(op, na.i, nb.i)
}

func expr(op arithOp, a, b Datum) string { return "(" + a.String() + opSyms[op] + b.String() + ")" }

func intArith(op arithOp, x, y int64) (Datum, error) {
	var r int64
	ok := true
	switch op {
	case opAdd:
		r = x + y
		ok = (r > x) == (y > 0)
	case opSub:
		r = x - y
		ok = (r < x) == (y > 0)
	case opMul:
		if x != 0 && y != 0 {
			r = x * y
			ok = r/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64)
		}
	case opIntDiv:
		ok = !(x == math.MinInt64 && y == -1)
		r = x / y
	case opMod:
		r = x % y
	}
	if !ok {
		return Datum{}, sqlerr.ValueOutOfRange("BIGINT", expr(op, NewInt(x), NewInt(y)))
	}
	return NewInt(r), nil
}

// uintArith handles integer operands of which at least one is unsigned;
// the result is unsigned and must lie in [0, 2^64).
func uintArith(op arithOp, a, b Datum) (Datum, error) {
	oor := func() (Datum, error) {
		return Datum{}, sqlerr.ValueOutOfRange("BIGINT UNSIGNED", expr(op, a, b))
	}
	// Magnitudes and signs of both operands.
	mag := func(d Datum) (uint64, bool) {
		if d.kind == KindInt && d.i < 0 {
			return uint64(-d.i), true
		}
		return uint64(d.i), false
	}
	x, xneg := mag(a)
	y, yneg := mag(b)
	switch op {
	case opAdd, opSub:
		if op == opSub {
			yneg = !yneg
		}
		switch {
		case !xneg && !yneg:
			s, c := bits.Add64(x, y, 0)
			if c != 0 {
				return oor()
			}
			return NewUint(s), nil
		case xneg && yneg:
			if x == 0 && y == 0 {
				return NewUint(0), nil
			}
			return oor()
		case xneg: // y - x
			if x > y {
				return oor()
			}
			return NewUint(y - x), nil
		default: // x - y
			if y > x {
				return oor()
			}
			return NewUint(x - y), nil
		}
	case opMul:
		hi, lo := bits.Mul64(x, y)
		if hi != 0 || (xneg != yneg && lo != 0) {
			return oor()
		}
		return NewUint(lo), nil
	case opIntDiv:
		q := x / y
		if xneg != yneg && q != 0 {
			return oor()
		}
		return NewUint(q), nil
	default: // opMod: the sign of the dividend
		r := x % y
		if xneg && r != 0 {
			return NewInt(-int64(r)), nil
		}
		if a.kind == KindUint {
			return NewUint(r), nil
		}
		return NewInt(int64(r)), nil
	}
}

func floatArith(op arithOp, x, y float64) (Datum, error) {
	var r float64
	switch op {
	case opAdd:
		r = x + y
	case opSub:
		r = x - y
	case opMul:
		r = x * y
	case opDiv:
		r = x / y
	case opMod:
		r = math.Mod(x, y)
	}
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return Datum{}, sqlerr.ValueOutOfRange("DOUBLE", expr(op, NewFloat(x), NewFloat(y)))
	}
	return NewFloat(r), nil
}

// scaleOf is the number of fractional digits of an exact operand.
func scaleOf(d *apd.Decimal) int32 {
	if d.Exponent < 0 {
		return -d.Exponent
	}
	return 0
}

func decimalArith(op arithOp, a, b Datum) (Datum, error) {
	x, y := exactDecimal(a), exactDecimal(b)
	r := new(apd.Decimal)
	var err error
	switch op {
	case opAdd:
		_, err = decCtx.Add(r, x, y)
	case opSub:
		_, err = decCtx.Sub(r, x, y)
	case opMul:
		if _, err = decCtx.Mul(r, x, y); err == nil && scaleOf(r) > MaxDecimalScale {
			r = roundDecimal(r, MaxDecimalScale, &decCtx)
		}
	case opDiv:
		if _, err = decCtx.Quo(r, x, y); err == nil {
			r = roundDecimal(r, min(scaleOf(x)+DivPrecisionIncrement, MaxDecimalScale), &decCtx)
		}
	case opMod:
		_, err = decCtx.Rem(r, x, y)
	}
	if err != nil || r.Form != apd.Finite || r.NumDigits() > MaxDecimalPrecision+MaxDecimalScale ||
		r.NumDigits()+int64(r.Exponent) > MaxDecimalPrecision {
		return Datum{}, sqlerr.ValueOutOfRange("DECIMAL", expr(op, a, b))
	}
	return newDecimalOwned(r), nil
}

// intDivDecimal is DIV on non-integer operands: the truncated quotient of
// the exact values, which must fit BIGINT.
func intDivDecimal(a, b Datum) (Datum, error) {
	x, y := exactDecimal(a), exactDecimal(b)
	q := new(apd.Decimal)
	if _, err := truncCtx.QuoInteger(q, x, y); err == nil {
		if v, ok := decimalToInt(q); ok {
			return NewInt(v), nil
		}
		if u, ok := decimalToUint(q); ok {
			return NewUint(u), nil
		}
	}
	return Datum{}, sqlerr.ValueOutOfRange("BIGINT", expr(opIntDiv, a, b))
}
