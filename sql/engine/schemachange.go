package engine

import (
	"bytes"
	"context"
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
//	1. describe   one transaction applies the statement to the descriptor:
//	              new indexes are added write-only, dropped ones become
//	              dropping, columns are added or dropped. It commits.
//	2. backfill   for each chunk of primary-key rows (Config.
//	              BackfillChunkRows), one transaction reads the rows under
//	              lock and puts their entries in every index being built.
//	3. validate   a UNIQUE index being built: one snapshot scan of its
//	              entries looks for two with the same values.
//	4. publish    one transaction makes the built indexes public, unless a
//	              writer marked a duplicate in one (uniqueViolationKey).
//	5. purge      dropping indexes (the statement's, a failed build's, or
//	              ones an earlier statement left): their entries are
//	              deleted chunk by chunk, then one transaction removes them
//	              from the descriptor.
//	6. rewrite    after DROP COLUMN, rows are re-encoded chunk by chunk so
//	              that the dropped column's bytes go.
//
// The statement returns after the last step. A duplicate found in steps 2
// to 4 fails it with error 1062 after its new indexes were made dropping
// and purged: nothing half-built stays.
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
// queries, and shown as write-only by SHOW INDEX and SHOW CREATE TABLE;
// running the same CREATE INDEX again resumes it (the backfill is
// idempotent), and DROP INDEX removes it. A dropping index is finished by
// any later schema change of its table.
//
// Limits: the clauses of one ALTER TABLE other than new indexes commit in
// step 1; if building one of its indexes then fails, the new indexes are
// removed but those changes stay (an added column keeps whatever writers
// put in it meanwhile).

// changePlan is what a schema change does after its first transaction.
type changePlan struct {
	db, table string
	tableID   uint32
	// build lists the write-only indexes the statement builds (new ones,
	// and ones an earlier statement left that it resumes).
	build []uint32
	// purge lists the dropping indexes whose entries go.
	purge []uint32
	// rewrite: a column was dropped; rows are re-encoded.
	rewrite bool
	// chunks counts the chunk transactions run (for the testing knob).
	chunks int
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
		// Remove what the statement built, also if its client went away.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if cerr := s.abandonBuild(cctx, p); cerr != nil {
			s.e.cfg.Logger.Warn("a failed CREATE INDEX left its index write-only", "table", p.table, "err", cerr)
		} else if cerr := s.purge(cctx, p); cerr != nil && !errors.Is(cerr, errAbandoned) {
			s.e.cfg.Logger.Warn("a failed CREATE INDEX left its index dropping", "table", p.table, "err", cerr)
		}
		return err
	}
	if err := s.purge(ctx, p); err != nil {
		return err
	}
	if p.rewrite {
		if err := s.rewriteRows(ctx, p); err != nil {
			return err
		}
	}
	return w.Done(Result{More: more})
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
	p := &changePlan{db: t.DBName, table: t.Name, tableID: t.ID}
	changed := true
	switch n := st.(type) {
	case *ast.CreateIndexStmt:
		ix, created, err := defineIndex(t, n.IndexName, n.KeyType == ast.IndexKeyTypeUnique, n.IndexPartSpecifications, IndexWriteOnly)
		switch {
		case err != nil && n.IfNotExists && sqlerr.Is(err, 1061):
			changed = false
		case err != nil:
			return nil, err
		default:
			p.build, changed = []uint32{ix.ID}, created
		}
	case *ast.DropIndexStmt:
		before := countState(t, IndexDropping)
		if err := dropIndex(t, n.IndexName, n.IfExists); err != nil {
			return nil, err
		}
		changed = before != countState(t, IndexDropping)
	case *ast.AlterTableStmt:
		for _, sp := range n.Specs {
			if err := s.alter(c, t, sp, p); err != nil {
				return nil, err
			}
		}
	}
	// A clause may drop what an earlier one added (ADD INDEX i, DROP
	// INDEX i): build only what is still write-only.
	build := p.build[:0]
	for _, id := range p.build {
		if ix := t.indexByID(id); ix != nil && ix.State == IndexWriteOnly && !slices.Contains(build, id) {
			build = append(build, id)
		}
	}
	p.build = build
	for _, ix := range t.Indexes {
		if ix.State == IndexDropping {
			p.purge = append(p.purge, ix.ID)
		}
	}
	if changed {
		if err := (catalog{c.tx}).putTable(t); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func countState(t *TableDesc, st IndexState) int {
	n := 0
	for _, ix := range t.Indexes {
		if ix.State == st {
			n++
		}
	}
	return n
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
	return s.publish(ctx, p)
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

// publish is step 4: the built indexes become public in one transaction,
// unless a writer marked a duplicate in one of them.
func (s *Session) publish(ctx context.Context, p *changePlan) error {
	return s.chunkless(ctx, p, func(c *stmtCtx, t *TableDesc) (bool, error) {
		ixs, err := p.building(t)
		if err != nil {
			return false, err
		}
		changed := false
		for _, ix := range ixs {
			if ix.State == IndexPublic {
				continue // another session resumed and finished it
			}
			if ix.Unique {
				entry, dup, err := c.tx.Get(c.ctx, uniqueViolationKey(t.ID, ix.ID))
				if err != nil {
					return false, err
				}
				if dup {
					return false, sqlerr.DuplicateEntry(string(entry), t.Name+"."+ix.Name)
				}
			}
			ix.State, changed = IndexPublic, true
		}
		return changed, nil
	})
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
// become dropping, and purge then deletes them. One another statement
// already dropped, or finished, is left alone (purge skips an index that
// is not dropping).
func (s *Session) abandonBuild(ctx context.Context, p *changePlan) error {
	err := s.chunkless(ctx, p, func(c *stmtCtx, t *TableDesc) (bool, error) {
		changed := false
		for _, id := range p.build {
			if ix := t.indexByID(id); ix != nil && ix.State == IndexWriteOnly {
				ix.State, changed = IndexDropping, true
			}
		}
		return changed, nil
	})
	for _, id := range p.build {
		if !slices.Contains(p.purge, id) {
			p.purge = append(p.purge, id)
		}
	}
	return err
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

// rewriteRows is step 6 after DROP COLUMN: each row is re-encoded with
// the current columns, so that the dropped column's bytes go (readers
// already skip them: this only reclaims space).
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
