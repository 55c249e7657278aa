package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/cockroachdb/errors"
	_ "github.com/go-sql-driver/mysql" // registers "mysql" for --url mysql://
	"github.com/meridiandb/meridian/bench/tpcc"
	_ "github.com/meridiandb/meridian/driver" // registers "meridian"
)

const benchTPCCUsage = `Usage:
  meridian bench tpcc init|run|check --warehouses N [--url URL]
                     [--duration D] [--ramp D] [--terminals N] [--wait] [--json FILE] [--loaders N]

URL is meridian://USER@HOST:PORT/DB or mysql://USER[:PASS]@HOST:PORT/DB.
init (re)creates and loads the nine tables, run drives the workload and
prints tpmC, check verifies consistency conditions 1-4 (non-zero exit when
one fails).
`

// runBenchTPCC is `meridian bench tpcc init|run|check` (package bench/tpcc).
func runBenchTPCC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var action string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	fs := newFlagSet("bench tpcc", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchTPCCUsage)
		fs.PrintDefaults()
	}
	var cfg tpcc.Config
	cfg.RegisterFlags(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if action == "" && fs.NArg() > 0 {
		action = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return errors.Newf("bench tpcc %s: unexpected arguments %q", action, fs.Args())
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	switch action {
	case "init":
		return tpcc.Init(ctx, cfg, stdout, stderr)
	case "run":
		_, err := tpcc.Run(ctx, cfg, stdout, stderr)
		return err
	case "check":
		return tpcc.Check(ctx, cfg, stdout)
	default:
		fs.Usage()
		return errors.Newf("bench tpcc needs init, run or check, got %q", action)
	}
}
