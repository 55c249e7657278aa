package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// The atomicity of ALTER TABLE: one whose index build fails leaves the
// table as it was — its other clauses (ADD and DROP COLUMN, DROP INDEX)
// never show, the indexes it was to drop stay complete although writers
// ran meanwhile, and no row keeps a value of the column it was adding —
// and the same statement succeeds, under the same writers, once the data
// allows it. One stopped mid-build (as by a crash) shows its write-only
// indexes and nothing else, and running it again or DROP INDEX finishes
// it. One that a concurrent schema change no longer allows fails as if it
// had run after it.

// alterWriter runs random writes on ix.t (id, b, u, ...) until stop
// closes, naming only id, b and u so that columns may come and go:
// inserts (some with ON DUPLICATE KEY UPDATE), REPLACE, updates of b (by
// key and over a range), primary key changes, deletes. Ids stay in
// [0, 4000); u is id+1000000 in every row it writes, so it never makes a
// duplicate u among rows whose u is their id or id+1000000.
func alterWriter(t *testing.T, e *engine.Engine, rng *rand.Rand, stop <-chan struct{}, p *progress) {
	s := session(t, e, "ix")
	for {
		select {
		case <-stop:
			return
		default:
		}
		id, v := rng.IntN(4000), rng.IntN(20)
		var q string
		switch rng.IntN(7) {
		case 0:
			q = fmt.Sprintf("INSERT INTO t (id, b, u) VALUES (%d, 'v%d', %d) ON DUPLICATE KEY UPDATE b = VALUES(b)", id, v, id+1000000)
		case 1:
			q = fmt.Sprintf("REPLACE INTO t (id, b, u) VALUES (%d, 'v%d', %d)", id, v, id+1000000)
		case 2, 3:
			q = fmt.Sprintf("UPDATE t SET b = 'v%d' WHERE id = %d", v, id)
		case 4:
			q = fmt.Sprintf("UPDATE t SET b = 'v%d' WHERE id BETWEEN %d AND %d", v, id, id+5)
		case 5:
			to := rng.IntN(4000)
			q = fmt.Sprintf("UPDATE t SET id = %d, u = %d WHERE id = %d", to, to+1000000, id)
		default:
			q = fmt.Sprintf("DELETE FROM t WHERE id = %d", id)
		}
		if _, err := run(t, s, q); err == nil {
			p.add()
		} else if code := sqlerr.Code(err); code != 1062 && code != 1213 && code != 1205 && !isAmbiguous(err) {
			t.Errorf("%s: %v", q, err)
			return
		}
	}
}

// writers runs n alterWriters until the returned stop is called.
func writers(t *testing.T, e *engine.Engine, seed uint64, n int, p *progress) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alterWriter(t, e, rand.New(rand.NewPCG(seed, uint64(w)+1)), done, p)
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// wantConsistent checks that each named index of ix.t holds exactly the
// table's rows, and is public.
func wantConsistent(t *testing.T, e *engine.Engine, indexes ...string) {
	t.Helper()
	for _, name := range indexes {
		check, err := engine.CheckIndexForTest(context.Background(), e, "ix", "t", name)
		if err != nil {
			t.Fatal(err)
		}
		if p := indexProblems(check); len(p) > 0 || check.State != "public" {
			t.Fatalf("index %s (%s) and table differ:\n%s", name, check.State, strings.Join(p, "\n"))
		}
	}
}

// wantColumns checks ix.t's columns, hidden ones included, and that no
// row holds a value of a column that is gone.
func wantColumns(t *testing.T, e *engine.Engine, want ...string) {
	t.Helper()
	names, maxID, maxRowID, err := engine.ColumnsForTest(context.Background(), e, "ix", "t")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("columns %q, want %q", names, want)
	}
	if maxRowID > maxID {
		t.Fatalf("a row holds a value of column id %d, above every column's (%d)", maxRowID, maxID)
	}
}

