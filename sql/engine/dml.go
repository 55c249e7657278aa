package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/cockroachdb/errors"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// autoBlock is a node's reserved range of AUTO_INCREMENT values for one
// table: [next, end). Nodes reserve blocks in their own small
// transactions, so inserts never contend on one counter key; values are
// unique and increasing per node, not gap-free (as in MySQL with
// concurrent inserts).
type autoBlock struct {
	next, end uint64
}

const autoBlockSize = 100

// nextAutoInc returns the next AUTO_INCREMENT value of t on this node.
func (e *Engine) nextAutoInc(ctx context.Context, t *TableDesc) (uint64, error) {
	e.autoMu.Lock()
	b := e.autoInc[t.ID]
	if b != nil && b.next < b.end {
		v := b.next
		b.next++
		e.autoMu.Unlock()
		return v, nil
	}
	e.autoMu.Unlock()
	var start uint64
	_, err := e.cfg.Txn.RunTxn(ctx, txn.Options{}, func(ctx context.Context, tx *txn.Txn) error {
		v, ok, err := tx.Get(ctx, autoIncKey(t.ID))
		if err != nil {
			return err
		}
		start = 1
		if ok && len(v) == 8 {
			start = binary.BigEndian.Uint64(v)
		}
		return tx.Put(autoIncKey(t.ID), binary.BigEndian.AppendUint64(nil, start+autoBlockSize))
	})
	if err != nil {
		return 0, err
	}
	e.autoMu.Lock()
	defer e.autoMu.Unlock()
	e.autoInc[t.ID] = &autoBlock{next: start + 1, end: start + autoBlockSize}
	return start, nil
}

// noteExplicitAutoInc moves the counter past an explicitly inserted value
// so that later generated values do not collide with it.
func (e *Engine) noteExplicitAutoInc(ctx context.Context, tx *txn.Txn, t *TableDesc, v uint64) error {
	b, ok, err := tx.Get(ctx, autoIncKey(t.ID))
	if err != nil {
		return err
	}
	cur := uint64(1)
	if ok && len(b) == 8 {
		cur = binary.BigEndian.Uint64(b)
	}
	if v >= cur {
		if err := tx.Put(autoIncKey(t.ID), binary.BigEndian.AppendUint64(nil, v+1)); err != nil {
			return err
		}
		e.autoMu.Lock()
		delete(e.autoInc, t.ID) // the cached block may be below v
		e.autoMu.Unlock()
	}
	return nil
}

// defaultValue evaluates a column's DEFAULT.
func (s *Session) defaultValue(c *stmtCtx, t *TableDesc, col *ColumnDesc) (types.Datum, error) {
	if !col.HasDefault {
		return types.Null(), nil
	}
	key := constDefaultKey{col.Default, col.Type}
	if d, ok := constDefaults.Load(key); ok {
		return d.(types.Datum), nil
	}
	n, err := defaultExpr(col.Default)
	if err != nil {
		return types.Datum{}, err
	}
	e, err := (&compiler{s: s, sc: c}).compile(&scope{}, n)
	if err != nil {
		return types.Datum{}, err
	}
	d, err := e.eval(c, nil)
	if err != nil {
		return types.Datum{}, err
	}
	d, err = types.ConvertColumn(d, col.Type, col.Name, 1)
	if _, ok := n.(*test_driver.ValueExpr); ok && err == nil {
		constDefaults.Store(key, d)
	}
	return d, err
}

// constDefaults caches the values of literal DEFAULTs (not
// CURRENT_TIMESTAMP, nor any other expression) by their text and column
// type. Every
// statement that decodes rows asks for its table's defaults
// (stmtCtx.rowDescs), and evaluating one compiles it afresh.
var constDefaults sync.Map // constDefaultKey -> types.Datum

type constDefaultKey struct {
	text string
	t    types.T
}

// tableWriter writes rows of one table with its indexes.
type tableWriter struct {
	c *stmtCtx
	t *TableDesc
}

func (w *tableWriter) pkKey(row []types.Datum) []byte {
	vals := make([]types.Datum, len(w.t.PK))
	for i, id := range w.t.PK {
		vals[i] = row[w.t.colIndex(id)]
	}
	return rowenc.EncodeIndexKey(w.t.ID, rowenc.PrimaryIndexID, vals, nil)
}

func (w *tableWriter) entryName(row []types.Datum, cols []uint32) string {
	parts := make([]string, len(cols))
	for i, id := range cols {
		parts[i] = row[w.t.colIndex(id)].String()
	}
	return strings.Join(parts, "-")
}

