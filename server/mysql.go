package server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/netsim"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/mysqlwire"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
)

// The MySQL listener (--mysql-addr) lets any MySQL client reach the node's
// SQL engine: sql/mysqlwire speaks the protocol, this file translates
// between its plain Go values and the engine's sessions and Datums.
//
//	client ──mysqlwire.Server──► mysqlSession ──► engine.Session.Run/Execute
//	       ◄── ResultWriter ◄──── mysqlResult ◄── Columns/Row/Done
//
// The listener's limits are fixed here rather than configured, with the
// values MySQL 8 ships with, because clients and connection pools are tuned
// against those.
const (
	// MySQLServerVersion is the version the handshake announces. It must
	// equal the engine's @@version (engine.Config.Version's default), since
	// tools compare the two and pick features by them; a test checks it.
	MySQLServerVersion = "8.0.11-Meridian"
	// mysqlMaxConnections bounds a node's MySQL connections so that a
	// runaway client pool gets ERR 1040 instead of exhausting the node.
	// MySQL's default max_connections is 151, which real deployments raise;
	// 1024 leaves room for a few application pools per node.
	mysqlMaxConnections = 1024
	// mysqlIdleTimeout is MySQL's wait_timeout default (8 hours): pools
	// keep connections idle that long and do not expect them to vanish
	// sooner.
	mysqlIdleTimeout = 8 * time.Hour
	// mysqlMaxAllowedPacket is MySQL 8's max_allowed_packet default; rows
	// are further bounded by MaxValueSize when stored.
	mysqlMaxAllowedPacket = 64 << 20
)

// mysqlListener is the node's MySQL protocol server, if it runs one.
type mysqlListener struct {
	srv  *mysqlwire.Server
	addr net.Addr
	done chan struct{} // closed when Serve returned
}

// startMySQL serves the MySQL protocol on cfg.MySQLAddr, if set. The
// listener opens at once, so a taken port fails Start; connections that
// arrive before the node joined a cluster are refused with an explanation
// (Open).
func (n *Node) startMySQL() error {
	if n.cfg.MySQLAddr == "" {
		return nil
	}
	// cfg.Logger, not n.logger: a join in the background may be replacing
	// n.logger right now.
	logger := n.cfg.Logger.With("component", "mysql")
	cfg := mysqlwire.Config{
		Handler:          mysqlHandler{n: n},
		ServerVersion:    MySQLServerVersion,
		MaxConnections:   mysqlMaxConnections,
		IdleTimeout:      mysqlIdleTimeout,
		MaxAllowedPacket: mysqlMaxAllowedPacket,
		Logger:           logger,
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", n.cfg.MySQLAddr)
	if err != nil {
		return errors.Wrapf(err, "server: listening on %s (MySQL)", n.cfg.MySQLAddr)
	}
	m := &mysqlListener{srv: mysqlwire.NewServer(cfg), addr: lis.Addr(), done: make(chan struct{})}
	n.mysql = m
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(lis); err != nil {
			logger.Error("MySQL server stopped", "err", err.Error())
		}
	}()
	logger.Info("serving the MySQL protocol", "addr", lis.Addr().String())
	return nil
}

// stopMySQL closes the MySQL listener and every connection; running
// statements see their context canceled. It returns once every session
// has been closed, so it must run before the engine's transaction layer
// stops.
func (n *Node) stopMySQL() {
	m := n.mysql
	if m == nil {
		return
	}
	if err := m.srv.Close(); err != nil {
		n.logger.Debug("closing the MySQL server", "err", err.Error())
	}
	<-m.done
}

// MySQLAddr is the address the MySQL listener is bound to ("" if off).
func (n *Node) MySQLAddr() string {
	if n.mysql == nil {
		return ""
	}
	return n.mysql.addr.String()
}

// MySQLRegionAttr is the connection attribute by which a MySQL client
// declares its region, as ?region= does for the driver: under a simulated
// WAN (Config.Network) each of its commands then pays the round trip
// between that region and the node's. Connection attributes arrive in the
// handshake, before the first command, and drivers let programs add their
// own (go-sql-driver/mysql: connectionAttributes=region:us-west; JDBC:
// connectionAttributes; C clients: MYSQL_OPT_CONNECT_ATTR_ADD); a session
// variable would leave the commands before it undelayed and would make the
// SQL engine know about the network.
const MySQLRegionAttr = "region"

// mysqlHandler opens an engine session for every authenticated connection.
type mysqlHandler struct{ n *Node }

