package engine

import (
	"context"
	"sort"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// IndexCheck is what CheckIndexForTest saw of one secondary index, at one
// snapshot: the checker of the index consistency tests.
type IndexCheck struct {
	// Entries are the index's entries, read without the table (an
	// index-only scan): each entry's key columns (index columns, then the
	// primary key's others) as text, tab-separated, sorted.
	Entries []string
	// Rows are the entries the table's rows call for, from a full scan,
	// in the same form, sorted.
	Rows []string
	// Missing are the rows whose entry a point read of its key did not
	// find.
	Missing []string
	// State is the index's state.
	State string
}

// CheckIndexForTest reads index of db.table (public or write-only) three
// ways at one snapshot: an index-only scan, a full scan of the rows, and
// a point read per row of the entry it should have.
func CheckIndexForTest(ctx context.Context, e *Engine, db, table, index string) (*IndexCheck, error) {
	s, err := e.NewSession(ctx, "root", "")
	if err != nil {
		return nil, err
	}
	out := &IndexCheck{}
	err = s.snapshotFn(ctx, txn.Options{ReadOnly: true}, func(c *stmtCtx) error {
		t, err := c.table(db, table)
		if err != nil {
			return err
		}
		ix := t.index(index)
		if ix == nil {
			return errors.Newf("no index %s on %s", index, table)
		}
		out.State = ix.State.String()
		cols := indexKeyColumns(t, ix)
		colTypes := make([]types.T, len(cols))
		for i, id := range cols {
			colTypes[i] = t.columnByID(id).Type
		}
		text := func(key []byte) (string, error) {
			_, _, rest, err := rowenc.DecodeIndexKey(key)
			if err != nil {
				return "", err
			}
			vals, _, err := rowenc.DecodeKeyColumns(rest, colTypes, nil)
			if err != nil {
				return "", err
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = v.String()
				if v.IsNull() {
					parts[i] = "NULL"
				}
			}
			return strings.Join(parts, "\t"), nil
		}
		entries, err := c.tx.Scan(ctx, rowenc.IndexPrefix(t.ID, ix.ID), rowenc.PrefixEnd(rowenc.IndexPrefix(t.ID, ix.ID)), 0)
		if err != nil {
			return err
		}
		for _, kv := range entries {
			s, err := text(kv.Key)
			if err != nil {
				return err
			}
			out.Entries = append(out.Entries, s)
		}
		pk := rowenc.IndexPrefix(t.ID, rowenc.PrimaryIndexID)
		rows, err := c.tx.Scan(ctx, pk, rowenc.PrefixEnd(pk), 0)
		if err != nil {
			return err
		}
		descs := c.rowDescs(t)
		for _, kv := range rows {
			row, err := rowenc.DecodeRow(kv.Value, descs)
			if err != nil {
				return err
			}
			key := indexEntryKey(t, ix, row)
			s, err := text(key)
			if err != nil {
				return err
			}
			out.Rows = append(out.Rows, s)
			if _, found, err := c.tx.Get(ctx, key); err != nil {
				return err
			} else if !found {
				out.Missing = append(out.Missing, s)
			}
		}
		return nil
	})
	sort.Strings(out.Entries)
	sort.Strings(out.Rows)
	return out, err
}

// TableKeysForTest counts the stored keys of db.table by index id (1: the
// rows), and returns the ids of the indexes its descriptor lists.
func TableKeysForTest(ctx context.Context, e *Engine, db, table string) (keys map[uint32]int, listed []uint32, err error) {
	s, err := e.NewSession(ctx, "root", "")
	if err != nil {
		return nil, nil, err
	}
	keys = map[uint32]int{}
	err = s.snapshotFn(ctx, txn.Options{ReadOnly: true}, func(c *stmtCtx) error {
		t, err := c.table(db, table)
		if err != nil {
			return err
		}
		for _, ix := range t.Indexes {
			listed = append(listed, ix.ID)
		}
		kvs, err := c.tx.Scan(ctx, rowenc.TablePrefix(t.ID), rowenc.PrefixEnd(rowenc.TablePrefix(t.ID)), 0)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			_, id, _, err := rowenc.DecodeIndexKey(kv.Key)
			if err != nil {
				return err
			}
			keys[id]++
		}
		return nil
	})
	return keys, listed, err
}

// RowBytesForTest returns the stored row values of db.table, in key
// order: to see whether a statement rewrote them.
func RowBytesForTest(ctx context.Context, e *Engine, db, table string) ([]string, error) {
	s, err := e.NewSession(ctx, "root", "")
	if err != nil {
		return nil, err
	}
	var out []string
	err = s.snapshotFn(ctx, txn.Options{ReadOnly: true}, func(c *stmtCtx) error {
		t, err := c.table(db, table)
		if err != nil {
			return err
		}
		pk := rowenc.IndexPrefix(t.ID, rowenc.PrimaryIndexID)
		kvs, err := c.tx.Scan(ctx, pk, rowenc.PrefixEnd(pk), 0)
		for _, kv := range kvs {
			out = append(out, string(kv.Value))
		}
		return err
	})
	return out, err
}

// ConstDefaultCachedForTest reports whether the value of a DEFAULT whose
// text contains text is cached (for some column type).
func ConstDefaultCachedForTest(text string) bool {
	found := false
	constDefaults.Range(func(k, _ any) bool {
		found = found || strings.Contains(k.(constDefaultKey).text, text)
		return !found
	})
	return found
}
