package main

import (
	"context"
	"io"

	"github.com/cockroachdb/errors"
	sqlbench "github.com/meridiandb/meridian/bench/sql"
)

// runBenchSQL is `meridian bench sql`: point selects, inserts and bulk
// loads through the database/sql driver (see package bench/sql).
func runBenchSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench sql", stderr)
	var cfg sqlbench.Config
	cfg.RegisterFlags(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Newf("bench sql takes no arguments, got %q", fs.Args())
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	_, err := sqlbench.Run(ctx, cfg, stdout)
	return err
}
