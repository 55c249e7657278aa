package engine_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// startMariaDB runs a throwaway mariadbd (Debian's mariadb-server) on a
// temporary data directory and returns a connection to database diff.
// The test skips when the server is not installed.
func startMariaDB(t *testing.T) *sql.DB {
	t.Helper()
	bin, err := exec.LookPath("mariadbd")
	if err != nil {
		t.Skip("mariadbd not installed (apt-get install mariadb-server); skipping the differential test")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	install := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--auth-root-authentication-method=normal", "--user=root")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	sock := filepath.Join(dir, "sock")
	cmd := exec.Command(bin, "--no-defaults", "--datadir="+data, "--socket="+sock, fmt.Sprintf("--port=%d", port),
		"--bind-address=127.0.0.1", "--user=root", "--skip-log-bin", "--innodb-buffer-pool-size=32M")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	db, err := sql.Open("mysql", "root@unix("+sock+")/?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for db.Ping() != nil {
		if time.Now().After(deadline) {
			t.Fatal("mariadbd did not start")
		}
		time.Sleep(100 * time.Millisecond) // polling a starting process
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetMaxIdleConns(1)
	if _, err := db.Exec("CREATE DATABASE diff; USE diff"); err != nil {
		t.Fatal(err)
	}
	return db
}

// queryMariaDB renders a result as run() does for Meridian.
func queryMariaDB(db *sql.DB, q string) (string, error) {
	rows, err := db.Query(q)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			if v == nil {
				parts[i] = "NULL"
			} else {
				parts[i] = string(v)
			}
		}
		b.WriteString(strings.Join(parts, "\t") + "\n")
	}
	return b.String(), rows.Err()
}

// diffGen draws statements from the subset both databases agree on:
// binary collation, no FLOAT, ONLY_FULL_GROUP_BY-safe grouping, no
// overflow.
type diffGen struct {
	r *rand.Rand
	// qual qualifies column names in predicates (for self-joins).
	qual string
}

func (g diffGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g diffGen) literal(col string) string {
	switch col {
	case "a", "id":
		return fmt.Sprint(g.r.IntN(30) - 5)
	case "b":
		return "'" + g.pick("a", "b", "ab", "ba", "abc", "B", "") + "'"
	case "c":
		return fmt.Sprintf("%d.%02d", g.r.IntN(100)-20, g.r.IntN(100))
	}
	return fmt.Sprintf("'2024-0%d-1%d 10:00:00'", 1+g.r.IntN(3), g.r.IntN(9))
}

func (g diffGen) pred(depth int) string {
	col := g.pick("id", "a", "b", "c", "d")
	q := g.qual + col
	switch n := g.r.IntN(9); {
	case depth < 2 && n == 0:
		return "(" + g.pred(depth+1) + " AND " + g.pred(depth+1) + ")"
	case depth < 2 && n == 1:
		return "(" + g.pred(depth+1) + " OR " + g.pred(depth+1) + ")"
	case depth < 2 && n == 2:
		return "NOT " + g.pred(depth+1)
	case n == 3:
		return q + g.pick(" IS NULL", " IS NOT NULL")
	case n == 4:
		return q + g.pick(" IN (", " NOT IN (") + g.literal(col) + ", " + g.literal(col) + ")"
	case n == 5:
		return q + " BETWEEN " + g.literal(col) + " AND " + g.literal(col)
	case n == 6:
		return g.qual + "b LIKE '" + g.pick("a%", "%b", "_", "%", "a_c", "") + "'"
	}
	return q + g.pick(" = ", " <> ", " < ", " <= ", " > ", " >= ") + g.literal(col)
}

func (g diffGen) expr() string {
	return g.pick("id", "a", "b", "c", "d", "a + 1", "c * 2", "a - id", "a DIV 3", "a % 4", "c / 4",
		"coalesce(a, -1)", "ifnull(b, 'none')", "length(b)", "upper(b)", "concat(b, '-', a)",
		"CASE WHEN a > 10 THEN 'big' WHEN a IS NULL THEN 'null' ELSE 'small' END", "abs(c)", "year(d)", "a = 5")
}

