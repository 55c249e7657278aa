package main

import (
	"context"
	"io"

	"github.com/cockroachdb/errors"
	txnbench "github.com/meridiandb/meridian/bench/txn"
)

// runBenchTxn is `meridian bench txn`: transactions through KV.Txn (see
// package bench/txn).
func runBenchTxn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench txn", stderr)
	var cfg txnbench.Config
	cfg.RegisterFlags(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Newf("bench txn takes no arguments, got %q", fs.Args())
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	_, err := txnbench.Run(ctx, cfg, stdout)
	return err
}
