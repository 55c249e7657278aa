package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/server"
)

// runDemo starts a local three-node cluster in this process, bootstraps it
// and prints its addresses. It runs until Ctrl-C or Ctrl-D.
func runDemo(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	nodes := fs.Int("nodes", 3, "number of nodes")
	basePort := fs.Int("base-port", 7400, "node i listens on gRPC base+10·i and HTTP base+10·i+1")
	storeDir := fs.String("store", "", "directory for the nodes' stores (default: a temporary directory removed on exit)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *nodes < 1 {
		return errors.New("--nodes must be at least 1")
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	tuneGC()
	dir := *storeDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "meridian-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	var started []*server.Node
	defer func() {
		for i := len(started) - 1; i >= 0; i-- {
			started[i].Stop()
		}
	}()
	zones := []string{"a", "b", "c"}
	for i := 0; i < *nodes; i++ {
		cfg := server.Config{
			StoreDir:   filepath.Join(dir, fmt.Sprintf("node%d", i+1)),
			ListenAddr: fmt.Sprintf("127.0.0.1:%d", *basePort+10*i),
			HTTPAddr:   fmt.Sprintf("127.0.0.1:%d", *basePort+10*i+1),
			Region:     "local",
			Zone:       zones[i%len(zones)],
			Logger:     logger,
		}
		if i > 0 {
			cfg.Join = []string{started[0].Addr()}
		}
		n, err := server.Start(cfg)
		if err != nil {
			return errors.Wrapf(err, "starting node %d (is port %d free? try --base-port)", i+1, *basePort+10*i)
		}
		started = append(started, n)
		if i == 0 {
			ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := n.Init(ictx)
			cancel()
			if err != nil {
				return errors.Wrap(err, "bootstrapping the demo cluster")
			}
		}
	}
	for _, n := range started {
		select {
		case <-n.Ready():
		case <-ctx.Done():
			return nil
		case <-time.After(30 * time.Second):
			return errors.New("demo nodes did not join within 30s")
		}
	}
	fmt.Fprintf(stdout, "Meridian demo: %d nodes in one process (stores in %s)\n\n", len(started), dir)
	for i, n := range started {
		fmt.Fprintf(stdout, "  node %d  gRPC %-16s HTTP http://%s\n", i+1, n.Addr(), n.HTTPAddr())
	}
	fmt.Fprintf(stdout, "\nTry, from another terminal (meridian is `go run ./cmd/meridian` in a checkout):\n"+
		"  meridian kv put greeting hello --host %s\n  meridian kv get greeting --host %s\n  meridian status --host %s\n\nCtrl-C or Ctrl-D stops the cluster.\n",
		started[0].Addr(), started[len(started)-1].Addr(), started[0].Addr())
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(stdin))
		close(eof)
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	}
	fmt.Fprintln(stdout, "stopping")
	return nil
}
