// Package paxosgroup hosts the replicas of many Raft groups (shard groups,
// ranges) on one node, on top of go.etcd.io/raft/v3 and one storage.Engine.
//
// # Flow
//
// A node runs one Host. The Host owns every local replica, a scheduler with a
// bounded pool of workers, the transport and the liveness tracker:
//
//	gRPC stream from peer ──► Host.deliver ──► replica inbox ─┐
//	Host.Propose (state machine command) ──► replica inbox ───┼─► scheduler queue
//	ticker (leaders, and followers without a supported leader)┘        │
//	                                                                   ▼
//	                 worker: Step/Tick/Propose ─► Ready ─► persist (one synced batch)
//	                         ─► send messages ─► apply committed entries ─► Advance
//
// There is no goroutine per group: a group costs nothing while nothing
// happens to it. Raft messages of all groups to one peer share one
// long-lived gRPC stream (transport.go) and are batched; snapshots are
// streamed separately.
//
// Committed entries cross one boundary, the StateMachine interface: the
// transaction layer plugs in there without touching consensus code. The
// Host itself applies only the commands that change the shape of groups:
// splits, membership changes and range-directory (meta group) updates.
//
// # Leader leases
//
// A leaseholder serves linearizable reads without a Raft round trip.
// Leases rest on node-level support (liveness.go): every heartbeat round
// asks each peer to promise, for SupportDuration of its own monotonic
// clock, not to help elect a leader other than the one it follows while
// that leader's node is supported. A leader holds the lease while a quorum
// of its voters (in every half of a joint configuration) has both accepted
// an entry of its term and promised support that has not run out by the
// leader's conservative reckoning. See lease.go for the argument and the
// clock assumption.
//
// # Invariants
//
//  1. Entries, hard state and snapshots are durable (fsync) before the
//     messages that depend on them are sent, and before any client is told
//     a write happened.
//  2. No two replicas of a group believe they hold the lease at the same
//     instant, provided monotonic clocks drift apart by less than
//     Options.MaxClockDrift.
//  3. A replica applies exactly the committed entries, in log order, once;
//     its applied index and state machine effects commit in one batch.
//  4. A replica owns exactly its descriptor's span; commands for keys
//     outside it are refused at apply time, so splits never lose or
//     duplicate writes that race with them.
//  5. A removed replica's ID is never reused (tombstones), so messages for
//     an old incarnation cannot resurrect it.
//
// # Never
//
// The package never interprets user commands, never blocks a worker on the
// network, and never serves a read from a replica without a valid lease
// (except through the testing knob that proves the linearizability checker
// can fail).
package paxosgroup
