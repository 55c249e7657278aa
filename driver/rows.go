package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// rows reads the responses of one query request: one result set per
// statement. The node sends a statement as messages of rows, the first
// with the columns and the last with the statement's result; the
// request's last message carries the status and, if a statement failed,
// its error.
type rows struct {
	c     *conn
	ctx   context.Context
	cols  []*pb.SQLColumn
	names []string
	buf   []*pb.SQLRow // rows of the current message
	i     int          // next row of buf
	// result ends the current statement, once read.
	result *pb.SQLResult
	// final is set once the request's last response was read (or reading
	// failed); err is the request's error, if any.
	final bool
	err   error
}

var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsNextResultSet              = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
)

// read reads the request's next response.
func (r *rows) read() (*pb.SQLResponse, error) {
	m, err := r.c.recv(r.ctx)
	if err != nil {
		r.final, r.err = true, err
		r.buf, r.i = nil, 0
		return nil, err
	}
	r.buf, r.i = m.Rows, 0
	if m.Result != nil {
		r.result = m.Result
	}
	if m.Status != nil {
		r.final = true
		if m.Error != nil {
			r.err = fromPBError(m.Error)
		}
	}
	return m, nil
}

// startStatement reads the first response of the next statement. A
// statement that failed before it produced anything returns its error.
func (r *rows) startStatement() error {
	r.result = nil
	m, err := r.read()
	if err != nil {
		return err
	}
	r.cols = m.Columns
	r.names = make([]string, len(r.cols))
	for i, c := range r.cols {
		r.names[i] = c.Name
	}
	if r.result == nil && r.err != nil && len(r.cols) == 0 && len(r.buf) == 0 {
		return r.err
	}
	return nil
}

func (r *rows) Columns() []string { return r.names }

func (r *rows) Next(dest []driver.Value) error {
	for r.i >= len(r.buf) {
		if r.result != nil || r.final {
			if r.result == nil && r.err != nil {
				return r.err // the statement failed after the rows before
			}
			return io.EOF
		}
		if _, err := r.read(); err != nil {
			return err
		}
	}
	row := r.buf[r.i]
	r.i++
	if len(row.Values) != len(dest) {
		r.c.shut()
		return fmt.Errorf("driver: a row of %d values for %d columns (protocol error)", len(row.Values), len(dest))
	}
	for i, v := range row.Values {
		dest[i] = decodeValue(v, r.c.cfg.TextValues)
	}
	return nil
}

// drainStatement reads the current statement's remaining responses.
func (r *rows) drainStatement() error {
	for r.result == nil && !r.final {
		if _, err := r.read(); err != nil {
			return err
		}
	}
	return nil
}

func (r *rows) HasNextResultSet() bool {
	return r.result != nil && r.result.More
}

func (r *rows) NextResultSet() error {
	if err := r.drainStatement(); err != nil {
		return err
	}
	if r.result == nil {
		if r.err != nil {
			return r.err
		}
		return io.EOF
	}
	if !r.result.More {
		return io.EOF
	}
	return r.startStatement()
}

// Close reads the request's remaining responses, so that every statement
// of the request has run when it returns, and reports the error of a
// statement it skipped. If the query's context has ended, the request is
// interrupted instead.
func (r *rows) Close() error {
	seen := r.err
	for !r.final {
		if _, err := r.read(); err != nil {
			var lost *errConnLost
			if errors.As(err, &lost) {
				return err
			}
			return nil // interrupted: the connection settles before its next use
		}
	}
	if r.err != seen {
		return r.err
	}
	return nil
}

func (r *rows) column(i int) *pb.SQLColumn { return r.cols[i] }

// ColumnTypeDatabaseTypeName returns MySQL's type name: "BIGINT",
// "UNSIGNED INT", "DECIMAL", "VARCHAR", "DATETIME", ...; "NULL" for the type
// of a bare NULL.
func (r *rows) ColumnTypeDatabaseTypeName(i int) string { return typeName(r.column(i).GetType()) }

// ColumnTypeNullable reports whether the column may hold NULL.
func (r *rows) ColumnTypeNullable(i int) (nullable, ok bool) { return !r.column(i).NotNull, true }

// ColumnTypeScanType is the Go type Next stores for the column: int64,
// uint64, float32 (FLOAT), float64, string (text and DECIMAL), []byte,
// time.Time (floats and times as string with textValues); sql.Null types for
// nullable columns except []byte, which is nil for NULL.
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	c := r.column(i)
	return scanType(c.GetType(), !c.NotNull, r.c.cfg.TextValues)
}

// ColumnTypeLength is the length of text and binary columns: characters
// for CHAR/VARCHAR, bytes for BINARY/VARBINARY/TEXT/BLOB.
func (r *rows) ColumnTypeLength(i int) (int64, bool) {
	t := r.column(i).GetType()
	switch t.GetKind() {
	case pb.SQLType_CHAR, pb.SQLType_VARCHAR, pb.SQLType_TEXT, pb.SQLType_BINARY, pb.SQLType_VARBINARY, pb.SQLType_BLOB:
		if t.Length >= 0 {
			return t.Length, true
		}
	}
	return 0, false
}

// ColumnTypePrecisionScale is DECIMAL's (M,D), the fractional digits of
// DATETIME and TIMESTAMP, and FLOAT(M,D)/DOUBLE(M,D)'s when declared.
func (r *rows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	t := r.column(i).GetType()
	switch t.GetKind() {
	case pb.SQLType_DECIMAL:
		return int64(t.Precision), int64(t.Scale), true
	case pb.SQLType_DATETIME, pb.SQLType_TIMESTAMP:
		return 0, int64(t.Scale), true
	case pb.SQLType_FLOAT, pb.SQLType_DOUBLE:
		if t.Scale >= 0 && t.Precision > 0 {
			return int64(t.Precision), int64(t.Scale), true
		}
	}
	return 0, 0, false
}