func (h mysqlHandler) Open(ctx context.Context, c mysqlwire.ConnInfo) (mysqlwire.Session, error) {
	e := h.n.SQL()
	if e == nil {
		return nil, mysqlwire.NewError(mysqlwire.ErrCodeUnknown, "HY000",
			"this node has not joined a cluster yet (run `meridian init` once, or connect to another node)")
	}
	wan, client, err := h.n.clientWAN(c.Attrs[MySQLRegionAttr])
	if err != nil {
		return nil, mysqlwire.NewError(mysqlwire.ErrCodeUnknown, "HY000", "%s", err.Error())
	}
	s, err := e.NewSession(ctx, c.User, c.Database)
	if err != nil {
		return nil, err
	}
	return &mysqlSession{s: s,
		multi:     c.ClientFlags&mysqlwire.ClientMultiStatements != 0,
		foundRows: c.ClientFlags&mysqlwire.ClientFoundRows != 0,
		wan:       wan,
		client:    client,
		node:      h.n,
	}, nil
}

// clientWAN is the simulated WAN between a SQL client that declared region
// and this node: nil (no delays) without a network or a declared region. A
// region the node's latency matrix does not name is refused rather than
// served undelayed, so that a misspelt region does not pass for a fast
// one.
func (n *Node) clientWAN(region string) (*netsim.Network, netsim.Endpoint, error) {
	wan := n.cfg.Network
	if wan == nil || region == "" {
		return nil, netsim.Endpoint{}, nil
	}
	if err := wan.Latency().Validate(region); err != nil {
		return nil, netsim.Endpoint{}, errors.Wrap(err, "server: the client's declared region (declare one the cluster's latency matrix names, or none)")
	}
	return wan, netsim.Endpoint{Region: region}, nil
}

// mysqlSession adapts an engine session to mysqlwire.Session. The wire
// layer calls it from one goroutine, so it needs no lock.
type mysqlSession struct {
	s *engine.Session
	// multi is CLIENT_MULTI_STATEMENTS (or COM_SET_OPTION's later word).
	multi bool
	// foundRows is CLIENT_FOUND_ROWS: UPDATE reports the rows it matched
	// rather than those it changed.
	foundRows bool
	res       mysqlResult // reused across statements
	args      []types.Datum
	// wan, when the client declared its region (MySQLRegionAttr) under a
	// simulated WAN, delays each command's request and response by the
	// one-way trips between client and node; nil otherwise.
	wan    *netsim.Network
	client netsim.Endpoint
	node   *Node
}

var _ mysqlwire.Session = (*mysqlSession)(nil)

// exchange runs fn as one request-response exchange with the client. The
// response's delay ends before the call returns, that is before the wire
// layer sends the command's last packet, so the client sees the command
// complete a full round trip later; rows of a large result that fill the
// write buffer may reach it earlier, as they would stream on a real WAN.
func (m *mysqlSession) exchange(ctx context.Context, fn func() error) error {
	if m.wan == nil {
		return fn()
	}
	self := netsim.Endpoint{Node: m.node.NodeID(), Region: m.node.cfg.Region}
	return m.wan.Exchange(ctx, m.client, self, fn)
}

func (m *mysqlSession) result(w mysqlwire.ResultWriter, multi bool) *mysqlResult {
	m.res = mysqlResult{w: w, multi: multi, foundRows: m.foundRows,
		wireCols: m.res.wireCols[:0], vals: m.res.vals[:0]}
	return &m.res
}

func (m *mysqlSession) Query(ctx context.Context, query string, w mysqlwire.ResultWriter) error {
	return m.exchange(ctx, func() error { return m.s.Run(ctx, query, m.result(w, m.multi)) })
}

func (m *mysqlSession) Prepare(ctx context.Context, query string) (info mysqlwire.PreparedInfo, err error) {
	err = m.exchange(ctx, func() error {
		info, err = m.prepare(ctx, query)
		return err
	})
	return info, err
}

func (m *mysqlSession) prepare(ctx context.Context, query string) (mysqlwire.PreparedInfo, error) {
	p, err := m.s.Prepare(ctx, query)
	if err != nil {
		return mysqlwire.PreparedInfo{}, err
	}
	info := mysqlwire.PreparedInfo{ID: p.ID, Params: p.Params}
	for i := range p.Columns {
		info.Columns = append(info.Columns, wireColumn(&p.Columns[i]))
	}
	return info, nil
}

func (m *mysqlSession) Execute(ctx context.Context, stmtID uint32, params []any, w mysqlwire.ResultWriter) error {
	return m.exchange(ctx, func() error { return m.execute(ctx, stmtID, params, w) })
}

