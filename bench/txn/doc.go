// Package txnbench measures Meridian's transactions against a running
// cluster, as a client: transactions are scripts sent with the KV.Txn RPC
// to a gateway node, which runs them with its transaction client (reads
// at leaders under shared locks or at the nearest replica for snapshot
// transactions, one-phase commit for one group, two-phase commit across
// groups, commit wait, retries of retryable aborts).
//
// A run:
//
//  1. split the benchmark keys into Groups groups, group g holding the
//     keys 'x', two digits of g, '-', eight digits (splits that already
//     exist are skipped), optionally move the leaders, and wait for every
//     group's lease;
//  2. choose the gateways (every host, the hosts that lead none of the
//     groups, or the leader of group 0) and, for reads, write every key;
//  3. run the workload with loadgen (warm-up, then the measured period)
//     and print throughput and latency percentiles (HDR histograms);
//  4. scrape every node's /metrics before and after the measured period
//     and print the deltas of the commit-latency and commit-wait
//     histograms, aborts, lock waits and snapshot-read paths, and the
//     commit wait's share of the commit latency.
//
// Invariants:
//  1. The measured numbers are client-observed: the time from sending
//     KV.Txn to its answer, retries inside the gateway included.
//  2. Server-side figures come from the nodes' own Prometheus histograms,
//     so their percentiles are bucket ranges, not values.
//
// The package is a client: it imports the API package, gRPC and loadgen
// only, never a server package.
package txnbench
