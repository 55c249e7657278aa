package types

import (
	"fmt"
	"strings"

	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	parsertypes "github.com/pingcap/tidb/pkg/parser/types"
)

// TypeKind is the kind of a column type. The zero value is invalid, so that
// an unfilled T is caught.
type TypeKind uint8

// Column type kinds. TINYTEXT..LONGTEXT fold into Text and TINYBLOB..LONGBLOB
// into Blob, told apart by T.Length; BOOL is TINYINT(1), as in MySQL.
const (
	TinyInt TypeKind = iota + 1
	SmallInt
	MediumInt
	Int
	BigInt
	Decimal
	Float
	Double
	Char
	VarChar
	Text
	Binary
	VarBinary
	Blob
	Bool
	Date
	DateTime
	Timestamp
)

var typeKindNames = [...]string{
	TinyInt: "tinyint", SmallInt: "smallint", MediumInt: "mediumint", Int: "int", BigInt: "bigint",
	Decimal: "decimal", Float: "float", Double: "double", Char: "char", VarChar: "varchar",
	Text: "text", Binary: "binary", VarBinary: "varbinary", Blob: "blob", Bool: "bool",
	Date: "date", DateTime: "datetime", Timestamp: "timestamp",
}

func (k TypeKind) String() string {
	if int(k) < len(typeKindNames) && typeKindNames[k] != "" {
		return typeKindNames[k]
	}
	return fmt.Sprintf("TypeKind(%d)", uint8(k))
}

// Limits MySQL puts on type parameters.
const (
	MaxDecimalPrecision = 65
	MaxDecimalScale     = 30
	MaxFsp              = 6
	// Byte limits of the TEXT and BLOB sizes.
	TinyTextLength   = 255
	TextLength       = 65535
	MediumTextLength = 16777215
	LongTextLength   = 4294967295
	// MaxCharLength and MaxVarCharLength are MySQL's column limits in
	// characters (a VARCHAR is further limited by the 65,535-byte row size,
	// which we do not have).
	MaxCharLength    = 255
	MaxVarCharLength = 65535
)

// T is a column type. It is a small value: compare with ==.
type T struct {
	Kind     TypeKind
	Unsigned bool
	// Length is characters for CHAR/VARCHAR, bytes for BINARY/VARBINARY and
	// the maximum byte length for TEXT/BLOB, the display width otherwise;
	// -1 when unset (a CAST target of unbounded length).
	Length int
	// Precision and Scale are DECIMAL's (M,D). Scale is also the fractional
	// seconds precision (fsp) of DATETIME and TIMESTAMP, and the (M,D) of
	// FLOAT(M,D)/DOUBLE(M,D) when given (-1 otherwise).
	Precision, Scale int
}

// NewT returns a type of kind k with MySQL's defaults for its parameters
// (DECIMAL(10,0), CHAR(1), TEXT of 65,535 bytes, fsp 0).
func NewT(k TypeKind) T {
	t := T{Kind: k, Length: -1}
	switch k {
	case Decimal:
		t.Precision, t.Scale = 10, 0
	case Float, Double:
		t.Precision, t.Scale = -1, -1
	case Char, Binary:
		t.Length = 1
	case Text, Blob:
		t.Length = TextLength
	case Bool:
		t.Length = 1
	}
	return t
}

// IsInteger reports whether t holds integers (including BOOL).
func (t T) IsInteger() bool {
	switch t.Kind {
	case TinyInt, SmallInt, MediumInt, Int, BigInt, Bool:
		return true
	}
	return false
}

// IsNumeric reports whether t is a number type.
func (t T) IsNumeric() bool {
	return t.IsInteger() || t.Kind == Decimal || t.Kind == Float || t.Kind == Double
}

// IsString reports whether t is a character string type.
func (t T) IsString() bool { return t.Kind == Char || t.Kind == VarChar || t.Kind == Text }

// IsBinary reports whether t is a byte string type.
func (t T) IsBinary() bool { return t.Kind == Binary || t.Kind == VarBinary || t.Kind == Blob }

// IsTime reports whether t is DATE, DATETIME or TIMESTAMP.
func (t T) IsTime() bool { return t.Kind == Date || t.Kind == DateTime || t.Kind == Timestamp }

