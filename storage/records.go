package storage

import (
	"bytes"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// This file is the store side of the 2PC records of package txn: a raw
// key/value space under prefixPrepared (0x03). Storage does not interpret
// record keys beyond their prefix byte; txn owns the layout below it
// (txn/records.go: 0x03 <group u64 BE> <kind> ...), so that one group's
// records are one contiguous span that Raft snapshots export
// (Snapshot.ExportRecords) and replica removal clears
// (Batch.ClearRecords). The method sets match txn.Records and
// txn.Versions, so *Batch satisfies txn.Store without storage importing
// txn (asserted in txn/storage_test.go).

// ErrInvalidRecordKey marks a record key or bound outside the 2PC record
// keyspace (prefix 0x03).
var ErrInvalidRecordKey = errors.New("storage: key outside the 2PC record keyspace (prefix 0x03)")

// recordSpanEnd is the exclusive upper bound of the record keyspace.
var recordSpanEnd = []byte{prefixPrepared + 1}

// RecordReader reads 2PC records. Engine (latest committed state),
// Snapshot (a fixed point in time) and Batch (plus its own staged writes)
// implement it; code that only reads records outside the apply loop takes
// a RecordReader so that the compiler forbids writes.
type RecordReader interface {
	// GetRecord returns a copy of the value at the raw record key, or
	// ok=false if there is none. Errors are marked ErrInvalidRecordKey
	// for a key outside prefix 0x03.
	GetRecord(key []byte) (value []byte, ok bool, err error)

	// ScanRecords calls fn for each record with start <= key < end, in
	// key order, until fn returns false. end nil means the end of the
	// record keyspace. start must lie in the record keyspace and end in it
	// or be its exclusive bound (0x04), else the error is marked
	// ErrInvalidRecordKey. Slices passed to fn are only valid during the
	// call; fn must not write to the store it scans.
	ScanRecords(start, end []byte, fn func(key, value []byte) bool) error
}

var (
	_ RecordReader = (*Engine)(nil)
	_ RecordReader = (*Snapshot)(nil)
	_ RecordReader = (*Batch)(nil)
)

// checkRecordKey validates a key that is read or written.
func checkRecordKey(key []byte) error {
	if len(key) == 0 || key[0] != prefixPrepared {
		return errors.Mark(errors.Newf("storage: record key %x does not start with 0x%02x", key, prefixPrepared),
			ErrInvalidRecordKey)
	}
	return nil
}

// recordBounds validates the bounds [start, end) of a record scan or clear
// and resolves end == nil to the end of the record keyspace. empty reports
// a span with no keys (start >= end).
func recordBounds(start, end []byte) (lower, upper []byte, empty bool, err error) {
	if err := checkRecordKey(start); err != nil {
		return nil, nil, false, errors.Wrap(err, "storage: record span start")
	}
	if end == nil {
		end = recordSpanEnd
	} else if !bytes.Equal(end, recordSpanEnd) {
		if err := checkRecordKey(end); err != nil {
			return nil, nil, false, errors.Wrap(err, "storage: record span end")
		}
	}
	return start, end, bytes.Compare(start, end) >= 0, nil
}

func getRecord(r pebble.Reader, key []byte) ([]byte, bool, error) {
	if err := checkRecordKey(key); err != nil {
		return nil, false, err
	}
	return getCopy(r, key)
}

// scanRawRecords iterates over the raw records in [start, end), stopping at
// the first error from fn. It returns errStopScan unchanged.
func scanRawRecords(r pebble.Reader, start, end []byte, fn func(key, value []byte) error) error {
	lower, upper, empty, err := recordBounds(start, end)
	if err != nil || empty {
		return err
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return errors.Wrap(err, "storage: scanning records")
	}
	defer func() { _ = it.Close() }()
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Wrap(err, "storage: scanning records")
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return errors.Wrap(it.Error(), "storage: scanning records")
}

// errStopScan ends a ScanRecords early when fn returns false; never
// returned to callers.
var errStopScan = errors.New("storage: scan stopped")

func scanRecords(r pebble.Reader, start, end []byte, fn func(key, value []byte) bool) error {
	err := scanRawRecords(r, start, end, func(k, v []byte) error {
		if !fn(k, v) {
			return errStopScan
		}
		return nil
	})
	if errors.Is(err, errStopScan) {
		return nil
	}
	return err
}

// GetRecord implements RecordReader on the latest committed state.
func (e *Engine) GetRecord(key []byte) ([]byte, bool, error) {
	if err := e.checkUsable(); err != nil {
		return nil, false, err
	}
	return getRecord(e.db, key)
}

// ScanRecords implements RecordReader on the latest committed state.
func (e *Engine) ScanRecords(start, end []byte, fn func(key, value []byte) bool) error {
	if err := e.checkUsable(); err != nil {
		return err
	}
	return scanRecords(e.db, start, end, fn)
}

// GetRecord implements RecordReader at the snapshot.
func (s *Snapshot) GetRecord(key []byte) ([]byte, bool, error) {
	if err := s.e.checkUsable(); err != nil {
		return nil, false, err
	}
	return getRecord(s.s, key)
}

// ScanRecords implements RecordReader at the snapshot.
func (s *Snapshot) ScanRecords(start, end []byte, fn func(key, value []byte) bool) error {
	if err := s.e.checkUsable(); err != nil {
		return err
	}
	return scanRecords(s.s, start, end, fn)
}

// ExportRecords calls fn with every raw record in [start, end) (a group's
// txn.RecordSpan; bounds as for ScanRecords), in key order, for a Raft
// snapshot. The receiver applies them with Batch.ClearRecords then
// Batch.PutRawRecord. The slices are only valid during the call. An error
// from fn stops the export and is returned.
func (s *Snapshot) ExportRecords(start, end []byte, fn func(rawKey, rawValue []byte) error) error {
	if err := s.e.checkUsable(); err != nil {
		return err
	}
	return scanRawRecords(s.s, start, end, fn)
}

// GetRecord implements RecordReader (and txn.Records), seeing the batch's
// own writes.
func (b *Batch) GetRecord(key []byte) ([]byte, bool, error) {
	if err := b.e.checkUsable(); err != nil {
		return nil, false, err
	}
	return getRecord(b.b, key)
}

// ScanRecords implements RecordReader (and txn.Records), seeing the
// batch's own writes. fn must not write to the batch.
func (b *Batch) ScanRecords(start, end []byte, fn func(key, value []byte) bool) error {
	if err := b.e.checkUsable(); err != nil {
		return err
	}
	return scanRecords(b.b, start, end, fn)
}

// PutRecord stages key = value (both copied) in the record keyspace
// (txn.Records). Errors are marked ErrInvalidRecordKey for a key outside
// prefix 0x03.
func (b *Batch) PutRecord(key, value []byte) error {
	if err := b.checkWritable(); err != nil {
		return err
	}
	if err := checkRecordKey(key); err != nil {
		return err
	}
	return errors.Wrap(b.b.Set(key, value, nil), "storage: PutRecord")
}

// DeleteRecord stages the removal of key from the record keyspace
// (txn.Records); deleting an absent key is not an error.
func (b *Batch) DeleteRecord(key []byte) error {
	if err := b.checkWritable(); err != nil {
		return err
	}
	if err := checkRecordKey(key); err != nil {
		return err
	}
	return errors.Wrap(b.b.Delete(key, nil), "storage: DeleteRecord")
}

// ClearRecords stages the removal of every record in [start, end) (bounds
// as for ScanRecords) as one range deletion: before installing a Raft
// snapshot's records and when a replica is removed.
func (b *Batch) ClearRecords(start, end []byte) error {
	if err := b.checkWritable(); err != nil {
		return err
	}
	lower, upper, empty, err := recordBounds(start, end)
	if err != nil || empty {
		return err
	}
	return errors.Wrap(b.b.DeleteRange(lower, upper, nil), "storage: ClearRecords")
}

// PutRawRecord stages a record exported by Snapshot.ExportRecords
// verbatim. The key arrives from another node, so it is validated: it
// never writes outside the record keyspace.
func (b *Batch) PutRawRecord(rawKey, rawValue []byte) error {
	return b.PutRecord(rawKey, rawValue)
}

// PutVersion stages value as the version of the user key at ts
// (txn.Versions); it is MVCCPut.
func (b *Batch) PutVersion(key []byte, ts int64, value []byte) error {
	return b.MVCCPut(key, ts, value)
}

// DeleteVersion stages a tombstone version of the user key at ts
// (txn.Versions); it is MVCCDelete.
func (b *Batch) DeleteVersion(key []byte, ts int64) error {
	return b.MVCCDelete(key, ts)
}

// IsRecordKey reports whether a raw key (as exported by ExportSpan or
// ExportRecords) belongs to the 2PC record keyspace rather than to the
// MVCC versions, so that a receiver applies it with PutRawRecord.
func IsRecordKey(rawKey []byte) bool { return len(rawKey) > 0 && rawKey[0] == prefixPrepared }
