package paxosgroup

import (
	"log/slog"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/netsim"
	"github.com/meridiandb/meridian/storage"
	"google.golang.org/grpc"
)

// Options configures a Host. Zero values take the documented defaults
// (EnsureDefaults).
type Options struct {
	// NodeID is this node's cluster-unique ID. Required (non-zero).
	NodeID uint64
	// Engine is the node's store. Required.
	Engine *storage.Engine
	// StateMachine applies user commands. Required.
	StateMachine StateMachine
	// Logger; default slog.Default().
	Logger *slog.Logger

	// TickInterval is the Raft tick. Default 100ms.
	TickInterval time.Duration
	// HeartbeatTicks: ticks between leader heartbeats. Default 2.
	HeartbeatTicks int
	// ElectionTicks: ticks without a leader before a follower campaigns.
	// Default 10.
	ElectionTicks int
	// SupportDuration is how long, on the supporter's monotonic clock, a
	// node promises not to help elect another leader after acknowledging a
	// peer's heartbeat. It bounds both lease length and failover time.
	// Default 1.5s.
	SupportDuration time.Duration
	// MaxClockDrift bounds the rate difference between any two nodes'
	// monotonic clocks (dimensionless; 1e-3 = 1000 ppm). Leases are
	// shortened by twice this fraction plus LeaseMargin. Default 1e-3.
	MaxClockDrift float64
	// LeaseMargin is subtracted from every lease for scheduling delays
	// between checking the lease and reading. Default 50ms.
	LeaseMargin time.Duration
	// Workers bounds the number of groups processed at once. Default 16.
	Workers int
	// LogKeepEntries: a replica truncates its log to keep at most this many
	// applied entries. Default 10,000.
	LogKeepEntries uint64
	// SplitSizeBytes: a leader splits its group when the span's data grows
	// past this. Default 512 MiB (CockroachDB's range size): a transaction
	// whose writes stay in one group commits in one Raft round, where one
	// spanning two needs five entries and two rounds, so smaller groups
	// turn more transactions two-phase. The cost is coarser placement and
	// larger Raft snapshots, which a follower receives whole in memory
	// before writing them in one batch. Negative disables size-based splits.
	SplitSizeBytes int64
	// TargetReplicas is how many voters each group aims for (capped by the
	// number of live nodes). Default 3.
	TargetReplicas int
	// MaintenanceInterval: how often leaders check replication, splits and
	// the range directory. Default 2s.
	MaintenanceInterval time.Duration
	// ReplicaGCInterval: a follower that heard nothing from its group for
	// this long asks the range directory whether it is still a member, and
	// removes itself if a newer descriptor no longer lists it (it missed
	// its removal, e.g. while partitioned). Default 1 minute.
	ReplicaGCInterval time.Duration
	// DialOptions for peer connections (credentials arrive with TLS).
	DialOptions []grpc.DialOption
	// Network simulates the WAN on Raft traffic between nodes: latency by
	// the regions of the nodes' descriptors (--latency) and, through its
	// Faults, partitions, loss and extra delay. Nil: none, at the cost of
	// a nil check per message. TestingKnobs.Faults, if set, replaces the
	// network's faults.
	Network *netsim.Network
	// Now is the monotonic clock used for leases and liveness; default
	// time.Now (whose readings carry Go's monotonic clock).
	Now func() time.Time

	TestingKnobs TestingKnobs
}

// TestingKnobs break or observe the system on purpose. Never set outside
// tests.
type TestingKnobs struct {
	// Faults injects partitions and drops into the transport. Nil: none,
	// at no cost.
	Faults *Faults
	// UnsafeReadsWithoutLease serves reads from any replica, leader or
	// not, without a lease. The negative control of the linearizability
	// checker: it must make the checker fail.
	UnsafeReadsWithoutLease bool
	// DisableMaintenance turns off automatic up-replication, splits and
	// log truncation so that tests drive them by hand.
	DisableMaintenance bool
}

// DefaultSplitSizeBytes is the size past which a group splits, unless
// Options.SplitSizeBytes says otherwise.
const DefaultSplitSizeBytes = 512 << 20

// EnsureDefaults fills zero fields with defaults.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TickInterval == 0 {
		o.TickInterval = 100 * time.Millisecond
	}
	if o.HeartbeatTicks == 0 {
		o.HeartbeatTicks = 2
	}
	if o.ElectionTicks == 0 {
		o.ElectionTicks = 10
	}
	if o.SupportDuration == 0 {
		o.SupportDuration = 1500 * time.Millisecond
	}
	if o.MaxClockDrift == 0 {
		o.MaxClockDrift = 1e-3
	}
	if o.LeaseMargin == 0 {
		o.LeaseMargin = 50 * time.Millisecond
	}
	if o.Workers == 0 {
		o.Workers = 16
	}
	if o.LogKeepEntries == 0 {
		o.LogKeepEntries = 10000
	}
	if o.SplitSizeBytes == 0 {
		o.SplitSizeBytes = DefaultSplitSizeBytes
	}
	if o.TargetReplicas == 0 {
		o.TargetReplicas = 3
	}
	if o.MaintenanceInterval == 0 {
		o.MaintenanceInterval = 2 * time.Second
	}
	if o.ReplicaGCInterval == 0 {
		o.ReplicaGCInterval = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	switch {
	case o.NodeID == 0:
		return errors.New("paxosgroup: Options.NodeID is required")
	case o.Engine == nil:
		return errors.New("paxosgroup: Options.Engine is required")
	case o.StateMachine == nil:
		return errors.New("paxosgroup: Options.StateMachine is required")
	case o.HeartbeatTicks >= o.ElectionTicks:
		return errors.Newf("paxosgroup: HeartbeatTicks (%d) must be below ElectionTicks (%d)", o.HeartbeatTicks, o.ElectionTicks)
	case o.MaxClockDrift <= 0 || o.MaxClockDrift >= 0.1:
		return errors.Newf("paxosgroup: MaxClockDrift %g out of range (0, 0.1)", o.MaxClockDrift)
	case o.leaseDuration() <= 0:
		return errors.Newf("paxosgroup: SupportDuration %s too short for LeaseMargin %s", o.SupportDuration, o.LeaseMargin)
	}
	return nil
}

// leaseDuration is how long after sending a heartbeat that a peer
// acknowledged the leader may count on that peer's support, on the
// leader's clock. The peer's promise starts no earlier than the send and
// lasts SupportDuration of the peer's clock; with relative drift ρ that is
// at least SupportDuration·(1-2ρ) of ours.
func (o *Options) leaseDuration() time.Duration {
	return time.Duration(float64(o.SupportDuration)*(1-2*o.MaxClockDrift)) - o.LeaseMargin
}
