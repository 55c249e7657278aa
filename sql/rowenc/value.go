package rowenc

import (
	"encoding/binary"
	"math"

	"github.com/cockroachdb/errors"

	"github.com/meridiandb/meridian/sql/types"
)

// EncodeValue appends a self-describing encoding of d (its kind, then its
// value): for computed values whose column type is not at hand — sort
// spills and pushed-down filter constants. It preserves kind and value
// exactly (float32-ness, decimal digits, time kind and fsp).
func EncodeValue(b []byte, d types.Datum) []byte {
	k := d.Kind()
	b = append(b, byte(k))
	switch k {
	case types.KindInt:
		b = binary.AppendVarint(b, d.Int())
	case types.KindUint:
		b = binary.AppendUvarint(b, d.Uint())
	case types.KindFloat:
		f32 := byte(0)
		if d.IsFloat32() {
			f32 = 1
		}
		b = append(binary.BigEndian.AppendUint64(b, math.Float64bits(d.Float())), f32)
	case types.KindDecimal:
		b = appendLenBytes(b, []byte(d.Decimal().String()))
	case types.KindString:
		b = appendLenBytes(b, []byte(d.Str()))
	case types.KindBytes:
		b = appendLenBytes(b, d.Bytes())
	case types.KindTime:
		b = append(b, byte(d.TimeKind()), byte(d.Fsp()))
		b = binary.AppendVarint(b, d.UnixMicros())
	}
	return b
}

func appendLenBytes(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// corruptValue is built only on failure: an error records a stack trace,
// too dear for every value of a spill file.
func corruptValue() error {
	return errors.Mark(errors.New("rowenc: corrupt value"), ErrCorrupt)
}

// DecodeValue decodes one EncodeValue value and returns the rest.
func DecodeValue(b []byte) (types.Datum, []byte, error) {
	if len(b) == 0 {
		return types.Datum{}, nil, corruptValue()
	}
	kind := types.Kind(b[0])
	b = b[1:]
	lenBytes := func() ([]byte, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, false
		}
		s := b[k : k+int(l)]
		b = b[k+int(l):]
		return s, true
	}
	switch kind {
	case types.KindNull:
		return types.Null(), b, nil
	case types.KindInt:
		v, k := binary.Varint(b)
		if k <= 0 {
			return types.Datum{}, nil, corruptValue()
		}
		return types.NewInt(v), b[k:], nil
	case types.KindUint:
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return types.Datum{}, nil, corruptValue()
		}
		return types.NewUint(v), b[k:], nil
	case types.KindFloat:
		if len(b) < 9 {
			return types.Datum{}, nil, corruptValue()
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(b))
		if b[8] == 1 {
			return types.NewFloat32(float32(f)), b[9:], nil
		}
		return types.NewFloat(f), b[9:], nil
	case types.KindDecimal:
		s, ok := lenBytes()
		if !ok {
			return types.Datum{}, nil, corruptValue()
		}
		d, err := types.ParseDecimal(string(s))
		if err != nil {
			return types.Datum{}, nil, corruptValue()
		}
		return d, b, nil
	case types.KindString:
		s, ok := lenBytes()
		if !ok {
			return types.Datum{}, nil, corruptValue()
		}
		return types.NewString(string(s)), b, nil
	case types.KindBytes:
		s, ok := lenBytes()
		if !ok {
			return types.Datum{}, nil, corruptValue()
		}
		return types.NewBytes(append([]byte(nil), s...)), b, nil
	case types.KindTime:
		if len(b) < 2 {
			return types.Datum{}, nil, corruptValue()
		}
		tk, fsp := types.TypeKind(b[0]), int(b[1])
		v, k := binary.Varint(b[2:])
		if k <= 0 {
			return types.Datum{}, nil, corruptValue()
		}
		d, ok := types.NewTimeMicros(tk, v, fsp)
		if !ok {
			return types.Datum{}, nil, corruptValue()
		}
		return d, b[2+k:], nil
	}
	return types.Datum{}, nil, corruptValue()
}
