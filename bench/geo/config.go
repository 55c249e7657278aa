package geo

import (
	"fmt"
	"time"
)

// Config is one benchmark run. EnsureDefaults fills what is unset;
// Validate checks the rest.
type Config struct {
	// Hosts are gRPC HOST:PORT addresses of nodes; the first is asked for
	// the cluster's topology and receives the setup requests. Run needs
	// one (Validate does not ask, so that flags can be checked before a
	// cluster is started).
	Hosts []string
	// RTT is the round-trip time between two regions that the cluster
	// simulates (the fixed part of --latency, without jitter), from which
	// the floors are computed. Nil: no WAN, every floor 0.
	RTT func(a, b string) time.Duration
	// Latency describes the matrix in the output (--latency's text).
	Latency string
	// ClosesAhead says the cluster's leaders close groups with replicas in
	// other regions ahead of their clocks (--close-ahead above the trips
	// between regions): a replica in the gateway's region then serves
	// strong reads from the closed timestamps it was sent, and their floor
	// has no trip to the leader.
	ClosesAhead bool
	// Clients is the number of concurrent clients per region, one
	// transaction in flight each. Default 1.
	Clients int
	// Warmup is run before each cell and not measured. Default 1s.
	Warmup time.Duration
	// Duration is each cell's (operation × region) measured period.
	// Default 5s.
	Duration time.Duration
	// Ops, when positive, measures this many transactions per client in
	// each cell instead of running for Duration: every row then has
	// samples, however slow the machine. Default 0.
	Ops int
	// Staleness is the bound of the bounded-stale reads and the age of the
	// exact-stale reads. Default 10s.
	Staleness time.Duration
	// ValueSize is the size of the values written, in bytes. Default 256.
	ValueSize int
}

// EnsureDefaults fills the unset fields with the defaults documented on
// them.
func (c *Config) EnsureDefaults() {
	if c.Clients == 0 {
		c.Clients = 1
	}
	if c.Warmup == 0 {
		c.Warmup = time.Second
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Staleness == 0 {
		c.Staleness = 10 * time.Second
	}
	if c.ValueSize == 0 {
		c.ValueSize = 256
	}
	if c.RTT == nil {
		c.RTT = func(a, b string) time.Duration { return 0 }
	}
}

// Validate reports the first problem with c (after EnsureDefaults).
func (c *Config) Validate() error {
	switch {
	case c.Clients < 1:
		return fmt.Errorf("geo: --clients must be at least 1")
	case c.Duration <= 0 || c.Warmup < 0 || c.Ops < 0:
		return fmt.Errorf("geo: --duration must be positive, --warmup and --ops not negative")
	case c.Staleness <= 0:
		return fmt.Errorf("geo: --staleness must be positive")
	case c.ValueSize < 0:
		return fmt.Errorf("geo: negative value size")
	}
	return nil
}
