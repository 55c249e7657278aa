package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// spillSeed is the data generator's seed: MERIDIAN_SPILL_SEED replays a
// failure, else the clock picks one.
func spillSeed(t *testing.T) uint64 {
	if s := os.Getenv("MERIDIAN_SPILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MERIDIAN_SPILL_SEED: %v", err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// spillData loads random tables through s:
//
//	t (12,000 rows): group keys g (40 values) and s (3,000 strings), both
//	  sometimes NULL, and DECIMAL, DOUBLE, DATETIME, VARBINARY values
//	u (12,000 rows): join key k (8,000 values, sometimes NULL)
//	h (2,500 rows):  every row has k = 7, a join key too hot to partition
func spillData(t *testing.T, s *engine.Session, rng *rand.Rand) {
	t.Helper()
	must := func(q string) {
		t.Helper()
		if _, err := run(t, s, q); err != nil {
			t.Fatalf("%.200s: %v", q, err)
		}
	}
	must(`CREATE DATABASE hs; USE hs;
		CREATE TABLE t (id INT PRIMARY KEY, g INT, s VARCHAR(40), d DECIMAL(12,3), f DOUBLE, dt DATETIME, b VARBINARY(16));
		CREATE TABLE u (id INT PRIMARY KEY, k INT, v VARCHAR(20), d DECIMAL(12,3));
		CREATE TABLE h (id INT PRIMARY KEY, k INT, pad VARCHAR(60))`)
	null := func(p float64, v string) string {
		if rng.Float64() < p {
			return "NULL"
		}
		return v
	}
	pool := make([]string, 3000)
	for i := range pool {
		pool[i] = fmt.Sprintf("'s%d%s'", i, strings.Repeat("x", rng.IntN(24)))
	}
	insert := func(table string, n int, row func(i int) string) {
		for lo := 0; lo < n; lo += 1000 {
			var rows []string
			for i := lo; i < min(lo+1000, n); i++ {
				rows = append(rows, row(i))
			}
			must("INSERT INTO " + table + " VALUES " + strings.Join(rows, ","))
		}
	}
	insert("t", 12000, func(i int) string {
		return fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s)", i,
			null(0.05, strconv.Itoa(rng.IntN(40))),
			null(0.05, pool[rng.IntN(len(pool))]),
			null(0.05, fmt.Sprintf("%d.%03d", rng.IntN(2000000)-1000000, rng.IntN(1000))),
			null(0.05, strconv.FormatFloat(rng.NormFloat64()*1e3, 'g', -1, 64)),
			null(0.05, fmt.Sprintf("'2024-%02d-%02d %02d:%02d:%02d'", 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60))),
			null(0.05, fmt.Sprintf("X'%x'", []byte{byte(rng.IntN(4)), 0, byte(rng.IntN(256))})))
	})
	insert("u", 12000, func(i int) string {
		return fmt.Sprintf("(%d, %s, 'v%d', %d.%02d)", i, null(0.05, strconv.Itoa(rng.IntN(8000))), rng.IntN(100), rng.IntN(2000)-1000, rng.IntN(100))
	})
	// t's row 7 meets every row of h.
	insert("h", 2500, func(i int) string {
		return fmt.Sprintf("(%d, 7, '%s')", i, strings.Repeat("p", 20+rng.IntN(40)))
	})
}

