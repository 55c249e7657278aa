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
//	scan at leader ──► AcquireRange(txn, span) ───┤
//	prepare (writes) ► Acquire(txn, key, Exclusive)│
//	                                              ├─► Waiting: park the request;
//	                                              │     abort every txn in Wound,
//	                                              │     ask the coordinators of
//	                                              │     WoundPrepared to abort;
//	                                              │     after WoundGrace, if still
//	                                              │     parked, WoundBlockers (the
//	                                              │     Deferred ones) likewise
//	                                              └─► Wounded: abort this txn
//	                                                    (and Wound, WoundPrepared)
//	prepare record applied ──► MarkPrepared(txn)
//	commit/abort applied ────► Release(txn) ──► grants: wake those requests
//	new leader ──────────────► Rebuild(prepared records from the Raft log)
//
// # Invariants
//
//  1. Wound-wait by start timestamp (ties broken by TxnID): a request never
//     waits for a younger transaction unless that transaction was wounded
//     (and will abort), is prepared (and waits for nothing here; its
//     coordinator is asked to abort it if undecided, which breaks waits
//     that span groups), or is left to finish: under DeferWounds a
//     younger holder is wounded only if it already waits, through the
//     table, for the requester, and a request that would close a cycle
//     of waits through the table is refused (so no cycle closes here; the
//     oldest transaction waits only for younger ones, so it is never
//     refused), and the holders still blocking when the waiter's
//     WoundGrace ends are wounded (which breaks waits that span groups,
//     as for a prepared one). Hence no deadlock, and the oldest
//     transaction is never wounded, so it finishes; a restarted
//     transaction keeps its start timestamp, so every transaction
//     eventually is the oldest.
//  2. A wounded transaction keeps its locks until the caller releases it:
//     the wounder waits for the abort, never for less.
//  3. A prepared transaction is never wounded and never waits; its
//     exclusive locks are rebuilt from the Raft log by a new leader, while
//     shared locks are leader memory and die with the leadership.
//  4. Waiters are granted in start-timestamp order (oldest first); a run
//     of compatible shared requests at the head is granted together.
//  5. A scan holds its span shared (rangelock.go): no other transaction
//     writes a key inside it until the scanner ends, so predicates read
//     by a transaction stay true until its commit (no phantoms).
//
// # Two-phase commit state machines
//
// participant.go, coordinator.go, safetime.go and records.go are the
// replicated halves of two-phase commit, also deterministic cores: every
// mutating method is one applied Raft entry, called in log order on every
// replica over a Store (records.go) that is the group's apply batch. All
// their state lives in the store under prefix 0x03 (key layout in
// records.go), so a restart or a Raft snapshot carrying RecordSpan(group)
// restores it; the in-memory parts are caches rebuilt by Open*, which
// StateMachine keeps per group across entries (reloaded when the replica's
// ApplyContext.StateGen changes: a snapshot, a new replica, a failure).
//
//	coordinator leader                      participant group (each)
//	──────────────────                      ────────────────────────
//	                                        leader: ChoosePrepareTS (ClosedTracker.Assign)
//	                                        log Prepare(rec) ──► Prepared / AlreadyPrepared
//	                                          (vote yes with rec.PrepareTS) / AlreadyDecided /
//	                                          Refused (vote no)
//	ChooseCommitTS(prepareTSs, last
//	  assigned, closed)
//	log Decide(commit|abort) ──► recorded
//	  decision (the first one wins)
//	commit wait, reply to the client,
//	send the decision ─────────────────────► log Commit(txn, s) / Abort(txn)
//	                                          ──► Release locks, ClosedTracker.Applied
//	log Acked(txn, group) ◄──────────────── ack
//	all acked: the decision record is       tombstones are evicted beyond
//	  dropped; a late Decide is answered      MaxTombstones
//	  from this group's own tombstone
//
//	participant prepared too long ──► coordinator Inquire: unknown ──► log
//	  Decide(abort) (presumed abort) ──► the recorded decision goes back
//	new coordinator leader ──► Undelivered(): re-send
//	new participant leader ──► RebuildLocks(Prepared()): write and read locks
//	single-group transaction ──► log CommitOnePhase(txn, ts, writes)
//	single-key KV write ──► the same, unrecorded: no tombstone, since its
//	  ID is the leader's own and never sent again (Server.CommitUnrecorded);
//	  the server batches concurrent ones of a group into one such commit
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
//
// # The running protocol (server.go, leader.go, client.go)
//
// Server is a node's transaction service (the Txn gRPC service). For each
// group the node leads it keeps a leaderState for the current Raft term:
// a LockTable, a ClosedTracker and the prepared set, rebuilt from the
// prepare records when the term changes (shared locks and waiters die with
// the old term; a transaction that read there fails to prepare or
// commit, invariant 8). The new term's first timestamp is above
// max(applied writes, TT.Now().latest + CloseAhead): every timestamp the
// old leader closed was at most CloseAhead above its TT.Now().earliest,
// so below that.
//
// Client is the gateway side (client-driven commit):
//
//	Get/Scan (read-write) ─► leader: shared locks, latest committed value
//	Get/Scan (read-only)  ─► nearest replica at the read timestamp
//	Commit, one group     ─► CommitOnePhase: exclusive locks, votes of the
//	  written               groups only read (vote.go), ts = Assign above
//	                         the votes, propose ∥ commit wait, release (and
//	                         release the votes with ts)
//	Commit, many groups   ─► Prepare at every group written (in parallel),
//	  written               then Decide at the coordinator (the first):
//	                         votes of the groups only read, ChooseCommitTS,
//	                         propose ∥ commit wait, answer, then Resolve at
//	                         every participant (which logs Commit/Abort and
//	                         releases), Ack; the votes are released with s
//	Commit, reads only    ─► wait until TT.Now().earliest > ts, then a
//	                         verifying Release: every group must still
//	                         hold the locks, or the commit is an abort
//
// Snapshot reads: a replica serves ts once its leader closed ts and it
// applied the index that goes with it. Leaders close on demand (Close:
// wait until TT.Now().earliest + CloseAhead > ts and nothing at or below
// ts is in flight; a strong read at another node's TT.Now().latest so
// waits only for writes in flight) and publish closed timestamps of
// every group they lead to the other replicas' nodes every
// PublishInterval (the side channel that
// serves idle groups and bounded staleness). A read-only transaction
// reads the groups that share their nearest replica node with one
// SnapshotReadMany, and that node asks each leader node once (CloseMany)
// for the groups it lacks, rather than once per group. With CloseAhead
// above the trips between regions, a leader closes groups with replicas
// in other regions ahead of its clock by the delay those replicas' nodes
// report, and publishes them every LeadInterval, so strong reads there
// need not ask (lead.go). Because a leader never
// closes at or above a prepared transaction's prepare timestamp, the
// closed timestamp is already below every undecided prepare: invariant
// 4's min(closed, minPrepared-1) is the closed timestamp itself.
//
// A vote holds a read-only group's shared locks without a log record
// until the commit timestamp is known there or valid_until (at most
// CloseAhead past the leader's TT.Now().earliest) passes; vote.go argues
// why that is enough. An older transaction blocked by a younger prepared
// one asks the younger one's coordinator to abort it only after
// WoundPreparedGrace.
//
// Recovery: a participant prepared longer than InquireAfter asks the
// coordinator (Inquire logs an abort if nothing is decided: the first
// decision wins); a coordinator's leader re-sends decisions not acked
// after InquireAfter; an unprepared transaction idle that long while
// others wait for its locks is aborted. Errors reach callers as classes:
// ErrRetryable (gRPC Aborted) and ErrAmbiguous (gRPC Unknown).
package txn
