package mysqlwire

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Tests in this file use go-sql-driver/mysql, a real client, against the
// server and the toy engine of engine_test.go.

// eofModes runs f once with CLIENT_DEPRECATE_EOF offered (what current
// clients negotiate) and once without (EOF packets, as older clients and
// servers use).
func eofModes(t *testing.T, f func(t *testing.T, tweak func(*Server))) {
	t.Run("deprecate_eof", func(t *testing.T) { f(t, func(*Server) {}) })
	t.Run("eof_packets", func(t *testing.T) {
		f(t, func(s *Server) { s.capabilities &^= ClientDeprecateEOF })
	})
}

func TestQueryAndConnectInfo(t *testing.T) {
	eofModes(t, func(t *testing.T, tweak func(*Server)) {
		eng := newTestEngine()
		opened := make(chan ConnInfo, 10)
		eng.onOpen = func(c ConnInfo) { opened <- c }
		_, addr := startServer(t, Config{Handler: eng}, tweak)
		db := openDB(t, "root", addr, "")

		var comment string
		if err := db.QueryRow("select @@version_comment limit 1").Scan(&comment); err != nil {
			t.Fatal(err)
		}
		if comment != "Meridian test engine" {
			t.Fatalf("got %q", comment)
		}
		info := <-opened
		if info.User != "root" || info.Database != "" || info.ID == 0 || info.Attrs["_client_name"] != "Go-MySQL-Driver" {
			t.Fatalf("ConnInfo %+v", info)
		}
		var id int64
		if err := db.QueryRow("select connection_id()").Scan(&id); err != nil || id != int64(info.ID) {
			t.Fatalf("connection_id %d, %v; handshake said %d", id, err, info.ID)
		}

		// A database in the DSN reaches Open; an unknown one fails there.
		dbTest, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/test", addr))
		if err != nil {
			t.Fatal(err)
		}
		defer dbTest.Close()
		var name string
		if err := dbTest.QueryRow("select database()").Scan(&name); err != nil || name != "test" {
			t.Fatalf("database() = %q, %v", name, err)
		}
		dbBad, _ := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/nope", addr))
		defer dbBad.Close()
		checkMySQLError(t, dbBad.Ping(), 1049, "42000")
	})
}

