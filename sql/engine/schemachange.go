package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Online schema changes: CREATE INDEX, DROP INDEX and ALTER TABLE run in
// several small transactions, so writes to the table go on while an index
// is built or deleted; none waits for more than one chunk.
//
//	1. describe   one transaction applies the statement to a copy of the
//	              descriptor, which checks it (every error that does not
//	              depend on the rows is raised here, before anything
//	              commits). If it builds no index, that copy commits and
//	              the statement is done but for steps 5 and 6. Otherwise
//	              only what the build needs commits: the new indexes
//	              write-only, and the statement's new columns hidden
//	              (ddl.go, addingMark). The columns and indexes it drops
//	              stay public.
//	2. backfill   for each chunk of primary-key rows (Config.
//	              BackfillChunkRows), one transaction reads the rows under
//	              lock and puts their entries in every index being built.
//	3. validate   a UNIQUE index being built: one snapshot scan of its
//	              entries looks for two with the same values.
//	4. finish     one transaction, unless a writer marked a duplicate in a
//	              built index (uniqueViolationKey), applies the rest of the
//	              statement to the descriptor of that moment: the dropped
//	              indexes become dropping, the dropped columns go, the new
//	              columns show under their names, the built indexes become
//	              public. So the statement's clauses all become visible at
//	              one commit.
//	5. purge      dropping indexes (the statement's, a failed build's, or
//	              ones an earlier statement left): their entries are
//	              deleted chunk by chunk, then one transaction removes them
//	              from the descriptor.
//	6. rewrite    after DROP COLUMN, or once hidden columns were removed,
//	              rows are re-encoded chunk by chunk so that the removed
//	              columns' bytes go.
//
// The statement returns after the last step. A duplicate found in steps 2
// to 4 fails it with error 1062. Before it returns that, or any other
// error that stopped it before step 4 committed, its new indexes are made
// dropping and purged, its hidden columns removed and the rows re-encoded:
// the table is as before the statement, as MySQL leaves it after a failed
// ALTER TABLE.
//
// Why the held-back clauses wait rather than being applied in step 1 and
// undone on failure: a dropped index is not maintained by writers, so
// bringing it back would need a rebuild, which for a UNIQUE one can fail
// in turn (writers made duplicates meanwhile); a dropped column's values
// are not written by writers any more, so they could not be brought back
// at all. Holding them back leaves nothing visible to undo: until step 4
// writers maintain the indexes being dropped and write the columns being
// dropped, and no statement sees the columns being added. Step 4 checks
// the held-back clauses again against the descriptor of its moment (which
// other schema changes may have changed meanwhile): one that no longer
// applies (its column or index dropped, its name taken) fails the
// statement as if it had run after the other.
//
// Why the new columns are hidden in step 1 rather than added in step 4:
// an index on one needs its values from the backfill's start, so that
// column must exist for writers from step 1. The statement's other new
// columns go with it: columns are kept in id order (rowenc decodes by
// ascending id) and get their ids when added, so one added in step 4
// would come after the hidden ones, out of the statement's order; and one
// whose id step 1 allocated but that step 4 added would read as NULL
// rather than its default in the rows writers wrote meanwhile (rowenc
// gives a row a column's default only if the column's id is above every
// id the row was written with). Hidden columns have a name no statement
// can use: SELECT * skips them, no statement names them, and writers fill
// them like every column; if the statement fails they are removed, and
// the values writers put in them with them (step 6).
//
// Why the built index holds exactly the table's rows (catalog.go explains
// why descriptor versions are totally ordered with the writers):
//
//   - Every writer that committed before step 1 did so before the backfill
//     began; its rows are read by the chunk that covers them. Every writer
//     that commits after step 1 read the write-only descriptor, so it
//     maintains the index: it deletes the old entry of a row it changes and
//     puts the new one.
//   - A chunk holds its rows' span locked from its read to its commit and
//     puts entries computed from what it read: it is serialized with every
//     writer of those rows. A writer ordered before the chunk left rows the
//     chunk reads; one ordered after it finds the chunk's entries and
//     maintains them. Entries are keys only (index values, then the primary
//     key), so writing one twice is harmless: chunks are idempotent and are
//     retried on retryable aborts.
//   - So once the last chunk commits, the entries are exactly the rows',
//     and writers keep them so; step 4 only flips the state, and snapshot
//     reads see the index public only at timestamps where it is complete.
//
// UNIQUE: writers do not enforce a write-only index (its constraint does
// not exist yet), but a writer's locking scan of the entry's prefix finds
// a duplicate it makes against an entry already there, and then it writes
// the marker that step 4 reads under lock. A duplicate pair still present
// at step 4 was either completed by a writer after the backfill ended
// (which then saw the other entry: marker) or present, unchanged, since
// the backfill ended: step 3's snapshot, taken after that, holds both
// entries next to each other.
//
// A node or session that dies mid-change leaves the descriptor at its last
// committed step: a write-only index is maintained by writers, unused by
// queries, and shown as write-only by SHOW INDEX and SHOW CREATE TABLE
// (an ALTER TABLE's hidden columns show only in the definition of a
// write-only index on one, and its held-back clauses have not happened);
// running the same statement again resumes it (the backfill is
// idempotent; ALTER TABLE takes its hidden columns over), and DROP INDEX
// removes it, and with it the hidden columns linked to it (dropOrphans).
// A dropping index, and a hidden column whose statement can no longer
// finish, are finished by any later schema change of the table.

