package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/meridiandb/meridian/sql/pushdown"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Session is one client connection's state: current database, open
// transaction, session variables, prepared statements. It is not safe for
// concurrent use: a connection runs one statement at a time.
type Session struct {
	e    *Engine
	id   uint32
	user string
	p    *parserOf
	db   string

	autocommit bool
	// tx is the open explicit transaction (BEGIN, or autocommit off),
	// begun lazily at its first statement; txOpts are its options.
	inTxn  bool
	tx     *txn.Txn
	txOpts txn.Options
	// txSent: results of the open transaction already reached the client,
	// so a retryable abort can no longer be hidden by a retry.
	txSent bool
	// txTables are the descriptors the open transaction read, by
	// "db.table" (for txTablesOf only): while it holds their shared locks
	// they cannot change, so later statements need not read them again
	// (a DDL statement in the transaction drops them).
	txTables   map[string]*TableDesc
	txTablesOf *txn.Txn

	userVars map[string]types.Datum
	vars     map[string]string // session system variables set by SET

	prepared map[uint32]*preparedStmt
	nextStmt uint32

	// paramOrder is the running prepared statement's marker numbering.
	paramOrder map[ast.ParamMarkerExpr]int

	lastInsertID uint64
	rowCount     int64
	warnings     []*sqlerr.Error
}

type preparedStmt struct {
	stmt   ast.StmtNode
	params int
	// order numbers the ? markers by position in the statement.
	order map[ast.ParamMarkerExpr]int
}

// stmtCtx is one statement's execution state.
type stmtCtx struct {
	ctx    context.Context
	s      *Session
	tx     *txn.Txn
	eval   types.EvalContext
	params []types.Datum
	tables map[string]*TableDesc
	// forUpdate: SELECT ... FOR UPDATE (locking reads in a read-write txn).
	forUpdate bool
	// insertValues/insertRow serve VALUES(col) in ON DUPLICATE KEY UPDATE.
	insertValues *scope
	insertRow    []types.Datum
	memory       int64
	warnings     []*sqlerr.Error
	// asOf: the statement reads at its AS OF TIMESTAMP (the first table's).
	asOf bool
	// outer is the stack of enclosing rows of running correlated subqueries.
	outer [][]types.Datum
}

func (c *stmtCtx) warn(e *sqlerr.Error) { c.warnings = append(c.warnings, e) }

// charge accounts memory a statement holds; over the limit it fails.
func (c *stmtCtx) charge(n int) error {
	c.memory += int64(n)
	if c.memory > c.s.e.cfg.MaxStatementMemory {
		return sqlerr.New(1038, "HY001", "Out of sort memory: the statement needs more than %d bytes; add a WHERE clause or a LIMIT, or an index for its ORDER BY", c.s.e.cfg.MaxStatementMemory)
	}
	return nil
}

// table returns a table descriptor, read once per statement in its
// transaction.
func (c *stmtCtx) table(db, name string) (*TableDesc, error) {
	k := strings.ToLower(db) + "." + strings.ToLower(name)
	if t, ok := c.tables[k]; ok {
		return t, nil
	}
	if db == "information_schema" || db == "mysql" || db == "performance_schema" {
		return nil, sqlerr.NotSupported("system schema tables (use SHOW)")
	}
	inTx := c.tx != nil && c.tx == c.s.tx
	t, ok := c.s.txTables[k]
	if !ok || !inTx || c.s.txTablesOf != c.tx {
		var err error
		if t, err = (catalog{c.tx}).table(c.ctx, db, name); err != nil {
			return nil, err
		}
		if inTx {
			if c.s.txTablesOf != c.tx {
				c.s.txTables, c.s.txTablesOf = map[string]*TableDesc{}, c.tx
			}
			c.s.txTables[k] = t
		}
	}
	if c.tables == nil {
		c.tables = map[string]*TableDesc{}
	}
	c.tables[k] = t
	return t, nil
}

// rowDescs are t's decode descriptors with the defaults of columns added
// after rows were written: the value the ALTER TABLE that added the
// column evaluated, or (descriptors from before AddedValue) the DEFAULT
// evaluated now.
func (c *stmtCtx) rowDescs(t *TableDesc) []rowenc.ColumnDesc {
	ds := t.rowDescs()
	for i, col := range t.Columns {
		if len(col.AddedValue) > 0 {
			if d, _, err := rowenc.DecodeValue(col.AddedValue); err == nil {
				ds[i].Default = d
			}
		} else if col.HasDefault {
			if d, err := c.s.defaultValue(c, t, col); err == nil {
				ds[i].Default = d
			}
		}
	}
	return ds
}

