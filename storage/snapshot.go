package storage

import (
	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// Snapshot is a consistent point-in-time view of the whole store. It is a
// Reader and the source of Raft snapshot data (ExportSpan). It pins old
// versions in Pebble, so close it promptly. Safe for concurrent reads.
type Snapshot struct {
	e *Engine
	s *pebble.Snapshot
}

// NewSnapshot returns a view of the latest committed state.
func (e *Engine) NewSnapshot() *Snapshot {
	return &Snapshot{e: e, s: e.db.NewSnapshot()}
}

// Close releases the snapshot.
func (s *Snapshot) Close() error {
	return errors.Wrap(s.s.Close(), "storage: closing snapshot")
}

// MVCCGet implements Reader at the snapshot.
func (s *Snapshot) MVCCGet(key []byte, ts int64) ([]byte, int64, bool, error) {
	if err := s.e.checkUsable(); err != nil {
		return nil, 0, false, err
	}
	return mvccGet(s.s, key, ts)
}

// MVCCScan implements Reader at the snapshot.
func (s *Snapshot) MVCCScan(
	start, end []byte, ts int64, limit int, fn func(key, value []byte, valueTS int64) error,
) error {
	if err := s.e.checkUsable(); err != nil {
		return err
	}
	return mvccScan(s.s, start, end, ts, limit, fn)
}

// MVCCLatest implements Reader at the snapshot.
func (s *Snapshot) MVCCLatest(key []byte) (int64, error) {
	if err := s.e.checkUsable(); err != nil {
		return 0, err
	}
	return mvccLatest(s.s, key)
}

// ExportSpan calls fn with every raw MVCC record (all versions, tombstones
// included) of the user span [start, end) (end nil = to the end of the
// keyspace), in raw key order. The receiver applies them with
// Batch.ClearSpan then Batch.PutRaw. Chunking is the caller's business.
// The slices are only valid during the call. An error from fn stops the
// export and is returned.
func (s *Snapshot) ExportSpan(start, end []byte, fn func(rawKey, rawValue []byte) error) error {
	if err := s.e.checkUsable(); err != nil {
		return err
	}
	lower, upper := mvccSpanBounds(start, end)
	it, err := s.s.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return errors.Wrap(err, "storage: ExportSpan")
	}
	defer func() { _ = it.Close() }()
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Wrap(err, "storage: ExportSpan")
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return errors.Wrap(it.Error(), "storage: ExportSpan")
}
