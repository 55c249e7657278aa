package engine

import (
	"context"
	"encoding/binary"

	"github.com/cockroachdb/errors"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/txn"
)

// ColumnsForTest returns the names of every column of db.table's
// descriptor, hidden ones (those of an ALTER TABLE in progress) included,
// the largest id among them, and the largest column id any stored row was
// written with (every row value's header records it): above the first, a
// row still holds a value of a column that is gone.
func ColumnsForTest(ctx context.Context, e *Engine, db, table string) (names []string, maxColumnID, maxRowColumnID uint32, err error) {
	s, err := e.NewSession(ctx, "root", "")
	if err != nil {
		return nil, 0, 0, err
	}
	err = s.snapshotFn(ctx, txn.Options{ReadOnly: true}, func(c *stmtCtx) error {
		names, maxColumnID, maxRowColumnID = nil, 0, 0
		t, err := c.table(db, table)
		if err != nil {
			return err
		}
		for _, col := range t.Columns {
			names = append(names, col.Name)
			maxColumnID = max(maxColumnID, col.ID)
		}
		pk := rowenc.IndexPrefix(t.ID, rowenc.PrimaryIndexID)
		kvs, err := c.tx.Scan(ctx, pk, rowenc.PrefixEnd(pk), 0)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if len(kv.Value) < 2 {
				return errors.Newf("row %x: short value", kv.Key)
			}
			id, n := binary.Uvarint(kv.Value[1:])
			if n <= 0 {
				return errors.Newf("row %x: bad header", kv.Key)
			}
			maxRowColumnID = max(maxRowColumnID, uint32(id))
		}
		return nil
	})
	return names, maxColumnID, maxRowColumnID, err
}
