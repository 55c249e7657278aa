package geo

import (
	"fmt"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// Operation IDs, as the JSON output names them.
const (
	OpStrongRead   = "strong-read"
	OpBoundedStale = "bounded-stale-read"
	OpExactStale   = "exact-stale-read"
	OpCommit1      = "rw-commit-1-group"
	OpCommit2PC    = "rw-commit-2pc"
)

// operation is one row kind of the table: the script a client sends and
// the floor of its latency (doc.go).
type operation struct {
	id    string
	title string
	// writes says whether the script writes: then its keys are fresh ones
	// (writeKeysOf), else the client's preloaded ones (keysOf).
	writes bool
	// script builds the transaction of a client whose keys in A and B
	// are ka and kb.
	script func(cfg *Config, ka, kb, val []byte) *pb.TxnScriptRequest
	// floor is the WAN time the operation cannot take less than, for a
	// client in region client whose gateway is in region gw.
	floor func(t *topology, client, gw string) time.Duration
}

func get(k []byte) *pb.TxnScriptOp { return &pb.TxnScriptOp{Kind: pb.TxnScriptOp_GET, Key: k} }
func put(k, v []byte) *pb.TxnScriptOp {
	return &pb.TxnScriptOp{Kind: pb.TxnScriptOp_PUT, Key: k, Value: v}
}

var operations = []operation{
	{
		id: OpStrongRead, title: "strong read-only txn",
		script: func(_ *Config, ka, _, _ []byte) *pb.TxnScriptRequest {
			return &pb.TxnScriptRequest{ReadOnly: true, Ops: []*pb.TxnScriptOp{get(ka)}}
		},
		// The nearest replica is the gateway, one in its region, or
		// else the leader; each must learn from A's leader that t is
		// closed, by asking, unless the leader closes ahead and the
		// replica is in the gateway's region.
		floor: func(t *topology, client, gw string) time.Duration {
			if t.closesAhead && t.hasReplicaIn(t.groups[spanA.name], gw) {
				return t.rtt(client, gw)
			}
			return t.rtt(client, gw) + t.rtt(gw, t.leaderRegion(spanA.name))
		},
	},
	{
		id: OpBoundedStale, title: "bounded-stale read",
		script: func(cfg *Config, ka, _, _ []byte) *pb.TxnScriptRequest {
			return &pb.TxnScriptRequest{ReadOnly: true, MaxStalenessNanos: cfg.Staleness.Nanoseconds(), Ops: []*pb.TxnScriptOp{get(ka)}}
		},
		floor: staleFloor,
	},
	{
		id: OpExactStale, title: "exact-stale read",
		script: func(cfg *Config, ka, _, _ []byte) *pb.TxnScriptRequest {
			return &pb.TxnScriptRequest{ReadOnly: true, ReadTimestamp: time.Now().Add(-cfg.Staleness).UnixNano(), Ops: []*pb.TxnScriptOp{get(ka)}}
		},
		floor: staleFloor,
	},
	{
		id: OpCommit1, title: "read-write commit, 1 group", writes: true,
		script: func(_ *Config, ka, _, val []byte) *pb.TxnScriptRequest {
			return &pb.TxnScriptRequest{Ops: []*pb.TxnScriptOp{get(ka), put(ka, val)}}
		},
		// Read under lock at the leader, then the one-phase commit there,
		// replicated to a quorum.
		floor: func(t *topology, client, gw string) time.Duration {
			a := t.groups[spanA.name]
			toLeader := t.rtt(gw, t.region(a.leader))
			return t.rtt(client, gw) + 2*toLeader + t.quorumRTT(a)
		},
	},
	{
		id: OpCommit2PC, title: "read-write commit, 2PC", writes: true,
		script: func(_ *Config, ka, kb, val []byte) *pb.TxnScriptRequest {
			return &pb.TxnScriptRequest{Ops: []*pb.TxnScriptOp{get(ka), get(kb), put(ka, val), put(kb, val)}}
		},
		// Both reads in parallel, both prepares in parallel (each
		// replicated), then the coordinator's decision (replicated).
		floor: func(t *topology, client, gw string) time.Duration {
			var reads, prepares time.Duration
			coord := group{}
			for _, s := range spans {
				g := t.groups[s.name]
				toLeader := t.rtt(gw, t.region(g.leader))
				reads = max(reads, toLeader)
				prepares = max(prepares, toLeader+t.quorumRTT(g))
				if coord.id == 0 || g.id < coord.id {
					coord = g
				}
			}
			decide := t.rtt(gw, t.region(coord.leader)) + t.quorumRTT(coord)
			return t.rtt(client, gw) + reads + prepares + decide
		},
	},
}

// staleFloor: a replica in the gateway's region serves a stale read from
// the closed timestamps it was sent; without one, the leader serves it.
func staleFloor(t *topology, client, gw string) time.Duration {
	d := t.rtt(client, gw)
	if !t.hasReplicaIn(t.groups[spanA.name], gw) {
		d += t.rtt(gw, t.leaderRegion(spanA.name))
	}
	return d
}

func (t *topology) leaderRegion(name string) string { return t.region(t.groups[name].leader) }

// keysOf returns the keys in A and B that a client reads: its own, so
// that clients do not contend (invariant 3), written once before the run.
func keysOf(region string, client int) (ka, kb []byte) {
	return keyPair(fmt.Sprintf("%s/%03d", region, client))
}

// writeKeysOf returns the keys a client's read-write transaction number
// seq (unique in the run) reads and writes: keys no transaction touched
// before. Rewriting the same keys would make each transaction wait for
// the previous one's exclusive locks, which a two-phase commit releases
// only once its decision reached the participants, after the client had
// its answer: the rows would measure that hand-off, not the commit.
func writeKeysOf(region string, client int, seq int64) (ka, kb []byte) {
	return keyPair(fmt.Sprintf("%s/%03d/%d", region, client, seq))
}

func keyPair(suffix string) (ka, kb []byte) {
	return append(append([]byte(nil), spanA.start...), suffix...), append(append([]byte(nil), spanB.start...), suffix...)
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
