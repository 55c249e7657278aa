package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"

	"github.com/meridiandb/meridian/sql/pushdown"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
)

// ddl runs the schema statements that need one transaction, inside the
// statement's read-write transaction: the descriptor writes commit
// atomically, and the locks they take order them with concurrent
// statements (which read the descriptors they use). CREATE/DROP INDEX and
// ALTER TABLE run online instead, in several transactions
// (schemachange.go).
func (s *Session) ddl(c *stmtCtx, st ast.StmtNode, w ResultWriter, more bool) error {
	// The statement edits descriptors it reads: neither it nor later
	// statements may use the transaction's copies.
	s.txTables, s.txTablesOf = nil, nil
	defer func() { s.txTables, s.txTablesOf = nil, nil }()
	cat := catalog{c.tx}
	ctx := c.ctx
	var affected uint64
	switch n := st.(type) {
	case *ast.CreateDatabaseStmt:
		if _, err := cat.database(ctx, n.Name.O); err == nil {
			if n.IfNotExists {
				break
			}
			return sqlerr.New(1007, "", "Can't create database '%s'; database exists", n.Name.O)
		}
		id, err := cat.newID(ctx)
		if err != nil {
			return err
		}
		if err := putJSON(c.tx, dbKey(n.Name.O), &DatabaseDesc{ID: id, Name: n.Name.O}); err != nil {
			return err
		}
		affected = 1
	case *ast.DropDatabaseStmt:
		d, err := cat.database(ctx, n.Name.O)
		if err != nil {
			if n.IfExists {
				break
			}
			return sqlerr.DatabaseNotExists(n.Name.O)
		}
		tables, err := cat.tables(ctx, d)
		if err != nil {
			return err
		}
		for _, t := range tables {
			if err := dropTableData(c, t); err != nil {
				return err
			}
		}
		if err := c.tx.Delete(dbKey(d.Name)); err != nil {
			return err
		}
		if strings.EqualFold(s.db, d.Name) {
			s.db = ""
		}
		affected = uint64(len(tables))
	case *ast.CreateTableStmt:
		return s.createTable(c, n, w, more)
	case *ast.DropTableStmt:
		for _, tn := range n.Tables {
			t, err := c.table(s.dbOf(tn), tn.Name.O)
			if err != nil {
				if n.IfExists && (sqlerr.Is(err, 1146) || sqlerr.Is(err, 1049)) {
					continue
				}
				if sqlerr.Is(err, 1146) {
					return sqlerr.UnknownTable(s.dbOf(tn) + "." + tn.Name.O)
				}
				return err
			}
			if err := dropTableData(c, t); err != nil {
				return err
			}
		}
	case *ast.TruncateTableStmt:
		// A new id gives the table new, empty keys (and resets its
		// AUTO_INCREMENT, as in MySQL); the old ones are purged.
		t, err := c.table(s.dbOf(n.Table), n.Table.Name.O)
		if err != nil {
			return err
		}
		id, err := cat.newID(ctx)
		if err != nil {
			return err
		}
		if err := schedulePurge(c, t); err != nil {
			return err
		}
		t.ID = id
		if err := cat.putTable(t); err != nil {
			return err
		}
	default:
		return sqlerr.NotSupported(fmt.Sprintf("%T", st))
	}
	return w.Done(Result{AffectedRows: affected, More: more})
}

func (s *Session) dbOf(tn *ast.TableName) string {
	if tn.Schema.O != "" {
		return tn.Schema.O
	}
	return s.db
}

// dropTableData drops t's descriptor; its data is purged after the
// statement commits (purge.go).
func dropTableData(c *stmtCtx, t *TableDesc) error {
	if err := schedulePurge(c, t); err != nil {
		return err
	}
	tableDescs.Delete(string(tableKey(t.DBID, t.Name)))
	return c.tx.Delete(tableKey(t.DBID, t.Name))
}

