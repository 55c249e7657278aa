package driver_test

// End-to-end tests: database/sql with this driver against an in-process
// three-node cluster (real gRPC on loopback, real engine and transaction
// layer).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	mdriver "github.com/meridiandb/meridian/driver"
	"github.com/meridiandb/meridian/server/servertest"
)

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := servertest.Start(t, servertest.Options{Nodes: 3})
	base := "meridian://root@" + c.Addr(0) + "/"
	admin := open(t, base)
	mustExec(t, admin, "CREATE DATABASE e2e")
	dsn := base + "e2e"
	t.Run("basics", func(t *testing.T) { testBasics(t, dsn) })
	t.Run("types", func(t *testing.T) { testTypes(t, dsn) })
	t.Run("prepared", func(t *testing.T) { testPrepared(t, dsn) })
	t.Run("transactions", func(t *testing.T) { testTransactions(t, dsn) })
	t.Run("errors", func(t *testing.T) { testErrors(t, base, dsn) })
	t.Run("result-sets", func(t *testing.T) { testResultSets(t, dsn) })
	t.Run("cancel", func(t *testing.T) { testCancel(t, dsn) })
	t.Run("session", func(t *testing.T) { testSession(t, dsn, "meridian://root@"+c.Addr(2)+"/e2e") })
}

func open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("meridian", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, query string, args ...any) sql.Result {
	t.Helper()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return res
}

func sqlCode(err error) uint16 {
	var e *mdriver.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func testBasics(t *testing.T, dsn string) {
	db := open(t, dsn)
	mustExec(t, db, "CREATE TABLE kv (id BIGINT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(20) NOT NULL UNIQUE, v INT)")
	res := mustExec(t, db, "INSERT INTO kv (k, v) VALUES ('a', 1), ('b', 2), ('c', NULL)")
	if n, _ := res.RowsAffected(); n != 3 {
		t.Errorf("RowsAffected = %d, want 3", n)
	}
	first, _ := res.LastInsertId()
	if first == 0 {
		t.Errorf("LastInsertId = 0 after an AUTO_INCREMENT insert")
	}
	res = mustExec(t, db, "UPDATE kv SET v = v + 10 WHERE v IS NOT NULL")
	if n, _ := res.RowsAffected(); n != 2 {
		t.Errorf("UPDATE RowsAffected = %d, want 2", n)
	}
	rows, err := db.Query("SELECT k, v FROM kv ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var k string
		var v sql.NullInt64
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s=%v/%v", k, v.Int64, v.Valid))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=11/true", "b=12/true", "c=0/false"}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	// A query with arguments (prepared, executed and dropped in one trip).
	var v int
	if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", "b").Scan(&v); err != nil || v != 12 {
		t.Errorf("point query: %d, %v", v, err)
	}
	if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", "zz").Scan(&v); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("point query of a missing key: %v", err)
	}
	// Many rows stream in several batches.
	mustExec(t, db, "CREATE TABLE seq (n INT PRIMARY KEY, pad VARCHAR(200))")
	const many = 3000
	pad := strings.Repeat("x", 100)
	var vals []string
	for i := 0; i < many; i++ {
		vals = append(vals, fmt.Sprintf("(%d, '%s')", i, pad))
	}
	mustExec(t, db, "INSERT INTO seq VALUES "+strings.Join(vals, ","))
	rows, err = db.Query("SELECT n, pad FROM seq ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var i int
		var p string
		if err := rows.Scan(&i, &p); err != nil {
			t.Fatal(err)
		}
		if i != n || p != pad {
			t.Fatalf("row %d: %d %q", n, i, p)
		}
		n++
	}
	if err := rows.Err(); err != nil || n != many {
		t.Fatalf("%d rows of %d: %v", n, many, err)
	}
	// Closing a large result early leaves the connection usable.
	db.SetMaxOpenConns(1)
	rows, err = db.Query("SELECT n FROM seq")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM seq").Scan(&n); err != nil || n != many {
		t.Fatalf("COUNT(*) after an early close: %d, %v", n, err)
	}
}

