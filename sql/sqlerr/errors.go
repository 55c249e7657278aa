package sqlerr

import (
	"fmt"

	"github.com/cockroachdb/errors"
)

// Error is a MySQL-style SQL error.
type Error struct {
	// Code is the MySQL error number, e.g. 1146.
	Code uint16
	// State is the SQLSTATE, e.g. "42S02".
	State string
	// Msg is the message without code or state.
	Msg string
	// Pos is the byte offset in the statement the error refers to, -1 if
	// unknown. It lets the shell point at the offending token.
	Pos int
}

// Error returns the message alone; the shell and the wire protocol add the
// code and SQLSTATE from MySQLError.
func (e *Error) Error() string { return e.Msg }

// MySQLError returns the triple the MySQL protocol's ERR packet carries.
// The wire protocol and the shell recognise SQL errors by this method, so
// that they need not import this package.
func (e *Error) MySQLError() (code uint16, state string, msg string) {
	return e.Code, e.State, e.Msg
}

// WithPos returns a copy of e that points at byte offset pos.
func (e *Error) WithPos(pos int) *Error {
	c := *e
	c.Pos = pos
	return &c
}

// New returns an error with code, the code's SQLSTATE from the codes table
// (state overrides it when not empty) and a formatted message.
func New(code uint16, state string, format string, args ...any) *Error {
	if state == "" {
		state = State(code)
	}
	return &Error{Code: code, State: state, Msg: fmt.Sprintf(format, args...), Pos: -1}
}

func newf(code uint16, format string, args ...any) *Error {
	return New(code, "", format, args...)
}

