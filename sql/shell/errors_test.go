package shell

import (
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/go-sql-driver/mysql"
)

// codedError stands for Meridian's sql/sqlerr errors, which the shell
// knows only through their MySQLError method.
type codedError struct {
	code       uint16
	state, msg string
}

func (e *codedError) Error() string { return e.msg }
func (e *codedError) MySQLError() (uint16, string, string) {
	return e.code, e.state, e.msg
}

func TestFormatError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
		// server is whether the error proves the server answered.
		server bool
	}{
		{
			name:   "meridian error",
			err:    &codedError{1146, "42S02", "Table 'db.t' doesn't exist"},
			want:   "ERROR 1146 (42S02): Table 'db.t' doesn't exist",
			server: true,
		},
		{
			name:   "meridian error wrapped by a driver",
			err:    errors.Wrap(&codedError{1062, "23000", "Duplicate entry '1' for key 'PRIMARY'"}, "exec"),
			want:   "ERROR 1062 (23000): Duplicate entry '1' for key 'PRIMARY'",
			server: true,
		},
		{
			name:   "go-sql-driver error",
			err:    &mysql.MySQLError{Number: 1064, SQLState: [5]byte{'4', '2', '0', '0', '0'}, Message: "You have an error in your SQL syntax"},
			want:   "ERROR 1064 (42000): You have an error in your SQL syntax",
			server: true,
		},
		{
			name:   "go-sql-driver error without SQLSTATE",
			err:    &mysql.MySQLError{Number: 1045, Message: "Access denied"},
			want:   "ERROR 1045: Access denied",
			server: true,
		},
		{
			name: "other error",
			err:  errors.New("driver: bad connection"),
			want: "ERROR: driver: bad connection",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatError(tc.err); got != tc.want {
				t.Errorf("formatError = %q, want %q", got, tc.want)
			}
			if got := hasServerCode(tc.err); got != tc.server {
				t.Errorf("hasServerCode = %v, want %v", got, tc.server)
			}
		})
	}
}
