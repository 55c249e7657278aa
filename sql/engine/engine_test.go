package engine_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
)

// textWriter renders results as the logic tests expect: one line per row,
// values tab-separated, NULL as NULL; statements without rows as
// "ok N" (affected rows).
type textWriter struct {
	b    strings.Builder
	cols []engine.Column
}

func (w *textWriter) Columns(cols []engine.Column) error { w.cols = cols; return nil }
func (w *textWriter) Row(vals []types.Datum) error {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if v.IsNull() {
			parts[i] = "NULL"
		} else {
			parts[i] = v.String()
		}
	}
	w.b.WriteString(strings.Join(parts, "\t") + "\n")
	return nil
}
func (w *textWriter) Done(r engine.Result) error {
	if w.cols == nil {
		fmt.Fprintf(&w.b, "ok %d\n", r.AffectedRows)
	}
	w.cols = nil
	return nil
}

// newSession starts a 3-node cluster and opens a session on node 1.
func newSession(t testing.TB) (*engine.Engine, *engine.Session) {
	t.Helper()
	c := servertest.Start(t, servertest.Options{})
	c.WaitReplicated(3)
	e := engine.New(engine.Config{Txn: c.Nodes[0].TxnClient(), NodeID: 1})
	s, err := e.NewSession(context.Background(), "root", "")
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}

func run(t testing.TB, s *engine.Session, q string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &textWriter{}
	err := s.Run(ctx, q, w)
	return w.b.String(), err
}

