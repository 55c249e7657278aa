// Package storage is a node's store: one Pebble instance holding, for every
// Raft group (range) on the node, its MVCC user data, its Raft log and
// state, its replica metadata, and the node's own store-local keys.
//
// # Keyspace
//
// Every raw key starts with one prefix byte:
//
//	0x01 <name>                              store-local (SetLocal/GetLocal)
//	0x02 <group u64 BE> 'c'                  Raft conf state (proto)
//	0x02 <group u64 BE> 'h'                  Raft hard state (proto)
//	0x02 <group u64 BE> 'l' <index u64 BE>   Raft log entry (proto)
//	0x02 <group u64 BE> 'm'                  replica metadata (opaque blob)
//	0x02 <group u64 BE> 't'                  truncated state: index, term (u64 BE each)
//	0x03 <group u64 BE> <kind> ...           2PC records (layout owned by txn)
//	0x10 <escaped user key> 0x00 0x01 <^ts u64 BE>   MVCC version
//
// User keys are escaped (0x00 -> 0x00 0xFF) and terminated with 0x00 0x01,
// and the timestamp is stored inverted, so raw order is user-key order,
// then newest version first. MVCC values carry a tag byte: 0x01 followed
// by the value, or 0x02 alone for a tombstone.
//
// # Flow
//
// Writes are staged in a Batch (MVCC versions, 2PC records, Raft entries
// and state via a group's RaftStorage, span clears and raw snapshot
// records) and committed
// at once; Batch.Commit(true) fsyncs the WAL, and concurrent synced commits
// share one fsync through Pebble's commit pipeline. Reads go through the
// Reader interface: Engine (latest state), Batch (plus its own writes) or
// Snapshot (fixed point in time, also the source of Raft snapshot data via
// ExportSpan and ExportRecords). 2PC records (records.go) are raw
// key/values that storage does not interpret; *Batch satisfies txn.Store
// by signature, without importing txn.
//
// # Invariants
//
//  1. Encoded MVCC key order equals (user key ascending, timestamp
//     descending), and no encoded user key is a prefix of another's
//     encoding (property-tested in keys_test.go).
//  2. A point read at ts is one SeekPrefixGE to (key, ts): the first key
//     found within the key's prefix is the newest version <= ts. The
//     comparer's Split makes the escaped user key the Pebble prefix, so
//     sstable bloom filters skip tables without the key (comparer.go).
//  3. MVCC versions have positive timestamps, keys are at most MaxKeySize
//     and values at most MaxValueSize bytes; nothing outside the MVCC
//     prefix is ever written by PutRaw, ClearSpan or MVCCGC, and nothing
//     outside the 0x03 prefix by the record methods (PutRecord,
//     DeleteRecord, ClearRecords, PutRawRecord).
//  4. RaftStorage caches (first/last index, terms, hard and conf state,
//     and the engine-wide entry cache of recently appended entries)
//     change only in a committed batch's OnCommit callbacks, so raft never
//     sees state that is not in the store. A cached entry always equals
//     the committed log entry at its index (raftcache.go). On disk, no log entry exists
//     above the last index or at or below the truncated index, so the
//     cached state is reloaded exactly on restart.
//  5. A Commit(true) that returned nil is durable: it survives process
//     crash and power loss (tested with a crashable filesystem).
//  6. Fail-stop: the first failed WAL write or sync makes Commit return an
//     error marked ErrStoreFailed (and ErrDiskFull for ENOSPC), and from
//     then on every read and write of the Engine returns that error. The
//     failed batch may already be applied to Pebble's memtable (Pebble
//     applies before the sync finishes), so serving any further read could
//     expose a write that a restart will not have; the node must restart.
//  7. Engine.MVCCGet of a key in Options.NewestCached may answer from
//     memory (newest.go), but never with less than the store holds for a
//     read that starts after a Commit returned: a batch writing into those
//     spans brings the cached versions of its keys up to date (or empties
//     the cache) before its Commit returns, and a fill that raced with
//     such a commit is dropped.
//
// # Never
//
//   - Never acknowledge a write whose WAL sync failed, and never keep
//     accepting writes after one did (invariant 6).
//   - Never exit the process: Pebble's Fatalf is replaced by a logger that
//     panics with the error, and Batch.Commit turns that panic into an
//     error. A Fatalf from a Pebble background goroutine still crashes the
//     process, which is the correct response to a broken Pebble invariant.
//   - Never interpret replica metadata or log entry payloads: they belong
//     to the group host (paxosgroup).
package storage
