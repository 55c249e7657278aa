// Package server runs one Meridian node: it opens the store, wires the
// multi-Raft host (paxosgroup) to the transaction layer's replicated state
// machine (txn.StateMachine: single-key writes and 2PC records), serves
// the gRPC services (Raft transport, KV, Admin) and HTTP (/healthz,
// /metrics), and handles cluster bootstrap (init) and joining.
//
// # Flow of a client request
//
//	client ──gRPC KV.Put──► any node (gateway) ──range cache──► leader node
//	   leader: KV.Put with Routing ──► writeBatcher (kvbatch.go: the group's
//	   concurrent single-key writes as one transaction) ──► txn.Server
//	   CommitUnrecorded ──► Host.Propose ──Raft──► txn.StateMachine.Apply
//
// A gateway retries on "not leader" (following the leader hint) and on
// "wrong range" (refreshing its range cache from the meta group), but never
// retries a write whose outcome is ambiguous: that error reaches the
// client.
//
// # Invariants
//
//  1. A node's identity (cluster ID, node ID) is persisted in its store
//     before it serves anything, so a restart rejoins as the same node.
//  2. A cluster is bootstrapped once: init on a node that belongs to a
//     cluster fails.
//  3. Requests with bad input (empty or reserved keys, keys over 16 KiB,
//     values over 8 MiB) are refused with InvalidArgument before they
//     reach Raft.
package server