// columnDesc builds a column from its definition.
func (s *Session) columnDesc(c *stmtCtx, id uint32, def *ast.ColumnDef) (*ColumnDesc, bool, bool, error) {
	t, err := types.FromFieldType(def.Tp)
	if err != nil {
		return nil, false, false, err
	}
	col := &ColumnDesc{ID: id, Name: def.Name.Name.O, Type: t}
	if strings.Contains(col.Name, addingMark) {
		// Reserved for the hidden columns of an ALTER TABLE in progress.
		return nil, false, false, sqlerr.New(1166, "42000", "Incorrect column name '%s'", col.Name)
	}
	pk, unique := false, false
	for _, o := range def.Options {
		switch o.Tp {
		case ast.ColumnOptionPrimaryKey:
			pk = true
			col.NotNull = true
		case ast.ColumnOptionNotNull:
			col.NotNull = true
		case ast.ColumnOptionNull:
			col.NotNull = false
		case ast.ColumnOptionAutoIncrement:
			if !t.IsInteger() {
				return nil, false, false, sqlerr.New(1063, "42000", "Incorrect column specifier for column '%s'", col.Name)
			}
			col.AutoInc = true
		case ast.ColumnOptionUniqKey:
			unique = true
		case ast.ColumnOptionDefaultValue:
			var b strings.Builder
			restore(o.Expr, &b)
			col.Default, col.HasDefault = b.String(), true
			if v, ok := o.Expr.(ast.ValueExpr); ok && v.GetValue() == nil {
				col.HasDefault = false // DEFAULT NULL
			}
		case ast.ColumnOptionOnUpdate:
			col.OnUpdateNow = true
		case ast.ColumnOptionComment, ast.ColumnOptionCollate:
		default:
			return nil, false, false, sqlerr.NotSupported("column option in " + col.Name)
		}
	}
	if mysql.HasNotNullFlag(def.Tp.GetFlag()) {
		col.NotNull = true
	}
	if col.HasDefault {
		if _, err := s.defaultValue(c, nil, col); err != nil {
			return nil, false, false, sqlerr.New(1067, "42000", "Invalid default value for '%s'", col.Name)
		}
	}
	return col, pk, unique, nil
}

func (s *Session) createTable(c *stmtCtx, n *ast.CreateTableStmt, w ResultWriter, more bool) error {
	if n.ReferTable != nil || n.Select != nil {
		return sqlerr.NotSupported("CREATE TABLE ... LIKE / AS SELECT")
	}
	cat := catalog{c.tx}
	db := s.dbOf(n.Table)
	if db == "" {
		return errNoDatabase()
	}
	d, err := cat.database(c.ctx, db)
	if err != nil {
		return err
	}
	if _, err := c.table(db, n.Table.Name.O); err == nil {
		if n.IfNotExists {
			return w.Done(Result{More: more})
		}
		return sqlerr.TableExists(n.Table.Name.O)
	}
	id, err := cat.newID(c.ctx)
	if err != nil {
		return err
	}
	t := &TableDesc{ID: id, DBID: d.ID, DBName: d.Name, Name: n.Table.Name.O, NextColumnID: 1, NextIndexID: 2}
	var uniques []*ast.Constraint
	for _, def := range n.Cols {
		if t.column(def.Name.Name.O) != nil {
			return sqlerr.DuplicateColumn(def.Name.Name.O)
		}
		col, pk, unique, err := s.columnDesc(c, t.NextColumnID, def)
		if err != nil {
			return err
		}
		t.NextColumnID++
		t.Columns = append(t.Columns, col)
		if pk {
			if len(t.PK) > 0 {
				return sqlerr.New(1068, "42000", "Multiple primary key defined")
			}
			t.PK = []uint32{col.ID}
		}
		if unique {
			uniques = append(uniques, &ast.Constraint{Tp: ast.ConstraintUniq, Name: col.Name,
				Keys: []*ast.IndexPartSpecification{{Column: def.Name}}})
		}
	}
	for _, con := range n.Constraints {
		switch con.Tp {
		case ast.ConstraintPrimaryKey:
			if len(t.PK) > 0 {
				return sqlerr.New(1068, "42000", "Multiple primary key defined")
			}
			for _, k := range con.Keys {
				if k.Column == nil {
					return sqlerr.NotSupported("expression indexes")
				}
				col := t.column(k.Column.Name.O)
				if col == nil {
					return sqlerr.New(1072, "42000", "Key column '%s' doesn't exist in table", k.Column.Name.O)
				}
				col.NotNull = true
				t.PK = append(t.PK, col.ID)
			}
		case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex, ast.ConstraintIndex, ast.ConstraintKey:
			uniques = append(uniques, con)
		case ast.ConstraintForeignKey, ast.ConstraintCheck:
			// Accepted for compatibility with schema dumps; not enforced.
		default:
			return sqlerr.NotSupported("table constraint")
		}
	}
	if len(t.PK) == 0 {
		col := &ColumnDesc{ID: t.NextColumnID, Name: hiddenRowID, Type: types.T{Kind: types.BigInt, Unsigned: true, Length: -1}, NotNull: true, AutoInc: true, Hidden: true}
		t.NextColumnID++
		t.Columns = append(t.Columns, col)
		t.PK = []uint32{col.ID}
	}
	for _, con := range uniques {
		unique := con.Tp == ast.ConstraintUniq || con.Tp == ast.ConstraintUniqKey || con.Tp == ast.ConstraintUniqIndex
		// The table has no rows yet: its indexes are public at once.
		if _, _, err := defineIndex(t, con.Name, unique, con.Keys, IndexPublic); err != nil {
			return err
		}
	}
	if err := cat.putTable(t); err != nil {
		return err
	}
	return w.Done(Result{More: more})
}

