package server_test

// The simulated WAN as the server wires it (Config.Network): a client that
// declares its region pays the one-way trip to the node each way, a client
// in the node's region or one that declares nothing pays none, and a node
// forwarding to another declares its own region.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
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
// delayed, and a client's request is held exactly as long as its region's
// trip to us-east, once on the way in and once on the way out, whether it
// is a KV call, a statement of a driver session (?region=) or a MySQL
// command (connection attribute region). Clients in us-east, and clients
// that declare nothing, set no timer at all.
func TestClientRegionDelaysEachDirection(t *testing.T) {
	m := mustLatency(t, "us-east/us-west=64ms")
	clock := netsim.NewManualClock(time.Unix(1e9, 0))
	clientNet := netsim.New(netsim.Options{Latency: m, Clock: clock})
	c := servertest.Start(t, servertest.Options{Node: func(i int, cfg *server.Config) {
		cfg.Region = "us-east"
		cfg.Network = clientNet
		cfg.MySQLAddr = "127.0.0.1:0"
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
	trips := tripStepper{t: t, ctx: ctx, clock: clock, oneWay: 32 * time.Millisecond}

	t.Run("kv", func(t *testing.T) {
		trips.t = t
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
		var r *pb.GetResponse
		trips.run("a us-west Get", 2, func() (err error) {
			r, err = dialFrom(t, addr, "us-west").Get(ctx, &pb.GetRequest{Key: []byte("k")})
			return err
		})
		if string(r.Value) != "v" {
			t.Fatalf("client in us-west read %q", r.Value)
		}
	})

	// MySQL before the driver: a closed driver session holds its final
	// status one-way, a timer the steps below must not mistake for theirs.
	t.Run("mysql", func(t *testing.T) {
		trips.t = t
		mysqlAddr := c.Nodes[0].MySQLAddr()
		created := clock.Created()
		for _, attrs := range []string{"region:us-east", ""} {
			db := openMySQL(t, mysqlAddr, "", func(cfg *mysql.Config) { cfg.ConnectionAttributes = attrs })
			var one int
			if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
				t.Fatalf("attributes %q: %v", attrs, err)
			}
		}
		if n := clock.Created() - created; n != 0 {
			t.Fatalf("same-region and undeclared MySQL clients set %d timers, want none", n)
		}
		bad := openMySQL(t, mysqlAddr, "", func(cfg *mysql.Config) { cfg.ConnectionAttributes = "region:mars" })
		if err := bad.PingContext(ctx); err == nil || !strings.Contains(err.Error(), `region "mars" is not in the latency matrix`) {
			t.Fatalf("a MySQL client in an unknown region: %v, want a refusal", err)
		}

		db := openMySQL(t, mysqlAddr, "", func(cfg *mysql.Config) { cfg.ConnectionAttributes = "region:us-west" })
		db.SetMaxOpenConns(1)
		// The handshake is not delayed; every command is, by one round trip.
		var got string
		trips.run("a us-west COM_QUERY", 2, func() error {
			return db.QueryRowContext(ctx, "SELECT 'west'").Scan(&got)
		})
		trips.run("a us-west COM_STMT_PREPARE", 2, func() error {
			stmt, err := db.PrepareContext(ctx, "SELECT ?")
			if err == nil {
				trips.prepared = stmt
			}
			return err
		})
		trips.run("a us-west COM_STMT_EXECUTE", 2, func() error {
			return trips.prepared.QueryRowContext(ctx, "again").Scan(&got)
		})
		if got != "again" {
			t.Fatalf("prepared statement returned %q", got)
		}
	})

	t.Run("driver", func(t *testing.T) {
		trips.t = t
		open := func(region string) *sql.DB {
			cfg, err := driver.ParseDSN("meridian://root@" + addr + "/?region=" + region)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := driver.NewConnector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(conn)
			db.SetMaxOpenConns(1)
			return db
		}
		created := clock.Created()
		east := open("us-east")
		var one int
		if err := east.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatal(err)
		}
		_ = east.Close()
		if n := clock.Created() - created; n != 0 {
			t.Fatalf("a us-east driver session set %d timers, want none", n)
		}
		mars := open("mars")
		if err := mars.QueryRowContext(ctx, "SELECT 1").Scan(&one); err == nil || !strings.Contains(err.Error(), `region "mars" is not in the latency matrix`) {
			t.Fatalf("a driver in an unknown region: %v, want a refusal", err)
		}
		_ = mars.Close()

		west := open("us-west")
		defer west.Close()
		var conn *sql.Conn
		// Opening the session is an exchange too (SQLOpen and its answer).
		trips.run("opening a us-west session", 2, func() (err error) {
			conn, err = west.Conn(ctx)
			return err
		})
		defer conn.Close()
		var got string
		trips.run("a us-west statement", 2, func() error {
			return conn.QueryRowContext(ctx, "SELECT 'west'").Scan(&got)
		})
		trips.run("the next us-west statement", 2, func() error {
			return conn.QueryRowContext(ctx, "SELECT 'again'").Scan(&got)
		})
		if got != "again" {
			t.Fatalf("statement returned %q", got)
		}
	})
}

// tripStepper drives a call across the manual clock's simulated WAN one
// trip at a time, checking that each trip holds it exactly oneWay.
type tripStepper struct {
	t        *testing.T
	ctx      context.Context
	clock    *netsim.ManualClock
	oneWay   time.Duration
	prepared *sql.Stmt
}

// run starts call and steps the clock through n trips: each must be
// scheduled while the call is still waiting, must hold it at oneWay-1ms,
// and must release it at oneWay; after the n-th the call returns, and
// exactly n timers were set.
func (s *tripStepper) run(what string, n int, call func() error) {
	t := s.t
	t.Helper()
	created := s.clock.Created()
	done := make(chan error, 1)
	go func() { done <- call() }()
	pending := func(step string) {
		t.Helper()
		if err := s.clock.WaitPending(s.ctx, 1); err != nil {
			t.Fatalf("%s, %s: no trip scheduled: %v", what, step, err)
		}
		select {
		case err := <-done:
			t.Fatalf("%s, %s: returned early (%v)", what, step, err)
		default:
		}
	}
	for i := 1; i <= n; i++ {
		pending(fmt.Sprintf("trip %d", i))
		s.clock.Advance(s.oneWay - time.Millisecond)
		pending(fmt.Sprintf("trip %d after %s", i, s.oneWay-time.Millisecond))
		s.clock.Advance(time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-s.ctx.Done():
		t.Fatalf("%s: no answer after %d trips", what, n)
	}
	if got := s.clock.Created() - created; got != n {
		t.Fatalf("%s set %d timers, want %d (one per direction)", what, got, n)
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
