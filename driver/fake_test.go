package driver

// Tests of the driver's side of the protocol against a scripted node, so
// that batching, result sets, cancellation and lost streams are exercised
// exactly (driver_test.go runs the real node and engine).

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// fakeNode answers by the statement text:
//
//	"ROWS"       three result messages of three rows each (BIGINT n)
//	"MULTI"      an INSERT (affected 2, more), a SELECT of one row (more),
//	             then error 1146
//	"HALF"       a row, then error 1365 in the last message
//	"ERR"        error 1146
//	"SLEEP"      nothing until cancelled, then error 1317
//	"DIE"        the stream breaks
//	"TYPES"      one row with every value kind
//	"BEGIN", "START TRANSACTION READ ONLY", "COMMIT", "ROLLBACK": status only
//	anything else: echoes its arguments as one row
type fakeNode struct {
	addr string
	mu   sync.Mutex
	log  []string // requests seen, in order ("query SLEEP", "cancel 3", ...)
	md   metadata.MD
	// sessions counts the streams opened.
	sessions int
}

func (f *fakeNode) record(s string) {
	f.mu.Lock()
	f.log = append(f.log, s)
	f.mu.Unlock()
}

func (f *fakeNode) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

type fakeSQL struct {
	pb.UnimplementedSQLServer
	f *fakeNode
}

func startFake(t *testing.T) *fakeNode {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{addr: lis.Addr().String()}
	s := grpc.NewServer()
	pb.RegisterSQLServer(s, fakeSQL{f: f})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return f
}

func bigint(name string) *pb.SQLColumn {
	return &pb.SQLColumn{Name: name, Type: &pb.SQLType{Kind: pb.SQLType_BIGINT}, NotNull: true}
}

func intRow(vals ...int64) *pb.SQLRow {
	r := &pb.SQLRow{}
	for _, v := range vals {
		r.Values = append(r.Values, &pb.SQLValue{V: &pb.SQLValue_Int{Int: v}})
	}
	return r
}

