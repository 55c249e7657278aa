package mysqlwire

import (
	"fmt"

	"github.com/cockroachdb/errors"
)

// Error is an error with a MySQL code and SQLSTATE, for sessions and tests
// that have no error type of their own.
type Error struct {
	Code    uint16
	State   string // five characters, e.g. "HY000", "42S02"
	Message string
}

// NewError returns an Error whose message is formatted like fmt.Sprintf.
func NewError(code uint16, state, format string, args ...any) *Error {
	return &Error{Code: code, State: state, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	return fmt.Sprintf("ERROR %d (%s): %s", e.Code, e.State, e.Message)
}

// MySQLError implements the MySQLError interface.
func (e *Error) MySQLError() (uint16, string, string) { return e.Code, e.State, e.Message }

// errorFields finds what an ERR packet for err carries: the code, state and
// message of the first error in the chain that implements MySQLError, or
// 1105 HY000 with the error's text.
func errorFields(err error) (code uint16, state, msg string) {
	var me MySQLError
	if errors.As(err, &me) {
		code, state, msg = me.MySQLError()
		if len(state) != 5 {
			state = "HY000"
		}
		return code, state, msg
	}
	return ErrCodeUnknown, "HY000", err.Error()
}

func appendErrPacket(b []byte, code uint16, state, msg string) []byte {
	b = append(b, iERR, byte(code), byte(code>>8), '#')
	b = append(b, state...)
	return append(b, msg...)
}