// maintains reports whether writers keep ix's entries: public and
// write-only indexes, not dropping ones. The testing knob
// SkipWriteOnlyIndexWrites breaks this on purpose.
func (w *tableWriter) maintains(ix *IndexDesc) bool {
	switch ix.State {
	case IndexPublic:
		return true
	case IndexWriteOnly:
		return !w.c.s.e.cfg.TestingKnobs.SkipWriteOnlyIndexWrites
	}
	return false
}

// put writes row (new) replacing old (nil for an insert) and maintains
// the indexes. Unique indexes are checked with a locking scan of the
// entry's prefix, so concurrent inserts of one value serialize. A
// duplicate in a write-only UNIQUE index is not this statement's error
// (the constraint does not exist yet): the row is written, and a marker
// makes the CREATE INDEX building the index fail.
func (w *tableWriter) put(old, row []types.Datum) error {
	t := w.t
	for _, ix := range t.Indexes {
		if !w.maintains(ix) {
			continue
		}
		newKey := indexEntryKey(t, ix, row)
		if old != nil {
			oldKey := indexEntryKey(t, ix, old)
			if string(oldKey) == string(newKey) {
				continue
			}
			if err := w.c.tx.Delete(oldKey); err != nil {
				return err
			}
		}
		if ix.Unique && !hasNull(row, t, ix.Columns) {
			vals := make([]types.Datum, len(ix.Columns))
			for i, id := range ix.Columns {
				vals[i] = row[t.colIndex(id)]
			}
			p := rowenc.EncodeIndexKey(t.ID, ix.ID, vals, nil)
			hits, _, err := w.c.tx.ScanChunk(w.c.ctx, p, rowenc.PrefixEnd(p), 1, nil)
			if err != nil {
				return err
			}
			if len(hits) > 0 {
				entry := w.entryName(row, ix.Columns)
				if ix.State != IndexPublic {
					if err := w.c.tx.Put(uniqueViolationKey(t.ID, ix.ID), []byte(entry)); err != nil {
						return err
					}
				} else {
					return sqlerr.DuplicateEntry(entry, t.Name+"."+ix.Name)
				}
			}
		}
		if err := w.c.tx.Put(newKey, []byte{}); err != nil {
			return err
		}
	}
	return w.c.tx.Put(w.pkKey(row), rowenc.EncodeRow(nil, t.colIDs(), row))
}

func (w *tableWriter) del(row []types.Datum) error {
	for _, ix := range w.t.Indexes {
		if !w.maintains(ix) {
			continue
		}
		if err := w.c.tx.Delete(indexEntryKey(w.t, ix, row)); err != nil {
			return err
		}
	}
	return w.c.tx.Delete(w.pkKey(row))
}

func hasNull(row []types.Datum, t *TableDesc, cols []uint32) bool {
	for _, id := range cols {
		if row[t.colIndex(id)].IsNull() {
			return true
		}
	}
	return false
}

