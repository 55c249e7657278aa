package storage

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Engine is one node's store: a single Pebble instance holding the MVCC user
// data of every group on the node, their Raft logs and metadata, and
// store-local keys. It is safe for concurrent use.
//
// Lock order: Engine.mu before RaftStorage.mu.
type Engine struct {
	dir   string
	opts  Options
	db    *pebble.DB
	lock  *pebble.Lock
	cache interface{ Unref() }
	// entries caches recently appended Raft entries of every group; nil
	// if disabled (raftcache.go).
	entries *entryCache
	// newest caches the newest versions of keys in Options.NewestCached;
	// nil if there are none (newest.go).
	newest *newestCache

	// failed holds the fail-stop error once a write to disk has failed;
	// from then on every operation returns it (doc.go, invariant 6).
	failed atomic.Pointer[error]

	metrics struct {
		walSyncs      atomic.Int64
		walSyncNanos  atomic.Int64
		commits       atomic.Int64
		syncedCommits atomic.Int64
	}

	mu struct {
		sync.Mutex
		closed bool
		// groups caches the one RaftStorage of each group opened so far.
		groups map[uint64]*RaftStorage
	}
}

// Open opens (creating if needed) the store in dir. It fails with an error
// marked ErrStoreLocked if another process or another Engine in this process
// has the store open.
func Open(dir string, opts Options) (*Engine, error) {
	opts = opts.EnsureDefaults()
	e := &Engine{dir: dir, opts: opts}
	e.entries = newEntryCache(opts.RaftEntryCacheSize, opts.TestingKnobs.RaftEntryCacheGroupBytes,
		opts.TestingKnobs.RaftEntryCacheGroupEntries)
	e.newest = newNewestCache(opts.NewestCached)
	e.mu.groups = make(map[uint64]*RaftStorage)
	fs := &walObservingFS{FS: opts.FS, onSync: e.observeSync}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, errors.Wrapf(err, "storage: creating store directory %s", dir)
	}
	lock, err := pebble.LockDirectory(dir, fs)
	if err != nil {
		lockPath := fs.PathJoin(dir, "LOCK")
		return nil, errors.Mark(errors.Wrapf(err,
			"storage: store %s is in use by another process (lock held on %s)", dir, lockPath), ErrStoreLocked)
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref() // the DB holds its own reference
	popts := &pebble.Options{
		FS:                 fs,
		Cache:              cache,
		MemTableSize:       opts.MemTableSize,
		Lock:               lock,
		FormatMajorVersion: pebble.FormatNewest,
		Comparer:           comparer,
		Logger:             fatalLogger{onFatal: func(err error) { _ = e.fail(err) }},
	}
	// Bloom filters over key prefixes (comparer.Split) on every level let
	// point reads (SeekPrefixGE, Get) skip sstables without the key.
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		_ = lock.Close()
		return nil, errors.Wrapf(err, "storage: opening store %s", dir)
	}
	e.db = db
	e.lock = lock
	return e, nil
}

// Close closes the store. Outstanding batches, snapshots and iterators must
// be closed first. Close after a fail-stop releases the lock but may report
// the failure again.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return errors.Mark(errors.New("storage: engine closed twice"), ErrClosed)
	}
	e.mu.closed = true
	e.mu.Unlock()
	err := e.closeDB()
	if lerr := e.lock.Close(); lerr != nil && err == nil {
		err = errors.Wrapf(lerr, "storage: releasing lock of store %s", e.dir)
	}
	return err
}

// closeDB closes Pebble. After a fail-stop Pebble's commit pipeline may be
// wedged and Close may panic (it asserts clean state); the process is
// restarting anyway, so the panic is turned into the failure error.
func (e *Engine) closeDB() (err error) {
	defer func() {
		if r := recover(); r != nil {
			if f := e.failed.Load(); f != nil {
				err = *f
				return
			}
			panic(r)
		}
	}()
	if err := e.db.Close(); err != nil {
		if f := e.failed.Load(); f != nil {
			return *f
		}
		return errors.Wrapf(err, "storage: closing store %s", e.dir)
	}
	return nil
}

// Dir returns the directory of the store.
func (e *Engine) Dir() string { return e.dir }