func testTypes(t *testing.T, dsn string) {
	db := open(t, dsn)
	mustExec(t, db, `CREATE TABLE types (id INT PRIMARY KEY, ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT NOT NULL,
		bi BIGINT, ubi BIGINT UNSIGNED, f FLOAT, d DOUBLE, de DECIMAL(10,3), c CHAR(5), vc VARCHAR(20), tx TEXT,
		bn BINARY(3), vb VARBINARY(10), bl BLOB, b BOOL, dt DATE, dtm DATETIME(3), ts TIMESTAMP(6))`)
	ins, err := db.Prepare("INSERT INTO types VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	dtm := time.Date(2024, 1, 2, 3, 4, 5, 120_000_000, time.UTC)
	ts := time.Date(2030, 6, 7, 8, 9, 10, 123456000, time.UTC)
	if _, err := ins.Exec(1, int8(-128), int16(32767), -8388608, int32(math.MinInt32), int64(math.MaxInt64),
		uint64(math.MaxUint64), float32(3.14), 2.5, "-12.345", "abc", "héllo", strings.Repeat("t", 1000),
		[]byte{1, 2}, []byte{0, 0xff}, []byte("blob"), true, day, dtm, ts); err != nil {
		t.Fatal(err)
	}
	// Everything NULL but the NOT NULL column.
	args := make([]any, 20)
	args[0], args[4] = 2, 0
	if _, err := ins.Exec(args...); err != nil {
		t.Fatal(err)
	}

	rows, err := db.Query("SELECT * FROM types ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{"INT", "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "UNSIGNED BIGINT", "FLOAT", "DOUBLE",
		"DECIMAL", "CHAR", "VARCHAR", "TEXT", "BINARY", "VARBINARY", "BLOB", "TINYINT", "DATE", "DATETIME", "TIMESTAMP"}
	for i, ct := range cts {
		if ct.DatabaseTypeName() != wantTypes[i] {
			t.Errorf("column %s: type %s, want %s", ct.Name(), ct.DatabaseTypeName(), wantTypes[i])
		}
	}
	if nullable, ok := cts[4].Nullable(); nullable || !ok {
		t.Errorf("i INT NOT NULL: Nullable() = %v, %v", nullable, ok)
	}
	if nullable, ok := cts[5].Nullable(); !nullable || !ok {
		t.Errorf("bi BIGINT: Nullable() = %v, %v", nullable, ok)
	}
	if p, s, ok := cts[9].DecimalSize(); p != 10 || s != 3 || !ok {
		t.Errorf("DECIMAL(10,3): DecimalSize() = %d, %d, %v", p, s, ok)
	}
	if l, ok := cts[11].Length(); l != 20 || !ok {
		t.Errorf("VARCHAR(20): Length() = %d, %v", l, ok)
	}
	if st := cts[6].ScanType().String(); st != "sql.Null[uint64]" {
		t.Errorf("BIGINT UNSIGNED scan type %s", st)
	}
	want := []any{int64(1), int64(-128), int64(32767), int64(-8388608), int64(math.MinInt32), int64(math.MaxInt64),
		uint64(math.MaxUint64), float32(3.14), 2.5, "-12.345", "abc", "héllo", strings.Repeat("t", 1000),
		[]byte{1, 2, 0}, []byte{0, 0xff}, []byte("blob"), int64(1), day, dtm, ts}
	vals := scanRow(t, rows, len(cts))
	for i := range want {
		if !equalValue(vals[i], want[i]) {
			t.Errorf("column %s: %#v, want %#v", cts[i].Name(), vals[i], want[i])
		}
	}
	vals = scanRow(t, rows, len(cts))
	for i, v := range vals {
		if i != 0 && i != 4 && v != nil {
			t.Errorf("column %s: %#v, want NULL", cts[i].Name(), v)
		}
	}
	if rows.Next() {
		t.Error("a third row")
	}

	// Typed scanning through database/sql's conversions.
	var (
		f64  float64
		dec  string
		when time.Time
		ok   bool
		u    uint64
	)
	if err := db.QueryRow("SELECT f, de, dtm, b, ubi FROM types WHERE id = 1").Scan(&f64, &dec, &when, &ok, &u); err != nil {
		t.Fatal(err)
	}
	if f64 != 3.14 || dec != "-12.345" || !when.Equal(dtm) || !ok || u != math.MaxUint64 {
		t.Errorf("scanned %v %q %v %v %d", f64, dec, when, ok, u)
	}
	// Arguments come back as they were sent.
	var echo []any = []any{uint64(math.MaxUint64), int64(-3), 1.25, "s", []byte("b"), dtm}
	rows2, err := db.Query("SELECT ?, ?, ?, ?, ?, ?", echo...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows2.Close()
	got := scanRow(t, rows2, len(echo))
	for i := range echo {
		if !equalValue(got[i], echo[i]) {
			t.Errorf("SELECT ? of %#v: %#v", echo[i], got[i])
		}
	}

	// textValues: floats and times as MySQL prints them (the column's
	// fractional digits; exponents as 1e100), the same text CAST gives.
	var fText, dText, big, bigCast, dtText, tsText, dayText string
	if err := open(t, dsn+"?textValues=true").QueryRow("SELECT f, d, 1e100, CAST(1e100 AS CHAR), dtm, ts, dt FROM types WHERE id = 1").
		Scan(&fText, &dText, &big, &bigCast, &dtText, &tsText, &dayText); err != nil {
		t.Fatal(err)
	}
	if fText != "3.14" || dText != "2.5" || big != bigCast || dtText != "2024-01-02 03:04:05.120" ||
		tsText != "2030-06-07 08:09:10.123456" || dayText != "2024-02-29" {
		t.Errorf("values as text: %q %q %q (CAST: %q) %q %q %q", fText, dText, big, bigCast, dtText, tsText, dayText)
	}
}

func scanRow(t *testing.T, rows *sql.Rows, n int) []any {
	t.Helper()
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	return vals
}

func equalValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && string(ab) == string(bb)
	}
	if at, ok := a.(time.Time); ok {
		bt, ok := b.(time.Time)
		return ok && at.Equal(bt)
	}
	return a == b
}

