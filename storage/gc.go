package storage

import (
	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// gcChunkDeletes bounds the deletions committed in one GC batch, so that GC
// of a large span neither builds a huge batch nor holds one for long.
const gcChunkDeletes = 1024

// MVCCGC removes, in the user span [start, end) (end nil = to the end of the
// keyspace), every version shadowed by a newer version with timestamp <=
// threshold, and every tombstone that is the newest version <= threshold
// (nothing older survives). Reads at any ts >= threshold return the same
// value and found flag as before; for a removed tombstone MVCCGet then
// reports valueTS 0 instead of the tombstone's timestamp.
//
// The caller guarantees no write at a timestamp <= threshold happens in the
// span during or after GC (threshold is below the closed timestamp).
// Versions are deleted one by one, so concurrent writes above threshold are
// never lost. GC is idempotent and commits without fsync: a crash merely
// brings back garbage a later GC removes again.
func (e *Engine) MVCCGC(start, end []byte, threshold int64) (removed int, err error) {
	if err := e.checkUsable(); err != nil {
		return 0, err
	}
	snap := e.db.NewSnapshot()
	defer func() { _ = snap.Close() }()
	lower, upper := mvccSpanBounds(start, end)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, errors.Wrap(err, "storage: MVCCGC")
	}
	defer func() { _ = it.Close() }()

	b := e.NewBatch()
	defer func() { b.Close() }()
	pending := 0
	var curPrefix, keyBuf []byte
	seenVisible := false // a version <= threshold of curPrefix was seen
	for valid := it.First(); valid; valid = it.Next() {
		prefix, vts, ok := splitRawMVCC(it.Key())
		if !ok {
			return removed, errors.AssertionFailedf("storage: malformed MVCC key %x in store", it.Key())
		}
		if string(prefix) != string(curPrefix) {
			curPrefix = append(curPrefix[:0], prefix...)
			seenVisible = false
		}
		if vts > threshold {
			continue
		}
		drop := seenVisible
		if !seenVisible {
			seenVisible = true
			raw, err := it.ValueAndErr()
			if err != nil {
				return removed, errors.Wrap(err, "storage: MVCCGC")
			}
			_, tomb, err := decodeValue(raw)
			if err != nil {
				return removed, err
			}
			drop = tomb
			if tomb {
				// The newest version <= threshold, and maybe the newest:
				// a cached read must not keep reporting it.
				keyBuf = unescapeInto(keyBuf[:0], prefix)
				b.noteWrite(keyBuf, 0, nil, noteForget)
			}
		}
		if !drop {
			continue
		}
		if err := b.b.Delete(it.Key(), nil); err != nil {
			return removed, errors.Wrap(err, "storage: MVCCGC")
		}
		pending++
		if pending >= gcChunkDeletes {
			if err := b.Commit(false); err != nil {
				return removed, err
			}
			removed += pending
			pending = 0
			b.Close()
			b = e.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return removed, errors.Wrap(err, "storage: MVCCGC")
	}
	if pending > 0 {
		if err := b.Commit(false); err != nil {
			return removed, err
		}
		removed += pending
	}
	return removed, nil
}
