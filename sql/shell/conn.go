package shell

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// backend runs statements for a session. connBackend, over one pinned
// *sql.Conn, is the only implementation outside tests; the seam lets the
// read-split-run-print loop be tested without a database.
type backend interface {
	// query runs a statement that may return rows and calls each for
	// every result set it produces, in order. A result set with no
	// columns means the statement returned none.
	query(ctx context.Context, stmt string, each func(resultSet) error) error
	// exec runs a statement that returns no rows; known is false when
	// the driver cannot report the count of affected rows.
	exec(ctx context.Context, stmt string) (affected int64, known bool, err error)
	// reconnect is called after a statement failed other than with a
	// server error. If the connection no longer works it is replaced by
	// a new one, reporting true; an error means no connection could be
	// had, which ends the session.
	reconnect(ctx context.Context) (bool, error)
}

// connBackend runs every statement on one connection, so that USE,
// transactions and session variables carry from one statement to the
// next; database/sql would otherwise pick any pooled connection.
type connBackend struct {
	db   *sql.DB
	conn *sql.Conn
}

func (b *connBackend) query(ctx context.Context, stmt string, each func(resultSet) error) error {
	// No arguments: drivers send the text as is (go-sql-driver uses the
	// text protocol), so any statement the server accepts works.
	rows, err := b.conn.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	for {
		rs, err := newRowsResult(rows)
		if err != nil {
			return err
		}
		if err := each(rs); err != nil {
			return err
		}
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

func (b *connBackend) exec(ctx context.Context, stmt string) (int64, bool, error) {
	res, err := b.conn.ExecContext(ctx, stmt)
	if err != nil {
		return 0, false, err
	}
	n, err := res.RowsAffected()
	return n, err == nil, nil
}

func (b *connBackend) reconnect(ctx context.Context) (bool, error) {
	if b.conn.PingContext(ctx) == nil {
		return false, nil
	}
	_ = b.conn.Close() // already broken; its error says nothing new
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	b.conn = conn
	return true, nil
}

// rowsResult reads the current result set of a *sql.Rows.
type rowsResult struct {
	rows  *sql.Rows
	cols  []column
	types []*sql.ColumnType
	dest  []any
	ptrs  []any
}

func newRowsResult(rows *sql.Rows) (*rowsResult, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	r := &rowsResult{rows: rows, types: types, cols: make([]column, len(types))}
	r.dest = make([]any, len(types))
	r.ptrs = make([]any, len(types))
	for i, t := range types {
		r.cols[i] = column{name: t.Name(), numeric: isNumericColumn(t)}
		r.ptrs[i] = &r.dest[i]
	}
	return r, nil
}

func (r *rowsResult) columns() []column { return r.cols }

func (r *rowsResult) next() ([]cell, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	// Scanning into *any keeps the driver's own value: nil for NULL
	// (distinct from an empty []byte), and decimals and times as the
	// text the server sent when the driver passes text through.
	if err := r.rows.Scan(r.ptrs...); err != nil {
		return nil, err
	}
	row := make([]cell, len(r.dest))
	for i, v := range r.dest {
		row[i] = valueCell(v, r.types[i].DatabaseTypeName())
	}
	return row, nil
}

// valueCell turns a driver value into printed text. Drivers that decode
// values (go-sql-driver with parseTime, or integer columns in binary
// results) hand back Go types; they are printed as MySQL prints them.
func valueCell(v any, dbType string) cell {
	switch v := v.(type) {
	case nil:
		return cell{null: true}
	case []byte:
		return cell{text: string(v)}
	case string:
		return cell{text: v}
	case int64:
		return cell{text: strconv.FormatInt(v, 10)}
	case uint64:
		return cell{text: strconv.FormatUint(v, 10)}
	case float64:
		return cell{text: strconv.FormatFloat(v, 'g', -1, 64)}
	case float32:
		return cell{text: strconv.FormatFloat(float64(v), 'g', -1, 32)}
	case bool:
		if v { // MySQL has no booleans: TRUE is 1
			return cell{text: "1"}
		}
		return cell{text: "0"}
	case time.Time:
		if strings.EqualFold(dbType, "DATE") {
			return cell{text: v.Format(time.DateOnly)}
		}
		return cell{text: v.Format("2006-01-02 15:04:05.999999")}
	}
	return cell{text: fmt.Sprint(v)}
}

// isNumericType reports whether the mysql client right-aligns a column
// of this type (its IS_NUM: the integer, decimal and floating types,
// YEAR, and the type of a bare NULL), by the names drivers report.
func isNumericType(name string) bool {
	switch strings.TrimPrefix(strings.ToUpper(name), "UNSIGNED ") {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "BIGINT",
		"DECIMAL", "NUMERIC", "FLOAT", "DOUBLE", "REAL", "YEAR", "NULL":
		return true
	}
	return false
}

func isNumericColumn(t *sql.ColumnType) bool {
	if name := t.DatabaseTypeName(); name != "" {
		return isNumericType(name)
	}
	// A driver that names no types still says what Go type it scans to.
	if st := t.ScanType(); st != nil {
		switch st.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			return true
		}
	}
	return false
}
