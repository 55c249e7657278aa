package server_test

// The simulated WAN as the server wires it (Config.Network): a client that
// declares its region pays the one-way trip to the node each way, a client
// in the node's region or one that declares nothing pays none, and a node
// forwarding to another declares its own region.

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/driver"
	"github.com/meridiandb/meridian/netsim"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/server/servertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func mustLatency(t *testing.T, spec string) *netsim.LatencyMatrix {
	t.Helper()
	m, err := netsim.ParseLatency(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dialFrom connects to addr as a client in region.
func dialFrom(t *testing.T, addr, region string) pb.KVClient {
	t.Helper()
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
		netsim.CallerDialOptions(region, nil)...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return pb.NewKVClient(cc)
}

// TestClientRegionDelaysEachDirection steps the client-facing network on a
// manual clock: every node is in us-east, so nothing between nodes is
// delayed, and a client's call is held exactly as long as its region's trip
// to us-east, once on the way in and once on the way out.
func TestClientRegionDelaysEachDirection(t *testing.T) {
	m := mustLatency(t, "us-east/us-west=64ms")
	clock := netsim.NewManualClock(time.Unix(1e9, 0))
	clientNet := netsim.New(netsim.Options{Latency: m, Clock: clock})
	c := servertest.Start(t, servertest.Options{Node: func(i int, cfg *server.Config) {
		cfg.Region = "us-east"
		cfg.Network = clientNet
		// Raft on the real clock: the manual one would stop it.
		cfg.Paxos.Network = netsim.New(netsim.Options{Latency: m})
	}})
	put(t, c.KV(0), "k", "v")
	leader := c.LeaderOf(paxosgroup.FirstUserGroupID)
	if leader < 0 {
		leader = 0
	}
	addr := c.Addr(leader)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	created := clock.Created()
	for _, region := range []string{"us-east", ""} {
		r, err := dialFrom(t, addr, region).Get(ctx, &pb.GetRequest{Key: []byte("k")})
		if err != nil || string(r.Value) != "v" {
			t.Fatalf("client in %q: %v, %v", region, r, err)
		}
	}
	if n := clock.Created() - created; n != 0 {
		t.Fatalf("same-region and undeclared clients set %d timers, want none", n)
	}

	type result struct {
		r   *pb.GetResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := dialFrom(t, addr, "us-west").Get(ctx, &pb.GetRequest{Key: []byte("k")})
		done <- result{r, err}
	}()
	pending := func(step string) {
		t.Helper()
		if err := clock.WaitPending(ctx, 1); err != nil {
			t.Fatalf("%s: no trip scheduled: %v", step, err)
		}
		select {
		case res := <-done:
			t.Fatalf("%s: the call returned early: %v, %v", step, res.r, res.err)
		default:
		}
	}
	pending("request")
	clock.Advance(31 * time.Millisecond)
	pending("request after 31ms")
	clock.Advance(time.Millisecond) // the request arrives after RTT/2
	pending("response")
	clock.Advance(31 * time.Millisecond)
	pending("response after 31ms")
	clock.Advance(time.Millisecond)
	res := <-done
	if res.err != nil || string(res.r.Value) != "v" {
		t.Fatalf("client in us-west: %v, %v", res.r, res.err)
	}
	if n := clock.Created() - created; n != 2 {
		t.Fatalf("a us-west call set %d timers, want 2 (request and response)", n)
	}
}

// TestNodeAndDriverRegionsAreDelayed runs three nodes in three regions on
// the real clock, with a large RTT, and checks lower bounds only: a read
// that a us-west node forwards to the us-east leader, and a SQL statement
// of a driver that says ?region=us-west, each take at least the RTT.
func TestNodeAndDriverRegionsAreDelayed(t *testing.T) {
	const rtt = 150 * time.Millisecond
	m := mustLatency(t, fmt.Sprintf("us-east/us-west=%s,us-east/eu-west=%s,us-west/eu-west=%s", rtt, rtt, rtt))
	wan := netsim.New(netsim.Options{Latency: m})
	regions := []string{"us-east", "us-west", "eu-west"}
	c := servertest.Start(t, servertest.Options{
		// servertest's fast timings give a membership change 0.5s, too
		// little across this WAN; the defaults, with maintenance sooner.
		Paxos: func(o *paxosgroup.Options) { *o = paxosgroup.Options{MaintenanceInterval: 500 * time.Millisecond} },
		Node: func(i int, cfg *server.Config) {
			cfg.Region = regions[i]
			cfg.Network = wan
		}})
	put(t, c.KV(0), "k", "v")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Lead the user group from us-east, so that a read through us-west
	// crosses the WAN.
	c.WaitFor(30*time.Second, "the user group's leader in us-east", func() bool {
		if c.LeaderOf(paxosgroup.FirstUserGroupID) == 0 {
			return true
		}
		_, _ = c.Admin(0).TransferLeader(ctx, &pb.TransferLeaderRequest{GroupId: paxosgroup.FirstUserGroupID, TargetNode: c.NodeID(0)})
		return false
	})

	start := time.Now()
	if v, ok := get(t, c.KV(1), "k"); !ok || v != "v" {
		t.Fatalf("get through us-west: %q, %v", v, ok)
	}
	if d := time.Since(start); d < rtt {
		t.Errorf("a read forwarded from us-west to the us-east leader took %s, below the RTT %s", d, rtt)
	}

	cfg, err := driver.ParseDSN("meridian://root@" + c.Addr(0) + "/?region=us-west")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil { // opens the session
		t.Fatal(err)
	}
	start = time.Now()
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < rtt {
		t.Errorf("a statement from a us-west driver to a us-east node took %s, below the RTT %s", d, rtt)
	}
}
