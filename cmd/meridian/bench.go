package main

import (
	"context"
	"fmt"
	"io"

	"github.com/cockroachdb/errors"
	kvbench "github.com/meridiandb/meridian/bench/kv"
)

const benchUsage = `Usage:
  meridian bench kv --host HOST:PORT,HOST:PORT,... --op put|get --clients N --conns N
                    (--total N | --total 0 --duration D) --key-size 8 --val-size 256
                    [--key-space N] [--sequential-keys] [--groups N]
  meridian bench txn --host HOST:PORT,... --workload put|ro|rw1|w1|2pc|rw2 --clients N
                     [--gateway all|follower|leader] [--groups N] [--leaders spread|N]
                     [--warmup D] [--duration D] [--read-ago D | --max-staleness D]
  meridian bench sql --url meridian://USER@HOST:PORT/DB --workload select|insert|bulk
                     --clients N [--rows N] [--batch N] [--warmup D] [--duration D]
  meridian bench tpcc init|run|check --warehouses N --url URL [--duration D] [--json FILE]
  meridian bench latency [--duration D] [--clients N] [--latency SPEC] [--json FILE]

Run "meridian bench kv|txn|sql|tpcc|latency --help" for every flag.
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return errors.New("bench needs a workload: kv, txn, sql, tpcc or latency")
	}
	// A load generator allocates per request as a node does; the CPU it
	// spends collecting garbage is taken from the system it measures on
	// the same machine (15% more reads at 1,000 clients with 400).
	tuneGC()
	switch args[0] {
	case "kv":
		return runBenchKV(ctx, args[1:], stdout, stderr)
	case "txn":
		return runBenchTxn(ctx, args[1:], stdout, stderr)
	case "sql":
		return runBenchSQL(ctx, args[1:], stdout, stderr)
	case "tpcc":
		return runBenchTPCC(ctx, args[1:], stdout, stderr)
	case "latency":
		return runBenchLatency(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, benchUsage)
		return errors.Newf("unknown bench workload %q", args[0])
	}
}

func runBenchKV(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench kv", stderr)
	var cfg kvbench.Config
	cfg.RegisterFlags(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Newf("bench kv takes no arguments, got %q", fs.Args())
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	_, err := kvbench.Run(ctx, cfg, stdout)
	return err
}
