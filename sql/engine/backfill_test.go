package engine_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// The online schema change tests. A CREATE INDEX runs in many chunk
// transactions (Config.BackfillChunkRows rows each) while other sessions
// write the table; the testing knob AfterSchemaChangeChunk lets a test act
// between two chunks — wait there until writers committed (the proof that
// they run while the index is built), write a chosen row, or stop the
// statement as a crashed node would. engine.CheckIndexForTest is the
// checker: an index-only scan, a full scan and a point read per row at
// one snapshot; the negative control breaks index maintenance on purpose
// and shows the checker fails.

var backfillSeed = flag.Uint64("backfill.seed", 0, "seed of the online schema change tests (0: from the clock)")

// newRand returns the seeded source of a randomised test and logs the
// seed, so that a failure can be replayed with -backfill.seed.
func newRand(t *testing.T) (*rand.Rand, uint64) {
	seed := *backfillSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -backfill.seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
}

// knobs is a test's view of the engine's schema change hooks; fields are
// set between statements.
type knobs struct {
	mu sync.Mutex
	// chunk is called after each chunk transaction commits.
	chunk func(step string, n int) error
}

func (k *knobs) set(f func(step string, n int) error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.chunk = f
}

func (k *knobs) call(step string, n int) error {
	k.mu.Lock()
	f := k.chunk
	k.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(step, n)
}

// newEngine starts a 3-node cluster and an engine whose schema changes
// read chunkRows rows per transaction.
func newEngine(t *testing.T, chunkRows int, skipWriteOnly bool) (*engine.Engine, *engine.Session, *knobs) {
	t.Helper()
	c := servertest.Start(t, servertest.Options{})
	c.WaitReplicated(3)
	k := &knobs{}
	e := engine.New(engine.Config{Txn: c.Nodes[0].TxnClient(), NodeID: 1, BackfillChunkRows: chunkRows,
		TestingKnobs: engine.TestingKnobs{SkipWriteOnlyIndexWrites: skipWriteOnly, AfterSchemaChangeChunk: k.call}})
	s, err := e.NewSession(context.Background(), "root", "")
	if err != nil {
		t.Fatal(err)
	}
	return e, s, k
}

// insertRows inserts n rows into t in one statement, row(i) giving the
// VALUES tuple of the i-th.
func insertRows(t *testing.T, s *engine.Session, n int, row func(i int) string) {
	t.Helper()
	rows := make([]string, n)
	for i := range rows {
		rows[i] = row(i)
	}
	mustRun(t, s, "INSERT INTO t VALUES "+strings.Join(rows, ","))
}

