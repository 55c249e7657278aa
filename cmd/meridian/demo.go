package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/driver"
	"github.com/meridiandb/meridian/netsim"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/sql/shell"
	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/truetime/timemaster"
)

// The demo's default geography: DESIGN.md §4's three regions and their
// round-trip times.
const (
	demoRegions = "us-east,us-west,eu-west"
	demoLatency = "us-east/us-west=64ms,us-east/eu-west=88ms,us-west/eu-west=140ms"
	demoDB      = "demo"
)

// demoOptions are the demo's flags, parsed.
type demoOptions struct {
	regions        []string
	nodesPerRegion int
	wan            *netsim.Network // nil: no simulated latency
	store          string          // "": a temporary directory
	mysqlAddr      string
	basePort       int // 0: any free ports
	logger         *slog.Logger
}

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
	basePort := fs.Int("base-port", 7400, "node i (from 0) listens on gRPC `PORT`+10·i and HTTP PORT+10·i+1, the time master of region r on UDP PORT+10·r+2; 0 picks free ports")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Newf("unexpected arguments %q (quote the statements of --exec)", fs.Args())
	}
	opts := demoOptions{regions: splitList(*regions), nodesPerRegion: *perRegion, store: *store,
		mysqlAddr: *mysqlAddr, basePort: *basePort}
	if len(opts.regions) == 0 || opts.nodesPerRegion < 1 {
		return errors.New("demo: --regions needs a region and --nodes-per-region at least 1")
	}
	if opts.store != "" && opts.basePort == 0 {
		// The stores remember the nodes' addresses; on new ports a restarted
		// cluster would not find itself.
		return errors.New("demo: --store needs a fixed --base-port")
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
	c.printBanner(banner, time.Since(began))

	keepCtx, stopKeeping := context.WithCancel(ctx)
	defer stopKeeping()
	go c.keepPlacement(keepCtx)

	err = c.runShell(ctx, shell.Options{Format: f, Exec: *exec, In: stdin, Out: stdout, Err: stderr})
	fmt.Fprintln(banner, "stopping the demo cluster")
	if errors.Is(err, shell.ErrStatementFailed) {
		return exitCode(1) // the shell printed the error
	}
	return err
}

// demoCluster is the running demo: nodes in start order (zone a of every
// region, then zone b, ...), so that node i is regions[i % len(regions)].
type demoCluster struct {
	opts    demoOptions
	dir     string
	tempDir bool
	nodes   []*server.Node
	masters []string // time master address of each region
	cancel  context.CancelFunc
	wg      sync.WaitGroup // time masters
}

func (c *demoCluster) region(i int) string { return c.opts.regions[i%len(c.opts.regions)] }
func (c *demoCluster) zone(i int) string   { return string(rune('a' + i/len(c.opts.regions))) }

// port is the base port plus off, or 0 (any free port) without a base.
func (c *demoCluster) addr(off int) string {
	if c.opts.basePort == 0 {
		return "127.0.0.1:0"
	}
	return fmt.Sprintf("127.0.0.1:%d", c.opts.basePort+off)
}

// startDemo starts the time masters and nodes, bootstraps the cluster on
// the first node and places its groups. On error the returned cluster, if
// any, still needs stop.
func startDemo(ctx context.Context, opts demoOptions) (*demoCluster, error) {
	mctx, cancel := context.WithCancel(context.Background())
	c := &demoCluster{opts: opts, dir: opts.store, cancel: cancel}
	if c.dir == "" {
		dir, err := os.MkdirTemp("", "meridian-demo-")
		if err != nil {
			cancel()
			return nil, err
		}
		c.dir, c.tempDir = dir, true
	}
	for r := range opts.regions {
		if err := c.startMaster(mctx, c.addr(10*r+2)); err != nil {
			return c, err
		}
	}
	total := len(opts.regions) * opts.nodesPerRegion
	for i := 0; i < total; i++ {
		if err := c.startNode(ctx, i); err != nil {
			return c, err
		}
	}
	pctx, pcancel := context.WithTimeout(ctx, time.Minute)
	defer pcancel()
	if err := c.place(pctx); err != nil {
		return c, err
	}
	return c, c.createDatabase(ctx)
}

