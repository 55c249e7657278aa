package rowenc

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/sql/types"
)

// ErrCorrupt marks bytes that do not decode: a key or row value that this
// package did not write, or wrote for another column type.
var ErrCorrupt = errors.New("rowenc: corrupt encoding")

func corruptf(format string, args ...any) error {
	return errors.Mark(errors.Newf("rowenc: "+format, args...), ErrCorrupt)
}

// Value markers. Ordering within one column type is all that matters; the
// families get distinct markers so that a mismatched decode is caught.
const (
	markerNull      byte = 0x00
	markerFloat     byte = 0x30
	markerDecNeg    byte = 0x40
	markerDecZero   byte = 0x41
	markerDecPos    byte = 0x42
	markerBytes     byte = 0x50
	markerTime      byte = 0x60
	markerIntNegMin byte = 0x7f // negative, 8 bytes follow
	markerIntNegMax byte = 0x87 // negative, 0 bytes follow: -1
	markerIntZero   byte = 0x88 // non-negative, 0 bytes follow: 0
	markerIntPosMax byte = 0x90 // non-negative, 8 bytes follow
)

const (
	escByte   byte = 0x00
	escEsc    byte = 0xff // 0x00 in the value
	escTerm   byte = 0x01 // end of the value
	nibbleEnd      = 0    // end of a decimal's digits
)

// EncodeKey appends the order-preserving encoding of d to buf. With desc
// the encoding is complemented, so that the column sorts descending (NULL
// last). See the package comment for the format.
func EncodeKey(buf []byte, d types.Datum, desc bool) []byte {
	start := len(buf)
	switch d.Kind() {
	case types.KindNull:
		buf = append(buf, markerNull)
	case types.KindInt:
		buf = appendVarintKey(buf, d.Int())
	case types.KindUint:
		buf = appendUvarintKey(buf, d.Uint())
	case types.KindFloat:
		buf = appendFloatKey(append(buf, markerFloat), d.Float())
	case types.KindDecimal:
		buf = appendDecimalKey(buf, d.Decimal())
	case types.KindString, types.KindBytes:
		buf = appendBytesKey(append(buf, markerBytes), d.Str())
	case types.KindTime:
		buf = appendVarintKey(append(buf, markerTime), d.UnixMicros())
	}
	if desc {
		for i := start; i < len(buf); i++ {
			buf[i] = ^buf[i]
		}
	}
	return buf
}

// appendUvarintKey writes v as a marker holding its byte length n (0..8)
// and n big-endian bytes without leading zeros.
func appendUvarintKey(buf []byte, v uint64) []byte {
	n := (bits.Len64(v) + 7) / 8
	buf = append(buf, markerIntZero+byte(n))
	for i := n - 1; i >= 0; i-- {
		buf = append(buf, byte(v>>(8*i)))
	}
	return buf
}

// appendVarintKey writes non-negative v as appendUvarintKey does, and
// negative v as a marker below markerIntZero that falls with the length
// of ^v, followed by the complemented bytes of ^v: more negative values get
// smaller markers, and within a length smaller bytes.
func appendVarintKey(buf []byte, v int64) []byte {
	if v >= 0 {
		return appendUvarintKey(buf, uint64(v))
	}
	u := uint64(^v)
	n := (bits.Len64(u) + 7) / 8
	buf = append(buf, markerIntNegMax-byte(n))
	for i := n - 1; i >= 0; i-- {
		buf = append(buf, ^byte(u>>(8*i)))
	}
	return buf
}

func appendFloatKey(buf []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0 sorts and compares as 0
	}
	b := math.Float64bits(f)
	if b&(1<<63) != 0 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(buf, b)
}

// appendDecimalKey writes a sign marker; for nonzero values the encoding
// of |x| (complemented for negatives): the adjusted exponent (the power of
// ten of the leading digit) as a varint, then the significant digits as
// nibbles d+1, ended by a 0 nibble. A larger exponent means a larger
// magnitude; with equal exponents the digit strings compare as the values
// do, a shorter one first, which is what the end nibble gives.
func appendDecimalKey(buf []byte, x *apd.Decimal) []byte {
	if x.IsZero() {
		return append(buf, markerDecZero)
	}
	digits := x.Coeff.String()
	if x.Coeff.Sign() < 0 {
		digits = digits[1:]
	}
	adj := int64(x.Exponent) + int64(len(digits)) - 1
	digits = strings.TrimRight(digits, "0")
	marker := markerDecPos
	if x.Negative {
		marker = markerDecNeg
	}
	buf = append(buf, marker)
	start := len(buf)
	buf = appendVarintKey(buf, adj)
	for i := 0; i < len(digits); i += 2 {
		hi := digits[i] - '0' + 1
		lo := byte(nibbleEnd)
		if i+1 < len(digits) {
			lo = digits[i+1] - '0' + 1
		}
		buf = append(buf, hi<<4|lo)
	}
	if len(digits)%2 == 0 {
		buf = append(buf, nibbleEnd<<4|nibbleEnd)
	}
	if x.Negative {
		for i := start; i < len(buf); i++ {
			buf[i] = ^buf[i]
		}
	}
	return buf
}

