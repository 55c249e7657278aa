package types

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// Kind is the kind of value a Datum holds.
type Kind uint8

// Datum kinds. KindNull is the zero value, so the zero Datum is NULL.
const (
	KindNull Kind = iota
	KindInt
	KindUint
	KindFloat
	KindDecimal
	KindString
	KindBytes
	KindTime
)

var kindNames = [...]string{"NULL", "INT", "UINT", "FLOAT", "DECIMAL", "STRING", "BYTES", "TIME"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Datum is one SQL value. It is a small struct passed and copied by value;
// nothing it points to is ever mutated after construction, so copies may
// share it freely. Compare Datums with Compare, not ==: equal decimals may
// be distinct pointers, and 1.5 equals 1.50. rowenc.EncodeKey gives a byte
// string that is equal exactly when values of one column type are, which
// suits hashing (GROUP BY, DISTINCT, joins).
//
// A time value is kept as microseconds since the Unix epoch in UTC (MySQL
// keeps at most microseconds), with the kind of column it belongs to (DATE,
// DATETIME, TIMESTAMP) and its fsp. Meridian sessions run in UTC, so a
// TIMESTAMP and a DATETIME with the same wall clock hold the same number.
type Datum struct {
	kind Kind
	// sub is Date, DateTime or Timestamp for KindTime, and Float for a
	// single-precision KindFloat (which renders with float32 precision).
	sub TypeKind
	fsp uint8
	// i holds KindInt, the bits of KindUint and KindFloat, and the
	// microseconds of KindTime.
	i   int64
	s   string       // KindString and KindBytes
	dec *apd.Decimal // KindDecimal; finite, never negative zero
}

// Null returns the NULL datum (the zero Datum).
func Null() Datum { return Datum{} }

// NewInt returns a signed integer datum.
func NewInt(v int64) Datum { return Datum{kind: KindInt, i: v} }

// NewUint returns an unsigned integer datum.
func NewUint(v uint64) Datum { return Datum{kind: KindUint, i: int64(v)} }

// NewFloat returns a double-precision datum. -0 is stored as 0 because SQL
// does not tell them apart and keys must not either.
func NewFloat(f float64) Datum {
	if f == 0 {
		f = 0
	}
	return Datum{kind: KindFloat, i: int64(math.Float64bits(f))}
}

// NewFloat32 returns a value of a FLOAT column: it renders with
// single-precision digits, as MySQL prints FLOAT columns.
func NewFloat32(f float32) Datum {
	d := NewFloat(float64(f))
	d.sub = Float
	return d
}

// NewDecimal returns a decimal datum holding a copy of v, which must be
// finite.
func NewDecimal(v *apd.Decimal) Datum {
	c := new(apd.Decimal).Set(v)
	if c.IsZero() {
		c.Negative = false
	}
	return Datum{kind: KindDecimal, dec: c}
}

// newDecimalOwned wraps v without copying; v must not be used afterwards.
func newDecimalOwned(v *apd.Decimal) Datum {
	if v.IsZero() {
		v.Negative = false
	}
	return Datum{kind: KindDecimal, dec: v}
}

// ParseDecimal parses an exact decimal number such as "-12.340" (the scale
// is kept). Anything else fails with error 1366.
func ParseDecimal(s string) (Datum, error) {
	num, complete := numericPrefix(s, true)
	if !complete || num == "" {
		return Datum{}, sqlerr.IncorrectValue("decimal", s, "", 0)
	}
	d, _, err := apd.NewFromString(num)
	if err != nil || d.Form != apd.Finite || decimalBounds(d) > 0 {
		return Datum{}, sqlerr.IncorrectValue("decimal", s, "", 0)
	}
	if decimalBounds(d) < 0 {
		d = new(apd.Decimal)
	}
	return newDecimalOwned(d), nil
}

// NewString returns a character string datum.
func NewString(s string) Datum { return Datum{kind: KindString, s: s} }

// NewBytes returns a byte string datum holding a copy of b.
func NewBytes(b []byte) Datum { return Datum{kind: KindBytes, s: string(b)} }

// NewBytesString returns a byte string datum holding the bytes of s,
// without a copy.
func NewBytesString(s string) Datum { return Datum{kind: KindBytes, s: s} }

// NewDate returns a DATE: the UTC calendar day of t. fsp is accepted for
// symmetry with NewDateTime and ignored: a DATE has no fraction.
func NewDate(t time.Time, fsp int) Datum {
	u := t.UTC()
	day := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	return Datum{kind: KindTime, sub: Date, i: day.UnixMicro()}
}

// NewDateTime returns a DATETIME(fsp) holding t in UTC, truncated to fsp
// fractional digits (Convert rounds; constructors take what they are given).
func NewDateTime(t time.Time, fsp int) Datum { return newTime(DateTime, t.UnixMicro(), fsp) }

// NewTimestamp returns a TIMESTAMP(fsp) holding t (see NewDateTime).
func NewTimestamp(t time.Time, fsp int) Datum { return newTime(Timestamp, t.UnixMicro(), fsp) }

// NewTimeMicros returns a time datum of kind k (Date, DateTime or
// Timestamp) from microseconds since the Unix epoch in UTC, as storage
// keeps it; ok is false if micros is outside the kind's range.
func NewTimeMicros(k TypeKind, micros int64, fsp int) (d Datum, ok bool) {
	lo, hi := minTimeMicros, maxTimeMicros
	if k == Timestamp {
		lo, hi = minTimestampMicros, maxTimestampMicros
	}
	if (k != Date && k != DateTime && k != Timestamp) || micros < lo || micros > hi {
		return Datum{}, false
	}
	return newTime(k, micros, fsp), true
}

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

func newTime(k TypeKind, micros int64, fsp int) Datum {
	fsp = max(0, min(fsp, MaxFsp))
	if k == Date {
		micros = floorDiv(micros, microsPerDay) * microsPerDay
		fsp = 0
	} else {
		unit := pow10[MaxFsp-fsp]
		micros = floorDiv(micros, unit) * unit
	}
	return Datum{kind: KindTime, sub: k, fsp: uint8(fsp), i: micros}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

const microsPerDay = 86400 * 1000000

// Detach returns d with its own copy of its bytes. Decoded rows' strings
// share the row's bytes (rowenc.DecodeRowSharing); a value kept past the
// statement that read it, such as a session variable, is detached so that
// it does not hold a whole buffer of rows.
func (d Datum) Detach() Datum {
	d.s = strings.Clone(d.s)
	return d
}

// IsNull reports whether d is NULL.
func (d Datum) IsNull() bool { return d.kind == KindNull }

// Kind returns the kind of value d holds.
func (d Datum) Kind() Kind { return d.kind }

// Int returns the value of a KindInt datum.
func (d Datum) Int() int64 { return d.i }

// Uint returns the value of a KindUint datum.
func (d Datum) Uint() uint64 { return uint64(d.i) }

// Float returns the value of a KindFloat datum.
func (d Datum) Float() float64 { return math.Float64frombits(uint64(d.i)) }

// IsFloat32 reports whether a KindFloat datum is a single-precision value.
func (d Datum) IsFloat32() bool { return d.kind == KindFloat && d.sub == Float }

// Decimal returns the value of a KindDecimal datum. The caller must not
// modify it.
func (d Datum) Decimal() *apd.Decimal { return d.dec }

// Str returns the value of a KindString datum, or the bytes of a KindBytes
// datum as a string.
func (d Datum) Str() string { return d.s }

// Bytes returns a copy of the value of a KindBytes (or KindString) datum.
func (d Datum) Bytes() []byte { return []byte(d.s) }

// Time returns the value of a KindTime datum, in UTC.
func (d Datum) Time() time.Time { return time.UnixMicro(d.i).UTC() }

// UnixMicros returns the value of a KindTime datum as microseconds since
// the Unix epoch.
func (d Datum) UnixMicros() int64 { return d.i }

// TimeKind returns Date, DateTime or Timestamp for a KindTime datum.
func (d Datum) TimeKind() TypeKind { return d.sub }

// Fsp returns the fractional seconds precision of a KindTime datum.
func (d Datum) Fsp() int { return int(d.fsp) }

// String renders d as MySQL's text protocol sends it: decimals with their
// scale, floats in their shortest form, times with fsp fractional digits.
// NULL renders as "NULL" (the protocol sends NULL out of band).
func (d Datum) String() string {
	switch d.kind {
	case KindNull:
		return "NULL"
	case KindInt:
		return strconv.FormatInt(d.i, 10)
	case KindUint:
		return strconv.FormatUint(uint64(d.i), 10)
	case KindFloat:
		bits := 64
		if d.sub == Float {
			bits = 32
		}
		return formatFloat(d.Float(), bits)
	case KindDecimal:
		return d.dec.Text('f')
	case KindString, KindBytes:
		return d.s
	case KindTime:
		return formatTime(d.i, d.sub, int(d.fsp))
	}
	return "?"
}

// formatFloat prints f as MySQL does: plain digits of the shortest
// round-tripping representation, and exponent form ("1e15", "1.5e-20")
// from 1e15 up and below 1e-15.
func formatFloat(f float64, bits int) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "0"
	}
	a := math.Abs(f)
	if bits == 32 {
		a = math.Abs(float64(float32(f)))
	}
	if a != 0 && (a >= 1e15 || a < 1e-15) {
		s := strconv.FormatFloat(f, 'e', -1, bits)
		mant, exp, _ := strings.Cut(s, "e")
		exp = strings.TrimPrefix(exp, "+")
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
		if neg {
			exp = "-" + exp
		}
		return mant + "e" + exp
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// formatTime renders micros as a MySQL DATE or DATETIME literal.
func formatTime(micros int64, k TypeKind, fsp int) string {
	t := time.UnixMicro(micros).UTC()
	b := make([]byte, 0, 26)
	b = appendInt(b, t.Year(), 4)
	b = append(b, '-')
	b = appendInt(b, int(t.Month()), 2)
	b = append(b, '-')
	b = appendInt(b, t.Day(), 2)
	if k == Date {
		return string(b)
	}
	b = append(b, ' ')
	b = appendInt(b, t.Hour(), 2)
	b = append(b, ':')
	b = appendInt(b, t.Minute(), 2)
	b = append(b, ':')
	b = appendInt(b, t.Second(), 2)
	if fsp > 0 {
		b = append(b, '.')
		b = appendInt(b, t.Nanosecond()/1000/int(pow10[MaxFsp-fsp]), fsp)
	}
	return string(b)
}

// appendInt appends v zero-padded to width digits.
func appendInt(b []byte, v, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
