package rowenc

import (
	"encoding/binary"
	"math"
	"slices"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/sql/types"
)

// rowFormat is the first byte of every row value; a new layout gets a new
// byte and readers keep decoding the old one.
const rowFormat byte = 1

// Value tags, 3 bits after each column id delta.
const (
	tagInt     = 1 // zigzag varint
	tagUint    = 2 // uvarint
	tagFloat   = 3 // 8 bytes, IEEE 754 big-endian
	tagDecimal = 4 // varint exponent, uvarint len<<1|negative, coefficient bytes
	tagBytes   = 5 // uvarint length, bytes
	tagTime    = 6 // varint microseconds since the Unix epoch
	tagBits    = 3
)

// ColumnDesc names a column to decode from a row value.
type ColumnDesc struct {
	// ID is the column's id, unique in its table and never reused.
	ID uint32
	// T is the column's type; stored values must have been converted to
	// it (types.ConvertColumn).
	T types.T
	// Default is what DecodeRow returns for a row written before the
	// column existed: the column's default when it was added (zero value:
	// NULL).
	Default types.Datum
}

// EncodeRow appends the row value holding vals[i] for column colIDs[i].
// colIDs must list every column the table has at write time, NULL ones
// included, without repeats: the largest id is recorded so that columns
// added later read as absent rather than NULL. Order does not matter.
func EncodeRow(buf []byte, colIDs []uint32, vals []types.Datum) []byte {
	if len(colIDs) != len(vals) {
		panic(errors.AssertionFailedf("rowenc: %d column ids for %d values", len(colIDs), len(vals)))
	}
	order := make([]int, len(colIDs))
	for i := range order {
		order[i] = i
	}
	if !slices.IsSortedFunc(order, func(a, b int) int { return int(colIDs[a]) - int(colIDs[b]) }) {
		slices.SortFunc(order, func(a, b int) int {
			if colIDs[a] < colIDs[b] {
				return -1
			}
			return 1
		})
	}
	var maxID uint32
	if len(order) > 0 {
		maxID = colIDs[order[len(order)-1]]
	}
	buf = append(buf, rowFormat)
	buf = binary.AppendUvarint(buf, uint64(maxID))
	var prev uint32
	for n, i := range order {
		id := colIDs[i]
		if n > 0 && id == colIDs[order[n-1]] {
			panic(errors.AssertionFailedf("rowenc: column id %d given twice", id))
		}
		d := vals[i]
		if d.IsNull() {
			continue
		}
		buf = binary.AppendUvarint(buf, uint64(id-prev)<<tagBits|uint64(valueTag(d)))
		prev = id
		buf = appendRowValue(buf, d)
	}
	return buf
}

func valueTag(d types.Datum) byte {
	switch d.Kind() {
	case types.KindInt:
		return tagInt
	case types.KindUint:
		return tagUint
	case types.KindFloat:
		return tagFloat
	case types.KindDecimal:
		return tagDecimal
	case types.KindString, types.KindBytes:
		return tagBytes
	case types.KindTime:
		return tagTime
	}
	panic(errors.AssertionFailedf("rowenc: no value tag for %v", d.Kind()))
}

func appendRowValue(buf []byte, d types.Datum) []byte {
	switch d.Kind() {
	case types.KindInt:
		return binary.AppendVarint(buf, d.Int())
	case types.KindUint:
		return binary.AppendUvarint(buf, d.Uint())
	case types.KindFloat:
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(d.Float()))
	case types.KindDecimal:
		x := d.Decimal()
		coeff := x.Coeff.Bytes()
		neg := uint64(0)
		if x.Negative {
			neg = 1
		}
		buf = binary.AppendVarint(buf, int64(x.Exponent))
		buf = binary.AppendUvarint(buf, uint64(len(coeff))<<1|neg)
		return append(buf, coeff...)
	case types.KindString, types.KindBytes:
		buf = binary.AppendUvarint(buf, uint64(len(d.Str())))
		return append(buf, d.Str()...)
	default: // types.KindTime
		return binary.AppendVarint(buf, d.UnixMicros())
	}
}

