package shell

import (
	"fmt"

	"github.com/cockroachdb/errors"
	"github.com/go-sql-driver/mysql"
)

// ErrStatementFailed marks the error Run returns when a statement fails
// in batch mode (Exec, or input that is not a terminal). The statement's
// error has already been printed to Options.Err in the mysql client's
// form, so a command should exit non-zero without printing it again:
//
//	if errors.Is(err, shell.ErrStatementFailed) { os.Exit(1) }
//
// The statement's own error stays in the chain for errors.As.
var ErrStatementFailed = errors.New("shell: statement failed")

// mysqlCoder is implemented by Meridian's SQL errors (sql/sqlerr). It is
// declared here, by its consumer, so the shell depends on no server
// package and works with any driver whose errors offer it.
type mysqlCoder interface {
	MySQLError() (code uint16, state string, msg string)
}

// formatError renders an error as the mysql client does:
//
//	ERROR 1146 (42S02): Table 'db.t' doesn't exist
//
// from Meridian's errors or go-sql-driver's *mysql.MySQLError; any other
// error (a lost connection, a driver failure) becomes "ERROR: <text>".
func formatError(err error) string {
	var mc mysqlCoder
	if errors.As(err, &mc) {
		code, state, msg := mc.MySQLError()
		return codeLine(code, state, msg)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		var state string
		if me.SQLState != [5]byte{} {
			state = string(me.SQLState[:])
		}
		return codeLine(me.Number, state, me.Message)
	}
	return "ERROR: " + err.Error()
}

func codeLine(code uint16, state, msg string) string {
	if state == "" {
		return fmt.Sprintf("ERROR %d: %s", code, msg)
	}
	return fmt.Sprintf("ERROR %d (%s): %s", code, state, msg)
}

// hasServerCode reports whether err came back from the server as a SQL
// error, which proves the connection still works.
func hasServerCode(err error) bool {
	var mc mysqlCoder
	var me *mysql.MySQLError
	return errors.As(err, &mc) || errors.As(err, &me)
}
