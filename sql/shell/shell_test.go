package shell

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
)

// fakeBackend answers statements from a table. It stands in for the
// database/sql connection (not a database/sql driver): the loop, the
// choice of Query or Exec, and the printing are what is under test.
type fakeBackend struct {
	responses map[string]fakeResponse
	ran       []string
	// brokenConn makes reconnect report a replaced connection.
	brokenConn bool
	reconnects int
	// started receives a blocking statement once it is running.
	started chan string
}

type fakeResponse struct {
	sets     []*sliceResult // for query
	affected int64          // for exec
	noCount  bool           // exec: the driver cannot count
	err      error
	block    bool // run until the context is cancelled
}

func (f *fakeBackend) respond(ctx context.Context, stmt string) (fakeResponse, error) {
	f.ran = append(f.ran, stmt)
	r, ok := f.responses[stmt]
	if !ok {
		return r, &codedError{1064, "42000", "fake: unexpected statement " + stmt}
	}
	if r.block {
		f.started <- stmt
		<-ctx.Done()
		return r, ctx.Err()
	}
	return r, r.err
}

func (f *fakeBackend) query(ctx context.Context, stmt string, each func(resultSet) error) error {
	r, err := f.respond(ctx, stmt)
	if err != nil {
		return err
	}
	for _, set := range r.sets {
		set.i = 0
		if err := each(set); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeBackend) exec(ctx context.Context, stmt string) (int64, bool, error) {
	r, err := f.respond(ctx, stmt)
	return r.affected, !r.noCount, err
}

func (f *fakeBackend) reconnect(context.Context) (bool, error) {
	f.reconnects++
	return f.brokenConn, nil
}

// scriptReader plays lines as a user would type them; interruptLine
// stands for Ctrl-C at the prompt. It records the prompts shown and the
// history kept.
type scriptReader struct {
	lines   []string
	prompts []string
	history []string
}

const interruptLine = "<Ctrl-C>"

func (r *scriptReader) readLine(prompt string) (string, error) {
	r.prompts = append(r.prompts, prompt)
	if len(r.lines) == 0 {
		return "", io.EOF
	}
	line := r.lines[0]
	r.lines = r.lines[1:]
	if line == interruptLine {
		return "", errInterrupted
	}
	return line, nil
}

func (r *scriptReader) addHistory(e string) { r.history = append(r.history, e) }

// testSession returns a session whose clock advances 250ms per reading,
// so every statement takes "0.25 sec".
func testSession(opts Options, b backend) (s *session, out, errw *bytes.Buffer) {
	out, errw = &bytes.Buffer{}, &bytes.Buffer{}
	opts.Out, opts.Err, opts.In = out, errw, strings.NewReader("")
	s = newSession(opts.EnsureDefaults(), b)
	clock := time.Unix(0, 0)
	s.now = func() time.Time {
		clock = clock.Add(250 * time.Millisecond)
		return clock
	}
	return s, out, errw
}

func people() *sliceResult {
	return &sliceResult{
		cols: []column{{name: "id", numeric: true}, {name: "name"}},
		rows: [][]cell{{txt("1"), txt("alice")}, {txt("2"), null}},
	}
}

func standardResponses() map[string]fakeResponse {
	return map[string]fakeResponse{
		"SELECT id, name FROM t":         {sets: []*sliceResult{people()}},
		"INSERT INTO t VALUES (3, 'c')":  {affected: 1},
		"UPDATE t SET name = 'x'":        {affected: 3},
		"SELECT * FROM t WHERE false":    {sets: []*sliceResult{{cols: people().cols}}},
		"USE db":                         {},
		"SET @x = 1":                     {},
		"CREATE TABLE u (a INT)":         {noCount: true},
		"CALL p()":                       {sets: []*sliceResult{{}}}, // no columns: no rows
		"SELECT 1":                       {sets: []*sliceResult{{cols: []column{{name: "1", numeric: true}}, rows: [][]cell{{txt("1")}}}}},
		"SELECT\n2":                      {sets: []*sliceResult{{cols: []column{{name: "2", numeric: true}}, rows: [][]cell{{txt("2")}}}}},
		"SELECT 2":                       {sets: []*sliceResult{{cols: []column{{name: "2", numeric: true}}, rows: [][]cell{{txt("2")}}}}},
		"SHOW TABLES":                    {sets: []*sliceResult{{cols: []column{{name: "Tables_in_db"}}, rows: [][]cell{{txt("t")}}}}},
		"SHOW COLUMNS FROM `db`.`t`":     {sets: []*sliceResult{{cols: []column{{name: "Field"}}, rows: [][]cell{{txt("id")}}}}},
		"SELECT * FROM nope":             {err: &codedError{1146, "42S02", "Table 'db.nope' doesn't exist"}},
		"/*!40101 SET NAMES utf8mb4 */":  {},
		"SELECT 1,\n'a\n'":               {sets: []*sliceResult{{cols: []column{{name: "1"}}, rows: [][]cell{{txt("1")}}}}},
		"broken":                         {err: errors.New("driver: bad connection")},
		"SELECT SLEEP(10)":               {block: true},
		"SELECT id, name FROM t UNION 1": {sets: []*sliceResult{people(), people()}},
	}
}

func TestBatchTableOutput(t *testing.T) {
	b := &fakeBackend{responses: standardResponses()}
	s, out, errw := testSession(Options{}, b)
	input := `SELECT id, name FROM t;
INSERT INTO t VALUES (3, 'c'); UPDATE t SET name = 'x';
SELECT * FROM t WHERE false;
USE db;
SET @x = 1;
CREATE TABLE u (a INT);
/*!40101 SET NAMES utf8mb4 */;
CALL p()`
	if err := s.loop(context.Background(), newPlainReader(strings.NewReader(input))); err != nil {
		t.Fatal(err)
	}
	// Batch mode: no times (\timing starts off), no blank lines.
	want := `+----+-------+
| id | name  |
+----+-------+
|  1 | alice |
|  2 | NULL  |
+----+-------+
2 rows in set
Query OK, 1 row affected
Query OK, 3 rows affected
Empty set
Database changed
Query OK, 0 rows affected
Query OK
Query OK, 0 rows affected
Query OK
`
	if out.String() != want {
		t.Errorf("out:\n%s\nwant:\n%s", out.String(), want)
	}
	if errw.Len() != 0 {
		t.Errorf("err: %q", errw.String())
	}
}

func TestBatchStopsAtFirstFailure(t *testing.T) {
	b := &fakeBackend{responses: standardResponses()}
	s, out, errw := testSession(Options{Format: FormatTSV}, b)
	err := s.loop(context.Background(), newPlainReader(strings.NewReader(
		"SELECT 1; SELECT * FROM nope; SELECT 2;")))
	if !errors.Is(err, ErrStatementFailed) {
		t.Fatalf("err = %v, want ErrStatementFailed", err)
	}
	var coded *codedError
	if !errors.As(err, &coded) || coded.code != 1146 {
		t.Errorf("err = %v, want the statement's error in the chain", err)
	}
	if want := []string{"SELECT 1", "SELECT * FROM nope"}; !reflect.DeepEqual(b.ran, want) {
		t.Errorf("ran %q, want %q", b.ran, want)
	}
	if got, want := out.String(), "1\n1\n"; got != want {
		t.Errorf("out = %q, want %q", got, want)
	}
	if got, want := errw.String(), "ERROR 1146 (42S02): Table 'db.nope' doesn't exist\n"; got != want {
		t.Errorf("err = %q, want %q", got, want)
	}
	if b.reconnects != 0 {
		t.Errorf("batch mode reconnected %d times", b.reconnects)
	}
}

func TestBatchFailsOnErrorAfterSomeRows(t *testing.T) {
	set := people()
	set.err = errors.New("driver: connection reset")
	b := &fakeBackend{responses: map[string]fakeResponse{"SELECT id, name FROM t": {sets: []*sliceResult{set}}}}
	for _, f := range []Format{FormatTable, FormatCSV} {
		s, out, errw := testSession(Options{Format: f}, b)
		err := s.loop(context.Background(), newPlainReader(strings.NewReader("SELECT id, name FROM t")))
		if !errors.Is(err, ErrStatementFailed) {
			t.Fatalf("%s: err = %v, want ErrStatementFailed", f, err)
		}
		// A table is drawn only once complete; streamed rows stay printed.
		wantOut := map[Format]string{FormatTable: "", FormatCSV: "id,name\n1,alice\n2,\n"}[f]
		if out.String() != wantOut {
			t.Errorf("%s: out = %q, want %q", f, out.String(), wantOut)
		}
		if want := "ERROR: driver: connection reset\n"; errw.String() != want {
			t.Errorf("%s: err = %q, want %q", f, errw.String(), want)
		}
	}
}

func TestBatchCommands(t *testing.T) {
	b := &fakeBackend{responses: standardResponses()}
	s, out, errw := testSession(Options{Format: FormatTSV}, b)
	input := "\\d\n  \\d db.t;\n\\timing\nSELECT 1;\n\\timing off\nSELECT 2;\nquit\nSELECT 1;\n"
	if err := s.loop(context.Background(), newPlainReader(strings.NewReader(input))); err != nil {
		t.Fatal(err)
	}
	if want := []string{"SHOW TABLES", "SHOW COLUMNS FROM `db`.`t`", "SELECT 1", "SELECT 2"}; !reflect.DeepEqual(b.ran, want) {
		t.Errorf("ran %q, want %q", b.ran, want)
	}
	// Out holds only data; the timing notice and line go to Err.
	if want := "Tables_in_db\nt\nField\nid\n1\n1\n2\n2\n"; out.String() != want {
		t.Errorf("out = %q, want %q", out.String(), want)
	}
	if want := "Timing is on.\n1 row in set (0.25 sec)\nTiming is off.\n"; errw.String() != want {
		t.Errorf("err = %q, want %q", errw.String(), want)
	}
}

func TestBatchBadCommandFails(t *testing.T) {
	for input, wantErr := range map[string]string{
		"\\x\nSELECT 1;":            "ERROR: unknown command \\x; \\? lists the commands\n",
		"\\timing maybe\nSELECT 1;": "ERROR: \\timing takes on or off, not \"maybe\"\n",
	} {
		b := &fakeBackend{responses: standardResponses()}
		s, _, errw := testSession(Options{}, b)
		err := s.loop(context.Background(), newPlainReader(strings.NewReader(input)))
		if !errors.Is(err, ErrStatementFailed) || len(b.ran) != 0 {
			t.Errorf("%q: err = %v, ran %q; want ErrStatementFailed before any statement", input, err, b.ran)
		}
		if errw.String() != wantErr {
			t.Errorf("%q: err = %q, want %q", input, errw.String(), wantErr)
		}
	}
}

func TestMultipleResultSets(t *testing.T) {
	b := &fakeBackend{responses: standardResponses()}
	s, out, _ := testSession(Options{Format: FormatJSON}, b)
	if err := s.loop(context.Background(), newPlainReader(strings.NewReader("SELECT id, name FROM t UNION 1;"))); err != nil {
		t.Fatal(err)
	}
	one := "[\n{\"id\":1,\"name\":\"alice\"},\n{\"id\":2,\"name\":null}\n]\n"
	if out.String() != one+one {
		t.Errorf("out = %q, want two arrays", out.String())
	}
}

func TestInteractiveSession(t *testing.T) {
	b := &fakeBackend{responses: standardResponses(), brokenConn: true}
	s, out, errw := testSession(Options{Interactive: true}, b)
	r := &scriptReader{lines: []string{
		"SELECT 1,", // continues
		"'a",        // opens a string
		"';",        // closes it and ends the statement
		"SELECT * FROM nope;",
		"SELECT 2", // abandoned by Ctrl-C
		interruptLine,
		"  ",
		"broken;",          // fails without a server code: reconnect
		"SELECT 1; SELECT", // a statement and the start of another
		"2;",
		"\\timing",
		"SELECT 1",
		// Ctrl-D (end of input) leaves without running "SELECT 1".
	}}
	if err := s.loop(context.Background(), r); err != nil {
		t.Fatalf("interactive loop returned %v; errors should not end it", err)
	}
	wantRan := []string{"SELECT 1,\n'a\n'", "SELECT * FROM nope", "broken", "SELECT 1", "SELECT\n2"}
	if !reflect.DeepEqual(b.ran, wantRan) {
		t.Errorf("ran %q, want %q", b.ran, wantRan)
	}
	const p, cont, quote = "meridian> ", "       -> ", "       '> "
	wantPrompts := []string{p, cont, quote, p, p, cont, p, p, p, cont, p, p, cont}
	if !reflect.DeepEqual(r.prompts, wantPrompts) {
		t.Errorf("prompts %q, want %q", r.prompts, wantPrompts)
	}
	wantHistory := []string{"SELECT 1, 'a ';", "SELECT * FROM nope;", "broken;", "SELECT 1; SELECT 2;", `\timing`}
	if !reflect.DeepEqual(r.history, wantHistory) {
		t.Errorf("history %q, want %q", r.history, wantHistory)
	}
	// Interactive: times shown from the start, a blank line after each result.
	wantOut := `+---+
| 1 |
+---+
| 1 |
+---+
1 row in set (0.25 sec)

+---+
| 1 |
+---+
| 1 |
+---+
1 row in set (0.25 sec)

+---+
| 2 |
+---+
| 2 |
+---+
1 row in set (0.25 sec)

`
	if out.String() != wantOut {
		t.Errorf("out:\n%s\nwant:\n%s", out.String(), wantOut)
	}
	wantErr := "ERROR 1146 (42S02): Table 'db.nope' doesn't exist\n" +
		"ERROR: driver: bad connection\n" +
		"Connection lost; reconnected. The current database, any open transaction and session variables were reset.\n" +
		"Timing is off.\n"
	if errw.String() != wantErr {
		t.Errorf("err:\n%s\nwant:\n%s", errw.String(), wantErr)
	}
	if b.reconnects != 1 {
		t.Errorf("reconnected %d times, want 1 (only after the error without a code)", b.reconnects)
	}
}

// TestInterruptCancelsStatement sends this process SIGINT while a
// statement runs: the statement is cancelled, the session goes on.
func TestInterruptCancelsStatement(t *testing.T) {
	b := &fakeBackend{responses: standardResponses(), started: make(chan string)}
	s, out, errw := testSession(Options{Interactive: true}, b)
	s.catchInterrupts = true
	go func() {
		<-b.started
		_ = syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	}()
	r := &scriptReader{lines: []string{"SELECT SLEEP(10);", "SELECT 1;"}}
	if err := s.loop(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if want := []string{"SELECT SLEEP(10)", "SELECT 1"}; !reflect.DeepEqual(b.ran, want) {
		t.Errorf("ran %q, want %q", b.ran, want)
	}
	if want := "ERROR: statement cancelled\n"; errw.String() != want {
		t.Errorf("err = %q, want %q", errw.String(), want)
	}
	if !strings.Contains(out.String(), "1 row in set") {
		t.Errorf("the statement after the cancelled one did not print: %q", out.String())
	}
}

func TestCancelledContextEndsSession(t *testing.T) {
	b := &fakeBackend{responses: standardResponses(), started: make(chan string)}
	s, _, errw := testSession(Options{Interactive: true}, b)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-b.started
		cancel()
	}()
	r := &scriptReader{lines: []string{"SELECT SLEEP(10);", "SELECT 1;"}}
	if err := s.loop(ctx, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(b.ran) != 1 || errw.Len() != 0 {
		t.Errorf("ran %q, err %q; want the session to end quietly", b.ran, errw.String())
	}
}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		line string
		mid  bool
		want command
		ok   bool
	}{
		{`\q`, false, command{name: "q"}, true},
		{"quit", false, command{name: "q"}, true},
		{"  EXIT; ", false, command{name: "q"}, true},
		{"quit", true, command{}, false}, // inside a statement it is SQL
		{`\q`, true, command{name: "q"}, true},
		{`\d`, false, command{name: "d"}, true},
		{`\d  t ;`, false, command{name: "d", arg: "t"}, true},
		{`\d;`, false, command{name: "d"}, true},
		{`\timing on`, false, command{name: "timing", arg: "on"}, true},
		{`\`, false, command{}, false},
		{`SELECT '\d'`, false, command{}, false},
		{"quitter", false, command{}, false},
	} {
		got, ok := parseCommand(tc.line, tc.mid)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseCommand(%q, %v) = %+v, %v; want %+v, %v", tc.line, tc.mid, got, ok, tc.want, tc.ok)
		}
	}
}

func TestQuoteTableName(t *testing.T) {
	for in, want := range map[string]string{
		"t":          "`t`",
		"db.t":       "`db`.`t`",
		"order":      "`order`",
		"`my table`": "`my table`",
		"db.`a.b`":   "db.`a.b`",
	} {
		if got := quoteTableName(in); got != want {
			t.Errorf("quoteTableName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFirstKeywordRoutesStatements(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		kw   string
		exec bool
	}{
		{"SELECT 1", "SELECT", false},
		{"  select\n1", "SELECT", false},
		{"(SELECT 1) UNION (SELECT 2)", "SELECT", false},
		{"WITH x AS (SELECT 1) SELECT * FROM x", "WITH", false},
		{"SHOW TABLES", "SHOW", false},
		{"DESC t", "DESC", false},
		{"EXPLAIN ANALYZE SELECT 1", "EXPLAIN", false},
		{"VALUES ROW(1)", "VALUES", false},
		{"CALL p()", "CALL", false}, // unknown: Query, so rows are never lost
		{"insert into t values (1)", "INSERT", true},
		{"Update t SET a = 1", "UPDATE", true},
		{"START TRANSACTION READ ONLY", "START", true},
		{"SET txn_mode = 'optimistic'", "SET", true},
		{"use db", "USE", true},
		{"/*!40101 SET NAMES utf8 */", "SET", true},
		{"/* hint */ DELETE FROM t", "DELETE", true},
		{"/* unterminated", "", false},
		{"", "", false},
	} {
		kw := firstKeyword(tc.stmt)
		if kw != tc.kw || execKeyword(kw) != tc.exec {
			t.Errorf("firstKeyword(%q) = %q (exec %v), want %q (exec %v)", tc.stmt, kw, execKeyword(kw), tc.kw, tc.exec)
		}
	}
}