func testPrepared(t *testing.T, dsn string) {
	db := open(t, dsn)
	mustExec(t, db, "CREATE TABLE p (id INT PRIMARY KEY, name VARCHAR(10))")
	ins, err := db.Prepare("INSERT INTO p VALUES (?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := ins.Exec(i, fmt.Sprintf("n%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ins.Exec(1); err == nil {
		t.Error("Exec with too few arguments succeeded")
	}
	if _, err := ins.Exec(1, "dup"); sqlCode(err) != 1062 {
		t.Errorf("duplicate key through a prepared statement: %v", err)
	}
	if err := ins.Close(); err != nil {
		t.Fatal(err)
	}
	sel, err := db.Prepare("SELECT name FROM p WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	for i := 0; i < 20; i++ {
		var name string
		if err := sel.QueryRow(i).Scan(&name); err != nil || name != fmt.Sprintf("n%d", i) {
			t.Fatalf("id %d: %q, %v", i, name, err)
		}
	}
	// A statement prepared on a pooled connection stays usable after the
	// connection went back to the pool (ResetSession keeps it).
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM p").Scan(&n); err != nil || n != 20 {
		t.Fatalf("COUNT(*) = %d, %v", n, err)
	}
	var name string
	if err := sel.QueryRow(3).Scan(&name); err != nil || name != "n3" {
		t.Fatalf("prepared statement after pool reuse: %q, %v", name, err)
	}
	if _, err := db.Prepare("SELECT * FROM nosuch WHERE id = ?"); sqlCode(err) != 1146 {
		t.Errorf("prepare of a missing table: %v", err)
	}
}

