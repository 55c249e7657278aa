package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/go-sql-driver/mysql"
	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/sql/mysqlwire"
)

// TestMySQL runs MySQL clients against an in-process three-node cluster
// whose first and last nodes serve the MySQL protocol: go-sql-driver/mysql
// (text and binary protocol), a small raw client for what drivers hide
// (status flags, COM_FIELD_LIST, COM_RESET_CONNECTION, TIME parameters)
// and the mariadb CLI. The subtests share the cluster and use a database
// each.
func TestMySQL(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Node: func(i int, cfg *server.Config) {
		if i == 0 || i == 2 {
			cfg.MySQLAddr = "127.0.0.1:0"
		}
	}})
	addr := c.Nodes[0].MySQLAddr()
	if addr == "" {
		t.Fatal("node 1 has no MySQL listener")
	}
	t.Run("version", func(t *testing.T) { testMySQLVersion(t, addr) })
	t.Run("queries", func(t *testing.T) { testMySQLQueries(t, addr, c.Nodes[2].MySQLAddr()) })
	t.Run("types", func(t *testing.T) { testMySQLTypes(t, addr) })
	t.Run("transactions", func(t *testing.T) { testMySQLTransactions(t, addr) })
	t.Run("multi-statements", func(t *testing.T) { testMySQLMultiStatements(t, addr) })
	t.Run("errors", func(t *testing.T) { testMySQLErrors(t, addr) })
	t.Run("hints", func(t *testing.T) { testMySQLHints(t, addr) })
	t.Run("commands", func(t *testing.T) { testMySQLCommands(t, addr) })
	t.Run("mariadb", func(t *testing.T) { testMySQLMariaDBCLI(t, addr) })
}

// openMySQL returns a go-sql-driver pool for db on addr; adjust changes
// the driver's configuration.
func openMySQL(t *testing.T, addr, db string, adjust func(*mysql.Config)) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "tcp", addr, db
	if adjust != nil {
		adjust(cfg)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pool := sql.OpenDB(conn)
	t.Cleanup(func() { _ = pool.Close() })
	return pool
}

// createDB creates a fresh database and returns a pool that uses it.
func createDB(t *testing.T, addr, db string, adjust func(*mysql.Config)) *sql.DB {
	t.Helper()
	mustExec(t, openMySQL(t, addr, "", nil), "CREATE DATABASE "+db)
	return openMySQL(t, addr, db, adjust)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func mustExec(t *testing.T, db execer, query string, args ...any) sql.Result {
	t.Helper()
	res, err := db.ExecContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return res
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryStrings runs a query and returns its rows as text ("NULL" for
// NULL). Without args the driver uses the text protocol, with args the
// binary one; the text is the same for both (the driver formats binary
// dates with the column's decimals, so that checks the metadata too).
func queryStrings(t *testing.T, db querier, query string, args ...any) [][]string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = goText(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// goText renders a driver value; floats in Go's shortest form, as both
// protocols' values parse to the same float.
func goText(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(v)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case time.Time:
		return v.Format("2006-01-02 15:04:05.999999")
	}
	return fmt.Sprint(v)
}

func mysqlCode(err error) (uint16, string) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, string(me.SQLState[:])
	}
	return 0, ""
}

func wantCode(t *testing.T, err error, code uint16, state, what string) {
	t.Helper()
	if got, st := mysqlCode(err); got != code || st != state {
		t.Fatalf("%s: got error %v (code %d, state %s), want %d (%s)", what, err, got, st, code, state)
	}
}

// testMySQLVersion: the handshake and @@version must agree, since tools
// read either to decide what the server supports.
func testMySQLVersion(t *testing.T, addr string) {
	rc := dialRaw(t, addr, 0)
	if rc.version != server.MySQLServerVersion {
		t.Fatalf("handshake version %q, want %q", rc.version, server.MySQLServerVersion)
	}
	db := openMySQL(t, addr, "", nil)
	got := queryStrings(t, db, "SELECT VERSION(), @@version")
	if want := [][]string{{rc.version, rc.version}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("VERSION(), @@version = %v, handshake says %q", got, rc.version)
	}
}

func testMySQLQueries(t *testing.T, addr, otherAddr string) {
	db := createDB(t, addr, "q", nil)
	mustExec(t, db, "CREATE TABLE items (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT, price DECIMAL(10,2))")
	res := mustExec(t, db, "INSERT INTO items (name, qty, price) VALUES ('apple', 3, 1.50), ('pear', 0, NULL)")
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("insert affected %d rows, want 2", n)
	}
	first, _ := res.LastInsertId()
	if first == 0 {
		t.Fatal("LAST_INSERT_ID of an AUTO_INCREMENT insert is 0")
	}
	got := queryStrings(t, db, "SELECT id, name, qty, price FROM items ORDER BY id")
	want := [][]string{{fmt.Sprint(first), "apple", "3", "1.50"}, {got[1][0], "pear", "0", "NULL"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("select: got %v, want %v", got, want)
	}

	// Affected rows: MySQL counts changed rows, or matched rows for
	// clients that set CLIENT_FOUND_ROWS.
	res = mustExec(t, db, "UPDATE items SET qty = 3 WHERE qty <= 3")
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("update affected %d rows, want 1 (one row changed)", n)
	}
	found := openMySQL(t, addr, "q", func(c *mysql.Config) { c.ClientFoundRows = true })
	res = mustExec(t, found, "UPDATE items SET qty = 3 WHERE qty <= 3")
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("update with CLIENT_FOUND_ROWS affected %d rows, want 2 (matched)", n)
	}

	// Column metadata.
	rows, err := db.Query("SELECT id, name, qty, price, qty + 1 AS next FROM items")
	if err != nil {
		t.Fatal(err)
	}
	cts, err := rows.ColumnTypes()
	_ = rows.Close()
	if err != nil {
		t.Fatal(err)
	}
	var meta []string
	for _, ct := range cts {
		nullable, _ := ct.Nullable()
		m := fmt.Sprintf("%s %s null=%v", ct.Name(), ct.DatabaseTypeName(), nullable)
		if p, s, ok := ct.DecimalSize(); ok {
			m += fmt.Sprintf(" (%d,%d)", p, s)
		}
		meta = append(meta, m)
	}
	wantMeta := []string{"id BIGINT null=false", "name VARCHAR null=false", "qty INT null=true",
		"price DECIMAL null=true (10,2)", "next BIGINT null=true"}
	if !slices.Equal(meta, wantMeta) {
		t.Errorf("column metadata:\n got %q\nwant %q", meta, wantMeta)
	}

	res = mustExec(t, db, "DELETE FROM items WHERE name = ?", "pear")
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("delete affected %d rows, want 1", n)
	}

	// Another node's listener serves the same data.
	other := openMySQL(t, otherAddr, "q", nil)
	if got := queryStrings(t, other, "SELECT name, qty FROM items"); !slices.EqualFunc(got, [][]string{{"apple", "3"}}, slices.Equal) {
		t.Fatalf("read through node 3: %v", got)
	}
}