// UseDatabase selects the current database (USE db; COM_INIT_DB).
func (s *Session) UseDatabase(ctx context.Context, db string) error {
	var found *DatabaseDesc
	err := s.readOnly(ctx, func(c *stmtCtx) error {
		d, err := catalog{c.tx}.database(ctx, db)
		found = d
		return err
	})
	if err != nil {
		return err
	}
	s.db = found.Name
	return nil
}

// Database returns the current database, "" if none.
func (s *Session) Database() string { return s.db }

// Status returns the transaction state for protocol status flags.
func (s *Session) Status() Status {
	return Status{InTransaction: s.inTxn || s.tx != nil, Autocommit: s.autocommit}
}

// Reset rolls back an open transaction and clears session variables and
// prepared statements; the current database stays.
func (s *Session) Reset(ctx context.Context) error {
	s.rollback(ctx)
	s.autocommit = true
	s.userVars = map[string]types.Datum{}
	s.vars = map[string]string{}
	s.prepared = map[uint32]*preparedStmt{}
	s.warnings = nil
	return nil
}

// Close ends the session, rolling back an open transaction.
func (s *Session) Close() {
	s.rollback(context.Background())
}

func (s *Session) rollback(ctx context.Context) {
	if s.tx != nil {
		s.tx.Rollback(ctx)
	}
	s.tx, s.inTxn, s.txSent, s.txOpts = nil, false, false, txn.Options{}
}

// Run executes the statements in query (one or more, separated by ';'),
// writing each one's result to w. It stops at the first error.
func (s *Session) Run(ctx context.Context, query string, w ResultWriter) error {
	stmts, err := s.p.parse(query)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return sqlerr.New(1065, "42000", "Query was empty")
	}
	for i, st := range stmts {
		if err := s.exec(ctx, st, nil, w, i < len(stmts)-1); err != nil {
			return err
		}
	}
	return nil
}

// Prepare parses query (one statement, with ? placeholders) for Execute.
func (s *Session) Prepare(ctx context.Context, query string) (*Prepared, error) {
	stmts, err := s.p.parse(query)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, sqlerr.New(1295, "HY000", "This command is not supported in the prepared statement protocol yet (one statement per PREPARE)")
	}
	v := &paramCounter{}
	stmts[0].Accept(v)
	sort.Slice(v.marks, func(i, j int) bool { return v.marks[i].offset < v.marks[j].offset })
	order := map[ast.ParamMarkerExpr]int{}
	for i, m := range v.marks {
		order[m.m] = i
	}
	s.nextStmt++
	id := s.nextStmt
	s.prepared[id] = &preparedStmt{stmt: stmts[0], params: v.n, order: order}
	p := &Prepared{ID: id, Params: v.n}
	s.paramOrder = order
	defer func() { s.paramOrder = nil }()
	if sel, ok := stmts[0].(ast.ResultSetNode); ok {
		// Plan now: unknown tables and columns fail at prepare time, as in
		// MySQL, and the result columns are known.
		plan := func(c *stmtCtx) error {
			c.asOf = true // planning only: AS OF applies when it runs
			q, err := (&compiler{s: s, sc: c}).planQuery(sel, nil)
			if err == nil {
				p.Columns = q.out
			}
			return err
		}
		// The schema as of a few seconds ago plans at once from the
		// nearest replica; only a table that new needs a strong read.
		var err error
		if s.tx == nil {
			err = s.snapshotFn(ctx, txn.Options{ReadOnly: true, MaxStaleness: 10 * time.Second}, plan)
		}
		if s.tx != nil || err != nil {
			err = s.readOnly(ctx, plan)
		}
		if err != nil {
			delete(s.prepared, id)
			return nil, userError(err)
		}
	}
	return p, nil
}

type paramCounter struct {
	n     int
	marks []struct {
		m      ast.ParamMarkerExpr
		offset int
	}
}