// defineIndex adds a secondary index to t in state (write-only for an
// online CREATE INDEX, which then backfills it; public in CREATE TABLE),
// allocating its id. An existing write-only index of the same name and
// definition — one a crashed or failed CREATE INDEX left, or one another
// session is building — is returned instead (created false), so that
// running the CREATE INDEX again finishes it; not while a public index has
// the name too (an interrupted ALTER TABLE that redefines an index leaves
// the new definition write-only beside the old one: only that ALTER,
// which drops the old one, may finish it).
func defineIndex(t *TableDesc, name string, unique bool, parts []*ast.IndexPartSpecification, state IndexState) (ix *IndexDesc, created bool, err error) {
	ix = &IndexDesc{ID: t.NextIndexID, Name: name, Unique: unique, State: state}
	for _, p := range parts {
		if p.Column == nil {
			return nil, false, sqlerr.NotSupported("expression indexes")
		}
		col := userColumn(t, p.Column.Name.O)
		if col == nil {
			return nil, false, sqlerr.New(1072, "42000", "Key column '%s' doesn't exist in table", p.Column.Name.O)
		}
		ix.Columns = append(ix.Columns, col.ID)
		ix.Desc = append(ix.Desc, p.Desc)
	}
	if ix.Name == "" {
		ix.Name = t.columnByID(ix.Columns[0]).Name
		for i := 2; t.index(ix.Name) != nil; i++ {
			ix.Name = fmt.Sprintf("%s_%d", t.columnByID(ix.Columns[0]).Name, i)
		}
	}
	var resume *IndexDesc
	for _, old := range t.Indexes {
		if old.State == IndexDropping || !strings.EqualFold(old.Name, ix.Name) {
			continue
		}
		if resume == nil && old.State == IndexWriteOnly && state == IndexWriteOnly && old.sameDefinition(ix) {
			resume = old
			continue
		}
		return nil, false, sqlerr.DuplicateKeyName(ix.Name)
	}
	if resume != nil {
		return resume, false, nil
	}
	if strings.EqualFold(ix.Name, "PRIMARY") {
		return nil, false, sqlerr.DuplicateKeyName(ix.Name)
	}
	t.NextIndexID++
	t.Indexes = append(t.Indexes, ix)
	return ix, true, nil
}

// dropIndex makes the named index dropping: from the descriptor's commit
// on no statement reads or writes its entries, and the schema change
// deletes them, then the index (schemachange.go). It returns the index,
// or nil when there was nothing to drop. A name only a dropping index
// still has (a DROP INDEX that did not finish) is not an error: the
// schema change finishes that drop.
//
// Two indexes have one name only after an ALTER TABLE that redefines an
// index (DROP INDEX i, ADD INDEX i ...) stopped mid-build: the old one
// public, the new one write-only. DROP INDEX then drops the write-only
// one, which takes the table back to before that ALTER; preferPublic (an
// ALTER that adds an index of the name, as running that ALTER again
// does) drops the public one.
func dropIndex(t *TableDesc, name string, ifExists, preferPublic bool) (*IndexDesc, error) {
	var ix *IndexDesc
	for _, x := range t.Indexes {
		if x.State == IndexDropping || !strings.EqualFold(x.Name, name) {
			continue
		}
		if ix == nil || (x.State == IndexPublic) == preferPublic {
			ix = x
		}
	}
	if ix == nil {
		for _, x := range t.Indexes {
			if x.State == IndexDropping && strings.EqualFold(x.Name, name) {
				return nil, nil
			}
		}
		if ifExists {
			return nil, nil
		}
		return nil, sqlerr.CantDrop(name)
	}
	ix.State = IndexDropping
	return ix, nil
}