func testTransactions(t *testing.T, dsn string) {
	db := open(t, dsn)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE acct (id INT PRIMARY KEY, bal INT NOT NULL)")
	mustExec(t, db, "INSERT INTO acct VALUES (1, 100), (2, 100)")
	total := func() int {
		var s int
		if err := db.QueryRow("SELECT SUM(bal) FROM acct").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE acct SET bal = bal - 30 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE acct SET bal = bal + 30 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	var b int
	if err := tx.QueryRow("SELECT bal FROM acct WHERE id = 1").Scan(&b); err != nil || b != 70 {
		t.Fatalf("read own write: %d, %v", b, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT bal FROM acct WHERE id = 2").Scan(&b); err != nil || b != 130 {
		t.Fatalf("after commit: %d, %v", b, err)
	}

	tx, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("DELETE FROM acct"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if s := total(); s != 200 {
		t.Fatalf("after rollback the total is %d", s)
	}

	ro, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var s int
	if err := ro.QueryRow("SELECT SUM(bal) FROM acct").Scan(&s); err != nil || s != 200 {
		t.Fatalf("read-only transaction: %d, %v", s, err)
	}
	if _, err := ro.Exec("UPDATE acct SET bal = 0"); sqlCode(err) != 1792 {
		t.Errorf("write in a read-only transaction: %v", err)
	}
	if err := ro.Commit(); err != nil {
		t.Fatal(err)
	}

	if _, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead}); err == nil ||
		!strings.Contains(err.Error(), "strictly serializable") {
		t.Errorf("REPEATABLE READ: %v", err)
	}

	// A transaction whose context ends is rolled back by database/sql.
	cctx, cancel := context.WithCancel(ctx)
	tx, err = db.BeginTx(cctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE acct SET bal = 0 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := tx.Commit(); err == nil {
		t.Fatal("commit after the context ended succeeded")
	}
	if s := total(); s != 200 {
		t.Fatalf("after a cancelled transaction the total is %d", s)
	}
}

func testErrors(t *testing.T, base, dsn string) {
	db := open(t, dsn)
	_, err := db.Query("SELECT * FROM missing")
	var e *mdriver.Error
	if !errors.As(err, &e) {
		t.Fatalf("missing table: %v (%T)", err, err)
	}
	if got := err.Error(); got != "Error 1146 (42S02): Table 'e2e.missing' doesn't exist" {
		t.Errorf("message %q", got)
	}
	code, state, _ := e.MySQLError()
	if code != 1146 || state != "42S02" {
		t.Errorf("MySQLError() = %d %s", code, state)
	}
	if _, err := db.Exec("SELEKT 1"); sqlCode(err) != 1064 {
		t.Errorf("syntax error: %v", err)
	}
	mustExec(t, db, "CREATE TABLE u (id INT PRIMARY KEY)")
	mustExec(t, db, "INSERT INTO u VALUES (1)")
	if _, err := db.Exec("INSERT INTO u VALUES (1)"); sqlCode(err) != 1062 {
		t.Errorf("duplicate key: %v", err)
	}
	if _, err := db.Exec("CREATE TABLE u (id INT)"); sqlCode(err) != 1050 {
		t.Errorf("existing table: %v", err)
	}
	if err := open(t, base+"nosuchdb").Ping(); sqlCode(err) != 1049 {
		t.Errorf("unknown database: %v", err)
	}
	// Errors leave the connection usable.
	db.SetMaxOpenConns(1)
	for i := 0; i < 3; i++ {
		if _, err := db.Exec("INSERT INTO u VALUES (1)"); sqlCode(err) != 1062 {
			t.Fatal(err)
		}
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
}

func testResultSets(t *testing.T, dsn string) {
	db := open(t, dsn)
	db.SetMaxOpenConns(1)
	rows, err := db.Query("CREATE TABLE rs (id INT PRIMARY KEY); INSERT INTO rs VALUES (1), (2); SELECT id FROM rs ORDER BY id; SELECT 'x' AS s")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var sets [][]string
	for {
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		set := []string{strings.Join(cols, ",")}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			set = append(set, v)
		}
		sets = append(sets, set)
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{""}, {""}, {"id", "1", "2"}, {"s", "x"}}
	if fmt.Sprint(sets) != fmt.Sprint(want) {
		t.Errorf("result sets %v, want %v", sets, want)
	}
	// Exec of several statements reports the last one; a failing one
	// stops them.
	res, err := db.Exec("INSERT INTO rs VALUES (3); DELETE FROM rs WHERE id < 3")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Errorf("RowsAffected of the last statement = %d", n)
	}
	if _, err := db.Exec("INSERT INTO rs VALUES (4); INSERT INTO rs VALUES (4); INSERT INTO rs VALUES (5)"); sqlCode(err) != 1062 {
		t.Errorf("duplicate in the middle: %v", err)
	}
	var ids []int
	rows2, err := db.Query("SELECT id FROM rs")
	if err != nil {
		t.Fatal(err)
	}
	for rows2.Next() {
		var id int
		_ = rows2.Scan(&id)
		ids = append(ids, id)
	}
	sort.Ints(ids)
	if fmt.Sprint(ids) != "[3 4]" {
		t.Errorf("ids %v, want [3 4] (the statement after the failing one must not run)", ids)
	}
}

func testCancel(t *testing.T, dsn string) {
	db := open(t, dsn)
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE big (id INT PRIMARY KEY)")
	var vals []string
	for i := 0; i < 200; i++ {
		vals = append(vals, fmt.Sprintf("(%d)", i))
	}
	mustExec(t, db, "INSERT INTO big VALUES "+strings.Join(vals, ","))
	// 8 million rows: far longer than the deadline.
	const slow = "SELECT a.id, b.id, c.id FROM big a, big b, big c"
	// A pinned connection: had the driver given it up, its next use would
	// fail with driver.ErrBadConn instead of taking a new one.
	bg := context.Background()
	conn, err := db.Conn(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	count := func(what string) {
		t.Helper()
		var n int
		if err := conn.QueryRowContext(bg, "SELECT COUNT(*) FROM big").Scan(&n); err != nil || n != 200 {
			t.Fatalf("%s: %d, %v", what, n, err)
		}
	}
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	if _, err := conn.ExecContext(ctx, slow); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec with a deadline: %v", err)
	}
	count("after the cancel")

	// Cancelling while reading rows.
	ctx, cancel = context.WithCancel(bg)
	rows, err := conn.QueryContext(ctx, slow)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10 && rows.Next(); i++ {
	}
	cancel()
	for rows.Next() {
	}
	if err := rows.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("rows.Err() after cancel: %v", err)
	}
	count("after cancelling rows")

	// In a transaction: the statement is interrupted and database/sql
	// rolls the transaction back (itself, once the context ended: the
	// pinned connection would run the next statement beside that
	// rollback, so this part uses the pool, which waits for it). The
	// pool's one connection must be the same driver connection after.
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	before := driverConn(t, db)
	ctx, cancel = context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM big WHERE id < 10"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, slow); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec in a transaction with a deadline: %v", err)
	}
	_ = tx.Rollback()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM big").Scan(&n); err != nil || n != 200 {
		t.Fatalf("after the cancelled transaction: %d, %v", n, err)
	}
	if driverConn(t, db) != before {
		t.Fatal("the cancelled transaction cost the connection")
	}
}

