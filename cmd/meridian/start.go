package main

import (
	"context"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/meridiandb/meridian/truetime"

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
	var clock truetime.Options
	clock.RegisterFlags(fs)
	timeMaster := fs.String("time-master", "", "also run an NTP time master on this UDP `HOST:PORT`")
	tmUncertainty := fs.Duration("time-master-uncertainty", time.Millisecond, "uncertainty the embedded time master declares")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	tuneGC()
	n, err := server.Start(server.Config{
		StoreDir: *store, ListenAddr: *listen, AdvertiseAddr: *advertise, HTTPAddr: *httpAddr,
		Region: *region, Zone: *zone, Join: splitList(*join), Logger: logger,
		Clock: clock, TimeMasterAddr: *timeMaster, TimeMasterUncertainty: *tmUncertainty,
		MySQLAddr: *mysqlAddr,
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

// tuneGC trades memory for CPU: a node allocates per request and Raft
// entry, and at the default GOGC=100 garbage collection took ~17% of a
// leaseholder's CPU under load. 400 cut that to a few percent in the KV
// benchmark (docs/BENCHMARKS.md). A GOGC set in the environment wins.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
