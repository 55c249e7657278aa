package mysqlwire

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/go-sql-driver/mysql"
)

// testEngine is a toy SQL engine behind the protocol tests. It understands
// a handful of statements (case-insensitive), enough for what clients send
// on their own and for every protocol path:
//
//	select @@version_comment limit 1 | select @@max_allowed_packet |
//	select database() | select user() | select connection_id() | select N
//	begin | start transaction | commit | rollback | set autocommit=0|1 | set ...
//	insert into kv values (?, ?)     one row into a shared table; OK with an insert id
//	select v from kv where k = ?     that row's value
//	select ?, ?, ...                 echo the parameters as one row
//	select types                     one row of every column type (typesCols/typesRow)
//	repeat N                         one VARCHAR value of N bytes
//	rows N                           N rows of one BIGINT column
//	error CODE STATE MESSAGE         fail with that MySQL error
//	goerror                          fail with a plain Go error (1105)
//	badrow                           a string written into a BIGINT column
//	sleep                            block until the context is canceled
//	panic                            panic
//
// Multi-statement text is split at ';' when the connection allows it.
type testEngine struct {
	mu struct {
		sync.Mutex
		kv       map[string]string
		insertID uint64
	}
	// Hooks, when set, are called from session goroutines.
	onOpen     func(ConnInfo)
	onClose    func(id uint32)
	onSleep    func()
	onCanceled func()
}

func newTestEngine() *testEngine {
	e := &testEngine{}
	e.mu.kv = map[string]string{}
	return e
}

func (e *testEngine) Open(ctx context.Context, c ConnInfo) (Session, error) {
	if c.Database != "" && c.Database != "test" {
		return nil, NewError(1049, "42000", "Unknown database '%s'", c.Database)
	}
	if e.onOpen != nil {
		e.onOpen(c)
	}
	return &testSession{e: e, info: c, db: c.Database, autocommit: true,
		multi: c.ClientFlags&ClientMultiStatements != 0, stmts: map[uint32]string{}}, nil
}

type testSession struct {
	e          *testEngine
	info       ConnInfo
	db         string
	inTxn      bool
	autocommit bool
	multi      bool
	stmts      map[uint32]string
	nextStmt   uint32
}

func (s *testSession) Query(ctx context.Context, query string, w ResultWriter) error {
	stmts := []string{query}
	if strings.Contains(query, ";") {
		stmts = nil
		for _, st := range strings.Split(query, ";") {
			if st = strings.TrimSpace(st); st != "" {
				stmts = append(stmts, st)
			}
		}
		if len(stmts) > 1 && !s.multi {
			return NewError(1064, "42000", "You have an error in your SQL syntax near ';'")
		}
	}
	for _, st := range stmts {
		if err := s.run(ctx, st, nil, w); err != nil {
			return err
		}
	}
	return nil
}

func (s *testSession) Prepare(ctx context.Context, query string) (PreparedInfo, error) {
	s.nextStmt++
	s.stmts[s.nextStmt] = query
	info := PreparedInfo{ID: s.nextStmt, Params: strings.Count(query, "?")}
	if strings.EqualFold(strings.TrimSpace(query), "select types") {
		info.Columns = typesCols
	}
	return info, nil
}

func (s *testSession) Execute(ctx context.Context, id uint32, params []any, w ResultWriter) error {
	q, ok := s.stmts[id]
	if !ok {
		return NewError(ErrCodeUnknownStmt, "HY000", "unknown statement %d", id)
	}
	return s.run(ctx, q, params, w)
}

func (s *testSession) CloseStmt(id uint32)        { delete(s.stmts, id) }
func (s *testSession) ResetStmt(id uint32) error  { return nil }
func (s *testSession) SetMultiStatements(on bool) { s.multi = on }
func (s *testSession) Status() Status {
	return Status{InTransaction: s.inTxn, Autocommit: s.autocommit}
}
func (s *testSession) UseDatabase(_ context.Context, db string) error {
	if db != "test" {
		return NewError(1049, "42000", "Unknown database '%s'", db)
	}
	s.db = db
	return nil
}

func (s *testSession) FieldList(_ context.Context, table, wildcard string) ([]Column, error) {
	if table != "kv" {
		return nil, NewError(1146, "42S02", "Table 'test.%s' doesn't exist", table)
	}
	return []Column{
		{Schema: "test", Table: "kv", OrgTable: "kv", Name: "k", OrgName: "k", Type: TypeVarString, Flags: FlagPriKey | FlagNotNull, Length: 255},
		{Schema: "test", Table: "kv", OrgTable: "kv", Name: "v", OrgName: "v", Type: TypeVarString, Length: 255},
	}, nil
}

func (s *testSession) Reset(context.Context) error {
	s.inTxn, s.autocommit = false, true
	clear(s.stmts)
	return nil
}

