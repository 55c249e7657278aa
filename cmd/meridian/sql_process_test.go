package main

// `meridian sql` against a three-process cluster, as an operator uses it:
// statements from -e and from stdin, the output formats, and a failing
// statement's exit status and message; and `meridian start --mysql-addr`.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestSQLShellProcess(t *testing.T) {
	c := startProcCluster(t, 3)
	n1, n3 := c.procs[0], c.procs[2]
	if stdout, stderr, code := c.run("init", "--host", n1.addr); code != 0 {
		t.Fatalf("init: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	c.waitFor(45*time.Second, "every group to have 3 voters and a lease", func() bool {
		st, err := c.cliStatus(n1.addr)
		return err == nil && replicatedWithLease(st, 3)
	})
	url1 := "meridian://root@" + n1.addr + "/"
	shop3 := "meridian://root@" + n3.addr + "/shop?region=local"
	sql := func(url string, args ...string) (string, string, int) {
		t.Helper()
		return c.run(append([]string{"sql", "--url", url}, args...)...)
	}

	stdout, stderr, code := sql(url1, "-e", `CREATE DATABASE shop;
		CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(6,2), added DATETIME(3));
		INSERT INTO shop.items VALUES (1, 'apple', 1.50, '2024-01-02 03:04:05.100'), (2, 'tab	here', NULL, NULL)`)
	if code != 0 {
		t.Fatalf("create and insert: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	// Through another node, with the database in the URL: one header line,
	// tab-separated values as the server printed them, NULL as NULL.
	stdout, stderr, code = sql(shop3, "--format", "tsv", "-e", "SELECT id, name, price, added FROM items ORDER BY id")
	want := "id\tname\tprice\tadded\n1\tapple\t1.50\t2024-01-02 03:04:05.100\n2\ttab\\there\tNULL\tNULL\n"
	if code != 0 || stdout != want {
		t.Fatalf("--format tsv: exit %d\nstdout %q\nwant   %q\nstderr: %s", code, stdout, want, stderr)
	}

	// Floats as mysql prints them, not as Go does (1e+100).
	stdout, stderr, code = sql(shop3, "--format", "tsv", "-e", "SELECT 1e100 AS big, CAST(0.5 AS DOUBLE) AS half")
	if code != 0 || stdout != "big\thalf\n1e100\t0.5\n" {
		t.Fatalf("floats: exit %d\nstdout %q\nstderr: %s", code, stdout, stderr)
	}

	stdout, stderr, code = sql(shop3, "-e", "SELECT name FROM items WHERE id = 1")
	if code != 0 || !strings.Contains(stdout, "| apple |") || !strings.Contains(stdout, "1 row in set") {
		t.Fatalf("table format: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	stdout, stderr, code = sql(shop3, "--format", "json", "-e", "SELECT id, price FROM items ORDER BY id")
	var rows []map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &rows) != nil || len(rows) != 2 || rows[0]["price"] != 1.5 || rows[1]["price"] != nil {
		t.Fatalf("--format json: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	// The first failing statement ends the run with its MySQL error; the
	// statements after it do not run.
	stdout, stderr, code = sql(shop3, "-e", "INSERT INTO items VALUES (3, 'pear', 2, NULL); SELECT * FROM nosuch; INSERT INTO items VALUES (4, 'fig', 3, NULL)")
	if code == 0 || !strings.Contains(stderr, "ERROR 1146 (42S02): Table 'shop.nosuch' doesn't exist") {
		t.Fatalf("failing statement: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if strings.Count(stderr, "1146") != 1 {
		t.Errorf("the error is printed more than once:\n%s", stderr)
	}
	stdout, _, code = sql(shop3, "--format", "tsv", "-e", "SELECT COUNT(*) AS n FROM items")
	if code != 0 || stdout != "n\n3\n" {
		t.Fatalf("rows after the failed run: exit %d, %q (want 3: the statement after the failure must not run)", code, stdout)
	}
	stdout, stderr, code = sql(shop3, "-e", "INSERT INTO items VALUES (1, 'dup', 0, NULL)")
	if code == 0 || !strings.Contains(stderr, "ERROR 1062 (23000)") {
		t.Fatalf("duplicate key: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	// Statements from stdin, several per line and over several lines.
	stdout, stderr, code = runWithStdin(t, c.bin, "BEGIN; UPDATE items SET price = price * 2\n  WHERE id = 1;\nCOMMIT;\nSELECT price FROM items WHERE id = 1;\n",
		"sql", "--url", shop3, "--format", "tsv")
	if code != 0 || stdout != "price\n3.00\n" {
		t.Fatalf("statements from stdin: exit %d\nstdout %q\nstderr: %s", code, stdout, stderr)
	}

	// No node there: a non-zero exit that says so.
	_, stderr, code = sql("meridian://root@"+freePort(t)+"/", "-e", "SELECT 1")
	if code == 0 || !strings.Contains(stderr, "cannot open a session") {
		t.Fatalf("unreachable node: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = sql("mysql://root@"+n1.addr+"/", "-e", "SELECT 1")
	if code == 0 || !strings.Contains(stderr, "meridian://") {
		t.Fatalf("bad URL: exit %d, stderr %q", code, stderr)
	}
}

// --mysql-addr opens the MySQL listener on a node process.
func TestStartMySQLAddr(t *testing.T) {
	c := newProcCluster(t)
	dir := c.dir
	mysqlAddr := freePort(t)
	p := &proc{name: "n1", addr: freePort(t), store: filepath.Join(dir, "n1"), logPath: filepath.Join(dir, "n1.log")}
	p.args = []string{"start", "--store", p.store, "--listen", p.addr, "--http-addr", freePort(t), "--mysql-addr", mysqlAddr}
	c.procs = append(c.procs, p)
	c.start(p)
	c.waitServing(p)
	if stdout, stderr, code := c.run("init", "--host", p.addr); code != 0 {
		t.Fatalf("init: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", mysqlAddr
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	c.waitFor(30*time.Second, "a query over the MySQL protocol", func() bool {
		return db.QueryRow("SELECT VERSION()").Scan(&v) == nil
	})
	if !strings.Contains(v, "Meridian") {
		t.Fatalf("VERSION() over MySQL = %q", v)
	}

	// A second node on the same MySQL port fails to start, saying why.
	_, stderr, code := c.run("start", "--store", filepath.Join(dir, "n2"), "--listen", freePort(t), "--http-addr", freePort(t),
		"--mysql-addr", mysqlAddr)
	if code == 0 || !strings.Contains(stderr, "MySQL") {
		t.Fatalf("start on a taken MySQL port: exit %d, stderr %q", code, stderr)
	}
}

func runWithStdin(t *testing.T, bin, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}
