package storage

import (
	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// Batch is an indexed write batch. It reads its own staged writes on top of
// the latest committed state (Reader), stages MVCC writes (Writer), Raft
// state (through RaftStorage) and span operations, and commits them
// atomically. A Batch is not safe for concurrent use; distinct batches may
// commit concurrently.
type Batch struct {
	e        *Engine
	b        *pebble.Batch
	onCommit []func()
	// raft holds, per group, the Raft state this batch has staged but not
	// committed, so that several Raft operations in one batch compose (an
	// Append after a Compact in the same batch sees the staged truncation).
	raft map[uint64]*raftState
	// newest lists the writes this batch makes in the spans of the
	// engine's newest-version cache, for its commit to apply to the
	// cache; newestAll asks the commit to empty the cache instead
	// (newest.go).
	newest    notedWrites
	newestAll bool
	committed bool
	closed    bool
}

// NewBatch returns an empty indexed batch.
func (e *Engine) NewBatch() *Batch {
	return &Batch{e: e, b: e.db.NewIndexedBatch()}
}

// OnCommit registers fn to run after a successful Commit, in registration
// order, on the committing goroutine. RaftStorage uses it to update its
// caches only once the state they describe is durable.
func (b *Batch) OnCommit(fn func()) {
	b.onCommit = append(b.onCommit, fn)
}

// Empty reports whether the batch stages no writes.
func (b *Batch) Empty() bool { return b.b.Empty() }

// Len returns the size of the batch's encoding in bytes.
func (b *Batch) Len() int { return b.b.Len() }

// Commit atomically applies the batch. With sync, Commit returns only once
// the batch is in the WAL and fsynced; concurrent synced commits share one
// fsync (Pebble's commit pipeline groups them). On success the OnCommit
// callbacks run. On a disk write failure Commit returns an error marked
// ErrStoreFailed (and ErrDiskFull on ENOSPC), the batch was not
// acknowledged, and the engine refuses all further use. A batch commits at
// most once.
func (b *Batch) Commit(sync bool) (err error) {
	if b.closed || b.committed {
		return errors.AssertionFailedf("storage: commit of a closed or committed batch")
	}
	if err := b.e.checkUsable(); err != nil {
		return err
	}
	if b.e.opts.Unsafe.NoSync {
		sync = false
	}
	b.committed = true
	if err := b.commitPebble(sync); err != nil {
		return err
	}
	if b.newestAll {
		b.e.newest.invalidate()
	} else if len(b.newest.writes) > 0 {
		b.e.newest.apply(&b.newest)
	}
	b.e.metrics.commits.Add(1)
	if sync {
		b.e.metrics.syncedCommits.Add(1)
	}
	for _, fn := range b.onCommit {
		fn()
	}
	b.onCommit = nil
	return nil
}

// commitPebble commits through Pebble, which reports a failed WAL write or
// sync by calling Logger.Fatalf (our fatalLogger panics with pebbleFatal)
// or, for a WAL write failure detected while queueing the record, by
// panicking with the error. Both are turned into the fail-stop error.
func (b *Batch) commitPebble(sync bool) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		switch v := r.(type) {
		case pebbleFatal:
			err = b.e.fail(v.err)
		case error:
			err = b.e.fail(v)
		default:
			panic(r)
		}
	}()
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if cerr := b.b.Commit(opts); cerr != nil {
		if errors.Is(cerr, pebble.ErrClosed) {
			return errors.Mark(errors.Wrap(cerr, "storage: commit"), ErrClosed)
		}
		return b.e.fail(cerr)
	}
	return nil
}

// Close releases the batch. It is safe to call after Commit and more than
// once; callbacks of an uncommitted batch never run.
func (b *Batch) Close() {
	if b.closed {
		return
	}
	b.closed = true
	_ = b.b.Close()
}

// noteWrite notes a write for the newest-version cache.
func (b *Batch) noteWrite(key []byte, ts int64, value []byte, kind noteKind) {
	if b.newestAll || b.e.newest == nil || !b.e.newest.covers(key) {
		return
	}
	if len(b.newest.writes) == maxNotedWrites {
		b.newestAll, b.newest = true, notedWrites{}
		return
	}
	b.newest.add(key, ts, value, kind)
}

func (b *Batch) checkWritable() error {
	if b.closed || b.committed {
		return errors.AssertionFailedf("storage: write to a closed or committed batch")
	}
	return nil
}

// MVCCPut implements Writer.
func (b *Batch) MVCCPut(key []byte, ts int64, value []byte) error {
	if err := b.checkWritable(); err != nil {
		return err
	}
	if err := checkPut(key, ts, value); err != nil {
		return err
	}
	b.noteWrite(key, ts, value, notePut)
	return errors.Wrap(b.b.Set(EncodeMVCCKey(key, ts), encodeValue(value), nil), "storage: MVCCPut")
}

// MVCCDelete implements Writer.
func (b *Batch) MVCCDelete(key []byte, ts int64) error {
	if err := b.checkWritable(); err != nil {
		return err
	}
	if err := checkPut(key, ts, nil); err != nil {
		return err
	}
	b.noteWrite(key, ts, nil, noteTombstone)
	return errors.Wrap(b.b.Set(EncodeMVCCKey(key, ts), tombstoneValue, nil), "storage: MVCCDelete")
}

// MVCCGet implements Reader, seeing the batch's own writes.
func (b *Batch) MVCCGet(key []byte, ts int64) ([]byte, int64, bool, error) {
	if err := b.e.checkUsable(); err != nil {
		return nil, 0, false, err
	}
	return mvccGet(b.b, key, ts)
}

// MVCCScan implements Reader, seeing the batch's own writes.
func (b *Batch) MVCCScan(
	start, end []byte, ts int64, limit int, fn func(key, value []byte, valueTS int64) error,
) error {
	if err := b.e.checkUsable(); err != nil {
		return err
	}
	return mvccScan(b.b, start, end, ts, limit, fn)
}

// MVCCLatest implements Reader, seeing the batch's own writes.
func (b *Batch) MVCCLatest(key []byte) (int64, error) {
	if err := b.e.checkUsable(); err != nil {
		return 0, err
	}
	return mvccLatest(b.b, key)
}

// ClearSpan stages the deletion of every MVCC version of every key in the
// user span [start, end) (end nil = to the end of the keyspace), as one
// range deletion. Used before applying a Raft snapshot and when a replica
// is removed.
func (b *Batch) ClearSpan(start, end []byte) error {
	if err := b.checkWritable(); err != nil {
		return err
	}
	if b.e.newest != nil && b.e.newest.overlaps(start, end) {
		b.newestAll, b.newest = true, notedWrites{}
	}
	lower, upper := mvccSpanBounds(start, end)
	return errors.Wrap(b.b.DeleteRange(lower, upper, nil), "storage: ClearSpan")
}

// PutRaw stages an MVCC record exported by Snapshot.ExportSpan verbatim. It
// validates that the key is a well-formed MVCC key and the value a
// well-formed MVCC value, since both arrive from another node; it never
// writes outside the MVCC keyspace.
func (b *Batch) PutRaw(rawKey, rawValue []byte) error {
	if err := b.checkWritable(); err != nil {
		return err
	}
	key, _, err := DecodeMVCCKey(rawKey)
	if err != nil {
		return err
	}
	if _, _, err := decodeValue(rawValue); err != nil {
		return err
	}
	if err := checkPut(key, 1, rawValue[1:]); err != nil {
		return err
	}
	b.noteWrite(key, 0, nil, noteForget)
	return errors.Wrap(b.b.Set(rawKey, rawValue, nil), "storage: PutRaw")
}