func (s *testSession) Close() {
	if s.e.onClose != nil {
		s.e.onClose(s.info.ID)
	}
}

func strCol(name string) Column {
	return Column{Name: name, Type: TypeVarString, Charset: CharsetUTF8MB4GeneralCI, Length: 1024}
}

func intCol(name string) Column { return Column{Name: name, Type: TypeLongLong, Length: 20} }

func oneValue(w ResultWriter, col Column, v any) error {
	if err := w.WriteColumns([]Column{col}); err != nil {
		return err
	}
	if err := w.WriteRow([]any{v}); err != nil {
		return err
	}
	return w.EndRows(0)
}

// run executes one statement of the toy language.
func (s *testSession) run(ctx context.Context, stmt string, params []any, w ResultWriter) error {
	lower := strings.ToLower(strings.TrimSpace(stmt))
	word, arg, _ := strings.Cut(lower, " ")
	switch {
	case lower == "select @@version_comment limit 1":
		return oneValue(w, strCol("@@version_comment"), "Meridian test engine")
	case lower == "select @@max_allowed_packet":
		return oneValue(w, intCol("@@max_allowed_packet"), int64(64<<20))
	case lower == "select database()":
		var db any
		if s.db != "" {
			db = s.db
		}
		return oneValue(w, strCol("database()"), db)
	case lower == "select user()":
		return oneValue(w, strCol("user()"), s.info.User+"@localhost")
	case lower == "select connection_id()":
		return oneValue(w, intCol("connection_id()"), int64(s.info.ID))
	case lower == "begin" || lower == "start transaction":
		s.inTxn = true
		return w.WriteOK(OK{})
	case lower == "commit" || lower == "rollback":
		s.inTxn = false
		return w.WriteOK(OK{})
	case lower == "set autocommit=0" || lower == "set autocommit=1":
		s.autocommit = strings.HasSuffix(lower, "1")
		return w.WriteOK(OK{})
	case word == "set":
		return w.WriteOK(OK{})
	case lower == "insert into kv values (?, ?)":
		s.e.mu.Lock()
		s.e.mu.kv[fmt.Sprint(params[0])] = fmt.Sprint(params[1])
		s.e.mu.insertID++
		id := s.e.mu.insertID
		s.e.mu.Unlock()
		if !s.autocommit {
			s.inTxn = true
		}
		return w.WriteOK(OK{AffectedRows: 1, LastInsertID: id, Warnings: 1, Info: "inserted"})
	case lower == "select v from kv where k = ?":
		if err := w.WriteColumns([]Column{strCol("v")}); err != nil {
			return err
		}
		s.e.mu.Lock()
		v, ok := s.e.mu.kv[fmt.Sprint(params[0])]
		s.e.mu.Unlock()
		if ok {
			if err := w.WriteRow([]any{v}); err != nil {
				return err
			}
		}
		return w.EndRows(0)
	case lower == "select types":
		if err := w.WriteColumns(typesCols); err != nil {
			return err
		}
		for _, row := range typesRows {
			if err := w.WriteRow(row); err != nil {
				return err
			}
		}
		return w.EndRows(2)
	case word == "select" && strings.Trim(arg, "?, ") == "" && len(params) > 0:
		return echo(w, params)
	case word == "select":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return NewError(1064, "42000", "You have an error in your SQL syntax near '%s'", arg)
		}
		return oneValue(w, intCol(arg), n)
	case word == "repeat":
		n, _ := strconv.Atoi(arg)
		return oneValue(w, Column{Name: "r", Type: TypeLongBlob, Charset: CharsetUTF8MB4GeneralCI}, strings.Repeat("x", n))
	case word == "rows":
		n, _ := strconv.Atoi(arg)
		if err := w.WriteColumns([]Column{intCol("n")}); err != nil {
			return err
		}
		for i := range n {
			if err := w.WriteRow([]any{int64(i)}); err != nil {
				return err
			}
		}
		return w.EndRows(0)
	case word == "error":
		f := strings.SplitN(strings.TrimSpace(stmt), " ", 4)
		code, _ := strconv.Atoi(f[1])
		return errors.Wrap(NewError(uint16(code), f[2], "%s", f[3]), "test engine")
	case lower == "goerror":
		return errors.New("plain go error")
	case lower == "badrow":
		if err := w.WriteColumns([]Column{intCol("n")}); err != nil {
			return err
		}
		return w.WriteRow([]any{"not a number"})
	case lower == "sleep":
		if s.e.onSleep != nil {
			s.e.onSleep()
		}
		<-ctx.Done()
		if s.e.onCanceled != nil {
			s.e.onCanceled()
		}
		return ctx.Err()
	case lower == "panic":
		panic("test engine panics on request")
	}
	return NewError(1064, "42000", "You have an error in your SQL syntax near '%s'", stmt)
}

