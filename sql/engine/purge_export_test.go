package engine

import (
	"context"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/txn"
)

// TableIDForTest returns the id of db.table.
func TableIDForTest(ctx context.Context, e *Engine, db, table string) (uint32, error) {
	var id uint32
	_, err := e.cfg.Txn.RunTxn(ctx, txn.Options{ReadOnly: true}, func(ctx context.Context, tx *txn.Txn) error {
		t, err := catalog{tx}.table(ctx, db, table)
		if err == nil {
			id = t.ID
		}
		return err
	})
	return id, err
}

// StoredKeysForTest counts the keys stored under table id's data, and
// the pending purge records.
func StoredKeysForTest(ctx context.Context, e *Engine, id uint32) (data, purges int, err error) {
	_, err = e.cfg.Txn.RunTxn(ctx, txn.Options{ReadOnly: true}, func(ctx context.Context, tx *txn.Txn) error {
		p := rowenc.TablePrefix(id)
		rows, err := tx.Scan(ctx, p, rowenc.PrefixEnd(p), 0)
		if err != nil {
			return err
		}
		pp := []byte{rowenc.SQLPrefix, 's', 'P'}
		recs, err := tx.Scan(ctx, pp, rowenc.PrefixEnd(pp), 0)
		data, purges = len(rows), len(recs)
		return err
	})
	return data, purges, err
}
