package driver

import (
	"errors"
	"fmt"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is an error the server reported: MySQL's error code, SQLSTATE and
// message, so that code written for MySQL can branch on them, and the SQL
// shell prints it as the mysql client does.
type Error struct {
	Code     uint16 // e.g. 1146
	SQLState string // e.g. "42S02"
	Message  string // without code or state
}

// Error renders e as go-sql-driver/mysql does:
// "Error 1146 (42S02): Table 'db.t' doesn't exist".
func (e *Error) Error() string {
	if e.SQLState == "" {
		return fmt.Sprintf("Error %d: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("Error %d (%s): %s", e.Code, e.SQLState, e.Message)
}

// MySQLError returns the code, SQLSTATE and message.
func (e *Error) MySQLError() (code uint16, state string, msg string) {
	return e.Code, e.SQLState, e.Message
}

func fromPBError(e *pb.SQLError) *Error {
	return &Error{Code: uint16(e.Code), SQLState: e.SqlState, Message: e.Message}
}

// errConnLost wraps the failure of a connection's stream. The statement
// that was running may or may not have taken effect.
type errConnLost struct{ err error }

func (e *errConnLost) Error() string {
	if s, ok := status.FromError(e.err); ok {
		if s.Code() == codes.Unavailable {
			return "driver: connection lost (the statement may or may not have taken effect): node unavailable: " + s.Message()
		}
		return "driver: connection lost (the statement may or may not have taken effect): " + s.Message()
	}
	return "driver: connection lost (the statement may or may not have taken effect): " + e.err.Error()
}

func (e *errConnLost) Unwrap() error { return e.err }

var errClosed = errors.New("driver: connection is closed")