func mustRun(t *testing.T, s *engine.Session, q string) string {
	t.Helper()
	out, err := run(t, s, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func session(t *testing.T, e *engine.Engine, db string) *engine.Session {
	t.Helper()
	s, err := e.NewSession(context.Background(), "root", db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// progress counts writers' commits and wakes whoever waits for a count.
type progress struct {
	n      atomic.Int64
	notify chan struct{}
}

func newProgress() *progress { return &progress{notify: make(chan struct{}, 1)} }

func (p *progress) add() {
	p.n.Add(1)
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// waitFor waits until n commits were counted, or the deadline.
func (p *progress) waitFor(n int64, within time.Duration) error {
	deadline := time.After(within)
	for p.n.Load() < n {
		select {
		case <-p.notify:
		case <-deadline:
			return errors.Newf("writers committed %d times, want %d", p.n.Load(), n)
		}
	}
	return nil
}

// writer runs random single-row and small-range writes on ix.t until stop
// closes: inserts (some with ON DUPLICATE KEY UPDATE), REPLACE, updates of
// the indexed column (by key and over a range), primary key changes and
// deletes. Rows keep ids in [0, 4000) and b in v0..v19.
func writer(t *testing.T, e *engine.Engine, rng *rand.Rand, stop <-chan struct{}, p *progress) {
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
			q = fmt.Sprintf("INSERT INTO t VALUES (%d, 'v%d', %d) ON DUPLICATE KEY UPDATE b = VALUES(b)", id, v, id)
		case 1:
			q = fmt.Sprintf("REPLACE INTO t VALUES (%d, 'v%d', %d)", id, v, id)
		case 2, 3:
			q = fmt.Sprintf("UPDATE t SET b = 'v%d' WHERE id = %d", v, id)
		case 4:
			q = fmt.Sprintf("UPDATE t SET b = 'v%d' WHERE id BETWEEN %d AND %d", v, id, id+5)
		case 5:
			q = fmt.Sprintf("UPDATE t SET id = %d WHERE id = %d", rng.IntN(4000), id)
		default:
			q = fmt.Sprintf("DELETE FROM t WHERE id = %d", id)
		}
		// Duplicate keys, conflicts and ambiguous results (a leader change
		// on a loaded machine) are outcomes the index must follow too.
		if _, err := run(t, s, q); err == nil {
			p.add()
		} else if code := sqlerr.Code(err); code != 1062 && code != 1213 && code != 1205 && !isAmbiguous(err) {
			t.Errorf("%s: %v", q, err)
			return
		}
	}
}

func isAmbiguous(err error) bool {
	return sqlerr.Code(err) == 1105 && strings.Contains(err.Error(), "outcome is unknown")
}

// backfillUnderWrites builds index bi on t.b (2000 rows, 50 per chunk, so
// 40 chunks) while four writers run, and returns the checker's view of
// it. Three times during the backfill the statement waits between two
// chunks until the writers committed 10 more times; in one of those
// pauses it also moves a row the backfill already covered to a new value
// and inserts one before its cursor, writes only index maintenance by
// writers can get into the index.
func backfillUnderWrites(t *testing.T, skipWriteOnly bool) *engine.IndexCheck {
	rng, seed := newRand(t)
	e, s, k := newEngine(t, 50, skipWriteOnly)
	mustRun(t, s, "CREATE DATABASE ix; USE ix; CREATE TABLE t (id INT PRIMARY KEY, b VARCHAR(8), c INT)")
	insertRows(t, s, 2000, func(i int) string { return fmt.Sprintf("(%d, 'v%d', %d)", 2*i, rng.IntN(20), i) })

	p := newProgress()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writer(t, e, rand.New(rand.NewPCG(seed, uint64(w)+1)), stop, p)
		}()
	}
	var stopOnce sync.Once
	stopWriters := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer stopWriters()
	if err := p.waitFor(20, time.Minute); err != nil {
		t.Fatal(err)
	}

	observer := session(t, e, "ix")
	var chunks atomic.Int64
	var atFirst, atLast atomic.Int64
	k.set(func(step string, n int) error {
		if step != "backfill" {
			return nil
		}
		chunks.Add(1)
		if n == 1 {
			atFirst.Store(p.n.Load())
		}
		atLast.Store(p.n.Load())
		switch n {
		case 5, 20, 35:
			if err := p.waitFor(p.n.Load()+10, time.Minute); err != nil {
				return errors.Wrapf(err, "writers made no progress while the backfill was between chunks %d and %d", n, n+1)
			}
		}
		if n == 20 {
			// While write-only, queries must not use the index.
			if plan := mustRun(t, observer, "EXPLAIN SELECT id FROM t WHERE b = 'v1'"); strings.Contains(plan, " on bi") {
				return errors.Newf("a write-only index was planned:\n%s", plan)
			}
			if show := mustRun(t, observer, "SHOW INDEX FROM t"); !strings.Contains(show, "bi\t1\tb\twrite-only\tNO") {
				return errors.Newf("SHOW INDEX during the backfill:\n%s", show)
			}
			mustRun(t, observer, "REPLACE INTO t VALUES (0, 'moved', 0), (-1, 'early', -1)")
		}
		return nil
	})
	before := p.n.Load()
	mustRun(t, s, "CREATE INDEX bi ON t (b)")
	after := p.n.Load()
	k.set(nil)
	if err := p.waitFor(after+50, time.Minute); err != nil {
		t.Fatal(err)
	}
	stopWriters()

	if chunks.Load() < 40 {
		t.Fatalf("the backfill ran %d chunks, want at least 40", chunks.Load())
	}
	during := atLast.Load() - atFirst.Load()
	t.Logf("writers committed %d times during the CREATE INDEX (%d between its first and last backfill chunk), %d in all", after-before, during, p.n.Load())
	if during < 30 {
		t.Fatalf("writers committed %d times between the first and the last backfill chunk, want at least 30", during)
	}
	check, err := engine.CheckIndexForTest(context.Background(), e, "ix", "t", "bi")
	if err != nil {
		t.Fatal(err)
	}
	if check.State != "public" {
		t.Fatalf("index state %s after CREATE INDEX", check.State)
	}
	return check
}

// indexProblems describes how an index differs from its table.
func indexProblems(c *engine.IndexCheck) []string {
	var out []string
	entries := map[string]int{}
	for _, e := range c.Entries {
		entries[e]++
	}
	rows := map[string]bool{}
	for _, r := range c.Rows {
		rows[r] = true
		if entries[r] != 1 {
			out = append(out, fmt.Sprintf("row %q has %d entries", r, entries[r]))
		}
	}
	for e := range entries {
		if !rows[e] {
			out = append(out, fmt.Sprintf("entry %q has no row", e))
		}
	}
	for _, m := range c.Missing {
		out = append(out, fmt.Sprintf("row %q: its entry's point read found nothing", m))
	}
	slices.Sort(out)
	return out
}

// TestIndexBackfillUnderWrites: CREATE INDEX backfills in many chunks
// while writers insert, replace, update the indexed column and the
// primary key, and delete; they commit between the chunks. Afterwards the
// index holds exactly the table's rows, one entry each, and queries use
// it and agree with full scans.
func TestIndexBackfillUnderWrites(t *testing.T) {
	check := backfillUnderWrites(t, false)
	if p := indexProblems(check); len(p) > 0 || !slices.Equal(check.Entries, check.Rows) {
		t.Fatalf("index and table differ (%d entries, %d rows):\n%s", len(check.Entries), len(check.Rows), strings.Join(p, "\n"))
	}
	t.Logf("index and table agree on %d rows", len(check.Rows))
}

// TestIndexBackfillNegativeControl: with writers not maintaining
// write-only indexes (the testing knob), the same run leaves an index the
// checker rejects: the row moved during the backfill keeps its old entry
// and misses its new one, and so does the row inserted before the cursor.
func TestIndexBackfillNegativeControl(t *testing.T) {
	check := backfillUnderWrites(t, true)
	p := indexProblems(check)
	if len(p) == 0 {
		t.Fatal("the checker passed an index built without index maintenance by writers")
	}
	t.Logf("the checker found %d problems, e.g. %s", len(p), p[0])
}

// TestIndexBackfillQueries: after an online CREATE INDEX under writes,
// point lookups through the index agree with full scans for every value.
func TestIndexBackfillQueries(t *testing.T) {
	rng, _ := newRand(t)
	e, s, _ := newEngine(t, 100, false)
	mustRun(t, s, "CREATE DATABASE ix; USE ix; CREATE TABLE t (id INT PRIMARY KEY, b VARCHAR(8), c INT)")
	insertRows(t, s, 1500, func(i int) string { return fmt.Sprintf("(%d, 'v%d', %d)", i, rng.IntN(20), i) })
	p := newProgress()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			writer(t, e, wrng, stop, p)
		}()
	}
	if err := p.waitFor(20, time.Minute); err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, "ALTER TABLE t ADD INDEX bi (b)")
	if err := p.waitFor(p.n.Load()+50, time.Minute); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if plan := mustRun(t, s, "EXPLAIN SELECT id FROM t WHERE b = 'v1'"); !strings.Contains(plan, "index lookup t on bi") {
		t.Fatalf("the check would not use the index:\n%s", plan)
	}
	total := 0
	for v := range 20 {
		viaIndex := mustRun(t, s, fmt.Sprintf("SELECT id FROM t WHERE b = 'v%d' ORDER BY id", v))
		viaScan := mustRun(t, s, fmt.Sprintf("SELECT id FROM t WHERE concat(b, '') = 'v%d' ORDER BY id", v))
		if viaIndex != viaScan {
			t.Fatalf("b = v%d: index %q, table %q", v, viaIndex, viaScan)
		}
		total += strings.Count(viaScan, "\n")
	}
	t.Logf("%d writes; index lookups and full scans agree on %d rows", p.n.Load(), total)
}

