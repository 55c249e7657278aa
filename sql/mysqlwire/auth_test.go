package mysqlwire

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// testUsers is an Authenticate whose passwords a test can change.
type testUsers struct {
	mu        sync.Mutex
	passwords map[string]string
}

func newTestUsers() *testUsers {
	return &testUsers{passwords: map[string]string{"alice": "secret", "bob": "", "carol": "pässwörd", "dave": "d"}}
}

func (u *testUsers) lookup(user string) (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, ok := u.passwords[user]
	return p, ok
}

func (u *testUsers) set(user, password string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.passwords[user] = password
}

func ping(t *testing.T, userPass, addr, params string) error {
	t.Helper()
	db := openDB(t, userPass, addr, params)
	defer db.Close()
	var n int
	err := db.QueryRow("select 6").Scan(&n)
	if err == nil && n != 6 {
		t.Fatalf("select 6 returned %d", n)
	}
	return err
}

func TestAuthCachingSHA2(t *testing.T) {
	users := newTestUsers()
	srv, addr := startServer(t, Config{Authenticate: users.lookup})

	// First login: full authentication, the client fetches the RSA key.
	if srv.sha2.cached("alice", "secret") {
		t.Fatal("cached before any login")
	}
	if err := ping(t, "alice:secret", addr, ""); err != nil {
		t.Fatal(err)
	}
	if !srv.sha2.cached("alice", "secret") {
		t.Fatal("full authentication did not fill the cache")
	}
	// Second login: the fast path.
	if err := ping(t, "alice:secret", addr, ""); err != nil {
		t.Fatal(err)
	}
	// Wrong passwords: on the fast path and on the full path.
	checkMySQLError(t, ping(t, "alice:wrong", addr, ""), ErrCodeAccessDenied, "28000")
	checkMySQLError(t, ping(t, "carol:wrong", addr, ""), ErrCodeAccessDenied, "28000")
	// Unknown user, and a user whose password is empty.
	err := ping(t, "mallory:x", addr, "")
	checkMySQLError(t, err, ErrCodeAccessDenied, "28000")
	if msg := err.(*mysql.MySQLError).Message; msg != "Access denied for user 'mallory'@'127.0.0.1' (using password: YES)" {
		t.Fatalf("message %q", msg)
	}
	if err := ping(t, "bob", addr, ""); err != nil {
		t.Fatal(err)
	}
	checkMySQLError(t, ping(t, "bob:notempty", addr, ""), ErrCodeAccessDenied, "28000")
	checkMySQLError(t, ping(t, "alice", addr, ""), ErrCodeAccessDenied, "28000")

	// A client configured with the server's public key encrypts at once.
	mysql.RegisterServerPubKey("mysqlwire-test", &testRSAKey().PublicKey)
	defer mysql.DeregisterServerPubKey("mysqlwire-test")
	if err := ping(t, "carol:pässwörd", addr, "serverPubKey=mysqlwire-test"); err != nil {
		t.Fatal(err)
	}

	// A changed password no longer matches the cache: full auth again,
	// and the old password fails.
	users.set("alice", "new")
	checkMySQLError(t, ping(t, "alice:secret", addr, ""), ErrCodeAccessDenied, "28000")
	if err := ping(t, "alice:new", addr, ""); err != nil {
		t.Fatal(err)
	}
	if !srv.sha2.cached("alice", "new") {
		t.Fatal("cache not refreshed")
	}

	// The raw client sees which path the server takes.
	users.set("dave", "d")
	c, err := tryDialRaw(addr, "dave", "d", rawClientFlags, "")
	if err != nil {
		t.Fatal(err)
	}
	c.nc.Close()
	if !c.fullAuth {
		t.Fatal("first login of dave took the fast path")
	}
	c, err = tryDialRaw(addr, "dave", "d", rawClientFlags, "")
	if err != nil {
		t.Fatal(err)
	}
	c.nc.Close()
	if c.fullAuth {
		t.Fatal("cached login of dave took the full path")
	}
}