// TestLogic runs the SQL logic tests in testdata/logic: each "sql" block
// is one statement (or several); its expected output is its rows
// (tab-separated, NULL as NULL), "ok N" for N affected rows, or
// "ERROR code (state): message". Rewrite expectations with -rewrite (and
// read the diff: the corpus is what we claim MySQL semantics are).
func TestLogic(t *testing.T) {
	datadriven.Walk(t, "testdata/logic", func(t *testing.T, path string) {
		_, s := newSession(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "sql":
				out, err := run(t, s, d.Input)
				if err != nil {
					var se *sqlerr.Error
					if errors.As(err, &se) {
						return out + fmt.Sprintf("ERROR %d (%s): %s\n", se.Code, se.State, se.Msg)
					}
					return out + "ERROR: " + err.Error() + "\n"
				}
				return out
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

// TestAsOfAndPrepared: exact stale reads see the table as of a timestamp
// between two commits; prepared statements bind every argument kind.
func TestAsOfAndPrepared(t *testing.T) {
	_, s := newSession(t)
	must := func(q string) string {
		t.Helper()
		out, err := run(t, s, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	must("CREATE DATABASE d; USE d; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10), d DECIMAL(6,2), u BIGINT UNSIGNED, b VARBINARY(8), ts DATETIME(3))")
	must("INSERT INTO t (id, v) VALUES (1, 'old')")
	mid := strings.TrimSpace(must("SELECT NOW(6)"))
	must("UPDATE t SET v = 'new' WHERE id = 1")
	if got := must("SELECT v FROM t AS OF TIMESTAMP '" + mid + "'"); got != "old\n" {
		t.Fatalf("AS OF %s read %q, want old", mid, got)
	}
	if got := must("SELECT v FROM t"); got != "new\n" {
		t.Fatalf("strong read %q", got)
	}

	ctx := context.Background()
	p, err := s.Prepare(ctx, "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil || p.Params != 6 {
		t.Fatalf("prepare: %v %+v", err, p)
	}
	dec, _ := types.ParseDecimal("-12.5")
	when := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	args := []types.Datum{types.NewInt(2), types.NewString("x"), dec, types.NewUint(1<<64 - 1), types.NewBytes([]byte{0, 1, 2}), types.NewDateTime(when, 3)}
	if err := s.Execute(ctx, p.ID, args, &textWriter{}); err != nil {
		t.Fatal(err)
	}
	q, err := s.Prepare(ctx, "SELECT v, d, u, length(b), ts FROM t WHERE id = ?")
	if err != nil || len(q.Columns) != 5 {
		t.Fatalf("prepare select: %v %+v", err, q)
	}
	w := &textWriter{}
	if err := s.Execute(ctx, q.ID, []types.Datum{types.NewInt(2)}, w); err != nil {
		t.Fatal(err)
	}
	if want := "x\t-12.50\t18446744073709551615\t3\t2024-05-06 07:08:09.123\n"; w.b.String() != want {
		t.Fatalf("got %q, want %q", w.b.String(), want)
	}
	if err := s.Execute(ctx, q.ID, nil, w); !sqlerr.Is(err, 1210) {
		t.Fatalf("missing argument: %v", err)
	}
}

// FuzzStatements: any statement text, run in a session with a schema,
// returns a result or an error — it never panics or hangs the session, and
// the session still answers afterwards.
func FuzzStatements(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM t WHERE a > 1 ORDER BY b LIMIT 2",
		"INSERT INTO t VALUES (1, 'x', 2.5) ON DUPLICATE KEY UPDATE b = VALUES(b)",
		"UPDATE t SET c = c * 2 WHERE a IN (1, 2, NULL)",
		"DELETE FROM t ORDER BY a DESC LIMIT 1",
		"SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 0",
		"SELECT (SELECT max(a) FROM t), EXISTS (SELECT 1 FROM t) FROM t",
		"SELECT * FROM t x JOIN t y ON x.a = y.a LEFT JOIN t z ON z.b = y.b",
		"SELECT CAST('12abc' AS SIGNED), 1/0, -9223372036854775808 - 1",
		"SELECT a FROM t UNION SELECT b FROM t ORDER BY 1",
		"BEGIN; INSERT INTO t VALUES (9, 'z', 0); ROLLBACK",
		"SELECT date_add('2024-01-31', INTERVAL 1 MONTH), substring('abc', -5, 9)",
	} {
		f.Add(s)
	}
	_, s := newSession(f)
	if _, err := run(f, s, "CREATE DATABASE f; USE f; CREATE TABLE t (a INT PRIMARY KEY, b VARCHAR(10), c DECIMAL(10,2), KEY (b))"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		run(t, s, q) // any error is fine; a panic fails the target
		if out, err := run(t, s, "ROLLBACK; SELECT 1"); err != nil || out != "ok 0\n1\n" {
			t.Fatalf("session broken after %q: %q %v", q, out, err)
		}
	})
}

// TestSortSpills: an ORDER BY over more rows than the sort's memory share
// spills sorted runs to disk and merges them: the whole result comes back
// in order, where a sort held in memory would have failed the statement.
func TestSortSpills(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	c.WaitReplicated(3)
	e := engine.New(engine.Config{Txn: c.Nodes[0].TxnClient(), NodeID: 1, MaxStatementMemory: 256 << 10})
	s, err := e.NewSession(context.Background(), "root", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, s, "CREATE DATABASE sp; USE sp; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64), d DECIMAL(10,2))"); err != nil {
		t.Fatal(err)
	}
	const n = 6000
	for lo := 0; lo < n; lo += 1000 {
		var rows []string
		for i := lo; i < lo+1000; i++ {
			rows = append(rows, fmt.Sprintf("(%d, '%s', %d.%02d)", i, strings.Repeat("x", i%50), (i*7919)%1000, i%100))
		}
		if _, err := run(t, s, "INSERT INTO t VALUES "+strings.Join(rows, ",")); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run(t, s, "SELECT d, id, v FROM t ORDER BY d DESC, id")
	if err != nil {
		t.Fatalf("sort: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d rows, want %d", len(lines), n)
	}
	prev := []types.Datum(nil)
	for _, l := range lines {
		f := strings.Split(l, "\t")
		d, _ := types.ParseDecimal(f[0])
		id, _ := strconv.Atoi(f[1])
		cur := []types.Datum{d, types.NewInt(int64(id))}
		if prev != nil {
			k, _ := types.Compare(prev[0], cur[0])
			if k < 0 || (k == 0 && prev[1].Int() > cur[1].Int()) {
				t.Fatalf("out of order: %v then %v", prev, cur)
			}
		}
		prev = cur
	}
	if e.SortSpills() < 2 {
		t.Fatalf("the sort spilled %d runs; it should not have fit in memory", e.SortSpills())
	}
	t.Logf("%d rows sorted through %d spilled runs", n, e.SortSpills())
	// Hash aggregation over the bound spills too (TestHashSpill covers it
	// in depth): every (v, id) group comes back once, with its count.
	out, err = run(t, s, "SELECT v, id, count(*) FROM t GROUP BY v, id")
	if err != nil {
		t.Fatalf("a group-by over the memory bound: %v", err)
	}
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	seen := map[int]bool{}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		id, _ := strconv.Atoi(f[1])
		if f[0] != strings.Repeat("x", id%50) || f[2] != "1" || seen[id] {
			t.Fatalf("group-by row %q", l)
		}
		seen[id] = true
	}
	if len(seen) != n || e.HashSpills() == 0 {
		t.Fatalf("group-by: %d groups, want %d; %d hash spills", len(seen), n, e.HashSpills())
	}
}

// TestFilterPushdown: a selective condition on a full scan or a primary
// key range is applied by the groups, so only matching rows travel; the
// results are those of the unfiltered evaluation, in snapshot reads and
// in locking reads alike.
func TestFilterPushdown(t *testing.T) {
	e, s := newSession(t)
	if _, err := run(t, s, "CREATE DATABASE pd; USE pd; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(8), n INT)"); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for i := range 2000 {
		rows = append(rows, fmt.Sprintf("(%d, 'v%d', %d)", i, i%100, i%7))
	}
	if _, err := run(t, s, "INSERT INTO t VALUES "+strings.Join(rows, ",")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{"SELECT id FROM t WHERE v = 'v7'", 20},
		{"SELECT id FROM t WHERE id >= 1000 AND n = 3 AND v LIKE 'v1%'", 15},
		{"SELECT id FROM t WHERE (v IN ('v1', 'v2') OR n IS NULL) AND NOT n = 0", 35},
		{"BEGIN; SELECT id FROM t WHERE v = 'v7' AND n <> 1 FOR UPDATE; COMMIT", 17},
	} {
		before := e.FetchedRows()
		out, err := run(t, s, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		got := strings.Count(strings.ReplaceAll(out, "ok 0\n", ""), "\n")
		fetched := e.FetchedRows() - before
		if got != c.want {
			t.Fatalf("%s: %d rows, want %d", c.q, got, c.want)
		}
		if fetched > int64(c.want)+5 { // the descriptor reads are not scans
			t.Fatalf("%s: %d rows fetched for %d matches: the filter did not reach the groups", c.q, fetched, got)
		}
		t.Logf("%s: %d rows, %d fetched", c.q, got, fetched)
	}
}