// wantGone checks that no index of t but the listed ones has entries and
// that the descriptor is back to what it was.
func wantGone(t *testing.T, e *engine.Engine, s *engine.Session, createBefore string) {
	t.Helper()
	if got := mustRun(t, s, "SHOW CREATE TABLE t"); got != createBefore {
		t.Fatalf("the descriptor was not restored:\n%s\nwant\n%s", got, createBefore)
	}
	keys, listed, err := engine.TableKeysForTest(context.Background(), e, "ix", "t")
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range keys {
		if id != 1 && !slices.Contains(listed, id) {
			t.Fatalf("index %d is gone from the descriptor but has %d entries left", id, n)
		}
	}
}

func wantDuplicate(t *testing.T, err error, what string) {
	t.Helper()
	if sqlerr.Code(err) != 1062 {
		t.Fatalf("%s: got %v, want error 1062", what, err)
	}
}

// TestUniqueIndexDuplicates: a CREATE UNIQUE INDEX over duplicates fails
// with 1062 and leaves nothing behind, whether the duplicate is inside one
// chunk, across chunks (found by the validation scan), or made by a
// concurrent writer against a row the backfill has or has not reached
// yet; the writer itself succeeds, as the constraint does not exist yet.
// Once public the index is enforced on writers.
func TestUniqueIndexDuplicates(t *testing.T) {
	e, s, k := newEngine(t, 50, false)
	mustRun(t, s, "CREATE DATABASE ix; USE ix; CREATE TABLE t (id INT PRIMARY KEY, u INT, b VARCHAR(8), KEY b_i (b))")
	insertRows(t, s, 1000, func(i int) string { return fmt.Sprintf("(%d, %d, 'v%d')", i, i, i%7) })
	create := mustRun(t, s, "SHOW CREATE TABLE t")
	writerSession := session(t, e, "ix")

	// Inside one chunk, then across chunks.
	for _, c := range []struct{ set, undo, stmt string }{
		{"UPDATE t SET u = 10 WHERE id = 11", "UPDATE t SET u = 11 WHERE id = 11", "CREATE UNIQUE INDEX ui ON t (u)"},
		{"UPDATE t SET u = 3 WHERE id = 900", "UPDATE t SET u = 900 WHERE id = 900", "ALTER TABLE t ADD UNIQUE INDEX ui (u)"},
	} {
		mustRun(t, s, c.set)
		_, err := run(t, s, c.stmt)
		wantDuplicate(t, err, c.stmt+" after "+c.set)
		wantGone(t, e, s, create)
		mustRun(t, s, c.undo)
	}

	// A writer's duplicate while the index is write-only: against row
	// 999, which the backfill reaches after the write (the backfill and
	// the duplicate check find it); against row 0, which the first chunk
	// covered (the writer finds its entry and leaves the marker); and
	// against row 0 after the duplicate check, when only the marker tells.
	for _, c := range []struct {
		step  string
		at    int
		dupOf int
	}{{"backfill", 3, 999}, {"backfill", 3, 0}, {"validate", -1, 0}} {
		var writeErr error
		k.set(func(step string, n int) error {
			if step == c.step && (n == c.at || c.at < 0) {
				_, writeErr = run(t, writerSession, fmt.Sprintf("INSERT INTO t VALUES (-7, %d, 'w')", c.dupOf))
			}
			return nil
		})
		_, err := run(t, s, "CREATE UNIQUE INDEX ui ON t (u)")
		k.set(nil)
		if writeErr != nil {
			t.Fatalf("a write that duplicates a value of a write-only index failed: %v", writeErr)
		}
		wantDuplicate(t, err, fmt.Sprintf("a writer duplicating row %d after %s %d", c.dupOf, c.step, c.at))
		mustRun(t, s, "DELETE FROM t WHERE id = -7")
		wantGone(t, e, s, create)
	}

	// Without duplicates it builds, and then it is enforced.
	mustRun(t, s, "CREATE UNIQUE INDEX ui ON t (u)")
	check, err := engine.CheckIndexForTest(context.Background(), e, "ix", "t", "ui")
	if err != nil {
		t.Fatal(err)
	}
	if p := indexProblems(check); len(p) > 0 {
		t.Fatalf("unique index and table differ:\n%s", strings.Join(p, "\n"))
	}
	_, err = run(t, writerSession, "INSERT INTO t VALUES (-8, 5, 'x')")
	wantDuplicate(t, err, "an insert duplicating a public unique index")
}