// changePlan is what a schema change does after its first transaction.
type changePlan struct {
	db, table string
	tableID   uint32
	// build lists the write-only indexes the statement builds (new ones,
	// and ones an earlier statement left that it resumes).
	build []uint32
	// purge lists the dropping indexes whose entries go.
	purge []uint32
	// rewrite: columns were removed; rows are re-encoded.
	rewrite bool
	// What step 4 applies, when there is a build (ALTER TABLE): the
	// columns the statement adds (hidden until then), by id, with their
	// names; the columns and indexes it drops.
	addCols, dropCols, dropIdx []namedID
	// adds holds the lower-case names of the indexes an ALTER TABLE adds
	// (dropIndex's preferPublic).
	adds map[string]bool
	// dropColIfExists lists the columns an ALTER TABLE drops with DROP
	// COLUMN IF EXISTS.
	dropColIfExists []uint32
	// chunks counts the chunk transactions run (for the testing knob).
	chunks int
}

type namedID struct {
	id   uint32
	name string
	// ifExists: a DROP ... IF EXISTS, which step 4 does not fail when
	// another statement dropped the same meanwhile.
	ifExists bool
}

// errAbandoned marks a schema change stopped by the testing knob
// AfterSchemaChangeChunk: it cleans nothing up, as a crashed node.
var errAbandoned = errors.New("engine: schema change abandoned by a testing knob")

// cleanupTimeout bounds the clean-up after a failed build when the
// statement's own context is gone (a client that went away still gets its
// half-built index removed). What does not finish in it stays visible as
// a dropping index, which the next schema change of the table purges.
const cleanupTimeout = time.Minute

// maxAmbiguousRetries bounds how many times an idempotent step runs again
// after an ambiguous result (its leader changed while it committed).
const maxAmbiguousRetries = 5

// runIdempotent runs fn in a read-write transaction as RunTxn does, and
// runs it again after an ambiguous result when idempotent: fn's
// transaction must have the same effect whether or not the ambiguous
// attempt committed, so no one needs to know which it did.
func (s *Session) runIdempotent(ctx context.Context, idempotent bool, fn func(ctx context.Context, tx *txn.Txn) error) error {
	for attempt := 0; ; attempt++ {
		_, err := s.e.cfg.Txn.RunTxn(ctx, txn.Options{}, fn)
		if err == nil || !idempotent || !errors.Is(err, txn.ErrAmbiguous) || attempt == maxAmbiguousRetries || ctx.Err() != nil {
			return err
		}
	}
}

