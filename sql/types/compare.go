package types

import (
	"cmp"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/errors"
)

// Compare orders a and b and returns -1, 0 or +1, with MySQL's comparison
// semantics:
//   - numbers compare by value: integers, unsigned integers and decimals
//     exactly, anything involving a double as doubles;
//   - a number and a string compare as doubles (the string read with
//     MySQL's prefix rule: '12abc' is 12, 'abc' is 0);
//   - strings compare bytewise. Meridian's one collation is utf8mb4_bin
//     without trailing-space padding (the order of utf8mb4_0900_bin): code
//     point order, case-sensitive, 'a' < 'a '. Byte order is what the key
//     encoding preserves, so ORDER BY, indexes and = agree;
//   - times compare as instants; a time and a string compare as times when
//     the string reads as one (else as strings); a time and a number compare
//     as numbers (2024-01-02 is 20240102).
//
// NULL is not a value: SQL's three-valued logic (NULL = x is NULL) is the
// caller's to apply. Compare itself orders NULL before everything and equal
// to NULL, which is the order ORDER BY and the key encoding use.
func Compare(a, b Datum) (int, error) {
	if a.kind == KindNull || b.kind == KindNull {
		return cmp.Compare(boolInt(!a.IsNull()), boolInt(!b.IsNull())), nil
	}
	ca, cb := class(a.kind), class(b.kind)
	switch {
	case ca == classNumber && cb == classNumber:
		return compareNumbers(a, b), nil
	case ca == classString && cb == classString:
		return strings.Compare(a.s, b.s), nil
	case ca == classTime && cb == classTime:
		return cmp.Compare(a.i, b.i), nil
	case ca == classTime && cb == classString:
		return compareTimeString(a, b.s), nil
	case ca == classString && cb == classTime:
		return -compareTimeString(b, a.s), nil
	case ca == classInvalid || cb == classInvalid:
		return 0, errors.AssertionFailedf("types: compare %s with %s", a.kind, b.kind)
	}
	na, _ := numericValue(a)
	nb, _ := numericValue(b)
	return compareNumbers(na, nb), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type kindClass uint8

const (
	classInvalid kindClass = iota
	classNumber
	classString
	classTime
)

func class(k Kind) kindClass {
	switch k {
	case KindInt, KindUint, KindFloat, KindDecimal:
		return classNumber
	case KindString, KindBytes:
		return classString
	case KindTime:
		return classTime
	}
	return classInvalid
}

func compareTimeString(t Datum, s string) int {
	if p, ok := parseTime(s); ok {
		return cmp.Compare(t.i, p.micros)
	}
	return strings.Compare(t.String(), s)
}

// compareNumbers compares two numeric datums.
func compareNumbers(a, b Datum) int {
	switch {
	case a.kind == KindInt && b.kind == KindInt:
		return cmp.Compare(a.i, b.i)
	case a.kind == KindUint && b.kind == KindUint:
		return cmp.Compare(uint64(a.i), uint64(b.i))
	case a.kind == KindInt && b.kind == KindUint:
		if a.i < 0 {
			return -1
		}
		return cmp.Compare(uint64(a.i), uint64(b.i))
	case a.kind == KindUint && b.kind == KindInt:
		return -compareNumbers(b, a)
	case a.kind == KindFloat || b.kind == KindFloat:
		return cmp.Compare(toFloatNum(a), toFloatNum(b))
	}
	return exactDecimal(a).Cmp(exactDecimal(b))
}

// exactDecimal returns an integer or decimal datum as a decimal.
func exactDecimal(d Datum) *apd.Decimal {
	switch d.kind {
	case KindInt:
		return decimalFromInt(d.i)
	case KindUint:
		return decimalFromUint(uint64(d.i))
	case KindDecimal:
		return d.dec
	case KindFloat:
		return decimalFromFloat(d.Float())
	}
	return new(apd.Decimal)
}

// toFloatNum returns a numeric datum as a double.
func toFloatNum(d Datum) float64 {
	switch d.kind {
	case KindInt:
		return float64(d.i)
	case KindUint:
		return float64(uint64(d.i))
	case KindFloat:
		return d.Float()
	case KindDecimal:
		return decimalToFloat(d.dec)
	}
	return 0
}
