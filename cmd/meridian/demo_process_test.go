package main

// `meridian demo` as a user runs it: --exec creates a table, writes and
// reads through the attached shell; with statements piped in, a client in
// another region reads what the shell wrote (and the other way round) while
// the demo runs, and the end of input stops the cluster and removes its
// temporary store.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// demoCommand runs `meridian demo` on free ports with args.
func demoCommand(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	return exec.CommandContext(ctx, meridianBinary(t), append([]string{"demo", "--base-port", "0"}, args...)...)
}

func TestDemoExecProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := demoCommand(t, ctx, "--format", "tsv", "--exec", `CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20));
		INSERT INTO items VALUES (1, 'apple'), (2, 'pear');
		UPDATE items SET name = 'fig' WHERE id = 2;
		SELECT id, name FROM items ORDER BY id`)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo --exec: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if want := "id\tname\n1\tapple\n2\tfig\n"; stdout.String() != want {
		t.Fatalf("demo --exec printed %q, want %q\nstderr: %s", stdout.String(), want, stderr.String())
	}
	// The banner, on stderr under --exec, shows the default topology.
	for _, want := range []string{"3 regions × 3 nodes", "us-east/us-west=64ms", "\n  us-east (time master", "\n  us-west (", "\n  eu-west (", "node 9  zone c"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, stderr.String())
		}
	}

	// A failing statement ends --exec with its error and a non-zero exit.
	cmd = demoCommand(t, ctx, "--regions", "us-east", "--latency", "", "--nodes-per-region", "1",
		"--exec", "SELECT * FROM nosuch; SELECT 1")
	stdout.Reset()
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 ||
		!strings.Contains(stderr.String(), "ERROR 1146 (42S02): Table 'demo.nosuch' doesn't exist") {
		t.Fatalf("failing statement: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
}

// TestDemoWithTPCCProcess: --with tpcc:2 loads TPC-C's tables (a shrunk
// population, through the hidden --testing-tpcc-scale) across the default
// simulated WAN before --exec runs, and says so in the banner.
func TestDemoWithTPCCProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := demoCommand(t, ctx, "--with", "tpcc:2", "--testing-tpcc-scale", "100,30", "--format", "tsv", "--exec",
		`SELECT COUNT(*) AS warehouses FROM tpcc.warehouse;
		SELECT COUNT(*) AS districts FROM tpcc.district;
		SELECT COUNT(*) AS stock FROM tpcc.stock;
		SELECT COUNT(*) AS customers FROM tpcc.customer`)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo --with tpcc:2: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	// 2 warehouses, 10 districts each, 100 stock rows per warehouse, 30
	// customers per district.
	if want := "warehouses\n2\ndistricts\n20\nstock\n200\ncustomers\n600\n"; stdout.String() != want {
		t.Fatalf("demo --with tpcc:2 printed %q, want %q\nstderr: %s", stdout.String(), want, stderr.String())
	}
	for _, want := range []string{"TPC-C: 2 warehouse(s) load into database tpcc", "Loading TPC-C, 2 warehouse(s)", "loaded 2 warehouses: "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	// The hidden flag stays out of --help.
	help := demoCommand(t, ctx, "--help")
	out, _ := help.CombinedOutput()
	if !strings.Contains(string(out), "-with DATASET") || strings.Contains(string(out), "testing-") {
		t.Errorf("demo --help:\n%s", out)
	}
}

// lineWaiter reads a process's output line by line and waits for lines.
type lineWaiter struct {
	t     *testing.T
	lines chan string
	seen  strings.Builder
}

func newLineWaiter(t *testing.T, r io.Reader) *lineWaiter {
	w := &lineWaiter{t: t, lines: make(chan string, 1024)}
	go func() {
		defer close(w.lines)
		s := bufio.NewScanner(r)
		for s.Scan() {
			w.lines <- s.Text()
		}
	}()
	return w
}

// waitLine returns the first line matching re.
func (w *lineWaiter) waitLine(ctx context.Context, re *regexp.Regexp) []string {
	w.t.Helper()
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				w.t.Fatalf("output ended before a line matching %s:\n%s", re, w.seen.String())
			}
			w.seen.WriteString(l + "\n")
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-ctx.Done():
			w.t.Fatalf("no line matching %s: %v\n%s", re, ctx.Err(), w.seen.String())
		}
	}
}

func TestDemoAcrossRegionsProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := demoCommand(t, ctx, "--format", "tsv")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	out := newLineWaiter(t, stdoutPipe)

	store := out.waitLine(ctx, regexp.MustCompile(`^Stores in (\S+) \(removed on exit\)`))[1]
	out.waitLine(ctx, regexp.MustCompile(`^  eu-west \(`))
	euWest := out.waitLine(ctx, regexp.MustCompile(`node \d+  zone a  gRPC (\S+)`))[1]
	out.waitLine(ctx, regexp.MustCompile(`stops the cluster`))

	shell := func(stmts, want string) {
		t.Helper()
		if _, err := io.WriteString(stdin, stmts+"\n"); err != nil {
			t.Fatalf("writing to the demo's shell: %v\nstderr: %s", err, stderr.String())
		}
		out.waitLine(ctx, regexp.MustCompile("^"+regexp.QuoteMeta(want)+"$"))
	}
	shell(`CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(20), balance INT);
		INSERT INTO accounts VALUES (1, 'ada', 100);
		SELECT 'written' AS marker;`, "written")

	// A client in eu-west (--region), through an eu-west node, reads the
	// row the us-east shell wrote, and writes one of its own.
	sqlCmd := func(url string, args ...string) (stdout, stderr string, err error) {
		t.Helper()
		c := exec.CommandContext(ctx, meridianBinary(t), append([]string{"sql", "--url", url, "--format", "tsv"}, args...)...)
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		err = c.Run()
		return o.String(), e.String(), err
	}
	euWestSQL := func(args ...string) string {
		t.Helper()
		o, e, err := sqlCmd("meridian://root@"+euWest+"/demo", append([]string{"--region", "eu-west"}, args...)...)
		if err != nil {
			t.Fatalf("meridian sql %v: %v\nstdout: %s\nstderr: %s", args, err, o, e)
		}
		return o
	}
	if got := euWestSQL("-e", "SELECT owner, balance FROM accounts WHERE id = 1"); got != "owner\tbalance\nada\t100\n" {
		t.Fatalf("eu-west read %q", got)
	}
	euWestSQL("-e", "INSERT INTO accounts VALUES (2, 'grace', 50)")
	// --region overrides ?region=: a region outside the matrix is refused,
	// which shows the node got the flag's region and not the URL's.
	if o, e, err := sqlCmd("meridian://root@"+euWest+"/demo?region=eu-west", "--region", "mars", "-e", "SELECT 1"); err == nil ||
		!strings.Contains(e, `region "mars" is not in the latency matrix`) {
		t.Fatalf("--region mars: %v\nstdout: %s\nstderr: %s", err, o, e)
	}

	// Back in the us-east shell, the eu-west write is there.
	shell("SELECT CONCAT('total=', SUM(balance)) AS t FROM accounts;", "total=150")

	// The end of input stops the cluster and removes its store.
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("demo exited with %v\nstderr: %s", waitErr, stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("demo did not stop at the end of its input\nstderr: %s", stderr.String())
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("temporary store %s still there after exit (stat: %v)", store, err)
	}
}
