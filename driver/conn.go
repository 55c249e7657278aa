package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// settleTimeout bounds how long an interrupted request may take to finish
// before its connection is given up (closing the stream ends the session
// on the node, which stops the statement there).
const settleTimeout = 5 * time.Second

// conn is one SQL session on one gRPC stream. database/sql uses a
// connection from one goroutine at a time; the reader goroutine only
// receives.
//
// A request is sent, then its responses are read up to the one that
// carries a status. When the caller's context ends first, a cancel is sent
// and the call returns at once; the request stays pending, and settle
// reads its remaining responses before the next request is sent (or
// gives the connection up).
type conn struct {
	cfg    Config
	stream pb.SQL_SessionClient
	cancel context.CancelFunc // ends the stream
	resps  chan *pb.SQLResponse
	// readErr is why the stream ended; written before resps is closed.
	readErr error
	// onClose runs when the connection closes (Driver.Open's private
	// client).
	onClose func()

	nextID  uint64
	pending uint64 // the request whose last response is unread, 0: none
	bad     bool   // the stream failed: the session is gone
	closed  bool
	inTx    bool // the session's transaction state, from the last status
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
)

func newConn(cfg Config, stream pb.SQL_SessionClient, cancel context.CancelFunc) *conn {
	c := &conn{cfg: cfg, stream: stream, cancel: cancel, resps: make(chan *pb.SQLResponse, 16)}
	go c.readLoop()
	return c
}

func (c *conn) readLoop() {
	defer close(c.resps)
	done := c.stream.Context().Done()
	for {
		m, err := c.stream.Recv()
		if err != nil {
			c.readErr = err
			return
		}
		select {
		case c.resps <- m:
		case <-done:
			c.readErr = errClosed
			return
		}
	}
}

// shut ends the stream; the node closes the session.
func (c *conn) shut() {
	c.bad = true
	c.cancel()
}

func (c *conn) open(ctx context.Context, o *pb.SQLOpen) error {
	_, _, err := c.call(ctx, &pb.SQLRequest{Req: &pb.SQLRequest_Open{Open: o}}, false)
	return err
}

// send sends a request once the previous one has settled. Its errors
// guarantee that the request was not sent: ErrBadConn lets database/sql
// retry on another connection.
func (c *conn) send(ctx context.Context, req *pb.SQLRequest) error {
	if c.closed {
		return driver.ErrBadConn
	}
	if c.bad {
		return driver.ErrBadConn
	}
	if err := c.settle(ctx); err != nil {
		return err
	}
	c.nextID++
	req.Id = c.nextID
	if err := c.stream.Send(req); err != nil {
		// gRPC fails a send before the message reaches the wire.
		c.shut()
		return driver.ErrBadConn
	}
	c.pending = req.Id
	return nil
}

// recv returns the next response of the pending request. When ctx ends
// first the request is cancelled on the node and ctx's error returned.
func (c *conn) recv(ctx context.Context) (*pb.SQLResponse, error) {
	var m *pb.SQLResponse
	var ok bool
	if done := ctx.Done(); done == nil {
		m, ok = <-c.resps
	} else {
		select {
		case m, ok = <-c.resps:
		case <-done:
			c.interrupt()
			return nil, ctx.Err()
		}
	}
	if !ok {
		c.shut()
		return nil, &errConnLost{err: c.readErr}
	}
	if m.Status != nil {
		c.pending = 0
		c.inTx = m.Status.InTransaction
	}
	return m, nil
}

// interrupt asks the node to stop the pending request; its remaining
// responses are read by settle.
func (c *conn) interrupt() {
	if c.pending == 0 || c.bad {
		return
	}
	c.nextID++
	err := c.stream.Send(&pb.SQLRequest{Id: c.nextID, Req: &pb.SQLRequest_Cancel{Cancel: &pb.SQLCancel{RequestId: c.pending}}})
	if err != nil {
		c.shut()
	}
}

