package main

import (
	"context"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/netsim"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/storage"
	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/txn"

	"github.com/meridiandb/meridian/server"
)

// runStart runs a node until SIGTERM or SIGINT, then shuts it down
// gracefully.
func runStart(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("start", stderr)
	store := fs.String("store", "", "data directory of this node (required)")
	listen := fs.String("listen", "127.0.0.1:7400", "gRPC `HOST:PORT` for clients and peers")
	advertise := fs.String("advertise", "", "gRPC `HOST:PORT` peers and clients should use (default: --listen)")
	httpAddr := fs.String("http-addr", "127.0.0.1:7401", "HTTP `HOST:PORT` for /healthz, /metrics and /status")
	region := fs.String("region", "local", "region of this node")
	zone := fs.String("zone", "a", "zone of this node within its region")
	join := fs.String("join", "", "comma-separated `HOST:PORT` list of cluster nodes to join")
	mysqlAddr := fs.String("mysql-addr", "", "also serve the MySQL protocol on `HOST:PORT` (default: off)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	cache := fs.String("cache", "1GiB", "block cache `SIZE` (bytes, or with KiB, MiB, GiB): memory for the data queries read")
	splitSize := fs.String("split-size", "512MiB", "a group splits in two when its data grows past `SIZE` (bytes, or with KiB, MiB, GiB); a transaction that writes one group commits in one Raft round")
	gcTTL := fs.Duration("gc-ttl", server.DefaultGCTTL, "how long old versions are kept: snapshot reads (AS OF TIMESTAMP, stale reads) may go back this far, and older versions are garbage collected")
	closeAhead := fs.Duration("close-ahead", txn.DefaultCloseAhead, "how far past its clock a leader may close timestamps. In a cluster across regions, set it above the\n"+
		"largest one-way trip between regions plus 25ms on every node: leaders then close groups with replicas in other\n"+
		"regions that far ahead, so strong reads anywhere are served by the nearest replica, and writes there commit-wait\n"+
		"about one trip (overlapping replication); a new leader's first writes wait up to this long")
	var clock truetime.Options
	clock.RegisterFlags(fs)
	timeMaster := fs.String("time-master", "", "also run an NTP time master on this UDP `HOST:PORT`")
	latency := fs.String("latency", "", "simulate a WAN: round-trip `TIMES` between regions, e.g. \"us-east/us-west=64ms,us-east/eu-west=88ms~4ms,us-west/eu-west=140ms\"\n"+
		"(~ adds random jitter); delays Raft and node-to-node traffic, and clients that declare their region (?region=).\n"+
		"Give every node the same matrix; it must name --region (default: off)")
	latencySeed := fs.Uint64("latency-seed", 0, "`N` seeds the simulated WAN's jitter, for replayable runs")
	tmUncertainty := fs.Duration("time-master-uncertainty", time.Millisecond, "uncertainty the embedded time master declares")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	wan, err := parseLatency(*latency, *latencySeed, *region)
	if err != nil {
		return err
	}
	if *closeAhead < 0 || *closeAhead > 10*time.Second {
		return errors.Newf("--close-ahead %s: give a duration between 0 and 10s", *closeAhead)
	}
	if *gcTTL < time.Minute {
		return errors.Newf("--gc-ttl %s: keep old versions for at least 1m (snapshot reads and long read-only transactions need them)", *gcTTL)
	}
	cacheSize, err := parseSize(*cache)
	if err != nil {
		return errors.Wrap(err, "--cache")
	}
	splitBytes, err := parseSize(*splitSize)
	if err != nil {
		return errors.Wrap(err, "--split-size")
	}
	if splitBytes < 1<<20 {
		return errors.Newf("--split-size %s: give at least 1MiB (smaller groups split on every few writes)", *splitSize)
	}
	if *closeAhead == 0 {
		*closeAhead = -1 // the server's zero means its default
	}
	tuneGC()
	n, err := server.Start(server.Config{
		StoreDir: *store, ListenAddr: *listen, AdvertiseAddr: *advertise, HTTPAddr: *httpAddr,
		Region: *region, Zone: *zone, Join: splitList(*join), Logger: logger,
		Clock: clock, TimeMasterAddr: *timeMaster, TimeMasterUncertainty: *tmUncertainty,
		MySQLAddr: *mysqlAddr, Network: wan, Storage: storage.Options{CacheSize: cacheSize}, GCTTL: *gcTTL,
		TxnCloseAhead: *closeAhead,
		Paxos:         paxosgroup.Options{SplitSizeBytes: splitBytes},
	})
	if err != nil {
		return err
	}
	logger.Info("listening", "grpc", n.Addr(), "http", n.HTTPAddr())
	<-ctx.Done()
	logger.Info("shutting down")
	n.Stop()
	return nil
}

// parseLatency builds the simulated WAN of --latency: nil (no simulation,
// no cost) for an empty spec. Every region given must be in the matrix, so
// that a misspelt --region fails instead of running without delays.
func parseLatency(spec string, seed uint64, regions ...string) (*netsim.Network, error) {
	m, err := netsim.ParseLatency(spec)
	if err != nil {
		return nil, errors.Wrap(err, "--latency")
	}
	if m == nil {
		return nil, nil
	}
	if err := m.Validate(regions...); err != nil {
		return nil, errors.Wrap(err, "--latency")
	}
	return netsim.New(netsim.Options{Latency: m, Seed: seed}), nil
}

// tuneGC trades memory for CPU: a node allocates per request and Raft
// entry, and at the default GOGC=100 garbage collection took ~17% of a
// leaseholder's CPU under load. 400 cut that to a few percent in the KV
// benchmark (docs/BENCHMARKS.md). The bench commands use it too. A GOGC
// set in the environment wins.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// parseSize parses a byte count: digits, optionally followed by KiB, MiB
// or GiB.
func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(num, suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, suffix)), m
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, errors.Newf("%q is not a size: give a positive number of bytes, or one with KiB, MiB or GiB (e.g. 512MiB)", s)
	}
	return n * mult, nil
}