// Fsp is the fractional seconds precision of a DATETIME or TIMESTAMP, 0
// for other types.
func (t T) Fsp() int {
	if (t.Kind == DateTime || t.Kind == Timestamp) && t.Scale > 0 {
		return min(t.Scale, MaxFsp)
	}
	return 0
}

// String renders t as MySQL's SHOW CREATE TABLE does: integer display
// widths are omitted (MySQL 8 deprecates them) except tinyint(1), which is
// how BOOLEAN shows.
func (t T) String() string {
	var s string
	switch t.Kind {
	case Bool:
		return "tinyint(1)"
	case TinyInt, SmallInt, MediumInt, Int, BigInt:
		s = t.Kind.String()
		if t.Kind == TinyInt && t.Length == 1 {
			s = "tinyint(1)"
		}
	case Decimal:
		s = fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	case Float, Double:
		s = t.Kind.String()
		if t.Precision > 0 && t.Scale >= 0 {
			s = fmt.Sprintf("%s(%d,%d)", s, t.Precision, t.Scale)
		}
	case Char, VarChar, Binary, VarBinary:
		if t.Length < 0 {
			return t.Kind.String()
		}
		return fmt.Sprintf("%s(%d)", t.Kind, t.Length)
	case Text, Blob:
		return sizedName(t.Length, t.Kind.String())
	case Date:
		return "date"
	case DateTime, Timestamp:
		if f := t.Fsp(); f > 0 {
			return fmt.Sprintf("%s(%d)", t.Kind, f)
		}
		return t.Kind.String()
	default:
		return t.Kind.String()
	}
	if t.Unsigned {
		s += " unsigned"
	}
	return s
}

// sizedName names the TEXT or BLOB size that holds length bytes.
func sizedName(length int, base string) string {
	switch {
	case length >= 0 && length <= TinyTextLength:
		return "tiny" + base
	case length >= 0 && length <= TextLength:
		return base
	case length >= 0 && length <= MediumTextLength:
		return "medium" + base
	default:
		return "long" + base
	}
}

// MySQLType returns the protocol's column type code for t.
func (t T) MySQLType() byte {
	switch t.Kind {
	case TinyInt, Bool:
		return mysql.TypeTiny
	case SmallInt:
		return mysql.TypeShort
	case MediumInt:
		return mysql.TypeInt24
	case Int:
		return mysql.TypeLong
	case BigInt:
		return mysql.TypeLonglong
	case Decimal:
		return mysql.TypeNewDecimal
	case Float:
		return mysql.TypeFloat
	case Double:
		return mysql.TypeDouble
	case Char, Binary:
		return mysql.TypeString
	case VarChar, VarBinary:
		return mysql.TypeVarString
	case Text, Blob:
		return mysql.TypeBlob
	case Date:
		return mysql.TypeDate
	case DateTime:
		return mysql.TypeDatetime
	case Timestamp:
		return mysql.TypeTimestamp
	}
	return mysql.TypeVarString
}

// Column definition flags of the protocol that follow from the type alone;
// the caller adds NOT NULL, key and auto-increment flags.
const (
	FlagBlob     uint16 = 1 << 4
	FlagUnsigned uint16 = 1 << 5
	FlagBinary   uint16 = 1 << 7
	FlagNum      uint16 = 1 << 15
)

// Flags returns the protocol column flags that t implies.
func (t T) Flags() uint16 {
	var f uint16
	if t.IsNumeric() {
		f |= FlagNum
		if t.Unsigned {
			f |= FlagUnsigned
		}
	}
	if t.IsBinary() || t.IsNumeric() || t.IsTime() {
		f |= FlagBinary
	}
	if t.Kind == Text || t.Kind == Blob {
		f |= FlagBlob
	}
	return f
}

// Protocol character set ids: utf8mb4_bin (our only collation) and binary.
const (
	CharsetUTF8MB4Bin uint16 = 46
	CharsetBinary     uint16 = 63
)

// CharsetID is the collation id the protocol announces for a column of t.
func (t T) CharsetID() uint16 {
	if t.IsString() {
		return CharsetUTF8MB4Bin
	}
	return CharsetBinary
}

