// Package kvbench is a load generator for Meridian's KV gRPC API, shaped
// like etcd's `benchmark` tool so that the two can be run side by side
// with the same flags: N clients (goroutines) share M gRPC connections
// (client i uses connection i mod M, connection j dials host j mod H), each
// client issues one request at a time, and every request's latency goes
// into a per-client log-bucket histogram that is merged at the end.
//
// A run:
//
//  1. dial the connections (lazily, as grpc.NewClient does);
//  2. with Groups > 1, pre-split the key space into Groups groups with
//     Admin.Split (sent to any node: splits are routed to the group's
//     leader), splitting from the right so that every split lands on the
//     group the previous one left behind, then wait until every group has a
//     valid lease;
//  3. for gets with Preload, write every key of the key space once;
//  4. run Total operations (or for Duration) and print a summary with
//     throughput and latency percentiles.
//
// Invariants:
//  1. Keys are KeySize bytes, 'k' followed by the zero-padded decimal key
//     index, so key order is index order and split points divide the key
//     space evenly. No key starts with 0x00 (reserved by Meridian).
//  2. A latency is recorded only for a request that succeeded; failures are
//     counted and their first distinct messages reported.
//
// The package is a client, as a user's program is: it imports the API
// package and gRPC only, never a server package.
package kvbench
