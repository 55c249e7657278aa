package types

import (
	"math"

	"github.com/cockroachdb/apd/v3"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// floatFn wraps a function of doubles; NaN or infinite results are NULL, as
// MySQL returns NULL for SQRT(-1), LN(0) and the like.
func floatFn(f func(float64) float64) Func {
	return func(_ *EvalContext, a []Datum) (Datum, error) {
		x, _ := ToFloat64(a[0])
		r := f(x)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return Null(), nil
		}
		return NewFloat(r), nil
	}
}

func registerMath() {
	register(names("ABS"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		n, _ := numericValue(a[0])
		switch n.kind {
		case KindInt:
			if n.i < 0 {
				return Neg(n)
			}
		case KindFloat:
			return NewFloat(math.Abs(n.Float())), nil
		case KindDecimal:
			return newDecimalOwned(new(apd.Decimal).Abs(n.dec)), nil
		}
		return n, nil
	})
	register(names("CEIL", "CEILING"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return integral(a[0], math.Ceil, apd.RoundCeiling), nil
	})
	register(names("FLOOR"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return integral(a[0], math.Floor, apd.RoundFloor), nil
	})
	register(names("ROUND"), 1, 2, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return roundTo(a, false), nil
	})
	register(names("TRUNCATE"), 2, 2, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return roundTo(a, true), nil
	})
	register(names("MOD"), 2, 2, false, func(_ *EvalContext, a []Datum) (Datum, error) {
		return Mod(a[0], a[1])
	})
	register(names("POW", "POWER"), 2, 2, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		x, _ := ToFloat64(a[0])
		y, _ := ToFloat64(a[1])
		r := math.Pow(x, y)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			if math.IsInf(r, 0) && !math.IsInf(x, 0) {
				return Datum{}, sqlerr.ValueOutOfRange("DOUBLE", "pow("+a[0].String()+","+a[1].String()+")")
			}
			return Null(), nil
		}
		return NewFloat(r), nil
	})
	register(names("SQRT"), 1, 1, true, floatFn(math.Sqrt))
	register(names("EXP"), 1, 1, true, floatFn(math.Exp))
	logFn := func(f func(float64) float64) func(float64) float64 {
		return func(x float64) float64 {
			if x <= 0 {
				return math.NaN()
			}
			return f(x)
		}
	}
	register(names("LN"), 1, 1, true, floatFn(logFn(math.Log)))
	register(names("LOG10"), 1, 1, true, floatFn(logFn(math.Log10)))
	register(names("LOG2"), 1, 1, true, floatFn(logFn(math.Log2)))
	register(names("LOG"), 1, 2, true, func(ctx *EvalContext, a []Datum) (Datum, error) {
		if len(a) == 1 {
			return floatFn(logFn(math.Log))(ctx, a)
		}
		b, _ := ToFloat64(a[0])
		x, _ := ToFloat64(a[1])
		if b <= 0 || b == 1 || x <= 0 {
			return Null(), nil
		}
		return NewFloat(math.Log(x) / math.Log(b)), nil
	})
	register(names("PI"), 0, 0, false, func(_ *EvalContext, _ []Datum) (Datum, error) {
		return NewFloat(math.Pi), nil
	})
	register(names("SIGN"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		c, err := Compare(a[0], NewInt(0))
		return NewInt(int64(c)), err
	})
}

// integral implements CEIL and FLOOR: integers pass through, doubles stay
// doubles, decimals become integers (BIGINT when they fit, as MySQL types
// CEIL of a DECIMAL).
func integral(d Datum, f func(float64) float64, mode apd.Rounder) Datum {
	n, _ := numericValue(d)
	switch n.kind {
	case KindFloat:
		return NewFloat(f(n.Float()))
	case KindDecimal:
		ctx := decCtx
		ctx.Rounding = mode
		r := roundDecimal(n.dec, 0, &ctx)
		if v, ok := decimalToInt(r); ok {
			return NewInt(v)
		}
		return newDecimalOwned(r)
	}
	return n
}

// roundTo implements ROUND(x[, d]) and TRUNCATE(x, d). Exact values round
// half away from zero and keep max(d, 0) decimals; doubles round half to
// even, as MySQL's ROUND of an approximate value does.
func roundTo(a []Datum, trunc bool) Datum {
	n, _ := numericValue(a[0])
	var places int64
	if len(a) > 1 {
		places, _ = ToInt64(a[1])
	}
	places = max(min(places, MaxDecimalScale), -MaxDecimalPrecision)
	switch n.kind {
	case KindFloat:
		x := n.Float()
		p := math.Pow(10, float64(places))
		var r float64
		if trunc {
			r = math.Trunc(x*p) / p
		} else {
			r = math.RoundToEven(x*p) / p
		}
		if math.IsNaN(r) || math.IsInf(r, 0) {
			r = x
		}
		return NewFloat(r)
	case KindInt, KindUint:
		if places >= 0 {
			return n
		}
	}
	ctx := &decCtx
	if trunc {
		ctx = &truncCtx
	}
	r := roundDecimal(exactDecimal(n), int32(places), ctx)
	if n.kind == KindInt || n.kind == KindUint {
		if v, ok := decimalToInt(r); ok && n.kind == KindInt {
			return NewInt(v)
		}
		if u, ok := decimalToUint(r); ok && n.kind == KindUint {
			return NewUint(u)
		}
	}
	return newDecimalOwned(r)
}
