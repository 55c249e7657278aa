package storage

import (
	"bytes"
	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// Reader reads the MVCC user keyspace. Engine (latest committed state),
// Batch (committed state plus its own staged writes) and Snapshot (a fixed
// point in time) implement it. Read-only code takes a Reader so that the
// compiler forbids writes.
type Reader interface {
	// MVCCGet returns the newest version of key with timestamp <= ts.
	// found is false if there is none or if the newest such version is a
	// tombstone; valueTS is then the tombstone's timestamp, or 0 if there
	// is no version at all. The returned value is owned by the caller.
	// Reads at ts <= 0 see nothing.
	MVCCGet(key []byte, ts int64) (value []byte, valueTS int64, found bool, err error)

	// MVCCScan calls fn, in key order, for each key in [start, end) (end
	// nil = to the end of the user keyspace) whose newest version <= ts is
	// not a tombstone, with that version. It stops after limit keys (0 = no
	// limit) or when fn returns an error, which MVCCScan returns. Slices
	// passed to fn are only valid during the call.
	MVCCScan(start, end []byte, ts int64, limit int,
		fn func(key, value []byte, valueTS int64) error) error

	// MVCCLatest returns the timestamp of the newest version of key,
	// tombstones included, or 0 if it has none. Writers use it to refuse
	// writes below an existing version.
	MVCCLatest(key []byte) (int64, error)
}

// Writer writes the MVCC user keyspace. Batch implements it; writes become
// visible to others only when the batch commits.
type Writer interface {
	// MVCCPut stages version ts of key with value. ts must be positive;
	// key and value are copied. Errors are marked ErrKeyTooLarge or
	// ErrValueTooLarge for oversized input.
	MVCCPut(key []byte, ts int64, value []byte) error

	// MVCCDelete stages a tombstone version of key at ts.
	MVCCDelete(key []byte, ts int64) error
}

// ReadWriter is both.
type ReadWriter interface {
	Reader
	Writer
}

var (
	_ Reader     = (*Engine)(nil)
	_ Reader     = (*Snapshot)(nil)
	_ ReadWriter = (*Batch)(nil)
)

// mvccGet and mvccLatest use prefix iteration: SeekPrefixGE confines the
// iterator to the versions of one user key (comparer.Split), so Pebble
// consults each sstable's bloom filter and skips the sstables that hold no
// version of the key instead of seeking in every level.
func mvccGet(r pebble.Reader, key []byte, ts int64) ([]byte, int64, bool, error) {
	if ts <= 0 {
		return nil, 0, false, nil
	}
	it, err := r.NewIter(nil)
	if err != nil {
		return nil, 0, false, errors.Wrap(err, "storage: MVCCGet")
	}
	defer func() { _ = it.Close() }()
	// Versions sort newest first, so the first key at or after (key, ts)
	// with key's prefix is the newest version <= ts: one seek (doc.go,
	// invariant 2).
	if !it.SeekPrefixGE(EncodeMVCCKey(key, ts)) {
		return nil, 0, false, errors.Wrap(it.Error(), "storage: MVCCGet")
	}
	_, vts, ok := splitRawMVCC(it.Key())
	if !ok {
		return nil, 0, false, errors.AssertionFailedf("storage: malformed MVCC key %x in store", it.Key())
	}
	raw, err := it.ValueAndErr()
	if err != nil {
		return nil, 0, false, errors.Wrap(err, "storage: MVCCGet")
	}
	v, tomb, err := decodeValue(raw)
	if err != nil {
		return nil, 0, false, err
	}
	if tomb {
		return nil, vts, false, nil
	}
	return append([]byte(nil), v...), vts, true, nil
}

func mvccLatest(r pebble.Reader, key []byte) (int64, error) {
	it, err := r.NewIter(nil)
	if err != nil {
		return 0, errors.Wrap(err, "storage: MVCCLatest")
	}
	defer func() { _ = it.Close() }()
	// The bare prefix sorts before every version of the key.
	if !it.SeekPrefixGE(mvccKeyPrefix(key)) {
		return 0, errors.Wrap(it.Error(), "storage: MVCCLatest")
	}
	_, vts, ok := splitRawMVCC(it.Key())
	if !ok {
		return 0, errors.AssertionFailedf("storage: malformed MVCC key %x in store", it.Key())
	}
	return vts, nil
}

// scanNextsBeforeSeek is how many older versions of a key a scan steps
// over before it seeks past the rest.
const scanNextsBeforeSeek = 2

func mvccScan(
	r pebble.Reader, start, end []byte, ts int64, limit int,
	fn func(key, value []byte, valueTS int64) error,
) error {
	if ts <= 0 {
		return nil
	}
	lower, upper := mvccSpanBounds(start, end)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return errors.Wrap(err, "storage: MVCCScan")
	}
	defer func() { _ = it.Close() }()
	var keyBuf, seekBuf []byte
	n := 0
	valid := it.First()
	for valid {
		prefix, vts, ok := splitRawMVCC(it.Key())
		if !ok {
			return errors.AssertionFailedf("storage: malformed MVCC key %x in store", it.Key())
		}
		if vts > ts {
			// Newer than the read: jump to the newest version <= ts.
			seekBuf = appendTS(append(seekBuf[:0], prefix...), ts)
			valid = it.SeekGE(seekBuf)
			continue
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return errors.Wrap(err, "storage: MVCCScan")
		}
		v, tomb, err := decodeValue(raw)
		if err != nil {
			return err
		}
		if !tomb {
			keyBuf = unescapeInto(keyBuf[:0], prefix)
			if err := fn(keyBuf, v, vts); err != nil {
				return err
			}
			n++
			if limit > 0 && n >= limit {
				return nil
			}
		}
		// Skip the older versions of this key. Most keys have one, so a
		// couple of Next calls usually land on the next key; past that,
		// NextPrefix skips the rest without a seek through every level
		// (sstable blocks mark where prefixes change; comparer.go gives
		// the successor it seeks to otherwise).
		seekBuf = append(seekBuf[:0], prefix...)
		valid = it.Next()
		for i := 0; valid && bytes.HasPrefix(it.Key(), seekBuf); i++ {
			if i == scanNextsBeforeSeek {
				valid = it.NextPrefix()
				break
			}
			valid = it.Next()
		}
	}
	return errors.Wrap(it.Error(), "storage: MVCCScan")
}

