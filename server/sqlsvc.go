package server

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The SQL service serves the gRPC SQL API (service SQL in api/meridian.proto)
// that the Go driver speaks: one engine session per stream.
//
//	stream ──recvLoop──► queue ──serve──► engine.Session ──► sqlWriter ──► stream
//	          (cancel: interrupts the running request at once)
//
// A reader goroutine takes requests off the stream so that a cancel can
// reach the request that is running; everything else is executed in order
// by the stream's own goroutine, because an engine session serves one
// statement at a time.

// Row batches: a response message is sent once its rows reach either bound,
// so that a point query is one message and a large result streams in
// pieces of bounded memory.
const (
	sqlBatchBytes = 64 << 10
	sqlBatchRows  = 4096
)

// SQL returns the node's SQL engine, nil before the node joined a cluster.
func (n *Node) SQL() *engine.Engine {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.sql
}

// sqlStreams tracks the open SQL sessions so that Stop can end them while
// the transaction layer still runs (their open transactions roll back).
// The zero value is ready.
type sqlStreams struct {
	mu struct {
		sync.Mutex
		closed  bool
		next    uint64
		cancels map[uint64]context.CancelFunc
	}
	wg sync.WaitGroup
}

// add registers a session; ok is false once the node is stopping.
func (s *sqlStreams) add(cancel context.CancelFunc) (id uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return 0, false
	}
	if s.mu.cancels == nil {
		s.mu.cancels = map[uint64]context.CancelFunc{}
	}
	s.mu.next++
	s.mu.cancels[s.mu.next] = cancel
	s.wg.Add(1)
	return s.mu.next, true
}

func (s *sqlStreams) done(id uint64) {
	s.mu.Lock()
	delete(s.mu.cancels, id)
	s.mu.Unlock()
	s.wg.Done()
}

// closeAndWait refuses new sessions, interrupts the running ones and waits
// until every session has closed.
func (s *sqlStreams) closeAndWait() {
	s.mu.Lock()
	s.mu.closed = true
	for _, cancel := range s.mu.cancels {
		cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

type sqlService struct {
	pb.UnimplementedSQLServer
	n *Node
}

func (s sqlService) Session(stream pb.SQL_SessionServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	id, ok := s.n.sqlStreams.add(cancel)
	if !ok {
		return status.Error(codes.Unavailable, "server: node is shutting down; use another node")
	}
	defer s.n.sqlStreams.done(id)

	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "server: the first request of a SQL session must be open")
	}
	e := s.n.SQL()
	if e == nil {
		return stream.Send(&pb.SQLResponse{Status: &pb.SQLStatus{Autocommit: true}, Error: toSQLError(
			sqlerr.New(sqlerr.CodeUnknown, "", "this node has not joined a cluster yet (run `meridian init` once, or connect to another node)"))})
	}
	// The stream's interceptors (netsim.Network.ServerOptions) delay each
	// request and response by the region the driver declared in the
	// call's metadata; open.Region repeats it, and is checked here so
	// that a region the latency matrix does not know fails the session
	// instead of passing undelayed.
	if _, _, err := s.n.clientWAN(open.Region); err != nil {
		return stream.Send(&pb.SQLResponse{Status: &pb.SQLStatus{Autocommit: true}, Error: toSQLError(
			sqlerr.New(sqlerr.CodeUnknown, "", "%s", err.Error()))})
	}
	sess, err := e.NewSession(ctx, open.User, open.Database)
	if err != nil {
		return stream.Send(&pb.SQLResponse{Status: &pb.SQLStatus{Autocommit: true}, Error: toSQLError(err)})
	}
	defer sess.Close()
	s.n.logger.Debug("SQL session opened", "user", open.User, "database", open.Database, "client_region", open.Region)
	c := &sqlConn{stream: stream, sess: sess, staleness: time.Duration(open.ReadStalenessNanos)}
	if err := c.applyStaleness(ctx); err != nil {
		return stream.Send(&pb.SQLResponse{Status: c.status(), Error: toSQLError(err)})
	}
	if err := c.send(&pb.SQLResponse{Status: c.status()}); err != nil {
		return err
	}

	queue := make(chan sqlItem, 64)
	go c.recvLoop(ctx, queue)
	for {
		select {
		case it, ok := <-queue:
			if !ok {
				return c.recvErr
			}
			err := c.serve(it.ctx, it.req)
			c.finish(it.req.Id)
			if err != nil {
				return err // the stream broke
			}
		case <-ctx.Done():
			// The node is stopping (or the client went away); the
			// deferred Close rolls back an open transaction.
			return status.Error(codes.Unavailable, "server: node is shutting down; use another node")
		}
	}
}