// insert runs INSERT and REPLACE.
func (s *Session) insert(c *stmtCtx, n *ast.InsertStmt, w ResultWriter, more bool) error {
	tn, ok := tableNameOf(n.Table.TableRefs)
	if !ok {
		return sqlerr.NotSupported("INSERT into a join")
	}
	db := tn.Schema.O
	if db == "" {
		db = s.db
	}
	t, err := c.table(db, tn.Name.O)
	if err != nil {
		return err
	}
	cp := &compiler{s: s, sc: c}
	// Target columns.
	var targets []int
	if len(n.Columns) > 0 {
		for _, cn := range n.Columns {
			col := t.column(cn.Name.O)
			if col == nil {
				return sqlerr.UnknownColumn(cn.Name.O, "field list")
			}
			targets = append(targets, t.colIndex(col.ID))
		}
	} else {
		for i, col := range t.Columns {
			if !col.Hidden {
				targets = append(targets, i)
			}
		}
	}
	// Source rows: VALUES lists, SET, or a SELECT (materialized first, so
	// INSERT INTO t SELECT FROM t reads the old contents).
	var source [][]types.Datum
	var sourceDefault [][]bool
	empty := &scope{}
	lists := n.Lists
	for ri, l := range lists {
		if len(l) != len(targets) && !(len(l) == 0 && len(n.Columns) == 0) {
			return sqlerr.ColumnCountMismatch(ri + 1)
		}
		row := make([]types.Datum, len(targets))
		def := make([]bool, len(targets))
		if len(l) == 0 {
			for i := range def {
				def[i] = true
			}
		}
		for i, x := range l {
			if _, isDef := x.(*ast.DefaultExpr); isDef {
				def[i] = true
				continue
			}
			e, err := cp.compile(empty, x)
			if err != nil {
				return err
			}
			if row[i], err = e.eval(c, nil); err != nil {
				return err
			}
		}
		source = append(source, row)
		sourceDefault = append(sourceDefault, def)
	}
	if n.Select != nil {
		q, err := cp.planQuery(n.Select.(ast.ResultSetNode), nil)
		if err != nil {
			return err
		}
		if len(q.out) != len(targets) {
			return sqlerr.ColumnCountMismatch(1)
		}
		rows, err := materialize(c, q.root, "INSERT ... SELECT")
		if err != nil {
			return err
		}
		defer rows.close()
		held := 0
		for _, r := range rows.all(&err) {
			// The rows to insert are held until they are written. Past
			// eight times what a transaction may write (a row in memory
			// is at most ~5x its encoded write), their writes could not
			// commit: fail now, before they take the node's memory.
			if held += rowSize(r); held > 8*txn.MaxTxnWriteBytes {
				err = errors.Mark(errors.Newf("INSERT ... SELECT of more than %d bytes of rows", held), txn.ErrTxnTooLarge)
				break
			}
			source = append(source, r[:len(targets)])
			sourceDefault = append(sourceDefault, make([]bool, len(targets)))
		}
		if err != nil {
			return err
		}
	}
	// ON DUPLICATE KEY UPDATE: compiled over the table's row, with
	// VALUES(col) reading the row that was to be inserted.
	var dupCols []int
	var dupExprs []expr
	if len(n.OnDuplicate) > 0 {
		sc := tableScope(t, t.Name)
		c.insertValues = sc
		for _, a := range n.OnDuplicate {
			col := t.column(a.Column.Name.O)
			if col == nil {
				return sqlerr.UnknownColumn(a.Column.Name.O, "field list")
			}
			e, err := cp.compile(sc, a.Expr)
			if err != nil {
				return err
			}
			dupCols = append(dupCols, t.colIndex(col.ID))
			dupExprs = append(dupExprs, e)
		}
	}
	tw := &tableWriter{c: c, t: t}
	var affected uint64
	var firstAuto uint64
	rows := make([][]types.Datum, len(source))
	for ri, src := range source {
		row := make([]types.Datum, len(t.Columns))
		set := make([]bool, len(t.Columns))
		for i, pos := range targets {
			if !sourceDefault[ri][i] {
				row[pos], set[pos] = src[i], true
			}
		}
		for i, col := range t.Columns {
			if !set[i] {
				if col.AutoInc {
					row[i] = types.Null()
				} else if col.HasDefault {
					d, err := s.defaultValue(c, t, col)
					if err != nil {
						return err
					}
					row[i] = d
				} else if col.NotNull && !col.Hidden {
					if len(n.Columns) > 0 {
						return sqlerr.New(1364, "HY000", "Field '%s' doesn't have a default value", col.Name)
					}
					row[i] = types.Null()
				} else {
					row[i] = types.Null()
				}
			}
			if col.AutoInc && (row[i].IsNull() || (row[i].Kind() == types.KindInt && row[i].Int() == 0)) {
				v, err := s.e.nextAutoInc(c.ctx, t)
				if err != nil {
					return err
				}
				if firstAuto == 0 {
					firstAuto = v
				}
				row[i] = types.NewUint(v)
			}
			d, err := types.ConvertColumn(row[i], col.Type, col.Name, ri+1)
			if err != nil {
				return err
			}
			if d.IsNull() && col.NotNull {
				return sqlerr.ColumnCannotBeNull(col.Name)
			}
			row[i] = d
			if col.AutoInc && set[i] && !d.IsNull() {
				v, _ := types.ToUint64(d)
				if err := s.e.noteExplicitAutoInc(c.ctx, c.tx, t, v); err != nil {
					return err
				}
			}
		}
		rows[ri] = row
	}
	// Existence checks for all rows in one batched read (locking in a
	// read-write transaction), then the writes.
	keys := make([][]byte, len(rows))
	for i, r := range rows {
		keys[i] = tw.pkKey(r)
	}
	vals, found, err := c.tx.GetMany(c.ctx, keys)
	if err != nil {
		return err
	}
	written := map[string]int{}
	descs := c.rowDescs(t)
	for i, row := range rows {
		k := string(keys[i])
		var old []types.Datum
		if j, ok := written[k]; ok {
			old = rows[j]
		} else if found[i] {
			if old, err = rowenc.DecodeRow(vals[i], descs); err != nil {
				return err
			}
		}
		switch {
		case old == nil:
			if err := tw.put(nil, row); err != nil {
				return err
			}
			affected++
		case n.IsReplace:
			if err := tw.del(old); err != nil {
				return err
			}
			if err := tw.put(nil, row); err != nil {
				return err
			}
			affected += 2
		case len(dupExprs) > 0:
			c.insertRow = row
			upd, err := assign(c, t, old, dupCols, dupExprs, i+1, false)
			if err != nil {
				return err
			}
			if same(old, upd) {
				continue
			}
			if string(tw.pkKey(upd)) != k {
				return sqlerr.NotSupported("changing the primary key in ON DUPLICATE KEY UPDATE")
			}
			if err := tw.put(old, upd); err != nil {
				return err
			}
			row = upd
			affected += 2
		default:
			return sqlerr.DuplicateEntry(tw.entryName(row, t.PK), t.Name+".PRIMARY")
		}
		rows[i] = row
		written[k] = i
	}
	if firstAuto != 0 {
		s.lastInsertID = firstAuto
	}
	s.rowCount = int64(affected)
	info := ""
	if len(rows) > 1 {
		info = fmt.Sprintf("Records: %d  Duplicates: %d  Warnings: %d", len(rows), 0, len(c.warnings))
	}
	return w.Done(Result{AffectedRows: affected, LastInsertID: firstAuto, Warnings: uint16(len(c.warnings)), Info: info, More: more})
}