// TestIndexAlterAtomicUnderWrites: an ALTER TABLE that adds a column,
// drops an index and a column, and builds two indexes (one on the new
// column) runs while four writers change the table; a duplicate in its
// UNIQUE index, made between two backfill chunks, fails it. Afterwards the
// table is as before: same definition, the dropped index and the dropped
// column's index hold exactly the rows (writers maintained them
// throughout), no entry of the new indexes is left, no row holds a value
// of the new column. With the duplicate gone the same statement succeeds
// under the same writers.
func TestIndexAlterAtomicUnderWrites(t *testing.T) {
	rng, seed := newRand(t)
	e, s, k := newEngine(t, 50, false)
	mustRun(t, s, "CREATE DATABASE ix; USE ix; CREATE TABLE t (id INT PRIMARY KEY, b VARCHAR(8), u INT, c INT, KEY b_i (b), KEY c_i (c))")
	insertRows(t, s, 2000, func(i int) string { return fmt.Sprintf("(%d, 'v%d', %d, %d)", 2*i, rng.IntN(20), 2*i, i) })
	create := mustRun(t, s, "SHOW CREATE TABLE t")
	const alter = "ALTER TABLE t ADD COLUMN d INT NOT NULL DEFAULT 7, DROP INDEX b_i, DROP COLUMN c, ADD INDEX d_i (d, b), ADD UNIQUE INDEX u_u (u)"
	observer := session(t, e, "ix")

	p := newProgress()
	stop := writers(t, e, seed, 4, p)
	defer func() { stop() }()
	if err := p.waitFor(20, time.Minute); err != nil {
		t.Fatal(err)
	}
	// pause waits between chunks 5 and 6, 20 and 21, 35 and 36 until the
	// writers committed 10 more times: they run while the statement does.
	pause := func(step string, n int) error {
		if step == "backfill" && (n == 5 || n == 20 || n == 35) {
			if err := p.waitFor(p.n.Load()+10, time.Minute); err != nil {
				return errors.Wrapf(err, "writers made no progress between chunks %d and %d", n, n+1)
			}
		}
		return nil
	}
	var during error
	k.set(func(step string, n int) error {
		if err := pause(step, n); err != nil {
			return err
		}
		if step != "backfill" || n != 20 {
			return nil
		}
		// Nothing of the statement shows yet: queries use b_i, c is
		// there and d is not.
		if plan := mustRun(t, observer, "EXPLAIN SELECT id FROM t WHERE b = 'v1'"); !strings.Contains(plan, "index lookup t on b_i") {
			during = errors.Newf("the index being dropped is not used while the statement runs:\n%s", plan)
		}
		if _, err := run(t, observer, "SELECT d FROM t WHERE id = 0"); sqlerr.Code(err) != 1054 {
			during = errors.Newf("the column being added could be read while the statement runs: %v", err)
		}
		mustRun(t, observer, "SELECT c FROM t WHERE id = 0")
		// Two rows with one u, before the backfill's cursor: only the
		// writer's maintenance of the write-only index sees them.
		mustRun(t, observer, "INSERT INTO t (id, b, u) VALUES (-1, 'dup', -5), (-2, 'dup', -5)")
		return nil
	})
	before := p.n.Load()
	_, err := run(t, s, alter)
	k.set(nil)
	if during != nil {
		t.Fatal(during)
	}
	wantDuplicate(t, err, alter)
	if !strings.Contains(err.Error(), "Duplicate entry '-5' for key 't.u_u'") {
		t.Fatalf("error %v, want the duplicate -5 in t.u_u", err)
	}
	t.Logf("writers committed %d times during the failing ALTER", p.n.Load()-before)
	// Writers go on with the table as it was.
	if err := p.waitFor(p.n.Load()+50, time.Minute); err != nil {
		t.Fatal(err)
	}
	stop()

	wantGone(t, e, s, create)
	if _, listed, err := engine.TableKeysForTest(context.Background(), e, "ix", "t"); err != nil || len(listed) != 2 {
		t.Fatalf("indexes after the failed ALTER: %v (%v), want b_i and c_i only", listed, err)
	}
	wantConsistent(t, e, "b_i", "c_i")
	wantColumns(t, e, "id", "b", "u", "c")
	if got := mustRun(t, s, "SELECT id, b, u, c FROM t WHERE id < 0 ORDER BY id"); got != "-2\tdup\t-5\tNULL\n-1\tdup\t-5\tNULL\n" {
		t.Fatalf("rows written during the failed ALTER: %q", got)
	}

	// Without the duplicate, the same statement under the same writers.
	mustRun(t, s, "DELETE FROM t WHERE id = -2")
	stop = writers(t, e, seed+1, 4, p)
	if err := p.waitFor(p.n.Load()+20, time.Minute); err != nil {
		t.Fatal(err)
	}
	k.set(pause)
	mustRun(t, s, alter)
	k.set(nil)
	if err := p.waitFor(p.n.Load()+50, time.Minute); err != nil {
		t.Fatal(err)
	}
	stop()
	got := mustRun(t, s, "SHOW CREATE TABLE t")
	if !strings.Contains(got, "`d` int NOT NULL DEFAULT 7") || strings.Contains(got, "`c`") || strings.Contains(got, "b_i") ||
		!strings.Contains(got, "KEY `d_i` (`d`,`b`)") || !strings.Contains(got, "UNIQUE KEY `u_u` (`u`)") || strings.Contains(got, "/*") {
		t.Fatalf("SHOW CREATE TABLE after the ALTER:\n%s", got)
	}
	wantConsistent(t, e, "d_i", "u_u")
	wantColumns(t, e, "id", "b", "u", "d")
	if got := mustRun(t, s, "SELECT count(*) FROM t WHERE d <> 7"); got != "0\n" {
		t.Fatalf("rows whose d is not its default: %q", got)
	}
	keys, listed, err := engine.TableKeysForTest(context.Background(), e, "ix", "t")
	if err != nil {
		t.Fatal(err)
	}
	for id := range keys {
		if id != 1 && !slices.Contains(listed, id) {
			t.Fatalf("index %d is gone but has entries: %v", id, keys)
		}
	}
}