// settle reads away the responses of an interrupted request. A request that
// does not finish within settleTimeout costs the connection.
func (c *conn) settle(ctx context.Context) error {
	if c.pending == 0 {
		return nil
	}
	t := time.NewTimer(settleTimeout)
	defer t.Stop()
	for c.pending != 0 {
		select {
		case m, ok := <-c.resps:
			if !ok {
				c.shut()
				return driver.ErrBadConn
			}
			if m.Status != nil {
				c.pending = 0
				c.inTx = m.Status.InTransaction
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			c.shut()
			return driver.ErrBadConn
		}
	}
	return nil
}

// call sends a request and reads all its responses, discarding rows. It
// returns the last statement's result and the last response. safe says
// that the request has no effect beyond the session, so that a lost
// stream can be reported as ErrBadConn (database/sql then retries).
func (c *conn) call(ctx context.Context, req *pb.SQLRequest, safe bool) (*pb.SQLResult, *pb.SQLResponse, error) {
	if err := c.send(ctx, req); err != nil {
		return nil, nil, err
	}
	var last *pb.SQLResult
	for {
		m, err := c.recv(ctx)
		if err != nil {
			var lost *errConnLost
			if safe && errors.As(err, &lost) {
				return nil, nil, driver.ErrBadConn
			}
			return nil, nil, err
		}
		if m.Result != nil {
			last = m.Result
		}
		if m.Status != nil {
			if m.Error != nil {
				return nil, nil, fromPBError(m.Error)
			}
			return last, m, nil
		}
	}
}

func queryRequest(query string, args []*pb.SQLValue, discard bool) *pb.SQLRequest {
	return &pb.SQLRequest{Req: &pb.SQLRequest_Query{Query: &pb.SQLQuery{Sql: query, Args: args, DiscardRows: discard}}}
}

// Prepare prepares a statement on the node.
func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext prepares a statement on the node: its executions send
// only the statement's ID and arguments.
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	_, m, err := c.call(ctx, &pb.SQLRequest{Req: &pb.SQLRequest_Prepare{Prepare: &pb.SQLPrepare{Sql: query}}}, true)
	if err != nil {
		return nil, err
	}
	if m.Prepared == nil {
		c.shut()
		return nil, errors.New("driver: the node answered a prepare without a statement (protocol error)")
	}
	return &stmt{c: c, id: m.Prepared.StmtId, params: int(m.Prepared.Params)}, nil
}

// QueryContext runs one or more statements; each is a result set of the
// rows (a statement without rows is a result set without columns).
// With arguments, query must be one statement.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	vals, err := encodeArgs(args)
	if err != nil {
		return nil, err
	}
	return c.query(ctx, queryRequest(query, vals, false))
}

// ExecContext runs one or more statements and reports the last one's
// result. Rows of statements that return some are not sent.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	vals, err := encodeArgs(args)
	if err != nil {
		return nil, err
	}
	return c.exec(ctx, queryRequest(query, vals, true))
}

func (c *conn) exec(ctx context.Context, req *pb.SQLRequest) (driver.Result, error) {
	last, _, err := c.call(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return result{last}, nil
}

func (c *conn) query(ctx context.Context, req *pb.SQLRequest) (driver.Rows, error) {
	if err := c.send(ctx, req); err != nil {
		return nil, err
	}
	r := &rows{c: c, ctx: ctx}
	if err := r.startStatement(); err != nil {
		return nil, err
	}
	return r, nil
}

// Ping checks that the session still works.
func (c *conn) Ping(ctx context.Context) error {
	_, _, err := c.call(ctx, &pb.SQLRequest{Req: &pb.SQLRequest_Ping{Ping: &pb.SQLPing{}}}, true)
	return err
}

// Begin starts a transaction.
func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a transaction: a read-write one (BEGIN), or with ReadOnly
// a lock-free snapshot one (START TRANSACTION READ ONLY). Meridian's
// transactions are strictly serializable, so isolation levels other than
// the default and serializable are refused rather than silently upgraded.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	switch lvl := sql.IsolationLevel(opts.Isolation); lvl {
	case sql.LevelDefault, sql.LevelSerializable:
	default:
		return nil, fmt.Errorf("driver: isolation level %s is not supported: Meridian's transactions are strictly serializable "+
			"(use sql.LevelDefault or sql.LevelSerializable)", lvl)
	}
	if c.inTx {
		// BEGIN would commit it, as in MySQL.
		return nil, errors.New("driver: a transaction started with SQL is open on this connection; COMMIT or ROLLBACK it first")
	}
	q := "BEGIN"
	if opts.ReadOnly {
		q = "START TRANSACTION READ ONLY"
	}
	// Safe to retry elsewhere: a lost session takes its transaction along.
	if _, _, err := c.call(ctx, queryRequest(q, nil, true), true); err != nil {
		return nil, err
	}
	return tx{c: c}, nil
}

