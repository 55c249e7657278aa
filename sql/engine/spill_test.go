package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
	session := func(cfg engine.Config) (*engine.Engine, *engine.Session) {
		cfg.Txn, cfg.NodeID = c.Nodes[0].TxnClient(), 1
		e := engine.New(cfg)
		s, err := e.NewSession(context.Background(), "root", "")
		if err != nil {
			t.Fatal(err)
		}
		return e, s
	}
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
	rows := func(s *engine.Session, q string) ([]string, error) {
		out, err := run(t, s, q)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		slices.Sort(lines)
		return lines, err
	}

	for i, q := range spillQueries {
		want, err := rows(ample, q)
		if err != nil {
			t.Fatalf("query %d with ample memory: %v", i, err)
		}
		before := small.HashSpills()
		got, err := rows(tight, q)
		if err != nil {
			t.Fatalf("query %d with 256 KiB: %v", i, err)
		}
		spills := small.HashSpills() - before
		if spills == 0 {
			t.Fatalf("query %d did not spill: it does not test what it should", i)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("query %d spilled %d times and returned %d rows, want %d; first difference: %s",
				i, spills, len(got), len(want), firstDiff(got, want))
		}
		t.Logf("query %d: %d rows through %d spills", i, len(got), spills)
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
