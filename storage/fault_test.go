package storage

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestWALWriteFailure injects a failure into WAL writes or syncs. The
// failing commit must return an error (never be acknowledged), the engine
// must fail-stop, and after "freeing space" (a restart on the same
// underlying files, without the injection) the store opens and holds every
// acknowledged write.
func TestWALWriteFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   errorfs.OpKind
		errno  syscall.Errno
		isFull bool
	}{
		{"enospc-on-write", errorfs.OpFileWrite, syscall.ENOSPC, true},
		{"eio-on-syncdata", errorfs.OpFileSyncData, syscall.EIO, false},
		{"eio-on-write", errorfs.OpFileWrite, syscall.EIO, false},
		{"enospc-on-syncdata", errorfs.OpFileSyncData, syscall.ENOSPC, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			var armed atomic.Bool
			var injected atomic.Int64
			inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
				if armed.Load() && op.Kind == tc.kind && strings.HasSuffix(op.Path, ".log") {
					injected.Add(1)
					return tc.errno
				}
				return nil
			})
			e, err := Open("store", Options{FS: errorfs.Wrap(mem, inj)})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 10; i++ {
				put(t, e, fmt.Sprintf("acked%d", i), 1, "v")
			}

			armed.Store(true)
			b := e.NewBatch()
			if err := b.MVCCPut([]byte("lost"), 1, []byte("v")); err != nil {
				t.Fatal(err)
			}
			ran := false
			b.OnCommit(func() { ran = true })
			err = b.Commit(true)
			b.Close()
			if err == nil {
				t.Fatal("commit with a failing WAL was acknowledged")
			}
			if injected.Load() == 0 {
				t.Fatal("no fault was injected")
			}
			t.Logf("commit error: %v", err)
			if !errors.Is(err, ErrStoreFailed) || errors.Is(err, ErrDiskFull) != tc.isFull {
				t.Fatalf("error not marked as expected (full=%v): %v", tc.isFull, err)
			}
			if !errors.Is(err, tc.errno) {
				t.Fatalf("cause %v lost: %v", tc.errno, err)
			}
			if tc.isFull && !strings.Contains(err.Error(), "free space") {
				t.Fatalf("disk-full message does not say to free space: %v", err)
			}
			if !strings.Contains(err.Error(), "restart") {
				t.Fatalf("message does not say to restart: %v", err)
			}
			if ran {
				t.Fatal("OnCommit ran for a failed commit")
			}

			// Fail-stop: later writes and reads are refused with the same
			// error, even once the disk works again.
			armed.Store(false)
			b = e.NewBatch()
			_ = b.MVCCPut([]byte("after"), 1, []byte("v"))
			if err2 := b.Commit(true); !errors.Is(err2, ErrStoreFailed) {
				t.Fatalf("commit after failure: %v", err2)
			}
			b.Close()
			if _, _, _, err2 := e.MVCCGet([]byte("acked0"), 1); !errors.Is(err2, ErrStoreFailed) {
				t.Fatalf("read after failure: %v", err2)
			}
			if _, err2 := e.RaftStorage(1); !errors.Is(err2, ErrStoreFailed) {
				t.Fatalf("RaftStorage after failure: %v", err2)
			}
			if e.Failed() == nil {
				t.Fatal("Failed() is nil")
			}

			// The process restarts: only what reached the (fault-free)
			// files survives. Reopen on a crash clone without the injector.
			restarted := mem.CrashClone(vfs.CrashCloneCfg{})
			e2, err := Open("store", Options{FS: restarted})
			if err != nil {
				t.Fatalf("reopen after freeing space: %v", err)
			}
			defer func() { _ = e2.Close() }()
			for i := 0; i < 10; i++ {
				if got := mustGet(t, e2, fmt.Sprintf("acked%d", i), 1); got != "v" {
					t.Fatalf("acknowledged write acked%d lost: %s", i, got)
				}
			}
			if got := mustGet(t, e2, "after", 1); got != "<not found>" {
				t.Fatalf("refused write present: %s", got)
			}
			// The store takes writes again.
			put(t, e2, "again", 2, "v")
			// Closing the failed engine releases its lock and reports the
			// failure rather than succeeding silently.
			if err := e.Close(); err == nil {
				t.Log("Close of failed engine returned nil")
			}
		})
	}
}

// TestPowerLoss commits synced and unsynced batches, then simulates power
// loss (a crash clone keeping a random share of unsynced data). Every
// synced commit survives; unsynced ones may vanish but only as a suffix of
// the commit order, and the store always opens cleanly.
func TestPowerLoss(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			mem := vfs.NewCrashableMem()
			e := openMem(t, mem)
			defer func() { _ = e.Close() }()
			const n = 60
			synced := make([]bool, n)
			for i := 0; i < n; i++ {
				synced[i] = rng.IntN(3) == 0
				b := e.NewBatch()
				if err := b.MVCCPut([]byte(fmt.Sprintf("k%03d", i)), 1, []byte(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
				if err := b.Commit(synced[i]); err != nil {
					t.Fatal(err)
				}
				b.Close()
			}
			crashed := mem.CrashClone(vfs.CrashCloneCfg{
				UnsyncedDataPercent: rng.IntN(101),
				RNG:                 rand.New(rand.NewPCG(seed, 7)),
			})
			e2, err := Open("store", Options{FS: crashed})
			if err != nil {
				t.Fatalf("open after power loss (seed %d): %v", seed, err)
			}
			defer func() { _ = e2.Close() }()
			lastSynced := -1
			for i := range synced {
				if synced[i] {
					lastSynced = i
				}
			}
			missing := -1
			for i := 0; i < n; i++ {
				got := mustGet(t, e2, fmt.Sprintf("k%03d", i), 1)
				if got == "<not found>" {
					if i <= lastSynced {
						t.Fatalf("seed %d: commit %d lost, but commit %d was synced after it", seed, i, lastSynced)
					}
					if missing < 0 {
						missing = i
					}
					continue
				}
				if missing >= 0 {
					t.Fatalf("seed %d: commit %d survived but earlier commit %d was lost", seed, i, missing)
				}
				if got != fmt.Sprint(i) {
					t.Fatalf("seed %d: k%03d = %q", seed, i, got)
				}
			}
		})
	}
}

// TestPowerLossNegativeControl shows the power-loss check can fail: with
// Unsafe.NoSync, "synced" commits are lost by a crash keeping no unsynced
// data.
func TestPowerLossNegativeControl(t *testing.T) {
	mem := vfs.NewCrashableMem()
	e, err := Open("store", Options{FS: mem, Unsafe: struct{ NoSync bool }{NoSync: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	put(t, e, "k", 1, "v")
	e2, err := Open("store", Options{FS: mem.CrashClone(vfs.CrashCloneCfg{})})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e2.Close() }()
	if got := mustGet(t, e2, "k", 1); got != "<not found>" {
		t.Fatalf("NoSync commit survived power loss (%q): the crash model keeps unsynced data", got)
	}
}
