package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/bench/tpcc"
	"github.com/meridiandb/meridian/sql/shell"
)

// The demo's default geography: DESIGN.md §4's three regions and their
// round-trip times.
const (
	demoRegions = "us-east,us-west,eu-west"
	demoLatency = "us-east/us-west=64ms,us-east/eu-west=88ms,us-west/eu-west=140ms"
	demoDB      = "demo"
	// demoTPCCDB is the database --with tpcc loads.
	demoTPCCDB = "tpcc"
	// demoTPCCLoaders is the number of connections --with tpcc loads
	// through: each INSERT waits a quorum round trip across the WAN, so
	// more of them in flight than bench tpcc init's default keep the
	// nodes busy.
	demoTPCCLoaders = 16
)

// runDemo runs a multi-region cluster in this process, with a time master
// per region and the simulated WAN between them, places every group's
// replicas one per region with the leader in the first, and attaches the
// SQL shell to a node of the first region. It ends, stopping the cluster,
// when the shell does (Ctrl-D, \q, the end of --exec or of piped input).
func runDemo(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	regions := fs.String("regions", demoRegions, "comma-separated `REGIONS`; the shell and the groups' leaders are in the first")
	perRegion := fs.Int("nodes-per-region", 3, "`N` nodes in each region, in zones a, b, c, ...")
	latency := fs.String("latency", demoLatency, "round-trip `TIMES` between the regions (see `meridian start --help`); \"\" for none")
	latencySeed := fs.Uint64("latency-seed", 0, "`N` seeds the simulated WAN's jitter")
	store := fs.String("store", "", "`DIR` for the nodes' stores (default: a temporary directory removed on exit)")
	mysqlAddr := fs.String("mysql-addr", "", "also serve the MySQL protocol on `HOST:PORT`, through the first node")
	exec := fs.String("exec", "", "run these `STATEMENTS` (separated by ';') in the shell and exit")
	format := fs.String("format", string(shell.FormatTable), "shell output format: table, csv, tsv or json")
	with := fs.String("with", "", "load a `DATASET` before the shell opens: tpcc[:W], TPC-C's initial population for W warehouses\n"+
		"(default 1) in database "+demoTPCCDB+", as `meridian bench tpcc init` loads it")
	basePort := fs.Int("base-port", 7400, "node i (from 0) listens on gRPC `PORT`+10·i and HTTP PORT+10·i+1, the time master of region r on UDP PORT+10·r+2; 0 picks free ports")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	// Hidden: a smaller TPC-C population (ITEMS,CUSTOMERS per district),
	// so that tests of --with tpcc load in seconds.
	tpccScale := fs.String("testing-tpcc-scale", "", "")
	fs.Usage = usageWithoutTesting(fs, "Usage: meridian demo [flags]\n\n"+
		"Runs a multi-region cluster in this process with the SQL shell attached.\n\n")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Newf("unexpected arguments %q (quote the statements of --exec)", fs.Args())
	}
	opts := demoOptions{regions: splitList(*regions), nodesPerRegion: *perRegion, store: *store,
		mysqlAddr: *mysqlAddr, basePort: *basePort, database: demoDB}
	if len(opts.regions) == 0 || opts.nodesPerRegion < 1 {
		return errors.New("demo: --regions needs a region and --nodes-per-region at least 1")
	}
	if opts.store != "" && opts.basePort == 0 {
		// The stores remember the nodes' addresses; on new ports a restarted
		// cluster would not find itself.
		return errors.New("demo: --store needs a fixed --base-port")
	}
	data, err := parseDemoData(*with, *tpccScale)
	if err != nil {
		return err
	}
	f, err := shell.ParseFormat(*format)
	if err != nil {
		return err
	}
	if opts.wan, err = parseLatency(*latency, *latencySeed, opts.regions...); err != nil {
		return errors.WithHint(err, "give --latency a matrix naming every region of --regions, or --latency \"\"")
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
	// The banner goes with the results, except under --exec, whose output
	// is the statements' alone.
	banner := stdout
	if *exec != "" {
		banner = stderr
	}
	c.printBanner(banner, time.Since(began), data)

	keepCtx, stopKeeping := context.WithCancel(ctx)
	defer stopKeeping()
	go c.keepPlacement(keepCtx)

	if err := c.loadData(ctx, data, banner, stderr); err != nil {
		return err
	}
	err = c.runShell(ctx, shell.Options{Format: f, Exec: *exec, In: stdin, Out: stdout, Err: stderr})
	fmt.Fprintln(banner, "stopping the demo cluster")
	if errors.Is(err, shell.ErrStatementFailed) {
		return exitCode(1) // the shell printed the error
	}
	return err
}

// demoData is what --with loads.
type demoData struct {
	tpccWarehouses int // 0: no TPC-C
	tpccKnobs      tpcc.TestingKnobs
}

// parseDemoData parses --with (and the hidden --testing-tpcc-scale).
func parseDemoData(with, scale string) (demoData, error) {
	var d demoData
	if with == "" {
		if scale != "" {
			return d, errors.New("demo: --testing-tpcc-scale needs --with tpcc")
		}
		return d, nil
	}
	name, w, hasW := strings.Cut(with, ":")
	if name != "tpcc" {
		return d, errors.Newf("demo: --with %q: the only data set is tpcc[:W]", with)
	}
	d.tpccWarehouses = 1
	if hasW {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			return d, errors.Newf("demo: --with %q: W must be a number of warehouses, at least 1", with)
		}
		d.tpccWarehouses = n
	}
	if scale != "" {
		items, customers, _ := strings.Cut(scale, ",")
		var err1, err2 error
		d.tpccKnobs.Items, err1 = strconv.Atoi(items)
		d.tpccKnobs.CustomersPerDistrict, err2 = strconv.Atoi(customers)
		if err1 != nil || err2 != nil || d.tpccKnobs.Items < 1 || d.tpccKnobs.CustomersPerDistrict < 10 {
			return d, errors.Newf("demo: --testing-tpcc-scale %q: want ITEMS,CUSTOMERS (at least 1 and 10)", scale)
		}
	}
	return d, nil
}

