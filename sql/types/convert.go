package types

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// Convert converts d for assignment to a column of type t, as MySQL does in
// strict mode (STRICT_TRANS_TABLES, NO_ZERO_DATE, NO_ZERO_IN_DATE, which is
// the only mode Meridian has). Errors carry no column name; INSERT and
// UPDATE use ConvertColumn to get MySQL's "for column 'c' at row n".
func Convert(d Datum, t T) (Datum, error) { return ConvertColumn(d, t, "", 0) }

// ConvertColumn is Convert with the column name and 1-based row number that
// MySQL puts in its messages. The rules:
//   - NULL stays NULL (NOT NULL is the caller's: error 1048);
//   - integers: decimals round half away from zero, doubles half to even,
//     strings are read whole ('1.5' -> 2, '1e3' -> 1000); out of range is
//     1264, a string that is no number 1366, one with trailing garbage 1265;
//   - DECIMAL(M,D) rounds half away from zero to D digits; more than M-D
//     integer digits, or a negative value for UNSIGNED, is 1264;
//   - FLOAT is rounded to single precision, FLOAT(M,D)/DOUBLE(M,D) to D
//     digits; overflow is 1264;
//   - strings longer than the column are 1406, except that excess trailing
//     spaces are dropped silently; CHAR drops trailing spaces (as MySQL
//     does on retrieval), BINARY(n) pads with 0x00 to n bytes; bytes that
//     are not UTF-8 cannot become text (1366);
//   - dates and datetimes accept the literals parseTime reads and numbers
//     like 20240102; invalid or zero dates, and TIMESTAMPs outside
//     1970..2038, are 1292; fractional seconds round to the column's fsp, a
//     DATE drops the time of day.
func ConvertColumn(d Datum, t T, column string, row int) (Datum, error) {
	if d.IsNull() {
		return d, nil
	}
	switch {
	case t.IsInteger():
		return convertInt(d, t, column, row)
	case t.Kind == Decimal:
		return convertDecimal(d, t, column, row)
	case t.Kind == Float || t.Kind == Double:
		return convertFloat(d, t, column, row)
	case t.IsString():
		return convertString(d, t, column, row)
	case t.IsBinary():
		return convertBytes(d, t, column, row)
	case t.IsTime():
		return convertTime(d, t, column, row)
	}
	return Datum{}, errors.AssertionFailedf("types: convert to invalid type %v", t.Kind)
}

// assignNumber reads d as an exact number for assignment: strings must be a
// whole number (1366 if no digits, 1265 if trailing garbage).
func assignNumber(d Datum, kind, column string, row int) (Datum, error) {
	switch d.kind {
	case KindString, KindBytes:
		num, complete := numericPrefix(d.s, true)
		if num == "" {
			return Datum{}, sqlerr.IncorrectValue(kind, d.s, column, row)
		}
		if !complete {
			return Datum{}, sqlerr.DataTruncated(column, row)
		}
		v, _, err := apd.NewFromString(num)
		if err != nil || v.Form != apd.Finite || decimalBounds(v) > 0 {
			return Datum{}, sqlerr.OutOfRange(column, row)
		}
		if decimalBounds(v) < 0 {
			v = new(apd.Decimal) // below every scale: rounds to zero
		}
		return newDecimalOwned(v), nil
	case KindTime:
		return timeNumber(d), nil
	}
	return d, nil
}

func convertInt(d Datum, t T, column string, row int) (Datum, error) {
	n, err := assignNumber(d, "integer", column, row)
	if err != nil {
		return Datum{}, err
	}
	lo, hi := intBounds(t)
	var v int64
	var u uint64
	neg := false
	switch n.kind {
	case KindInt:
		v, u, neg = n.i, uint64(n.i), n.i < 0
	case KindUint:
		u = uint64(n.i)
		v = int64(u)
		if u > math.MaxInt64 {
			v = math.MaxInt64 // only compared against unsigned bounds below
		}
	case KindFloat:
		f := math.RoundToEven(n.Float())
		if f < float64(lo) || f >= float64(hi)+1 || math.IsNaN(f) {
			return Datum{}, sqlerr.OutOfRange(column, row)
		}
		if f < 0 {
			v, neg = int64(f), true
		} else {
			u = uint64(f)
			v = int64(min(u, math.MaxInt64))
		}
	case KindDecimal:
		r := roundDecimal(n.dec, 0, &decCtx)
		if r.Sign() < 0 {
			var ok bool
			if v, ok = decimalToInt(r); !ok {
				return Datum{}, sqlerr.OutOfRange(column, row)
			}
			neg = true
		} else {
			var ok bool
			if u, ok = decimalToUint(r); !ok {
				return Datum{}, sqlerr.OutOfRange(column, row)
			}
			v = int64(min(u, math.MaxInt64))
		}
	}
	if neg {
		if v < lo {
			return Datum{}, sqlerr.OutOfRange(column, row)
		}
		return NewInt(v), nil
	}
	if u > hi {
		return Datum{}, sqlerr.OutOfRange(column, row)
	}
	if t.Unsigned {
		return NewUint(u), nil
	}
	return NewInt(int64(u)), nil
}

func convertDecimal(d Datum, t T, column string, row int) (Datum, error) {
	n, err := assignNumber(d, "decimal", column, row)
	if err != nil {
		return Datum{}, err
	}
	r := roundDecimal(exactDecimal(n), int32(t.Scale), &decCtx)
	if r.Form != apd.Finite || (t.Unsigned && r.Sign() < 0) || !fitsDecimal(r, t.Precision, t.Scale) {
		return Datum{}, sqlerr.OutOfRange(column, row)
	}
	return newDecimalOwned(r), nil
}

