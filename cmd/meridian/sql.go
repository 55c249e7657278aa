package main

import (
	"context"
	"database/sql"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/driver"
	"github.com/meridiandb/meridian/sql/shell"
)

const defaultSQLURL = "meridian://root@127.0.0.1:7400/"

// runSQL runs the SQL shell against a node: statements from -e, from
// stdin, or typed at a terminal.
func runSQL(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("sql", stderr)
	url := fs.String("url", defaultSQLURL, "node to connect to: meridian://USER@HOST:PORT/DATABASE[?region=R]")
	region := fs.String("region", "", "the `REGION` this client is in (overrides ?region= in --url): under a simulated WAN\n"+
		"(--latency) every statement pays the round trip between it and the node's region")
	exec := fs.String("e", "", "run these statements (separated by ';') and exit")
	format := fs.String("format", string(shell.FormatTable), "output format: table, csv, tsv or json")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Newf("unexpected arguments %q (quote the statements of -e)", fs.Args())
	}
	f, err := shell.ParseFormat(*format)
	if err != nil {
		return err
	}
	cfg, err := driver.ParseDSN(*url)
	if err != nil {
		return err
	}
	if *region != "" {
		cfg.Region = *region
	}
	// The shell prints values as mysql does; as time.Time a DATETIME(3)
	// would lose its trailing zero digits, as float64 1e100 would print
	// as 1e+100.
	cfg.TextValues = true
	connector, err := driver.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	interactive := *exec == "" && shell.IsTerminal(os.Stdin) && shell.IsTerminal(os.Stdout)
	if interactive {
		// Ctrl-C cancels the running statement (the shell catches it),
		// not the session: only SIGTERM ends it.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(context.WithoutCancel(ctx), syscall.SIGTERM)
		defer stop()
	}
	err = shell.Run(ctx, db, shell.Options{Format: f, Exec: *exec, In: stdin, Out: stdout, Err: stderr, Interactive: interactive})
	if errors.Is(err, shell.ErrStatementFailed) {
		return exitCode(1) // the shell printed the error
	}
	return err
}