// TestIndexBuildInterrupted: a CREATE INDEX stopped mid-backfill (as by a
// crash) leaves a write-only index that SHOW INDEX and SHOW CREATE TABLE
// show as such, that queries ignore and writers maintain; running the
// CREATE INDEX again finishes it, DROP INDEX removes it, and a drop
// stopped midway is finished by the next schema change of the table.
func TestIndexBuildInterrupted(t *testing.T) {
	e, s, k := newEngine(t, 50, false)
	mustRun(t, s, "CREATE DATABASE ix; USE ix; CREATE TABLE t (id INT PRIMARY KEY, b VARCHAR(8), c INT)")
	insertRows(t, s, 500, func(i int) string { return fmt.Sprintf("(%d, 'v%d', %d)", i, i%13, i) })
	crash := func(step string, at int) {
		k.set(func(st string, n int) error {
			if st == step && n == at {
				return errors.New("node crashed")
			}
			return nil
		})
	}
	ctx := context.Background()

	crash("backfill", 3)
	if _, err := run(t, s, "CREATE INDEX bi ON t (b)"); err == nil {
		t.Fatal("the interrupted CREATE INDEX succeeded")
	}
	k.set(nil)
	if show := mustRun(t, s, "SHOW INDEX FROM t"); !strings.Contains(show, "t\t1\tbi\t1\tb\twrite-only\tNO") {
		t.Fatalf("SHOW INDEX after an interrupted build:\n%s", show)
	}
	if show := mustRun(t, s, "SHOW CREATE TABLE t"); !strings.Contains(show, "/* KEY `bi` (`b`) is write-only") {
		t.Fatalf("SHOW CREATE TABLE after an interrupted build:\n%s", show)
	}
	if plan := mustRun(t, s, "EXPLAIN SELECT id FROM t WHERE b = 'v1'"); strings.Contains(plan, " on bi") {
		t.Fatalf("a write-only index was planned:\n%s", plan)
	}
	// Writers maintain it: a row past the backfill's cursor, inserted and
	// updated now, has its entry.
	mustRun(t, s, "INSERT INTO t VALUES (10000, 'new', 0); UPDATE t SET b = 'newer' WHERE id = 10000")
	check, err := engine.CheckIndexForTest(ctx, e, "ix", "t", "bi")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(check.Entries, "newer\t10000") || slices.Contains(check.Entries, "new\t10000") {
		t.Fatalf("a writer did not maintain the write-only index: %d entries, state %s", len(check.Entries), check.State)
	}
	if _, err := run(t, s, "CREATE INDEX bi ON t (c)"); sqlerr.Code(err) != 1061 {
		t.Fatalf("CREATE INDEX of another definition under the same name: %v, want 1061", err)
	}
	// Running it again finishes it.
	mustRun(t, s, "CREATE INDEX bi ON t (b)")
	check, err = engine.CheckIndexForTest(ctx, e, "ix", "t", "bi")
	if err != nil {
		t.Fatal(err)
	}
	if p := indexProblems(check); len(p) > 0 || check.State != "public" {
		t.Fatalf("resumed index (%s) and table differ:\n%s", check.State, strings.Join(p, "\n"))
	}
	if plan := mustRun(t, s, "EXPLAIN SELECT id FROM t WHERE b = 'v1'"); !strings.Contains(plan, "index lookup t on bi") {
		t.Fatalf("the finished index is not used:\n%s", plan)
	}

	// Interrupted again, then dropped.
	create := mustRun(t, s, "SHOW CREATE TABLE t")
	crash("backfill", 2)
	if _, err := run(t, s, "CREATE INDEX ci ON t (c)"); err == nil {
		t.Fatal("the interrupted CREATE INDEX succeeded")
	}
	k.set(nil)
	mustRun(t, s, "DROP INDEX ci ON t")
	wantGone(t, e, s, create)

	// A DROP INDEX stopped midway: the index is dropping, and the next
	// schema change (here a CREATE INDEX of the same name) finishes it.
	crash("delete", 1)
	if _, err := run(t, s, "DROP INDEX bi ON t"); err == nil {
		t.Fatal("the interrupted DROP INDEX succeeded")
	}
	k.set(nil)
	if show := mustRun(t, s, "SHOW INDEX FROM t"); !strings.Contains(show, "bi\t1\tb\tdropping\tNO") {
		t.Fatalf("SHOW INDEX after an interrupted drop:\n%s", show)
	}
	if plan := mustRun(t, s, "EXPLAIN SELECT id FROM t WHERE b = 'v1'"); strings.Contains(plan, " on bi") {
		t.Fatalf("a dropping index was planned:\n%s", plan)
	}
	mustRun(t, s, "CREATE INDEX bi ON t (b)")
	if show := mustRun(t, s, "SHOW INDEX FROM t"); strings.Contains(show, "dropping") {
		t.Fatalf("the interrupted drop was not finished:\n%s", show)
	}
	wantGone(t, e, s, create)
	check, err = engine.CheckIndexForTest(ctx, e, "ix", "t", "bi")
	if err != nil {
		t.Fatal(err)
	}
	if p := indexProblems(check); len(p) > 0 {
		t.Fatalf("rebuilt index and table differ:\n%s", strings.Join(p, "\n"))
	}
}