func (v *paramCounter) Enter(n ast.Node) (ast.Node, bool) {
	if m, ok := n.(ast.ParamMarkerExpr); ok {
		v.n++
		v.marks = append(v.marks, struct {
			m      ast.ParamMarkerExpr
			offset int
		}{m, m.(*test_driver.ParamMarkerExpr).Offset})
	}
	return n, false
}
func (v *paramCounter) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// Execute runs a prepared statement with its arguments.
func (s *Session) Execute(ctx context.Context, id uint32, args []types.Datum, w ResultWriter) error {
	p, ok := s.prepared[id]
	if !ok {
		return sqlerr.New(1243, "HY000", "Unknown prepared statement handler (%d) given to EXECUTE", id)
	}
	if len(args) != p.params {
		return sqlerr.WrongArguments("EXECUTE")
	}
	s.paramOrder = p.order
	defer func() { s.paramOrder = nil }()
	return s.exec(ctx, p.stmt, args, w, false)
}

// ClosePrepared drops a prepared statement.
func (s *Session) ClosePrepared(id uint32) { delete(s.prepared, id) }

// FieldList returns the columns of a table of the current database whose
// names match the LIKE pattern wildcard ("" for all) — COM_FIELD_LIST.
func (s *Session) FieldList(ctx context.Context, table, wildcard string) ([]Column, error) {
	var out []Column
	err := s.readOnly(ctx, func(c *stmtCtx) error {
		t, err := c.table(s.db, table)
		if err != nil {
			return err
		}
		for _, col := range t.visibleColumns() {
			if wildcard == "" || pushdown.Like(strings.ToLower(col.Name), strings.ToLower(wildcard), '\\') {
				out = append(out, Column{Name: col.Name, OrgName: col.Name, Table: t.Name, OrgTable: t.Name, Database: t.DBName, Type: col.Type, NotNull: col.NotNull, AutoIncrement: col.AutoInc})
			}
		}
		return nil
	})
	return out, err
}