func (s fakeSQL) Session(stream pb.SQL_SessionServer) error {
	f := s.f
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	md, _ := metadata.FromIncomingContext(stream.Context())
	f.mu.Lock()
	f.md = md
	f.sessions++
	f.mu.Unlock()
	if first.GetOpen().GetDatabase() == "nosuchdb" {
		return stream.Send(&pb.SQLResponse{Status: &pb.SQLStatus{Autocommit: true},
			Error: &pb.SQLError{Code: 1049, SqlState: "42000", Message: "Unknown database 'nosuchdb'"}})
	}
	st := &pb.SQLStatus{Autocommit: true}
	if err := stream.Send(&pb.SQLResponse{Status: st}); err != nil {
		return err
	}
	reqs := make(chan *pb.SQLRequest, 16)
	cancels := make(chan uint64, 16)
	go func() {
		defer close(reqs)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			if c := r.GetCancel(); c != nil {
				f.record("cancel")
				cancels <- c.RequestId
				continue
			}
			reqs <- r
		}
	}()
	nextStmt := uint32(0)
	for r := range reqs {
		var out []*pb.SQLResponse
		done := func(m *pb.SQLResponse) {
			m.Status = &pb.SQLStatus{InTransaction: st.InTransaction, Autocommit: true}
			out = append(out, m)
		}
		switch x := r.Req.(type) {
		case *pb.SQLRequest_Ping:
			f.record("ping")
			done(&pb.SQLResponse{})
		case *pb.SQLRequest_Prepare:
			f.record("prepare " + x.Prepare.Sql)
			nextStmt++
			done(&pb.SQLResponse{Prepared: &pb.SQLPrepared{StmtId: nextStmt, Params: uint32(strings.Count(x.Prepare.Sql, "?"))}})
		case *pb.SQLRequest_ClosePrepared:
			f.record("close-prepared")
			continue
		case *pb.SQLRequest_Execute:
			f.record("execute")
			done(echo(x.Execute.Args, x.Execute.DiscardRows))
		case *pb.SQLRequest_Query:
			q := x.Query.Sql
			f.record("query " + q)
			switch q {
			case "ROWS":
				cols := []*pb.SQLColumn{bigint("n")}
				for i := int64(0); i < 3; i++ {
					m := &pb.SQLResponse{Columns: cols, Rows: []*pb.SQLRow{intRow(3*i + 1), intRow(3*i + 2), intRow(3*i + 3)}}
					cols = nil
					out = append(out, m)
				}
				last := out[2]
				out = out[:2]
				last.Result = &pb.SQLResult{AffectedRows: 9}
				done(last)
			case "MULTI":
				out = append(out, &pb.SQLResponse{Result: &pb.SQLResult{AffectedRows: 2, LastInsertId: 7, More: true}})
				out = append(out, &pb.SQLResponse{Columns: []*pb.SQLColumn{bigint("x")}, Rows: []*pb.SQLRow{intRow(42)},
					Result: &pb.SQLResult{AffectedRows: 1, More: true}})
				done(&pb.SQLResponse{Error: &pb.SQLError{Code: 1146, SqlState: "42S02", Message: "Table 'db.t' doesn't exist"}})
			case "HALF":
				done(&pb.SQLResponse{Columns: []*pb.SQLColumn{bigint("x")}, Rows: []*pb.SQLRow{intRow(1)},
					Error: &pb.SQLError{Code: 1365, SqlState: "22012", Message: "Division by 0"}})
			case "ERR":
				done(&pb.SQLResponse{Error: &pb.SQLError{Code: 1146, SqlState: "42S02", Message: "Table 'db.t' doesn't exist"}})
			case "SLEEP":
				select {
				case id := <-cancels:
					if id != r.Id {
						done(&pb.SQLResponse{Error: &pb.SQLError{Code: 1105, SqlState: "HY000", Message: "cancel of the wrong request"}})
						break
					}
					done(&pb.SQLResponse{Error: &pb.SQLError{Code: 1317, SqlState: "70100", Message: "Query execution was interrupted"}})
				case <-stream.Context().Done():
					return nil
				}
			case "DIE":
				return errors.New("fake: broken")
			case "TYPES":
				done(typesResponse())
			case "BEGIN", "START TRANSACTION READ ONLY":
				st.InTransaction = true
				done(&pb.SQLResponse{Result: &pb.SQLResult{}})
			case "COMMIT", "ROLLBACK":
				st.InTransaction = false
				done(&pb.SQLResponse{Result: &pb.SQLResult{}})
			default:
				done(echo(x.Query.Args, x.Query.DiscardRows))
			}
		}
		for _, m := range out {
			if err := stream.Send(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// echo returns the arguments as one row of columns a1, a2, ...
func echo(args []*pb.SQLValue, discard bool) *pb.SQLResponse {
	if discard {
		return &pb.SQLResponse{Result: &pb.SQLResult{AffectedRows: uint64(len(args)), LastInsertId: 1}}
	}
	m := &pb.SQLResponse{Rows: []*pb.SQLRow{{Values: args}}, Result: &pb.SQLResult{AffectedRows: 1}}
	for i := range args {
		m.Columns = append(m.Columns, &pb.SQLColumn{Name: "a" + string(rune('1'+i)), Type: &pb.SQLType{Kind: pb.SQLType_NULL}})
	}
	return m
}

func typesResponse() *pb.SQLResponse {
	col := func(name string, k pb.SQLType_Kind, unsigned, notNull bool, length int64, prec, scale int32) *pb.SQLColumn {
		return &pb.SQLColumn{Name: name, NotNull: notNull, Type: &pb.SQLType{Kind: k, Unsigned: unsigned, Length: length, Precision: prec, Scale: scale}}
	}
	return &pb.SQLResponse{
		Columns: []*pb.SQLColumn{
			col("i", pb.SQLType_INT, false, true, 11, 0, 0),
			col("u", pb.SQLType_BIGINT, true, false, 20, 0, 0),
			col("f", pb.SQLType_FLOAT, false, false, 12, -1, -1),
			col("d", pb.SQLType_DOUBLE, false, false, 22, -1, -1),
			col("dec", pb.SQLType_DECIMAL, false, false, 10, 10, 3),
			col("s", pb.SQLType_VARCHAR, false, false, 20, 0, 0),
			col("b", pb.SQLType_VARBINARY, false, false, 8, 0, 0),
			col("dt", pb.SQLType_DATETIME, false, false, 23, 0, 3),
			col("day", pb.SQLType_DATE, false, false, 10, 0, 0),
			col("n", pb.SQLType_NULL, false, false, 0, 0, 0),
			col("ok", pb.SQLType_BOOL, false, false, 1, 0, 0),
		},
		Rows: []*pb.SQLRow{{Values: []*pb.SQLValue{
			{V: &pb.SQLValue_Int{Int: -5}},
			{V: &pb.SQLValue_Uint{Uint: math.MaxUint64}},
			{V: &pb.SQLValue_Float32{Float32: 3.14}},
			{V: &pb.SQLValue_Float{Float: 2.5}},
			{V: &pb.SQLValue_Decimal{Decimal: "-12.340"}},
			{V: &pb.SQLValue_String_{String_: "héllo"}},
			{V: &pb.SQLValue_Bytes{Bytes: []byte{0, 1, 2}}},
			{V: &pb.SQLValue_Time{Time: &pb.SQLTime{UnixMicros: time.Date(2024, 1, 2, 3, 4, 5, 120_000_000, time.UTC).UnixMicro(), Fsp: 3}}},
			{V: &pb.SQLValue_Time{Time: &pb.SQLTime{UnixMicros: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).UnixMicro(), Kind: pb.SQLTime_DATE}}},
			{},
			{V: &pb.SQLValue_Int{Int: 1}},
		}}},
		Result: &pb.SQLResult{AffectedRows: 1},
	}
}

func openFake(t *testing.T, f *fakeNode, opts string) *sql.DB {
	t.Helper()
	db, err := sql.Open("meridian", "meridian://tester@"+f.addr+"/db"+opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestFakeBatchesAndResultSets(t *testing.T) {
	f := startFake(t)
	db := openFake(t, f, "")
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, "ROWS")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if err := rows.Err(); err != nil || len(got) != 9 || got[8] != 9 {
		t.Fatalf("rows %v, err %v", got, err)
	}

	// Several statements: a result set each; the failing third one ends them.
	rows, err = db.QueryContext(ctx, "MULTI")
	if err != nil {
		t.Fatal(err)
	}
	if cols, _ := rows.Columns(); len(cols) != 0 || rows.Next() {
		t.Fatalf("the INSERT's result set has columns %v or rows", cols)
	}
	if !rows.NextResultSet() {
		t.Fatalf("no second result set: %v", rows.Err())
	}
	var x int64
	if !rows.Next() || rows.Scan(&x) != nil || x != 42 || rows.Next() {
		t.Fatalf("second result set: x=%d err=%v", x, rows.Err())
	}
	if rows.NextResultSet() {
		t.Fatal("a third result set, but the statement failed")
	}
	var e *Error
	if !errors.As(rows.Err(), &e) || e.Code != 1146 {
		t.Fatalf("rows.Err() = %v, want error 1146", rows.Err())
	}

	// Exec reports the last statement's result; rows are not sent.
	res, err := db.ExecContext(ctx, "INSERT", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("RowsAffected = %d", n)
	}
	if id, _ := res.LastInsertId(); id != 1 {
		t.Fatalf("LastInsertId = %d", id)
	}
	_, err = db.ExecContext(ctx, "MULTI")
	if !errors.As(err, &e) || e.Code != 1146 {
		t.Fatalf("Exec(MULTI) = %v", err)
	}

	// An error after rows: the rows, then the error.
	rows, err = db.QueryContext(ctx, "HALF")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("no row before the error: %v", rows.Err())
	}
	if rows.Next() || !errors.As(rows.Err(), &e) || e.Code != 1365 {
		t.Fatalf("rows.Err() = %v", rows.Err())
	}
	_ = rows.Close()

	// A statement that fails at once fails Query itself.
	if _, err := db.QueryContext(ctx, "ERR"); !errors.As(err, &e) || e.Error() != "Error 1146 (42S02): Table 'db.t' doesn't exist" {
		t.Fatalf("Query(ERR) = %v", err)
	}
	code, state, msg := e.MySQLError()
	if code != 1146 || state != "42S02" || msg != "Table 'db.t' doesn't exist" {
		t.Fatalf("MySQLError() = %d %s %s", code, state, msg)
	}
}

func TestFakeValues(t *testing.T) {
	f := startFake(t)
	db := openFake(t, f, "")
	rows, err := db.Query("TYPES")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"INT", "UNSIGNED BIGINT", "FLOAT", "DOUBLE", "DECIMAL", "VARCHAR", "VARBINARY", "DATETIME", "DATE", "NULL", "TINYINT"}
	wantScan := []string{"int64", "sql.Null[uint64]", "sql.Null[float32]", "sql.NullFloat64", "sql.NullString", "sql.NullString",
		"[]uint8", "sql.NullTime", "sql.NullTime", "interface {}", "sql.NullInt64"}
	for i, ct := range cts {
		if ct.DatabaseTypeName() != wantNames[i] {
			t.Errorf("column %s: type name %q, want %q", ct.Name(), ct.DatabaseTypeName(), wantNames[i])
		}
		if got := ct.ScanType().String(); got != wantScan[i] {
			t.Errorf("column %s: scan type %s, want %s", ct.Name(), got, wantScan[i])
		}
	}
	if n, ok := cts[0].Nullable(); n || !ok {
		t.Errorf("NOT NULL column: Nullable() = %v, %v", n, ok)
	}
	if n, ok := cts[1].Nullable(); !n || !ok {
		t.Errorf("nullable column: Nullable() = %v, %v", n, ok)
	}
	if p, s, ok := cts[4].DecimalSize(); p != 10 || s != 3 || !ok {
		t.Errorf("DECIMAL(10,3): DecimalSize() = %d, %d, %v", p, s, ok)
	}
	if _, s, ok := cts[7].DecimalSize(); s != 3 || !ok {
		t.Errorf("DATETIME(3): DecimalSize() scale = %d, %v", s, ok)
	}
	if l, ok := cts[5].Length(); l != 20 || !ok {
		t.Errorf("VARCHAR(20): Length() = %d, %v", l, ok)
	}
	if _, _, ok := cts[2].DecimalSize(); ok {
		t.Errorf("FLOAT without (M,D) has a decimal size")
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	want := []any{int64(-5), uint64(math.MaxUint64), float32(3.14), 2.5, "-12.340", "héllo", []byte{0, 1, 2},
		time.Date(2024, 1, 2, 3, 4, 5, 120_000_000, time.UTC), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), nil, int64(1)}
	for i := range want {
		if !equalValue(vals[i], want[i]) {
			t.Errorf("column %s: %#v, want %#v", cts[i].Name(), vals[i], want[i])
		}
	}
	// A FLOAT scanned into float64 keeps its printed digits.
	rows.Close()
	var f64 float64
	if err := db.QueryRow("TYPES").Scan(new(int64), new(uint64), &f64, new(float64), new(string), new(string),
		new([]byte), new(time.Time), new(time.Time), new(any), new(bool)); err != nil {
		t.Fatal(err)
	}
	if f64 != 3.14 {
		t.Errorf("FLOAT 3.14 scanned into float64: %v", f64)
	}

	// textValues: floats and times as MySQL prints them.
	db2 := openFake(t, f, "?textValues=true")
	var f32, d, dt, day any
	if err := db2.QueryRow("TYPES").Scan(new(int64), new(uint64), &f32, &d, new(string), new(string),
		new([]byte), &dt, &day, new(any), new(int)); err != nil {
		t.Fatal(err)
	}
	if f32 != "3.14" || d != "2.5" || dt != "2024-01-02 03:04:05.120" || day != "2024-02-29" {
		t.Errorf("values as text: %q, %q, %q, %q", f32, d, dt, day)
	}
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

func TestFakeArguments(t *testing.T) {
	f := startFake(t)
	db := openFake(t, f, "")
	type myInt int
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.FixedZone("x", 3600))
	args := []any{nil, 1, int8(-2), uint64(math.MaxUint64), uint8(3), float32(1.5), 2.25, true, "s", []byte("b"), now,
		myInt(7), sql.NullString{}, sql.NullInt64{Int64: 9, Valid: true}}
	rows, err := db.Query("ECHO", args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	vals := make([]any, len(args))
	ptrs := make([]any, len(args))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	want := []any{nil, int64(1), int64(-2), uint64(math.MaxUint64), uint64(3), float32(1.5), 2.25, int64(1), "s", []byte("b"),
		now.UTC(), int64(7), nil, int64(9)}
	for i := range want {
		if !equalValue(vals[i], want[i]) {
			t.Errorf("argument %d (%T): came back %#v, want %#v", i+1, args[i], vals[i], want[i])
		}
	}
	if _, err := db.Exec("ECHO", sql.Named("x", 1)); err == nil || !strings.Contains(err.Error(), "positional") {
		t.Errorf("named argument: %v", err)
	}
}

func TestFakePreparedStatements(t *testing.T) {
	f := startFake(t)
	db := openFake(t, f, "")
	db.SetMaxOpenConns(1)
	st, err := db.Prepare("SELECT ?, ?")
	if err != nil {
		t.Fatal(err)
	}
	var a, b int64
	if err := st.QueryRow(1, 2).Scan(&a, &b); err != nil || a != 1 || b != 2 {
		t.Fatalf("prepared query: %d %d %v", a, b, err)
	}
	if _, err := st.Exec(1); err == nil || !strings.Contains(err.Error(), "expected 2 arguments") {
		t.Fatalf("NumInput not enforced: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	log := strings.Join(f.seen(), "|")
	if !strings.Contains(log, "prepare SELECT ?, ?|execute|close-prepared|ping") {
		t.Fatalf("requests: %s", log)
	}
}

func TestFakeCancelKeepsConnection(t *testing.T) {
	f := startFake(t)
	db := openFake(t, f, "")
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := db.ExecContext(ctx, "SLEEP")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec(SLEEP) with a deadline = %v", err)
	}
	// The same connection (the pool has one) runs the next statement,
	// after reading the interrupted one's answer.
	var x int64
	if err := db.QueryRow("ECHO", 5).Scan(&x); err != nil || x != 5 {
		t.Fatalf("after the cancel: %d, %v", x, err)
	}
	f.mu.Lock()
	sessions := f.sessions
	f.mu.Unlock()
	if sessions != 1 {
		t.Fatalf("%d sessions: the cancelled connection was not reused", sessions)
	}
	if log := strings.Join(f.seen(), "|"); !strings.Contains(log, "query SLEEP|cancel|query ECHO") {
		t.Fatalf("requests: %s", log)
	}

	// Cancelling while rows are read interrupts too.
	ctx, cancel = context.WithCancel(context.Background())
	rows, err := db.QueryContext(ctx, "ROWS")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	cancel()
	for rows.Next() {
	}
	_ = rows.Close()
	if err := db.QueryRow("ECHO", 6).Scan(&x); err != nil || x != 6 {
		t.Fatalf("after cancelling rows: %d, %v", x, err)
	}
}

func TestFakeLostStream(t *testing.T) {
	f := startFake(t)
	connector, err := NewConnector(Config{Addr: f.addr})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The statement was sent, so its outcome is unknown: not ErrBadConn.
	_, err = conn.ExecContext(ctx, "DIE")
	if err == nil || errors.Is(err, driver.ErrBadConn) || !strings.Contains(err.Error(), "may or may not have taken effect") {
		t.Fatalf("Exec on a breaking stream = %v", err)
	}
	// The broken connection is known bad: the next use fails without
	// sending (ErrBadConn, which sql.Conn surfaces as driver.ErrBadConn).
	if _, err := conn.ExecContext(ctx, "ECHO"); !errors.Is(err, driver.ErrBadConn) {
		t.Fatalf("Exec on a broken connection = %v", err)
	}
	_ = conn.Close()
	// The pool drops it and opens a new session.
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions != 2 {
		t.Fatalf("%d sessions, want 2", f.sessions)
	}
}

func TestFakeTransactions(t *testing.T) {
	f := startFake(t)
	db := openFake(t, f, "?region=eu-west")
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	for _, lvl := range []sql.IsolationLevel{sql.LevelReadCommitted, sql.LevelRepeatableRead, sql.LevelSnapshot} {
		if _, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: lvl}); err == nil || !strings.Contains(err.Error(), "strictly serializable") {
			t.Errorf("BeginTx(%s) = %v", lvl, err)
		}
	}
	log := strings.Join(f.seen(), "|")
	if !strings.Contains(log, "query START TRANSACTION READ ONLY|query COMMIT|query BEGIN|query ROLLBACK") {
		t.Fatalf("requests: %s", log)
	}
	// A transaction begun with SQL and left open is rolled back before
	// the connection is reused.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("BEGIN"); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	if log := strings.Join(f.seen(), "|"); !strings.HasSuffix(log, "query BEGIN|query ROLLBACK|ping") {
		t.Fatalf("requests: %s", log)
	}
	f.mu.Lock()
	region := f.md.Get(regionMetadataKey)
	f.mu.Unlock()
	if len(region) != 1 || region[0] != "eu-west" {
		t.Fatalf("region metadata %v", region)
	}
}

func TestFakeOpenErrors(t *testing.T) {
	f := startFake(t)
	db, err := sql.Open("meridian", "meridian://"+f.addr+"/nosuchdb")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var e *Error
	if err := db.Ping(); !errors.As(err, &e) || e.Code != 1049 {
		t.Fatalf("Ping with an unknown database = %v", err)
	}
	// Nothing listens: a clear error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	db2, _ := sql.Open("meridian", "meridian://"+addr+"/?timeout=5s")
	defer db2.Close()
	err = db2.Ping()
	if err == nil || !strings.Contains(err.Error(), "cannot open a session on "+addr) {
		t.Fatalf("Ping of a closed port = %v", err)
	}
	t.Log(err)
}

var _ io.Closer = (*Connector)(nil)
