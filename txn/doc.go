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
//
// # Two-phase commit state machines
//
// participant.go, coordinator.go, safetime.go and records.go are the
// replicated halves of two-phase commit, also deterministic cores: every
// mutating method is one applied Raft entry, called in log order on every
// replica over a Store (records.go) that is the group's apply batch. All
// their state lives in the store under prefix 0x03 (key layout in
// records.go), so a restart or a Raft snapshot carrying RecordSpan(group)
// restores it; the in-memory parts are caches rebuilt by Open*.
//
//	coordinator leader                      participant group (each)
//	──────────────────                      ────────────────────────
//	                                        leader: ChoosePrepareTS (ClosedTracker.Assign)
//	                                        log Prepare(rec) ──► Prepared / AlreadyPrepared
//	                                          (vote yes with rec.PrepareTS) / AlreadyDecided /
//	                                          Refused (vote no)
//	ChooseCommitTS(now.latest, prepareTSs,
//	  last assigned, closed)
//	log Decide(commit|abort) ──► recorded
//	  decision (the first one wins)
//	commit wait, reply to the client,
//	send the decision ─────────────────────► log Commit(txn, s) / Abort(txn)
//	                                          ──► Release locks, ClosedTracker.Applied
//	log Acked(txn, group) ◄──────────────── ack
//	all acked: log Forget ─────────────────► log Forget(txn) (or tombstone eviction)
//
//	participant prepared too long ──► coordinator Inquire: unknown ──► log
//	  Decide(abort) (presumed abort) ──► the recorded decision goes back
//	new coordinator leader ──► Undelivered(): re-send
//	new participant leader ──► RebuildLocks(Prepared()): write and read locks
//	single-group transaction ──► log CommitOnePhase(txn, ts, writes)
//
// Further invariants of these files:
//
//  5. A decision never changes (DESIGN.md invariant 9): the coordinator's
//     first Decide wins; a participant's tombstone turns any contradicting
//     Commit/Abort into an assertion failure and a late Prepare into the
//     known outcome.
//  6. A participant installs a transaction's writes only at the commit
//     timestamp, strictly above its prepare timestamp (invariants 1, 2).
//  7. Safe time = min(closed applied, min prepared - 1); a leader's closed
//     timestamp never goes backwards and stays below every timestamp in
//     flight, including prepares until their decision applies (3, 4, 5).
//  8. Duplicate or reordered delivery of the same decision is a no-op,
//     also after a tombstone is forgotten (forgotten horizon, see
//     Participant).
package txn