// Columns being added. An ALTER TABLE that adds columns and builds
// indexes adds its columns hidden first (schemachange.go), under a name
// no statement can use — the column's, then addingMark and the id of the
// first index the statement builds, which links the column to its
// statement — and shows them under their names only when the indexes are
// built. Until then SELECT * skips them, no statement can name them, and
// writers fill them as every column (DEFAULT on insert, carried on
// update), so that the entries of an index on one can be computed.
const addingMark = " (being added with index #"

func addingName(name string, indexID uint32) string {
	return name + addingMark + strconv.FormatUint(uint64(indexID), 10) + ")"
}

// adding returns, for a column being added, its name and the id of the
// index that links it to its statement.
func adding(col *ColumnDesc) (name string, indexID uint32, ok bool) {
	if !col.Hidden {
		return "", 0, false
	}
	i := strings.LastIndex(col.Name, addingMark)
	if i < 0 || !strings.HasSuffix(col.Name, ")") {
		return "", 0, false
	}
	id, err := strconv.ParseUint(col.Name[i+len(addingMark):len(col.Name)-1], 10, 32)
	if err != nil {
		return "", 0, false
	}
	return col.Name[:i], uint32(id), true
}

// userColumn returns the column named name that statements may use: not
// one being added.
func userColumn(t *TableDesc, name string) *ColumnDesc {
	for _, c := range t.Columns {
		if _, _, isAdding := adding(c); !isAdding && strings.EqualFold(c.Name, name) {
			return c
		}
	}
	return nil
}

// addingColumn returns a column being added under name with like's
// definition, or nil: the one an ALTER TABLE that stopped mid-build left,
// which running it again takes over (with the value it gave the existing
// rows, which the entries built so far were computed with).
func addingColumn(t *TableDesc, name string, like *ColumnDesc) *ColumnDesc {
	for _, c := range t.Columns {
		if n, _, ok := adding(c); ok && strings.EqualFold(n, name) && c.Type == like.Type && c.NotNull == like.NotNull &&
			c.HasDefault == like.HasDefault && c.Default == like.Default && c.AutoInc == like.AutoInc && c.OnUpdateNow == like.OnUpdateNow {
			return c
		}
	}
	return nil
}

// dropOrphans removes the columns being added whose statement can no
// longer finish: the index that links them is gone, dropping or public
// (the statement failed and its clean-up did not finish, or it stopped
// mid-build and its index was then dropped or finished by a CREATE
// INDEX). A running statement's link is write-only until its last
// transaction, which shows its columns. Rows may hold values of the
// removed columns: it reports whether any went, for the rows to be
// re-encoded.
func dropOrphans(t *TableDesc) bool {
	var kept []*ColumnDesc
	removed := false
	for _, c := range t.Columns {
		if _, link, ok := adding(c); ok {
			if ix := t.indexByID(link); ix == nil || ix.State != IndexWriteOnly {
				// Its other indexes (write-only: no statement but its
				// own can make them public) go with it.
				for _, x := range t.Indexes {
					if x.State != IndexDropping && slices.Contains(x.Columns, c.ID) {
						x.State = IndexDropping
					}
				}
				removed = true
				continue
			}
		}
		kept = append(kept, c)
	}
	t.Columns = kept
	return removed
}

