package types

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
)

// The To* functions convert implicitly, as MySQL does when an expression
// needs a value of another type (non-strict: they never fail). truncated
// reports what MySQL would raise a warning for: a string that was not
// wholly a number ('12abc' -> 12), or a value clamped to the target's
// range. d must not be NULL; the caller applies NULL semantics first.

// ToInt64 converts d to a signed integer. Strings are read as MySQL reads
// them in integer context (digits only: '1.5' -> 1, '1e3' -> 1), decimals
// round half away from zero, doubles half to even, unsigned integers
// reinterpret their bits (CAST(18446744073709551615 AS SIGNED) is -1).
func ToInt64(d Datum) (v int64, truncated bool) {
	switch d.kind {
	case KindInt, KindUint:
		return d.i, false
	case KindFloat:
		return floatToInt64(d.Float())
	case KindDecimal:
		r := roundDecimal(d.dec, 0, &decCtx)
		if v, ok := decimalToInt(r); ok {
			return v, false
		}
		if r.Sign() < 0 {
			return math.MinInt64, true
		}
		return math.MaxInt64, true
	case KindString, KindBytes:
		num, complete := intPrefix(d.s)
		if num == "" {
			return 0, strings.TrimSpace(d.s) != ""
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			if strings.HasPrefix(num, "-") {
				return math.MinInt64, true
			}
			return math.MaxInt64, true
		}
		return v, !complete
	case KindTime:
		return ToInt64(timeNumber(d))
	}
	return 0, false
}

func floatToInt64(f float64) (int64, bool) {
	f = math.RoundToEven(f)
	switch {
	case math.IsNaN(f):
		return 0, true
	case f < math.MinInt64:
		return math.MinInt64, true
	case f >= math.MaxInt64:
		return math.MaxInt64, true
	}
	return int64(f), false
}

// ToUint64 converts d to an unsigned integer, as CAST(... AS UNSIGNED):
// negative integers wrap (-1 -> 18446744073709551615).
func ToUint64(d Datum) (v uint64, truncated bool) {
	switch d.kind {
	case KindInt, KindUint:
		return uint64(d.i), false
	case KindFloat:
		f := math.RoundToEven(d.Float())
		switch {
		case f < 0:
			i, tr := floatToInt64(f)
			return uint64(i), tr
		case f >= math.MaxUint64:
			return math.MaxUint64, true
		}
		return uint64(f), false
	case KindDecimal:
		r := roundDecimal(d.dec, 0, &decCtx)
		if r.Sign() < 0 {
			v, ok := decimalToInt(r)
			return uint64(v), !ok
		}
		if v, ok := decimalToUint(r); ok {
			return v, false
		}
		return math.MaxUint64, true
	case KindString, KindBytes:
		num, complete := intPrefix(d.s)
		if num == "" {
			return 0, strings.TrimSpace(d.s) != ""
		}
		if strings.HasPrefix(num, "-") {
			v, tr := ToInt64(d)
			return uint64(v), tr
		}
		v, err := strconv.ParseUint(strings.TrimPrefix(num, "+"), 10, 64)
		if err != nil {
			return math.MaxUint64, true
		}
		return v, !complete
	case KindTime:
		return ToUint64(timeNumber(d))
	}
	return 0, false
}

// ToFloat64 converts d to a double; strings are read with their numeric
// prefix ('1.5e3xyz' -> 1500, truncated).
func ToFloat64(d Datum) (v float64, truncated bool) {
	switch d.kind {
	case KindString, KindBytes:
		return stringToFloat(d.s)
	case KindTime:
		return toFloatNum(timeNumber(d)), false
	}
	return toFloatNum(d), false
}

// ToDecimal converts d to a decimal. The result is fresh and the caller's.
func ToDecimal(d Datum) (v *apd.Decimal, truncated bool) {
	switch d.kind {
	case KindString, KindBytes:
		return stringToDecimal(d.s)
	case KindTime:
		return new(apd.Decimal).Set(exactDecimal(timeNumber(d))), false
	case KindDecimal:
		return new(apd.Decimal).Set(d.dec), false
	}
	return exactDecimal(d), false
}