// typeCols are the columns of the types table, one of each type Meridian
// offers, signed and unsigned.
const typeCols = "ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec1, f, d, vc, tx, vb, bl, dt, dtm, dtm0, ts, bo"

const typesTable = `CREATE TABLE types (id INT PRIMARY KEY,
	ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
	mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
	dec1 DECIMAL(20,6), f FLOAT, d DOUBLE, vc VARCHAR(100), tx TEXT, vb VARBINARY(100), bl BLOB,
	dt DATE, dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(3) NULL, bo BOOL)`

var allBytes = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// typeRows are the values inserted (as Go values) and the text every
// protocol must give back.
var typeRows = []struct {
	args []any
	want []string
}{
	{ // maxima
		args: []any{int64(127), uint64(255), int64(32767), uint64(65535), int64(8388607), uint64(16777215),
			int64(math.MaxInt32), uint64(math.MaxUint32), int64(math.MaxInt64), uint64(math.MaxUint64),
			"99999999999999.999999", float32(3.5), math.MaxFloat64, "héllo wörld ✓ 😀", "it's \"quoted\"\n\ttab \\ back",
			[]byte{0, 1, 0, 0xff, 'a', 0}, allBytes,
			time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC),
			time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2038, 1, 19, 3, 14, 7, 999000000, time.UTC), true},
		want: []string{"127", "255", "32767", "65535", "8388607", "16777215", "2147483647", "4294967295",
			"9223372036854775807", "18446744073709551615", "99999999999999.999999", "3.5", "1.7976931348623157e+308",
			"héllo wörld ✓ 😀", "it's \"quoted\"\n\ttab \\ back", "\x00\x01\x00\xffa\x00", string(allBytes),
			"2024-02-29", "2024-02-29 13:14:15.123456", "9999-12-31 23:59:59", "2038-01-19 03:14:07.999", "1"},
	},
	{ // minima
		args: []any{int64(-128), uint64(0), int64(-32768), uint64(0), int64(-8388608), uint64(0),
			int64(math.MinInt32), uint64(0), int64(math.MinInt64), uint64(0),
			"-99999999999999.999999", float32(-0.15625), -2.2250738585072014e-308, "", "",
			[]byte{}, []byte{0},
			time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC), false},
		want: []string{"-128", "0", "-32768", "0", "-8388608", "0", "-2147483648", "0",
			"-9223372036854775808", "0", "-99999999999999.999999", "-0.15625", "-2.2250738585072014e-308",
			"", "", "", "\x00", "1000-01-01", "1000-01-01 00:00:00.000000", "1000-01-01 00:00:00",
			"1970-01-01 00:00:01.000", "0"},
	},
	{ // small fractions and NULL
		args: []any{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "-0.000001", nil, nil, nil, nil, nil, nil,
			nil, time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC), nil, nil, nil},
		want: []string{"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
			"-0.000001", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "2000-01-01 00:00:00.000001",
			"NULL", "NULL", "NULL"},
	},
}