// loadData loads what --with asked for, as a client in the first region,
// with bench/tpcc's loader: its progress bar goes to progress, its summary
// to out.
func (c *demoCluster) loadData(ctx context.Context, d demoData, out, progress io.Writer) error {
	if d.tpccWarehouses == 0 {
		return nil
	}
	cfg := tpcc.Config{URL: c.url(demoTPCCDB), Warehouses: d.tpccWarehouses, Loaders: demoTPCCLoaders, TestingKnobs: d.tpccKnobs}
	fmt.Fprintf(out, "Loading TPC-C, %d warehouse(s), into database %s:\n", d.tpccWarehouses, demoTPCCDB)
	if err := tpcc.Init(ctx, cfg, out, progress); err != nil {
		return errors.Wrap(err, "demo: --with tpcc")
	}
	return nil
}

// usageWithoutTesting prints fs's flags as flag.PrintDefaults does, less
// the testing- ones, which only tests pass.
func usageWithoutTesting(fs *flag.FlagSet, title string) func() {
	return func() {
		out := fs.Output()
		fmt.Fprint(out, title)
		shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		shown.SetOutput(out)
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.HasPrefix(f.Name, "testing-") {
				shown.Var(f.Value, f.Name, f.Usage)
				shown.Lookup(f.Name).DefValue = f.DefValue
			}
		})
		shown.PrintDefaults()
	}
}

// runShell attaches the SQL shell to the first node, as a client in the
// first region, as `meridian sql` would.
func (c *demoCluster) runShell(ctx context.Context, opts shell.Options) error {
	db, err := c.open(demoDB)
	if err != nil {
		return err
	}
	defer db.Close()
	opts.Interactive = opts.Exec == "" && shell.IsTerminal(os.Stdin) && shell.IsTerminal(os.Stdout)
	if opts.Interactive {
		// Ctrl-C cancels the running statement, not the demo.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(context.WithoutCancel(ctx), syscall.SIGTERM)
		defer stop()
	}
	return shell.Run(ctx, db, opts)
}

// printBanner shows the topology, every address and the data set --with
// is about to load.
func (c *demoCluster) printBanner(w io.Writer, took time.Duration, data demoData) {
	nr := len(c.opts.regions)
	fmt.Fprintf(w, "Meridian demo: %d regions × %d nodes in one process, started in %.1fs\n",
		nr, c.opts.nodesPerRegion, took.Seconds())
	if c.opts.wan != nil {
		fmt.Fprintf(w, "Simulated WAN (round trips): %s\n", c.opts.wan.Latency())
	} else {
		fmt.Fprintln(w, "Simulated WAN: off")
	}
	fmt.Fprintf(w, "Every group has a voter in each region; leaders prefer %s.\n", c.opts.regions[0])
	if c.tempDir {
		fmt.Fprintf(w, "Stores in %s (removed on exit).\n", c.dir)
	} else {
		fmt.Fprintf(w, "Stores in %s.\n", c.dir)
	}
	for r, region := range c.opts.regions {
		fmt.Fprintf(w, "\n  %s (time master udp %s)\n", region, c.masters[r])
		for i := r; i < len(c.nodes); i += nr {
			n := c.nodes[i]
			fmt.Fprintf(w, "    node %d  zone %s  gRPC %-15s  HTTP http://%s", n.NodeID(), c.zone(i), n.Addr(), n.HTTPAddr())
			if i == 0 && c.opts.mysqlAddr != "" {
				fmt.Fprintf(w, "  MySQL %s", n.MySQLAddr())
			}
			fmt.Fprintln(w)
		}
	}
	other := c.nodes[len(c.nodes)-1]
	fmt.Fprintf(w, "\nThe shell is a client in %s on node 1 (%s).\n"+
		"From another terminal (meridian is `go run ./cmd/meridian` in a checkout), e.g. as a client in %s:\n"+
		"  meridian sql --url \"meridian://root@%s/%s\" --region %s\n",
		c.opts.regions[0], c.url(demoDB), c.region(len(c.nodes)-1), other.Addr(), demoDB, c.region(len(c.nodes)-1))
	if c.opts.mysqlAddr != "" {
		host, port, _ := strings.Cut(c.nodes[0].MySQLAddr(), ":")
		fmt.Fprintf(w, "  mariadb -h %s -P %s -u root %s\n", host, port, demoDB)
		fmt.Fprintf(w, "  (a MySQL client declares its region with the connection attribute region,\n"+
			"  e.g. go-sql-driver/mysql's connectionAttributes=region:%s; the mariadb CLI cannot)\n", c.region(len(c.nodes)-1))
	}
	if data.tpccWarehouses > 0 {
		fmt.Fprintf(w, "\nTPC-C: %d warehouse(s) load into database %s below; then, from another terminal:\n"+
			"  meridian bench tpcc run --url \"%s\" --warehouses %d --duration 1m\n",
			data.tpccWarehouses, demoTPCCDB, c.url(demoTPCCDB), data.tpccWarehouses)
	}
	fmt.Fprintln(w, "\nCtrl-D or \\q stops the cluster.")
}
