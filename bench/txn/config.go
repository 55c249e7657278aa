package txnbench

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Workloads, by name.
const (
	// WorkloadPut is a single-key replicated KV.Put (the baseline the
	// read-write targets are relative to).
	WorkloadPut = "put"
	// WorkloadRO is a read-only snapshot transaction that gets one key in
	// each of Groups groups.
	WorkloadRO = "ro"
	// WorkloadRW1 is a read-write transaction in one group: get a key,
	// put it (one-phase commit with a read lock).
	WorkloadRW1 = "rw1"
	// WorkloadW1 is a write-only transaction of one key (one-phase commit).
	WorkloadW1 = "w1"
	// Workload2PC is a write-only transaction putting one key in each of
	// two groups (two-phase commit).
	Workload2PC = "2pc"
	// WorkloadRW2 gets and puts one key in each of two groups (2PC with
	// read locks).
	WorkloadRW2 = "rw2"
)

var workloads = []string{WorkloadPut, WorkloadRO, WorkloadRW1, WorkloadW1, Workload2PC, WorkloadRW2}

// Config is one benchmark run. RegisterFlags sets the defaults listed on
// each field; Validate checks a filled-in Config.
type Config struct {
	// Hosts are gRPC HOST:PORT addresses of the nodes. Default
	// 127.0.0.1:7400.
	Hosts []string
	// Workload is one of the Workload constants. Default ro.
	Workload string
	// Gateway chooses which of Hosts the clients send to: "all" (client i
	// to the gateway i mod len), "follower" (nodes that lead none of the
	// benchmark's groups), "leader" (the node leading group 0). Default all.
	Gateway string
	// Clients is the number of concurrent clients, one transaction in
	// flight each. Default 1.
	Clients int
	// Conns is the number of gRPC connections per gateway. Default 1.
	Conns int
	// Warmup is run first and not measured. Default 3s.
	Warmup time.Duration
	// Duration is the measured period. Default 20s.
	Duration time.Duration
	// Groups is the number of groups the benchmark's keys are split into
	// (group g holds keys 'x', two digits of g, '-', eight digits). Default 3.
	Groups int
	// KeysPerGroup is the number of distinct keys in each group. Default
	// 10,000.
	KeysPerGroup int
	// ValSize is the value length in bytes. Default 256.
	ValSize int
	// Preload writes every key once before the run (reads need it;
	// a second run against the same cluster can skip it). Default true.
	Preload bool
	// Leaders places the groups' leaders: "" leaves them, "spread" moves
	// group g's leader to the g-th node (by node ID, modulo the node
	// count), "N" moves every group's leader to node N. Default "".
	Leaders string
	// ReadAgo makes ro an exact stale read at now minus ReadAgo (the
	// client's clock). Default 0: strong (TT.Now().latest at the gateway).
	ReadAgo time.Duration
	// MaxStaleness makes ro a bounded-stale read. Default 0.
	MaxStaleness time.Duration
	// Metrics scrapes the nodes' /metrics before and after the measured
	// period and prints the transaction histograms' deltas. Default true.
	Metrics bool
}

// RegisterFlags binds the Config's fields to flags with the defaults
// documented on the fields.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Hosts = []string{"127.0.0.1:7400"}
	fs.Func("host", "comma-separated gRPC `HOST:PORT` list of nodes (default 127.0.0.1:7400)", func(s string) error {
		c.Hosts = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.Hosts = append(c.Hosts, p)
			}
		}
		return nil
	})
	fs.StringVar(&c.Workload, "workload", WorkloadRO, "workload: "+strings.Join(workloads, ", "))
	fs.StringVar(&c.Gateway, "gateway", "all", "which hosts the clients send to: all, follower (leads none of the groups), leader (leads group 0)")
	fs.IntVar(&c.Clients, "clients", 1, "concurrent clients, one transaction in flight each")
	fs.IntVar(&c.Conns, "conns", 1, "gRPC connections per gateway")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "unmeasured warm-up")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "measured period")
	fs.IntVar(&c.Groups, "groups", 3, "groups the benchmark keys are split into")
	fs.IntVar(&c.KeysPerGroup, "keys-per-group", 10000, "distinct keys per group")
	fs.IntVar(&c.ValSize, "val-size", 256, "value size in bytes")
	fs.BoolVar(&c.Preload, "preload", true, "write every key once before the run (--preload=false: the keys are there from an earlier run)")
	fs.StringVar(&c.Leaders, "leaders", "", `leader placement: "" (leave), spread (group g on the g-th node), or a node ID for all`)
	fs.DurationVar(&c.ReadAgo, "read-ago", 0, "ro: exact stale read at now minus this (0: strong read)")
	fs.DurationVar(&c.MaxStaleness, "max-staleness", 0, "ro: bounded-stale read with this bound (0: strong read)")
	fs.BoolVar(&c.Metrics, "metrics", true, "print deltas of the nodes' transaction metrics over the measured period")
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	need := 1
	switch c.Workload {
	case WorkloadRO:
		need = c.Groups
	case Workload2PC, WorkloadRW2:
		need = 2
	}
	switch {
	case len(c.Hosts) == 0:
		return fmt.Errorf("txnbench: --host needs at least one HOST:PORT")
	case !slices.Contains(workloads, c.Workload):
		return fmt.Errorf("txnbench: --workload %q: want one of %s", c.Workload, strings.Join(workloads, ", "))
	case c.Gateway != "all" && c.Gateway != "follower" && c.Gateway != "leader":
		return fmt.Errorf("txnbench: --gateway %q: want all, follower or leader", c.Gateway)
	case c.Clients < 1 || c.Conns < 1:
		return fmt.Errorf("txnbench: --clients and --conns must be at least 1")
	case c.Duration <= 0:
		return fmt.Errorf("txnbench: --duration must be positive")
	case c.Groups < 1 || c.Groups > 99:
		return fmt.Errorf("txnbench: --groups %d: want 1 to 99", c.Groups)
	case c.Groups < need:
		return fmt.Errorf("txnbench: --workload %s needs --groups %d or more", c.Workload, need)
	case c.KeysPerGroup < 1 || c.KeysPerGroup > 1e8:
		return fmt.Errorf("txnbench: --keys-per-group %d: want 1 to 10^8", c.KeysPerGroup)
	case c.ValSize < 0:
		return fmt.Errorf("txnbench: --val-size must not be negative")
	case c.ReadAgo > 0 && c.MaxStaleness > 0:
		return fmt.Errorf("txnbench: give --read-ago or --max-staleness, not both")
	}
	return nil
}

// key returns key i of group g.
func key(g, i int) []byte { return fmt.Appendf(nil, "x%02d-%08d", g, i) }

// splitKey is the first key of group g (g >= 1).
func splitKey(g int) []byte { return fmt.Appendf(nil, "x%02d", g) }