func testMySQLTypes(t *testing.T, addr string) {
	db := createDB(t, addr, "types", nil)
	mustExec(t, db, typesTable)
	marks := strings.TrimSuffix(strings.Repeat("?, ", 23), ", ")
	insert := "INSERT INTO types (id, " + typeCols + ") VALUES (" + marks + ")"
	// Rows 1..3 through server-side prepared statements (binary
	// parameters), rows 11..13 through the driver's client-side
	// interpolation (literals in a text query: _binary'...', escapes).
	interp := openMySQL(t, addr, "types", func(c *mysql.Config) { c.InterpolateParams = true })
	for i, r := range typeRows {
		mustExec(t, db, insert, append([]any{i + 1}, r.args...)...)
		mustExec(t, interp, insert, append([]any{i + 11}, r.args...)...)
	}
	cols := strings.Split(typeCols, ", ")
	check := func(what string, got [][]string, want []string) {
		t.Helper()
		if len(got) != 1 {
			t.Errorf("%s: %d rows", what, len(got))
			return
		}
		for j := range want {
			if cols[j] == "f" || cols[j] == "d" {
				// The protocols render doubles differently (1e308 as text,
				// an 8-byte float in binary): compare numbers.
				g, _ := strconv.ParseFloat(got[0][j], 64)
				w, _ := strconv.ParseFloat(want[j], 64)
				if g == w {
					continue
				}
			}
			if got[0][j] != want[j] {
				t.Errorf("%s, column %s: got %q, want %q", what, cols[j], got[0][j], want[j])
			}
		}
	}
	for i, r := range typeRows {
		for _, id := range []int{i + 1, i + 11} {
			check(fmt.Sprintf("row %d, text protocol", id),
				queryStrings(t, db, fmt.Sprintf("SELECT %s FROM types WHERE id = %d", typeCols, id)), r.want)
			check(fmt.Sprintf("row %d, binary protocol", id),
				queryStrings(t, db, "SELECT "+typeCols+" FROM types WHERE id = ?", id), r.want)
		}
	}

	// MySQL's text for floats: shortest digits, exponent without '+'
	// (the driver parses numbers, so the raw client reads the text).
	rc := dialRaw(t, addr, 0)
	res := rc.query(t, "SELECT f, d FROM types.types WHERE id IN (1, 2) ORDER BY id")
	if want := [][]string{{"3.5", "1.7976931348623157e308"}, {"-0.15625", "-2.2250738585072014e-308"}}; res.err != "" || !slices.EqualFunc(res.rows, want, slices.Equal) {
		t.Errorf("float text: got %+v, want %q", res, want)
	}

	// Typed scans: unsigned maxima, exact times with parseTime.
	pt := openMySQL(t, addr, "types", func(c *mysql.Config) { c.ParseTime = true })
	for _, q := range []struct {
		query string
		args  []any
	}{{"SELECT biu, dtm, ts FROM types WHERE id = 1", nil}, {"SELECT biu, dtm, ts FROM types WHERE id = ?", []any{1}}} {
		var biu uint64
		var dtm, ts time.Time
		if err := pt.QueryRow(q.query, q.args...).Scan(&biu, &dtm, &ts); err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
		if biu != math.MaxUint64 || !dtm.Equal(typeRows[0].args[18].(time.Time)) || !ts.Equal(typeRows[0].args[20].(time.Time)) {
			t.Errorf("%s: got %d %v %v", q.query, biu, dtm, ts)
		}
	}

	// Parameters in expressions and conditions: unsigned beyond int64,
	// NULL, bytes with zero bytes.
	got := queryStrings(t, db, "SELECT id FROM types WHERE biu = ? ORDER BY id", uint64(math.MaxUint64))
	if !slices.EqualFunc(got, [][]string{{"1"}, {"11"}}, slices.Equal) {
		t.Errorf("WHERE biu = MaxUint64: %v", got)
	}
	got = queryStrings(t, db, "SELECT id FROM types WHERE vb = ? ORDER BY id", []byte{0, 1, 0, 0xff, 'a', 0})
	if !slices.EqualFunc(got, [][]string{{"1"}, {"11"}}, slices.Equal) {
		t.Errorf("WHERE vb = bytes: %v", got)
	}
	got = queryStrings(t, db, "SELECT ? IS NULL, ?, CONCAT(?, 'x')", nil, uint64(math.MaxInt64)+1, "a\x00b")
	if want := [][]string{{"1", "9223372036854775808", "a\x00bx"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("SELECT ? IS NULL, ?, CONCAT(?, 'x'): got %q, want %q", got, want)
	}
}

func testMySQLTransactions(t *testing.T, addr string) {
	db := createDB(t, addr, "txn", nil)
	mustExec(t, db, "CREATE TABLE acct (id INT PRIMARY KEY, bal INT NOT NULL)")
	mustExec(t, db, "INSERT INTO acct VALUES (1, 100), (2, 0)")
	ctx := context.Background()

	tx, err := db.BeginTx(ctx, nil) // START TRANSACTION
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "UPDATE acct SET bal = bal - 30 WHERE id = 1")
	mustExec(t, tx, "UPDATE acct SET bal = bal + 30 WHERE id = 2")
	if got := queryStrings(t, tx, "SELECT bal FROM acct ORDER BY id"); !slices.EqualFunc(got, [][]string{{"70"}, {"30"}}, slices.Equal) {
		t.Fatalf("inside the transaction: %v", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := queryStrings(t, db, "SELECT bal FROM acct ORDER BY id"); !slices.EqualFunc(got, [][]string{{"100"}, {"0"}}, slices.Equal) {
		t.Fatalf("after ROLLBACK: %v", got)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "UPDATE acct SET bal = bal - 30 WHERE id = 1")
	mustExec(t, tx, "UPDATE acct SET bal = bal + 30 WHERE id = ?", 2)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := queryStrings(t, db, "SELECT bal FROM acct ORDER BY id"); !slices.EqualFunc(got, [][]string{{"70"}, {"30"}}, slices.Equal) {
		t.Fatalf("after COMMIT: %v", got)
	}

	// Status flags, which drivers and proxies read to know whether a
	// connection may be handed to someone else.
	rc := dialRaw(t, addr, 0)
	const autocommit, inTrans = mysqlwire.StatusAutocommit, mysqlwire.StatusInTrans
	steps := []struct {
		query string
		want  uint16
	}{
		{"USE txn", autocommit},
		{"SELECT 1", autocommit},
		{"BEGIN", autocommit | inTrans},
		{"UPDATE acct SET bal = bal + 1 WHERE id = 1", autocommit | inTrans},
		{"SELECT bal FROM acct WHERE id = 1", autocommit | inTrans},
		{"COMMIT", autocommit},
		{"START TRANSACTION", autocommit | inTrans},
		{"ROLLBACK", autocommit},
		{"SET autocommit = 0", 0},
		{"SELECT bal FROM acct WHERE id = 1", inTrans},
		{"COMMIT", 0},
		{"SET autocommit = 1", autocommit},
	}
	for _, s := range steps {
		res := rc.query(t, s.query)
		if res.err != "" {
			t.Fatalf("%s: %s", s.query, res.err)
		}
		if got := res.status &^ statusInformational; got != s.want {
			t.Errorf("%s: status flags 0x%04x, want 0x%04x", s.query, got, s.want)
		}
	}
}

func testMySQLMultiStatements(t *testing.T, addr string) {
	multi := createDB(t, addr, "multi", func(c *mysql.Config) { c.MultiStatements = true })
	mustExec(t, multi, "CREATE TABLE m (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO m VALUES (1, 'a'); INSERT INTO m VALUES (2, 'b'), (3, 'c')")
	rows, err := multi.Query("SELECT v FROM m WHERE id = 1; UPDATE m SET v = 'z' WHERE id = 3; SELECT id, v FROM m ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var results [][]string
	for {
		var res []string
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, v := range vals {
				parts = append(parts, string(v))
			}
			res = append(res, strings.Join(parts, ":"))
		}
		results = append(results, res)
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	_ = rows.Close()
	// The UPDATE in the middle is a result without rows, which the driver
	// skips.
	want := [][]string{{"a"}, {"1:a", "2:b", "3:z"}}
	if !slices.EqualFunc(results, want, slices.Equal) {
		t.Fatalf("multi-statement results: got %v, want %v", results, want)
	}

	// Execution stops at the first error, which the client receives after
	// the results before it.
	_, err = multi.Exec("INSERT INTO m VALUES (4, 'd'); INSERT INTO nosuch VALUES (1); INSERT INTO m VALUES (5, 'e')")
	wantCode(t, err, 1146, "42S02", "multi-statement with an error in the middle")
	if got := queryStrings(t, multi, "SELECT id FROM m WHERE id >= 4"); !slices.EqualFunc(got, [][]string{{"4"}}, slices.Equal) {
		t.Fatalf("after a failed multi-statement: rows %v, want only id 4", got)
	}

	// Without CLIENT_MULTI_STATEMENTS (the driver's default) several
	// statements are a syntax error; one statement with a trailing ';' is
	// fine.
	single := openMySQL(t, addr, "multi", nil)
	if got := queryStrings(t, single, "SELECT 1;"); !slices.EqualFunc(got, [][]string{{"1"}}, slices.Equal) {
		t.Fatalf("SELECT 1; got %v", got)
	}
	_, err = single.Exec("UPDATE m SET v = 'q' WHERE id = 1; DELETE FROM m")
	wantCode(t, err, 1064, "42000", "two statements without multi-statements")
	if got := queryStrings(t, single, "SELECT count(*) FROM m"); !slices.EqualFunc(got, [][]string{{"4"}}, slices.Equal) {
		t.Fatalf("the second statement ran although multi-statements are off: %v rows left", got)
	}

	// The raw client sees SERVER_MORE_RESULTS_EXISTS on all but the last.
	rc := dialRaw(t, addr, mysqlwire.ClientMultiStatements|mysqlwire.ClientMultiResults)
	if res := rc.query(t, "USE multi"); res.err != "" {
		t.Fatal(res.err)
	}
	rs := rc.queryAll(t, "SELECT 1; UPDATE m SET v = v WHERE id = 0; SELECT 2")
	if len(rs) != 3 || rs[0].status&mysqlwire.StatusMoreResultsExists == 0 || rs[1].status&mysqlwire.StatusMoreResultsExists == 0 || rs[2].status&mysqlwire.StatusMoreResultsExists != 0 {
		t.Fatalf("multi-statement results: %+v", rs)
	}
}

func testMySQLErrors(t *testing.T, addr string) {
	db := createDB(t, addr, "errs", nil)
	mustExec(t, db, "CREATE TABLE e (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL)")
	mustExec(t, db, "INSERT INTO e VALUES (1, 'a')")
	cases := []struct {
		query string
		args  []any
		code  uint16
		state string
	}{
		{"SELEC 1", nil, 1064, "42000"},
		{"SELECT * FROM nosuch", nil, 1146, "42S02"},
		{"SELECT nosuch FROM e", nil, 1054, "42S22"},
		{"INSERT INTO e VALUES (1, 'b')", nil, 1062, "23000"},
		{"INSERT INTO e VALUES (2, NULL)", nil, 1048, "23000"},
		// The same through prepared statements: errors at prepare time
		// and at execution.
		{"SELEC ?", []any{1}, 1064, "42000"},
		{"SELECT * FROM nosuch WHERE id = ?", []any{1}, 1146, "42S02"},
		{"SELECT nosuch FROM e WHERE id = ?", []any{1}, 1054, "42S22"},
		{"INSERT INTO e VALUES (?, ?)", []any{1, "b"}, 1062, "23000"},
		{"INSERT INTO e VALUES (?, ?)", []any{2, nil}, 1048, "23000"},
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, c := range cases {
		_, err := conn.ExecContext(context.Background(), c.query, c.args...)
		wantCode(t, err, c.code, c.state, fmt.Sprintf("%s %v", c.query, c.args))
	}
	// The connection survived every error.
	if got := queryStrings(t, conn, "SELECT v FROM e"); !slices.EqualFunc(got, [][]string{{"a"}}, slices.Equal) {
		t.Fatalf("after the errors: %v", got)
	}
	_, err = openMySQL(t, addr, "nosuchdb", nil).Exec("SELECT 1")
	wantCode(t, err, 1049, "42000", "connecting to an unknown database")
}

// testMySQLHints runs what dump tools, ORMs and TiDB tools emit: optimizer
// hints, MySQL version comments and TiDB feature comments must be
// accepted.
func testMySQLHints(t *testing.T, addr string) {
	db := createDB(t, addr, "hints", nil)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		"/*!40101 SET NAMES utf8mb4 */",
		"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */",
		"/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */",
		"/*!40103 SET TIME_ZONE='+00:00' */",
		"CREATE TABLE h (id BIGINT NOT NULL, v INT, PRIMARY KEY (id) /*T![clustered_index] CLUSTERED */)",
		"CREATE TABLE h2 (id BIGINT PRIMARY KEY /*T![clustered_index] NONCLUSTERED */, v INT) /*!40101 DEFAULT CHARSET=utf8mb4 */",
		"INSERT /*+ SET_VAR(sql_mode='') */ INTO h2 VALUES (1, 1)",
		"SELECT /*+ MAX_EXECUTION_TIME(1000) */ v FROM h2",
		"SELECT /*+ USE_INDEX(h2, PRIMARY) */ v FROM h2 WHERE id = 1",
		"SELECT /*! STRAIGHT_JOIN */ v FROM h2",
		"/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */",
	} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// testMySQLCommands covers the commands drivers rarely send:
// COM_FIELD_LIST, COM_RESET_CONNECTION and binary TIME/DATETIME
// parameters.
func testMySQLCommands(t *testing.T, addr string) {
	db := createDB(t, addr, "cmds", nil)
	mustExec(t, db, "CREATE TABLE fl (id INT PRIMARY KEY, name VARCHAR(20), note TEXT)")
	rc := dialRaw(t, addr, 0)
	if res := rc.query(t, "USE cmds"); res.err != "" {
		t.Fatal(res.err)
	}
	if got, err := rc.fieldList(t, "fl", ""); err != "" || !slices.Equal(got, []string{"id", "name", "note"}) {
		t.Errorf("COM_FIELD_LIST fl: %v %s", got, err)
	}
	if got, err := rc.fieldList(t, "fl", "n%"); err != "" || !slices.Equal(got, []string{"name", "note"}) {
		t.Errorf("COM_FIELD_LIST fl n%%: %v %s", got, err)
	}
	if _, err := rc.fieldList(t, "nosuch", ""); !strings.HasPrefix(err, "1146 ") {
		t.Errorf("COM_FIELD_LIST of a missing table: %q", err)
	}

	if res := rc.query(t, "BEGIN"); res.err != "" || res.status&mysqlwire.StatusInTrans == 0 {
		t.Fatalf("BEGIN: %+v", res)
	}
	if res := rc.command(t, comResetConnection, nil); res.err != "" {
		t.Fatalf("COM_RESET_CONNECTION: %s", res.err)
	}
	if res := rc.query(t, "SELECT 1"); res.err != "" || res.status&mysqlwire.StatusInTrans != 0 {
		t.Fatalf("after COM_RESET_CONNECTION the transaction is still open: %+v", res)
	}
	if res := rc.query(t, "SELECT DATABASE()"); len(res.rows) != 1 || res.rows[0][0] != "cmds" {
		t.Fatalf("COM_RESET_CONNECTION must keep the database: %+v", res)
	}

	// TIME parameters have no Meridian type; they arrive as MySQL's text.
	id := rc.prepare(t, "SELECT CAST(? AS CHAR), CAST(? AS CHAR), CAST(? AS CHAR)")
	res := rc.execute(t, id,
		timeParam(-(838*time.Hour + 59*time.Minute + 59*time.Second)),
		timeParam(12*time.Hour+34*time.Minute+56*time.Second+7*time.Microsecond),
		datetimeParam(time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)))
	want := []string{"-838:59:59", "12:34:56.000007", "2024-02-29 13:14:15.123456"}
	if res.err != "" || len(res.rows) != 1 || !slices.Equal(res.rows[0], want) {
		t.Fatalf("TIME and DATETIME parameters: %+v, want %q", res, want)
	}
}

// testMySQLMariaDBCLI runs the mariadb command-line client (a C
// implementation of the protocol, MariaDB Connector/C) on the scripts of
// testdata/mysql/*.txt, comparing its output; -rewrite updates them.
//
//	mariadb [db=NAME] [table] [force]
//	<SQL on stdin>
//	----
//	<stdout and stderr; "exit status N" when it failed>
//
// Batch mode (-B, tab-separated) unless table (-t); force (--force) goes
// on after errors.
func testMySQLMariaDBCLI(t *testing.T, addr string) {
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		t.Skip("mariadb CLI not installed (apt-get install -y mariadb-client); skipping the C client test")
	}
	host, port, _ := net.SplitHostPort(addr)
	datadriven.Walk(t, "testdata/mysql", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "mariadb" {
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			// --skip-ssl: the server offers no TLS, and without it the client
			// would send a password in clear (root has none, but say so).
			args := []string{"--no-defaults", "--protocol=tcp", "-h", host, "-P", port, "-u", "root", "--skip-ssl", "--unbuffered"}
			if d.HasArg("table") {
				args = append(args, "-t")
			} else {
				args = append(args, "-B")
			}
			if d.HasArg("force") {
				args = append(args, "--force")
			}
			if d.HasArg("db") {
				var db string
				d.ScanArgs(t, "db", &db)
				args = append(args, db)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Stdin = strings.NewReader(d.Input)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(&out, "%v\n", err)
			}
			return out.String()
		})
	})
}