// spillQueries each make a hash table far over a 64 KiB share: many
// groups, a big DISTINCT set, big build sides.
var spillQueries = []string{
	// Many groups (NULL ones included), every aggregate on every type.
	`SELECT g, s, count(*), count(d), sum(d), avg(d), min(d), max(d), sum(f), avg(f), min(f), max(f),
		min(s), max(s), min(dt), max(dt), min(b), max(b), min(id), max(id), sum(id), group_concat(id) FROM t GROUP BY g, s`,
	`SELECT DISTINCT s, g FROM t`,
	`SELECT DISTINCT d FROM t`,
	// DISTINCT aggregates: few groups with big sets, and one group.
	`SELECT g, count(DISTINCT s), count(DISTINCT d), sum(DISTINCT d), avg(DISTINCT d), count(*) FROM t GROUP BY g`,
	`SELECT count(DISTINCT s), count(DISTINCT id), sum(DISTINCT id), count(DISTINCT d), max(DISTINCT dt) FROM t`,
	`SELECT s, g FROM t WHERE id % 2 = 0 UNION SELECT s, g FROM t WHERE id % 3 = 0`,
	`SELECT v, k FROM u UNION SELECT s, g FROM t`,
	// Hash joins whose build side (u) is far over its share.
	`SELECT t.id, u.id, u.v, t.d + u.d FROM t JOIN u ON t.g = u.k`,
	`SELECT t.id, u.id, u.v FROM t JOIN u ON t.id = u.k AND u.d > t.d`,
	`SELECT u.id, t.id, t.s FROM u LEFT JOIN t ON t.id = u.k AND t.d > u.d`,
	`SELECT u.id, t.id, t.s FROM t RIGHT JOIN u ON u.k = t.id`,
	// One hot key: h's 2,500 rows against t's row 7.
	`SELECT t.id, h.id, h.pad FROM t JOIN h ON h.k = t.id`,
	`SELECT t.id, h.id FROM t LEFT JOIN h ON h.k = t.id AND h.id % 3 <> 0`,
	`SELECT t.id, h.id FROM t LEFT JOIN h ON h.k = t.id AND h.id < 0`,
	// A join into an aggregate, both spilling.
	`SELECT u.k, count(*), sum(t.d), count(DISTINCT t.s) FROM u LEFT JOIN t ON t.id = u.k GROUP BY u.k`,
	// Keys of different types, hashed as = compares them: an INT with a
	// string (as doubles: t.s, 's12xx', reads as 0), an INT with a DECIMAL.
	`SELECT t.id, u.id, u.v FROM t JOIN u ON t.id = concat(u.k, '')`,
	`SELECT u.id, t.id FROM u LEFT JOIN t ON u.k = t.s`,
	`SELECT u.id, t.id, t.d FROM u LEFT JOIN t ON u.k = t.d`,
	// A key typed INT (a CASE is typed by its first branch) whose value is
	// sometimes a string: those probe rows are joined row by row.
	`SELECT u.id, t.id FROM u JOIN t ON CASE WHEN u.id >= 100 THEN u.k ELSE concat(u.k, '.0') END = t.id`,
}

// TestHashSpill: with a 256 KiB statement bound, GROUP BY, DISTINCT,
// DISTINCT aggregates, UNION and inner, left and right hash joins spill
// to partitions — re-partitioned, or chunked for the hot key — and return
// exactly what they return with ample memory (compared as sorted sets of
// rows). Negative control: an engine that drops one partition's rows
// returns something else. With a fan-out of one, re-partitioning cannot
// split anything: aggregation fails at the depth limit with a clear error,
// while a join falls back to chunks and stays exact.
func TestHashSpill(t *testing.T) {
	seed := spillSeed(t)
	t.Logf("seed %d (MERIDIAN_SPILL_SEED=%d replays it)", seed, seed)
	c := servertest.Start(t, servertest.Options{})
	c.WaitReplicated(3)
	session := func(cfg engine.Config) (*engine.Engine, *engine.Session) { return engineOn(t, c, cfg) }
	_, ample := session(engine.Config{})
	small, tight := session(engine.Config{MaxStatementMemory: 256 << 10})
	_, dropping := session(engine.Config{MaxStatementMemory: 256 << 10, TestingKnobs: engine.TestingKnobs{DropSpilledPartition: true}})
	_, fanout1 := session(engine.Config{MaxStatementMemory: 256 << 10, TestingKnobs: engine.TestingKnobs{SpillFanout: 1}})
	spillData(t, ample, rand.New(rand.NewPCG(seed, seed^0x5eed)))
	for _, s := range []*engine.Session{tight, dropping, fanout1} {
		if _, err := run(t, s, "USE hs"); err != nil {
			t.Fatal(err)
		}
	}
	rows := func(s *engine.Session, q string) ([]string, error) { return sortedRows(t, s, q) }

	for i, q := range spillQueries {
		want, spills := spilledMatches(t, i, q, ample, tight, "256 KiB", "times", small.HashSpills)
		t.Logf("query %d: %d rows through %d spills", i, len(want), spills)
		if strings.Contains(q, "JOIN") && !strings.Contains(q, "GROUP BY") {
			if got, err := rows(fanout1, q); err != nil || !slices.Equal(got, want) {
				t.Fatalf("query %d with fan-out 1 (chunked join): %v, %d rows, want %d", i, err, len(got), len(want))
			}
		}
	}

	for _, i := range []int{0, 1, 4, 7, 9} {
		want, _ := rows(ample, spillQueries[i])
		if got, err := rows(dropping, spillQueries[i]); err == nil && slices.Equal(got, want) {
			t.Fatalf("negative control: query %d lost a partition and still matched", i)
		}
	}

	_, err := run(t, fanout1, spillQueries[0])
	if !sqlerr.Is(err, 1038) || !strings.Contains(err.Error(), "re-partitionings") {
		t.Fatalf("a group-by that cannot be split: %v", err)
	}
	t.Logf("depth limit: %v", err)
	if out, err := run(t, fanout1, "SELECT count(*) FROM t"); err != nil || out != "12000\n" {
		t.Fatalf("the session after the failed statement: %q %v", out, err)
	}

	// A correlated subquery opens its hash table once per outer row; each
	// gives its memory back when closed, or the statement would run out.
	out, err := run(t, tight, "SELECT t.id, (SELECT count(DISTINCT h.id + t.id) FROM h) FROM t WHERE t.id < 20")
	if err != nil || strings.Count(out, "\t2500\n") != 20 {
		t.Fatalf("a spilling DISTINCT per outer row: %v\n%s", err, out)
	}

	// Left joins on equalities are hash joins now.
	out, err = run(t, tight, "EXPLAIN SELECT u.id, t.id FROM u LEFT JOIN t ON t.g = u.k")
	if err != nil || !strings.Contains(out, "hash left join") {
		t.Fatalf("EXPLAIN of a left join: %v\n%s", err, out)
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("got %q, want %q", a[i], b[i])
		}
	}
	return "one is a prefix of the other"
}

