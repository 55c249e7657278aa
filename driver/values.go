package driver

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// checkNamedValue accepts the Go types encodeValue knows, widening
// integers; other types go through database/sql's default conversion.
func checkNamedValue(nv *driver.NamedValue) error {
	if nv.Name != "" {
		return fmt.Errorf("driver: named argument %q: Meridian takes positional ? arguments only", nv.Name)
	}
	switch v := nv.Value.(type) {
	case nil, int64, uint64, float64, float32, bool, string, []byte, time.Time:
	case int:
		nv.Value = int64(v)
	case int8:
		nv.Value = int64(v)
	case int16:
		nv.Value = int64(v)
	case int32:
		nv.Value = int64(v)
	case uint:
		nv.Value = uint64(v)
	case uint8:
		nv.Value = uint64(v)
	case uint16:
		nv.Value = uint64(v)
	case uint32:
		nv.Value = uint64(v)
	default:
		return driver.ErrSkip
	}
	return nil
}

func encodeArgs(args []driver.NamedValue) ([]*pb.SQLValue, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([]*pb.SQLValue, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, fmt.Errorf("driver: named argument %q: Meridian takes positional ? arguments only", a.Name)
		}
		v, err := encodeValue(a.Value)
		if err != nil {
			return nil, fmt.Errorf("driver: argument %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// encodeValue encodes an argument. A time.Time is a DATETIME in UTC
// (sessions run in UTC) with 6 fractional digits if it has a fraction and
// none otherwise, so that SELECT ? returns what was sent.
func encodeValue(v any) (*pb.SQLValue, error) {
	switch x := v.(type) {
	case nil:
		return &pb.SQLValue{}, nil
	case int64:
		return &pb.SQLValue{V: &pb.SQLValue_Int{Int: x}}, nil
	case uint64:
		return &pb.SQLValue{V: &pb.SQLValue_Uint{Uint: x}}, nil
	case float64:
		return &pb.SQLValue{V: &pb.SQLValue_Float{Float: x}}, nil
	case float32:
		return &pb.SQLValue{V: &pb.SQLValue_Float32{Float32: x}}, nil
	case bool:
		// MySQL has no booleans: TRUE is 1.
		var i int64
		if x {
			i = 1
		}
		return &pb.SQLValue{V: &pb.SQLValue_Int{Int: i}}, nil
	case string:
		return &pb.SQLValue{V: &pb.SQLValue_String_{String_: x}}, nil
	case []byte:
		if x == nil {
			return &pb.SQLValue{}, nil
		}
		return &pb.SQLValue{V: &pb.SQLValue_Bytes{Bytes: x}}, nil
	case time.Time:
		var fsp uint32
		if x.Nanosecond() != 0 {
			fsp = 6
		}
		return &pb.SQLValue{V: &pb.SQLValue_Time{Time: &pb.SQLTime{UnixMicros: x.UnixMicro(), Kind: pb.SQLTime_DATETIME, Fsp: fsp}}}, nil
	}
	return nil, fmt.Errorf("unsupported type %T", v)
}

// decodeValue returns a value as Next stores it.
func decodeValue(v *pb.SQLValue, text bool) driver.Value {
	switch x := v.GetV().(type) {
	case *pb.SQLValue_Int:
		return x.Int
	case *pb.SQLValue_Uint:
		return x.Uint
	case *pb.SQLValue_Float:
		if text {
			return floatText(x.Float, 64)
		}
		return x.Float
	case *pb.SQLValue_Float32:
		if text {
			return floatText(float64(x.Float32), 32)
		}
		// float32, not float64: a FLOAT column's 3.14 must not come
		// back as 3.140000104904175.
		return x.Float32
	case *pb.SQLValue_Decimal:
		return x.Decimal
	case *pb.SQLValue_String_:
		return x.String_
	case *pb.SQLValue_Bytes:
		if x.Bytes == nil {
			return []byte{}
		}
		return x.Bytes
	case *pb.SQLValue_Time:
		if text {
			return timeText(x.Time)
		}
		return time.UnixMicro(x.Time.UnixMicros).UTC()
	}
	return nil
}

// floatText renders a float as MySQL prints it (and sql/types renders
// it): the shortest digits that read back, in exponent form ("1e15",
// "1.5e-20") from 1e15 up and below 1e-15.
func floatText(f float64, bits int) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "0"
	}
	if a := math.Abs(f); a != 0 && (a >= 1e15 || a < 1e-15) {
		mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, bits), "e")
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
		if neg {
			exp = "-" + exp
		}
		return mant + "e" + exp
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// timeText renders a time value as MySQL prints it: a DATE as 2024-01-02,
// a DATETIME or TIMESTAMP with its fsp fractional digits.
func timeText(t *pb.SQLTime) string {
	tm := time.UnixMicro(t.UnixMicros).UTC()
	if t.Kind == pb.SQLTime_DATE {
		return tm.Format(time.DateOnly)
	}
	s := tm.Format(time.DateTime)
	if fsp := int(min(t.Fsp, 6)); fsp > 0 {
		frac := strconv.Itoa(1_000_000 + tm.Nanosecond()/1000)[1:]
		s += "." + frac[:fsp]
	}
	return s
}

var typeNames = map[pb.SQLType_Kind]string{
	pb.SQLType_NULL: "NULL", pb.SQLType_TINYINT: "TINYINT", pb.SQLType_SMALLINT: "SMALLINT",
	pb.SQLType_MEDIUMINT: "MEDIUMINT", pb.SQLType_INT: "INT", pb.SQLType_BIGINT: "BIGINT",
	pb.SQLType_DECIMAL: "DECIMAL", pb.SQLType_FLOAT: "FLOAT", pb.SQLType_DOUBLE: "DOUBLE",
	pb.SQLType_CHAR: "CHAR", pb.SQLType_VARCHAR: "VARCHAR", pb.SQLType_TEXT: "TEXT",
	pb.SQLType_BINARY: "BINARY", pb.SQLType_VARBINARY: "VARBINARY", pb.SQLType_BLOB: "BLOB",
	// BOOL is TINYINT(1), and MySQL reports it so.
	pb.SQLType_BOOL: "TINYINT", pb.SQLType_DATE: "DATE", pb.SQLType_DATETIME: "DATETIME",
	pb.SQLType_TIMESTAMP: "TIMESTAMP",
}

// typeName is the type's name as go-sql-driver/mysql reports it, so that
// code written against MySQL reads the same names.
func typeName(t *pb.SQLType) string {
	name, ok := typeNames[t.GetKind()]
	if !ok {
		return ""
	}
	if t.GetUnsigned() && isIntegerKind(t.GetKind()) {
		return "UNSIGNED " + name
	}
	return name
}

func isIntegerKind(k pb.SQLType_Kind) bool {
	switch k {
	case pb.SQLType_TINYINT, pb.SQLType_SMALLINT, pb.SQLType_MEDIUMINT, pb.SQLType_INT, pb.SQLType_BIGINT, pb.SQLType_BOOL:
		return true
	}
	return false
}

var (
	typeInt64       = reflect.TypeFor[int64]()
	typeUint64      = reflect.TypeFor[uint64]()
	typeFloat32     = reflect.TypeFor[float32]()
	typeFloat64     = reflect.TypeFor[float64]()
	typeString      = reflect.TypeFor[string]()
	typeBytes       = reflect.TypeFor[[]byte]()
	typeTime        = reflect.TypeFor[time.Time]()
	typeAny         = reflect.TypeFor[any]()
	typeNullInt64   = reflect.TypeFor[sql.NullInt64]()
	typeNullUint64  = reflect.TypeFor[sql.Null[uint64]]()
	typeNullFloat32 = reflect.TypeFor[sql.Null[float32]]()
	typeNullFloat64 = reflect.TypeFor[sql.NullFloat64]()
	typeNullString  = reflect.TypeFor[sql.NullString]()
	typeNullTime    = reflect.TypeFor[sql.NullTime]()
)

func scanType(t *pb.SQLType, nullable, text bool) reflect.Type {
	pick := func(plain, null reflect.Type) reflect.Type {
		if nullable {
			return null
		}
		return plain
	}
	switch k := t.GetKind(); {
	case isIntegerKind(k) && t.GetUnsigned():
		return pick(typeUint64, typeNullUint64)
	case isIntegerKind(k):
		return pick(typeInt64, typeNullInt64)
	case (k == pb.SQLType_FLOAT || k == pb.SQLType_DOUBLE) && text:
		return pick(typeString, typeNullString)
	case k == pb.SQLType_FLOAT:
		return pick(typeFloat32, typeNullFloat32)
	case k == pb.SQLType_DOUBLE:
		return pick(typeFloat64, typeNullFloat64)
	case k == pb.SQLType_DECIMAL, k == pb.SQLType_CHAR, k == pb.SQLType_VARCHAR, k == pb.SQLType_TEXT:
		return pick(typeString, typeNullString)
	case k == pb.SQLType_BINARY, k == pb.SQLType_VARBINARY, k == pb.SQLType_BLOB:
		return typeBytes
	case k == pb.SQLType_DATE, k == pb.SQLType_DATETIME, k == pb.SQLType_TIMESTAMP:
		if text {
			return pick(typeString, typeNullString)
		}
		return pick(typeTime, typeNullTime)
	}
	return typeAny
}