// ColumnLength is the protocol's column length: the maximum display width
// in bytes (four per character for utf8mb4 strings).
func (t T) ColumnLength() uint32 {
	sign := 1
	if t.Unsigned {
		sign = 0
	}
	switch t.Kind {
	case Bool:
		return 1
	case TinyInt:
		return uint32(3 + sign)
	case SmallInt:
		return uint32(5 + sign)
	case MediumInt:
		return uint32(8 + sign)
	case Int:
		return uint32(10 + sign)
	case BigInt:
		return 20
	case Decimal:
		n := t.Precision + sign
		if t.Scale > 0 {
			n++
		}
		return uint32(n)
	case Float:
		return 12
	case Double:
		return 22
	case Char, VarChar:
		if t.Length < 0 {
			return 4 * MaxVarCharLength
		}
		return uint32(4 * t.Length)
	case Binary, VarBinary:
		if t.Length < 0 {
			return MaxVarCharLength
		}
		return uint32(t.Length)
	case Text, Blob:
		if t.Length < 0 || t.Length > LongTextLength {
			return LongTextLength
		}
		return uint32(t.Length)
	case Date:
		return 10
	case DateTime, Timestamp:
		if f := t.Fsp(); f > 0 {
			return uint32(20 + f)
		}
		return 19
	}
	return 0
}

// notFixedDec is the protocol's "decimals not fixed" marker (31).
const notFixedDec = 31

// Decimals is the protocol's decimals field: the scale of DECIMAL, the fsp
// of DATETIME/TIMESTAMP, 31 for floats without (M,D).
func (t T) Decimals() uint8 {
	switch t.Kind {
	case Decimal:
		return uint8(t.Scale)
	case Float, Double:
		if t.Scale >= 0 && t.Precision > 0 {
			return uint8(t.Scale)
		}
		return notFixedDec
	case DateTime, Timestamp:
		return uint8(t.Fsp())
	}
	return 0
}

// FromFieldType maps a parsed column or CAST type to T. Types Meridian does
// not offer (JSON, ENUM, SET, BIT, YEAR, TIME, spatial, vector) fail with
// error 1235; out-of-range parameters fail as MySQL fails them.
func FromFieldType(ft *parsertypes.FieldType) (T, error) {
	flen, dec := ft.GetFlen(), ft.GetDecimal()
	unsigned := ft.GetFlag()&mysql.UnsignedFlag != 0
	binary := ft.GetCharset() == charset.CharsetBin
	var t T
	switch ft.GetType() {
	case mysql.TypeTiny:
		t = T{Kind: TinyInt, Unsigned: unsigned, Length: flen}
		if flen == 1 && !unsigned {
			t.Kind = Bool
		}
	case mysql.TypeShort:
		t = T{Kind: SmallInt, Unsigned: unsigned, Length: flen}
	case mysql.TypeInt24:
		t = T{Kind: MediumInt, Unsigned: unsigned, Length: flen}
	case mysql.TypeLong:
		t = T{Kind: Int, Unsigned: unsigned, Length: flen}
	case mysql.TypeLonglong:
		t = T{Kind: BigInt, Unsigned: unsigned, Length: flen}
	case mysql.TypeNewDecimal:
		return decimalType(flen, dec, unsigned)
	case mysql.TypeFloat, mysql.TypeDouble:
		t = NewT(Double)
		if ft.GetType() == mysql.TypeFloat {
			t.Kind = Float
		}
		t.Unsigned = unsigned
		if flen > 0 && dec >= 0 {
			if dec > MaxDecimalScale || flen > 255 || dec > flen {
				return T{}, sqlerr.WrongArguments(strings.ToUpper(t.Kind.String()))
			}
			t.Precision, t.Scale = flen, dec
		}
	case mysql.TypeString, mysql.TypeVarchar, mysql.TypeVarString:
		return stringType(ft.GetType(), flen, binary)
	case mysql.TypeTinyBlob, mysql.TypeBlob, mysql.TypeMediumBlob, mysql.TypeLongBlob:
		return blobType(ft.GetType(), flen, binary)
	case mysql.TypeDate:
		t = NewT(Date)
	case mysql.TypeDatetime, mysql.TypeTimestamp:
		t = NewT(DateTime)
		if ft.GetType() == mysql.TypeTimestamp {
			t.Kind = Timestamp
		}
		if dec > MaxFsp {
			return T{}, sqlerr.New(sqlerr.CodeTooBigPrecision, "", "Too-big precision %d specified for '%s'. Maximum is %d.", dec, strings.ToUpper(t.Kind.String()), MaxFsp)
		}
		t.Scale = max(dec, 0)
	default:
		return T{}, sqlerr.NotSupported(unsupportedName(ft))
	}
	return t, nil
}