// sqlConn is one stream's session.
type sqlConn struct {
	stream pb.SQL_SessionServer
	sess   *engine.Session
	// staleness is the session's read_staleness from SQLOpen, which
	// SQLReset keeps.
	staleness time.Duration
	w         sqlWriter // reused across requests
	args      []types.Datum
	// recvErr is why recvLoop stopped (nil: the client closed its side);
	// written before it closes the queue.
	recvErr error
	mu      struct {
		sync.Mutex
		// running holds the cancel functions of queued and running
		// requests by ID, for SQLCancel.
		running map[uint64]context.CancelFunc
	}
}

type sqlItem struct {
	ctx context.Context
	req *pb.SQLRequest
}

// recvLoop reads requests until the stream ends. It answers cancels itself
// and queues everything else, with a context of its own that a cancel
// interrupts.
func (c *sqlConn) recvLoop(ctx context.Context, queue chan<- sqlItem) {
	defer close(queue)
	for {
		req, err := c.stream.Recv()
		if err != nil {
			if err != io.EOF && status.Code(err) != codes.Canceled {
				c.recvErr = err
			}
			return
		}
		if cr := req.GetCancel(); cr != nil {
			c.mu.Lock()
			if cancel := c.mu.running[cr.RequestId]; cancel != nil {
				cancel()
			}
			c.mu.Unlock()
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		c.mu.Lock()
		if c.mu.running == nil {
			c.mu.running = map[uint64]context.CancelFunc{}
		}
		c.mu.running[req.Id] = cancel
		c.mu.Unlock()
		select {
		case queue <- sqlItem{ctx: rctx, req: req}:
		case <-ctx.Done():
			return
		}
	}
}

func (c *sqlConn) finish(id uint64) {
	c.mu.Lock()
	cancel := c.mu.running[id]
	delete(c.mu.running, id)
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (c *sqlConn) status() *pb.SQLStatus {
	st := c.sess.Status()
	return &pb.SQLStatus{InTransaction: st.InTransaction, Autocommit: st.Autocommit}
}

func (c *sqlConn) send(m *pb.SQLResponse) error { return c.stream.Send(m) }

// serve executes one request and sends its responses. Its error is the
// stream's: a failed statement is a response, not an error.
func (c *sqlConn) serve(ctx context.Context, req *pb.SQLRequest) error {
	c.w.reset(c, false)
	var err error
	switch r := req.Req.(type) {
	case *pb.SQLRequest_Query:
		c.w.discard = r.Query.DiscardRows
		if len(r.Query.Args) == 0 {
			err = c.sess.Run(ctx, r.Query.Sql, &c.w)
		} else {
			err = c.runWithArgs(ctx, r.Query.Sql, r.Query.Args)
		}
	case *pb.SQLRequest_Prepare:
		var p *engine.Prepared
		if p, err = c.sess.Prepare(ctx, r.Prepare.Sql); err == nil {
			c.w.pending().Prepared = &pb.SQLPrepared{StmtId: p.ID, Params: uint32(p.Params), Columns: toPBColumns(p.Columns)}
		}
	case *pb.SQLRequest_Execute:
		c.w.discard = r.Execute.DiscardRows
		if err = c.decodeArgs(r.Execute.Args); err == nil {
			err = c.sess.Execute(ctx, r.Execute.StmtId, c.args, &c.w)
		}
	case *pb.SQLRequest_ClosePrepared:
		c.sess.ClosePrepared(r.ClosePrepared.StmtId)
		return nil // no response
	case *pb.SQLRequest_Reset_:
		if err = c.sess.Reset(ctx); err == nil {
			err = c.applyStaleness(ctx)
		}
	case *pb.SQLRequest_Ping:
	case *pb.SQLRequest_Open:
		err = sqlerr.New(sqlerr.CodeUnknown, "", "the session is already open")
	default:
		err = sqlerr.New(sqlerr.CodeUnknown, "", "unknown SQL request (a newer client?)")
	}
	if c.w.sendErr != nil {
		return c.w.sendErr
	}
	m := c.w.pending()
	if err != nil {
		m.Error = toSQLError(interrupted(ctx, err))
	}
	m.Status = c.status()
	return c.send(m)
}

// applyStaleness sets the session's bounded staleness. SET is how the
// engine takes it; the text is formatted from the duration here, never
// taken from the client.
func (c *sqlConn) applyStaleness(ctx context.Context) error {
	switch {
	case c.staleness < 0:
		return sqlerr.New(sqlerr.CodeWrongArguments, "", "Incorrect arguments to open: negative read staleness %s", c.staleness)
	case c.staleness == 0:
		return nil
	}
	return c.sess.Run(ctx, "SET read_staleness = '"+c.staleness.String()+"'", noResults{})
}

// noResults takes the results of statements the node runs for itself.
type noResults struct{}

func (noResults) Columns([]engine.Column) error { return nil }
func (noResults) Row([]types.Datum) error       { return nil }
func (noResults) Done(engine.Result) error      { return nil }

// runWithArgs runs one statement with arguments: prepared, executed once
// and dropped, so that a client's Query with arguments is one round trip.
func (c *sqlConn) runWithArgs(ctx context.Context, query string, args []*pb.SQLValue) error {
	if err := c.decodeArgs(args); err != nil {
		return err
	}
	p, err := c.sess.Prepare(ctx, query)
	if err != nil {
		return err
	}
	defer c.sess.ClosePrepared(p.ID)
	return c.sess.Execute(ctx, p.ID, c.args, &c.w)
}

func (c *sqlConn) decodeArgs(args []*pb.SQLValue) error {
	c.args = c.args[:0]
	for i, a := range args {
		d, err := fromPBValue(a)
		if err != nil {
			return sqlerr.New(sqlerr.CodeWrongArguments, "", "Incorrect arguments to EXECUTE: parameter %d: %v", i+1, err)
		}
		c.args = append(c.args, d)
	}
	return nil
}

// interrupted reports a statement stopped by SQLCancel as MySQL reports
// KILL QUERY.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) && sqlerr.Code(err) == 0 {
		return sqlerr.New(sqlerr.CodeQueryInterrupted, "", "Query execution was interrupted")
	}
	return err
}