// TestIndexAlterInterrupted: an ALTER TABLE stopped mid-build (as by a crash)
// shows its new indexes write-only and nothing else of it; its new columns
// stay hidden, filled by writers. Running it again takes them over and
// finishes it; DROP INDEX of its index removes the index and the hidden
// columns, and the rows' values of them. The same for an ALTER that
// redefines an index under its name.
func TestIndexAlterInterrupted(t *testing.T) {
	e, s, k := newEngine(t, 50, false)
	mustRun(t, s, "CREATE DATABASE ix; USE ix; CREATE TABLE t (id INT PRIMARY KEY, b VARCHAR(8), u INT, KEY b_i (b))")
	insertRows(t, s, 500, func(i int) string { return fmt.Sprintf("(%d, 'v%d', %d)", i, i%13, i) })
	crash := func(at int) {
		k.set(func(step string, n int) error {
			if step == "backfill" && n == at {
				return errors.New("node crashed")
			}
			return nil
		})
	}
	interrupted := func(stmt string) {
		t.Helper()
		crash(3)
		if _, err := run(t, s, stmt); err == nil {
			t.Fatalf("the interrupted %s succeeded", stmt)
		}
		k.set(nil)
	}
	create := mustRun(t, s, "SHOW CREATE TABLE t")

	// Stopped, then run again.
	const alter = "ALTER TABLE t ADD COLUMN d INT DEFAULT 7, DROP INDEX b_i, ADD UNIQUE INDEX ud (u, d)"
	interrupted(alter)
	show := mustRun(t, s, "SHOW CREATE TABLE t")
	if !strings.HasPrefix(show, strings.TrimSuffix(create, "\n")) || !strings.Contains(show, "/* UNIQUE KEY `ud` (`u`,`d (being added with index #") ||
		!strings.Contains(show, "is write-only") {
		t.Fatalf("SHOW CREATE TABLE after an interrupted ALTER:\n%s", show)
	}
	if got := mustRun(t, s, "SHOW INDEX FROM t"); !strings.Contains(got, "t\t1\tb_i\t1\tb\t\tYES") || !strings.Contains(got, "t\t0\tud\t1\tu\twrite-only\tNO") {
		t.Fatalf("SHOW INDEX after an interrupted ALTER:\n%s", got)
	}
	if got := mustRun(t, s, "SELECT * FROM t WHERE id = 1"); got != "1\tv1\t1\n" {
		t.Fatalf("a row after an interrupted ALTER: %q", got)
	}
	// Writers fill the hidden column and maintain the index on it.
	mustRun(t, s, "INSERT INTO t (id, b, u) VALUES (1000, 'new', 1000); UPDATE t SET u = 1001 WHERE id = 1000")
	mustRun(t, s, alter)
	got := mustRun(t, s, "SHOW CREATE TABLE t")
	if !strings.Contains(got, "`d` int DEFAULT 7") || strings.Contains(got, "b_i") || !strings.Contains(got, "UNIQUE KEY `ud` (`u`,`d`)") || strings.Contains(got, "/*") {
		t.Fatalf("SHOW CREATE TABLE after the ALTER ran again:\n%s", got)
	}
	wantConsistent(t, e, "ud")
	wantColumns(t, e, "id", "b", "u", "d")
	if got := mustRun(t, s, "SELECT count(*), min(d), max(d) FROM t"); got != "501\t7\t7\n" {
		t.Fatalf("d after the ALTER ran again: %q", got)
	}

	// Stopped, then its index dropped: the table is as before.
	create = mustRun(t, s, "SHOW CREATE TABLE t")
	interrupted("ALTER TABLE t ADD COLUMN e INT DEFAULT 1, ADD COLUMN f INT, ADD INDEX ef (e, f)")
	mustRun(t, s, "INSERT INTO t (id, b, u) VALUES (2000, 'x', 2000)")
	wantColumns(t, e, "id", "b", "u", "d", "e (being added with index #4)", "f (being added with index #4)")
	mustRun(t, s, "DROP INDEX ef ON t")
	wantGone(t, e, s, create)
	wantColumns(t, e, "id", "b", "u", "d")
	mustRun(t, s, "ALTER TABLE t ADD COLUMN e INT DEFAULT 1, ADD COLUMN f INT, ADD INDEX ef (e, f)")
	wantConsistent(t, e, "ef")

	// A redefinition stopped: the old index stays public beside the new
	// one, write-only. Running it again finishes it; DROP INDEX removes
	// the new one.
	create = mustRun(t, s, "SHOW CREATE TABLE t")
	const redefine = "ALTER TABLE t DROP INDEX ud, ADD UNIQUE INDEX ud (u)"
	interrupted(redefine)
	if got := mustRun(t, s, "SHOW INDEX FROM t"); !strings.Contains(got, "t\t0\tud\t2\td\t\tYES") || !strings.Contains(got, "t\t0\tud\t1\tu\twrite-only\tNO") {
		t.Fatalf("SHOW INDEX after an interrupted redefinition:\n%s", got)
	}
	if _, err := run(t, s, "CREATE UNIQUE INDEX ud ON t (u)"); sqlerr.Code(err) != 1061 {
		t.Fatalf("CREATE INDEX of the name a public index has: %v, want 1061", err)
	}
	mustRun(t, s, "DROP INDEX ud ON t")
	wantGone(t, e, s, create)
	interrupted(redefine)
	mustRun(t, s, redefine)
	if got := mustRun(t, s, "SHOW INDEX FROM t"); strings.Count(got, "\tud\t") != 1 || !strings.Contains(got, "t\t0\tud\t1\tu\t\tYES") {
		t.Fatalf("SHOW INDEX after the redefinition ran again:\n%s", got)
	}
	wantConsistent(t, e, "ud", "ef")
}

