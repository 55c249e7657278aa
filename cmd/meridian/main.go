// Command meridian is Meridian's command-line tool: it runs nodes, time
// masters and the local demo, and talks to a running cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cockroachdb/errors"
)

const usage = `Meridian: a geo-distributed, strictly serializable database.

Usage:
  meridian start --store DIR [--listen HOST:PORT] [--http-addr HOST:PORT]
                 [--region R] [--zone Z] [--join HOST:PORT,...] [--mysql-addr HOST:PORT]
  meridian init --host HOST:PORT
  meridian kv put|get|del|scan|txn --host HOST:PORT ...
  meridian status --host HOST:PORT [--format text|json]
  meridian sql [--url meridian://USER@HOST:PORT/DB] [-e SQL] [--format table|csv|tsv|json]
  meridian demo
  meridian timemaster --listen HOST:PORT [--uncertainty DUR]
  meridian bench kv --host HOST:PORT,... --op put|get --clients N --conns N --total N [--groups N]

Run "meridian COMMAND --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		fmt.Fprintln(os.Stderr, "meridian:", err)
		os.Exit(1)
	}
}

// exitCode ends the process with a status and no further message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "start":
		return runStart(ctx, rest, stderr)
	case "init":
		return runInit(ctx, rest, stdout)
	case "kv":
		return runKV(ctx, rest, os.Stdin, stdout, stderr)
	case "status":
		return runStatus(ctx, rest, stdout)
	case "sql":
		return runSQL(ctx, rest, os.Stdin, stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, os.Stdin, stdout, stderr)
	case "timemaster":
		return runTimemaster(ctx, rest)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return errors.Newf("unknown command %q", cmd)
	}
}

// newFlagSet returns a flag set whose errors are returned, not printed
// and exited on.
func newFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// parseFlags parses args; -h is not an error.
func parseFlags(fs *flag.FlagSet, args []string) (bool, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, err
	}
	return false, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, errors.Newf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
