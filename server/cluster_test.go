package server_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/storage"
	"github.com/meridiandb/meridian/txn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// put writes k=v, retrying failures: a slow machine can depose a leader
// mid-request (an ambiguous result), and writing the same value again is
// harmless to what these tests check.
func put(t *testing.T, kv pb.KVClient, k, v string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := kv.Put(ctx, &pb.PutRequest{Key: []byte(k), Value: []byte(v)})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || status.Code(err) == codes.InvalidArgument {
			t.Fatalf("put %s: %v", k, err)
		}
		t.Logf("put %s: %v (retrying)", k, err)
	}
}

func get(t *testing.T, kv pb.KVClient, k string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := kv.Get(ctx, &pb.GetRequest{Key: []byte(k)})
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	return string(r.Value), r.Found
}

func TestReplicationAndRouting(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	put(t, c.KV(0), "a", "1")
	put(t, c.KV(1), "b", "2")
	for i := 0; i < 3; i++ {
		if v, ok := get(t, c.KV(i), "a"); !ok || v != "1" {
			t.Fatalf("node %d: a = %q, %v", i+1, v, ok)
		}
	}
	ctx := context.Background()
	if _, err := c.KV(2).Delete(ctx, &pb.DeleteRequest{Key: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, c.KV(0), "a"); ok {
		t.Fatal("deleted key still readable")
	}
	sc, err := c.KV(1).Scan(ctx, &pb.ScanRequest{})
	if err != nil || len(sc.Kvs) != 1 || string(sc.Kvs[0].Key) != "b" {
		t.Fatalf("scan = %v, %v", sc, err)
	}
	// Every replica applied the write: read each engine directly.
	c.WaitFor(10*time.Second, "all replicas to apply b", func() bool {
		for _, n := range c.Nodes {
			v, _, ok, err := n.Host().Engine().MVCCGet([]byte("b"), math.MaxInt64)
			if err != nil || !ok || string(v) != "2" {
				return false
			}
		}
		return true
	})
}

func TestBadInput(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Nodes: 1})
	kv := c.KV(0)
	ctx := context.Background()
	cases := []struct {
		name string
		req  *pb.PutRequest
	}{
		{"empty key", &pb.PutRequest{Key: nil, Value: []byte("x")}},
		{"reserved key", &pb.PutRequest{Key: []byte("\x00meta"), Value: []byte("x")}},
		{"key too large", &pb.PutRequest{Key: make([]byte, server.MaxKeySize+1), Value: []byte("x")}},
		{"value too large", &pb.PutRequest{Key: []byte("k"), Value: make([]byte, server.MaxValueSize+1)}},
	}
	for _, tc := range cases {
		tc.req.Key = append([]byte(nil), tc.req.Key...)
		if len(tc.req.Key) > 0 && tc.name == "key too large" {
			tc.req.Key[0] = 'k'
		}
		_, err := kv.Put(ctx, tc.req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: got %v, want InvalidArgument", tc.name, err)
		}
	}
	// The largest allowed value goes through.
	if _, err := kv.Put(ctx, &pb.PutRequest{Key: []byte("big"), Value: make([]byte, server.MaxValueSize)}); err != nil {
		t.Fatalf("max-size value refused: %v", err)
	}
	// A second init is a clear error.
	_, err := c.Admin(0).Init(ctx, &pb.InitRequest{})
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second init: %v", err)
	}
}

// writers runs concurrent writers of unique keys until stop is closed and
// returns what was acknowledged and what is ambiguous.
type writeLog struct {
	mu        sync.Mutex
	acked     map[string]string
	ambiguous map[string]string
}

