package engine

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Config configures an Engine.
type Config struct {
	// Txn is the transaction client of the node the engine runs in.
	Txn *txn.Client
	// NodeID names the node (AUTO_INCREMENT blocks are cached per node).
	NodeID uint64
	// Version is reported as @@version and VERSION().
	Version string
	Logger  *slog.Logger
	// MaxStatementMemory bounds what one statement may hold in memory for
	// sorts, hash tables and buffered rows (default 256 MiB). Each of
	// them — a sort, a hash table, a nested loop join's inner side and the
	// block of outer rows it is joined with, the rows INSERT ... SELECT,
	// UPDATE and DELETE read before writing — holds at most a quarter of
	// it and spills to disk past that (spill.go). What cannot spill — a
	// GROUP BY or DISTINCT partition that six re-partitionings did not
	// split — fails the statement over the bound with a clear error
	// instead of taking the node down. (Not counted: a transaction's
	// buffered writes, and the rows INSERT converts before writing.)
	MaxStatementMemory int64
	// BackfillChunkRows is how many rows one transaction of an online
	// schema change reads (CREATE INDEX backfill, index deletion, the row
	// rewrite after DROP COLUMN); default 1000. Concurrent writers wait
	// for at most one such chunk.
	BackfillChunkRows int
	// TestingKnobs are hooks for tests; the zero value is production
	// behavior.
	TestingKnobs TestingKnobs
}

// TestingKnobs change the engine's behavior for tests.
type TestingKnobs struct {
	// SpillFanout, when nonzero, replaces the number of partitions a
	// spilling hash table writes (16). With 1 a re-partitioning never
	// splits anything, so the depth limit is reached cheaply.
	SpillFanout int
	// DropSpilledPartition makes spilling hash tables discard the rows
	// they write to their first partition: a deliberately wrong engine,
	// the negative control of the spill tests.
	DropSpilledPartition bool
	// RowSpill, if set, is called for each row a row buffer (a nested
	// loop join's inner side, the rows INSERT ... SELECT, UPDATE and
	// DELETE read before writing; op names it) writes to disk, and the
	// row is written only if it returns true: the spill tests count spills
	// with it, and one that drops a row is their negative control.
	RowSpill func(op string) bool
	// SkipWriteOnlyIndexWrites makes writers leave write-only indexes
	// alone: a deliberately wrong engine whose CREATE INDEX misses the
	// writes made during its backfill, the negative control of the index
	// consistency tests.
	SkipWriteOnlyIndexWrites bool
	// AfterSchemaChangeChunk, if set, is called after each chunk
	// transaction of an online schema change commits (step "backfill",
	// "delete" or "rewrite"; n counts the statement's chunks from 1), and
	// once more between the check for duplicates of a new index and the
	// transaction that makes it public (step "validate", n the chunks so
	// far). An error stops the statement at once, as a node crash would:
	// it returns the error and cleans nothing up.
	AfterSchemaChangeChunk func(step string, n int) error
	// AfterPurgeTxn, if set, is called after each transaction of a purge
	// of dropped table data commits, and what it returns is taken as that
	// transaction's result: the purge tests make commits ambiguous with it.
	AfterPurgeTxn func() error
}

// DefaultVersion is the server version clients see.
const DefaultVersion = "8.0.11-Meridian"

// Engine is one node's SQL engine: it parses, plans and executes
// statements for the sessions it opens, on the transaction layer.
type Engine struct {
	cfg    Config
	nextID atomic.Uint32
	// autoInc caches this node's reserved AUTO_INCREMENT blocks, per table.
	autoMu  sync.Mutex
	autoInc map[uint32]*autoBlock
	// spills counts sorted runs written to disk; hashSpills counts the
	// times a hash table overflowed into partition files; fetched counts
	// the rows table scans received from the groups (after pushed-down
	// filters).
	spills, hashSpills, fetched atomic.Int64
}

// FetchedRows returns how many rows table scans have received from the
// groups: with pushed-down filters, only the rows that may match.
func (e *Engine) FetchedRows() int64 { return e.fetched.Load() }

// SortSpills returns how many sorted runs sorts have spilled to disk.
func (e *Engine) SortSpills() int64 { return e.spills.Load() }

// HashSpills returns how many times a hash table (GROUP BY, DISTINCT,
// UNION, a hash join's build side) overflowed its memory share into
// partition files.
func (e *Engine) HashSpills() int64 { return e.hashSpills.Load() }

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.MaxStatementMemory == 0 {
		cfg.MaxStatementMemory = 256 << 20
	}
	if cfg.BackfillChunkRows <= 0 {
		cfg.BackfillChunkRows = 1000
	}
	return &Engine{cfg: cfg, autoInc: map[uint32]*autoBlock{}}
}

// NewSession opens a session for user with database selected ("" for
// none). An unknown database is error 1049.
func (e *Engine) NewSession(ctx context.Context, user, database string) (*Session, error) {
	s := &Session{
		e: e, id: e.nextID.Add(1), user: user, p: newParser(),
		autocommit: true, userVars: map[string]types.Datum{}, vars: map[string]string{},
		prepared: map[uint32]*preparedStmt{},
	}
	if database != "" {
		if err := s.UseDatabase(ctx, database); err != nil {
			return nil, err
		}
	}
	return s, nil
}
