// Package geo is Meridian's geo latency benchmark (`meridian bench
// latency`): from a client in each region of a multi-region cluster it
// measures the kinds of transaction a geo-distributed application issues,
// and sets each latency beside its floor, the part of it that the
// simulated WAN's round-trip times make unavoidable for the protocol
// Meridian runs. The table follows the layout of Spanner's Table 3
// (operation, latency), with a row per client region.
//
// A run:
//
//  1. read the cluster (Admin.Status): nodes, their regions (in node-ID
//     order, which is the demo's region order) and the groups;
//  2. split the benchmark's keys into two groups, A = [geo/a/, geo/b/) and
//     B = [geo/b/, geo/c/), and move A's leader to the first region and
//     B's to the second, so that a transaction writing both is a
//     two-phase commit whose participants lead from two regions;
//  3. per region, pick a gateway node there (one holding A's replica, if
//     any) and write each client's keys once;
//  4. for each operation, for each region in turn: Clients closed-loop
//     clients send KV.Txn scripts to the region's gateway, declaring their
//     region in the call's metadata (so a simulated WAN delays them as it
//     would a driver with ?region=), for Warmup unmeasured and then
//     Duration measured (bench/loadgen, HDR histograms);
//  5. compute each cell's floor from the topology read before and after
//     it and the RTT function, and print the table (and JSON).
//
// The operations, for a client whose gateway is in region G, with L(X) the
// region of group X's leader, rtt the matrix and q(X) the round trip from
// L(X) to the voter that completes its quorum (the k-th nearest other
// voter, k = voters/2):
//
//	strong read-only txn   one GET of A at TT.Now().latest, served by the
//	                       nearest replica. A replica serves t only once
//	                       A's leader closed t. Floor 0 with a replica in
//	                       G when the leaders close ahead of their clocks
//	                       (Config.ClosesAhead, the demo's --close-ahead):
//	                       the side channel brings t before it is read.
//	                       Otherwise rtt(G, L(A)): the closed timestamps
//	                       published trail the clock, so a follower asks.
//	bounded-stale read     one GET of A with max staleness Staleness.
//	                       Floor 0 with a replica in G (it serves from
//	                       its last closed timestamp), else rtt(G, L(A)).
//	exact-stale read       one GET of A at now − Staleness. Floor as for
//	                       bounded staleness.
//	read-write, 1 group    GET k, PUT k in A: the read locks at the leader,
//	                       the one-phase commit replicates there. Floor
//	                       2·rtt(G, L(A)) + q(A).
//	read-write, 2PC        GET a, GET b, PUT a, PUT b (a in A, b in B):
//	                       parallel reads at both leaders, parallel
//	                       prepares (each replicated), then the decision
//	                       at the coordinator (the group with the smaller
//	                       ID) replicated. Floor max rtt(G, L(X)) +
//	                       max (rtt(G, L(X)) + q(X)) + rtt(G, L(C)) + q(C).
//
// Invariants:
//  1. Latencies are client-observed: from sending KV.Txn to its answer,
//     server-side retries included; failed operations record none.
//  2. A floor is a lower bound of every sample of its cell on a simulator
//     that delays each trip by at least its share of the matrix (jitter
//     only adds): a sample below it means the simulator or the protocol
//     skipped a trip. When a leader moves during a cell, the smaller of
//     the floors before and after is used.
//  3. Each client reads keys of its own, and each read-write transaction
//     reads and writes keys no transaction touched before, so the rows
//     measure the protocol, not lock conflicts between clients or with
//     the client's previous transaction (whose locks a two-phase commit
//     releases after answering).
//
// The package is a client: it imports the API package, gRPC and loadgen,
// never a server package; the caller passes the matrix as a function.
package geo