func appendBytesKey(buf []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, escByte)
		if i < 0 {
			break
		}
		buf = append(buf, s[:i]...)
		buf = append(buf, escByte, escEsc)
		s = s[i+1:]
	}
	buf = append(buf, s...)
	return append(buf, escByte, escTerm)
}

// reader decodes a key, complementing every byte when the column is
// descending.
type reader struct {
	buf []byte
	xor byte
}

func (r *reader) byte() (byte, error) {
	if len(r.buf) == 0 {
		return 0, corruptf("key ends early")
	}
	c := r.buf[0] ^ r.xor
	r.buf = r.buf[1:]
	return c, nil
}

// uvarintBody reads the n bytes after an integer marker, complemented when
// neg, and rejects leading zero bytes so each value has one encoding.
func (r *reader) uvarintBody(n int, neg bool) (uint64, error) {
	if n > len(r.buf) {
		return 0, corruptf("key ends inside an integer")
	}
	var u uint64
	for i := 0; i < n; i++ {
		c := r.buf[i] ^ r.xor
		if neg {
			c = ^c
		}
		if i == 0 && c == 0 {
			return 0, corruptf("non-minimal integer in key")
		}
		u = u<<8 | uint64(c)
	}
	r.buf = r.buf[n:]
	return u, nil
}

// varint reads an integer written by appendVarintKey or appendUvarintKey;
// neg reports a negative value, whose magnitude-minus-one is returned.
func (r *reader) varint() (u uint64, neg bool, err error) {
	m, err := r.byte()
	if err != nil {
		return 0, false, err
	}
	switch {
	case m >= markerIntZero && m <= markerIntPosMax:
		u, err = r.uvarintBody(int(m-markerIntZero), false)
		return u, false, err
	case m >= markerIntNegMin && m <= markerIntNegMax:
		u, err = r.uvarintBody(int(markerIntNegMax-m), true)
		return u, true, err
	}
	return 0, false, corruptf("bad integer marker 0x%02x", m)
}

func (r *reader) int64() (int64, error) {
	u, neg, err := r.varint()
	switch {
	case err != nil:
		return 0, err
	case u > math.MaxInt64:
		return 0, corruptf("integer in key out of range")
	case neg:
		return ^int64(u), nil
	}
	return int64(u), nil
}

func (r *reader) bytes() (string, error) {
	var b []byte
	for i := 0; ; i++ {
		if i+1 >= len(r.buf) {
			return "", corruptf("unterminated string in key")
		}
		c := r.buf[i] ^ r.xor
		if c != escByte {
			b = append(b, c)
			continue
		}
		switch r.buf[i+1] ^ r.xor {
		case escEsc:
			b = append(b, escByte)
			i++
		case escTerm:
			r.buf = r.buf[i+2:]
			return string(b), nil
		default:
			return "", corruptf("bad escape in key string")
		}
	}
}

func (r *reader) decimal(neg bool) (*apd.Decimal, error) {
	if neg {
		r.xor = ^r.xor
		defer func() { r.xor = ^r.xor }()
	}
	adj, err := r.int64()
	if err != nil {
		return nil, err
	}
	var digits []byte
	for done := false; !done; {
		c, err := r.byte()
		if err != nil {
			return nil, err
		}
		for _, nib := range [2]byte{c >> 4, c & 15} {
			if nib == nibbleEnd {
				done = true
				break
			}
			if nib > 10 {
				return nil, corruptf("bad decimal digit in key")
			}
			digits = append(digits, '0'+nib-1)
		}
	}
	if len(digits) == 0 || digits[0] == '0' || digits[len(digits)-1] == '0' {
		return nil, corruptf("non-canonical decimal in key")
	}
	exp := adj - int64(len(digits)) + 1
	if exp < apd.MinExponent || exp > apd.MaxExponent || adj > apd.MaxExponent {
		return nil, corruptf("decimal exponent in key out of range")
	}
	d := new(apd.Decimal)
	d.Coeff.SetString(string(digits), 10)
	d.Exponent = int32(exp)
	d.Negative = neg
	return d, nil
}