// snapshotFn runs fn in a snapshot transaction with opts.
func (s *Session) snapshotFn(ctx context.Context, opts txn.Options, fn func(c *stmtCtx) error) error {
	tx, err := s.e.cfg.Txn.Begin(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Commit(ctx)
	return fn(s.newCtx(ctx, tx, nil))
}

// readOnly runs fn in a snapshot transaction (or the open transaction).
func (s *Session) readOnly(ctx context.Context, fn func(c *stmtCtx) error) error {
	if s.tx != nil {
		return fn(s.newCtx(ctx, s.tx, nil))
	}
	return s.snapshotFn(ctx, txn.Options{ReadOnly: true}, fn)
}

func (s *Session) newCtx(ctx context.Context, tx *txn.Txn, params []types.Datum) *stmtCtx {
	c := &stmtCtx{ctx: ctx, s: s, tx: tx, params: params}
	c.eval = types.EvalContext{Now: time.Now().UTC(), Warn: c.warn}
	return c
}

// exec runs one statement with the session's transaction rules.
func (s *Session) exec(ctx context.Context, st ast.StmtNode, params []types.Datum, w ResultWriter, more bool) error {
	s.warnings = nil
	switch n := st.(type) {
	case *ast.BeginStmt:
		return s.begin(ctx, n, w, more)
	case *ast.CommitStmt:
		err := s.commit(ctx)
		if err != nil {
			return err
		}
		return w.Done(Result{More: more})
	case *ast.RollbackStmt:
		s.rollback(ctx)
		return w.Done(Result{More: more})
	case *ast.SetStmt:
		return s.set(ctx, n, params, w, more)
	case *ast.UseStmt:
		if err := s.UseDatabase(ctx, n.DBName); err != nil {
			return err
		}
		return w.Done(Result{More: more})
	case *ast.CreateDatabaseStmt, *ast.DropDatabaseStmt, *ast.CreateTableStmt, *ast.DropTableStmt,
		*ast.CreateIndexStmt, *ast.DropIndexStmt, *ast.AlterTableStmt, *ast.TruncateTableStmt:
		// DDL commits an open transaction first, as in MySQL.
		if err := s.commit(ctx); err != nil {
			return err
		}
		switch st.(type) {
		case *ast.CreateIndexStmt, *ast.DropIndexStmt, *ast.AlterTableStmt:
			// Online: several transactions (schemachange.go).
			return userError(s.schemaChange(ctx, st, w, more))
		case *ast.DropDatabaseStmt, *ast.DropTableStmt, *ast.TruncateTableStmt:
			if err := s.autocommitWrite(ctx, st, params, w, more); err != nil {
				return err
			}
			// The dropped data goes now, in small transactions; what
			// an interruption leaves, the next drop purges.
			if err := s.e.purgePending(ctx); err != nil {
				s.e.cfg.Logger.Warn("purging dropped table data (the next DROP or TRUNCATE resumes it)", "err", err.Error())
			}
			return nil
		}
		return s.autocommitWrite(ctx, st, params, w, more)
	case *ast.ExplainStmt:
		return s.explain(ctx, n, params, w, more)
	case *ast.ShowStmt:
		return s.show(ctx, n, w, more)
	case *ast.PrepareStmt, *ast.ExecuteStmt, *ast.DeallocateStmt:
		return sqlerr.NotSupported("SQL-level PREPARE/EXECUTE (use the protocol's prepared statements)")
	case *ast.SelectStmt, *ast.SetOprStmt:
		return s.query(ctx, st, params, w, more)
	case *ast.InsertStmt, *ast.UpdateStmt, *ast.DeleteStmt:
		if s.inTxn && s.txOpts.ReadOnly {
			return sqlerr.New(1792, "25006", "Cannot execute statement in a READ ONLY transaction.")
		}
		if s.inTxn || !s.autocommit {
			return s.inExplicit(ctx, st, params, w, more)
		}
		return s.autocommitWrite(ctx, st, params, w, more)
	case *ast.LockTablesStmt, *ast.UnlockTablesStmt:
		return w.Done(Result{More: more}) // transactions already isolate; accepted for dump tools
	case *ast.AnalyzeTableStmt, *ast.FlushStmt:
		return w.Done(Result{More: more})
	}
	return sqlerr.NotSupported(fmt.Sprintf("%T", st))
}

// begin opens an explicit transaction (committing an open one first).
func (s *Session) begin(ctx context.Context, n *ast.BeginStmt, w ResultWriter, more bool) error {
	if err := s.commit(ctx); err != nil {
		return err
	}
	s.inTxn, s.txOpts = true, txn.Options{ReadOnly: n.ReadOnly}
	if n.AsOf != nil {
		if !n.ReadOnly {
			return sqlerr.New(1105, "HY000", "AS OF TIMESTAMP needs START TRANSACTION READ ONLY")
		}
		ts, err := s.asOf(ctx, n.AsOf)
		if err != nil {
			s.inTxn = false
			return err
		}
		s.txOpts.ReadTimestamp = ts
	} else if n.ReadOnly {
		s.txOpts.MaxStaleness = s.staleness()
	}
	return w.Done(Result{More: more})
}

// staleness is the session's bounded staleness for read-only reads.
func (s *Session) staleness() time.Duration {
	d, _ := time.ParseDuration(s.vars["read_staleness"])
	return d
}

// asOf evaluates AS OF TIMESTAMP: a datetime (UTC) or a number of
// nanoseconds since the epoch (a commit timestamp).
func (s *Session) asOf(ctx context.Context, a *ast.AsOfClause) (int64, error) {
	c := s.newCtx(ctx, nil, nil)
	e, err := (&compiler{s: s, sc: c}).compile(&scope{}, a.TsExpr)
	if err != nil {
		return 0, err
	}
	d, err := e.eval(c, nil)
	if err != nil {
		return 0, err
	}
	switch d.Kind() {
	case types.KindInt, types.KindUint:
		v, _ := types.ToInt64(d)
		return v, nil
	case types.KindTime:
		return d.Time().UnixNano(), nil
	}
	t, err := types.Convert(d, types.T{Kind: types.DateTime, Scale: 6, Length: -1})
	if err != nil {
		return 0, sqlerr.New(1105, "HY000", "AS OF TIMESTAMP wants a datetime or a timestamp in nanoseconds, not %s", types.ToString(d))
	}
	return t.Time().UnixNano(), nil
}

// ensureTx begins the explicit transaction's KV transaction lazily.
func (s *Session) ensureTx(ctx context.Context) error {
	if s.tx != nil {
		return nil
	}
	tx, err := s.e.cfg.Txn.Begin(ctx, s.txOpts)
	if err != nil {
		return err
	}
	s.tx = tx
	return nil
}

func (s *Session) commit(ctx context.Context) error {
	tx := s.tx
	s.tx, s.inTxn, s.txSent, s.txOpts = nil, false, false, txn.Options{}
	if tx == nil {
		return nil
	}
	if _, err := tx.Commit(ctx); err != nil {
		return userError(err)
	}
	return nil
}

// userError maps transaction errors to what MySQL clients understand.
func userError(err error) error {
	var se *sqlerr.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.Is(err, txn.ErrRetryable):
		return sqlerr.Retryable(err.Error())
	case errors.Is(err, txn.ErrSnapshotTooOld):
		return sqlerr.New(9006, "HY000", "%s", strings.TrimPrefix(err.Error(), "txn: "))
	case errors.Is(err, txn.ErrTxnTooLarge):
		return sqlerr.New(8004, "HY000", "Transaction is too large: its writes would exceed %d bytes, and the statement wrote nothing. Commit in smaller transactions (e.g. INSERT in batches, UPDATE/DELETE ... LIMIT n in a loop).", txn.MaxTxnWriteBytes)
	case errors.Is(err, txn.ErrAmbiguous):
		return sqlerr.New(1105, "HY000", "The transaction's outcome is unknown (it may or may not have committed): %v. Check before retrying.", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return sqlerr.QueryInterrupted()
	}
	return sqlerr.Unknown(err.Error())
}

// query runs a SELECT. Autocommit reads are lock-free snapshot reads at
// TT.Now().latest (strictly serializable, never aborted) unless they lock
// (FOR UPDATE).
func (s *Session) query(ctx context.Context, st ast.StmtNode, params []types.Datum, w ResultWriter, more bool) error {
	sel, _ := st.(*ast.SelectStmt)
	locking := sel != nil && sel.LockInfo != nil && sel.LockInfo.LockType != ast.SelectLockNone
	var asOf *ast.AsOfClause
	if sel != nil && sel.From != nil {
		asOf = tableAsOf(sel.From.TableRefs)
	}
	if asOf != nil {
		if s.inTxn || !s.autocommit {
			return sqlerr.New(1105, "HY000", "SELECT ... AS OF TIMESTAMP cannot run inside a transaction")
		}
		ts, err := s.asOf(ctx, asOf)
		if err != nil {
			return err
		}
		return s.snapshot(ctx, txn.Options{ReadOnly: true, ReadTimestamp: ts}, st, params, w, more, true)
	}
	if s.inTxn || !s.autocommit {
		return s.inExplicit(ctx, st, params, w, more)
	}
	if !locking {
		return s.snapshot(ctx, txn.Options{ReadOnly: true, MaxStaleness: s.staleness()}, st, params, w, more, false)
	}
	return s.autocommitWrite(ctx, st, params, w, more)
}

func tableAsOf(n ast.ResultSetNode) *ast.AsOfClause {
	switch n := n.(type) {
	case *ast.Join:
		if a := tableAsOf(n.Left); a != nil {
			return a
		}
		if n.Right != nil {
			return tableAsOf(n.Right)
		}
	case *ast.TableSource:
		if t, ok := n.Source.(*ast.TableName); ok {
			return t.AsOf
		}
	}
	return nil
}

// snapshot runs a read-only statement in its own snapshot transaction,
// streaming rows.
func (s *Session) snapshot(ctx context.Context, opts txn.Options, st ast.StmtNode, params []types.Datum, w ResultWriter, more, asOf bool) error {
	tx, err := s.e.cfg.Txn.Begin(ctx, opts)
	if err != nil {
		return userError(err)
	}
	defer tx.Commit(ctx)
	c := s.newCtx(ctx, tx, params)
	c.asOf = asOf
	return userError(s.run(c, st, w, more))
}

// autocommitWrite runs a statement as its own read-write transaction,
// retrying retryable aborts: its result is held until the commit, so the
// client never sees an attempt that did not commit.
func (s *Session) autocommitWrite(ctx context.Context, st ast.StmtNode, params []types.Datum, w ResultWriter, more bool) error {
	var buf *bufferWriter
	_, err := s.e.cfg.Txn.RunTxn(ctx, txn.Options{}, func(ctx context.Context, tx *txn.Txn) error {
		buf = &bufferWriter{}
		c := s.newCtx(ctx, tx, params)
		err := s.run(c, st, buf, more)
		if err == nil {
			s.warnings = c.warnings
		}
		return lostLocks(ctx, tx, err)
	})
	if err != nil {
		return userError(err)
	}
	return buf.replay(w)
}

// lostLocks turns a statement's error into a retryable abort when the
// transaction lost a lock it read under: a transaction wounded at one
// group keeps reading at the others until it commits, and what it reads
// there may contradict what it read before (another transaction's new
// order line under the order number it read earlier), so an error such
// as a duplicate key is an artifact of the abort, not the application's
// to handle. Only failing statements pay for the check.
func lostLocks(ctx context.Context, tx *txn.Txn, err error) error {
	if err == nil || errors.Is(err, txn.ErrRetryable) || errors.Is(err, txn.ErrAmbiguous) || ctx.Err() != nil {
		return err
	}
	if cerr := tx.CheckLocks(ctx); errors.Is(cerr, txn.ErrRetryable) {
		return errors.Wrapf(cerr, "the statement failed (%v) after the transaction lost a lock", err)
	}
	return err
}

// inExplicit runs a statement in the open transaction. A retryable abort
// before any of the transaction's results reached the client restarts the
// transaction and the statement; later, the client gets error 1213.
func (s *Session) inExplicit(ctx context.Context, st ast.StmtNode, params []types.Datum, w ResultWriter, more bool) error {
	for {
		if err := s.ensureTx(ctx); err != nil {
			return userError(err)
		}
		bw := &limitedBuffer{w: w, max: 1 << 20}
		// A failing statement leaves none of its writes in the
		// transaction (MySQL rolls back the statement, not the
		// transaction).
		s.tx.Savepoint()
		err := lostLocks(ctx, s.tx, s.run(s.newCtx(ctx, s.tx, params), st, bw, more))
		if err != nil {
			s.tx.RollbackToSavepoint()
		}
		if err == nil {
			err = bw.flush()
			s.txSent = true
			return err
		}
		if bw.flushed {
			s.txSent = true
		}
		if !errors.Is(err, txn.ErrRetryable) || s.txSent || ctx.Err() != nil {
			if errors.Is(err, txn.ErrRetryable) {
				s.rollback(ctx) // the transaction is gone; say so
			}
			return userError(err)
		}
		old := s.tx
		old.Rollback(ctx)
		tx, rerr := s.e.cfg.Txn.Restart(ctx, old)
		if rerr != nil {
			s.rollback(ctx)
			return userError(rerr)
		}
		s.tx = tx
	}
}

// run dispatches a data statement within stmtCtx c.
func (s *Session) run(c *stmtCtx, st ast.StmtNode, w ResultWriter, more bool) error {
	switch n := st.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
		rs, _ := st.(ast.ResultSetNode)
		q, err := (&compiler{s: s, sc: c}).planQuery(rs, nil)
		if err != nil {
			return err
		}
		return s.stream(c, q, w, more)
	case *ast.InsertStmt:
		return s.insert(c, n, w, more)
	case *ast.UpdateStmt:
		return s.update(c, n, w, more)
	case *ast.DeleteStmt:
		return s.delete(c, n, w, more)
	default:
		return s.ddl(c, st, w, more)
	}
}