func (g diffGen) query() (q string, ordered bool) {
	where := ""
	if g.r.IntN(4) > 0 {
		where = " WHERE " + g.pred(0)
	}
	switch g.r.IntN(12) {
	case 10:
		yg := diffGen{r: g.r, qual: "y."}
		return "SELECT x.id, x.b FROM t x WHERE " + g.pick("", "NOT ") + "EXISTS (SELECT 1 FROM t y WHERE y.a = x.a AND y.id <> x.id AND " + yg.pred(0) + ")", false
	case 11:
		return "SELECT x.id, (SELECT max(y.c) FROM t y WHERE y.a = x.a AND y.id < x.id) FROM t x", false
	case 6:
		return "SELECT id, a FROM t WHERE a IN (SELECT a FROM t WHERE " + g.pred(0) + ")", false
	case 7:
		return "SELECT b FROM t WHERE " + g.pred(0) + " UNION " + g.pick("", "ALL ") + "SELECT b FROM t WHERE " + g.pred(0), false
	case 8:
		return "SELECT a, count(*) AS n, sum(c) FROM t" + where + " GROUP BY a HAVING n > 1 OR sum(c) > 20", false
	case 9:
		jg := diffGen{r: g.r, qual: "x."}
		return "SELECT x.id, y.id, y.c FROM t x " + g.pick("LEFT", "RIGHT") + " JOIN t y ON x.a = y.id WHERE " + jg.pred(0), false
	case 0:
		return "SELECT a, count(*), sum(c), min(b), max(d), count(DISTINCT b) FROM t" + where + " GROUP BY a", false
	case 1:
		return "SELECT DISTINCT " + g.pick("a", "b", "a, b") + " FROM t" + where, false
	case 2:
		jg := diffGen{r: g.r, qual: "x."}
		return "SELECT x.id, y.id, y.b FROM t x JOIN t y ON x.a = y.a WHERE " + jg.pred(0) + " AND x.id < y.id", false
	case 3:
		return fmt.Sprintf("SELECT id, %s FROM t%s ORDER BY id LIMIT %d", g.expr(), where, 1+g.r.IntN(10)), true
	case 4:
		return "SELECT count(*), sum(a), avg(a), avg(c), max(c) FROM t" + where, false
	}
	return "SELECT id, " + g.expr() + ", " + g.expr() + " FROM t" + where, false
}

// TestDifferentialMariaDB: random data and random queries in the subset
// both support give the same results in Meridian and in MariaDB.
func TestDifferentialMariaDB(t *testing.T) {
	maria := startMariaDB(t)
	_, s := newSession(t)
	seed := rand.Uint64()
	if v := os.Getenv("MERIDIAN_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("seed %d (replay with MERIDIAN_SEED=%d)", seed, seed)
	g := diffGen{r: rand.New(rand.NewPCG(seed, 7))}
	both := func(q string) {
		t.Helper()
		if _, err := run(t, s, q); err != nil {
			t.Fatalf("meridian: %s: %v", q, err)
		}
		if _, err := maria.Exec(q); err != nil {
			t.Fatalf("mariadb: %s: %v", q, err)
		}
	}
	if _, err := run(t, s, "CREATE DATABASE diff; USE diff"); err != nil {
		t.Fatal(err)
	}
	both("CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10), c DECIMAL(8,2), d DATETIME, KEY ai (a)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	var rows []string
	for id := range 60 {
		val := func(col string) string {
			if g.r.IntN(6) == 0 {
				return "NULL"
			}
			return g.literal(col)
		}
		rows = append(rows, fmt.Sprintf("(%d, %s, %s, %s, %s)", id, val("a"), val("b"), val("c"), val("d")))
	}
	both("INSERT INTO t VALUES " + strings.Join(rows, ", "))
	n := 300
	if os.Getenv("MERIDIAN_SOAK") != "" {
		n = 5000
	}
	mismatches, failedBoth, rowsSeen := 0, 0, 0
	for range n {
		q, ordered := g.query()
		got, gerr := run(t, s, q)
		want, werr := queryMariaDB(maria, q)
		if (gerr != nil) != (werr != nil) {
			t.Errorf("%s\nmeridian: %q %v\nmariadb:  %q %v", q, got, gerr, want, werr)
			mismatches++
			continue
		}
		if gerr != nil {
			failedBoth++
			continue
		}
		rowsSeen += strings.Count(want, "\n")
		if !ordered {
			got, want = sortLines(got), sortLines(want)
		}
		if got != want {
			t.Errorf("%s\nmeridian:\n%smariadb:\n%s", q, got, want)
			mismatches++
		}
		if mismatches > 10 {
			t.Fatalf("seed %d: too many mismatches", seed)
		}
	}
	t.Logf("seed %d: %d queries compared (%d rows), %d failed in both", seed, n, rowsSeen, failedBoth)
	if failedBoth > n/10 || rowsSeen < n {
		t.Fatalf("seed %d: the comparison is too weak to mean anything", seed)
	}
}

func sortLines(s string) string {
	ls := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(ls)
	return strings.Join(ls, "\n") + "\n"
}
