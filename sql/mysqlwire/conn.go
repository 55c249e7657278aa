package mysqlwire

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/cockroachdb/errors"
)

// conn is one client connection. Everything but the background read of
// connReader runs on the connection's own goroutine.
type conn struct {
	srv *Server
	nc  net.Conn
	rd  *connReader
	pk  *packetIO
	id  uint32

	// ctx lives as long as the connection; it is the parent of each
	// command's context.
	ctx    context.Context
	cancel context.CancelFunc

	flags  uint32 // negotiated capabilities; ClientMultiStatements follows COM_SET_OPTION
	remote string
	sess   Session
	stmts  map[uint32]*stmtState
	buf    []byte // scratch for building a packet
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, stmts: map[uint32]*stmtState{}, remote: nc.RemoteAddr().String()}
	c.id = s.nextID.Add(1)
	if c.id == 0 { // after 2^32 connections; 0 means "none" to clients
		c.id = s.nextID.Add(1)
	}
	c.rd = &connReader{nc: nc}
	c.pk = newPacketIO(c.rd, deadlineWriter{nc, s.cfg.WriteTimeout}, s.cfg.MaxAllowedPacket)
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	return c
}

// serve runs the connection to its end. A panic in a session is logged and
// ends only this connection: one bad statement must not take the server
// down with every other client. The connection leaves the server's count
// before Session.Close, so that whoever learns of the close finds the
// connection slot free.
func (c *conn) serve() {
	defer func() {
		if r := recover(); r != nil {
			c.srv.cfg.Logger.Error("mysqlwire: panic serving connection",
				"conn", c.id, "remote", c.remote, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
		c.cancel()
		_ = c.nc.Close()
		c.srv.removeConn(c)
		if c.sess != nil {
			c.sess.Close()
		}
	}()
	err := c.handshake()
	if err == nil {
		err = c.commandLoop()
	}
	c.srv.cfg.Logger.Debug("mysqlwire: connection closed", "conn", c.id, "remote", c.remote, "err", err)
}

// maxHandshakePacket bounds the packets of the connection phase.
const maxHandshakePacket = 1 << 20

// handshake authenticates the client under HandshakeTimeout, opens its
// session and tells the client the outcome.
func (c *conn) handshake() error {
	_ = c.nc.SetDeadline(time.Now().Add(c.srv.cfg.HandshakeTimeout))
	// A handshake response is a few hundred bytes; the connection attributes
	// are the only large part, and MySQL bounds them to 64 KiB.
	c.pk.maxPayload = min(c.srv.cfg.MaxAllowedPacket, maxHandshakePacket)
	res, err := c.authenticate()
	c.pk.maxPayload = c.srv.cfg.MaxAllowedPacket
	if err != nil {
		switch {
		case errors.Is(err, errAccessDenied), errors.Is(err, errClearTextRefused):
			host, _, _ := net.SplitHostPort(c.remote)
			yes := map[bool]string{true: "YES", false: "NO"}[res.usedPassword]
			msg := fmt.Sprintf("Access denied for user '%s'@'%s' (using password: %s)", res.resp.user, host, yes)
			if errors.Is(err, errClearTextRefused) {
				msg += "; " + err.Error()
			}
			c.sendError(ErrCodeAccessDenied, "28000", msg)
		case errors.Is(err, errOldClient):
			c.sendError(ErrCodeNotSupportedAuthMode, "08004", "Client does not support authentication protocol requested by server; consider upgrading MySQL client")
		case errors.Is(err, errMalformed), errors.Is(err, errPacketTooLarge):
			c.sendError(ErrCodeHandshake, "08S01", "Bad handshake")
		}
		return err
	}
	_ = c.nc.SetDeadline(time.Time{}) // Open may take its time; writes keep their own deadline
	sess, err := c.srv.cfg.Handler.Open(c.ctx, ConnInfo{
		ID:          c.id,
		User:        res.resp.user,
		Database:    res.resp.database,
		RemoteAddr:  c.remote,
		ClientFlags: c.flags,
		Attrs:       res.resp.attrs,
	})
	if err != nil {
		c.sendError(errorFields(err))
		return err
	}
	c.sess = sess
	if err := c.writeOK(OK{}); err != nil {
		return err
	}
	return c.pk.flush()
}

// commandLoop reads and answers commands until the client quits, the
// connection breaks or the protocol cannot go on.
func (c *conn) commandLoop() error {
	for {
		c.pk.resetSeq()
		if err := c.awaitCommand(); err != nil {
			return err
		}
		pkt, err := c.pk.readPacket()
		_ = c.nc.SetReadDeadline(time.Time{})
		switch {
		case errors.Is(err, errPacketTooLarge):
			_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.ReadTimeout))
			if c.pk.discardOversized() == nil {
				c.sendError(ErrCodeNetPacketTooLarge, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes")
			}
			return err
		case errors.Is(err, errOutOfOrder):
			c.sendError(ErrCodeNetOutOfOrder, "08S01", "Got packets out of order")
			return err
		case err != nil:
			return err
		}
		if len(pkt) == 0 {
			c.sendError(ErrCodeMalformedPacket, "08S01", "Malformed communication packet")
		} else if quit := c.dispatch(pkt[0], pkt[1:]); quit {
			return nil
		}
		if err := c.pk.flush(); err != nil {
			return err
		}
		if cap(c.buf) > maxRetainedBuffer {
			c.buf = nil
		}
	}
}

// awaitCommand waits for the first byte of the next command under
// IdleTimeout, then gives the rest of it ReadTimeout. An idle client is
// told why it is being disconnected (ERR 4031, as MySQL 8.0.24+ does).
func (c *conn) awaitCommand() error {
	if c.srv.cfg.IdleTimeout > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.IdleTimeout))
	}
	if _, err := c.pk.r.Peek(1); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.sendError(ErrCodeClientInactive, "HY000", "The client was disconnected by the server because of inactivity. See wait_timeout and interactive_timeout for configuring this behavior.")
		}
		return err
	}
	return c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.ReadTimeout))
}

