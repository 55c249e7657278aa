package storage

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func openMem(t testing.TB, fs vfs.FS) *Engine {
	t.Helper()
	e, err := Open("store", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func put(t testing.TB, e *Engine, key string, ts int64, value string) {
	t.Helper()
	b := e.NewBatch()
	defer b.Close()
	if err := b.MVCCPut([]byte(key), ts, []byte(value)); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t testing.TB, r Reader, key string, ts int64) string {
	t.Helper()
	v, _, found, err := r.MVCCGet([]byte(key), ts)
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return "<not found>"
	}
	return string(v)
}

// waitFor spins until cond holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func TestStoreLocked(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second Open: got %v, want ErrStoreLocked", err)
	}
	want := fmt.Sprintf("storage: store %s is in use by another process (lock held on %s/LOCK)", dir, dir)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q does not contain %q", err, want)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := e2.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRestartOnDisk closes and reopens a real on-disk store: MVCC data, Raft
// state and local keys come back.
func TestRestartOnDisk(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, Options{CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	put(t, e, "k", 5, "v5")
	if err := e.SetLocal("node-id", []byte("n1")); err != nil {
		t.Fatal(err)
	}
	rs, err := e.RaftStorage(9)
	if err != nil {
		t.Fatal(err)
	}
	b := e.NewBatch()
	ents := []*raftpb.Entry{{Index: proto.Uint64(1), Term: proto.Uint64(1), Data: []byte("x")}}
	if err := rs.Append(b, ents); err != nil {
		t.Fatal(err)
	}
	if err := rs.SetHardState(b, &raftpb.HardState{Term: proto.Uint64(1), Commit: proto.Uint64(1)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	put(t, e, "k", 6, "v6") // only in the WAL at close
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	if got := mustGet(t, e, "k", 5); got != "v5" {
		t.Fatalf("k@5 = %s", got)
	}
	if got := mustGet(t, e, "k", 6); got != "v6" {
		t.Fatalf("k@6 = %s", got)
	}
	if v, ok, err := e.GetLocal("node-id"); err != nil || !ok || string(v) != "n1" {
		t.Fatalf("node-id = %q %v %v", v, ok, err)
	}
	if _, ok, err := e.GetLocal("absent"); err != nil || ok {
		t.Fatalf("absent local: %v %v", ok, err)
	}
	groups, err := e.Groups()
	if err != nil || len(groups) != 1 || groups[0] != 9 {
		t.Fatalf("groups = %v %v", groups, err)
	}
	rs, err = e.RaftStorage(9)
	if err != nil {
		t.Fatal(err)
	}
	hs, _, err := rs.InitialState()
	if err != nil || hs.GetCommit() != 1 {
		t.Fatalf("hard state %v %v", hs, err)
	}
	if last, _ := rs.LastIndex(); last != 1 {
		t.Fatalf("last index %d", last)
	}
}

func TestBatchOnCommit(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	defer func() { _ = e.Close() }()
	b := e.NewBatch()
	if !b.Empty() {
		t.Fatal("new batch not empty")
	}
	var order []int
	b.OnCommit(func() { order = append(order, 1) })
	b.OnCommit(func() { order = append(order, 2) })
	if err := b.MVCCPut([]byte("a"), 1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if b.Empty() || b.Len() == 0 {
		t.Fatal("batch with a put is empty")
	}
	if len(order) != 0 {
		t.Fatal("callbacks ran before commit")
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(order) != "[1 2]" {
		t.Fatalf("callbacks ran as %v", order)
	}
	if err := b.Commit(true); err == nil {
		t.Fatal("second commit succeeded")
	}
	if err := b.MVCCPut([]byte("a"), 2, nil); err == nil {
		t.Fatal("write to committed batch succeeded")
	}
	b.Close()
	b.Close()

	// An uncommitted batch never runs its callbacks.
	b = e.NewBatch()
	ran := false
	b.OnCommit(func() { ran = true })
	b.Close()
	if ran {
		t.Fatal("callback of a closed batch ran")
	}
}

// TestGroupCommit shows that concurrent synced commits share WAL fsyncs.
// The first commit's fsync is held until the other N-1 committers are
// queued behind it (their writes are visible, which Pebble does before the
// sync); then one more fsync covers them all.
func TestGroupCommit(t *testing.T) {
	const n = 16
	var syncs atomic.Int64
	var armed atomic.Bool
	blocked, release := make(chan struct{}), make(chan struct{})
	fs := &walObservingFS{FS: vfs.NewMem(), onSync: func(time.Duration) {
		syncs.Add(1)
		if armed.CompareAndSwap(true, false) {
			close(blocked)
			<-release
		}
	}}
	e := openMem(t, fs)
	defer func() { _ = e.Close() }()
	syncs0, metrics0 := syncs.Load(), e.Metrics()

	armed.Store(true)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	commit := func(i int) {
		defer wg.Done()
		b := e.NewBatch()
		defer b.Close()
		if err := b.MVCCPut([]byte(fmt.Sprintf("k%02d", i)), 1, []byte("v")); err != nil {
			errs <- err
			return
		}
		errs <- b.Commit(true)
	}
	wg.Add(1)
	go commit(0)
	<-blocked
	for i := 1; i < n; i++ {
		wg.Add(1)
		go commit(i)
	}
	waitFor(t, "all committers queued", func() bool {
		for i := 1; i < n; i++ {
			if _, _, found, _ := e.MVCCGet([]byte(fmt.Sprintf("k%02d", i)), 1); !found {
				return false
			}
		}
		return true
	})
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	used := syncs.Load() - syncs0
	m := e.Metrics()
	t.Logf("%d synced commits used %d WAL fsyncs (%.3f syncs/commit)", n, used, float64(used)/n)
	if used >= n {
		t.Fatalf("%d commits used %d fsyncs: no group commit", n, used)
	}
	if used > 3 {
		t.Fatalf("%d commits used %d fsyncs, want at most 3", n, used)
	}
	if got := m.WALSyncs - metrics0.WALSyncs; got != used {
		t.Fatalf("Metrics.WALSyncs counted %d, the filesystem saw %d", got, used)
	}
	if got := m.SyncedCommits - metrics0.SyncedCommits; got != n {
		t.Fatalf("Metrics.SyncedCommits = %d, want %d", got, n)
	}
}

func TestSyncObserver(t *testing.T) {
	var observed atomic.Int64
	e, err := Open("s", Options{FS: vfs.NewMem(), SyncObserver: func(d time.Duration) { observed.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	before := observed.Load()
	put(t, e, "a", 1, "x")
	if observed.Load() <= before {
		t.Fatal("synced commit did not call SyncObserver")
	}
	if e.Metrics().WALSyncs != observed.Load() {
		t.Fatalf("metrics %d != observed %d", e.Metrics().WALSyncs, observed.Load())
	}
}

// TestSpanSnapshotTransfer moves a span from one store to another the way a
// Raft snapshot does: ExportSpan from a Snapshot, ClearSpan + PutRaw on the
// receiver. Keys outside the span are untouched on both sides.
func TestSpanSnapshotTransfer(t *testing.T) {
	src, dst := openMem(t, vfs.NewMem()), openMem(t, vfs.NewMem())
	defer func() { _ = src.Close(); _ = dst.Close() }()
	for _, k := range []string{"a", "b", "b\x00", "c", "d"} {
		put(t, src, k, 10, k+"10")
		put(t, src, k, 20, k+"20")
	}
	b := src.NewBatch()
	if err := b.MVCCDelete([]byte("c"), 30); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	put(t, dst, "a", 1, "dst-a")
	put(t, dst, "b", 1, "stale")
	put(t, dst, "bz", 1, "stale")
	put(t, dst, "d", 1, "dst-d")

	snap := src.NewSnapshot()
	put(t, src, "b", 40, "after-snapshot")
	rb := dst.NewBatch()
	if err := rb.ClearSpan([]byte("b"), []byte("d")); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := snap.ExportSpan([]byte("b"), []byte("d"), func(k, v []byte) error {
		n++
		return rb.PutRaw(k, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Fatalf("exported %d records, want 7", n)
	}
	if err := rb.Commit(true); err != nil {
		t.Fatal(err)
	}
	rb.Close()
	var got []string
	err = dst.MVCCScan(nil, nil, 100, 0, func(k, v []byte, ts int64) error {
		got = append(got, fmt.Sprintf("%q@%d=%q", k, ts, v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `["a"@1="dst-a" "b"@20="b20" "b\x00"@20="b\x0020" "d"@1="dst-d"]`
	if fmt.Sprint(got) != want {
		t.Fatalf("after transfer:\n got %v\nwant %s", got, want)
	}
	if lt, _ := dst.MVCCLatest([]byte("c")); lt != 30 {
		t.Fatalf("tombstone not transferred: latest(c) = %d", lt)
	}

	// PutRaw refuses anything outside the MVCC keyspace or malformed.
	rb = dst.NewBatch()
	defer rb.Close()
	for _, bad := range []struct{ k, v []byte }{
		{raftKey(1, raftSuffixHardState), []byte{tagValue}},
		{localKey("node-id"), []byte{tagValue}},
		{EncodeMVCCKey([]byte("x"), 1)[:5], []byte{tagValue}},
		{EncodeMVCCKey([]byte("x"), 1), []byte{0x7}},
		{EncodeMVCCKey([]byte("x"), 1), nil},
	} {
		if err := rb.PutRaw(bad.k, bad.v); err == nil {
			t.Fatalf("PutRaw(%x, %x) accepted", bad.k, bad.v)
		}
	}
}

func TestSpanSize(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	defer func() { _ = e.Close() }()
	b := e.NewBatch()
	rng := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, 1000)
	for i := 0; i < 1000; i++ {
		for j := range val {
			val[j] = byte(rng.Uint32())
		}
		if err := b.MVCCPut([]byte(fmt.Sprintf("m%04d", i)), 1, val); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	in, err := e.SpanSize([]byte("m"), []byte("n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.SpanSize([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// 1 MB of random values does not compress.
	if in < 900_000 || out != 0 {
		t.Fatalf("SpanSize in=%d out=%d", in, out)
	}
}
