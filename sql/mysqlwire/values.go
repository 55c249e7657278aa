package mysqlwire

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"github.com/cockroachdb/errors"
)

// Row values reach the client in one of two encodings: text rows
// (COM_QUERY: every value a length-encoded string) and binary rows
// (COM_STMT_EXECUTE: a NULL bitmap, then each value in its column type's
// fixed binary form). Both start from the same conversion of a Go value to
// the column's type, so a session sees the same errors either way and a
// client reads the same values.

// typeClass groups column types by how their values are encoded.
type typeClass uint8

const (
	classString typeClass = iota // length-encoded bytes in both encodings
	classInt
	classFloat
	classDecimal
	classDate // DATE, DATETIME, TIMESTAMP
	classTime // TIME
	classNull
)

func classOf(t byte) typeClass {
	switch t {
	case TypeTiny, TypeShort, TypeInt24, TypeLong, TypeLongLong, TypeYear:
		return classInt
	case TypeFloat, TypeDouble:
		return classFloat
	case TypeDecimal, TypeNewDecimal:
		return classDecimal
	case TypeDate, TypeNewDate, TypeDatetime, TypeTimestamp:
		return classDate
	case TypeTime:
		return classTime
	case TypeNull:
		return classNull
	default:
		return classString
	}
}

// isTextType reports types whose default character set is utf8mb4 rather
// than binary.
func isTextType(t byte) bool {
	switch t {
	case TypeVarchar, TypeVarString, TypeString, TypeEnum, TypeSet, TypeJSON:
		return true
	}
	return false
}

// intBits is the width of an integer column's values.
func intBits(t byte) uint {
	switch t {
	case TypeTiny:
		return 8
	case TypeShort, TypeYear:
		return 16
	case TypeInt24:
		return 24
	case TypeLong:
		return 32
	default:
		return 64
	}
}

func conversionError(col *Column, v any) error {
	return errors.Newf("mysqlwire: column %q of type 0x%02x cannot carry a Go %T", col.Name, col.Type, v)
}

// asInt returns an integer value as its 64-bit two's complement pattern
// and whether it is unsigned.
func asInt(v any) (bits uint64, unsigned, ok bool) {
	switch v := v.(type) {
	case int64:
		return uint64(v), false, true
	case uint64:
		return v, true, true
	case int:
		return uint64(v), false, true
	case int32:
		return uint64(v), false, true
	case int16:
		return uint64(v), false, true
	case int8:
		return uint64(v), false, true
	case uint32:
		return uint64(v), true, true
	case uint16:
		return uint64(v), true, true
	case uint8:
		return uint64(v), true, true
	case uint:
		return uint64(v), true, true
	case bool:
		if v {
			return 1, false, true
		}
		return 0, false, true
	}
	return 0, false, false
}

// intForColumn converts v for an integer column and checks that it fits the
// column's width and signedness; the result's bit pattern is what both
// encodings send.
func intForColumn(col *Column, v any) (uint64, error) {
	bits, unsigned, ok := asInt(v)
	if !ok {
		return 0, conversionError(col, v)
	}
	width := intBits(col.Type)
	if col.Flags&FlagUnsigned != 0 {
		if (!unsigned && int64(bits) < 0) || (width < 64 && bits >= 1<<width) {
			return 0, errors.Newf("mysqlwire: column %q: %v out of range", col.Name, v)
		}
		return bits, nil
	}
	i := int64(bits)
	if (unsigned && bits > math.MaxInt64) || (width < 64 && (i < -(1<<(width-1)) || i >= 1<<(width-1))) {
		return 0, errors.Newf("mysqlwire: column %q: %v out of range", col.Name, v)
	}
	return bits, nil
}

func appendIntText(b []byte, col *Column, bits uint64) []byte {
	if col.Flags&FlagUnsigned != 0 {
		return strconv.AppendUint(b, bits, 10)
	}
	return strconv.AppendInt(b, int64(bits), 10)
}

func asFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	}
	if bits, unsigned, ok := asInt(v); ok {
		if unsigned {
			return float64(bits), true
		}
		return float64(int64(bits)), true
	}
	return 0, false
}

// appendFloatText formats like MySQL: plain digits for moderate
// magnitudes, an exponent without '+' or padding otherwise (1e21, 1e-7).
func appendFloatText(b []byte, f float64, bitSize int) []byte {
	if a := math.Abs(f); a == 0 || (a >= 1e-4 && a < 1e15) {
		return strconv.AppendFloat(b, f, 'f', -1, bitSize)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'e', -1, bitSize)
	// strconv writes e+21 / e-07; MySQL writes e21 / e-7.
	for i := start; i < len(b); i++ {
		if b[i] != 'e' {
			continue
		}
		j := i + 1
		neg := b[j] == '-'
		k := j + 1
		for k < len(b)-1 && b[k] == '0' {
			k++
		}
		if neg {
			j++ // keep the '-'
		}
		// Shift the digits left over the sign and zeros, in place: no
		// allocation per value on this per-row path.
		return append(b[:j], b[k:]...)
	}
	return b
}