// stream sends a query's rows to w.
func (s *Session) stream(c *stmtCtx, q *query, w ResultWriter, more bool) error {
	if err := w.Columns(q.out); err != nil {
		return err
	}
	it, err := q.open(c)
	if err != nil {
		return err
	}
	defer it.close()
	var n uint64
	for {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		r, err := it.next(c)
		if err != nil {
			return err
		}
		if r == nil {
			break
		}
		n++
		if err := w.Row(r); err != nil {
			return err
		}
	}
	s.rowCount = -1
	return w.Done(Result{AffectedRows: n, Warnings: uint16(len(c.warnings)), More: more})
}

// bufferWriter holds a statement's whole result.
type bufferWriter struct {
	cols  []Column
	rows  [][]types.Datum
	res   Result
	isRow bool
}

func (b *bufferWriter) Columns(cols []Column) error { b.cols, b.isRow = cols, true; return nil }
func (b *bufferWriter) Row(vals []types.Datum) error {
	b.rows = append(b.rows, vals)
	return nil
}
func (b *bufferWriter) Done(r Result) error { b.res = r; return nil }

func (b *bufferWriter) replay(w ResultWriter) error {
	if b.isRow {
		if err := w.Columns(b.cols); err != nil {
			return err
		}
		for _, r := range b.rows {
			if err := w.Row(r); err != nil {
				return err
			}
		}
	}
	return w.Done(b.res)
}