// A raw protocol client, for what go-sql-driver does not expose.

// Commands the raw client sends (mysqlwire names them only internally).
const (
	comQuery           = 0x03
	comFieldList       = 0x04
	comStmtPrepare     = 0x16
	comStmtExecute     = 0x17
	comResetConnection = 0x1f
)

// statusInformational are the index-use flags, which say nothing about
// the session.
const statusInformational = mysqlwire.StatusNoGoodIndexUsed | mysqlwire.StatusNoIndexUsed

type rawConn struct {
	nc      net.Conn
	seq     byte
	version string
}

// rawResult is one result: rows (text, "NULL" for NULL), the status flags
// of its final packet, or an error as "CODE STATE message".
type rawResult struct {
	rows   [][]string
	status uint16
	err    string
}

// dialRaw connects as root (empty password, caching_sha2_password) with
// the given extra capability flags.
func dialRaw(t *testing.T, addr string, flags uint32) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(2 * time.Minute))
	c := &rawConn{nc: nc}
	greeting := c.read(t)
	if greeting[0] != 10 {
		t.Fatalf("greeting: protocol %d", greeting[0])
	}
	c.version = string(greeting[1 : 1+bytes.IndexByte(greeting[1:], 0)])
	caps := mysqlwire.ClientProtocol41 | mysqlwire.ClientTransactions | mysqlwire.ClientSecureConnection | mysqlwire.ClientPluginAuth | flags
	resp := binary.LittleEndian.AppendUint32(nil, caps)
	resp = binary.LittleEndian.AppendUint32(resp, 1<<24)
	resp = append(resp, 45)
	resp = append(resp, make([]byte, 23)...)
	resp = append(resp, "root\x00"...)
	resp = append(resp, 0) // empty auth response
	resp = append(resp, "caching_sha2_password\x00"...)
	c.write(t, resp)
	if ok := c.read(t); ok[0] != 0 {
		t.Fatalf("login: %s", errText(ok))
	}
	return c
}