// idempotent reports whether running st's first transaction twice has
// the effect of running it once: CREATE INDEX (the second run finds the
// write-only index the first added and resumes it), DROP INDEX (it finds
// the index dropping), and ALTER TABLE made of named ADD INDEX clauses.
func idempotent(st ast.StmtNode) bool {
	switch n := st.(type) {
	case *ast.CreateIndexStmt, *ast.DropIndexStmt:
		return true
	case *ast.AlterTableStmt:
		for _, sp := range n.Specs {
			if sp.Tp != ast.AlterTableAddConstraint || sp.Constraint.Name == "" {
				return false
			}
			switch sp.Constraint.Tp {
			case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex, ast.ConstraintIndex, ast.ConstraintKey:
			default:
				return false
			}
		}
		return true
	}
	return false
}

// schemaChange runs CREATE INDEX, DROP INDEX or ALTER TABLE online.
func (s *Session) schemaChange(ctx context.Context, st ast.StmtNode, w ResultWriter, more bool) error {
	var p *changePlan
	var warnings []*sqlerr.Error
	err := s.runIdempotent(ctx, idempotent(st), func(ctx context.Context, tx *txn.Txn) error {
		c := s.newCtx(ctx, tx, nil)
		var err error
		p, err = s.describe(c, st)
		warnings = c.warnings
		return err
	})
	if err != nil {
		return err
	}
	s.warnings = warnings
	if err := s.build(ctx, p); err != nil {
		if errors.Is(err, errAbandoned) {
			return err
		}
		// Take the table back to before the statement, also if its client
		// went away.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if cerr := s.abandonBuild(cctx, p); cerr != nil {
			s.e.cfg.Logger.Warn("a failed schema change left its indexes write-only", "table", p.table, "err", cerr)
		} else if cerr := s.cleanUp(cctx, p); cerr != nil && !errors.Is(cerr, errAbandoned) {
			s.e.cfg.Logger.Warn("a failed schema change left its indexes dropping or its rows not re-encoded", "table", p.table, "err", cerr)
		}
		return err
	}
	if err := s.cleanUp(ctx, p); err != nil {
		return err
	}
	return w.Done(Result{More: more})
}

// cleanUp runs steps 5 and 6.
func (s *Session) cleanUp(ctx context.Context, p *changePlan) error {
	if err := s.purge(ctx, p); err != nil {
		return err
	}
	if p.rewrite {
		return s.rewriteRows(ctx, p)
	}
	return nil
}