// TestAddColumnDefault: ADD COLUMN with a DEFAULT rewrites no row; the
// rows that predate it read the default the ALTER evaluated (a
// CURRENT_TIMESTAMP stays the ALTER's), so an index on the column agrees
// with them. DROP COLUMN drops the indexes on it and re-encodes the rows.
func TestAddColumnDefault(t *testing.T) {
	e, s, _ := newEngine(t, 40, false)
	ctx := context.Background()
	mustRun(t, s, "CREATE DATABASE ix; USE ix; CREATE TABLE t (id INT PRIMARY KEY, b VARCHAR(8))")
	insertRows(t, s, 200, func(i int) string { return fmt.Sprintf("(%d, 'v%d')", i, i%5) })
	before, err := engine.RowBytesForTest(ctx, e, "ix", "t")
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, "ALTER TABLE t ADD COLUMN d DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), ADD COLUMN n INT DEFAULT 7")
	after, err := engine.RowBytesForTest(ctx, e, "ix", "t")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatal("ADD COLUMN rewrote rows")
	}
	first := mustRun(t, s, "SELECT DISTINCT d, n FROM t")
	if again := mustRun(t, s, "SELECT DISTINCT d, n FROM t"); again != first || strings.Count(first, "\n") != 1 {
		t.Fatalf("old rows read %q, then %q: want one value, the same", first, again)
	}
	mustRun(t, s, "INSERT INTO t (id, b) VALUES (1000, 'x')")
	mustRun(t, s, "CREATE INDEX di ON t (d)")
	check, err := engine.CheckIndexForTest(ctx, e, "ix", "t", "di")
	if err != nil {
		t.Fatal(err)
	}
	if p := indexProblems(check); len(p) > 0 {
		t.Fatalf("index on the added column and table differ:\n%s", strings.Join(p, "\n"))
	}
	mustRun(t, s, "ALTER TABLE t DROP COLUMN d")
	if show := mustRun(t, s, "SHOW INDEX FROM t"); strings.Contains(show, "di") {
		t.Fatalf("the index on a dropped column stayed:\n%s", show)
	}
	keys, _, err := engine.TableKeysForTest(ctx, e, "ix", "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[1] != 201 {
		t.Fatalf("keys by index after DROP COLUMN: %v, want only 201 rows", keys)
	}
	if got := mustRun(t, s, "SELECT * FROM t WHERE id = 3"); got != "3\tv3\t7\n" {
		t.Fatalf("row after DROP COLUMN: %q", got)
	}
}