func decimalType(flen, dec int, unsigned bool) (T, error) {
	t := NewT(Decimal)
	t.Unsigned = unsigned
	if flen >= 0 {
		t.Precision = flen
		if flen == 0 {
			t.Precision = 10
		}
		t.Scale = max(dec, 0)
	}
	if t.Precision > MaxDecimalPrecision {
		return T{}, sqlerr.New(sqlerr.CodeTooBigPrecision, "", "Too-big precision %d specified for 'DECIMAL'. Maximum is %d.", t.Precision, MaxDecimalPrecision)
	}
	if t.Scale > MaxDecimalScale {
		return T{}, sqlerr.New(sqlerr.CodeTooBigScale, "", "Too big scale %d specified for 'DECIMAL'. Maximum is %d.", t.Scale, MaxDecimalScale)
	}
	if t.Scale > t.Precision {
		return T{}, sqlerr.New(sqlerr.CodeMBiggerThanD, "", "For float(M,D), double(M,D) or decimal(M,D), M must be >= D (column 'DECIMAL').")
	}
	return t, nil
}

func stringType(tp byte, flen int, binary bool) (T, error) {
	var t T
	switch {
	case tp == mysql.TypeString && binary:
		t = NewT(Binary)
	case tp == mysql.TypeString:
		t = NewT(Char)
	case binary:
		t = NewT(VarBinary)
	default:
		t = NewT(VarChar)
	}
	if flen >= 0 {
		t.Length = flen
	} else if tp != mysql.TypeString {
		t.Length = -1 // CAST(x AS CHAR): unbounded
	}
	if t.Kind == Char && t.Length > MaxCharLength || t.Kind == Binary && t.Length > MaxCharLength {
		return T{}, sqlerr.New(sqlerr.CodeTooBigFieldLength, "", "Column length too big for column '' (max = %d); use BLOB or TEXT instead", MaxCharLength)
	}
	if (t.Kind == VarChar || t.Kind == VarBinary) && t.Length > MaxVarCharLength {
		return T{}, sqlerr.New(sqlerr.CodeTooBigFieldLength, "", "Column length too big for column '' (max = %d); use BLOB or TEXT instead", MaxVarCharLength)
	}
	return t, nil
}

func blobType(tp byte, flen int, binary bool) (T, error) {
	t := NewT(Text)
	if binary {
		t.Kind = Blob
	}
	switch tp {
	case mysql.TypeTinyBlob:
		t.Length = TinyTextLength
	case mysql.TypeMediumBlob:
		t.Length = MediumTextLength
	case mysql.TypeLongBlob:
		t.Length = LongTextLength
	default:
		t.Length = TextLength
		if flen >= 0 {
			// TEXT(M) and BLOB(M) become the smallest size holding M
			// characters (four bytes each in utf8mb4) or M bytes.
			n := flen
			if !binary {
				n *= 4
			}
			for _, l := range []int{TinyTextLength, TextLength, MediumTextLength, LongTextLength} {
				if n <= l {
					t.Length = l
					break
				}
			}
		}
	}
	return t, nil
}

func unsupportedName(ft *parsertypes.FieldType) string {
	switch ft.GetType() {
	case mysql.TypeJSON:
		return "JSON"
	case mysql.TypeEnum:
		return "ENUM"
	case mysql.TypeSet:
		return "SET"
	case mysql.TypeBit:
		return "BIT"
	case mysql.TypeYear:
		return "YEAR"
	case mysql.TypeDuration:
		return "TIME"
	case mysql.TypeGeometry:
		return "GEOMETRY"
	case mysql.TypeTiDBVectorFloat32:
		return "VECTOR"
	}
	return fmt.Sprintf("column type %d", ft.GetType())
}
