package types

import (
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// decCtx does exact decimal arithmetic: its precision is far above MySQL's
// 65 digits, so intermediate results are exact and range checks happen on
// the result. Rounding is half away from zero, as MySQL rounds decimals.
var decCtx = apd.Context{
	Precision:   300,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps,
	Rounding:    apd.RoundHalfUp,
}

// truncCtx rounds toward zero (TRUNCATE, DIV).
var truncCtx = func() apd.Context { c := decCtx; c.Rounding = apd.RoundDown; return c }()

// roundDecimal returns x rounded half away from zero to scale fractional
// digits (a negative scale rounds to tens, hundreds...).
func roundDecimal(x *apd.Decimal, scale int32, ctx *apd.Context) *apd.Decimal {
	r := new(apd.Decimal)
	if _, err := ctx.Quantize(r, x, -scale); err != nil {
		// Quantize fails only beyond the context's precision, far outside
		// MySQL's range; keep x so that the caller's range check fires.
		return r.Set(x)
	}
	if scale < 0 {
		// Keep the integer exponent at 0 so the value prints as digits.
		_, _ = ctx.Quantize(r, r, 0)
	}
	return r
}

func decimalFromInt(v int64) *apd.Decimal { return apd.New(v, 0) }

func decimalFromUint(v uint64) *apd.Decimal {
	d := new(apd.Decimal)
	d.Coeff.SetUint64(v)
	return d
}

// decimalFromFloat converts f through its shortest decimal representation,
// as MySQL does.
func decimalFromFloat(f float64) *apd.Decimal {
	d, _, err := apd.NewFromString(strconv.FormatFloat(f, 'e', -1, 64))
	if err != nil {
		return new(apd.Decimal)
	}
	return d
}

// Bounds of the integer types, indexed by TypeKind.
func intBounds(t T) (lo int64, hi uint64) {
	var bits uint
	switch t.Kind {
	case TinyInt, Bool:
		bits = 8
	case SmallInt:
		bits = 16
	case MediumInt:
		bits = 24
	case Int:
		bits = 32
	default:
		bits = 64
	}
	if t.Unsigned {
		if bits == 64 {
			return 0, math.MaxUint64
		}
		return 0, 1<<bits - 1
	}
	return -1 << (bits - 1), 1<<(bits-1) - 1
}

var (
	decMinInt64  = decimalFromInt(math.MinInt64)
	decMaxInt64  = decimalFromInt(math.MaxInt64)
	decMaxUint64 = decimalFromUint(math.MaxUint64)
)

// decimalToInt converts an integral decimal to int64 or uint64; ok is false
// if it does not fit.
func decimalToInt(x *apd.Decimal) (v int64, ok bool) {
	if x.Cmp(decMinInt64) < 0 || x.Cmp(decMaxInt64) > 0 {
		return 0, false
	}
	v, err := x.Int64()
	return v, err == nil
}

func decimalToUint(x *apd.Decimal) (v uint64, ok bool) {
	if x.Sign() < 0 || x.Cmp(decMaxUint64) > 0 {
		return 0, false
	}
	var i apd.Decimal
	if _, err := decCtx.Quantize(&i, x, 0); err != nil {
		return 0, false
	}
	return i.Coeff.Uint64(), true
}

func decimalToFloat(x *apd.Decimal) float64 {
	f, err := x.Float64()
	if err != nil {
		f, _ = strconv.ParseFloat(x.Text('e'), 64)
	}
	return f
}

// timeNumber is a time in numeric context: YYYYMMDD for a date,
// YYYYMMDDHHMMSS for a datetime, with the fraction as decimals when fsp>0.
func timeNumber(d Datum) Datum {
	s := formatTime(d.i, d.sub, int(d.fsp))
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '.' {
			return r
		}
		return -1
	}, s)
	if d.fsp > 0 {
		v, _, _ := apd.NewFromString(digits)
		return newDecimalOwned(v)
	}
	v, _ := strconv.ParseInt(digits, 10, 64)
	return NewInt(v)
}

// numericValue turns d into a number for arithmetic and comparison: numbers
// stay as they are, times become timeNumber, strings become doubles (MySQL
// evaluates strings in arithmetic as DOUBLE). truncated reports a string
// that was not entirely a number.
func numericValue(d Datum) (n Datum, truncated bool) {
	switch d.kind {
	case KindInt, KindUint, KindFloat, KindDecimal:
		return d, false
	case KindTime:
		return timeNumber(d), false
	case KindString, KindBytes:
		f, tr := stringToFloat(d.s)
		return NewFloat(f), tr
	}
	return d, false
}

// stringToFloat reads s as a double with MySQL's prefix semantics.
func stringToFloat(s string) (float64, bool) {
	num, complete := numericPrefix(s, true)
	if num == "" {
		return 0, strings.TrimSpace(s) != ""
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil { // out of range: ParseFloat returned ±Inf
		if f > 0 {
			return math.MaxFloat64, true
		}
		return -math.MaxFloat64, true
	}
	return f, !complete
}

// stringToDecimal reads s as an exact decimal with prefix semantics;
// magnitudes beyond decimalAdjLimit are clamped (truncated).
func stringToDecimal(s string) (*apd.Decimal, bool) {
	num, complete := numericPrefix(s, true)
	if num == "" {
		return new(apd.Decimal), strings.TrimSpace(s) != ""
	}
	d, _, err := apd.NewFromString(num)
	if err != nil || d.Form != apd.Finite {
		return new(apd.Decimal), true
	}
	switch decimalBounds(d) {
	case 1:
		big := apd.New(1, decimalAdjLimit)
		big.Negative = d.Negative
		return big, true
	case -1:
		return new(apd.Decimal), true
	}
	return d, !complete
}

// decimalAdjLimit bounds decimals read from text or taken from clients: a
// magnitude of 10^decimalAdjLimit is beyond every DECIMAL's range and one
// of 10^-decimalAdjLimit rounds to zero at every scale. Bounding them keeps
// exact arithmetic from building numbers of a hundred thousand digits out
// of a string as short as '1e99999'.
const decimalAdjLimit = 2 * (MaxDecimalPrecision + MaxDecimalScale)

// decimalBounds is 1 if d's magnitude is at least 10^decimalAdjLimit, -1
// if it is nonzero and below 10^-decimalAdjLimit, else 0.
func decimalBounds(d *apd.Decimal) int {
	if d.IsZero() {
		return 0
	}
	adj := int64(d.Exponent) + d.NumDigits() - 1
	switch {
	case adj >= decimalAdjLimit:
		return 1
	case adj < -decimalAdjLimit:
		return -1
	}
	return 0
}