// mysqlCoder is any error that carries a MySQL code (sqlerr's and the
// wire layer's).
type mysqlCoder interface {
	MySQLError() (code uint16, state string, msg string)
}

func toSQLError(err error) *pb.SQLError {
	var mc mysqlCoder
	if errors.As(err, &mc) {
		code, state, msg := mc.MySQLError()
		return &pb.SQLError{Code: uint32(code), SqlState: state, Message: msg}
	}
	return &pb.SQLError{Code: uint32(sqlerr.CodeUnknown), SqlState: sqlerr.State(sqlerr.CodeUnknown), Message: err.Error()}
}

// sqlWriter turns the engine's results into response messages: a message
// per statement, or per batch of rows when a result is large.
type sqlWriter struct {
	c       *sqlConn
	discard bool // count rows but do not send them
	m       *pb.SQLResponse
	bytes   int
	sendErr error
}

var _ engine.ResultWriter = (*sqlWriter)(nil)

func (w *sqlWriter) reset(c *sqlConn, discard bool) {
	*w = sqlWriter{c: c, discard: discard}
}

func (w *sqlWriter) pending() *pb.SQLResponse {
	if w.m == nil {
		w.m = &pb.SQLResponse{}
	}
	return w.m
}

func (w *sqlWriter) flush() error {
	m := w.m
	w.m, w.bytes = nil, 0
	if err := w.c.send(m); err != nil {
		w.sendErr = err
		return err
	}
	return nil
}

func (w *sqlWriter) Columns(cols []engine.Column) error {
	if w.discard {
		return nil
	}
	m := w.pending()
	if len(m.Columns) > 0 || len(m.Rows) > 0 {
		return errors.AssertionFailedf("server: columns of a statement before the previous one was done")
	}
	m.Columns = toPBColumns(cols)
	return nil
}

func (w *sqlWriter) Row(vals []types.Datum) error {
	if w.discard {
		return nil
	}
	row := &pb.SQLRow{Values: make([]*pb.SQLValue, len(vals))}
	for i, d := range vals {
		v, n := toPBValue(d)
		row.Values[i] = v
		w.bytes += n
	}
	m := w.pending()
	m.Rows = append(m.Rows, row)
	if w.bytes >= sqlBatchBytes || len(m.Rows) >= sqlBatchRows {
		return w.flush()
	}
	return nil
}

func (w *sqlWriter) Done(r engine.Result) error {
	w.pending().Result = &pb.SQLResult{AffectedRows: r.AffectedRows, LastInsertId: r.LastInsertID,
		Warnings: uint32(r.Warnings), Info: r.Info, More: r.More}
	if r.More {
		// A message never holds parts of two statements.
		return w.flush()
	}
	return nil
}

func toPBColumns(cols []engine.Column) []*pb.SQLColumn {
	if len(cols) == 0 {
		return nil
	}
	out := make([]*pb.SQLColumn, len(cols))
	for i := range cols {
		c := &cols[i]
		out[i] = &pb.SQLColumn{Name: c.Name, OrgName: c.OrgName, Table: c.Table, OrgTable: c.OrgTable,
			Database: c.Database, Type: toPBType(c.Type), NotNull: c.NotNull, PrimaryKey: c.PrimaryKey,
			Unique: c.Unique, AutoIncrement: c.AutoIncrement}
	}
	return out
}