func (m *mysqlSession) execute(ctx context.Context, stmtID uint32, params []any, w mysqlwire.ResultWriter) error {
	m.args = m.args[:0]
	for i, p := range params {
		d, err := paramDatum(p)
		if err != nil {
			return sqlerr.New(sqlerr.CodeWrongArguments, "", "Incorrect arguments to mysqld_stmt_execute: parameter %d: %v", i+1, err)
		}
		m.args = append(m.args, d)
	}
	// A prepared statement is one statement, so multi-statement text cannot
	// reach here; true keeps the adapter from second-guessing the engine.
	return m.s.Execute(ctx, stmtID, m.args, m.result(w, true))
}

func (m *mysqlSession) CloseStmt(stmtID uint32) { m.s.ClosePrepared(stmtID) }

// ResetStmt has nothing to reset: results are sent whole, so there is no
// cursor, and the wire layer drops the long data itself.
func (m *mysqlSession) ResetStmt(uint32) error { return nil }

func (m *mysqlSession) UseDatabase(ctx context.Context, db string) error {
	return m.exchange(ctx, func() error { return m.s.UseDatabase(ctx, db) })
}

func (m *mysqlSession) FieldList(ctx context.Context, table, wildcard string) (cols []mysqlwire.Column, err error) {
	err = m.exchange(ctx, func() error {
		cols, err = m.fieldList(ctx, table, wildcard)
		return err
	})
	return cols, err
}

func (m *mysqlSession) fieldList(ctx context.Context, table, wildcard string) ([]mysqlwire.Column, error) {
	cols, err := m.s.FieldList(ctx, table, wildcard)
	if err != nil {
		return nil, err
	}
	out := make([]mysqlwire.Column, len(cols))
	for i := range cols {
		out[i] = wireColumn(&cols[i])
	}
	return out, nil
}

func (m *mysqlSession) Reset(ctx context.Context) error {
	return m.exchange(ctx, func() error { return m.s.Reset(ctx) })
}

func (m *mysqlSession) SetMultiStatements(on bool) { m.multi = on }

func (m *mysqlSession) Status() mysqlwire.Status {
	st := m.s.Status()
	return mysqlwire.Status{InTransaction: st.InTransaction, Autocommit: st.Autocommit}
}

func (m *mysqlSession) Close() { m.s.Close() }

// mysqlResult passes one request's results from the engine to the wire.
type mysqlResult struct {
	w         mysqlwire.ResultWriter
	multi     bool
	foundRows bool
	inRows    bool
	wireCols  []mysqlwire.Column
	vals      []any
}

var _ engine.ResultWriter = (*mysqlResult)(nil)

// errMultiStatementsOff is what MySQL answers a query with several
// statements on a connection without CLIENT_MULTI_STATEMENTS: a syntax
// error (drivers leave the option off to blunt SQL injection).
func errMultiStatementsOff() error {
	return sqlerr.New(sqlerr.CodeParse, "",
		"You have an error in your SQL syntax; this connection does not allow several statements in one query "+
			"(the client did not enable multi-statements)")
}

func (r *mysqlResult) Columns(cols []engine.Column) error {
	r.inRows = true
	r.wireCols = r.wireCols[:0]
	for i := range cols {
		r.wireCols = append(r.wireCols, wireColumn(&cols[i]))
	}
	return r.w.WriteColumns(r.wireCols)
}

func (r *mysqlResult) Row(vals []types.Datum) error {
	if len(vals) != len(r.wireCols) {
		return errors.AssertionFailedf("server: row of %d values for %d columns", len(vals), len(r.wireCols))
	}
	r.vals = r.vals[:0]
	for i, d := range vals {
		r.vals = append(r.vals, wireValue(&r.wireCols[i], d))
	}
	return r.w.WriteRow(r.vals)
}

func (r *mysqlResult) Done(res engine.Result) error {
	// The engine parsed the whole text before running its first statement
	// and tells of a following one here, before running it: refusing now
	// keeps the rest from executing. Unlike MySQL, which refuses the text
	// before running anything, the first statement has run by then.
	if res.More && !r.multi {
		return errMultiStatementsOff()
	}
	if r.inRows {
		r.inRows = false
		return r.w.EndRows(res.Warnings)
	}
	affected := res.AffectedRows
	if r.foundRows {
		if matched, ok := rowsMatched(res.Info); ok {
			affected = matched
		}
	}
	return r.w.WriteOK(mysqlwire.OK{AffectedRows: affected, LastInsertID: res.LastInsertID,
		Warnings: res.Warnings, Info: res.Info})
}