// rowSpillQueries are nested loop joins (no equality between the sides)
// whose inner side is far over a 16 KiB share: u is about 1 MiB, h about
// 250 KiB. Some have enough outer rows for several blocks. In those the
// negative control runs (rowSpillControls), every inner row is in the
// result.
var rowSpillQueries = []string{
	// A cross join: 3 outer rows, one block.
	`SELECT t.id, t.s, u.id, u.v, u.d FROM t CROSS JOIN u WHERE t.id < 3`,
	// Non-equi joins over several blocks of outer rows. Derived tables
	// compute the bounds once per outer row, and limit a left join's outer
	// side (WHERE would filter above the join).
	`SELECT x.id, x.s, h.id, h.pad FROM (SELECT id, s, id * 2 AS lo, id * 2 + 1 AS hi FROM t WHERE id < 500) x
		JOIN h ON h.id BETWEEN x.lo AND x.hi`,
	`SELECT x.id, x.d, h.id FROM (SELECT id, s, d, g, id * 2 AS lo, id * 2 + 1 AS hi FROM t WHERE id < 500) x
		LEFT JOIN h ON h.id BETWEEN x.lo AND x.hi AND x.g < 20`,
	`SELECT x.id, u.id FROM (SELECT id, d / 1000 + 999 AS lim FROM t WHERE id < 100) x LEFT JOIN u ON u.d > x.lim AND u.k < 50`,
	// Into an aggregate.
	`SELECT x.g, count(*), sum(h.id), count(DISTINCT h.pad) FROM (SELECT g, id * 10 AS lim FROM t WHERE id < 250) x
		JOIN h ON h.id < x.lim GROUP BY x.g`,
}

var rowSpillControls = []int{0, 1, 4}

// spillFiles counts this process's open spill files (unlinked, so only
// /proc/self/fd still names them); -1 where /proc is not there.
func spillFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.Contains(target, "meridian-spill-") {
			n++
		}
	}
	return n
}