// decimalText returns the text of a DECIMAL value: strings pass through
// (the session formats decimals), numbers are formatted at the column's
// scale.
func decimalText(b []byte, col *Column, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return append(b, v...), nil
	case []byte:
		return append(b, v...), nil
	case float64, float32:
		f, _ := asFloat(v)
		return strconv.AppendFloat(b, f, 'f', int(min(col.Decimals, 30)), 64), nil
	}
	if bits, unsigned, ok := asInt(v); ok {
		if unsigned {
			return strconv.AppendUint(b, bits, 10), nil
		}
		return strconv.AppendInt(b, int64(bits), 10), nil
	}
	return b, conversionError(col, v)
}

// stringText returns the bytes of a value for a string column.
func stringText(b []byte, col *Column, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return append(b, v...), nil
	case []byte:
		return append(b, v...), nil
	case float64:
		return appendFloatText(b, v, 64), nil
	case float32:
		return appendFloatText(b, float64(v), 32), nil
	}
	if bits, unsigned, ok := asInt(v); ok {
		if unsigned {
			return strconv.AppendUint(b, bits, 10), nil
		}
		return strconv.AppendInt(b, int64(bits), 10), nil
	}
	return b, conversionError(col, v)
}

// fracDigits is the number of fractional-second digits a temporal column
// shows (its Decimals, at most 6).
func fracDigits(col *Column) int { return int(min(col.Decimals, 6)) }

// truncMicros cuts microseconds to the column's fractional digits, so both
// encodings carry the same value.
func truncMicros(micros int, digits int) int {
	p := 1
	for range 6 - digits {
		p *= 10
	}
	return micros / p * p
}

