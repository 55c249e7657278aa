package kvbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Result is the outcome of a run.
type Result struct {
	Op       string
	Requests int64 // succeeded
	Errors   int64
	// ErrorSamples are the first distinct error messages, at most 5.
	ErrorSamples []string
	Elapsed      time.Duration
	Latency      Histogram
}

// Throughput is successful requests per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Run executes the benchmark described by cfg, printing progress and the
// summary to out. cfg must have passed Validate.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Result, error) {
	conns := make([]*grpc.ClientConn, cfg.Conns)
	for j := range conns {
		c, err := grpc.NewClient(cfg.Hosts[j%len(cfg.Hosts)], append(pb.WindowDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			return nil, fmt.Errorf("kvbench: dial %s: %w", cfg.Hosts[j%len(cfg.Hosts)], err)
		}
		defer c.Close()
		conns[j] = c
	}
	if cfg.Groups > 1 {
		if err := presplit(ctx, cfg, pb.NewAdminClient(conns[0]), out); err != nil {
			return nil, err
		}
	}
	val := bytes.Repeat([]byte{'v'}, cfg.ValSize)
	if cfg.Op == "get" && cfg.Preload {
		pre := cfg
		pre.Op, pre.Total, pre.Duration, pre.SequentialKeys = "put", cfg.KeySpace, 0, true
		pre.Clients = min(cfg.Clients, cfg.KeySpace)
		pre.Conns = min(cfg.Conns, pre.Clients)
		r := load(ctx, pre, conns, val)
		if r.Errors > 0 {
			return nil, fmt.Errorf("kvbench: preload: %d of %d puts failed, first: %s", r.Errors, cfg.KeySpace, r.ErrorSamples[0])
		}
		fmt.Fprintf(out, "preloaded %d keys in %s\n", r.Requests, r.Elapsed.Round(time.Millisecond))
	}
	r := load(ctx, cfg, conns, val)
	printResult(out, cfg, r)
	if r.Requests == 0 && r.Errors > 0 {
		return r, fmt.Errorf("kvbench: every request failed, first: %s", r.ErrorSamples[0])
	}
	return r, ctx.Err()
}

// load runs cfg's clients until Total requests have been sent, Duration
// has passed or ctx is done.
func load(ctx context.Context, cfg Config, conns []*grpc.ClientConn, val []byte) *Result {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		res      = &Result{Op: cfg.Op}
		seenErrs = map[string]bool{}
	)
	var deadline time.Time
	start := time.Now()
	if cfg.Total == 0 {
		deadline = start.Add(cfg.Duration)
	}
	for i := 0; i < cfg.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kv := pb.NewKVClient(conns[i%len(conns)])
			rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			var h Histogram
			var errs int64
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				if cfg.Total > 0 && n >= int64(cfg.Total) {
					break
				}
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					break
				}
				k := int(n % int64(cfg.KeySpace))
				if !cfg.SequentialKeys {
					k = rng.IntN(cfg.KeySpace)
				}
				key := cfg.appendKey(make([]byte, 0, cfg.KeySize), k)
				t0 := time.Now()
				var err error
				if cfg.Op == "put" {
					_, err = kv.Put(ctx, &pb.PutRequest{Key: key, Value: val})
				} else {
					_, err = kv.Get(ctx, &pb.GetRequest{Key: key})
				}
				if err != nil {
					errs++
					if ctx.Err() != nil {
						break
					}
					mu.Lock()
					if msg := err.Error(); !seenErrs[msg] && len(res.ErrorSamples) < 5 {
						seenErrs[msg] = true
						res.ErrorSamples = append(res.ErrorSamples, msg)
					}
					mu.Unlock()
					continue
				}
				h.Record(time.Since(t0))
			}
			mu.Lock()
			res.Latency.Merge(&h)
			res.Errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Requests = res.Latency.Count()
	return res
}

