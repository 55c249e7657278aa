package mysqlwire

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
)

// Config configures a Server. The zero value of every field but Handler
// is a usable default.
type Config struct {
	// Handler opens a session per connection. Required.
	Handler Handler
	// ServerVersion is reported in the handshake (clients parse it to pick
	// features, so it should look like a MySQL 8 version). Default
	// "8.0.11-Meridian".
	ServerVersion string
	// MaxConnections bounds open connections, those still in the handshake
	// included; a connection over the limit gets ERR 1040 "Too many
	// connections" and is closed. 0 = unlimited.
	MaxConnections int
	// IdleTimeout closes a connection that sends no command for this long
	// (wait_timeout), after telling it with ERR 4031. 0 = never.
	IdleTimeout time.Duration
	// MaxAllowedPacket bounds one incoming packet in bytes (after joining
	// 16 MiB chunks) and the long data of one statement parameter; a
	// larger packet gets ERR 1153 and the connection is closed. Default
	// 64 MiB.
	MaxAllowedPacket int
	// Authenticate returns a user's password in clear text (both auth
	// plugins derive their proofs from it) and whether the user exists.
	// Called concurrently. Default: only user root, with an empty password.
	Authenticate func(user string) (password string, ok bool)
	// AuthPlugin is every account's authentication method: NativePassword
	// or CachingSHA2Password (default, as in MySQL 8). A client that
	// answers the greeting with another method is asked to switch.
	AuthPlugin string
	// RSAKey decrypts caching_sha2_password passwords sent over
	// connections without TLS; clients that have no copy of the public key
	// ask for it. Default: a 2048-bit key generated when first needed, so
	// it changes with every Server.
	RSAKey *rsa.PrivateKey
	// HandshakeTimeout bounds the whole connection phase, from accept to
	// the authentication result. Default 10s (connect_timeout).
	HandshakeTimeout time.Duration
	// ReadTimeout bounds reading the rest of a command once its first byte
	// arrived. Default 30s (net_read_timeout).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to a client that does not read.
	// Default 60s (net_write_timeout).
	WriteTimeout time.Duration
	// Logger receives connection errors at debug level and recovered
	// session panics at error level. Default: discard.
	Logger *slog.Logger
}

// EnsureDefaults fills in the defaults documented on each field.
func (c *Config) EnsureDefaults() {
	if c.ServerVersion == "" {
		c.ServerVersion = "8.0.11-Meridian"
	}
	if c.MaxAllowedPacket <= 0 {
		c.MaxAllowedPacket = 64 << 20
	}
	if c.Authenticate == nil {
		c.Authenticate = func(user string) (string, bool) { return "", user == "root" }
	}
	if c.AuthPlugin == "" {
		c.AuthPlugin = CachingSHA2Password
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration the server cannot run with.
func (c *Config) Validate() error {
	if c.Handler == nil {
		return errors.New("mysqlwire: Config.Handler is nil")
	}
	if c.AuthPlugin != NativePassword && c.AuthPlugin != CachingSHA2Password {
		return errors.Newf("mysqlwire: unsupported auth plugin %q", c.AuthPlugin)
	}
	return nil
}

// Server accepts MySQL protocol connections and hands each to a Session.
//
// Lock order: Server.mu before nothing; conns never lock the server while
// holding anything else.
type Server struct {
	cfg    Config
	cfgErr error
	// capabilities offered in the greeting: serverCapabilities, less what
	// a test turns off to see clients cope without it.
	capabilities uint32

	started   time.Time
	nextID    atomic.Uint32
	questions atomic.Uint64 // statements received, for COM_STATISTICS
	sha2      sha2Cache
	rsaKeys   func() (*rsaKeyPair, error)

	// ctx is the parent of every connection's context; canceled by Close.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // connection goroutines

	mu struct {
		sync.Mutex
		closed    bool
		addr      net.Addr
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
	}
}

// NewServer returns a server for cfg. An invalid cfg makes Serve fail.
func NewServer(cfg Config) *Server {
	cfg.EnsureDefaults()
	s := &Server{cfg: cfg, cfgErr: cfg.Validate(), capabilities: serverCapabilities, started: time.Now()}
	s.rsaKeys = sync.OnceValues(func() (*rsaKeyPair, error) { return newRSAKeyPair(cfg.RSAKey) })
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.listeners = map[net.Listener]struct{}{}
	s.mu.conns = map[*conn]struct{}{}
	return s
}

// Serve accepts connections on l until Close, then returns nil. It may be
// called for several listeners at once. Serve closes l.
func (s *Server) Serve(l net.Listener) error {
	defer l.Close()
	if s.cfgErr != nil {
		return s.cfgErr
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.listeners[l] = struct{}{}
	if s.mu.addr == nil {
		s.mu.addr = l.Addr()
	}
	s.mu.Unlock()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does, rather than spin or give up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.cfg.Logger.Warn("mysqlwire: accept", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		s.startConn(nc)
	}
}

// startConn registers nc and serves it on its own goroutine, or turns it
// away when the server is closed or full.
func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		nc.Close()
		return
	}
	s.wg.Add(1)
	if s.cfg.MaxConnections > 0 && len(s.mu.conns) >= s.cfg.MaxConnections {
		go func() {
			defer s.wg.Done()
			s.refuse(nc, ErrCodeConCount, "08004", "Too many connections")
		}()
		return
	}
	c := newConn(s, nc)
	s.mu.conns[c] = struct{}{}
	go func() {
		defer s.wg.Done()
		c.serve()
	}()
}

// refuse sends an ERR packet in place of the greeting, which clients read
// as the reason they cannot connect.
func (s *Server) refuse(nc net.Conn, code uint16, state, msg string) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	pk := newPacketIO(nc, nc, 0)
	if pk.writePacket(appendErrPacket(nil, code, state, msg)) == nil {
		_ = pk.flush()
	}
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.conns, c)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// Close stops accepting, closes every connection (which cancels the
// contexts of running statements) and waits until every connection's
// goroutine, session calls included, has returned.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.mu.closed {
		s.mu.closed = true
		for l := range s.mu.listeners {
			_ = l.Close()
		}
		for c := range s.mu.conns {
			_ = c.nc.Close()
		}
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Addr returns the address of the first listener passed to Serve, or nil
// before Serve was called.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.addr
}

func (s *Server) lookupUser(user string) (string, bool) { return s.cfg.Authenticate(user) }

// openConnections counts connections, for COM_STATISTICS.
func (s *Server) openConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}