// normalize turns what go-sql-driver returns for column col into one
// comparable form: numbers by value, bytes as strings, times as RFC 3339.
func normalize(t *testing.T, col Column, v any) string {
	t.Helper()
	if v == nil {
		return "NULL"
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch classOf(col.Type) {
	case classFloat:
		var f float64
		switch x := v.(type) {
		case string:
			bits := 64
			if col.Type == TypeFloat {
				bits = 32
			}
			var err error
			if f, err = strconv.ParseFloat(x, bits); err != nil {
				t.Fatalf("column %s: %v", col.Name, err)
			}
		case float32:
			f = float64(x)
		case float64:
			f = x
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case classDate:
		if tm, ok := v.(time.Time); ok {
			return tm.Format(time.RFC3339Nano)
		}
	}
	return fmt.Sprint(v)
}

func scanAll(t *testing.T, rows *sql.Rows) [][]string {
	t.Helper()
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(typesCols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = normalize(t, typesCols[i], v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTextAndBinaryRows reads one result set of every column type over
// COM_QUERY (text rows) and COM_STMT_EXECUTE (binary rows): the session
// writes it the same way, the client must read the same values.
func TestTextAndBinaryRows(t *testing.T) {
	eofModes(t, func(t *testing.T, tweak func(*Server)) {
		_, addr := startServer(t, Config{}, tweak)
		db := openDB(t, "root", addr, "parseTime=true")
		rows, err := db.Query("select types")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.ColumnTypes()
		if cols[1].DatabaseTypeName() != "UNSIGNED TINYINT" || cols[12].DatabaseTypeName() != "VARCHAR" {
			t.Fatalf("column types %s %s", cols[1].DatabaseTypeName(), cols[12].DatabaseTypeName())
		}
		text := scanAll(t, rows)
		stmt, err := db.Prepare("select types")
		if err != nil {
			t.Fatal(err)
		}
		defer stmt.Close()
		rows, err = stmt.Query()
		if err != nil {
			t.Fatal(err)
		}
		bin := scanAll(t, rows)
		want := [][]string{
			{"-128", "255", "-32768", "-8388608", "-2147483648", "4294967295",
				"-9223372036854775808", "18446744073709551615", "2024",
				"1.5", "2.718281828459045", "12345678901234567890.123456789",
				"héllo, wörld", "\x00\x01\x02\x00\xff",
				"2024-02-29T00:00:00Z", "2024-02-29T13:14:15.123456Z", "1999-12-31T23:59:59Z",
				"-838:59:59.999", `{"a": [1, 2]}`, "NULL"},
			{"127", "NULL", "32767", "8388607", "2147483647", "0",
				"9223372036854775807", "0", "NULL",
				strconv.FormatFloat(float64(float32(-3.25e-10)), 'g', -1, 64), "-1e+300", "-0.000000001",
				"", "",
				"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "NULL",
				"00:00:00.000", "NULL", "NULL"},
		}
		if !reflect.DeepEqual(text, want) {
			t.Errorf("text rows\n got %q\nwant %q", text, want)
		}
		if !reflect.DeepEqual(bin, want) {
			t.Errorf("binary rows\n got %q\nwant %q", bin, want)
		}
	})
}

// TestPreparedParams sends every kind of value go-sql-driver binds as a
// binary parameter and reads it back from the echo statement.
func TestPreparedParams(t *testing.T) {
	eofModes(t, func(t *testing.T, tweak func(*Server)) {
		_, addr := startServer(t, Config{}, tweak)
		db := openDB(t, "root", addr, "parseTime=true")
		bin := []byte("a\x00b\x00\xff")
		var (
			gotNil                      sql.NullString
			gotMin, gotNeg              int64
			gotMax                      uint64
			gotF                        float64
			gotDec, gotStr, gotEmpty    string
			gotBin                      []byte
			gotTrue                     bool
			gotTime                     string
			gotF32                      float32
			gotNilBytes, gotNilAfterBin sql.NullString
		)
		tm := time.Date(2023, 7, 1, 12, 30, 45, 678900000, time.UTC)
		err := db.QueryRow("select ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?",
			nil, int64(math.MinInt64), uint64(math.MaxUint64), int64(-42), 3.141592653589793,
			"-12345678901234567890.000000001", "héllo", "", bin, true, tm, float32(0.1), []byte(nil), nil,
		).Scan(&gotNil, &gotMin, &gotMax, &gotNeg, &gotF, &gotDec, &gotStr, &gotEmpty, &gotBin, &gotTrue, &gotTime, &gotF32, &gotNilBytes, &gotNilAfterBin)
		if err != nil {
			t.Fatal(err)
		}
		if gotNil.Valid || gotMin != math.MinInt64 || gotMax != math.MaxUint64 || gotNeg != -42 ||
			gotF != 3.141592653589793 || gotDec != "-12345678901234567890.000000001" || gotStr != "héllo" ||
			gotEmpty != "" || !bytes.Equal(gotBin, bin) || !gotTrue || gotF32 != 0.1 || gotNilBytes.Valid || gotNilAfterBin.Valid {
			t.Fatalf("echo: %v %v %v %v %v %q %q %q %q %v %v %v %v",
				gotNil, gotMin, gotMax, gotNeg, gotF, gotDec, gotStr, gotEmpty, gotBin, gotTrue, gotF32, gotNilBytes, gotNilAfterBin)
		}
		// go-sql-driver binds time.Time as a string in the connection's
		// time zone (UTC by default).
		if gotTime != "2023-07-01 12:30:45.6789" {
			t.Fatalf("time param came back as %q", gotTime)
		}

		// A prepared statement executed again without rebinding types reuses
		// the remembered ones (go-sql-driver always rebinds, so the raw
		// decoding test covers the other way).
		stmt, err := db.Prepare("insert into kv values (?, ?)")
		if err != nil {
			t.Fatal(err)
		}
		defer stmt.Close()
		var lastID int64
		for i := range 3 {
			res, err := stmt.Exec(fmt.Sprintf("k%d", i), i)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("affected %d", n)
			}
			id, _ := res.LastInsertId()
			if id <= lastID {
				t.Fatalf("insert id %d after %d", id, lastID)
			}
			lastID = id
		}
		var v string
		if err := db.QueryRow("select v from kv where k = ?", "k2").Scan(&v); err != nil || v != "2" {
			t.Fatalf("kv: %q, %v", v, err)
		}
		if err := db.QueryRow("select v from kv where k = ?", "none").Scan(&v); err != sql.ErrNoRows {
			t.Fatalf("missing row: %v", err)
		}
	})
}

// TestLongData sends a parameter with COM_STMT_SEND_LONG_DATA, which
// go-sql-driver does when a value exceeds its share of max_allowed_packet.
func TestLongData(t *testing.T) {
	_, addr := startServer(t, Config{})
	db := openDB(t, "root", addr, "maxAllowedPacket=65536")
	big := bytes.Repeat([]byte("0123456789\x00"), 30000) // 330 kB: several chunks
	var got []byte
	var small int64
	if err := db.QueryRow("select ?, ?", big, int64(7)).Scan(&got, &small); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) || small != 7 {
		t.Fatalf("long data came back with %d bytes, %d", len(got), small)
	}
	// The long data of one execution does not leak into the next.
	if err := db.QueryRow("select ?, ?", []byte("short"), int64(8)).Scan(&got, &small); err != nil || string(got) != "short" {
		t.Fatalf("after long data: %q, %v", got, err)
	}
}

// TestPacketsOver16MiB crosses the 2^24-1 payload limit both ways: a query
// and a parameter split into several packets, results likewise.
func TestPacketsOver16MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves ~100 MiB")
	}
	_, addr := startServer(t, Config{})
	db := openDB(t, "root", addr, "")
	const n = 1<<24 + 100
	var s string
	if err := db.QueryRow("repeat " + strconv.Itoa(n)).Scan(&s); err != nil {
		t.Fatal(err)
	}
	if len(s) != n || strings.Trim(s, "x") != "" {
		t.Fatalf("got %d bytes", len(s))
	}
	// Exactly 2^24-1 bytes: the payload ends with an empty packet.
	if err := db.QueryRow("repeat " + strconv.Itoa(maxPacketChunk-4)).Scan(&s); err != nil || len(s) != maxPacketChunk-4 {
		t.Fatalf("got %d bytes, %v", len(s), err)
	}
	big := strings.Repeat("y", n)
	var back string
	if err := db.QueryRow("select ?", big).Scan(&back); err != nil || back != big {
		t.Fatalf("echo of %d bytes: %d bytes, %v", n, len(back), err)
	}
	// A 16 MiB query text: the statement is a syntax error, reported with
	// the text, so the whole query arrived.
	_, err := db.Exec("select " + strings.Repeat("z", n))
	checkMySQLError(t, err, 1064, "42000")
	if me := err.(*mysql.MySQLError); len(me.Message) < n {
		t.Fatalf("error message of %d bytes", len(me.Message))
	}
}

func TestMultiStatements(t *testing.T) {
	eofModes(t, func(t *testing.T, tweak func(*Server)) {
		_, addr := startServer(t, Config{}, tweak)
		db := openDB(t, "root", addr, "multiStatements=true")
		rows, err := db.Query("rows 2; begin; rows 3; commit; select 7")
		if err != nil {
			t.Fatal(err)
		}
		var counts []int
		for {
			n := 0
			for rows.Next() {
				n++
			}
			counts = append(counts, n)
			if !rows.NextResultSet() {
				break
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		// OK results in between (begin, commit) are skipped by the driver.
		if !reflect.DeepEqual(counts, []int{2, 3, 1}) {
			t.Fatalf("result sets of %v rows", counts)
		}

		// Exec of several statements; an error in the middle ends it and
		// reaches the client after the results before it.
		if _, err := db.Exec("begin; commit; set x=1"); err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec("begin; error 1146 42S02 no table; commit")
		checkMySQLError(t, err, 1146, "42S02")
		rows, err = db.Query("rows 1; error 1062 23000 Duplicate entry")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		if rows.NextResultSet() {
			t.Fatal("a result set after the error")
		}
		checkMySQLError(t, rows.Err(), 1062, "23000")
		rows.Close()
		// The connection is still usable.
		var n int
		if err := db.QueryRow("select 5").Scan(&n); err != nil || n != 5 {
			t.Fatalf("after errors: %d, %v", n, err)
		}

		// Without multiStatements the session refuses the text.
		db1 := openDB(t, "root", addr, "")
		_, err = db1.Exec("begin; commit")
		checkMySQLError(t, err, 1064, "42000")
	})
}

func TestTransactions(t *testing.T) {
	_, addr := startServer(t, Config{})
	db := openDB(t, "root", addr, "")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("insert into kv values (?, ?)", "t", "1"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	// Status flags as the wire carries them.
	eofModes(t, func(t *testing.T, tweak func(*Server)) {
		_, addr := startServer(t, Config{}, tweak)
		c := dialRaw(t, addr, "root", "", rawClientFlags|ClientDeprecateEOF|ClientMultiStatements, "")
		q := func(query string) rawResult {
			c.command(append([]byte{comQuery}, query...)...)
			return c.readResult(false)
		}
		if r := q("select 1"); r.status != StatusAutocommit || len(r.rows) != 1 {
			t.Fatalf("idle: %+v", r)
		}
		if r := q("begin"); r.status != StatusAutocommit|StatusInTrans {
			t.Fatalf("begin: %#x", r.status)
		}
		if r := q("rows 2"); r.status != StatusAutocommit|StatusInTrans {
			t.Fatalf("rows in txn: %#x", r.status)
		}
		if r := q("commit"); r.status != StatusAutocommit {
			t.Fatalf("commit: %#x", r.status)
		}
		if r := q("set autocommit=0"); r.status != 0 {
			t.Fatalf("autocommit off: %#x", r.status)
		}
		// Each result of a multi-statement carries its own statement's
		// state, and all but the last say more results follow.
		c.command(append([]byte{comQuery}, "begin; rows 1; commit"...)...)
		r1, r2, r3 := c.readResult(false), c.readResult(false), c.readResult(false)
		if r1.status != StatusInTrans|StatusMoreResultsExists || r2.status != StatusInTrans|StatusMoreResultsExists || r3.status != 0 {
			t.Fatalf("multi-statement statuses %#x %#x %#x", r1.status, r2.status, r3.status)
		}
		// After a failing statement: the result before it says more follow,
		// then the ERR.
		c.command(append([]byte{comQuery}, "rows 1; goerror"...)...)
		if r := c.readResult(false); r.status&StatusMoreResultsExists == 0 || len(r.rows) != 1 {
			t.Fatalf("before error: %+v", r)
		}
		checkError(t, c.readResult(false).err, ErrCodeUnknown)
	})
}

func TestErrors(t *testing.T) {
	_, addr := startServer(t, Config{})
	db := openDB(t, "root", addr, "")
	db.SetMaxOpenConns(1) // errors must not cost the connection
	_, err := db.Exec("error 1146 42S02 Table 'test.nope' doesn't exist")
	checkMySQLError(t, err, 1146, "42S02")
	if me := err.(*mysql.MySQLError); me.Message != "Table 'test.nope' doesn't exist" {
		t.Fatalf("message %q", me.Message)
	}
	_, err = db.Exec("goerror")
	checkMySQLError(t, err, ErrCodeUnknown, "HY000")
	// Prepared statements report errors the same way.
	_, err = db.Exec("error 1213 40001 Deadlock found ?", 1)
	checkMySQLError(t, err, 1213, "40001")
	// A value the column cannot carry fails in the middle of the result
	// set; the client sees the ERR in place of the rows' end.
	rows, err := db.Query("badrow")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	checkMySQLError(t, rows.Err(), ErrCodeUnknown, "HY000")
	rows.Close()
	var n int
	if err := db.QueryRow("select 3").Scan(&n); err != nil || n != 3 {
		t.Fatalf("after errors: %d, %v", n, err)
	}
	stats := db.Stats()
	if stats.OpenConnections != 1 {
		t.Fatalf("%d connections", stats.OpenConnections)
	}
}

// TestSessionPanic: a panicking session costs its connection only.
func TestSessionPanic(t *testing.T) {
	eng := newTestEngine()
	closed := make(chan uint32, 4)
	eng.onClose = func(id uint32) { closed <- id }
	_, addr := startServer(t, Config{Handler: eng})
	db := openDB(t, "root", addr, "")
	if _, err := db.Exec("panic"); err == nil {
		t.Fatal("no error from a panicking session")
	}
	<-closed // Session.Close still ran
	var n int
	if err := db.QueryRow("select 4").Scan(&n); err != nil || n != 4 {
		t.Fatalf("after panic: %d, %v", n, err)
	}
}

// TestCancelOnDisconnect: a statement's context ends when its client goes.
func TestCancelOnDisconnect(t *testing.T) {
	eng := newTestEngine()
	sleeping, canceled := make(chan struct{}, 1), make(chan struct{}, 1)
	eng.onSleep = func() { sleeping <- struct{}{} }
	eng.onCanceled = func() { canceled <- struct{}{} }
	_, addr := startServer(t, Config{Handler: eng})
	db := openDB(t, "root", addr, "")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "sleep")
		errc <- err
	}()
	<-sleeping
	cancel() // go-sql-driver closes the connection
	if err := <-errc; err == nil {
		t.Fatal("canceled statement succeeded")
	}
	<-canceled

	// A pipelined command is not eaten by the watcher: the client sends
	// the next command while the first still runs.
	c := dialRaw(t, addr, "root", "", rawClientFlags|ClientDeprecateEOF, "")
	c.command(append([]byte{comQuery}, "rows 1000"...)...)
	c.command(comPing)
	c.pk.seq = 1 // the answers restart their sequences, as if sent one by one
	if r := c.readResult(false); r.err != nil || len(r.rows) != 1000 {
		t.Fatalf("rows: %+v", r.err)
	}
	c.pk.seq = 1
	if pkt := c.read(); pkt[0] != iOK {
		t.Fatalf("ping answered %x", pkt)
	}
}

// TestCloseStopsRunningStatements: Close cancels the statements in flight
// and waits for them.
func TestCloseStopsRunningStatements(t *testing.T) {
	eng := newTestEngine()
	sleeping, canceled := make(chan struct{}, 1), make(chan struct{}, 1)
	eng.onSleep = func() { sleeping <- struct{}{} }
	eng.onCanceled = func() { canceled <- struct{}{} }
	srv, addr := startServer(t, Config{Handler: eng})
	db := openDB(t, "root", addr, "")
	errc := make(chan error, 1)
	go func() {
		_, err := db.Exec("sleep")
		errc <- err
	}()
	<-sleeping
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-canceled:
	default:
		t.Fatal("Close returned before the statement ended")
	}
	if err := <-errc; err == nil {
		t.Fatal("statement succeeded across Close")
	}
	if _, err := openDB(t, "root", addr, "timeout=2s").Exec("select 1"); err == nil {
		t.Fatal("closed server accepted a connection")
	}
}