// ToString returns d as text, as MySQL renders it (Datum.String); NULL
// gives "".
func ToString(d Datum) string {
	if d.IsNull() {
		return ""
	}
	return d.String()
}

// ToBool is d's truth value in a condition: nonzero numbers are true,
// strings by their numeric prefix ('1abc' true, 'abc' false), times true.
func ToBool(d Datum) bool {
	switch d.kind {
	case KindInt, KindUint:
		return d.i != 0
	case KindFloat:
		return d.Float() != 0
	case KindDecimal:
		return !d.dec.IsZero()
	case KindString, KindBytes:
		f, _ := stringToFloat(d.s)
		return f != 0
	case KindTime:
		return true
	}
	return false
}

// Cast evaluates CAST(d AS t) in MySQL's non-strict expression semantics:
// t is SIGNED (BigInt), UNSIGNED (BigInt, Unsigned), DECIMAL(M,D), DOUBLE,
// FLOAT, CHAR[(N)] (VarChar, Length N or -1), BINARY[(N)] (VarBinary or
// Binary), DATE or DATETIME(fsp). Values that do not convert give NULL
// (dates) or the clamped or prefix value, with truncated set for the
// warning MySQL would raise.
func Cast(d Datum, t T) (v Datum, truncated bool) {
	if d.IsNull() {
		return d, false
	}
	switch {
	case t.IsInteger():
		if t.Unsigned {
			u, tr := ToUint64(d)
			return NewUint(u), tr
		}
		i, tr := ToInt64(d)
		return NewInt(i), tr
	case t.Kind == Decimal:
		x, tr := ToDecimal(d)
		return castDecimal(x, t, tr)
	case t.Kind == Float:
		f, tr := ToFloat64(d)
		return NewFloat32(float32(f)), tr
	case t.Kind == Double:
		f, tr := ToFloat64(d)
		return NewFloat(f), tr
	case t.IsString():
		s := ToString(d)
		if t.Length >= 0 && utf8.RuneCountInString(s) > t.Length {
			r := []rune(s)
			return NewString(string(r[:t.Length])), true
		}
		return NewString(s), false
	case t.IsBinary():
		s := ToString(d)
		tr := false
		if t.Length >= 0 && len(s) > t.Length {
			s, tr = s[:t.Length], true
		}
		if t.Kind == Binary && len(s) < t.Length {
			s += strings.Repeat("\x00", t.Length-len(s))
		}
		return NewBytesString(s), tr
	case t.IsTime():
		p, ok := timeOf(d)
		if !ok {
			return Null(), true
		}
		if t.Kind == Date {
			return newTime(Date, p.micros, 0), false
		}
		m := roundMicros(p.micros, t.Fsp())
		if m > maxTimeMicros {
			return Null(), true
		}
		return newTime(t.Kind, m, t.Fsp()), false
	}
	return Null(), true
}

// castDecimal rounds x to t's scale and clamps it to DECIMAL(M,D)'s range.
func castDecimal(x *apd.Decimal, t T, truncated bool) (Datum, bool) {
	r := roundDecimal(x, int32(t.Scale), &decCtx)
	if t.Unsigned && r.Sign() < 0 {
		return newDecimalOwned(new(apd.Decimal)), true
	}
	if !fitsDecimal(r, t.Precision, t.Scale) {
		// The largest value of DECIMAL(M,D): M nines, D of them decimals.
		m := new(apd.Decimal)
		m.Coeff.SetString(strings.Repeat("9", max(t.Precision, 1)), 10)
		m.Exponent = -int32(t.Scale)
		m.Negative = r.Sign() < 0
		return newDecimalOwned(m), true
	}
	return newDecimalOwned(r), truncated
}