// driverConn returns the driver connection behind the pool's (only)
// connection.
func driverConn(t *testing.T, db *sql.DB) any {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var dc any
	if err := conn.Raw(func(c any) error { dc = c; return nil }); err != nil {
		t.Fatal(err)
	}
	return dc
}

func testSession(t *testing.T, dsn, otherNode string) {
	// staleness sets the session's bounded staleness.
	stale := open(t, dsn+"?staleness=2s&region=local")
	var v string
	if err := stale.QueryRow("SELECT @@read_staleness").Scan(&v); err != nil || v != "2s" {
		t.Fatalf("@@read_staleness = %q, %v", v, err)
	}
	mustExec(t, stale, "CREATE TABLE st (id INT PRIMARY KEY)")
	mustExec(t, stale, "INSERT INTO st VALUES (1)")
	// A bounded-stale read may be older than the table (then it is error
	// 1146, or 1049 for a database, as of that snapshot), but within the
	// bound it sees the row.
	var n int
	deadline := time.Now().Add(30 * time.Second)
	for {
		tx, err := stale.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		err = tx.QueryRow("SELECT COUNT(*) FROM st").Scan(&n)
		_ = tx.Commit()
		if err == nil && n == 1 {
			break
		}
		if code := sqlCode(err); err != nil && code != 1146 && code != 1049 {
			t.Fatalf("bounded-stale read-only transaction: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("a bounded-stale (2s) read did not see a row written 30s ago: %d, %v", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Reset (through Conn.Raw) clears session variables but keeps the
	// DSN's staleness and the database.
	ctx := context.Background()
	conn, err := stale.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET @x = 5"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Raw(func(c any) error {
		return c.(interface{ Reset(context.Context) error }).Reset(ctx)
	}); err != nil {
		t.Fatal(err)
	}
	var x sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT @x").Scan(&x); err != nil || x.Valid {
		t.Fatalf("@x after Reset = %v, %v", x, err)
	}
	var db string
	if err := conn.QueryRowContext(ctx, "SELECT @@read_staleness, DATABASE()").Scan(&v, &db); err != nil || v != "2s" || db != "e2e" {
		t.Fatalf("@@read_staleness, DATABASE() after Reset = %q, %q, %v", v, db, err)
	}

	// Another node serves the same data.
	other := open(t, otherNode)
	if err := other.QueryRow("SELECT COUNT(*) FROM st").Scan(&n); err != nil || n != 1 {
		t.Fatalf("through another node: %d, %v", n, err)
	}
}