// pbTypeKinds maps the engine's type kinds to the wire's; the zero kind
// (the type of a bare NULL) maps to NULL.
var pbTypeKinds = map[types.TypeKind]pb.SQLType_Kind{
	types.TinyInt: pb.SQLType_TINYINT, types.SmallInt: pb.SQLType_SMALLINT, types.MediumInt: pb.SQLType_MEDIUMINT,
	types.Int: pb.SQLType_INT, types.BigInt: pb.SQLType_BIGINT, types.Decimal: pb.SQLType_DECIMAL,
	types.Float: pb.SQLType_FLOAT, types.Double: pb.SQLType_DOUBLE, types.Char: pb.SQLType_CHAR,
	types.VarChar: pb.SQLType_VARCHAR, types.Text: pb.SQLType_TEXT, types.Binary: pb.SQLType_BINARY,
	types.VarBinary: pb.SQLType_VARBINARY, types.Blob: pb.SQLType_BLOB, types.Bool: pb.SQLType_BOOL,
	types.Date: pb.SQLType_DATE, types.DateTime: pb.SQLType_DATETIME, types.Timestamp: pb.SQLType_TIMESTAMP,
}

func toPBType(t types.T) *pb.SQLType {
	return &pb.SQLType{Kind: pbTypeKinds[t.Kind], Unsigned: t.Unsigned, Length: int64(t.Length),
		Precision: int32(t.Precision), Scale: int32(t.Scale)}
}

// toPBValue encodes a value and returns its approximate encoded size.
func toPBValue(d types.Datum) (*pb.SQLValue, int) {
	switch d.Kind() {
	case types.KindInt:
		return &pb.SQLValue{V: &pb.SQLValue_Int{Int: d.Int()}}, 10
	case types.KindUint:
		return &pb.SQLValue{V: &pb.SQLValue_Uint{Uint: d.Uint()}}, 10
	case types.KindFloat:
		if d.IsFloat32() {
			return &pb.SQLValue{V: &pb.SQLValue_Float32{Float32: float32(d.Float())}}, 6
		}
		return &pb.SQLValue{V: &pb.SQLValue_Float{Float: d.Float()}}, 10
	case types.KindDecimal:
		s := d.String()
		return &pb.SQLValue{V: &pb.SQLValue_Decimal{Decimal: s}}, len(s) + 4
	case types.KindString:
		s := d.Str()
		return &pb.SQLValue{V: &pb.SQLValue_String_{String_: s}}, len(s) + 4
	case types.KindBytes:
		b := d.Bytes()
		return &pb.SQLValue{V: &pb.SQLValue_Bytes{Bytes: b}}, len(b) + 4
	case types.KindTime:
		k := pb.SQLTime_DATETIME
		switch d.TimeKind() {
		case types.Date:
			k = pb.SQLTime_DATE
		case types.Timestamp:
			k = pb.SQLTime_TIMESTAMP
		}
		return &pb.SQLValue{V: &pb.SQLValue_Time{Time: &pb.SQLTime{UnixMicros: d.UnixMicros(), Kind: k, Fsp: uint32(d.Fsp())}}}, 16
	}
	return &pb.SQLValue{}, 2
}

// fromPBValue decodes a statement argument.
func fromPBValue(v *pb.SQLValue) (types.Datum, error) {
	switch x := v.GetV().(type) {
	case nil:
		return types.Null(), nil
	case *pb.SQLValue_Int:
		return types.NewInt(x.Int), nil
	case *pb.SQLValue_Uint:
		return types.NewUint(x.Uint), nil
	case *pb.SQLValue_Float:
		return types.NewFloat(x.Float), nil
	case *pb.SQLValue_Float32:
		return types.NewFloat32(x.Float32), nil
	case *pb.SQLValue_Decimal:
		return types.ParseDecimal(x.Decimal)
	case *pb.SQLValue_String_:
		return types.NewString(x.String_), nil
	case *pb.SQLValue_Bytes:
		return types.NewBytes(x.Bytes), nil
	case *pb.SQLValue_Time:
		k := types.DateTime
		switch x.Time.GetKind() {
		case pb.SQLTime_DATE:
			k = types.Date
		case pb.SQLTime_TIMESTAMP:
			k = types.Timestamp
		}
		if x.Time.GetFsp() > types.MaxFsp {
			return types.Datum{}, errors.Newf("fractional seconds precision %d exceeds %d", x.Time.GetFsp(), types.MaxFsp)
		}
		d, ok := types.NewTimeMicros(k, x.Time.GetUnixMicros(), int(x.Time.GetFsp()))
		if !ok {
			return types.Datum{}, errors.Newf("%s value out of range", k)
		}
		return d, nil
	}
	return types.Datum{}, errors.Newf("unknown value type %T", v.GetV())
}
