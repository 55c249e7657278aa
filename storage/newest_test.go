package storage

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestNewestCacheNeverBehindCommits races readers of a cached key with a
// writer: a read that starts after a commit returned must see that
// commit's version (or a newer one), however fills and commits
// interleave.
func TestNewestCacheNeverBehindCommits(t *testing.T) {
	e, err := Open("store", Options{FS: vfs.NewMem(), NewestCached: []Span{{Start: []byte("k"), End: []byte("l")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	key := []byte("key")
	const writes = 2000
	var committed atomic.Int64
	var wg sync.WaitGroup
	var behind atomic.Int64
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := committed.Load()
				_, vts, _, err := e.MVCCGet(key, math.MaxInt64)
				if err != nil {
					t.Error(err)
					return
				}
				if vts < c {
					behind.Add(1)
				}
				if c == writes {
					return
				}
			}
		}()
	}
	for i := int64(1); i <= writes; i++ {
		b := e.NewBatch()
		if err := b.MVCCPut(key, i, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
		b.Close()
		committed.Store(i)
	}
	wg.Wait()
	if n := behind.Load(); n > 0 {
		t.Fatalf("%d reads started after a commit returned and missed its version", n)
	}
}

// TestNewestCacheClearSpan: a range deletion (a Raft snapshot's or a
// removed replica's) displaces cached versions like a write.
func TestNewestCacheClearSpan(t *testing.T) {
	e, err := Open("store", Options{FS: vfs.NewMem(), NewestCached: []Span{{Start: []byte("k"), End: []byte("l")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	b := e.NewBatch()
	if err := b.MVCCPut([]byte("key"), 5, []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, _, found, _ := e.MVCCGet([]byte("key"), 10); !found {
		t.Fatal("written key not found")
	}
	b = e.NewBatch()
	if err := b.ClearSpan([]byte("a"), []byte("z")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if v, vts, found, _ := e.MVCCGet([]byte("key"), 10); found {
		t.Fatalf("key cleared by a range deletion still read: %q@%d", v, vts)
	}
}
