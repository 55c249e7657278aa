package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// TestNodeClockWithTimeMasters runs three `meridian timemaster` processes,
// one of them lying by 500 ms, and a `meridian start` node polling them.
// The node's interval must contain true time (on one machine, the system
// clock) throughout — also after an honest master is killed — and its ε
// and sources must be reported by `meridian status`.
func TestNodeClockWithTimeMasters(t *testing.T) {
	c := newProcCluster(t)
	dir := c.dir
	var masters []*proc
	var masterAddrs []string
	for i, lie := range []string{"0s", "0s", "500ms"} {
		addr := freePort(t) // a free TCP port; the UDP one is as good as free on loopback
		p := &proc{name: "tm" + string(rune('1'+i)), addr: addr, logPath: filepath.Join(dir, "tm"+string(rune('1'+i))+".log"),
			args: []string{"timemaster", "--listen", addr, "--uncertainty", "1ms", "--testing-offset", lie}}
		c.procs = append(c.procs, p)
		c.start(p)
		masters = append(masters, p)
		masterAddrs = append(masterAddrs, addr)
	}
	node := &proc{name: "n1", addr: freePort(t), store: filepath.Join(dir, "n1"), logPath: filepath.Join(dir, "n1.log")}
	node.args = []string{"start", "--store", node.store, "--listen", node.addr, "--http-addr", freePort(t),
		"--time-masters", masterAddrs[0] + "," + masterAddrs[1] + "," + masterAddrs[2]}
	c.procs = append(c.procs, node)
	c.start(node)
	c.waitServing(node)

	admin := pb.NewAdminClient(c.conn(node.addr))
	clock := func() *pb.ClockStatus {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := admin.Status(ctx, &pb.StatusRequest{LocalOnly: true})
		if err != nil || len(st.Nodes) == 0 {
			return nil
		}
		return st.Nodes[0].Clock
	}
	if _, _, code := c.run("init", "--host", node.addr); code != 0 {
		t.Fatal("init failed")
	}
	// The liar is outvoted once all three have answered.
	c.waitFor(20*time.Second, "the lying master to be outvoted", func() bool {
		cs := clock()
		if cs == nil || len(cs.Sources) != 3 {
			return false
		}
		return cs.Sources[2].State == "outvoted" && cs.Sources[0].Healthy && cs.Sources[1].Healthy
	})
	check := func(phase string, d time.Duration) {
		deadline := time.Now().Add(d)
		for n := 0; time.Now().Before(deadline); n++ {
			cs := clock()
			if cs == nil {
				t.Fatalf("%s: no clock status", phase)
			}
			// The interval is [local+offset-ε, local+offset+ε]; it contains
			// true time (the local clock here) iff |offset| ≤ ε.
			off, eps := time.Duration(cs.OffsetNanos), time.Duration(cs.EpsilonNanos)
			if eps <= 0 {
				t.Fatalf("%s: ε not reported (%v)", phase, eps)
			}
			if off > eps || -off > eps {
				t.Fatalf("%s: interval misses true time: offset %v, ε %v", phase, off, eps)
			}
			if n == 0 {
				t.Logf("%s: offset %v ε %v fenced %v", phase, off, eps, cs.Fenced)
			}
			time.Sleep(100 * time.Millisecond) // sampling period, not a wait for a condition
		}
	}
	check("three masters, one lying", 3*time.Second)
	masters[0].kill()
	c.waitFor(20*time.Second, "the killed master to be reported unreachable", func() bool {
		cs := clock()
		return cs != nil && len(cs.Sources) == 3 && !cs.Sources[0].Healthy
	})
	check("one honest and one lying master", 3*time.Second)
	out, _, code := c.run("status", "--host", node.addr)
	if code != 0 {
		t.Fatalf("status exit %d", code)
	}
	t.Logf("meridian status:\n%s", out)
}
