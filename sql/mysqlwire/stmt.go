package mysqlwire

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/cockroachdb/errors"
)

// stmtState is what the wire layer keeps of a prepared statement: enough
// to decode COM_STMT_EXECUTE, whose parameter types are sent only when the
// client rebinds them, and the long data sent ahead of an execution.
type stmtState struct {
	id     uint32
	params int
	// types are the parameter types of the last execution that bound them
	// (the type byte, plus 0x8000 for unsigned); nil until one did.
	types []uint16
	// longData holds COM_STMT_SEND_LONG_DATA chunks per parameter; a
	// non-nil entry means the value is not in the execute packet.
	longData [][]byte
	// longDataErr is a long-data failure held for the next execution,
	// since COM_STMT_SEND_LONG_DATA has no answer.
	longDataErr error
}

func (st *stmtState) clearLongData() {
	clear(st.longData)
	st.longDataErr = nil
}

// errWrongArguments is ER_WRONG_ARGUMENTS for COM_STMT_EXECUTE.
func errWrongArguments() error {
	return NewError(ErrCodeWrongArguments, "HY000", "Incorrect arguments to mysqld_stmt_execute")
}

// addLongData appends a COM_STMT_SEND_LONG_DATA chunk, bounding a
// parameter's total to maxLen.
func (st *stmtState) addLongData(param int, data []byte, maxLen int) {
	switch {
	case st.longDataErr != nil:
	case param >= st.params:
		st.longDataErr = NewError(ErrCodeWrongArguments, "HY000", "Incorrect arguments to mysqld_stmt_send_long_data")
	case len(st.longData[param])+len(data) > maxLen:
		st.longDataErr = NewError(ErrCodeNetPacketTooLarge, "HY000",
			"Parameter of prepared statement which is set through mysql_send_long_data() is longer than 'max_allowed_packet' bytes")
		st.longData[param] = nil
	default:
		if st.longData[param] == nil {
			st.longData[param] = make([]byte, 0, len(data))
		}
		st.longData[param] = append(st.longData[param], data...)
	}
}

