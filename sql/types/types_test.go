package types

import (
	"testing"

	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// columnTypes parses CREATE TABLE t (c0 <typ>) for each type and maps it.
func columnType(t *testing.T, typ string) (T, error) {
	t.Helper()
	stmt, err := parser.New().ParseOneStmt("CREATE TABLE t (c "+typ+")", "", "")
	if err != nil {
		t.Fatalf("parse %q: %v", typ, err)
	}
	return FromFieldType(stmt.(*ast.CreateTableStmt).Cols[0].Tp)
}

func TestFromFieldTypeAndString(t *testing.T) {
	for _, tc := range []struct {
		sql, want string
		kind      TypeKind
	}{
		{"BOOLEAN", "tinyint(1)", Bool},
		{"BOOL", "tinyint(1)", Bool},
		{"TINYINT(1)", "tinyint(1)", Bool},
		{"TINYINT", "tinyint", TinyInt},
		{"TINYINT UNSIGNED", "tinyint unsigned", TinyInt},
		{"SMALLINT", "smallint", SmallInt},
		{"MEDIUMINT UNSIGNED", "mediumint unsigned", MediumInt},
		{"INT(11)", "int", Int},
		{"INTEGER", "int", Int},
		{"BIGINT UNSIGNED", "bigint unsigned", BigInt},
		{"BIGINT", "bigint", BigInt},
		{"DECIMAL", "decimal(10,0)", Decimal},
		{"DECIMAL(10,2)", "decimal(10,2)", Decimal},
		{"NUMERIC(5)", "decimal(5,0)", Decimal},
		{"FLOAT", "float", Float},
		{"FLOAT(7,3)", "float(7,3)", Float},
		{"DOUBLE", "double", Double},
		{"REAL", "double", Double},
		{"CHAR", "char(1)", Char},
		{"CHAR(10)", "char(10)", Char},
		{"VARCHAR(20)", "varchar(20)", VarChar},
		{"TINYTEXT", "tinytext", Text},
		{"TEXT", "text", Text},
		{"TEXT(100)", "text", Text},
		{"TEXT(50)", "tinytext", Text},
		{"MEDIUMTEXT", "mediumtext", Text},
		{"LONGTEXT", "longtext", Text},
		{"BINARY(16)", "binary(16)", Binary},
		{"BINARY", "binary(1)", Binary},
		{"VARBINARY(255)", "varbinary(255)", VarBinary},
		{"BLOB", "blob", Blob},
		{"TINYBLOB", "tinyblob", Blob},
		{"LONGBLOB", "longblob", Blob},
		{"DATE", "date", Date},
		{"DATETIME", "datetime", DateTime},
		{"DATETIME(3)", "datetime(3)", DateTime},
		{"TIMESTAMP(6)", "timestamp(6)", Timestamp},
		{"TIMESTAMP", "timestamp", Timestamp},
	} {
		got, err := columnType(t, tc.sql)
		if err != nil {
			t.Errorf("%s: %v", tc.sql, err)
			continue
		}
		if got.Kind != tc.kind || got.String() != tc.want {
			t.Errorf("%s: got %v %q, want %v %q", tc.sql, got.Kind, got.String(), tc.kind, tc.want)
		}
	}
}

func TestFromFieldTypeUnsupported(t *testing.T) {
	for _, typ := range []string{"JSON", "ENUM('a','b')", "SET('a')", "BIT(3)", "YEAR", "TIME"} {
		if _, err := columnType(t, typ); !sqlerr.Is(err, sqlerr.CodeNotSupportedYet) {
			t.Errorf("%s: got %v, want error 1235", typ, err)
		}
	}
	for _, typ := range []string{"DECIMAL(66,2)", "DECIMAL(10,31)", "DECIMAL(2,3)", "DATETIME(7)", "CHAR(256)"} {
		if _, err := columnType(t, typ); err == nil {
			t.Errorf("%s: want an error", typ)
		}
	}
}

func TestCastTargets(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want T
	}{
		{"SIGNED", T{Kind: BigInt, Length: -1}},
		{"UNSIGNED", T{Kind: BigInt, Unsigned: true, Length: -1}},
		{"CHAR", T{Kind: VarChar, Length: -1}},
		{"CHAR(3)", T{Kind: VarChar, Length: 3}},
		{"BINARY", T{Kind: VarBinary, Length: -1}},
		{"DATE", NewT(Date)},
		{"DATETIME(2)", T{Kind: DateTime, Length: -1, Scale: 2}},
		{"DECIMAL(5,2)", T{Kind: Decimal, Length: -1, Precision: 5, Scale: 2}},
		{"DOUBLE", NewT(Double)},
	} {
		stmt, err := parser.New().ParseOneStmt("SELECT CAST(1 AS "+tc.sql+")", "", "")
		if err != nil {
			t.Fatal(err)
		}
		cast := stmt.(*ast.SelectStmt).Fields.Fields[0].Expr.(*ast.FuncCastExpr)
		got, err := FromFieldType(cast.Tp)
		if got.IsInteger() {
			got.Length = -1 // display width is irrelevant to a cast
		}
		if err != nil || got != tc.want {
			t.Errorf("CAST AS %s: got %#v, %v; want %#v", tc.sql, got, err, tc.want)
		}
	}
}

func TestWireHelpers(t *testing.T) {
	for _, tc := range []struct {
		t        T
		typ      byte
		flags    uint16
		length   uint32
		decimals uint8
	}{
		{T{Kind: BigInt}, 8, FlagNum | FlagBinary, 20, 0},
		{T{Kind: Int, Unsigned: true}, 3, FlagNum | FlagBinary | FlagUnsigned, 10, 0},
		{T{Kind: Int}, 3, FlagNum | FlagBinary, 11, 0},
		{NewT(Bool), 1, FlagNum | FlagBinary, 1, 0},
		{T{Kind: Decimal, Precision: 10, Scale: 2}, 246, FlagNum | FlagBinary, 12, 2},
		{NewT(Double), 5, FlagNum | FlagBinary, 22, 31},
		{T{Kind: VarChar, Length: 20}, 253, 0, 80, 0},
		{T{Kind: Char, Length: 3}, 254, 0, 12, 0},
		{T{Kind: VarBinary, Length: 20}, 253, FlagBinary, 20, 0},
		{NewT(Text), 252, FlagBlob, 65535, 0},
		{NewT(Blob), 252, FlagBlob | FlagBinary, 65535, 0},
		{NewT(Date), 10, FlagBinary, 10, 0},
		{T{Kind: DateTime, Scale: 3}, 12, FlagBinary, 23, 3},
		{NewT(Timestamp), 7, FlagBinary, 19, 0},
	} {
		if g := tc.t.MySQLType(); g != tc.typ {
			t.Errorf("%v: type %d, want %d", tc.t, g, tc.typ)
		}
		if g := tc.t.Flags(); g != tc.flags {
			t.Errorf("%v: flags %b, want %b", tc.t, g, tc.flags)
		}
		if g := tc.t.ColumnLength(); g != tc.length {
			t.Errorf("%v: length %d, want %d", tc.t, g, tc.length)
		}
		if g := tc.t.Decimals(); g != tc.decimals {
			t.Errorf("%v: decimals %d, want %d", tc.t, g, tc.decimals)
		}
	}
	if NewT(VarChar).CharsetID() != CharsetUTF8MB4Bin || NewT(Blob).CharsetID() != CharsetBinary {
		t.Error("charset ids")
	}
}