func same(a, b []types.Datum) bool {
	for i := range a {
		if a[i].IsNull() != b[i].IsNull() {
			return false
		}
		if a[i].IsNull() {
			continue
		}
		if k, err := types.Compare(a[i], b[i]); err != nil || k != 0 || a[i].Kind() != b[i].Kind() {
			return false
		}
	}
	return true
}

func tableNameOf(n ast.ResultSetNode) (*ast.TableName, bool) {
	switch n := n.(type) {
	case *ast.Join:
		if n.Right != nil {
			return nil, false
		}
		return tableNameOf(n.Left)
	case *ast.TableSource:
		t, ok := n.Source.(*ast.TableName)
		return t, ok
	}
	return nil, false
}

func tableScope(t *TableDesc, alias string) *scope {
	sc := &scope{}
	for _, col := range t.Columns {
		sc.cols = append(sc.cols, scopeCol{table: alias, name: col.Name, db: t.DBName, orgTable: t.Name, t: col.Type, desc: col, hidden: col.Hidden})
	}
	return sc
}

// targetRows plans the rows an UPDATE or DELETE of one table touches.
func (s *Session) targetRows(c *stmtCtx, refs *ast.TableRefsClause, where ast.ExprNode, order *ast.OrderByClause, limit *ast.Limit) (*TableDesc, *scope, node, error) {
	tn, ok := tableNameOf(refs.TableRefs)
	if !ok {
		return nil, nil, nil, sqlerr.NotSupported("multi-table UPDATE and DELETE")
	}
	db := tn.Schema.O
	if db == "" {
		db = s.db
	}
	t, err := c.table(db, tn.Name.O)
	if err != nil {
		return nil, nil, nil, err
	}
	alias := t.Name
	if ts, ok := refs.TableRefs.Left.(*ast.TableSource); ok && ts.AsName.O != "" {
		alias = ts.AsName.O
	}
	sc := tableScope(t, alias)
	cp := &compiler{s: s, sc: c}
	var conj []expr
	if where != nil {
		for _, x := range splitAnd(where) {
			e, err := cp.compile(sc, x)
			if err != nil {
				return nil, nil, nil, err
			}
			conj = append(conj, e)
		}
	}
	a := &tableAccess{t: t, alias: alias, forWrite: true}
	chooseAccess(a, conj)
	var root node = a
	if order != nil {
		var exprs []expr
		for i := range t.Columns {
			exprs = append(exprs, &colRef{i: i, t: t.Columns[i].Type})
		}
		var keys []int
		var desc []bool
		for _, it := range order.Items {
			e, err := cp.compile(sc, it.Expr)
			if err != nil {
				return nil, nil, nil, err
			}
			keys = append(keys, len(exprs))
			exprs = append(exprs, e)
			desc = append(desc, it.Desc)
		}
		root = &cutNode{in: &sortNode{in: &projectNode{in: root, exprs: exprs}, keys: keys, desc: desc}, n: len(t.Columns)}
	}
	if limit != nil {
		off, cnt, err := cp.limit(limit)
		if err != nil {
			return nil, nil, nil, err
		}
		root = &limitNode{in: root, offset: off, count: cnt}
	}
	return t, sc, root, nil
}