func (e *Engine) observeSync(d time.Duration) {
	e.metrics.walSyncs.Add(1)
	e.metrics.walSyncNanos.Add(int64(d))
	if e.opts.SyncObserver != nil {
		e.opts.SyncObserver(d)
	}
}

// fail records the first disk write failure and fail-stops the engine. It
// returns the error every later operation returns.
func (e *Engine) fail(cause error) error {
	err := translateWriteError(e.dir, cause)
	if e.failed.CompareAndSwap(nil, &err) {
		return err
	}
	return *e.failed.Load()
}

// checkUsable returns the fail-stop error, if any.
func (e *Engine) checkUsable() error {
	if f := e.failed.Load(); f != nil {
		return *f
	}
	return nil
}

// Failed returns the fail-stop error if a write to disk has failed, else
// nil. The node should stop serving and restart.
func (e *Engine) Failed() error { return e.checkUsable() }

// Metrics are counters of the engine since Open.
type Metrics struct {
	// WALSyncs counts fsyncs of WAL files.
	WALSyncs int64
	// WALSyncDuration is the total time spent in those fsyncs.
	WALSyncDuration time.Duration
	// Commits counts successful batch commits.
	Commits int64
	// SyncedCommits counts successful commits that asked for durability.
	// SyncedCommits / WALSyncs is the average group-commit size.
	SyncedCommits int64
	// DiskUsageBytes is Pebble's estimate of the store's size on disk.
	DiskUsageBytes uint64
	// RaftEntryCacheBytes is the size of the entries in the Raft entry
	// cache; RaftEntryCacheHits and RaftEntryCacheMisses count
	// RaftStorage.Entries calls served from it and from Pebble.
	RaftEntryCacheBytes  int64
	RaftEntryCacheHits   int64
	RaftEntryCacheMisses int64
	// Pebble holds Pebble's own metrics (compactions, levels, caches).
	Pebble *pebble.Metrics
}

// Metrics returns the engine's counters.
func (e *Engine) Metrics() Metrics {
	m := e.db.Metrics()
	cacheBytes, hits, misses := e.entries.stats()
	return Metrics{
		RaftEntryCacheBytes:  cacheBytes,
		RaftEntryCacheHits:   hits,
		RaftEntryCacheMisses: misses,
		WALSyncs:             e.metrics.walSyncs.Load(),
		WALSyncDuration:      time.Duration(e.metrics.walSyncNanos.Load()),
		Commits:              e.metrics.commits.Load(),
		SyncedCommits:        e.metrics.syncedCommits.Load(),
		DiskUsageBytes:       m.DiskSpaceUsage(),
		Pebble:               m,
	}
}

// SetLocal durably stores a store-local value (node identity, cluster id).
// Local keys belong to the node, not to any group, and are never replicated.
func (e *Engine) SetLocal(name string, value []byte) error {
	b := e.NewBatch()
	defer b.Close()
	if err := b.b.Set(localKey(name), value, nil); err != nil {
		return errors.Wrap(err, "storage: staging local key")
	}
	return b.Commit(true)
}

// GetLocal returns a store-local value. The returned slice is the caller's.
func (e *Engine) GetLocal(name string) ([]byte, bool, error) {
	if err := e.checkUsable(); err != nil {
		return nil, false, err
	}
	return getCopy(e.db, localKey(name))
}

// getCopy reads raw key k and returns a copy of its value.
func getCopy(r pebble.Reader, k []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, errors.Wrap(err, "storage: get")
	}
	out := append([]byte(nil), v...)
	_ = closer.Close()
	return out, true, nil
}

// SpanSize returns the approximate number of bytes on disk used by user data
// in [start, end) (end nil = to the end of the keyspace), for size-based
// splits. Data still in memtables is not counted.
func (e *Engine) SpanSize(start, end []byte) (int64, error) {
	if err := e.checkUsable(); err != nil {
		return 0, err
	}
	lower, upper := mvccSpanBounds(start, end)
	n, err := e.db.EstimateDiskUsage(lower, upper)
	if err != nil {
		return 0, errors.Wrap(err, "storage: estimating span size")
	}
	return int64(n), nil
}

// Flush flushes memtables to sstables. Tests use it to exercise on-disk
// paths (SpanSize counts only flushed data).
func (e *Engine) Flush() error {
	if err := e.checkUsable(); err != nil {
		return err
	}
	return errors.Wrap(e.db.Flush(), "storage: flush")
}