// Is reports whether err, or an error it wraps, is an SQL error with code.
func Is(err error, code uint16) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Code returns the code of the SQL error err wraps, or 0 if it wraps none.
func Code(err error) uint16 {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// Syntax is error 1064. near is the statement text from the offending token
// on (MySQL quotes at most 80 bytes of it), line is 1-based, pos the byte
// offset of the offending token.
func Syntax(near string, line, pos int) *Error {
	if len(near) > 80 {
		near = near[:80]
	}
	e := newf(CodeParse, "You have an error in your SQL syntax; check the manual that corresponds to your Meridian version for the right syntax to use near '%s' at line %d", near, line)
	e.Pos = pos
	return e
}

// NoSuchTable is error 1146; db and table are unquoted names.
func NoSuchTable(db, table string) *Error {
	return newf(CodeNoSuchTable, "Table '%s.%s' doesn't exist", db, table)
}

// UnknownColumn is error 1054. where names the clause, e.g. "field list",
// "where clause", "order clause".
func UnknownColumn(column, where string) *Error {
	return newf(CodeBadField, "Unknown column '%s' in '%s'", column, where)
}

// DuplicateEntry is error 1062. entry is the key value as MySQL prints it
// (composite keys joined with '-'), key the index name ("PRIMARY" or
// "t.idx" in MySQL 8 style).
func DuplicateEntry(entry, key string) *Error {
	return newf(CodeDupEntry, "Duplicate entry '%s' for key '%s'", entry, key)
}

// ColumnCannotBeNull is error 1048.
func ColumnCannotBeNull(column string) *Error {
	return newf(CodeBadNull, "Column '%s' cannot be null", column)
}

// Retryable is error 1213 with SQLSTATE 40001, the class clients retry:
// the transaction was aborted because it conflicted with another one and
// nothing of it was applied.
func Retryable(reason string) *Error {
	msg := "Transaction aborted by a conflict with another transaction; try restarting transaction"
	if reason != "" {
		msg += " (" + reason + ")"
	}
	return newf(CodeRetryable, "%s", msg)
}

// UnknownDatabase is error 1049.
func UnknownDatabase(db string) *Error {
	return newf(CodeBadDB, "Unknown database '%s'", db)
}

// TableExists is error 1050.
func TableExists(table string) *Error {
	return newf(CodeTableExists, "Table '%s' already exists", table)
}

// UnknownTable is error 1051; name is "db.table" as MySQL prints it.
func UnknownTable(name string) *Error {
	return newf(CodeBadTable, "Unknown table '%s'", name)
}

// DatabaseExists is error 1007.
func DatabaseExists(db string) *Error {
	return newf(CodeDBCreateExists, "Can't create database '%s'; database exists", db)
}

// DatabaseNotExists is error 1008.
func DatabaseNotExists(db string) *Error {
	return newf(CodeDBDropExists, "Can't drop database '%s'; database doesn't exist", db)
}

// atRow renders MySQL's " for column 'c' at row n" suffix; values converted
// outside an INSERT or UPDATE have no column, and then no suffix.
func atRow(column string, row int) string {
	if column == "" {
		return ""
	}
	if row <= 0 {
		row = 1
	}
	return fmt.Sprintf(" for column '%s' at row %d", column, row)
}

// OutOfRange is error 1264, raised in strict mode when a value does not fit
// the column's type.
func OutOfRange(column string, row int) *Error {
	return newf(CodeWarnDataOutOfRange, "Out of range value%s", atRow(column, row))
}

// IncorrectValue is error 1366: a string that is not a number of the
// column's kind ("integer", "decimal", "double").
func IncorrectValue(kind, value, column string, row int) *Error {
	return newf(CodeTruncatedWrongValueFF, "Incorrect %s value: '%s'%s", kind, value, atRow(column, row))
}

// DataTruncated is error 1265: a string with a numeric prefix and trailing
// garbage, assigned to a numeric column in strict mode.
func DataTruncated(column string, row int) *Error {
	if column == "" {
		return newf(CodeWarnDataTruncated, "Data truncated")
	}
	return newf(CodeWarnDataTruncated, "Data truncated%s", atRow(column, row))
}

// DataTooLong is error 1406.
func DataTooLong(column string, row int) *Error {
	if column == "" {
		return newf(CodeDataTooLong, "Data too long")
	}
	if row <= 0 {
		row = 1
	}
	return newf(CodeDataTooLong, "Data too long for column '%s' at row %d", column, row)
}

// IncorrectTimeValue is error 1292 as strict-mode assignment raises it for a
// bad date or datetime ("date", "datetime", "timestamp").
func IncorrectTimeValue(kind, value, column string, row int) *Error {
	return newf(CodeTruncatedWrongValue, "Incorrect %s value: '%s'%s", kind, value, atRow(column, row))
}

// TruncatedWrongValue is error 1292 as expressions raise it: "Truncated
// incorrect DOUBLE value: '12abc'".
func TruncatedWrongValue(kind, value string) *Error {
	return newf(CodeTruncatedWrongValue, "Truncated incorrect %s value: '%s'", kind, value)
}

// DivisionByZero is error 1365.
func DivisionByZero() *Error {
	return newf(CodeDivisionByZero, "Division by 0")
}

// ValueOutOfRange is error 1690; typ is e.g. "BIGINT" or "BIGINT UNSIGNED",
// expr the expression as text.
func ValueOutOfRange(typ, expr string) *Error {
	return newf(CodeDataOutOfRange, "%s value is out of range in '%s'", typ, expr)
}

// Unknown is error 1105 with SQLSTATE HY000, for failures with no closer
// MySQL code; msg is shown as is.
func Unknown(msg string) *Error {
	return newf(CodeUnknown, "%s", msg)
}

// DuplicateKeyName is error 1061.
func DuplicateKeyName(name string) *Error {
	return newf(CodeDupKeyName, "Duplicate key name '%s'", name)
}

// CantDrop is error 1091; name is the column or key.
func CantDrop(name string) *Error {
	return newf(CodeCantDropFieldOrKey, "Can't DROP '%s'; check that column/key exists", name)
}

// DuplicateColumn is error 1060.
func DuplicateColumn(name string) *Error {
	return newf(CodeDupFieldName, "Duplicate column name '%s'", name)
}

// ColumnCountMismatch is error 1136.
func ColumnCountMismatch(row int) *Error {
	if row <= 0 {
		row = 1
	}
	return newf(CodeWrongValueCountOnRow, "Column count doesn't match value count at row %d", row)
}

// NotSupported is error 1235; what names the feature.
func NotSupported(what string) *Error {
	return newf(CodeNotSupportedYet, "This version of Meridian doesn't yet support '%s'", what)
}

// WrongArguments is error 1210; fn names the statement or function.
func WrongArguments(fn string) *Error {
	return newf(CodeWrongArguments, "Incorrect arguments to %s", fn)
}

// WrongParamCount is error 1582, for a built-in function called with the
// wrong number of arguments.
func WrongParamCount(fn string) *Error {
	return newf(CodeWrongParamcountToFunc, "Incorrect parameter count in the call to native function '%s'", fn)
}

// DoesNotExist is error 1305, e.g. DoesNotExist("FUNCTION", "db.f").
func DoesNotExist(kind, name string) *Error {
	return newf(CodeSPDoesNotExist, "%s %s does not exist", kind, name)
}

// QueryInterrupted is error 1317 (KILL QUERY, statement timeout, shutdown).
func QueryInterrupted() *Error {
	return newf(CodeQueryInterrupted, "Query execution was interrupted")
}

// LockWaitTimeout is error 1205.
func LockWaitTimeout() *Error {
	return newf(CodeLockWaitTimeout, "Lock wait timeout exceeded; try restarting transaction")
}