// describe is step 1: it applies st to the table's descriptor in c's
// transaction and returns what remains to do.
func (s *Session) describe(c *stmtCtx, st ast.StmtNode) (*changePlan, error) {
	var tn *ast.TableName
	switch n := st.(type) {
	case *ast.CreateIndexStmt:
		tn = n.Table
	case *ast.DropIndexStmt:
		tn = n.Table
	case *ast.AlterTableStmt:
		tn = n.Table
	default:
		return nil, errors.AssertionFailedf("engine: %T is not a schema change", st)
	}
	t, err := c.table(s.dbOf(tn), tn.Name.O)
	if err != nil {
		return nil, err
	}
	before, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	p := &changePlan{db: t.DBName, table: t.Name, tableID: t.ID}
	// next is the table as the statement leaves it: its clauses apply in
	// order, each seeing what the earlier ones did, and raise here every
	// error that does not depend on the rows.
	next := t.clone()
	switch n := st.(type) {
	case *ast.CreateIndexStmt:
		ix, _, err := defineIndex(next, n.IndexName, n.KeyType == ast.IndexKeyTypeUnique, n.IndexPartSpecifications, IndexWriteOnly)
		switch {
		case err != nil && n.IfNotExists && sqlerr.Is(err, 1061):
		case err != nil:
			return nil, err
		default:
			p.build = []uint32{ix.ID}
		}
	case *ast.DropIndexStmt:
		if _, err := dropIndex(next, n.IndexName, n.IfExists, false); err != nil {
			return nil, err
		}
	case *ast.AlterTableStmt:
		p.adds = map[string]bool{}
		for _, sp := range n.Specs {
			if sp.Tp == ast.AlterTableAddConstraint && sp.Constraint != nil && sp.Constraint.Name != "" {
				p.adds[strings.ToLower(sp.Constraint.Name)] = true
			}
		}
		for _, sp := range n.Specs {
			if err := s.alter(c, next, sp, p); err != nil {
				return nil, err
			}
		}
	}
	// A clause may drop what an earlier one added (ADD INDEX i, DROP
	// INDEX i): build only what is still write-only.
	build := p.build[:0]
	for _, id := range p.build {
		if ix := next.indexByID(id); ix != nil && ix.State == IndexWriteOnly && !slices.Contains(build, id) {
			build = append(build, id)
		}
	}
	p.build = build
	p.diff(t, next)
	commit := next
	if len(p.build) == 0 {
		// Nothing the statement does depends on the rows: all of it
		// commits now, in this one transaction.
		p.rewrite = len(p.dropCols) > 0
		p.addCols, p.dropCols, p.dropIdx = nil, nil, nil
	} else {
		commit = p.hold(t, next)
	}
	if dropOrphans(commit) {
		p.rewrite = true
	}
	for _, ix := range commit.Indexes {
		if ix.State == IndexDropping {
			p.purge = append(p.purge, ix.ID)
		}
	}
	after, err := json.Marshal(commit)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(before, after) {
		if err := (catalog{c.tx}).putTable(commit); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// diff notes in p what the statement changes from t to next, for step 4:
// the columns it adds (new ones, and hidden ones an interrupted run of it
// left, which it takes over) and drops, and the indexes its DROP INDEX
// clauses drop (not ones a DROP COLUMN takes along: step 4 finds those
// again, with any index created on the column meanwhile).
func (p *changePlan) diff(t, next *TableDesc) {
	for _, col := range next.Columns {
		if col.Hidden {
			continue // _rowid, or another statement's column being added
		}
		if old := t.columnByID(col.ID); old != nil {
			if _, _, isAdding := adding(old); !isAdding {
				continue
			}
		}
		p.addCols = append(p.addCols, namedID{id: col.ID, name: col.Name})
	}
	for _, col := range t.Columns {
		if col.Hidden {
			continue
		}
		if next.columnByID(col.ID) == nil {
			p.dropCols = append(p.dropCols, namedID{col.ID, col.Name, slices.Contains(p.dropColIfExists, col.ID)})
		}
	}
	dropIdx := p.dropIdx[:0]
	for _, d := range p.dropIdx {
		if t.indexByID(d.id) != nil { // not one the statement added
			dropIdx = append(dropIdx, d)
		}
	}
	p.dropIdx = dropIdx
}

// hold returns what step 1 commits when the statement builds indexes: t
// with the new indexes, write-only, and the new columns, hidden and linked
// to the first index built (dropOrphans); the rest of next waits for step
// 4, as p describes it.
func (p *changePlan) hold(t, next *TableDesc) *TableDesc {
	link := p.build[0]
	for _, a := range p.addCols {
		if old := t.columnByID(a.id); old != nil {
			old.Name = addingName(a.name, link) // taken over: linked anew
			continue
		}
		col := *next.columnByID(a.id)
		col.Name, col.Hidden = addingName(a.name, link), true
		t.Columns = append(t.Columns, &col) // ids above every existing one
	}
	for _, ix := range next.Indexes {
		if slices.Contains(p.build, ix.ID) && t.indexByID(ix.ID) == nil {
			t.Indexes = append(t.Indexes, ix)
		}
	}
	t.NextColumnID, t.NextIndexID = next.NextColumnID, next.NextIndexID
	return t
}

// current reads the plan's table in c's transaction: the descriptor of
// this moment, which may have changed since step 1 (columns added by
// other statements, this index dropped).
func (p *changePlan) current(c *stmtCtx) (*TableDesc, error) {
	t, err := c.table(p.db, p.table)
	if err != nil {
		return nil, err
	}
	if t.ID != p.tableID {
		return nil, sqlerr.New(1105, "HY000", "Table '%s' was dropped while its schema was changing", p.table)
	}
	return t, nil
}

// chunk runs fn in one read-write transaction over the plan's current
// descriptor, retrying retryable aborts and ambiguous results (every
// chunk is idempotent), then calls the testing knob.
func (s *Session) chunk(ctx context.Context, p *changePlan, step string, fn func(c *stmtCtx, t *TableDesc) error) error {
	err := s.runIdempotent(ctx, true, func(ctx context.Context, tx *txn.Txn) error {
		c := s.newCtx(ctx, tx, nil)
		t, err := p.current(c)
		if err != nil {
			return err
		}
		return fn(c, t)
	})
	if err != nil {
		return err
	}
	p.chunks++
	return s.knob(step, p)
}

// knob calls the testing knob AfterSchemaChangeChunk.
func (s *Session) knob(step string, p *changePlan) error {
	if knob := s.e.cfg.TestingKnobs.AfterSchemaChangeChunk; knob != nil {
		if err := knob(step, p.chunks); err != nil {
			return errors.Mark(err, errAbandoned)
		}
	}
	return nil
}

// building returns the indexes of p.build in t, failing if another
// statement dropped one meanwhile (DROP INDEX, DROP COLUMN, or a
// concurrent build of the same index that failed).
func (p *changePlan) building(t *TableDesc) ([]*IndexDesc, error) {
	out := make([]*IndexDesc, 0, len(p.build))
	for _, id := range p.build {
		ix := t.indexByID(id)
		if ix == nil || ix.State == IndexDropping {
			return nil, sqlerr.New(1105, "HY000", "An index of table '%s' was dropped while CREATE INDEX was building it", t.Name)
		}
		out = append(out, ix)
	}
	return out, nil
}

// build runs steps 2 to 4 for the plan's new indexes.
func (s *Session) build(ctx context.Context, p *changePlan) error {
	if len(p.build) == 0 {
		return nil
	}
	if err := s.backfill(ctx, p); err != nil {
		return err
	}
	for _, id := range p.build {
		if err := s.validateUnique(ctx, p, id); err != nil {
			return err
		}
	}
	if err := s.knob("validate", p); err != nil {
		return err
	}
	return s.finish(ctx, p)
}

// backfill is step 2: chunk by chunk of primary-key rows, each chunk's
// entries in every index being built.
func (s *Session) backfill(ctx context.Context, p *changePlan) error {
	span := rowenc.IndexPrefix(p.tableID, rowenc.PrimaryIndexID)
	return s.forEachChunk(ctx, p, "backfill", span, func(c *stmtCtx, t *TableDesc) (func(txn.KeyValue) error, error) {
		ixs, err := p.building(t)
		if err != nil {
			return nil, err
		}
		descs := c.rowDescs(t)
		tw := &tableWriter{c: c, t: t}
		// Duplicates inside the chunk fail early; step 3 finds the others.
		seen := map[string]bool{}
		return func(r txn.KeyValue) error {
			row, err := rowenc.DecodeRow(r.Value, descs)
			if err != nil {
				return err
			}
			for _, ix := range ixs {
				if ix.Unique && !hasNull(row, t, ix.Columns) {
					vals := make([]types.Datum, len(ix.Columns))
					for i, id := range ix.Columns {
						vals[i] = row[t.colIndex(id)]
					}
					k := string(rowenc.EncodeIndexKey(t.ID, ix.ID, vals, nil))
					if seen[k] {
						return sqlerr.DuplicateEntry(tw.entryName(row, ix.Columns), t.Name+"."+ix.Name)
					}
					seen[k] = true
				}
				if err := c.tx.Put(indexEntryKey(t, ix, row), []byte{}); err != nil {
					return err
				}
			}
			return nil
		}, nil
	})
}

// forEachChunk runs a step over span chunk by chunk: each chunk is one
// transaction (see chunk) that reads up to BackfillChunkRows rows under
// lock and passes each to the function prepare returned for it; the next
// chunk resumes after the last key read. prepare sees the descriptor of
// the moment; it returns nil to end the step before reading (the work is
// gone: another statement finished it).
func (s *Session) forEachChunk(
	ctx context.Context, p *changePlan, step string, span []byte,
	prepare func(c *stmtCtx, t *TableDesc) (func(txn.KeyValue) error, error),
) error {
	start, end := span, rowenc.PrefixEnd(span)
	for start != nil {
		var resume []byte
		err := s.chunk(ctx, p, step, func(c *stmtCtx, t *TableDesc) error {
			each, err := prepare(c, t)
			if err != nil || each == nil {
				return err
			}
			rows, next, err := c.tx.ScanChunk(c.ctx, start, end, s.e.cfg.BackfillChunkRows, nil)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if err := each(r); err != nil {
					return err
				}
			}
			resume = next
			return nil
		})
		if err != nil {
			return err
		}
		start = resume
	}
	return nil
}

// validateUnique is step 3 for index id if it is UNIQUE: one snapshot of
// its entries, taken after the backfill's last commit, in which two
// neighbours with the same values (none NULL) are a duplicate.
func (s *Session) validateUnique(ctx context.Context, p *changePlan, id uint32) error {
	return s.snapshotFn(ctx, txn.Options{ReadOnly: true}, func(c *stmtCtx) error {
		t, err := p.current(c)
		if err != nil {
			return err
		}
		ix := t.indexByID(id)
		if ix == nil || !ix.Unique {
			return nil // a dropped one is reported by publish
		}
		colTypes := make([]types.T, len(ix.Columns))
		for i, cid := range ix.Columns {
			col := t.columnByID(cid)
			if col == nil {
				return nil // its column was dropped: so is the index
			}
			colTypes[i] = col.Type
		}
		span := rowenc.IndexPrefix(t.ID, ix.ID)
		start, end := span, rowenc.PrefixEnd(span)
		var prev []byte
		for start != nil {
			rows, next, err := c.tx.ScanChunk(c.ctx, start, end, scanChunk*4, nil)
			if err != nil {
				return err
			}
			for _, r := range rows {
				_, _, rest, err := rowenc.DecodeIndexKey(r.Key)
				if err != nil {
					return err
				}
				vals, tail, err := rowenc.DecodeKeyColumns(rest, colTypes, nil)
				if err != nil {
					return err
				}
				values := r.Key[:len(r.Key)-len(tail)]
				if anyNull(vals) {
					prev = nil
					continue
				}
				if prev != nil && bytes.Equal(prev, values) {
					parts := make([]string, len(vals))
					for i, v := range vals {
						parts[i] = v.String()
					}
					return sqlerr.DuplicateEntry(strings.Join(parts, "-"), t.Name+"."+ix.Name)
				}
				prev = values
			}
			start = next
		}
		return nil
	})
}

func anyNull(vals []types.Datum) bool {
	for _, v := range vals {
		if v.IsNull() {
			return true
		}
	}
	return false
}

// finish is step 4: in one transaction, unless a writer marked a
// duplicate in a built index, the held-back clauses apply and the built
// indexes become public (see the top of the file).
//
// It runs again after an ambiguous result, like every step; the run after
// one is lenient: what it finds done (a column gone, an index dropping, a
// column shown) is taken as done by the attempt that may have committed,
// where the first run fails the statement (another statement did it).
func (s *Session) finish(ctx context.Context, p *changePlan) error {
	lenient := false
	for attempt := 0; ; attempt++ {
		_, err := s.e.cfg.Txn.RunTxn(ctx, txn.Options{}, func(ctx context.Context, tx *txn.Txn) error {
			c := s.newCtx(ctx, tx, nil)
			t, err := p.current(c)
			if err != nil {
				return err
			}
			changed, err := p.apply(c, t, lenient)
			if err != nil || !changed {
				return err
			}
			return (catalog{tx}).putTable(t)
		})
		if err == nil || !errors.Is(err, txn.ErrAmbiguous) || attempt == maxAmbiguousRetries || ctx.Err() != nil {
			return err
		}
		lenient = true
	}
}

// apply is finish's transaction over t, the descriptor of the moment.
func (p *changePlan) apply(c *stmtCtx, t *TableDesc, lenient bool) (changed bool, err error) {
	ixs, err := p.building(t)
	if err != nil {
		return false, err
	}
	for _, ix := range ixs {
		if ix.State == IndexWriteOnly && ix.Unique {
			entry, dup, err := c.tx.Get(c.ctx, uniqueViolationKey(t.ID, ix.ID))
			if err != nil {
				return false, err
			}
			if dup {
				return false, sqlerr.DuplicateEntry(string(entry), t.Name+"."+ix.Name)
			}
		}
	}
	// Drops first: an ALTER may add what it drops under the same name.
	for _, d := range p.dropIdx {
		ix := t.indexByID(d.id)
		if ix == nil || ix.State == IndexDropping {
			if lenient || d.ifExists {
				continue
			}
			return false, sqlerr.CantDrop(d.name)
		}
		ix.State, changed = IndexDropping, true
	}
	for _, d := range p.dropCols {
		i := t.colIndex(d.id)
		if i < 0 {
			if lenient || d.ifExists {
				continue
			}
			return false, sqlerr.CantDrop(d.name)
		}
		for _, ix := range t.Indexes {
			if ix.State != IndexDropping && slices.Contains(ix.Columns, d.id) {
				ix.State = IndexDropping
			}
		}
		t.Columns = slices.Delete(t.Columns, i, i+1)
		changed, p.rewrite = true, true
	}
	if len(p.dropCols) > 0 && len(t.visibleColumns()) == 0 {
		return false, errDropAllColumns()
	}
	for _, a := range p.addCols {
		col := t.columnByID(a.id)
		if col == nil {
			return false, sqlerr.New(1105, "HY000", "Column '%s' of table '%s' was removed while ALTER TABLE was adding it", a.name, t.Name)
		}
		if _, _, isAdding := adding(col); !isAdding {
			if lenient && col.Name == a.name {
				continue
			}
			return false, sqlerr.DuplicateColumn(a.name) // another statement showed it first
		}
		if userColumn(t, a.name) != nil {
			return false, sqlerr.DuplicateColumn(a.name)
		}
		col.Name, col.Hidden, changed = a.name, false, true
	}
	for _, ix := range ixs {
		if ix.State == IndexPublic {
			continue // another session resumed and finished it
		}
		for _, x := range t.Indexes {
			if x != ix && x.State != IndexDropping && strings.EqualFold(x.Name, ix.Name) {
				return false, sqlerr.DuplicateKeyName(ix.Name)
			}
		}
		ix.State, changed = IndexPublic, true
	}
	if dropOrphans(t) {
		changed, p.rewrite = true, true
	}
	p.purge = p.purge[:0]
	for _, ix := range t.Indexes {
		if ix.State == IndexDropping {
			p.purge = append(p.purge, ix.ID)
		}
	}
	return changed, nil
}

// chunkless runs fn in one transaction over the plan's current descriptor
// and writes the descriptor back if fn changed it. Every fn is idempotent
// (it moves indexes to a state, or away once there), so an ambiguous
// result is retried.
func (s *Session) chunkless(ctx context.Context, p *changePlan, fn func(c *stmtCtx, t *TableDesc) (bool, error)) error {
	return s.runIdempotent(ctx, true, func(ctx context.Context, tx *txn.Txn) error {
		c := s.newCtx(ctx, tx, nil)
		t, err := p.current(c)
		if err != nil {
			return err
		}
		changed, err := fn(c, t)
		if err != nil || !changed {
			return err
		}
		return (catalog{tx}).putTable(t)
	})
}

// abandonBuild undoes a failed build: the statement's write-only indexes
// become dropping, its hidden columns go with them (dropOrphans), and
// purge and rewriteRows then delete their entries and values. One another
// statement already dropped, or finished, is left alone (purge skips an
// index that is not dropping). The columns and indexes the statement
// drops were never touched: step 4 did not commit.
func (s *Session) abandonBuild(ctx context.Context, p *changePlan) error {
	return s.chunkless(ctx, p, func(c *stmtCtx, t *TableDesc) (bool, error) {
		changed := false
		for _, id := range p.build {
			if ix := t.indexByID(id); ix != nil && ix.State == IndexWriteOnly {
				ix.State, changed = IndexDropping, true
			}
		}
		if dropOrphans(t) {
			changed, p.rewrite = true, true
		}
		for _, ix := range t.Indexes {
			if ix.State == IndexDropping && !slices.Contains(p.purge, ix.ID) {
				p.purge = append(p.purge, ix.ID)
			}
		}
		return changed, nil
	})
}

// purge is step 5: the entries of the plan's dropping indexes are deleted
// chunk by chunk (no statement reads or writes them any more), then the
// indexes and their duplicate markers go.
func (s *Session) purge(ctx context.Context, p *changePlan) error {
	if len(p.purge) == 0 {
		return nil
	}
	for _, id := range p.purge {
		span := rowenc.IndexPrefix(p.tableID, id)
		err := s.forEachChunk(ctx, p, "delete", span, func(c *stmtCtx, t *TableDesc) (func(txn.KeyValue) error, error) {
			if ix := t.indexByID(id); ix == nil || ix.State != IndexDropping {
				return nil, nil // another statement purged it
			}
			return func(r txn.KeyValue) error { return c.tx.Delete(r.Key) }, nil
		})
		if err != nil {
			return err
		}
	}
	return s.chunkless(ctx, p, func(c *stmtCtx, t *TableDesc) (bool, error) {
		changed := false
		kept := t.Indexes[:0]
		for _, ix := range t.Indexes {
			if ix.State == IndexDropping && slices.Contains(p.purge, ix.ID) {
				if err := c.tx.Delete(uniqueViolationKey(t.ID, ix.ID)); err != nil {
					return false, err
				}
				changed = true
				continue
			}
			kept = append(kept, ix)
		}
		t.Indexes = kept
		return changed, nil
	})
}

// rewriteRows is step 6 after DROP COLUMN, or after hidden columns were
// removed: each row is re-encoded with the current columns, so that the
// removed columns' bytes go (readers already skip them: this only
// reclaims space).
func (s *Session) rewriteRows(ctx context.Context, p *changePlan) error {
	span := rowenc.IndexPrefix(p.tableID, rowenc.PrimaryIndexID)
	return s.forEachChunk(ctx, p, "rewrite", span, func(c *stmtCtx, t *TableDesc) (func(txn.KeyValue) error, error) {
		descs, colIDs := c.rowDescs(t), t.colIDs()
		return func(r txn.KeyValue) error {
			row, err := rowenc.DecodeRow(r.Value, descs)
			if err != nil {
				return err
			}
			return c.tx.Put(r.Key, rowenc.EncodeRow(nil, colIDs, row))
		}, nil
	})
}