func (c *rawConn) write(t *testing.T, payload []byte) {
	t.Helper()
	hdr := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), c.seq}
	c.seq++
	if _, err := c.nc.Write(append(hdr, payload...)); err != nil {
		t.Fatal(err)
	}
}

func (c *rawConn) read(t *testing.T) []byte {
	t.Helper()
	var hdr [4]byte
	if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
		t.Fatal(err)
	}
	c.seq = hdr[3] + 1
	p := make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)
	if _, err := io.ReadFull(c.nc, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func errText(p []byte) string {
	if len(p) < 9 || p[0] != 0xff {
		return fmt.Sprintf("unexpected packet %x", p)
	}
	return fmt.Sprintf("%d %s %s", binary.LittleEndian.Uint16(p[1:]), p[4:9], p[9:])
}

func lenEnc(p []byte) (uint64, []byte) {
	switch p[0] {
	case 0xfc:
		return uint64(binary.LittleEndian.Uint16(p[1:])), p[3:]
	case 0xfd:
		return uint64(p[1]) | uint64(p[2])<<8 | uint64(p[3])<<16, p[4:]
	case 0xfe:
		return binary.LittleEndian.Uint64(p[1:]), p[9:]
	}
	return uint64(p[0]), p[1:]
}

func lenEncString(p []byte) (string, []byte) {
	n, p := lenEnc(p)
	return string(p[:n]), p[n:]
}

func isEOF(p []byte) bool { return p[0] == 0xfe && len(p) < 9 }

func (c *rawConn) command(t *testing.T, cmd byte, arg []byte) rawResult {
	t.Helper()
	c.seq = 0
	c.write(t, append([]byte{cmd}, arg...))
	return c.readResult(t, false)
}

func (c *rawConn) query(t *testing.T, q string) rawResult {
	t.Helper()
	return c.command(t, comQuery, []byte(q))
}

// queryAll reads every result of a multi-statement query.
func (c *rawConn) queryAll(t *testing.T, q string) []rawResult {
	t.Helper()
	res := []rawResult{c.query(t, q)}
	for res[len(res)-1].err == "" && res[len(res)-1].status&mysqlwire.StatusMoreResultsExists != 0 {
		res = append(res, c.readResult(t, false))
	}
	return res
}

// readResult reads an OK, an ERR or a result set with text rows (binary
// rows of string columns only, enough for CAST(... AS CHAR)).
func (c *rawConn) readResult(t *testing.T, binaryRows bool) rawResult {
	t.Helper()
	p := c.read(t)
	switch p[0] {
	case 0x00:
		_, rest := lenEnc(p[1:])
		_, rest = lenEnc(rest)
		return rawResult{status: binary.LittleEndian.Uint16(rest)}
	case 0xff:
		return rawResult{err: errText(p)}
	}
	ncols, _ := lenEnc(p)
	for range ncols {
		c.read(t)
	}
	if p := c.read(t); !isEOF(p) {
		t.Fatalf("no EOF after the column definitions: %x", p)
	}
	var res rawResult
	for {
		p := c.read(t)
		if p[0] == 0xff {
			return rawResult{err: errText(p)}
		}
		if isEOF(p) {
			res.status = binary.LittleEndian.Uint16(p[3:])
			return res
		}
		var row []string
		if binaryRows {
			nulls, rest := p[1:1+(int(ncols)+9)/8], p[1+(int(ncols)+9)/8:]
			for i := range int(ncols) {
				if nulls[(i+2)/8]&(1<<((i+2)%8)) != 0 {
					row = append(row, "NULL")
					continue
				}
				var v string
				v, rest = lenEncString(rest)
				row = append(row, v)
			}
		} else {
			for rest := p; len(rest) > 0; {
				if rest[0] == 0xfb {
					row, rest = append(row, "NULL"), rest[1:]
					continue
				}
				var v string
				v, rest = lenEncString(rest)
				row = append(row, v)
			}
		}
		res.rows = append(res.rows, row)
	}
}

// fieldList sends COM_FIELD_LIST and returns the column names, or the
// error.
func (c *rawConn) fieldList(t *testing.T, table, wildcard string) ([]string, string) {
	t.Helper()
	c.seq = 0
	c.write(t, append([]byte{comFieldList}, table+"\x00"+wildcard...))
	var names []string
	for {
		p := c.read(t)
		if p[0] == 0xff {
			return nil, errText(p)
		}
		if isEOF(p) {
			return names, ""
		}
		rest := p
		for range 4 { // catalog, schema, table, org_table
			_, rest = lenEncString(rest)
		}
		name, _ := lenEncString(rest)
		names = append(names, name)
	}
}

// prepare returns the statement id, after reading the parameter and
// column definitions.
func (c *rawConn) prepare(t *testing.T, q string) uint32 {
	t.Helper()
	c.seq = 0
	c.write(t, append([]byte{comStmtPrepare}, q...))
	p := c.read(t)
	if p[0] != 0 {
		t.Fatalf("prepare %s: %s", q, errText(p))
	}
	id := binary.LittleEndian.Uint32(p[1:])
	ncols, nparams := int(binary.LittleEndian.Uint16(p[5:])), int(binary.LittleEndian.Uint16(p[7:]))
	for _, n := range []int{nparams, ncols} {
		if n == 0 {
			continue
		}
		for range n {
			c.read(t)
		}
		if p := c.read(t); !isEOF(p) {
			t.Fatalf("no EOF after the definitions: %x", p)
		}
	}
	return id
}

type rawParam struct {
	typ byte
	val []byte
}

func timeParam(d time.Duration) rawParam {
	neg := byte(0)
	if d < 0 {
		neg, d = 1, -d
	}
	v := []byte{12, neg}
	v = binary.LittleEndian.AppendUint32(v, uint32(d/(24*time.Hour)))
	v = append(v, byte(d/time.Hour%24), byte(d/time.Minute%60), byte(d/time.Second%60))
	v = binary.LittleEndian.AppendUint32(v, uint32(d%time.Second/time.Microsecond))
	return rawParam{mysqlwire.TypeTime, v}
}

func datetimeParam(tm time.Time) rawParam {
	v := binary.LittleEndian.AppendUint16([]byte{11}, uint16(tm.Year()))
	v = append(v, byte(tm.Month()), byte(tm.Day()), byte(tm.Hour()), byte(tm.Minute()), byte(tm.Second()))
	v = binary.LittleEndian.AppendUint32(v, uint32(tm.Nanosecond()/1000))
	return rawParam{mysqlwire.TypeDatetime, v}
}

func (c *rawConn) execute(t *testing.T, id uint32, params ...rawParam) rawResult {
	t.Helper()
	b := binary.LittleEndian.AppendUint32([]byte{comStmtExecute}, id)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = append(b, make([]byte, (len(params)+7)/8)...) // no NULLs
	b = append(b, 1)
	for _, p := range params {
		b = append(b, p.typ, 0)
	}
	for _, p := range params {
		b = append(b, p.val...)
	}
	c.seq = 0
	c.write(t, b)
	return c.readResult(t, true)
}
