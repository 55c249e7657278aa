package server_test

import (
	"context"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/server/servertest"
)

// TestSysbenchOLTP: Debian's sysbench prepares, runs oltp_read_write and
// cleans up against a 3-node cluster through the MySQL listener, without
// errors (it retries the retryable 1213 aborts itself, as it does with
// MySQL deadlocks). Skipped when sysbench is not installed (.ci/run
// installs it).
func TestSysbenchOLTP(t *testing.T) {
	bin, err := exec.LookPath("sysbench")
	if err != nil {
		t.Skip("sysbench not installed (apt-get install sysbench)")
	}
	c := servertest.Start(t, servertest.Options{Node: func(i int, cfg *server.Config) {
		if i == 0 {
			cfg.MySQLAddr = "127.0.0.1:0"
		}
	}})
	c.WaitReplicated(3)
	host, port, _ := net.SplitHostPort(c.Nodes[0].MySQLAddr())
	db := openMySQL(t, c.Nodes[0].MySQLAddr(), "", nil)
	if _, err := db.Exec("CREATE DATABASE sbtest"); err != nil {
		t.Fatal(err)
	}
	common := []string{"oltp_read_write", "--db-driver=mysql", "--mysql-host=" + host, "--mysql-port=" + port,
		"--mysql-user=root", "--mysql-db=sbtest", "--tables=2", "--table-size=500"}
	for _, step := range [][]string{{"prepare"}, {"--time=8", "--threads=2", "--report-interval=0", "run"}, {"cleanup"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		out, err := exec.CommandContext(ctx, bin, append(append([]string{}, common...), step...)...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("sysbench %v: %v\n%s", step, err, out)
		}
		t.Logf("sysbench %s:\n%s", step[len(step)-1], tail(string(out), 25))
	}
}

func tail(s string, n int) string {
	lines := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			if lines++; lines > n {
				return s[i+1:]
			}
		}
	}
	return s
}
