package mysqlwire

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMariaDBCLI runs the mariadb command-line client (Debian package
// mariadb-client, which links MariaDB Connector/C, a C implementation of
// the protocol independent of go-sql-driver/mysql) against the server.
func TestMariaDBCLI(t *testing.T) {
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		t.Skip("mariadb CLI not installed (apt-get install -y mariadb-client); skipping the C client test")
	}
	for _, plugin := range []string{CachingSHA2Password, NativePassword} {
		t.Run(plugin, func(t *testing.T) {
			users := newTestUsers()
			srv, addr := startServer(t, Config{Authenticate: users.lookup, AuthPlugin: plugin})
			host, port, _ := net.SplitHostPort(addr)
			run := func(stdin string, args ...string) string {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, append([]string{"--no-defaults", "--protocol=tcp", "-h", host, "-P", port}, args...)...)
				cmd.Stdin = strings.NewReader(stdin)
				out, _ := cmd.CombinedOutput()
				return string(out)
			}
			// Batch mode: the connect-time query, USE (COM_INIT_DB), NULLs.
			// --skip-ssl: without it the client believes the connection is
			// encrypted although the server offered no TLS, and sends a
			// caching_sha2_password in clear, which the server refuses.
			const query = "select @@version_comment limit 1; select 1; use test; select database(); rows 2"
			const want = "@@version_comment\nMeridian test engine\n1\n1\ndatabase()\ntest\nn\n0\n1\n"
			for i := range 2 { // for caching_sha2: full auth with the RSA key, then the fast path
				if out := run("", "-u", "alice", "-psecret", "--skip-ssl", "-B", "-e", query); out != want {
					t.Fatalf("login %d: got\n%s\nwant\n%s", i, out, want)
				}
			}
			if plugin == CachingSHA2Password && !srv.sha2.cached("alice", "secret") {
				t.Fatal("the C client's full authentication did not fill the cache")
			}
			if out := run("", "-u", "carol", "-pwrong", "--skip-ssl", "-e", "select 1"); !strings.Contains(out, "ERROR 1045 (28000)") {
				t.Fatalf("wrong password: %s", out)
			}
			if plugin == CachingSHA2Password {
				out := run("", "-u", "carol", "-ppässwörd", "-e", "select 1")
				if !strings.Contains(out, "ERROR 1045 (28000)") || !strings.Contains(out, "--skip-ssl") {
					t.Fatalf("clear-text password: %s", out)
				}
			}
			if out := run("", "-u", "bob", "-B", "-N", "-e", "select 2"); out != "2\n" {
				t.Fatalf("empty password: %q", out)
			}
			if out := run("", "-u", "alice", "-psecret", "--skip-ssl", "-e", "error 1146 42S02 Table 'test.t' doesn't exist"); !strings.Contains(out, "ERROR 1146 (42S02)") {
				t.Fatalf("error: %s", out)
			}

			// Interactive: under a terminal (script(1)) the client greets the
			// user with the server version and @@version_comment.
			script, err := exec.LookPath("script")
			if err != nil {
				t.Log("script(1) not installed; skipping the interactive session")
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cli := strings.Join([]string{bin, "--no-defaults", "--protocol=tcp", "-h", host, "-P", port, "-u", "alice", "-psecret", "--skip-ssl", "test"}, " ")
			cmd := exec.CommandContext(ctx, script, "-qec", cli, "/dev/null")
			cmd.Stdin = strings.NewReader("select 1;\nexit\n")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Server version: 8.0.11-Meridian Meridian test engine") ||
				!strings.Contains(string(out), "1 row in set") {
				t.Fatalf("interactive session (%v):\n%s", err, out)
			}
		})
	}
}