func runWriters(t *testing.T, c *servertest.Cluster, n int, stop <-chan struct{}) (*writeLog, *sync.WaitGroup) {
	wl := &writeLog{acked: map[string]string{}, ambiguous: map[string]string{}}
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := fmt.Sprintf("w%02d-%05d", w, i), fmt.Sprintf("v%d", i)
				node := (w + i) % len(c.Nodes)
				if c.Node(node) == nil {
					node = (node + 1) % len(c.Nodes)
					if c.Node(node) == nil {
						node = (node + 1) % len(c.Nodes)
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := c.KV(node).Put(ctx, &pb.PutRequest{Key: []byte(k), Value: []byte(v)})
				cancel()
				wl.mu.Lock()
				if err == nil {
					wl.acked[k] = v
				} else {
					wl.ambiguous[k] = v
				}
				wl.mu.Unlock()
			}
		}(w)
	}
	return wl, &wg
}

func (wl *writeLog) verify(t *testing.T, kv pb.KVClient) {
	t.Helper()
	wl.mu.Lock()
	defer wl.mu.Unlock()
	if len(wl.acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	for k, v := range wl.acked {
		if got, ok := get(t, kv, k); !ok || got != v {
			t.Fatalf("acknowledged write lost: %s = %q, %v (want %q)", k, got, ok, v)
		}
	}
	ctx := context.Background()
	sc, err := kv.Scan(ctx, &pb.ScanRequest{StartKey: []byte("w"), EndKey: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range sc.Kvs {
		k := string(p.Key)
		if seen[k] {
			t.Fatalf("scan returned %s twice", k)
		}
		seen[k] = true
		if _, ok := wl.acked[k]; !ok {
			if _, ok := wl.ambiguous[k]; !ok {
				t.Fatalf("scan returned %s, which nobody wrote", k)
			}
		}
	}
	for k := range wl.acked {
		if !seen[k] {
			t.Fatalf("scan misses acknowledged key %s", k)
		}
	}
	t.Logf("%d acknowledged writes, %d ambiguous, %d keys scanned", len(wl.acked), len(wl.ambiguous), len(sc.Kvs))
}

func TestLeaderStopNoAckedWriteLost(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	stop := make(chan struct{})
	wl, wg := runWriters(t, c, 4, stop)
	c.WaitFor(10*time.Second, "some writes", func() bool { wl.mu.Lock(); defer wl.mu.Unlock(); return len(wl.acked) > 50 })
	leader := c.LeaderOf(paxosgroup.FirstUserGroupID)
	if leader < 0 {
		t.Fatal("no leader")
	}
	c.StopNode(leader)
	before := func() int { wl.mu.Lock(); defer wl.mu.Unlock(); return len(wl.acked) }()
	c.WaitFor(20*time.Second, "writes to resume under a new leader", func() bool {
		wl.mu.Lock()
		defer wl.mu.Unlock()
		return len(wl.acked) > before+50
	})
	close(stop)
	wg.Wait()
	other := (leader + 1) % 3
	wl.verify(t, c.KV(other))
	c.StartNode(leader)
	wl.verify(t, c.KV(leader))
}

func TestRestartCatchUpByLogAndSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep uint64
	}{{"log", 100000}, {"snapshot", 20}} {
		t.Run(tc.name, func(t *testing.T) {
			c := servertest.Start(t, servertest.Options{Paxos: func(o *paxosgroup.Options) { o.LogKeepEntries = tc.keep }})
			put(t, c.KV(0), "before", "x")
			follower := -1
			leader := c.LeaderOf(paxosgroup.FirstUserGroupID)
			for i := 0; i < 3; i++ {
				if i != leader && c.LeaderOf(paxosgroup.MetaGroupID) != i {
					follower = i
				}
			}
			if follower < 0 {
				follower = (leader + 1) % 3
			}
			c.StopNode(follower)
			writer := (follower + 1) % 3
			for i := 0; i < 200; i++ {
				put(t, c.KV(writer), fmt.Sprintf("k%03d", i), fmt.Sprint(i))
			}
			c.StartNode(follower)
			eng := func() interface {
				MVCCGet([]byte, int64) ([]byte, int64, bool, error)
			} {
				return c.Nodes[follower].Host().Engine()
			}
			c.WaitFor(20*time.Second, "the restarted follower to catch up", func() bool {
				for i := 0; i < 200; i++ {
					v, _, ok, err := eng().MVCCGet([]byte(fmt.Sprintf("k%03d", i)), math.MaxInt64)
					if err != nil || !ok || string(v) != fmt.Sprint(i) {
						return false
					}
				}
				return true
			})
		})
	}
}

func TestPartitionedLeaderStopsServingReads(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	put(t, c.KV(0), "k", "1")
	leader := c.LeaderOf(paxosgroup.FirstUserGroupID)
	others := []uint64{}
	for i := 0; i < 3; i++ {
		if i != leader {
			others = append(others, c.NodeID(i))
		}
	}
	c.Faults.Isolate(c.NodeID(leader), others...)
	h := c.Nodes[leader].Host()
	// The isolated leader must stop serving once its lease can have run
	// out; it never gets support renewed again.
	c.WaitFor(10*time.Second, "the isolated leader to lose its lease", func() bool {
		err := h.Read(context.Background(), paxosgroup.FirstUserGroupID, func(*pb.GroupDescriptor, storage.Reader) error {
			return nil
		})
		return err != nil
	})
	// Meanwhile the majority elects a new leaseholder and takes writes.
	other := c.Index(others[0])
	put(t, c.KV(other), "k", "2")
	if v, _ := get(t, c.KV(other), "k"); v != "2" {
		t.Fatalf("k = %q", v)
	}
	c.Faults.Heal()
	if v, _ := get(t, c.KV(leader), "k"); v != "2" {
		t.Fatalf("after healing, old leader's node reads k = %q", v)
	}
}

// TestSnapshotCarriesTxnRecords: a follower that catches up by snapshot
// receives the group's 2PC records (here a prepared transaction) along
// with its versions.
func TestSnapshotCarriesTxnRecords(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Paxos: func(o *paxosgroup.Options) { o.LogKeepEntries = 20 }})
	g := uint64(paxosgroup.FirstUserGroupID)
	leader := c.LeaderOf(g)
	follower := (leader + 1) % 3
	if follower == c.LeaderOf(paxosgroup.MetaGroupID) {
		follower = (leader + 2) % 3
	}
	c.StopNode(follower)
	var id txn.TxnID
	id[0] = 42
	rec := &txn.PrepareRecord{ID: id, StartTS: 1, PrepareTS: 100, Coordinator: txn.GroupID(g),
		Participants: []txn.GroupID{txn.GroupID(g)}, Writes: []txn.Write{{Key: []byte("p"), Value: []byte("v")}}}
	cmd, err := proto.Marshal(&pb.TxnCommand{Cmd: &pb.TxnCommand_Prepare{Prepare: txn.EncodePrepareRecord(rec)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Nodes[leader].Host().Propose(ctx, g, cmd); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		put(t, c.KV(leader), fmt.Sprintf("s%03d", i), "x")
	}
	// A group with a prepared transaction does not split.
	if _, err := c.Admin(leader).Split(ctx, &pb.SplitRequest{SplitKey: []byte("s050")}); status.Code(err) != codes.Aborted ||
		!strings.Contains(err.Error(), "prepared transactions") {
		t.Fatalf("split with a prepared transaction: %v", err)
	}
	c.StartNode(follower)
	start, end := txn.RecordSpan(txn.GroupID(g))
	c.WaitFor(20*time.Second, "the prepared record to reach the restarted follower", func() bool {
		n := 0
		_ = c.Nodes[follower].Host().Engine().ScanRecords(start, end, func(_, _ []byte) bool { n++; return true })
		_, _, ok, _ := c.Nodes[follower].Host().Engine().MVCCGet([]byte("s099"), math.MaxInt64)
		return n > 0 && ok
	})
}