// alter applies one ALTER TABLE clause to t — the statement's copy of the
// descriptor, from which describe (schemachange.go) works out what to
// commit when — noting in p what the schema change does afterwards.
func (s *Session) alter(c *stmtCtx, t *TableDesc, sp *ast.AlterTableSpec, p *changePlan) error {
	switch sp.Tp {
	case ast.AlterTableAddColumns:
		for _, def := range sp.NewColumns {
			if userColumn(t, def.Name.Name.O) != nil {
				if sp.IfNotExists {
					continue
				}
				return sqlerr.DuplicateColumn(def.Name.Name.O)
			}
			col, pk, unique, err := s.columnDesc(c, t.NextColumnID, def)
			if err != nil {
				return err
			}
			if pk || col.AutoInc {
				return sqlerr.NotSupported("adding a primary key or AUTO_INCREMENT column")
			}
			if col.NotNull && !col.HasDefault {
				// Existing rows would hold NULL: MySQL gives them the
				// type's zero value; we ask for an explicit default.
				return sqlerr.New(1138, "22004", "Invalid use of NULL value: a NOT NULL column added to a table needs a DEFAULT")
			}
			if old := addingColumn(t, col.Name, col); old != nil {
				// Take over the column an interrupted run of this ALTER
				// left (its id, and the value existing rows read).
				old.Name, old.Hidden = col.Name, false
				col = old
			} else {
				if col.HasDefault {
					// Existing rows are not rewritten: they read this value
					// (evaluated once, so CURRENT_TIMESTAMP is the ALTER's).
					d, err := s.defaultValue(c, t, col)
					if err != nil {
						return err
					}
					col.AddedValue = rowenc.EncodeValue(nil, d)
				}
				t.NextColumnID++
				t.Columns = append(t.Columns, col)
			}
			if unique {
				ix, _, err := defineIndex(t, col.Name, true, []*ast.IndexPartSpecification{{Column: def.Name}}, IndexWriteOnly)
				if err != nil {
					return err
				}
				p.build = append(p.build, ix.ID)
			}
		}
	case ast.AlterTableDropColumn:
		col := userColumn(t, sp.OldColumnName.Name.O)
		if col == nil {
			if sp.IfExists {
				return nil
			}
			return sqlerr.CantDrop(sp.OldColumnName.Name.O)
		}
		if slices.Contains(t.PK, col.ID) {
			return sqlerr.NotSupported("dropping a primary key column")
		}
		if sp.IfExists {
			p.dropColIfExists = append(p.dropColIfExists, col.ID)
		}
		for _, ix := range t.Indexes {
			if ix.State != IndexDropping && slices.Contains(ix.Columns, col.ID) {
				ix.State = IndexDropping
			}
		}
		// Rows keep the old bytes; readers skip the dropped id. The
		// schema change re-encodes them afterwards, chunk by chunk
		// (describe sees the column gone and plans it).
		i := t.colIndex(col.ID)
		t.Columns = append(t.Columns[:i], t.Columns[i+1:]...)
		if len(t.visibleColumns()) == 0 {
			return errDropAllColumns()
		}
	case ast.AlterTableAddConstraint:
		con := sp.Constraint
		switch con.Tp {
		case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex, ast.ConstraintIndex, ast.ConstraintKey:
			unique := con.Tp == ast.ConstraintUniq || con.Tp == ast.ConstraintUniqKey || con.Tp == ast.ConstraintUniqIndex
			ix, _, err := defineIndex(t, con.Name, unique, con.Keys, IndexWriteOnly)
			if err != nil {
				return err
			}
			p.build = append(p.build, ix.ID)
			return nil
		}
		return sqlerr.NotSupported("this ALTER TABLE ADD")
	case ast.AlterTableDropIndex:
		ix, err := dropIndex(t, sp.Name, sp.IfExists, p.adds[strings.ToLower(sp.Name)])
		if ix != nil {
			p.dropIdx = append(p.dropIdx, namedID{ix.ID, ix.Name, sp.IfExists})
		}
		return err
	case ast.AlterTableOption, ast.AlterTableEnableKeys, ast.AlterTableDisableKeys:
		// Table options and the DISABLE/ENABLE KEYS that dump tools wrap
		// around data: nothing to do (indexes are always maintained).
		return nil
	default:
		return sqlerr.NotSupported("this ALTER TABLE")
	}
	return nil
}

func errDropAllColumns() error {
	return sqlerr.New(1090, "42000", "You can't delete all columns with ALTER TABLE; use DROP TABLE instead")
}

