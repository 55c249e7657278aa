package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/bench/geo"
)

const benchLatencyUsage = `Usage: meridian bench latency [--duration D] [--clients N] [--latency SPEC] [--json FILE]

Starts the demo's cluster in this process (meridian demo: 3 regions × 3
nodes, the simulated WAN, a time master per region), splits two groups off,
leads one from the first region and one from the second, and measures from
a client in each region, one row at a time: strong read-only transactions,
bounded- and exact-stale reads, single-group read-write commits and
two-phase read-write commits across the two groups. Each latency is printed
beside its floor, the WAN time the matrix makes unavoidable for it.

`

// runBenchLatency is `meridian bench latency` (package bench/geo).
func runBenchLatency(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench latency", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchLatencyUsage)
		fs.PrintDefaults()
	}
	regions := fs.String("regions", demoRegions, "comma-separated `REGIONS` of the cluster; group A leads from the first, group B from the second")
	perRegion := fs.Int("nodes-per-region", 3, "`N` nodes in each region")
	latency := fs.String("latency", demoLatency, "round-trip `TIMES` between the regions, as for meridian demo; \"\" for none")
	duration := fs.Duration("duration", 5*time.Second, "measured period of each row (operation × client region); the run takes about 15 rows × (--warmup + D)")
	warmup := fs.Duration("warmup", time.Second, "unmeasured warm-up before each row")
	ops := fs.Int("ops", 0, "measure `N` transactions per client in each row instead of running for --duration")
	clients := fs.Int("clients", 1, "concurrent clients per region, one transaction in flight each")
	staleness := fs.Duration("staleness", 10*time.Second, "bound of the bounded-stale reads and age of the exact-stale reads")
	jsonFile := fs.String("json", "", "also write the results to this `FILE` as JSON")
	logLevel := fs.String("log-level", "warn", "log level of the cluster: debug, info, warn, error")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Newf("bench latency takes no arguments, got %q", fs.Args())
	}
	cfg := geo.Config{Clients: *clients, Warmup: *warmup, Duration: *duration, Ops: *ops, Staleness: *staleness, Latency: *latency}
	opts := demoOptions{regions: splitList(*regions), nodesPerRegion: *perRegion}
	if len(opts.regions) == 0 || opts.nodesPerRegion < 1 {
		return errors.New("bench latency: --regions needs a region and --nodes-per-region at least 1")
	}
	var err error
	if opts.wan, err = parseLatency(*latency, 0, opts.regions...); err != nil {
		return errors.WithHint(err, "give --latency a matrix naming every region of --regions, or --latency \"\"")
	}
	if opts.wan != nil {
		m := opts.wan.Latency()
		cfg.RTT = func(a, b string) time.Duration { rtt, _ := m.RTT(a, b); return rtt }
	}
	// The demo cluster across regions closes ahead (demoCloseAhead).
	cfg.ClosesAhead = len(opts.regions) > 1
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if opts.logger, err = newLogger(stderr, *logLevel); err != nil {
		return err
	}
	tuneGC()

	began := time.Now()
	c, err := startDemo(ctx, opts)
	if c != nil {
		defer c.stop()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cluster: %d regions × %d nodes in this process, started in %.1fs\n",
		len(opts.regions), opts.nodesPerRegion, time.Since(began).Seconds())
	if cfg.ClosesAhead {
		fmt.Fprintf(stdout, "leaders close groups with replicas in other regions ahead of their clocks (--close-ahead %s)\n", demoCloseAhead)
	}
	cfg.Hosts = []string{c.nodes[0].Addr()}
	res, err := geo.Run(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	if *jsonFile != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o644); err != nil {
			return errors.Wrap(err, "bench latency: --json")
		}
	}
	return nil
}