// startMaster runs a region's time master, as `meridian timemaster` would.
func (c *demoCluster) startMaster(ctx context.Context, addr string) error {
	m, err := timemaster.New(timemaster.Options{Logger: c.opts.logger})
	if err != nil {
		return err
	}
	conn, err := timemaster.Listen(addr)
	if err != nil {
		return errors.Wrapf(err, "demo: time master on %s (is the port free? try --base-port)", addr)
	}
	c.masters = append(c.masters, conn.LocalAddr().String())
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = m.Serve(ctx, conn)
	}()
	return nil
}

// startNode starts node i, bootstrapping the cluster on node 0 and joining
// the others to it one at a time, so that node IDs follow the start order.
func (c *demoCluster) startNode(ctx context.Context, i int) error {
	cfg := server.Config{
		StoreDir:   filepath.Join(c.dir, fmt.Sprintf("node%d-%s-%s", i+1, c.region(i), c.zone(i))),
		ListenAddr: c.addr(10 * i),
		HTTPAddr:   c.addr(10*i + 1),
		Region:     c.region(i),
		Zone:       c.zone(i),
		Logger:     c.opts.logger,
		Clock:      truetime.Options{Masters: []string{c.masters[i%len(c.opts.regions)]}},
		Network:    c.opts.wan,
		// One voter per region, however many regions (at least three).
		Paxos: paxosgroup.Options{TargetReplicas: max(3, len(c.opts.regions))},
	}
	if i == 0 {
		cfg.MySQLAddr = c.opts.mysqlAddr
	} else {
		cfg.Join = []string{c.nodes[0].Addr()}
	}
	n, err := server.Start(cfg)
	if err != nil {
		return errors.Wrapf(err, "demo: starting node %d (are its ports free? try --base-port)", i+1)
	}
	c.nodes = append(c.nodes, n)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if i == 0 && n.Host() == nil { // a --store from an earlier demo has its cluster
		if _, err := n.Init(wctx); err != nil {
			return errors.Wrap(err, "demo: bootstrapping the cluster")
		}
	}
	select {
	case <-n.Ready():
		return nil
	case <-wctx.Done():
		return errors.Wrapf(wctx.Err(), "demo: node %d did not join", i+1)
	}
}

// createDatabase creates the database the shell starts in.
func (c *demoCluster) createDatabase(ctx context.Context) error {
	db, err := c.open("")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+demoDB)
	return errors.Wrap(err, "demo: creating database "+demoDB)
}

// url is how a client in the first region reaches its first node.
func (c *demoCluster) url(db string) string {
	return fmt.Sprintf("meridian://root@%s/%s?region=%s", c.nodes[0].Addr(), db, c.opts.regions[0])
}

func (c *demoCluster) open(db string) (*sql.DB, error) {
	cfg, err := driver.ParseDSN(c.url(db))
	if err != nil {
		return nil, err
	}
	cfg.TextValues = true // print values as the server does (see runSQL)
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
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

// stop shuts the nodes down, newest first, then the time masters, and
// removes a temporary store.
func (c *demoCluster) stop() {
	for i := len(c.nodes) - 1; i >= 0; i-- {
		c.nodes[i].Stop()
	}
	c.cancel()
	c.wg.Wait()
	if c.tempDir {
		_ = os.RemoveAll(c.dir)
	}
}

// printBanner shows the topology and every address.
func (c *demoCluster) printBanner(w io.Writer, took time.Duration) {
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
		"  meridian sql --url \"meridian://root@%s/%s?region=%s\"\n",
		c.opts.regions[0], c.url(demoDB), c.region(len(c.nodes)-1), other.Addr(), demoDB, c.region(len(c.nodes)-1))
	if c.opts.mysqlAddr != "" {
		host, port, _ := strings.Cut(c.nodes[0].MySQLAddr(), ":")
		fmt.Fprintf(w, "  mariadb -h %s -P %s -u root %s\n", host, port, demoDB)
	}
	fmt.Fprintln(w, "\nCtrl-D or \\q stops the cluster.")
}