// decodeExecute decodes the part of a COM_STMT_EXECUTE packet after the
// statement id: flags, iteration count, NULL bitmap, the new-params-bound
// flag with the types, and the values. Types bound here are remembered for
// later executions that do not send them.
func (st *stmtState) decodeExecute(payload []byte) ([]any, error) {
	d := decoder{b: payload}
	d.uint8()  // cursor flags: results are always sent whole
	d.uint32() // iteration count: always 1
	if d.err != nil {
		return nil, d.err
	}
	if st.params == 0 {
		return nil, nil
	}
	nulls := d.bytes((st.params + 7) / 8)
	if d.uint8() == 1 {
		raw := d.bytes(2 * st.params)
		if d.err != nil {
			return nil, d.err
		}
		st.types = make([]uint16, st.params)
		for i := range st.types {
			st.types[i] = binary.LittleEndian.Uint16(raw[2*i:])
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if st.types == nil {
		return nil, errWrongArguments()
	}
	params := make([]any, st.params)
	for i := range params {
		typ, unsigned := byte(st.types[i]), st.types[i]&0x8000 != 0
		switch {
		case nulls[i/8]&(1<<(i%8)) != 0:
			params[i] = nil
		case st.longData[i] != nil:
			if classOf(typ) == classString && !isTextType(typ) {
				params[i] = st.longData[i]
			} else {
				params[i] = string(st.longData[i])
			}
		default:
			v, err := decodeParam(&d, typ, unsigned)
			if err != nil {
				return nil, err
			}
			params[i] = v
		}
	}
	return params, nil
}

// decodeParam decodes one binary-protocol parameter value.
func decodeParam(d *decoder, typ byte, unsigned bool) (any, error) {
	var v any
	switch typ {
	case TypeNull:
		return nil, nil
	case TypeTiny:
		v = intParam(uint64(d.uint8()), 8, unsigned)
	case TypeShort, TypeYear:
		v = intParam(uint64(d.uint16()), 16, unsigned)
	case TypeLong, TypeInt24:
		v = intParam(uint64(d.uint32()), 32, unsigned)
	case TypeLongLong:
		v = intParam(d.uint64(), 64, unsigned)
	case TypeFloat:
		v = float64(math.Float32frombits(d.uint32()))
	case TypeDouble:
		v = math.Float64frombits(d.uint64())
	case TypeDate, TypeNewDate, TypeDatetime, TypeTimestamp:
		return decodeDateParam(d)
	case TypeTime:
		return decodeTimeParam(d)
	case TypeDecimal, TypeNewDecimal, TypeVarchar, TypeVarString, TypeString, TypeEnum, TypeSet, TypeJSON:
		v = string(d.lenEncBytes())
	case TypeTinyBlob, TypeMediumBlob, TypeLongBlob, TypeBlob, TypeBit, TypeGeometry:
		v = append([]byte{}, d.lenEncBytes()...)
	default:
		return nil, errors.Newf("mysqlwire: unknown parameter type 0x%02x", typ)
	}
	return v, d.err
}

// intParam sign-extends a signed value of the given width, or returns an
// unsigned one as uint64.
func intParam(bits uint64, width uint, unsigned bool) any {
	if unsigned {
		return bits
	}
	shift := 64 - width
	return int64(bits<<shift) >> shift
}

// decodeDateParam reads a DATE/DATETIME/TIMESTAMP: a length byte (0, 4, 7
// or 11), then year, month, day, hour, minute, second, microseconds. The
// all-zero date is time.Time{}; other dates must be valid.
func decodeDateParam(d *decoder) (any, error) {
	n := d.uint8()
	if n != 0 && n != 4 && n != 7 && n != 11 {
		d.fail()
	}
	var year, month, day, hour, minute, second, us int
	if n >= 4 {
		year, month, day = int(d.uint16()), int(d.uint8()), int(d.uint8())
	}
	if n >= 7 {
		hour, minute, second = int(d.uint8()), int(d.uint8()), int(d.uint8())
	}
	if n == 11 {
		us = int(d.uint32())
	}
	if d.err != nil {
		return nil, d.err
	}
	if year == 0 && month == 0 && day == 0 && hour == 0 && minute == 0 && second == 0 && us == 0 {
		return time.Time{}, nil
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, us*1000, time.UTC)
	if hour > 23 || minute > 59 || second > 59 || us > 999999 ||
		t.Year() != year || int(t.Month()) != month || t.Day() != day {
		return nil, NewError(ErrCodeWrongArguments, "HY000", "Incorrect datetime value in mysqld_stmt_execute")
	}
	return t, nil
}

// decodeTimeParam reads a TIME: a length byte (0, 8 or 12), then sign,
// days, hours, minutes, seconds, microseconds.
func decodeTimeParam(d *decoder) (any, error) {
	n := d.uint8()
	if n != 0 && n != 8 && n != 12 {
		d.fail()
	}
	var neg bool
	var days uint32
	var hour, minute, second, us int
	if n >= 8 {
		neg = d.uint8() == 1
		days = d.uint32()
		hour, minute, second = int(d.uint8()), int(d.uint8()), int(d.uint8())
	}
	if n == 12 {
		us = int(d.uint32())
	}
	if d.err != nil {
		return nil, d.err
	}
	if days > 34 || hour > 23 || minute > 59 || second > 59 || us > 999999 {
		return nil, NewError(ErrCodeWrongArguments, "HY000", "Incorrect time value in mysqld_stmt_execute")
	}
	v := time.Duration(days)*24*time.Hour + time.Duration(hour)*time.Hour +
		time.Duration(minute)*time.Minute + time.Duration(second)*time.Second + time.Duration(us)*time.Microsecond
	if neg {
		v = -v
	}
	return v, nil
}