// echo returns params as one row, each column typed after its Go value.
func echo(w ResultWriter, params []any) error {
	cols := make([]Column, len(params))
	for i, p := range params {
		c := Column{Name: fmt.Sprintf("p%d", i)}
		switch p.(type) {
		case int64:
			c.Type = TypeLongLong
		case uint64:
			c.Type, c.Flags = TypeLongLong, FlagUnsigned
		case float64:
			c.Type, c.Decimals = TypeDouble, 31
		case []byte:
			c.Type, c.Flags = TypeBlob, FlagBinary
		case time.Time:
			c.Type, c.Decimals = TypeDatetime, 6
		case time.Duration:
			c.Type, c.Decimals = TypeTime, 6
		default:
			c.Type = TypeVarString
		}
		cols[i] = c
	}
	if err := w.WriteColumns(cols); err != nil {
		return err
	}
	if err := w.WriteRow(params); err != nil {
		return err
	}
	return w.EndRows(0)
}

// typesCols and typesRows exercise every column type in both row
// encodings; a test reads them over text and binary and expects the same.
var typesCols = []Column{
	{Name: "tiny", Type: TypeTiny},
	{Name: "utiny", Type: TypeTiny, Flags: FlagUnsigned},
	{Name: "short", Type: TypeShort},
	{Name: "int24", Type: TypeInt24},
	{Name: "long", Type: TypeLong},
	{Name: "ulong", Type: TypeLong, Flags: FlagUnsigned},
	{Name: "longlong", Type: TypeLongLong},
	{Name: "ulonglong", Type: TypeLongLong, Flags: FlagUnsigned},
	{Name: "year", Type: TypeYear, Flags: FlagUnsigned},
	{Name: "float", Type: TypeFloat, Decimals: 31},
	{Name: "double", Type: TypeDouble, Decimals: 31},
	{Name: "decimal", Type: TypeNewDecimal, Decimals: 9, Length: 40},
	{Name: "varchar", Type: TypeVarString, Charset: CharsetUTF8MB4GeneralCI},
	{Name: "blob", Type: TypeBlob, Flags: FlagBinary | FlagBlob},
	{Name: "date", Type: TypeDate},
	{Name: "datetime", Type: TypeDatetime, Decimals: 6},
	{Name: "timestamp", Type: TypeTimestamp},
	{Name: "time", Type: TypeTime, Decimals: 3},
	{Name: "json", Type: TypeJSON},
	{Name: "null", Type: TypeNull},
}

var typesRows = [][]any{
	{
		int64(-128), uint64(255), int64(-32768), int64(-8388608), int64(-2147483648), uint64(4294967295),
		int64(-9223372036854775808), uint64(18446744073709551615), int64(2024),
		float32(1.5), 2.718281828459045, "12345678901234567890.123456789",
		"héllo, wörld", []byte{0, 1, 2, 0, 255},
		time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
		-(838*time.Hour + 59*time.Minute + 59*time.Second + 999*time.Millisecond),
		`{"a": [1, 2]}`, nil,
	},
	{
		int64(127), nil, int64(32767), int64(8388607), int64(2147483647), uint64(0),
		int64(9223372036854775807), uint64(0), nil,
		float32(-3.25e-10), -1e300, "-0.000000001",
		"", []byte{},
		time.Time{}, time.Time{}, nil,
		time.Duration(0), nil, nil,
	},
}

// testRSAKey is shared by every test server: generating a key per server
// would dominate the tests' run time.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// startServer serves cfg (with a fresh testEngine when cfg.Handler is nil)
// on a loopback port until the test ends.
func startServer(t testing.TB, cfg Config, tweak ...func(*Server)) (*Server, string) {
	t.Helper()
	if cfg.Handler == nil {
		cfg.Handler = newTestEngine()
	}
	if cfg.RSAKey == nil {
		cfg.RSAKey = testRSAKey()
	}
	s := NewServer(cfg)
	for _, f := range tweak {
		f(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v after Close", err)
		}
	})
	return s, l.Addr().String()
}

// openDB opens a go-sql-driver/mysql pool for user:password@addr with the
// DSN parameters params (URL query syntax).
func openDB(t testing.TB, userPass, addr, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("%s@tcp(%s)/?%s", userPass, addr, params))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// asMySQLError checks that err reached the client as code/state.
func checkMySQLError(t testing.TB, err error, code uint16, state string) {
	t.Helper()
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Fatalf("got %v (%T), want MySQL error %d", err, err, code)
	}
	if me.Number != code || string(me.SQLState[:]) != state {
		t.Fatalf("got error %d (%s) %q, want %d (%s)", me.Number, me.SQLState[:], me.Message, code, state)
	}
}
