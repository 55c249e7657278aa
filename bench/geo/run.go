package geo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/bench/loadgen"
	"github.com/meridiandb/meridian/netsim"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Run executes the benchmark cfg describes, printing the setup and the
// table to out, and returns the results. cfg must have passed
// EnsureDefaults and Validate.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Result, error) {
	printf := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	if len(cfg.Hosts) == 0 {
		return nil, fmt.Errorf("geo: no host to reach the cluster")
	}
	admin, closeAdmin, err := dial(cfg.Hosts[0])
	if err != nil {
		return nil, err
	}
	defer closeAdmin()
	adminClient := pb.NewAdminClient(admin)
	topo, err := prepare(ctx, adminClient, cfg.RTT, printf)
	if err != nil {
		return nil, err
	}
	topo.closesAhead = cfg.ClosesAhead
	b := &bench{cfg: cfg, admin: adminClient, val: bytes.Repeat([]byte{'v'}, cfg.ValueSize),
		kv: map[string]pb.KVClient{}, gateways: map[string]node{}}
	for _, r := range topo.regions {
		gw, ok := topo.gateway(r)
		if !ok {
			continue
		}
		cc, closeConn, err := dial(gw.addr)
		if err != nil {
			return nil, err
		}
		defer closeConn()
		b.kv[r], b.gateways[r] = pb.NewKVClient(cc), gw
		printf("clients in %s send to node %d (%s)\n", r, gw.id, gw.addr)
	}
	if err := b.preload(ctx); err != nil {
		return nil, err
	}
	res := &Result{Latency: cfg.Latency, Clients: cfg.Clients, WarmupSeconds: cfg.Warmup.Seconds(),
		DurationSeconds: cfg.Duration.Seconds(), OpsPerClient: cfg.Ops, StalenessSeconds: cfg.Staleness.Seconds()}
	for _, s := range spans {
		g := topo.groups[s.name]
		res.Groups = append(res.Groups, GroupResult{Name: s.name, GroupID: g.id, LeaderRegion: topo.region(g.leader),
			VoterRegions: topo.voterRegions(g), QuorumRTTMillis: millis(topo.quorumRTT(g))})
	}
	measured := cfg.Duration.String()
	if cfg.Ops > 0 {
		measured = fmt.Sprintf("%d transactions per client", cfg.Ops)
	}
	printf("%d client(s) per region; each row: %s warm-up, then %s measured; one row at a time\n",
		cfg.Clients, cfg.Warmup, measured)
	for _, op := range operations {
		for _, r := range topo.regions {
			if _, ok := b.kv[r]; !ok {
				continue
			}
			row, next, err := b.cell(ctx, op, r, topo)
			if err != nil {
				return res, err
			}
			topo = next
			res.Rows = append(res.Rows, row)
		}
	}
	res.Print(out)
	return res, ctx.Err()
}

func dial(addr string) (*grpc.ClientConn, func(), error) {
	cc, err := grpc.NewClient(addr, append(pb.WindowDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		return nil, nil, fmt.Errorf("geo: dial %s: %w", addr, err)
	}
	return cc, func() { _ = cc.Close() }, nil
}

// bench is a run's state.
type bench struct {
	cfg      Config
	admin    pb.AdminClient
	val      []byte
	kv       map[string]pb.KVClient // per region, to its gateway
	gateways map[string]node
}

// preload writes every client's keys once, so that reads find a value.
func (b *bench) preload(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(b.kv)*b.cfg.Clients)
	for r, kv := range b.kv {
		for c := range b.cfg.Clients {
			wg.Go(func() {
				ka, kb := keysOf(r, c)
				_, err := kv.Txn(netsim.OutgoingContext(ctx, r, 0), &pb.TxnScriptRequest{Ops: []*pb.TxnScriptOp{put(ka, b.val), put(kb, b.val)}})
				if err != nil {
					errs <- fmt.Errorf("geo: writing the keys of client %d in %s: %w", c, r, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// cell measures one operation from one region and returns its row and the
// topology after it.
func (b *bench) cell(ctx context.Context, op operation, region string, before *topology) (Row, *topology, error) {
	kv := b.kv[region]
	lg := loadgen.Run(ctx, loadgen.Config{Clients: b.cfg.Clients, Warmup: b.cfg.Warmup, Duration: b.cfg.Duration, Total: b.cfg.Ops * b.cfg.Clients},
		func(opCtx context.Context, client int, seq int64) (int, int, error) {
			ka, kb := keysOf(region, client)
			if op.writes {
				ka, kb = writeKeysOf(region, client, seq)
			}
			// The WAN delays the client's calls; loadgen's context lets it
			// cancel operations still stuck after the run.
			resp, err := kv.Txn(netsim.OutgoingContext(opCtx, region, 0), op.script(&b.cfg, ka, kb, b.val))
			if err != nil {
				return 0, 0, err
			}
			return 1, int(resp.Attempts) - 1, nil
		})
	if err := ctx.Err(); err != nil {
		return Row{}, nil, err
	}
	after, err := readTopology(ctx, b.admin, b.cfg.RTT)
	if err != nil {
		return Row{}, nil, err
	}
	after.keepKnownLeaders(before)
	after.closesAhead = before.closesAhead
	gw := b.gateways[region].region
	floor := op.floor(before, region, gw)
	moved := after.leadersMoved(before)
	if moved != "" {
		// The samples came from either placement (or one between): the
		// smaller floor bounds them all (doc.go, invariant 2).
		floor = min(floor, op.floor(after, region, gw))
	}
	row := Row{Operation: op.id, Title: op.title, Region: region, Ops: lg.Ops, Errors: lg.Errors,
		Retries: lg.Retries, FloorMillis: millis(floor), LeaderMoved: moved}
	if len(lg.ErrorSamples) > 0 {
		row.FirstError = lg.ErrorSamples[0]
	}
	if lg.Ops > 0 {
		h := lg.Latency
		row.MinMillis = millis(time.Duration(h.Min()))
		row.P50Millis = millis(time.Duration(h.ValueAtQuantile(50)))
		row.P99Millis = millis(time.Duration(h.ValueAtQuantile(99)))
		row.MaxMillis = millis(time.Duration(h.Max()))
		row.P50MinusFloorMillis = row.P50Millis - row.FloorMillis
	}
	return row, after, nil
}

// keepKnownLeaders takes the leaders from before for groups whose leader t
// does not know: Status merges the nodes' reports, and one taken amid a
// lease renewal or from a lagging replica may name no leader, which says
// nothing of a move.
func (t *topology) keepKnownLeaders(before *topology) {
	for name, g := range t.groups {
		if g.leader == 0 {
			g.leader = before.groups[name].leader
			t.groups[name] = g
		}
	}
}

// leadersMoved names the groups whose leader differs between t and o.
func (t *topology) leadersMoved(o *topology) string {
	var moved string
	for _, s := range spans {
		if a, b := o.groups[s.name].leader, t.groups[s.name].leader; a != b {
			moved += fmt.Sprintf("%s (node %d to %d)", s.name, a, b)
		}
	}
	return moved
}

func millis(d time.Duration) float64 { return float64(d) / 1e6 }