// TestRowSpill: with a 64 KiB statement bound, what used to fail with
// error 1038 spills to disk — a nested loop join's inner side (cross and
// non-equi joins, read from disk once per block of outer rows), the rows
// INSERT ... SELECT, UPDATE and DELETE read before writing — and gives
// exactly what an engine with ample memory gives: the same rows for
// queries (as sorted sets), the same affected-row counts and the same
// stored bytes after DML, with consistent secondary indexes. Spill files
// are gone after every statement, failed ones included. Negative control:
// an engine that drops one spilled row per statement gives something
// else.
func TestRowSpill(t *testing.T) {
	seed := spillSeed(t)
	t.Logf("seed %d (MERIDIAN_SPILL_SEED=%d replays it)", seed, seed)
	// Production Raft timings: the nested loops keep both cores of a test
	// machine busy, and a scheduling stall past the fast test election
	// timeout (300 ms) would cost a leader and fail a write as ambiguous.
	c := servertest.Start(t, servertest.Options{Paxos: func(o *paxosgroup.Options) {
		o.TickInterval, o.SupportDuration, o.LeaseMargin = 100*time.Millisecond, 1500*time.Millisecond, 50*time.Millisecond
	}})
	c.WaitReplicated(3)
	session := func(cfg engine.Config) (*engine.Engine, *engine.Session) { return engineOn(t, c, cfg) }
	var spilled atomic.Int64
	var drop atomic.Bool // the dropping engine loses the next spilled row
	ampleE, ample := session(engine.Config{})
	_, tight := session(engine.Config{MaxStatementMemory: 64 << 10, TestingKnobs: engine.TestingKnobs{
		RowSpill: func(string) bool { spilled.Add(1); return true }}})
	_, dropping := session(engine.Config{MaxStatementMemory: 64 << 10, TestingKnobs: engine.TestingKnobs{
		RowSpill: func(string) bool { return !drop.Swap(false) }}})
	spillData(t, ample, rand.New(rand.NewPCG(seed, seed^0x5eed)))
	for _, s := range []*engine.Session{tight, dropping} {
		if _, err := run(t, s, "USE hs"); err != nil {
			t.Fatal(err)
		}
	}
	rows := func(s *engine.Session, q string) ([]string, error) { return sortedRows(t, s, q) }
	noFiles := func(what string) {
		t.Helper()
		if n := spillFiles(t); n > 0 {
			t.Fatalf("%s: %d spill files still open", what, n)
		}
	}
	if spillFiles(t) < 0 {
		t.Log("no /proc/self/fd: spill files are not counted")
	}

	for i, q := range rowSpillQueries {
		want, n := spilledMatches(t, i, q, ample, tight, "64 KiB", "rows", spilled.Load)
		noFiles(fmt.Sprintf("query %d", i))
		t.Logf("query %d: %d rows, %d inner rows on disk", i, len(want), n)
		if slices.Contains(rowSpillControls, i) {
			drop.Store(true)
			if got, err := rows(dropping, q); err == nil && slices.Equal(got, want) {
				t.Fatalf("negative control: query %d lost a spilled row and still matched", i)
			}
		}
	}

	// DML: each engine writes its own copy of part of t (with secondary
	// indexes, which UPDATE and DELETE maintain from the rows they read
	// back).
	const schema = `(id INT PRIMARY KEY, g INT, s VARCHAR(40), d DECIMAL(12,3), f DOUBLE, dt DATETIME, b VARBINARY(16), KEY gs (g, s), KEY dt_i (dt))`
	engines := []struct {
		name string
		s    *engine.Session
	}{{"ample", ample}, {"tight", tight}, {"dropping", dropping}}
	for _, x := range engines {
		if _, err := run(t, ample, "CREATE TABLE c_"+x.name+" "+schema); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(table string) []string {
		t.Helper()
		b, err := engine.RowBytesForTest(context.Background(), ampleE, "hs", table)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dml := []string{
		`INSERT INTO TABLE SELECT * FROM t WHERE id < 4000`,
		`UPDATE TABLE SET d = d + 1, s = concat(s, '!'), f = f * 2, dt = dt + INTERVAL 1 DAY WHERE g < 30`,
		`UPDATE TABLE SET id = id + 100000 WHERE id % 3 = 0`,
		// COALESCE: every row it takes changes, so the negative control
		// sees a lost row even when that row's g is NULL.
		`UPDATE TABLE SET g = COALESCE(g, 0) + 100 ORDER BY s DESC, id LIMIT 1500`,
		`DELETE FROM TABLE WHERE g < 25 OR g IS NULL`,
		`DELETE FROM TABLE ORDER BY d, id LIMIT 1000`,
	}
	for i, q := range dml {
		// The dropping engine starts from what the others start from.
		if _, err := run(t, ample, "DELETE FROM c_dropping; INSERT INTO c_dropping SELECT * FROM c_ample"); err != nil {
			t.Fatal(err)
		}
		want, err := run(t, ample, strings.ReplaceAll(q, "TABLE", "c_ample"))
		if err != nil {
			t.Fatalf("statement %d with ample memory: %v", i, err)
		}
		before := spilled.Load()
		got, err := run(t, tight, strings.ReplaceAll(q, "TABLE", "c_tight"))
		if err != nil {
			t.Fatalf("statement %d with 64 KiB: %v", i, err)
		}
		n := spilled.Load() - before
		if n == 0 {
			t.Fatalf("statement %d did not spill: it does not test what it should", i)
		}
		noFiles(fmt.Sprintf("statement %d", i))
		wantRows, gotRows := stored("c_ample"), stored("c_tight")
		if got != want || !slices.Equal(gotRows, wantRows) {
			t.Fatalf("statement %d spilled %d rows: %q and %d rows stored, want %q and %d rows; first difference: %s",
				i, n, got, len(gotRows), want, len(wantRows), firstDiff(gotRows, wantRows))
		}
		for _, ix := range []string{"gs", "dt_i"} {
			check, err := engine.CheckIndexForTest(context.Background(), ampleE, "hs", "c_tight", ix)
			if err != nil {
				t.Fatal(err)
			}
			if p := indexProblems(check); len(p) > 0 {
				t.Fatalf("statement %d: index %s and table differ:\n%s", i, ix, strings.Join(p, "\n"))
			}
		}
		t.Logf("statement %d: %s, %d rows stored, %d read back from disk", i, strings.TrimSpace(got), len(gotRows), n)

		drop.Store(true)
		got, err = run(t, dropping, strings.ReplaceAll(q, "TABLE", "c_dropping"))
		if err == nil && got == want && slices.Equal(stored("c_dropping"), wantRows) {
			t.Fatalf("negative control: statement %d lost a spilled row and still matched", i)
		}
	}

	// Failing statements leave no spill file behind: an UPDATE that meets
	// a duplicate key after its rows spilled, and a spilled nested loop
	// below a subquery that returns two rows.
	if _, err := run(t, tight, "UPDATE c_tight SET id = id + 1"); !sqlerr.Is(err, 1062) {
		t.Fatalf("an UPDATE onto existing keys: %v", err)
	}
	noFiles("a failed UPDATE")
	before := spilled.Load()
	_, err := run(t, tight, "SELECT t.id, h.id FROM t JOIN h ON h.id < (SELECT u.id FROM u WHERE u.id < t.id) WHERE t.id < 50")
	if !sqlerr.Is(err, 1242) || spilled.Load() == before {
		t.Fatalf("a failing spilled nested loop: %v, %d rows spilled", err, spilled.Load()-before)
	}
	noFiles("a failed nested loop")
}

// sortedRows runs q and returns its output lines, sorted.
func sortedRows(t *testing.T, s *engine.Session, q string) ([]string, error) {
	out, err := run(t, s, q)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	slices.Sort(lines)
	return lines, err
}

// spilledMatches runs query i with ample memory and with tight (limit
// names it), and fails unless the tight run spilled (count grew) and
// returned the same rows. It returns the rows and how much count grew
// (unit names what it counts).
func spilledMatches(t *testing.T, i int, q string, ample, tight *engine.Session, limit, unit string, count func() int64) ([]string, int64) {
	t.Helper()
	want, err := sortedRows(t, ample, q)
	if err != nil {
		t.Fatalf("query %d with ample memory: %v", i, err)
	}
	before := count()
	got, err := sortedRows(t, tight, q)
	if err != nil {
		t.Fatalf("query %d with %s: %v", i, limit, err)
	}
	n := count() - before
	if n == 0 {
		t.Fatalf("query %d did not spill: it does not test what it should", i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("query %d spilled %d %s and returned %d rows, want %d; first difference: %s",
			i, n, unit, len(got), len(want), firstDiff(got, want))
	}
	return want, n
}

// engineOn starts an engine with cfg on node 1 of c and opens a session.
func engineOn(t *testing.T, c *servertest.Cluster, cfg engine.Config) (*engine.Engine, *engine.Session) {
	t.Helper()
	cfg.Txn, cfg.NodeID = c.Nodes[0].TxnClient(), 1
	e := engine.New(cfg)
	s, err := e.NewSession(context.Background(), "root", "")
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}