// DecodeRow decodes the columns cols (sorted by ID) from a row value.
// Columns the row does not have take their Default if they were added
// after the row was written, and NULL otherwise. Encoded columns not in
// cols (dropped ones, or ones the caller does not need) are skipped.
func DecodeRow(buf []byte, cols []ColumnDesc) ([]types.Datum, error) {
	vals := make([]types.Datum, len(cols))
	absent := make([]bool, len(cols))
	if err := DecodeRowInto(buf, cols, vals, absent); err != nil {
		return nil, err
	}
	for i, a := range absent {
		if a {
			vals[i] = cols[i].Default
		}
	}
	return vals, nil
}

// DecodeRowInto is DecodeRow without defaults, into caller-owned slices of
// len(cols): vals[i] is column i's value, NULL when it is absent, and
// absent[i] (absent may be nil) reports a column added after the row was
// written, whose value is the column default rather than NULL.
func DecodeRowInto(buf []byte, cols []ColumnDesc, vals []types.Datum, absent []bool) error {
	return decodeRowInto(buf, cols, vals, absent, false)
}

// DecodeRowSharing is DecodeRowInto, except that string and byte values
// share buf's memory instead of copying it, so buf must never change
// while they live. Scanned rows are decoded this way: their buffers are
// the transaction layer's own copies, which nothing writes again, and the
// copies of the strings were a tenth of a busy node's allocations.
func DecodeRowSharing(buf []byte, cols []ColumnDesc, vals []types.Datum, absent []bool) error {
	return decodeRowInto(buf, cols, vals, absent, true)
}

func decodeRowInto(buf []byte, cols []ColumnDesc, vals []types.Datum, absent []bool, share bool) error {
	if len(vals) != len(cols) || (absent != nil && len(absent) != len(cols)) {
		return errors.AssertionFailedf("rowenc: %d columns, %d values, %d absent flags", len(cols), len(vals), len(absent))
	}
	if len(buf) == 0 || buf[0] != rowFormat {
		return corruptf("row value has unknown format")
	}
	maxID, n := binary.Uvarint(buf[1:])
	if n <= 0 || maxID > math.MaxUint32 {
		return corruptf("row value: bad header")
	}
	buf = buf[1+n:]
	for c := 1; c < len(cols); c++ {
		if cols[c].ID <= cols[c-1].ID {
			return errors.AssertionFailedf("rowenc: columns not sorted by id")
		}
	}
	c := 0
	fill := func(upTo uint64) { // columns below the next encoded id have no value
		for ; c < len(cols) && uint64(cols[c].ID) < upTo; c++ {
			vals[c] = types.Null()
			if absent != nil {
				absent[c] = uint64(cols[c].ID) > maxID
			}
		}
	}
	var id uint64
	for first := true; len(buf) > 0; first = false {
		h, n := binary.Uvarint(buf)
		if n <= 0 {
			return corruptf("row value: bad column header")
		}
		buf = buf[n:]
		delta, tag := h>>tagBits, byte(h&(1<<tagBits-1))
		if (delta == 0 && !first) || delta > maxID-id {
			return corruptf("row value: column ids out of order")
		}
		id += delta
		fill(id)
		if c < len(cols) && uint64(cols[c].ID) == id {
			var err error
			if vals[c], buf, err = decodeRowValue(buf, tag, cols[c].T, share); err != nil {
				return err
			}
			if absent != nil {
				absent[c] = false
			}
			c++
			continue
		}
		var err error
		if buf, err = skipRowValue(buf, tag); err != nil {
			return err
		}
	}
	fill(math.MaxUint32 + 1)
	return nil
}

// wantTag is the tag values of type t are stored with.
func wantTag(t types.T) byte {
	switch {
	case t.IsInteger() && t.Unsigned:
		return tagUint
	case t.IsInteger():
		return tagInt
	case t.Kind == types.Float || t.Kind == types.Double:
		return tagFloat
	case t.Kind == types.Decimal:
		return tagDecimal
	case t.IsString() || t.IsBinary():
		return tagBytes
	case t.IsTime():
		return tagTime
	}
	return 0
}