// tx ends a transaction with COMMIT or ROLLBACK. database/sql calls them
// without a context: it ends the transaction itself when its context ends.
type tx struct{ c *conn }

// Commit commits. An error other than a SQL error (a lost connection)
// leaves the outcome unknown.
func (t tx) Commit() error {
	_, _, err := t.c.call(context.Background(), queryRequest("COMMIT", nil, true), false)
	return err
}

// Rollback rolls back; a lost session has rolled back by itself.
func (t tx) Rollback() error {
	_, _, err := t.c.call(context.Background(), queryRequest("ROLLBACK", nil, true), true)
	return err
}

// Close ends the session: the node rolls back an open transaction.
func (c *conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.shut()
	if c.onClose != nil {
		c.onClose()
	}
	return nil
}

// IsValid reports whether the connection may go back to the pool.
func (c *conn) IsValid() bool { return !c.bad && !c.closed }

// ResetSession runs before a pooled connection is reused. It costs no
// round trip in the common case: it only finishes an interrupted request,
// and rolls back a transaction that SQL (not BeginTx) left open. It keeps
// the session's prepared statements, which database/sql caches per
// connection, and its variables, as MySQL drivers do.
func (c *conn) ResetSession(ctx context.Context) error {
	if c.bad || c.closed {
		return driver.ErrBadConn
	}
	if err := c.settle(ctx); err != nil {
		return err
	}
	if c.inTx {
		_, _, err := c.call(ctx, queryRequest("ROLLBACK", nil, true), true)
		return err
	}
	return nil
}

// Reset clears the session as MySQL's COM_RESET_CONNECTION does: rolls back
// an open transaction and drops session variables and prepared statements;
// the current database stays. Reach it through sql.Conn.Raw:
//
//	conn.Raw(func(c any) error { return c.(interface{ Reset(context.Context) error }).Reset(ctx) })
//
// Statements prepared on the connection through database/sql fail
// afterwards.
func (c *conn) Reset(ctx context.Context) error {
	_, _, err := c.call(ctx, &pb.SQLRequest{Req: &pb.SQLRequest_Reset_{Reset_: &pb.SQLReset{}}}, true)
	return err
}

// CheckNamedValue accepts the Go types the node has values for, keeping
// uint64 whole (database/sql's default conversion refuses values above
// MaxInt64), and passes others to database/sql's conversion (Valuers,
// named types, pointers).
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	return checkNamedValue(nv)
}

type result struct{ r *pb.SQLResult }

// LastInsertId is the first AUTO_INCREMENT value of the last statement.
func (r result) LastInsertId() (int64, error) { return int64(r.r.GetLastInsertId()), nil }

// RowsAffected is the last statement's count of changed rows.
func (r result) RowsAffected() (int64, error) { return int64(r.r.GetAffectedRows()), nil }

// stmt is a statement prepared on the node.
type stmt struct {
	c      *conn
	id     uint32
	params int
	closed bool
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

// Close drops the statement on the node. It needs no answer, so it costs
// no round trip.
func (s *stmt) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	c := s.c
	if c.bad || c.closed {
		return nil // the session, and the statement with it, is gone
	}
	c.nextID++
	if err := c.stream.Send(&pb.SQLRequest{Id: c.nextID, Req: &pb.SQLRequest_ClosePrepared{ClosePrepared: &pb.SQLClosePrepared{StmtId: s.id}}}); err != nil {
		c.shut()
	}
	return nil
}

// NumInput is the number of ? placeholders; database/sql checks the
// arguments against it.
func (s *stmt) NumInput() int { return s.params }

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error { return checkNamedValue(nv) }

func (s *stmt) execute(args []driver.NamedValue, discard bool) (*pb.SQLRequest, error) {
	vals, err := encodeArgs(args)
	if err != nil {
		return nil, err
	}
	return &pb.SQLRequest{Req: &pb.SQLRequest_Execute{Execute: &pb.SQLExecute{StmtId: s.id, Args: vals, DiscardRows: discard}}}, nil
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	req, err := s.execute(args, true)
	if err != nil {
		return nil, err
	}
	return s.c.exec(ctx, req)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	req, err := s.execute(args, false)
	if err != nil {
		return nil, err
	}
	return s.c.query(ctx, req)
}

// Exec and Query serve callers of the pre-context interface.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), namedValues(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), namedValues(args))
}

func namedValues(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}
