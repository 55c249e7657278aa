package txnbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/bench/loadgen"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Run executes the benchmark described by cfg, printing the setup, the
// summary and the server metrics to out. cfg must have passed Validate.
func Run(ctx context.Context, cfg Config, out io.Writer) (*loadgen.Result, error) {
	dial := func(h string) (*grpc.ClientConn, error) {
		c, err := grpc.NewClient(h, append(pb.WindowDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			return nil, fmt.Errorf("txnbench: dial %s: %w", h, err)
		}
		return c, nil
	}
	var admins []pb.AdminClient
	for _, h := range cfg.Hosts {
		c, err := dial(h)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		admins = append(admins, pb.NewAdminClient(c))
	}
	cl, err := prepare(ctx, cfg, admins, out)
	if err != nil {
		return nil, err
	}
	gws, err := cl.gateways(cfg)
	if err != nil {
		return nil, err
	}
	var kvs []pb.KVClient
	for _, h := range gws {
		for range cfg.Conns {
			c, err := dial(h)
			if err != nil {
				return nil, err
			}
			defer c.Close()
			kvs = append(kvs, pb.NewKVClient(c))
		}
	}
	fmt.Fprintf(out, "workload %s, %d clients over %d connections to %v\n", cfg.Workload, cfg.Clients, len(kvs), gws)
	val := bytes.Repeat([]byte{'v'}, cfg.ValSize)
	if cfg.Preload {
		t0 := time.Now()
		if err := preload(ctx, cfg, kvs[0], val); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "preloaded %d keys in %s\n", cfg.Groups*cfg.KeysPerGroup, time.Since(t0).Round(time.Millisecond))
	}
	rngs := make([]*rand.Rand, cfg.Clients)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	}
	op := func(ctx context.Context, client int, _ int64) (int, int, error) {
		kv := kvs[client%len(kvs)]
		rng := rngs[client]
		if cfg.Workload == WorkloadPut {
			_, err := kv.Put(ctx, &pb.PutRequest{Key: key(0, rng.IntN(cfg.KeysPerGroup)), Value: val})
			return 1, 0, err
		}
		req := script(cfg, rng, val)
		resp, err := kv.Txn(ctx, req)
		if err != nil {
			return 0, 0, err
		}
		return 1, int(resp.Attempts) - 1, nil
	}
	var before sample
	var httpAddrs []string
	for _, n := range cl.nodes {
		httpAddrs = append(httpAddrs, n.HttpAddress)
	}
	lcfg := loadgen.Config{Clients: cfg.Clients, Warmup: cfg.Warmup, Duration: cfg.Duration,
		OnStuck: func(n int64) {
			// Taken while the operations are still waiting, so that the
			// dumps show what they wait for.
			paths, err := dumpGoroutines(ctx, httpAddrs, os.TempDir())
			fmt.Fprintf(out, "%d operations unanswered after the grace period; goroutines of every node: %v", n, paths)
			if err != nil {
				fmt.Fprintf(out, " (%v)", err)
			}
			fmt.Fprintln(out)
		}}
	// The scrape that opens the measured period runs when the warm-up
	// ends: a timer rather than a hook keeps loadgen generic; the few
	// milliseconds of skew do not matter against a 20 s period.
	scraped := make(chan error, 1)
	if cfg.Metrics {
		go func() {
			select {
			case <-ctx.Done():
				scraped <- ctx.Err()
			case <-time.After(cfg.Warmup):
				var err error
				before, err = scrape(ctx, httpAddrs)
				scraped <- err
			}
		}()
	}
	res := loadgen.Run(ctx, lcfg, op)
	title := fmt.Sprintf("%s, %d clients, gateways %v, %d groups", cfg.Workload, cfg.Clients, gws, cfg.Groups)
	res.Print(out, title, "")
	if cfg.Metrics {
		if err := <-scraped; err != nil {
			return res, err
		}
		after, err := scrape(ctx, httpAddrs)
		if err != nil {
			return res, err
		}
		d := delta(before, after)
		printMetrics(out, d)
		printCommitWaitShare(out, cfg, d)
	}
	if res.Ops == 0 && res.Errors > 0 {
		return res, fmt.Errorf("txnbench: every transaction failed, first: %s", res.ErrorSamples[0])
	}
	return res, ctx.Err()
}

// script builds one transaction of cfg's workload.
func script(cfg Config, rng *rand.Rand, val []byte) *pb.TxnScriptRequest {
	get := func(g int) *pb.TxnScriptOp {
		return &pb.TxnScriptOp{Kind: pb.TxnScriptOp_GET, Key: key(g, rng.IntN(cfg.KeysPerGroup))}
	}
	put := func(k []byte) *pb.TxnScriptOp { return &pb.TxnScriptOp{Kind: pb.TxnScriptOp_PUT, Key: k, Value: val} }
	req := &pb.TxnScriptRequest{}
	switch cfg.Workload {
	case WorkloadRO:
		req.ReadOnly = true
		if cfg.ReadAgo > 0 {
			req.ReadTimestamp = time.Now().Add(-cfg.ReadAgo).UnixNano()
		}
		req.MaxStalenessNanos = cfg.MaxStaleness.Nanoseconds()
		for g := range cfg.Groups {
			req.Ops = append(req.Ops, get(g))
		}
	case WorkloadRW1:
		r := get(0)
		req.Ops = append(req.Ops, r, put(r.Key))
	case WorkloadW1:
		req.Ops = append(req.Ops, put(key(0, rng.IntN(cfg.KeysPerGroup))))
	case Workload2PC:
		req.Ops = append(req.Ops, put(key(0, rng.IntN(cfg.KeysPerGroup))), put(key(1, rng.IntN(cfg.KeysPerGroup))))
	case WorkloadRW2:
		r0, r1 := get(0), get(1)
		req.Ops = append(req.Ops, r0, r1, put(r0.Key), put(r1.Key))
	}
	return req
}

// printCommitWaitShare relates the commit wait left after replication to
// the commit latency the servers measured for the workload's commit kind.
func printCommitWaitShare(w io.Writer, cfg Config, d sample) {
	kind := `kind="one_phase"`
	switch cfg.Workload {
	case Workload2PC, WorkloadRW2:
		kind = `kind="2pc"`
	case WorkloadRO:
		return
	}
	c := d.histogramOf("meridian_txn_commit_seconds", kind)
	cw := d.histogramOf("meridian_txn_commit_wait_seconds", "")
	if c.count == 0 || cw.count == 0 {
		return
	}
	_, hi := cw.quantile(0.5)
	_, chi := c.quantile(0.5)
	fmt.Fprintf(w, "  commit wait share: mean %.1f%% (%s of %s); p50 commit wait <= %s against p50 commit <= %s\n",
		100*(cw.sum/cw.count)/(c.sum/c.count), fmtSeconds(cw.sum/cw.count), fmtSeconds(c.sum/c.count), fmtSeconds(hi), fmtSeconds(chi))
}