// TestAuthUnixSocket: over a local socket caching_sha2_password takes the
// password in clear, as MySQL does, since it cannot be overheard.
func TestAuthUnixSocket(t *testing.T) {
	users := newTestUsers()
	s := NewServer(Config{Handler: newTestEngine(), Authenticate: users.lookup})
	path := filepath.Join(t.TempDir(), "mysql.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	defer func() {
		s.Close()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	}()
	db, err := sql.Open("mysql", "alice:secret@unix("+path+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	if !s.sha2.cached("alice", "secret") {
		t.Fatal("no full authentication happened")
	}
	if a := s.Addr(); a == nil || a.String() != path {
		t.Fatalf("Addr() = %v once serving on %s", a, path)
	}
	db2, _ := sql.Open("mysql", "carol:wrong@unix("+path+")/")
	defer db2.Close()
	checkMySQLError(t, db2.Ping(), ErrCodeAccessDenied, "28000")
}

// TestGeneratedRSAKey: without Config.RSAKey the server makes its own key
// when a client first needs it.
func TestGeneratedRSAKey(t *testing.T) {
	users := newTestUsers()
	s := NewServer(Config{Handler: newTestEngine(), Authenticate: users.lookup})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	if err := ping(t, "alice:secret", l.Addr().String(), ""); err != nil {
		t.Fatal(err)
	}
	keys, err := s.rsaKeys()
	if err != nil || keys.key.Size() != 256 {
		t.Fatalf("generated key: %v", err)
	}
}

func TestAuthNativePassword(t *testing.T) {
	users := newTestUsers()
	_, addr := startServer(t, Config{Authenticate: users.lookup, AuthPlugin: NativePassword})
	if err := ping(t, "alice:secret", addr, ""); err != nil {
		t.Fatal(err)
	}
	if err := ping(t, "carol:pässwörd", addr, ""); err != nil {
		t.Fatal(err)
	}
	if err := ping(t, "bob", addr, ""); err != nil {
		t.Fatal(err)
	}
	checkMySQLError(t, ping(t, "alice:wrong", addr, ""), ErrCodeAccessDenied, "28000")
	checkMySQLError(t, ping(t, "nobody", addr, ""), ErrCodeAccessDenied, "28000")
	err := ping(t, "alice", addr, "")
	checkMySQLError(t, err, ErrCodeAccessDenied, "28000")
	if !strings.HasSuffix(err.Error(), "(using password: NO)") {
		t.Fatalf("error %v", err)
	}
}

// TestAuthSwitch: a client that answers the greeting with another plugin
// is asked to switch to the server's.
func TestAuthSwitch(t *testing.T) {
	for _, tc := range []struct{ server, client string }{
		{NativePassword, CachingSHA2Password},
		{CachingSHA2Password, NativePassword},
		{NativePassword, "client_ed25519"},
	} {
		t.Run(fmt.Sprintf("%s_to_%s", tc.client, tc.server), func(t *testing.T) {
			users := newTestUsers()
			_, addr := startServer(t, Config{Authenticate: users.lookup, AuthPlugin: tc.server})
			c, err := tryDialRaw(addr, "alice", "secret", rawClientFlags, tc.client)
			if err != nil {
				t.Fatal(err)
			}
			defer c.nc.Close()
			if !c.switched {
				t.Fatal("no AuthSwitchRequest")
			}
			_, err = tryDialRaw(addr, "alice", "wrong", rawClientFlags, tc.client)
			checkError(t, err, ErrCodeAccessDenied)
		})
	}
}

func TestHandshakeRefusals(t *testing.T) {
	_, addr := startServer(t, Config{})
	_, err := tryDialRaw(addr, "root", "", rawClientFlags&^ClientProtocol41, "")
	checkError(t, err, ErrCodeNotSupportedAuthMode)
	// A client that wants TLS is disconnected: it would read any answer
	// as the start of a TLS handshake.
	_, err = tryDialRaw(addr, "root", "", rawClientFlags|ClientSSL, "ssl")
	if !errors.Is(err, io.EOF) {
		t.Fatalf("SSLRequest answered with %v", err)
	}
}