// TestIndexAlterConflict: a schema change that another statement's
// commit, made while the indexes were building, no longer allows — its
// column name taken, the index it drops already dropped — fails as if it
// had run after that statement, and leaves the table as that statement
// left it.
func TestIndexAlterConflict(t *testing.T) {
	e, s, k := newEngine(t, 50, false)
	mustRun(t, s, "CREATE DATABASE ix; USE ix; CREATE TABLE t (id INT PRIMARY KEY, b VARCHAR(8), u INT, KEY b_i (b))")
	insertRows(t, s, 300, func(i int) string { return fmt.Sprintf("(%d, 'v%d', %d)", i, i%13, i) })
	other := session(t, e, "ix")
	for _, c := range []struct {
		meanwhile, wantErr, wantIndexes string
	}{
		{"ALTER TABLE t ADD COLUMN d VARCHAR(4)", "Duplicate column name 'd'", "PRIMARY KEY (`id`),\n  KEY `b_i` (`b`)\n)"},
		{"ALTER TABLE t ADD COLUMN d VARCHAR(4), DROP INDEX b_i", "Can't DROP 'b_i'", "PRIMARY KEY (`id`)\n)"},
	} {
		k.set(func(step string, n int) error {
			if step == "backfill" && n == 2 {
				mustRun(t, other, c.meanwhile)
			}
			return nil
		})
		_, err := run(t, s, "ALTER TABLE t ADD COLUMN d INT DEFAULT 7, DROP INDEX b_i, ADD UNIQUE INDEX ui (u)")
		k.set(nil)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Fatalf("after %s meanwhile: %v, want %s", c.meanwhile, err, c.wantErr)
		}
		want := "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `b` varchar(8) DEFAULT NULL,\n  `u` int DEFAULT NULL,\n  `d` varchar(4) DEFAULT NULL,\n  " + c.wantIndexes
		if got := mustRun(t, s, "SHOW CREATE TABLE t"); !strings.Contains(got, want) || strings.Contains(got, "ui") || strings.Contains(got, "/*") {
			t.Fatalf("SHOW CREATE TABLE after %s and the failed ALTER:\n%s", c.meanwhile, got)
		}
		wantColumns(t, e, "id", "b", "u", "d")
		if strings.Contains(c.wantIndexes, "b_i") {
			wantConsistent(t, e, "b_i")
		}
		mustRun(t, s, "ALTER TABLE t DROP COLUMN d; CREATE INDEX IF NOT EXISTS b_i ON t (b)")
	}
}
