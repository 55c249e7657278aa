package txnbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// cluster is what setup learned about the nodes.
type cluster struct {
	hostNode map[string]uint64 // gRPC host -> node ID
	nodes    []*pb.NodeDescriptor
	leaders  []uint64 // per benchmark group
	groupIDs []uint64
	epsilon  map[uint64]time.Duration
}

// prepare splits the key space (groups g = [x<g>, x<g+1>)), places the
// leaders as cfg says and waits for every group's lease.
func prepare(ctx context.Context, cfg Config, admins []pb.AdminClient, out io.Writer) (*cluster, error) {
	c := &cluster{hostNode: map[string]uint64{}, epsilon: map[uint64]time.Duration{}}
	for i, a := range admins {
		st, err := a.Status(ctx, &pb.StatusRequest{})
		if err != nil {
			return nil, fmt.Errorf("txnbench: status of %s: %w", cfg.Hosts[i], err)
		}
		c.hostNode[cfg.Hosts[i]] = st.NodeId
		if i == 0 {
			for _, n := range st.Nodes {
				c.nodes = append(c.nodes, n.Node)
				if n.Clock != nil {
					c.epsilon[n.Node.NodeId] = time.Duration(n.Clock.EpsilonNanos)
				}
			}
			slices.SortFunc(c.nodes, func(a, b *pb.NodeDescriptor) int { return int(a.NodeId) - int(b.NodeId) })
		}
	}
	st, err := admins[0].Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return nil, err
	}
	bounds := map[string]bool{}
	for _, g := range st.Groups {
		bounds[string(g.Descriptor_.GetStartKey())] = true
	}
	splits := 0
	for g := cfg.Groups; g >= 0; g-- {
		k := splitKey(g)
		if bounds[string(k)] {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := admins[0].Split(sctx, &pb.SplitRequest{SplitKey: k})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("txnbench: split at %q: %w", k, err)
		}
		splits++
	}
	if splits > 0 {
		fmt.Fprintf(out, "split the benchmark keys into %d groups (%d splits)\n", cfg.Groups, splits)
	}
	if err := c.waitLeases(ctx, cfg, admins[0]); err != nil {
		return nil, err
	}
	if cfg.Leaders != "" {
		if err := c.placeLeaders(ctx, cfg, admins[0]); err != nil {
			return nil, err
		}
		if err := c.waitLeases(ctx, cfg, admins[0]); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(out, "groups:")
	for g, id := range c.groupIDs {
		fmt.Fprintf(out, " %d (group %d) leader n%d;", g, id, c.leaders[g])
	}
	fmt.Fprintf(out, "\nepsilon:")
	for _, n := range c.nodes {
		fmt.Fprintf(out, " n%d %s", n.NodeId, c.epsilon[n.NodeId].Round(time.Microsecond))
	}
	fmt.Fprintln(out)
	return c, nil
}

// waitLeases polls Status until each benchmark group has a valid lease
// whose leader agrees with the placement asked for, and records leaders.
func (c *cluster) waitLeases(ctx context.Context, cfg Config, admin pb.AdminClient) error {
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := admin.Status(ctx, &pb.StatusRequest{})
		if err != nil {
			return fmt.Errorf("txnbench: status: %w", err)
		}
		c.leaders = make([]uint64, cfg.Groups)
		c.groupIDs = make([]uint64, cfg.Groups)
		ok := 0
		for _, gs := range st.Groups {
			d := gs.Descriptor_
			for g := range cfg.Groups {
				if bytes.Equal(d.GetStartKey(), splitKey(g)) && gs.LeaseValid {
					c.leaders[g], c.groupIDs[g] = gs.LeaderNode, d.GroupId
					ok++
				}
			}
		}
		if ok == cfg.Groups {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("txnbench: after 1m only %d of %d groups have a lease", ok, cfg.Groups)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *cluster) placeLeaders(ctx context.Context, cfg Config, admin pb.AdminClient) error {
	want := make([]uint64, cfg.Groups)
	for g := range want {
		if cfg.Leaders == "spread" {
			want[g] = c.nodes[g%len(c.nodes)].NodeId
			continue
		}
		n, err := strconv.ParseUint(cfg.Leaders, 10, 64)
		if err != nil {
			return fmt.Errorf("txnbench: --leaders %q: want spread or a node ID", cfg.Leaders)
		}
		want[g] = n
	}
	for attempt := 0; ; attempt++ {
		moved := 0
		for g, id := range c.groupIDs {
			if c.leaders[g] == want[g] {
				continue
			}
			moved++
			tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := admin.TransferLeader(tctx, &pb.TransferLeaderRequest{GroupId: id, TargetNode: want[g]})
			cancel()
			if err != nil && attempt >= 20 {
				return fmt.Errorf("txnbench: move group %d's leader to n%d: %w", id, want[g], err)
			}
		}
		if moved == 0 {
			return nil
		}
		if attempt >= 20 {
			return fmt.Errorf("txnbench: leaders did not move to %v (now %v)", want, c.leaders)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if err := c.waitLeases(ctx, cfg, admin); err != nil {
			return err
		}
	}
}

// gateways returns the hosts the clients send to.
func (c *cluster) gateways(cfg Config) ([]string, error) {
	switch cfg.Gateway {
	case "leader":
		for _, h := range cfg.Hosts {
			if c.hostNode[h] == c.leaders[0] {
				return []string{h}, nil
			}
		}
		return nil, fmt.Errorf("txnbench: no --host is group 0's leader n%d", c.leaders[0])
	case "follower":
		var out []string
		for _, h := range cfg.Hosts {
			if !slices.Contains(c.leaders, c.hostNode[h]) {
				out = append(out, h)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("txnbench: every --host leads a benchmark group (leaders %v); try --leaders 1", c.leaders)
		}
		return out, nil
	}
	return cfg.Hosts, nil
}

// preload writes every benchmark key once, 32 puts in flight; a put
// that fails is retried twice (rewriting the same value is harmless, so an
// ambiguous result after a leader change is too).
func preload(ctx context.Context, cfg Config, kv pb.KVClient, val []byte) error {
	type job struct{ g, i int }
	jobs := make(chan job)
	errc := make(chan error, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var err error
				for range 3 {
					if _, err = kv.Put(ctx, &pb.PutRequest{Key: key(j.g, j.i), Value: val}); err == nil {
						break
					}
				}
				if err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	for g := range cfg.Groups {
		for i := range cfg.KeysPerGroup {
			select {
			case jobs <- job{g, i}:
			case err := <-errc:
				close(jobs)
				wg.Wait()
				return fmt.Errorf("txnbench: preload: %w", err)
			}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("txnbench: preload: %w", err)
	default:
	}
	return nil
}