func (s *Session) update(c *stmtCtx, n *ast.UpdateStmt, w ResultWriter, more bool) error {
	t, sc, root, err := s.targetRows(c, n.TableRefs, n.Where, n.Order, n.Limit)
	if err != nil {
		return err
	}
	cp := &compiler{s: s, sc: c}
	var cols []int
	var exprs []expr
	for _, a := range n.List {
		col := t.column(a.Column.Name.O)
		if col == nil {
			return sqlerr.UnknownColumn(a.Column.Name.O, "field list")
		}
		e, err := cp.compile(sc, a.Expr)
		if err != nil {
			return err
		}
		cols = append(cols, t.colIndex(col.ID))
		exprs = append(exprs, e)
	}
	// Read every target row first (the statement sees the table as it was).
	rows, err := materialize(c, root, "UPDATE")
	if err != nil {
		return err
	}
	defer rows.close()
	tw := &tableWriter{c: c, t: t}
	var matched, changed uint64
	for ri, old := range rows.all(&err) {
		matched++
		upd, err := assign(c, t, old, cols, exprs, ri+1, true)
		if err != nil {
			return err
		}
		if same(old, upd) {
			continue
		}
		changed++
		if string(tw.pkKey(old)) != string(tw.pkKey(upd)) {
			// A new primary key: the row moves.
			if _, found, err := c.tx.Get(c.ctx, tw.pkKey(upd)); err != nil {
				return err
			} else if found {
				return sqlerr.DuplicateEntry(tw.entryName(upd, t.PK), t.Name+".PRIMARY")
			}
			if err := tw.del(old); err != nil {
				return err
			}
			if err := tw.put(nil, upd); err != nil {
				return err
			}
			continue
		}
		if err := tw.put(old, upd); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	s.rowCount = int64(changed)
	return w.Done(Result{AffectedRows: changed, Info: fmt.Sprintf("Rows matched: %d  Changed: %d  Warnings: %d", matched, changed, len(c.warnings)), Warnings: uint16(len(c.warnings)), More: more})
}

func (s *Session) delete(c *stmtCtx, n *ast.DeleteStmt, w ResultWriter, more bool) error {
	if n.IsMultiTable {
		return sqlerr.NotSupported("multi-table DELETE")
	}
	t, _, root, err := s.targetRows(c, n.TableRefs, n.Where, n.Order, n.Limit)
	if err != nil {
		return err
	}
	rows, err := materialize(c, root, "DELETE")
	if err != nil {
		return err
	}
	defer rows.close()
	tw := &tableWriter{c: c, t: t}
	for _, r := range rows.all(&err) {
		if err := tw.del(r); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	s.rowCount = rows.len()
	return w.Done(Result{AffectedRows: uint64(rows.len()), More: more})
}

// assign applies SET col = expr assignments to a copy of old, converting
// each value to its column (strict mode) and refusing NULL in NOT NULL
// columns. UPDATE evaluates left to right over the row being updated, as
// MySQL does (progressive); ON DUPLICATE KEY UPDATE over the old row.
func assign(c *stmtCtx, t *TableDesc, old []types.Datum, cols []int, exprs []expr, rowNum int, progressive bool) ([]types.Datum, error) {
	upd := append([]types.Datum{}, old...)
	for j, e := range exprs {
		src := old
		if progressive {
			src = upd
		}
		v, err := e.eval(c, src)
		if err != nil {
			return nil, err
		}
		col := t.Columns[cols[j]]
		if v, err = types.ConvertColumn(v, col.Type, col.Name, rowNum); err != nil {
			return nil, err
		}
		if v.IsNull() && col.NotNull {
			return nil, sqlerr.ColumnCannotBeNull(col.Name)
		}
		upd[cols[j]] = v
	}
	return upd, nil
}

// defaultExprs caches parsed DEFAULT expressions by their text: inserts
// and scans evaluate them per statement (NOW() must be the statement's),
// but need not parse them each time. Parsed ASTs are never mutated.
var defaultExprs sync.Map

func defaultExpr(text string) (ast.ExprNode, error) {
	if n, ok := defaultExprs.Load(text); ok {
		return n.(ast.ExprNode), nil
	}
	stmts, err := newParser().parse("SELECT " + text)
	if err != nil {
		return nil, err
	}
	n := stmts[0].(*ast.SelectStmt).Fields.Fields[0].Expr
	defaultExprs.Store(text, n)
	return n, nil
}