// fitsDecimal reports whether r, already rounded to scale, has at most
// precision-scale integer digits.
func fitsDecimal(r *apd.Decimal, precision, scale int) bool {
	if r.IsZero() {
		return true
	}
	intDigits := r.NumDigits() + int64(r.Exponent)
	return intDigits <= int64(precision-scale)
}

func convertFloat(d Datum, t T, column string, row int) (Datum, error) {
	n, err := assignNumber(d, "double", column, row)
	if err != nil {
		return Datum{}, err
	}
	f := toFloatNum(n)
	if t.Precision > 0 && t.Scale >= 0 {
		// FLOAT(M,D) and DOUBLE(M,D) round to D digits and cap at M.
		r := roundDecimal(decimalFromFloat(f), int32(t.Scale), &decCtx)
		if !fitsDecimal(r, t.Precision, t.Scale) {
			return Datum{}, sqlerr.OutOfRange(column, row)
		}
		f = decimalToFloat(r)
	}
	if math.IsInf(f, 0) || math.IsNaN(f) || (t.Unsigned && f < 0) {
		return Datum{}, sqlerr.OutOfRange(column, row)
	}
	if t.Kind == Float {
		if math.Abs(f) > math.MaxFloat32 {
			return Datum{}, sqlerr.OutOfRange(column, row)
		}
		return NewFloat32(float32(f)), nil
	}
	return NewFloat(f), nil
}

func convertString(d Datum, t T, column string, row int) (Datum, error) {
	s := d.String()
	if d.kind == KindBytes && !utf8.ValidString(s) {
		return Datum{}, sqlerr.IncorrectValue("string", hexPrefix(s), column, row)
	}
	if t.Kind == Char {
		s = strings.TrimRight(s, " ")
	}
	if t.Length >= 0 {
		var n int
		if t.Kind == Text {
			n = len(s)
		} else {
			n = utf8.RuneCountInString(s)
		}
		if n > t.Length {
			trimmed, ok := trimExcessSpaces(s, n-t.Length)
			if !ok {
				return Datum{}, sqlerr.DataTooLong(column, row)
			}
			s = trimmed
		}
	}
	return NewString(s), nil
}

// trimExcessSpaces drops excess trailing spaces (counted in characters, or
// bytes: spaces are one byte either way) when that is all that is too long.
func trimExcessSpaces(s string, excess int) (string, bool) {
	if len(s) < excess || strings.TrimRight(s[len(s)-excess:], " ") != "" {
		return "", false
	}
	return s[:len(s)-excess], true
}

// hexPrefix renders invalid text as MySQL quotes it: \xFF\xFE...
func hexPrefix(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && i < 6; i++ {
		b.WriteString("\\x")
		b.WriteByte("0123456789ABCDEF"[s[i]>>4])
		b.WriteByte("0123456789ABCDEF"[s[i]&15])
	}
	if len(s) > 6 {
		b.WriteString("...")
	}
	return b.String()
}

func convertBytes(d Datum, t T, column string, row int) (Datum, error) {
	s := d.String()
	if t.Length >= 0 && len(s) > t.Length {
		return Datum{}, sqlerr.DataTooLong(column, row)
	}
	if t.Kind == Binary && len(s) < t.Length {
		s += strings.Repeat("\x00", t.Length-len(s))
	}
	return NewBytesString(s), nil
}

func convertTime(d Datum, t T, column string, row int) (Datum, error) {
	kind := "datetime"
	if t.Kind == Date {
		kind = "date"
	}
	var micros int64
	switch d.kind {
	case KindTime:
		micros = d.i
	default:
		p, ok := timeOf(d)
		if !ok {
			return Datum{}, sqlerr.IncorrectTimeValue(kind, d.String(), column, row)
		}
		micros = p.micros
	}
	if t.Kind == Date {
		return newTime(Date, micros, 0), nil
	}
	fsp := t.Fsp()
	micros = roundMicros(micros, fsp)
	lo, hi := minTimeMicros, maxTimeMicros
	if t.Kind == Timestamp {
		lo, hi = minTimestampMicros, maxTimestampMicros
	}
	if micros < lo || micros > hi {
		return Datum{}, sqlerr.IncorrectTimeValue(kind, d.String(), column, row)
	}
	return newTime(t.Kind, micros, fsp), nil
}

// timeOf reads a string or number as a date or datetime.
func timeOf(d Datum) (parsedTime, bool) {
	switch d.kind {
	case KindString, KindBytes:
		return parseTime(d.s)
	case KindInt:
		if d.i < 0 {
			return parsedTime{}, false
		}
		return timeFromNumber(uint64(d.i), "")
	case KindUint:
		return timeFromNumber(uint64(d.i), "")
	case KindFloat, KindDecimal:
		s := d.String()
		if d.kind == KindFloat {
			s = exactDecimal(d).Text('f')
		}
		ip, frac, _ := strings.Cut(s, ".")
		if !allDigits(ip) || ip == "" {
			return parsedTime{}, false
		}
		return parseDigitTime(ip, frac)
	case KindTime:
		return parsedTime{micros: d.i, dateOnly: d.sub == Date, fsp: int(d.fsp)}, true
	}
	return parsedTime{}, false
}