// presplit cuts the key space into cfg.Groups groups and waits until each
// has a leaseholder. Split points that are already group boundaries are
// skipped, so a second run against the same cluster splits nothing.
func presplit(ctx context.Context, cfg Config, admin pb.AdminClient, out io.Writer) error {
	st, err := admin.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return fmt.Errorf("kvbench: status: %w", err)
	}
	bounds := map[string]bool{}
	for _, g := range st.Groups {
		bounds[string(g.Descriptor_.GetStartKey())] = true
	}
	start := time.Now()
	splits := 0
	for _, k := range cfg.splitKeys() {
		if bounds[string(k)] {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := admin.Split(sctx, &pb.SplitRequest{SplitKey: k})
		cancel()
		if err != nil {
			return fmt.Errorf("kvbench: split at %q: %w", k, err)
		}
		splits++
	}
	fmt.Fprintf(out, "split the key space into %d groups: %d splits in %s\n", cfg.Groups, splits, time.Since(start).Round(time.Millisecond))
	return waitLeases(ctx, cfg, admin, out)
}

// waitLeases polls Status until every group that overlaps the key space
// reports a valid lease, then prints how many leaseholders each node has.
func waitLeases(ctx context.Context, cfg Config, admin pb.AdminClient, out io.Writer) error {
	first, last := cfg.appendKey(nil, 0), cfg.appendKey(nil, cfg.KeySpace-1)
	deadline := time.Now().Add(cfg.LeaseWait)
	for {
		st, err := admin.Status(ctx, &pb.StatusRequest{})
		if err != nil {
			return fmt.Errorf("kvbench: status: %w", err)
		}
		leased := map[uint64]uint64{} // group -> leaseholder node
		all := map[uint64]bool{}
		for _, g := range st.Groups {
			d := g.Descriptor_
			if len(d.GetEndKey()) > 0 && bytes.Compare(d.EndKey, first) <= 0 || bytes.Compare(d.GetStartKey(), last) > 0 {
				continue
			}
			all[d.GroupId] = true
			if g.LeaseValid {
				leased[d.GroupId] = g.LeaderNode
			}
		}
		if len(all) >= cfg.Groups && len(leased) == len(all) {
			perNode := map[uint64]int{}
			for _, n := range leased {
				perNode[n]++
			}
			nodes := make([]uint64, 0, len(perNode))
			for n := range perNode {
				nodes = append(nodes, n)
			}
			sort.Slice(nodes, func(i, j int) bool { return nodes[i] < nodes[j] })
			fmt.Fprintf(out, "%d groups cover the key space, all leased; leaseholders per node:", len(all))
			for _, n := range nodes {
				fmt.Fprintf(out, " n%d=%d", n, perNode[n])
			}
			fmt.Fprintln(out)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kvbench: after %s, %d of %d groups in the key space have a lease", cfg.LeaseWait, len(leased), len(all))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func printResult(w io.Writer, cfg Config, r *Result) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.4f", d.Seconds()*1000) }
	h := &r.Latency
	fmt.Fprintf(w, "\nSummary (%s, %d clients, %d conns, %d-byte keys, %d-byte values, key space %d):\n",
		r.Op, cfg.Clients, cfg.Conns, cfg.KeySize, cfg.ValSize, cfg.KeySpace)
	fmt.Fprintf(w, "  Total:\t%.4f secs.\n", r.Elapsed.Seconds())
	fmt.Fprintf(w, "  Slowest:\t%s ms.\n", ms(h.Max()))
	fmt.Fprintf(w, "  Fastest:\t%s ms.\n", ms(h.Min()))
	fmt.Fprintf(w, "  Average:\t%s ms.\n", ms(h.Mean()))
	fmt.Fprintf(w, "  Stddev:\t%s ms.\n", ms(h.Stddev()))
	fmt.Fprintf(w, "  Requests/sec:\t%.1f\n", r.Throughput())
	fmt.Fprintf(w, "  Requests:\t%d ok, %d failed\n", r.Requests, r.Errors)
	fmt.Fprintln(w, "\nLatency distribution:")
	for _, q := range []float64{10, 25, 50, 75, 90, 95, 99, 99.9} {
		fmt.Fprintf(w, "  %g%% in %s ms.\n", q, ms(h.Percentile(q)))
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}
