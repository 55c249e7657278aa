package sqlerr

import (
	"testing"

	"github.com/cockroachdb/errors"
)

func TestMessages(t *testing.T) {
	for _, tc := range []struct {
		err   *Error
		code  uint16
		state string
		msg   string
	}{
		{NoSuchTable("db", "t"), 1146, "42S02", "Table 'db.t' doesn't exist"},
		{UnknownColumn("x", "field list"), 1054, "42S22", "Unknown column 'x' in 'field list'"},
		{DuplicateEntry("1", "t.PRIMARY"), 1062, "23000", "Duplicate entry '1' for key 't.PRIMARY'"},
		{ColumnCannotBeNull("a"), 1048, "23000", "Column 'a' cannot be null"},
		{Retryable(""), 1213, "40001", "Transaction aborted by a conflict with another transaction; try restarting transaction"},
		{UnknownDatabase("d"), 1049, "42000", "Unknown database 'd'"},
		{TableExists("t"), 1050, "42S01", "Table 't' already exists"},
		{UnknownTable("d.t"), 1051, "42S02", "Unknown table 'd.t'"},
		{DatabaseExists("d"), 1007, "HY000", "Can't create database 'd'; database exists"},
		{DatabaseNotExists("d"), 1008, "HY000", "Can't drop database 'd'; database doesn't exist"},
		{OutOfRange("a", 1), 1264, "22003", "Out of range value for column 'a' at row 1"},
		{IncorrectValue("integer", "abc", "a", 2), 1366, "HY000", "Incorrect integer value: 'abc' for column 'a' at row 2"},
		{DataTooLong("s", 1), 1406, "22001", "Data too long for column 's' at row 1"},
		{IncorrectTimeValue("date", "2024-13-01", "d", 1), 1292, "22007", "Incorrect date value: '2024-13-01' for column 'd' at row 1"},
		{TruncatedWrongValue("DOUBLE", "1x"), 1292, "22007", "Truncated incorrect DOUBLE value: '1x'"},
		{DivisionByZero(), 1365, "22012", "Division by 0"},
		{ValueOutOfRange("BIGINT", "(9223372036854775807 + 1)"), 1690, "22003", "BIGINT value is out of range in '(9223372036854775807 + 1)'"},
		{Unknown("boom"), 1105, "HY000", "boom"},
		{DuplicateKeyName("i"), 1061, "42000", "Duplicate key name 'i'"},
		{CantDrop("c"), 1091, "42000", "Can't DROP 'c'; check that column/key exists"},
		{DuplicateColumn("c"), 1060, "42S21", "Duplicate column name 'c'"},
		{ColumnCountMismatch(1), 1136, "21S01", "Column count doesn't match value count at row 1"},
		{NotSupported("JSON"), 1235, "42000", "This version of Meridian doesn't yet support 'JSON'"},
		{WrongArguments("ROUND"), 1210, "HY000", "Incorrect arguments to ROUND"},
		{WrongParamCount("concat_ws"), 1582, "42000", "Incorrect parameter count in the call to native function 'concat_ws'"},
		{DoesNotExist("FUNCTION", "db.f"), 1305, "42000", "FUNCTION db.f does not exist"},
		{QueryInterrupted(), 1317, "70100", "Query execution was interrupted"},
		{LockWaitTimeout(), 1205, "HY000", "Lock wait timeout exceeded; try restarting transaction"},
		{DataTruncated("a", 1), 1265, "01000", "Data truncated for column 'a' at row 1"},
	} {
		code, state, msg := tc.err.MySQLError()
		if code != tc.code || state != tc.state || msg != tc.msg || tc.err.Error() != tc.msg {
			t.Errorf("got %d (%s) %q, want %d (%s) %q", code, state, msg, tc.code, tc.state, tc.msg)
		}
	}
}

func TestSyntax(t *testing.T) {
	e := Syntax("FROM", 1, 7)
	if e.Code != 1064 || e.State != "42000" || e.Pos != 7 {
		t.Fatalf("%+v", e)
	}
	want := "You have an error in your SQL syntax; check the manual that corresponds to your Meridian version for the right syntax to use near 'FROM' at line 1"
	if e.Msg != want {
		t.Fatalf("got %q", e.Msg)
	}
}

func TestIsThroughWrapping(t *testing.T) {
	err := errors.Wrap(NoSuchTable("d", "t"), "binding")
	if !Is(err, CodeNoSuchTable) || Is(err, CodeBadField) || Code(err) != 1146 {
		t.Fatal("wrapped code lost")
	}
	if Is(errors.New("plain"), CodeUnknown) || Code(nil) != 0 {
		t.Fatal("plain errors carry no code")
	}
	// The wire protocol detects SQL errors through this interface only.
	var m interface {
		MySQLError() (uint16, string, string)
	}
	if !errors.As(err, &m) {
		t.Fatal("MySQLError not reachable through wrapping")
	}
}

func TestNewUsesTable(t *testing.T) {
	if e := New(CodeDupEntry, "", "x %d", 1); e.State != "23000" || e.Msg != "x 1" || e.Pos != -1 {
		t.Fatalf("%+v", e)
	}
	if e := New(4000, "", "odd"); e.State != "HY000" {
		t.Fatalf("%+v", e)
	}
	if e := New(1105, "XX000", "100%%"); e.State != "XX000" || e.Msg != "100%" {
		t.Fatalf("%+v", e)
	}
}
