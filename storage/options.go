package storage

import (
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configures an Engine. The zero value is valid; EnsureDefaults fills
// in every unset field. Options are independent of the directory, so one
// Options value can open many stores (tests do).
type Options struct {
	// FS is the filesystem the store lives on. Default: vfs.Default. Tests
	// use vfs.NewMem, vfs.NewCrashableMem or an errorfs wrapper.
	FS vfs.FS

	// CacheSize is the size in bytes of the block cache. Default: 64 MiB.
	CacheSize int64

	// MemTableSize is the size in bytes of one memtable; a full memtable is
	// flushed to an sstable. Default: 16 MiB (Pebble caps it below 4 GiB).
	// Frequently updated rows pile up versions in the memtable, where a
	// scan steps over each one by pointer chasing through the skiplist; in
	// an sstable the same versions are adjacent in a block. At 64 MiB the
	// memtable lived about a minute under sysbench and its walk was a
	// fifth of the leaseholder's CPU; 8 MiB slowed bulk loading (more
	// flushes and L0 compactions), 16 MiB did not (docs/BENCHMARKS.md).
	MemTableSize uint64

	// RaftEntryCacheSize is the budget in bytes (by entry proto size) of
	// the in-memory cache of recently appended Raft entries, shared by all
	// groups; each group also keeps at most its last 1,024 entries and
	// 4 MiB. Default: 64 MiB. Negative: no cache (every Entries call reads
	// Pebble).
	RaftEntryCacheSize int64

	// NewestCached lists spans of user keys whose newest versions the
	// engine may keep in memory for MVCCGet (newest.go), up to 64Ki keys
	// and 32 MiB; the keys read most stay cached. Default: none.
	NewestCached []Span

	// SyncObserver, if non-nil, is called after every WAL fsync with its
	// latency, from Pebble's WAL flusher goroutine. It must not block.
	// Default: nil.
	SyncObserver func(d time.Duration)

	// Unsafe holds knobs that trade durability for speed. Never set them in
	// production.
	Unsafe struct {
		// NoSync makes Batch.Commit(true) skip the WAL fsync. Acknowledged
		// writes may then be lost on power failure. Default: false.
		NoSync bool
	}

	// TestingKnobs are for tests only.
	TestingKnobs struct {
		// RaftEntryCacheGroupEntries and RaftEntryCacheGroupBytes override
		// the per-group bounds of the Raft entry cache. Default (0): 1,024
		// entries and 4 MiB.
		RaftEntryCacheGroupEntries int
		RaftEntryCacheGroupBytes   int64
	}
}

// Defaults.
const (
	defaultCacheSize    = 64 << 20
	defaultMemTableSize = 16 << 20

	defaultRaftEntryCacheSize         = 64 << 20
	defaultRaftEntryCacheGroupEntries = 1024
	defaultRaftEntryCacheGroupBytes   = 4 << 20
)

// EnsureDefaults returns a copy of o with every unset field set to its
// documented default.
func (o Options) EnsureDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.CacheSize <= 0 {
		o.CacheSize = defaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = defaultMemTableSize
	}
	if o.RaftEntryCacheSize == 0 {
		o.RaftEntryCacheSize = defaultRaftEntryCacheSize
	}
	if o.TestingKnobs.RaftEntryCacheGroupEntries <= 0 {
		o.TestingKnobs.RaftEntryCacheGroupEntries = defaultRaftEntryCacheGroupEntries
	}
	if o.TestingKnobs.RaftEntryCacheGroupBytes <= 0 {
		o.TestingKnobs.RaftEntryCacheGroupBytes = defaultRaftEntryCacheGroupBytes
	}
	return o
}
