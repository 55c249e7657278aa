// Package txn is Meridian's transaction layer: two-phase locking and
// two-phase commit over Raft groups (DESIGN.md §2, invariants 6, 8 and 9).
//
// The lock table (locktable.go) is its first piece. It lives at each group
// leader and is a deterministic core: no goroutines, no clocks, no context,
// no mutex. The participant that owns it serializes calls, parks waiting
// requests and wakes them with the grants Release returns.
//
// # Lock table flow
//
//	read at leader ──► Acquire(txn, key, Shared) ─┬─► Granted: read, reply
//	prepare (writes) ► Acquire(txn, key, Exclusive)│
//	                                              ├─► Waiting: park the request;
//	                                              │     abort every txn in Wound,
//	                                              │     ask the coordinators of
//	                                              │     WoundPrepared to abort
//	                                              └─► Wounded: abort this txn
//	prepare record applied ──► MarkPrepared(txn)
//	commit/abort applied ────► Release(txn) ──► grants: wake those requests
//	new leader ──────────────► Rebuild(prepared records from the Raft log)
//
// # Invariants
//
//  1. Wound-wait by start timestamp (ties broken by TxnID): a request never
//     waits for a younger transaction unless that transaction was wounded
//     (and will abort) or is prepared (and waits for nothing here; its
//     coordinator is asked to abort it if undecided, which breaks waits
//     that span groups). Hence no deadlock, and the oldest transaction is
//     never wounded, so it finishes; a restarted transaction keeps its
//     start timestamp, so every transaction eventually is the oldest.
//  2. A wounded transaction keeps its locks until the caller releases it:
//     the wounder waits for the abort, never for less.
//  3. A prepared transaction is never wounded and never waits; its
//     exclusive locks are rebuilt from the Raft log by a new leader, while
//     shared locks are leader memory and die with the leadership.
//  4. Waiters are granted in start-timestamp order (oldest first); a run
//     of compatible shared requests at the head is granted together.
package txn