// limitedBuffer holds a result until max bytes, then streams it (from
// then on a retry could change what the client saw).
type limitedBuffer struct {
	w       ResultWriter
	max     int
	size    int
	buf     bufferWriter
	flushed bool
	done    bool
}

func (b *limitedBuffer) Columns(cols []Column) error {
	return b.buf.Columns(cols)
}

func (b *limitedBuffer) Row(vals []types.Datum) error {
	if b.flushed {
		return b.w.Row(vals)
	}
	b.buf.rows = append(b.buf.rows, vals)
	b.size += rowSize(vals)
	if b.size > b.max {
		b.flushed = true
		if err := b.w.Columns(b.buf.cols); err != nil {
			return err
		}
		for _, r := range b.buf.rows {
			if err := b.w.Row(r); err != nil {
				return err
			}
		}
		b.buf.rows = nil
	}
	return nil
}

func (b *limitedBuffer) Done(r Result) error {
	b.buf.res, b.done = r, true
	if b.flushed {
		return b.w.Done(r)
	}
	return nil
}

func (b *limitedBuffer) flush() error {
	if b.flushed {
		return nil
	}
	b.flushed = true
	return b.buf.replay(b.w)
}

// set runs SET statements.
// A value that reads tables (a subquery) outside a transaction reads in a
// snapshot transaction, as a SELECT would.
func (s *Session) set(ctx context.Context, n *ast.SetStmt, params []types.Datum, w ResultWriter, more bool) error {
	var err error
	if hasSubquery(n) {
		err = s.readOnly(ctx, func(c *stmtCtx) error {
			c.params = params
			return s.assign(ctx, c, n)
		})
	} else {
		err = s.assign(ctx, s.newCtx(ctx, s.tx, params), n)
	}
	if err != nil {
		return userError(err)
	}
	return w.Done(Result{More: more})
}