// DecodeKey decodes one value of column type t written by EncodeKey with
// the same desc, and returns it with the bytes that follow it. Decimals
// come back at t's scale (1.5 in a DECIMAL(5,2) is 1.50).
func DecodeKey(buf []byte, t types.T, desc bool) (types.Datum, []byte, error) {
	r := reader{buf: buf}
	if desc {
		r.xor = 0xff
	}
	if len(r.buf) > 0 && r.buf[0]^r.xor == markerNull {
		return types.Null(), r.buf[1:], nil
	}
	d, err := decodeKeyValue(&r, t)
	if err != nil {
		return types.Datum{}, nil, err
	}
	return d, r.buf, nil
}

func decodeKeyValue(r *reader, t types.T) (types.Datum, error) {
	switch {
	case t.IsInteger():
		u, neg, err := r.varint()
		switch {
		case err != nil:
			return types.Datum{}, err
		case t.Unsigned && neg:
			return types.Datum{}, corruptf("negative value in an unsigned key column")
		case t.Unsigned:
			return types.NewUint(u), nil
		case u > math.MaxInt64:
			return types.Datum{}, corruptf("integer in key out of range")
		case neg:
			return types.NewInt(^int64(u)), nil
		}
		return types.NewInt(int64(u)), nil
	case t.Kind == types.Float || t.Kind == types.Double:
		if err := r.marker(markerFloat); err != nil {
			return types.Datum{}, err
		}
		if len(r.buf) < 8 {
			return types.Datum{}, corruptf("key ends inside a float")
		}
		b := binary.BigEndian.Uint64(r.buf) ^ (uint64(r.xor) * 0x0101010101010101)
		r.buf = r.buf[8:]
		if b&(1<<63) != 0 {
			b &^= 1 << 63
		} else {
			b = ^b
		}
		f := math.Float64frombits(b)
		if t.Kind == types.Float {
			return types.NewFloat32(float32(f)), nil
		}
		return types.NewFloat(f), nil
	case t.Kind == types.Decimal:
		return decodeDecimalKey(r, t)
	case t.IsString(), t.IsBinary():
		if err := r.marker(markerBytes); err != nil {
			return types.Datum{}, err
		}
		s, err := r.bytes()
		if err != nil {
			return types.Datum{}, err
		}
		if t.IsString() {
			return types.NewString(s), nil
		}
		return types.NewBytes([]byte(s)), nil
	case t.IsTime():
		if err := r.marker(markerTime); err != nil {
			return types.Datum{}, err
		}
		us, err := r.int64()
		if err != nil {
			return types.Datum{}, err
		}
		d, ok := types.NewTimeMicros(t.Kind, us, t.Fsp())
		if !ok {
			return types.Datum{}, corruptf("time in key out of range")
		}
		return d, nil
	}
	return types.Datum{}, errors.AssertionFailedf("rowenc: decode key of type %v", t)
}

func (r *reader) marker(want byte) error {
	m, err := r.byte()
	if err == nil && m != want {
		err = corruptf("marker 0x%02x, want 0x%02x", m, want)
	}
	return err
}

func decodeDecimalKey(r *reader, t types.T) (types.Datum, error) {
	m, err := r.byte()
	if err != nil {
		return types.Datum{}, err
	}
	var d *apd.Decimal
	switch m {
	case markerDecZero:
		d = apd.New(0, -int32(max(t.Scale, 0)))
		return types.NewDecimal(d), nil
	case markerDecPos, markerDecNeg:
		if d, err = r.decimal(m == markerDecNeg); err != nil {
			return types.Datum{}, err
		}
	default:
		return types.Datum{}, corruptf("bad decimal marker 0x%02x", m)
	}
	return types.NewDecimal(atScale(d, t.Scale)), nil
}

// atScale appends trailing zeros to d up to scale fractional digits, so a
// value reads back as the column shows it; it leaves alone values with
// more digits than that (they were never converted to the column).
func atScale(d *apd.Decimal, scale int) *apd.Decimal {
	pad := int64(d.Exponent) + int64(scale)
	if pad <= 0 || pad+d.NumDigits() > 2*types.MaxDecimalPrecision {
		return d
	}
	d.Coeff.SetString(d.Coeff.String()+strings.Repeat("0", int(pad)), 10)
	d.Exponent = -int32(scale)
	return d
}