func checkPut(key []byte, ts int64, value []byte) error {
	if len(key) > MaxKeySize {
		return errors.Mark(errors.Newf("storage: key of %d bytes exceeds the limit of %d bytes (MaxKeySize)",
			len(key), MaxKeySize), ErrKeyTooLarge)
	}
	if len(value) > MaxValueSize {
		return errors.Mark(errors.Newf("storage: value of %d bytes exceeds the limit of %d bytes (MaxValueSize)",
			len(value), MaxValueSize), ErrValueTooLarge)
	}
	if ts <= 0 {
		return errors.Newf("storage: version timestamp %d is not positive", ts)
	}
	return nil
}

// MVCCGet implements Reader on the latest committed state.
func (e *Engine) MVCCGet(key []byte, ts int64) ([]byte, int64, bool, error) {
	if err := e.checkUsable(); err != nil {
		return nil, 0, false, err
	}
	if e.newest != nil && e.newest.covers(key) {
		return e.mvccGetNewest(key, ts)
	}
	return mvccGet(e.db, key, ts)
}

// MVCCScan implements Reader on the latest committed state.
func (e *Engine) MVCCScan(
	start, end []byte, ts int64, limit int, fn func(key, value []byte, valueTS int64) error,
) error {
	if err := e.checkUsable(); err != nil {
		return err
	}
	return mvccScan(e.db, start, end, ts, limit, fn)
}

// MVCCLatest implements Reader on the latest committed state.
func (e *Engine) MVCCLatest(key []byte) (int64, error) {
	if err := e.checkUsable(); err != nil {
		return 0, err
	}
	return mvccLatest(e.db, key)
}