func decodeRowValue(buf []byte, tag byte, t types.T, share bool) (types.Datum, []byte, error) {
	if tag != wantTag(t) {
		return types.Datum{}, nil, corruptf("row value: tag %d for a %v column", tag, t)
	}
	switch tag {
	case tagInt:
		v, n := binary.Varint(buf)
		if n <= 0 {
			return types.Datum{}, nil, corruptf("row value: bad integer")
		}
		return types.NewInt(v), buf[n:], nil
	case tagUint:
		v, n := binary.Uvarint(buf)
		if n <= 0 {
			return types.Datum{}, nil, corruptf("row value: bad integer")
		}
		return types.NewUint(v), buf[n:], nil
	case tagFloat:
		if len(buf) < 8 {
			return types.Datum{}, nil, corruptf("row value: short float")
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(buf))
		if t.Kind == types.Float {
			return types.NewFloat32(float32(f)), buf[8:], nil
		}
		return types.NewFloat(f), buf[8:], nil
	case tagDecimal:
		return decodeRowDecimal(buf)
	case tagBytes:
		s, rest, err := rowBytes(buf)
		if err != nil {
			return types.Datum{}, nil, err
		}
		switch {
		case share && len(s) > 0:
			str := unsafe.String(&s[0], len(s))
			if t.IsString() {
				return types.NewString(str), rest, nil
			}
			return types.NewBytesString(str), rest, nil
		case t.IsString():
			return types.NewString(string(s)), rest, nil
		}
		return types.NewBytes(s), rest, nil
	default: // tagTime
		v, n := binary.Varint(buf)
		if n <= 0 {
			return types.Datum{}, nil, corruptf("row value: bad time")
		}
		d, ok := types.NewTimeMicros(t.Kind, v, t.Fsp())
		if !ok {
			return types.Datum{}, nil, corruptf("row value: time out of range")
		}
		return d, buf[n:], nil
	}
}

func rowBytes(buf []byte) (s, rest []byte, err error) {
	l, n := binary.Uvarint(buf)
	if n <= 0 || l > uint64(len(buf)-n) {
		return nil, nil, corruptf("row value: bad length")
	}
	return buf[n : n+int(l)], buf[n+int(l):], nil
}

func decodeRowDecimal(buf []byte) (types.Datum, []byte, error) {
	exp, n := binary.Varint(buf)
	if n <= 0 || exp < apd.MinExponent || exp > apd.MaxExponent {
		return types.Datum{}, nil, corruptf("row value: bad decimal exponent")
	}
	buf = buf[n:]
	h, n := binary.Uvarint(buf)
	if n <= 0 || h>>1 > uint64(len(buf)-n) {
		return types.Datum{}, nil, corruptf("row value: bad decimal")
	}
	l := int(h >> 1)
	x := new(apd.Decimal)
	x.Coeff.SetBytes(buf[n : n+l])
	x.Exponent = int32(exp)
	x.Negative = h&1 == 1
	return types.NewDecimal(x), buf[n+l:], nil
}

// skipRowValue steps over a value of a column the caller did not ask for.
func skipRowValue(buf []byte, tag byte) ([]byte, error) {
	switch tag {
	case tagInt, tagTime:
		if _, n := binary.Varint(buf); n > 0 {
			return buf[n:], nil
		}
	case tagUint:
		if _, n := binary.Uvarint(buf); n > 0 {
			return buf[n:], nil
		}
	case tagFloat:
		if len(buf) >= 8 {
			return buf[8:], nil
		}
	case tagDecimal:
		_, rest, err := decodeRowDecimal(buf)
		return rest, err
	case tagBytes:
		_, rest, err := rowBytes(buf)
		return rest, err
	}
	return nil, corruptf("row value: bad value with tag %d", tag)
}