func appendPadded(b []byte, v int, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendFrac(b []byte, micros, digits int) []byte {
	if digits == 0 {
		return b
	}
	var tmp [6]byte
	for i := 5; i >= 0; i-- {
		tmp[i] = byte('0' + micros%10)
		micros /= 10
	}
	return append(append(b, '.'), tmp[:digits]...)
}

func timeForColumn(col *Column, v any) (time.Time, error) {
	t, ok := v.(time.Time)
	if !ok {
		return t, conversionError(col, v)
	}
	if !t.IsZero() && (t.Year() < 0 || t.Year() > 9999) {
		return t, errors.Newf("mysqlwire: column %q: year of %v out of range", col.Name, t)
	}
	return t, nil
}

func appendDateText(b []byte, col *Column, t time.Time) []byte {
	withTime := col.Type == TypeDatetime || col.Type == TypeTimestamp
	digits := fracDigits(col)
	if t.IsZero() {
		b = append(b, "0000-00-00"...)
		if withTime {
			b = appendFrac(append(b, " 00:00:00"...), 0, digits)
		}
		return b
	}
	b = appendPadded(b, t.Year(), 4)
	b = appendPadded(append(b, '-'), int(t.Month()), 2)
	b = appendPadded(append(b, '-'), t.Day(), 2)
	if withTime {
		b = appendPadded(append(b, ' '), t.Hour(), 2)
		b = appendPadded(append(b, ':'), t.Minute(), 2)
		b = appendPadded(append(b, ':'), t.Second(), 2)
		b = appendFrac(b, t.Nanosecond()/1000, digits)
	}
	return b
}

// maxTime is TIME's range: ±838:59:59.999999.
const maxTime = 838*time.Hour + 59*time.Minute + 59*time.Second + 999999*time.Microsecond

func durationForColumn(col *Column, v any) (time.Duration, error) {
	d, ok := v.(time.Duration)
	if !ok {
		return 0, conversionError(col, v)
	}
	if d > maxTime || d < -maxTime {
		return 0, errors.Newf("mysqlwire: column %q: TIME %v out of range", col.Name, d)
	}
	return d, nil
}

// splitDuration splits a TIME value into sign, hours, minutes, seconds and
// microseconds (cut to the column's digits).
func splitDuration(d time.Duration, digits int) (neg bool, h, m, s, us int) {
	if d < 0 {
		neg, d = true, -d
	}
	us = truncMicros(int(d%time.Second/time.Microsecond), digits)
	total := int(d / time.Second)
	return neg, total / 3600, total / 60 % 60, total % 60, us
}

func appendTimeText(b []byte, col *Column, d time.Duration) []byte {
	digits := fracDigits(col)
	neg, h, m, s, us := splitDuration(d, digits)
	if neg {
		b = append(b, '-')
	}
	b = appendPadded(b, h, 2)
	b = appendPadded(append(b, ':'), m, 2)
	b = appendPadded(append(b, ':'), s, 2)
	return appendFrac(b, us, digits)
}

// appendTextValue appends one non-NULL value of a text row.
func appendTextValue(b []byte, col *Column, v any) ([]byte, error) {
	var tmp [64]byte
	var s []byte
	var err error
	switch classOf(col.Type) {
	case classInt:
		var bits uint64
		if bits, err = intForColumn(col, v); err == nil {
			s = appendIntText(tmp[:0], col, bits)
		}
	case classFloat:
		f, ok := asFloat(v)
		if !ok {
			return b, conversionError(col, v)
		}
		if col.Type == TypeFloat {
			s = appendFloatText(tmp[:0], float64(float32(f)), 32)
		} else {
			s = appendFloatText(tmp[:0], f, 64)
		}
	case classDecimal:
		if str, ok := v.(string); ok {
			return appendLenEncString(b, str), nil
		}
		s, err = decimalText(tmp[:0], col, v)
	case classDate:
		var t time.Time
		if t, err = timeForColumn(col, v); err == nil {
			s = appendDateText(tmp[:0], col, t)
		}
	case classTime:
		var d time.Duration
		if d, err = durationForColumn(col, v); err == nil {
			s = appendTimeText(tmp[:0], col, d)
		}
	case classNull:
		return b, conversionError(col, v)
	default:
		switch v := v.(type) {
		case string:
			return appendLenEncString(b, v), nil
		case []byte:
			return appendLenEncBytes(b, v), nil
		}
		s, err = stringText(tmp[:0], col, v)
	}
	if err != nil {
		return b, err
	}
	return appendLenEncBytes(b, s), nil
}

func appendTextRow(b []byte, cols []Column, vals []any) ([]byte, error) {
	for i, v := range vals {
		if v == nil {
			b = append(b, iNULL)
			continue
		}
		var err error
		if b, err = appendTextValue(b, &cols[i], v); err != nil {
			return b, err
		}
	}
	return b, nil
}

// appendBinaryValue appends one non-NULL value of a binary row.
func appendBinaryValue(b []byte, col *Column, v any) ([]byte, error) {
	switch classOf(col.Type) {
	case classInt:
		bits, err := intForColumn(col, v)
		if err != nil {
			return b, err
		}
		switch col.Type {
		case TypeTiny:
			return append(b, byte(bits)), nil
		case TypeShort, TypeYear:
			return binary.LittleEndian.AppendUint16(b, uint16(bits)), nil
		case TypeInt24, TypeLong:
			return binary.LittleEndian.AppendUint32(b, uint32(bits)), nil
		default:
			return binary.LittleEndian.AppendUint64(b, bits), nil
		}
	case classFloat:
		f, ok := asFloat(v)
		if !ok {
			return b, conversionError(col, v)
		}
		if col.Type == TypeFloat {
			return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), nil
	case classDate:
		t, err := timeForColumn(col, v)
		if err != nil {
			return b, err
		}
		return appendBinaryDate(b, col, t), nil
	case classTime:
		d, err := durationForColumn(col, v)
		if err != nil {
			return b, err
		}
		return appendBinaryTime(b, col, d), nil
	default:
		// Strings and decimals are length-encoded text in both encodings.
		return appendTextValue(b, col, v)
	}
}

func appendBinaryDate(b []byte, col *Column, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	us := truncMicros(t.Nanosecond()/1000, fracDigits(col))
	var n byte = 4
	if col.Type == TypeDatetime || col.Type == TypeTimestamp {
		switch {
		case us != 0:
			n = 11
		case t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0:
			n = 7
		}
	}
	b = append(b, n)
	b = binary.LittleEndian.AppendUint16(b, uint16(t.Year()))
	b = append(b, byte(t.Month()), byte(t.Day()))
	if n >= 7 {
		b = append(b, byte(t.Hour()), byte(t.Minute()), byte(t.Second()))
	}
	if n == 11 {
		b = binary.LittleEndian.AppendUint32(b, uint32(us))
	}
	return b
}

func appendBinaryTime(b []byte, col *Column, d time.Duration) []byte {
	neg, h, m, s, us := splitDuration(d, fracDigits(col))
	if h == 0 && m == 0 && s == 0 && us == 0 {
		return append(b, 0)
	}
	n := byte(8)
	if us != 0 {
		n = 12
	}
	b = append(b, n)
	if neg {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(h/24))
	b = append(b, byte(h%24), byte(m), byte(s))
	if n == 12 {
		b = binary.LittleEndian.AppendUint32(b, uint32(us))
	}
	return b
}

func appendBinaryRow(b []byte, cols []Column, vals []any) ([]byte, error) {
	b = append(b, iOK)
	bitmap := len(b)
	for range (len(cols) + 7 + 2) / 8 {
		b = append(b, 0)
	}
	for i, v := range vals {
		if v == nil {
			// The binary row's NULL bitmap starts at bit 2.
			b[bitmap+(i+2)/8] |= 1 << ((i + 2) % 8)
			continue
		}
		var err error
		if b, err = appendBinaryValue(b, &cols[i], v); err != nil {
			return b, err
		}
	}
	return b, nil
}