// BenchmarkPointSelect measures a primary-key point SELECT through
// database/sql and the driver against a three-node cluster on loopback;
// it reports the median latency.
func BenchmarkPointSelect(b *testing.B) {
	c := servertest.Start(b, servertest.Options{Nodes: 3})
	db := open(b, "meridian://root@"+c.Addr(0)+"/")
	mustExec(b, db, "CREATE DATABASE bench")
	mustExec(b, db, "CREATE TABLE bench.t (id INT PRIMARY KEY, v VARCHAR(20))")
	mustExec(b, db, "INSERT INTO bench.t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	for _, mode := range []string{"args", "prepared", "select-1"} {
		b.Run(mode, func(b *testing.B) {
			var stmt *sql.Stmt
			if mode == "prepared" {
				var err error
				if stmt, err = db.Prepare("SELECT v FROM bench.t WHERE id = ?"); err != nil {
					b.Fatal(err)
				}
				defer stmt.Close()
			}
			lat := make([]time.Duration, 0, b.N)
			var v string
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				var err error
				switch {
				case mode == "select-1":
					// The protocol's floor: no table, no transaction.
					err = db.QueryRow("SELECT 'one'").Scan(&v)
				case stmt != nil:
					err = stmt.QueryRow(i%3 + 1).Scan(&v)
				default:
					err = db.QueryRow("SELECT v FROM bench.t WHERE id = ?", i%3+1).Scan(&v)
				}
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
