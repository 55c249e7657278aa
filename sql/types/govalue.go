package types

import (
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/errors"
)

// FromGo makes a Datum from a Go value as database/sql and the client
// protocols carry them: nil, bool (1/0, as MySQL's TRUE/FALSE), signed and
// unsigned integers, float32/float64, string, []byte, time.Time (a
// DATETIME(6)), *apd.Decimal and Datum itself.
func FromGo(v any) (Datum, error) {
	switch x := v.(type) {
	case nil:
		return Null(), nil
	case Datum:
		return x, nil
	case bool:
		if x {
			return NewInt(1), nil
		}
		return NewInt(0), nil
	case int:
		return NewInt(int64(x)), nil
	case int8:
		return NewInt(int64(x)), nil
	case int16:
		return NewInt(int64(x)), nil
	case int32:
		return NewInt(int64(x)), nil
	case int64:
		return NewInt(x), nil
	case uint:
		return NewUint(uint64(x)), nil
	case uint8:
		return NewUint(uint64(x)), nil
	case uint16:
		return NewUint(uint64(x)), nil
	case uint32:
		return NewUint(uint64(x)), nil
	case uint64:
		return NewUint(x), nil
	case float32:
		return NewFloat32(x), nil
	case float64:
		return NewFloat(x), nil
	case string:
		return NewString(x), nil
	case []byte:
		return NewBytes(x), nil
	case time.Time:
		return NewDateTime(x, MaxFsp), nil
	case *apd.Decimal:
		switch {
		case x.Form != apd.Finite:
			return Datum{}, errors.Newf("types: decimal %s is not a number", x)
		case decimalBounds(x) > 0:
			return Datum{}, errors.Newf("types: decimal %s is out of range", x)
		case decimalBounds(x) < 0:
			return NewDecimal(new(apd.Decimal)), nil
		}
		return NewDecimal(x), nil
	}
	return Datum{}, errors.Newf("types: no SQL value for Go type %T", v)
}

// GoValue returns d as a Go value: nil, int64, uint64, float64 (float32
// for a FLOAT column's value, so it prints as the column does), string,
// []byte (a copy), time.Time (UTC) or *apd.Decimal (a copy). Decimals stay
// exact; callers that want text use String.
func (d Datum) GoValue() any {
	switch d.kind {
	case KindInt:
		return d.i
	case KindUint:
		return uint64(d.i)
	case KindFloat:
		if d.sub == Float {
			return float32(d.Float())
		}
		return d.Float()
	case KindDecimal:
		return new(apd.Decimal).Set(d.dec)
	case KindString:
		return d.s
	case KindBytes:
		return []byte(d.s)
	case KindTime:
		return d.Time()
	}
	return nil
}