// sendError writes and flushes an ERR packet; used where the connection
// is about to end, so a write error is of no further use.
func (c *conn) sendError(code uint16, state, msg string) {
	c.buf = appendErrPacket(c.buf[:0], code, state, msg)
	_ = c.writeAndFlush(c.buf)
}

func (c *conn) writeAndFlush(payload []byte) error {
	if err := c.pk.writePacket(payload); err != nil {
		return err
	}
	return c.pk.flush()
}

// withCommandContext runs fn with a context that is canceled if the client
// hangs up while fn runs, so a long statement of a vanished client stops.
func (c *conn) withCommandContext(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	stop := c.rd.watch(cancel)
	defer stop()
	return fn(ctx)
}

// deadlineWriter gives every write its own deadline, so a client that
// stops reading results cannot hold a connection goroutine forever.
type deadlineWriter struct {
	nc      net.Conn
	timeout time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	_ = w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.nc.Write(p)
}

// connReader is the connection's reader. While a command runs it can read
// in the background (watch) to notice a client that hangs up: net.Conn
// offers no other way to learn of a close without reading. A byte read
// that way is kept and returned first by the next Read, so pipelined
// commands are not lost.
type connReader struct {
	nc      net.Conn
	hasByte bool
	byteBuf [1]byte
	err     error // a read error seen in the background; every later Read returns it
}

// Read is called from the connection's goroutine only, never during watch.
func (r *connReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.hasByte && len(p) > 0 {
		p[0] = r.byteBuf[0]
		r.hasByte = false
		return 1, nil
	}
	return r.nc.Read(p)
}

// aLongTimeAgo is a deadline in the past: it makes a blocked Read return.
var aLongTimeAgo = time.Unix(1, 0)

// watch starts a background read that calls hangup if the client closes
// the connection. stop ends it and must be called before the next Read.
func (r *connReader) watch(hangup func()) (stop func()) {
	if r.hasByte || r.err != nil {
		return func() {} // the client sent more already; nothing to learn
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		n, err := r.nc.Read(r.byteBuf[:])
		r.hasByte = n == 1
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			r.err = err
			hangup()
		}
	}()
	return func() {
		_ = r.nc.SetReadDeadline(aLongTimeAgo)
		<-done
		_ = r.nc.SetReadDeadline(time.Time{})
	}
}