// rowsMatched reads N from UPDATE's info string "Rows matched: N  Changed:
// M  Warnings: W", which is how MySQL tells matched from changed rows; a
// CLIENT_FOUND_ROWS client wants N as the affected-row count.
func rowsMatched(info string) (uint64, bool) {
	rest, ok := strings.CutPrefix(info, "Rows matched: ")
	if !ok {
		return 0, false
	}
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		rest = rest[:i]
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

// wireColumn describes an engine result column in the protocol's terms:
// the type decides code, length, decimals, charset and the numeric flags;
// the catalog adds the key and nullability flags.
func wireColumn(c *engine.Column) mysqlwire.Column {
	flags := c.Type.Flags()
	if c.NotNull {
		flags |= mysqlwire.FlagNotNull
	}
	if c.PrimaryKey {
		flags |= mysqlwire.FlagPriKey
	}
	if c.Unique {
		flags |= mysqlwire.FlagUniqueKey
	}
	if c.AutoIncrement {
		flags |= mysqlwire.FlagAutoIncrement
	}
	return mysqlwire.Column{
		Schema: c.Database, Table: c.Table, OrgTable: c.OrgTable, Name: c.Name, OrgName: c.OrgName,
		Type: c.Type.MySQLType(), Flags: flags, Charset: c.Type.CharsetID(),
		Length: c.Type.ColumnLength(), Decimals: c.Type.Decimals(),
	}
}

// wireValue converts a result value for its column. Decimals travel as
// their exact text with the value's scale (1.50 stays 1.50); times as
// time.Time, which the wire layer renders with the column's fractional
// digits in text rows and packs in binary rows. A value whose kind does
// not suit the column's type is converted where that is exact, else sent
// as MySQL's text for it, which string and decimal columns carry and any
// other column refuses with an error naming the column, rather than
// sending a wrong value.
func wireValue(col *mysqlwire.Column, d types.Datum) any {
	switch d.Kind() {
	case types.KindNull:
		return nil
	case types.KindInt:
		return d.Int()
	case types.KindUint:
		return d.Uint()
	case types.KindFloat:
		if d.IsFloat32() {
			return float32(d.Float())
		}
		return d.Float()
	case types.KindDecimal:
		switch col.Type {
		case mysqlwire.TypeFloat, mysqlwire.TypeDouble:
			f, _ := types.ToFloat64(d)
			return f
		case mysqlwire.TypeTiny, mysqlwire.TypeShort, mysqlwire.TypeInt24, mysqlwire.TypeLong, mysqlwire.TypeLongLong:
			if isIntegral(d) {
				if col.Flags&mysqlwire.FlagUnsigned != 0 && d.Decimal().Sign() >= 0 {
					if u, trunc := types.ToUint64(d); !trunc {
						return u
					}
				} else if i, trunc := types.ToInt64(d); !trunc {
					return i
				}
			}
		}
		return d.String()
	case types.KindTime:
		switch col.Type {
		case mysqlwire.TypeDate, mysqlwire.TypeNewDate, mysqlwire.TypeDatetime, mysqlwire.TypeTimestamp:
			return d.Time()
		}
		return d.String()
	default: // KindString, KindBytes: the same bytes either way
		return d.Str()
	}
}

// isIntegral reports whether a decimal has no nonzero fraction digits.
func isIntegral(d types.Datum) bool {
	s := d.String()
	i := strings.IndexByte(s, '.')
	return i < 0 || strings.Trim(s[i+1:], "0") == ""
}

// paramDatum converts a statement parameter as the wire layer decoded it.
// Most values map one to one (FromGo); times need a choice FromGo cannot
// make, because the protocol does not tell a DATE from a DATETIME
// parameter once decoded.
func paramDatum(v any) (types.Datum, error) {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			// The zero date: as text it meets strict mode's refusal (1292)
			// exactly as the literal '0000-00-00' would.
			return types.NewString("0000-00-00 00:00:00"), nil
		}
		// Whole seconds (every DATE, most DATETIMEs) become DATETIME(0),
		// so that SELECT ? echoes what was sent.
		fsp := 0
		if x.Nanosecond() != 0 {
			fsp = types.MaxFsp
		}
		return types.NewDateTime(x, fsp), nil
	case time.Duration:
		// Meridian has no TIME type; the text converts wherever MySQL
		// would convert a TIME value.
		return types.NewString(durationText(x)), nil
	}
	return types.FromGo(v)
}

// durationText renders a TIME value as MySQL does: [-]HH:MM:SS[.ffffff].
func durationText(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	us := d % time.Second / time.Microsecond
	s := int64(d / time.Second)
	out := fmt.Sprintf("%s%02d:%02d:%02d", sign, s/3600, s/60%60, s%60)
	if us != 0 {
		out += fmt.Sprintf(".%06d", us)
	}
	return out
}