// showCreateTable renders CREATE TABLE as MySQL's SHOW CREATE TABLE does.
func showCreateTable(t *TableDesc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE `%s` (\n", t.Name)
	var lines []string
	for _, c := range t.visibleColumns() {
		l := fmt.Sprintf("  `%s` %s", c.Name, c.Type.String())
		if c.NotNull {
			l += " NOT NULL"
		}
		if c.HasDefault {
			l += " DEFAULT " + c.Default
		} else if !c.NotNull && !c.AutoInc {
			l += " DEFAULT NULL"
		}
		if c.AutoInc {
			l += " AUTO_INCREMENT"
		}
		if c.OnUpdateNow {
			l += " ON UPDATE CURRENT_TIMESTAMP"
		}
		lines = append(lines, l)
	}
	if pk := t.columnByID(t.PK[0]); !pk.Hidden {
		var names []string
		for _, id := range t.PK {
			names = append(names, "`"+t.columnByID(id).Name+"`")
		}
		lines = append(lines, "  PRIMARY KEY ("+strings.Join(names, ",")+")")
	}
	// Indexes that are not public are not part of the table's definition
	// yet (or any more): they follow it as comments, with their state.
	var pending []string
	for _, ix := range t.Indexes {
		var names []string
		for _, id := range ix.Columns {
			names = append(names, "`"+t.columnName(id)+"`")
		}
		kind := "KEY"
		if ix.Unique {
			kind = "UNIQUE KEY"
		}
		def := fmt.Sprintf("%s `%s` (%s)", kind, ix.Name, strings.Join(names, ","))
		switch ix.State {
		case IndexPublic:
			lines = append(lines, "  "+def)
		case IndexWriteOnly:
			pending = append(pending, fmt.Sprintf("/* %s is write-only: a CREATE INDEX or ALTER TABLE is building it, or stopped before it finished (queries do not use it; run that statement again to finish it, or DROP INDEX it) */", def))
		default:
			pending = append(pending, fmt.Sprintf("/* %s is being dropped (queries do not use it; any later ALTER TABLE, CREATE or DROP INDEX on the table finishes the drop) */", def))
		}
	}
	b.WriteString(strings.Join(lines, ",\n"))
	b.WriteString("\n) ENGINE=Meridian DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	for _, p := range pending {
		b.WriteString("\n" + p)
	}
	return b.String()
}

// show runs SHOW statements and DESCRIBE.
func (s *Session) show(ctx context.Context, n *ast.ShowStmt, w ResultWriter, more bool) error {
	var cols []string
	var rows [][]types.Datum
	str := types.NewString
	err := s.readOnly(ctx, func(c *stmtCtx) error {
		cat := catalog{c.tx}
		switch n.Tp {
		case ast.ShowDatabases:
			cols = []string{"Database"}
			dbs, err := cat.databases(ctx)
			if err != nil {
				return err
			}
			names := []string{"information_schema"}
			for _, d := range dbs {
				names = append(names, d.Name)
			}
			sort.Strings(names)
			for _, nm := range names {
				if showLike(n, nm) {
					rows = append(rows, []types.Datum{str(nm)})
				}
			}
		case ast.ShowTables, ast.ShowTableStatus:
			db := n.DBName
			if db == "" {
				db = s.db
			}
			if db == "" {
				return errNoDatabase()
			}
			d, err := cat.database(ctx, db)
			if err != nil {
				return err
			}
			ts, err := cat.tables(ctx, d)
			if err != nil {
				return err
			}
			if n.Tp == ast.ShowTableStatus {
				cols = []string{"Name", "Engine", "Version", "Row_format", "Rows", "Collation", "Comment"}
				for _, t := range ts {
					rows = append(rows, []types.Datum{str(t.Name), str("Meridian"), types.NewInt(10), str("Dynamic"), types.NewInt(0), str("utf8mb4_bin"), str("")})
				}
				break
			}
			cols = []string{"Tables_in_" + d.Name}
			if n.Full {
				cols = append(cols, "Table_type")
			}
			for _, t := range ts {
				if !showLike(n, t.Name) {
					continue
				}
				r := []types.Datum{str(t.Name)}
				if n.Full {
					r = append(r, str("BASE TABLE"))
				}
				rows = append(rows, r)
			}
		case ast.ShowCreateTable:
			t, err := c.table(s.dbOf(n.Table), n.Table.Name.O)
			if err != nil {
				return err
			}
			cols = []string{"Table", "Create Table"}
			rows = append(rows, []types.Datum{str(t.Name), str(showCreateTable(t))})
		case ast.ShowCreateDatabase:
			d, err := cat.database(ctx, n.DBName)
			if err != nil {
				return err
			}
			cols = []string{"Database", "Create Database"}
			rows = append(rows, []types.Datum{str(d.Name), str("CREATE DATABASE `" + d.Name + "` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin */")})
		case ast.ShowColumns:
			t, err := c.table(s.dbOf(n.Table), n.Table.Name.O)
			if err != nil {
				return err
			}
			cols = []string{"Field", "Type", "Null", "Key", "Default", "Extra"}
			for _, col := range t.visibleColumns() {
				null, key, def, extra := "YES", "", types.Null(), ""
				if col.NotNull {
					null = "NO"
				}
				if slices.Contains(t.PK, col.ID) {
					key = "PRI"
				} else {
					for _, ix := range t.Indexes {
						if ix.State == IndexPublic && ix.Columns[0] == col.ID {
							key = "MUL"
							if ix.Unique && len(ix.Columns) == 1 {
								key = "UNI"
							}
							break
						}
					}
				}
				if col.HasDefault {
					def = str(strings.Trim(col.Default, "'"))
				}
				if col.AutoInc {
					extra = "auto_increment"
				}
				rows = append(rows, []types.Datum{str(col.Name), str(col.Type.String()), str(null), str(key), def, str(extra)})
			}
		case ast.ShowIndex:
			t, err := c.table(s.dbOf(n.Table), n.Table.Name.O)
			if err != nil {
				return err
			}
			// Comment carries an index's state when it is not public
			// (MySQL puts "disabled" there); Visible says whether queries
			// may use it.
			cols = []string{"Table", "Non_unique", "Key_name", "Seq_in_index", "Column_name", "Comment", "Visible"}
			if !t.columnByID(t.PK[0]).Hidden {
				for i, id := range t.PK {
					rows = append(rows, []types.Datum{str(t.Name), types.NewInt(0), str("PRIMARY"), types.NewInt(int64(i + 1)), str(t.columnByID(id).Name), str(""), str("YES")})
				}
			}
			for _, ix := range t.Indexes {
				nu := int64(1)
				if ix.Unique {
					nu = 0
				}
				comment, visible := "", "YES"
				if ix.State != IndexPublic {
					comment, visible = ix.State.String(), "NO"
				}
				for i, id := range ix.Columns {
					rows = append(rows, []types.Datum{str(t.Name), types.NewInt(nu), str(ix.Name), types.NewInt(int64(i + 1)), str(t.columnName(id)), str(comment), str(visible)})
				}
			}
		case ast.ShowVariables:
			cols = []string{"Variable_name", "Value"}
			names := []string{"autocommit", "character_set_client", "character_set_connection", "character_set_results", "character_set_server",
				"collation_connection", "collation_server", "lower_case_table_names", "max_allowed_packet", "read_staleness", "sql_mode",
				"system_time_zone", "time_zone", "transaction_isolation", "tx_isolation", "version", "version_comment", "wait_timeout"}
			for _, nm := range names {
				if !showLike(n, nm) {
					continue
				}
				d, err := s.sysVar(nm, n.GlobalScope)
				if err != nil {
					return err
				}
				rows = append(rows, []types.Datum{str(nm), str(d.String())})
			}
		case ast.ShowWarnings, ast.ShowErrors:
			cols = []string{"Level", "Code", "Message"}
			for _, e := range s.warnings {
				rows = append(rows, []types.Datum{str("Warning"), types.NewInt(int64(e.Code)), str(e.Msg)})
			}
		case ast.ShowStatus, ast.ShowEngines, ast.ShowCharset, ast.ShowCollation, ast.ShowProcessList, ast.ShowGrants, ast.ShowTriggers, ast.ShowProcedureStatus, ast.ShowFunctionStatus, ast.ShowEvents, ast.ShowPlugins:
			cols = []string{"Name", "Value"}
			switch n.Tp {
			case ast.ShowEngines:
				cols = []string{"Engine", "Support", "Comment", "Transactions", "XA", "Savepoints"}
				rows = append(rows, []types.Datum{str("Meridian"), str("DEFAULT"), str("Replicated, strictly serializable"), str("YES"), str("NO"), str("NO")})
			case ast.ShowCharset:
				cols = []string{"Charset", "Description", "Default collation", "Maxlen"}
				rows = append(rows, []types.Datum{str("utf8mb4"), str("UTF-8 Unicode"), str("utf8mb4_bin"), types.NewInt(4)})
			case ast.ShowCollation:
				cols = []string{"Collation", "Charset", "Id", "Default", "Compiled", "Sortlen"}
				rows = append(rows, []types.Datum{str("utf8mb4_bin"), str("utf8mb4"), types.NewInt(46), str("Yes"), str("Yes"), types.NewInt(1)})
			case ast.ShowGrants:
				cols = []string{"Grants for " + s.user + "@%"}
				rows = append(rows, []types.Datum{str("GRANT ALL PRIVILEGES ON *.* TO `" + s.user + "`@`%`")})
			}
		default:
			return sqlerr.NotSupported("this SHOW statement")
		}
		return nil
	})
	if err != nil {
		return userError(err)
	}
	out := make([]Column, len(cols))
	for i, nm := range cols {
		out[i] = Column{Name: nm, OrgName: nm, Type: tText}
		if len(rows) > 0 && rows[0][i].Kind() == types.KindInt {
			out[i].Type = tBigInt
		}
	}
	if err := w.Columns(out); err != nil {
		return err
	}
	for _, r := range rows {
		if err := w.Row(r); err != nil {
			return err
		}
	}
	return w.Done(Result{AffectedRows: uint64(len(rows)), More: more})
}

// explain prints a statement's plan: access paths, join methods, and the
// groups (ranges) its tables live in.
func (s *Session) explain(ctx context.Context, n *ast.ExplainStmt, params []types.Datum, w ResultWriter, more bool) error {
	var lines []string
	err := s.readOnly(ctx, func(c *stmtCtx) error {
		c.params = params
		cp := &compiler{s: s, sc: c}
		var root node
		var tables []*TableDesc
		switch st := n.Stmt.(type) {
		case *ast.SelectStmt, *ast.SetOprStmt:
			q, err := cp.planQuery(st.(ast.ResultSetNode), nil)
			if err != nil {
				return err
			}
			root, tables = q.root, q.tables
		case *ast.UpdateStmt:
			t, _, r, err := s.targetRows(c, st.TableRefs, st.Where, st.Order, st.Limit)
			if err != nil {
				return err
			}
			root, tables = r, []*TableDesc{t}
			lines = append(lines, "update "+t.Name)
		case *ast.DeleteStmt:
			t, _, r, err := s.targetRows(c, st.TableRefs, st.Where, st.Order, st.Limit)
			if err != nil {
				return err
			}
			root, tables = r, []*TableDesc{t}
			lines = append(lines, "delete from "+t.Name)
		case *ast.ShowStmt:
			n2 := *st
			return s.show(ctx, &n2, w, more)
		default:
			return sqlerr.NotSupported("EXPLAIN of this statement")
		}
		ind := ""
		if len(lines) > 0 {
			ind = "  "
		}
		root.explain(ind, &lines)
		for _, t := range tables {
			groups, err := s.e.groupsOf(c, t)
			if err != nil {
				return err
			}
			lines = append(lines, fmt.Sprintf("table %s: groups %s", t.Name, groups))
		}
		return nil
	})
	if err != nil {
		return userError(err)
	}
	if _, isShow := n.Stmt.(*ast.ShowStmt); isShow {
		return nil
	}
	if err := w.Columns([]Column{{Name: "plan", Type: tText}}); err != nil {
		return err
	}
	for _, l := range lines {
		if err := w.Row([]types.Datum{types.NewString(l)}); err != nil {
			return err
		}
	}
	return w.Done(Result{AffectedRows: uint64(len(lines)), More: more})
}

// groupsOf lists the groups holding t's data.
func (e *Engine) groupsOf(c *stmtCtx, t *TableDesc) (string, error) {
	p := rowenc.TablePrefix(t.ID)
	ids, err := e.cfg.Txn.Groups(c.ctx, p, rowenc.PrefixEnd(p))
	if err != nil {
		return "", err
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ","), nil
}

// showLike applies SHOW ... LIKE 'pattern' (case-insensitive, as MySQL
// matches names).
func showLike(n *ast.ShowStmt, name string) bool {
	if n.Pattern == nil {
		return true
	}
	v, ok := n.Pattern.Pattern.(ast.ValueExpr)
	if !ok {
		return true
	}
	return pushdown.Like(strings.ToLower(name), strings.ToLower(fmt.Sprint(v.GetValue())), '\\')
}