// assign evaluates and assigns a SET statement's variables, left to right.
func (s *Session) assign(ctx context.Context, c *stmtCtx, n *ast.SetStmt) error {
	cp := &compiler{s: s, sc: c}
	for _, v := range n.Variables {
		name := strings.ToLower(v.Name)
		if v.Value == nil {
			continue
		}
		var d types.Datum
		if col, ok := v.Value.(*ast.ColumnNameExpr); ok && v.IsSystem {
			d = types.NewString(col.Name.Name.O) // SET autocommit = ON
		} else if _, ok := v.Value.(*ast.DefaultExpr); ok {
			d = types.Null()
		} else {
			e, err := cp.compile(&scope{}, v.Value)
			if err != nil {
				return err
			}
			if d, err = e.eval(c, nil); err != nil {
				return err
			}
		}
		d = d.Detach() // kept past the statement
		if !v.IsSystem {
			s.userVars[name] = d
			continue
		}
		if err := s.setSysVar(ctx, name, d); err != nil {
			return err
		}
	}
	return nil
}

// hasSubquery reports whether a node holds a subquery.
func hasSubquery(n ast.Node) bool {
	v := &subqueryFinder{}
	n.Accept(v)
	return v.found
}

type subqueryFinder struct{ found bool }

func (v *subqueryFinder) Enter(n ast.Node) (ast.Node, bool) {
	if _, ok := n.(*ast.SubqueryExpr); ok {
		v.found = true
	}
	return n, v.found
}
func (v *subqueryFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func (s *Session) setSysVar(ctx context.Context, name string, d types.Datum) error {
	val := types.ToString(d)
	switch name {
	case "autocommit":
		on := val == "1" || strings.EqualFold(val, "on") || strings.EqualFold(val, "true")
		if on && (s.inTxn || s.tx != nil) {
			if err := s.commit(ctx); err != nil {
				return err
			}
		}
		s.autocommit = on
		return nil
	case "txn_mode":
		switch strings.ToLower(val) {
		case "auto", "locking":
		case "optimistic":
			return sqlerr.NotSupported("the optimistic transaction path (txn_mode = 'optimistic'); 'locking' and 'auto' run two-phase locking")
		default:
			return sqlerr.New(1231, "42000", "Variable 'txn_mode' can't be set to the value of '%s' (want 'auto', 'locking' or 'optimistic')", val)
		}
	case "read_staleness":
		if val != "" && val != "0" {
			if dur, err := time.ParseDuration(val); err != nil || dur < 0 {
				return sqlerr.New(1231, "42000", "Variable 'read_staleness' can't be set to the value of '%s' (want a duration such as '10s', or '' for strong reads)", val)
			}
		}
	case "names", "character_set_client", "character_set_results", "character_set_connection", "collation_connection",
		"sql_mode", "time_zone", "transaction_isolation", "tx_isolation", "wait_timeout", "interactive_timeout",
		"net_write_timeout", "net_read_timeout", "sql_select_limit", "foreign_key_checks", "unique_checks",
		"sql_log_bin", "sql_quote_show_create", "sql_notes", "session_track_schema", "session_track_system_variables",
		"session_track_state_change", "max_execution_time", "innodb_lock_wait_timeout", "lock_wait_timeout",
		"transaction_read_only", "tx_read_only", "sql_auto_is_null", "group_concat_max_len", "character_set_database",
		"collation_database", "optimizer_switch", "sql_safe_updates", "big_tables", "max_allowed_packet":
		// Accepted: Meridian is always UTC, utf8mb4, serializable (no
		// weaker isolation is offered: a weaker request gets the stronger
		// level).
	default:
		if _, err := s.sysVar(name, false); err != nil {
			return err
		}
	}
	s.vars[name] = val
	return nil
}

// sysVar reads a system variable.
func (s *Session) sysVar(name string, global bool) (types.Datum, error) {
	if v, ok := s.vars[name]; ok && !global && name != "autocommit" {
		return types.NewString(v), nil
	}
	switch name {
	case "version":
		return types.NewString(s.e.cfg.Version), nil
	case "version_comment":
		return types.NewString("Meridian: geo-distributed, strictly serializable"), nil
	case "autocommit":
		return boolDatum(s.autocommit), nil
	case "transaction_isolation", "tx_isolation":
		return types.NewString("SERIALIZABLE"), nil
	case "transaction_read_only", "tx_read_only":
		return boolDatum(s.txOpts.ReadOnly && s.inTxn), nil
	case "max_allowed_packet":
		return types.NewInt(64 << 20), nil
	case "character_set_client", "character_set_connection", "character_set_results", "character_set_server", "character_set_database", "character_set_system":
		return types.NewString("utf8mb4"), nil
	case "collation_connection", "collation_server", "collation_database":
		return types.NewString("utf8mb4_bin"), nil
	case "time_zone":
		return types.NewString("+00:00"), nil
	case "system_time_zone":
		return types.NewString("UTC"), nil
	case "sql_mode":
		return types.NewString("STRICT_TRANS_TABLES,ONLY_FULL_GROUP_BY,NO_ENGINE_SUBSTITUTION"), nil
	case "lower_case_table_names":
		return types.NewInt(1), nil
	case "wait_timeout", "interactive_timeout":
		return types.NewInt(28800), nil
	case "net_write_timeout":
		return types.NewInt(60), nil
	case "net_read_timeout":
		return types.NewInt(30), nil
	case "license":
		return types.NewString("Apache-2.0"), nil
	case "init_connect", "read_staleness":
		return types.NewString(s.vars[name]), nil
	case "performance_schema", "have_ssl", "query_cache_size", "query_cache_type":
		return types.NewInt(0), nil
	case "sql_select_limit":
		return types.NewUint(1<<64 - 1), nil
	case "max_execution_time", "sql_safe_updates", "foreign_key_checks", "unique_checks", "sql_auto_is_null":
		return types.NewInt(0), nil
	case "port":
		return types.NewInt(3306), nil
	case "hostname":
		return types.NewString("meridian"), nil
	case "group_concat_max_len":
		return types.NewInt(1024), nil
	case "warning_count":
		return types.NewInt(int64(len(s.warnings))), nil
	case "session_track_gtids", "gtid_mode":
		return types.NewString("OFF"), nil
	case "txn_mode":
		return types.NewString("locking"), nil
	}
	return types.Datum{}, sqlerr.New(1193, "HY000", "Unknown system variable '%s'", name)
}
