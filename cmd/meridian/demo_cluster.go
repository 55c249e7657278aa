package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/driver"
	"github.com/meridiandb/meridian/netsim"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/truetime/timemaster"
)

// The demo's cluster, shared by `meridian demo` (which attaches the shell)
// and `meridian bench latency` (which measures it): nodes, time masters and
// placement in this process, with no flags of its own.

// demoOptions are the demo's flags, parsed.
// demoCloseAhead is the demo's --close-ahead when it spans regions.
const demoCloseAhead = 200 * time.Millisecond

type demoOptions struct {
	regions        []string
	nodesPerRegion int
	wan            *netsim.Network // nil: no simulated latency
	store          string          // "": a temporary directory
	mysqlAddr      string
	basePort       int    // 0: any free ports
	database       string // created once the cluster runs; "": none
	logger         *slog.Logger
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
	if opts.database == "" {
		return c, nil
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
	if len(c.opts.regions) > 1 {
		// Strong reads from every region at the nearest replica: leaders
		// close groups ahead by each remote replica's trip (txn/lead.go),
		// up to this, which covers one-way trips up to about 175ms.
		cfg.TxnCloseAhead = demoCloseAhead
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
	name := c.opts.database
	db, err := c.open("")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+name)
	return errors.Wrap(err, "demo: creating database "+name)
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
