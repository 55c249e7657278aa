package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/truetime/timemaster"
)

// runTimemaster implements `meridian timemaster --listen HOST:PORT
// [--uncertainty DUR]`: an NTP responder declaring its uncertainty, serving
// until ctx is cancelled or the process gets SIGTERM/SIGINT.
func runTimemaster(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("timemaster", flag.ContinueOnError)
	listen := fs.String("listen", "", "UDP `HOST:PORT` to answer NTP requests on (required; port 0 picks a free port)")
	uncertainty := fs.Duration("uncertainty", time.Millisecond,
		"uncertainty this master declares about its clock (NTP root dispersion); must cover the host clock's real error")
	logLevel := fs.String("log-level", "info", "log level: debug (logs every dropped packet), info, warn, error")
	// Hidden: makes this master lie by the given offset, for fault tests.
	testingOffset := fs.Duration("testing-offset", 0, "")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: meridian timemaster --listen HOST:PORT [--uncertainty DUR]\n\n"+
			"Runs a time master: an NTP server (RFC 5905, modes 3/4) that Meridian nodes poll\n"+
			"with --time-masters. Any NTP client can query it, e.g. `ntpdig 127.0.0.1:PORT`.\n\n")
		fs.VisitAll(func(f *flag.Flag) {
			if strings.HasPrefix(f.Name, "testing-") {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(out, "  --%s %s\n    \t%s", f.Name, name, usage)
			if f.DefValue != "" && f.DefValue != "0" {
				fmt.Fprintf(out, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return errors.Newf("timemaster: unexpected arguments %q", fs.Args())
	}
	if *listen == "" {
		fs.Usage()
		return errors.New("timemaster: --listen HOST:PORT is required")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return errors.Wrapf(err, "timemaster: --log-level")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return serveTimemaster(ctx, logger, *listen, timemaster.Options{
		Uncertainty:   *uncertainty,
		Logger:        logger,
		TestingOffset: *testingOffset,
	})
}

func serveTimemaster(ctx context.Context, logger *slog.Logger, listen string, opts timemaster.Options) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := timemaster.New(opts)
	if err != nil {
		return err
	}
	conn, err := timemaster.Listen(listen)
	if err != nil {
		return err
	}
	attrs := []any{"addr", conn.LocalAddr().String(), "uncertainty", srv.Uncertainty()}
	if opts.TestingOffset != 0 {
		attrs = append(attrs, "testing_offset", opts.TestingOffset)
		logger.Warn("time master lies on purpose (--testing-offset); never use this outside tests", "offset", opts.TestingOffset)
	}
	logger.Info("time master listening", attrs...)
	err = srv.Serve(ctx, conn)
	st := srv.Stats()
	logger.Info("time master stopped", "answered", st.Answered, "dropped", st.Dropped,
		"read_errors", st.ReadErrors, "send_errors", st.SendErrors)
	return err
}
