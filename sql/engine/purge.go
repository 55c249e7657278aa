package engine

import (
	"context"
	"encoding/binary"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/txn"
)

// Dropped tables are purged after their DROP commits. DROP TABLE, DROP
// DATABASE and TRUNCATE TABLE change only the catalog in their own
// transaction — the descriptor goes (TRUNCATE gives the table a new id,
// hence new, empty keys) and a purge record names the old table id —
// so that dropping a table of any size stays a small transaction (a
// transaction's writes are bounded, txn.MaxTxnWriteBytes). The rows,
// index entries and duplicate markers under the old id are then deleted
// in chunk transactions, and the record last. Table ids are never
// reused, so nothing can read or write the old keys meanwhile. A purge
// interrupted by a crash is finished by the next DROP or TRUNCATE on any
// node, which purges every pending record first.
//
//	0xF5 's' 'P' <table id: 4 bytes> -> (empty): table data to purge

const purgeChunkKeys = 1000

func purgeKey(tableID uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{rowenc.SQLPrefix, 's', 'P'}, tableID)
}

// schedulePurge removes what the transaction can remove of table t at
// once and records the rest for purgePending.
func schedulePurge(c *stmtCtx, t *TableDesc) error {
	if err := c.tx.Delete(autoIncKey(t.ID)); err != nil {
		return err
	}
	c.s.e.autoMu.Lock()
	delete(c.s.e.autoInc, t.ID)
	c.s.e.autoMu.Unlock()
	return c.tx.Put(purgeKey(t.ID), nil)
}

// purgePending deletes the data of every table recorded for purging, in
// transactions of at most purgeChunkKeys deletions each.
func (e *Engine) purgePending(ctx context.Context) error {
	prefix := []byte{rowenc.SQLPrefix, 's', 'P'}
	var ids []uint32
	if _, err := e.cfg.Txn.RunTxn(ctx, txn.Options{ReadOnly: true}, func(ctx context.Context, tx *txn.Txn) error {
		rows, err := tx.Scan(ctx, prefix, rowenc.PrefixEnd(prefix), 0)
		ids = ids[:0]
		for _, r := range rows {
			if len(r.Key) == len(prefix)+4 {
				ids = append(ids, binary.BigEndian.Uint32(r.Key[len(prefix):]))
			}
		}
		return err
	}); err != nil {
		return err
	}
	for _, id := range ids {
		for _, span := range [][]byte{rowenc.TablePrefix(id), uniqueViolationsPrefix(id)} {
			if err := e.purgeSpan(ctx, span); err != nil {
				return err
			}
		}
		if err := e.runPurgeTxn(ctx, func(ctx context.Context, tx *txn.Txn) error {
			return tx.Delete(purgeKey(id))
		}); err != nil {
			return err
		}
	}
	return nil
}

// purgeSpan deletes every key under prefix, a chunk per transaction.
func (e *Engine) purgeSpan(ctx context.Context, prefix []byte) error {
	start, end := prefix, rowenc.PrefixEnd(prefix)
	for start != nil {
		var resume []byte
		if err := e.runPurgeTxn(ctx, func(ctx context.Context, tx *txn.Txn) error {
			rows, next, err := tx.ScanChunk(ctx, start, end, purgeChunkKeys, nil)
			if err != nil {
				return err
			}
			resume = next
			for _, r := range rows {
				if err := tx.Delete(r.Key); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		start = resume
	}
	return nil
}

// purgeAttempts bounds how often runPurgeTxn runs one transaction whose
// outcome stays unknown.
const purgeAttempts = 10

// runPurgeTxn runs one purge transaction. Purge transactions only delete,
// so one whose outcome is unknown (its group's leader changed as it
// committed) is run again rather than left for the next DROP or TRUNCATE:
// deleting what is already deleted changes nothing.
func (e *Engine) runPurgeTxn(ctx context.Context, fn func(context.Context, *txn.Txn) error) error {
	for attempt := 1; ; attempt++ {
		_, err := e.cfg.Txn.RunTxn(ctx, txn.Options{}, fn)
		if k := e.cfg.TestingKnobs.AfterPurgeTxn; k != nil && err == nil {
			err = k()
		}
		if err == nil || !txn.IsAmbiguous(err) || attempt == purgeAttempts || ctx.Err() != nil {
			return err
		}
	}
}
