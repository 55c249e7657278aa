package storage

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// openCached opens an in-memory engine that caches the newest versions
// of keys in spans; the test closes it.
func openCached(t *testing.T, spans ...Span) *Engine {
	t.Helper()
	e, err := Open("store", Options{FS: vfs.NewMem(), NewestCached: spans})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// commitBatch commits, without sync, a batch that stage fills.
func commitBatch(t *testing.T, e *Engine, stage func(b *Batch) error) {
	t.Helper()
	b := e.NewBatch()
	defer b.Close()
	if err := stage(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
}

// TestNewestCacheNeverBehindCommits races readers of a cached key with a
// writer: a read that starts after a commit returned must see that
// commit's version (or a newer one), however fills and commits
// interleave, and every value read must be the one written with its
// version.
func TestNewestCacheNeverBehindCommits(t *testing.T) {
	e := openCached(t, Span{Start: []byte("k"), End: []byte("l")})
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
				v, vts, found, err := e.MVCCGet(key, math.MaxInt64)
				if err != nil {
					t.Error(err)
					return
				}
				if vts < c {
					behind.Add(1)
				}
				if found && string(v) != strconv.FormatInt(vts, 10) {
					t.Errorf("read %q at version %d", v, vts)
					return
				}
				if c == writes {
					return
				}
			}
		}()
	}
	for i := int64(1); i <= writes; i++ {
		commitBatch(t, e, func(b *Batch) error { return b.MVCCPut(key, i, []byte(strconv.FormatInt(i, 10))) })
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
	e := openCached(t, Span{Start: []byte("k"), End: []byte("l")})
	commitBatch(t, e, func(b *Batch) error { return b.MVCCPut([]byte("key"), 5, []byte("v")) })
	if _, _, found, _ := e.MVCCGet([]byte("key"), 10); !found {
		t.Fatal("written key not found")
	}
	commitBatch(t, e, func(b *Batch) error { return b.ClearSpan([]byte("a"), []byte("z")) })
	if v, vts, found, _ := e.MVCCGet([]byte("key"), 10); found {
		t.Fatalf("key cleared by a range deletion still read: %q@%d", v, vts)
	}
}

// TestNewestCachePutRaw: PutRaw copies versions of any age (a Raft
// snapshot's data), so the cache drops the key rather than trust the
// version written to be the newest.
func TestNewestCachePutRaw(t *testing.T) {
	e := openCached(t, Span{Start: []byte{}})
	key := []byte("key")
	commitBatch(t, e, func(b *Batch) error { return b.MVCCPut(key, 5, []byte("v5")) })
	if v, _, _, _ := e.MVCCGet(key, 100); string(v) != "v5" { // fills the cache
		t.Fatalf("read %q, want v5", v)
	}
	// A raw version above the cached one, written alone.
	commitBatch(t, e, func(b *Batch) error { return b.PutRaw(EncodeMVCCKey(key, 9), encodeValue([]byte("v9"))) })
	if v, vts, _, _ := e.MVCCGet(key, 100); string(v) != "v9" || vts != 9 {
		t.Fatalf("after PutRaw read %q@%d, want v9@9", v, vts)
	}
}

// TestNewestCacheBounds: however many keys are read, the cache keeps
// within its entry and byte bounds, and large values are not cached.
func TestNewestCacheBounds(t *testing.T) {
	e := openCached(t, Span{Start: []byte{}})
	value := make([]byte, 1000)
	const keys = 40_000 // 40 MB of values against a 32 MiB bound
	for i := 0; i < keys; i += maxNotedWrites {
		commitBatch(t, e, func(b *Batch) error {
			for j := i; j < min(i+maxNotedWrites, keys); j++ {
				if err := b.MVCCPut([]byte(fmt.Sprintf("k%06d", j)), 1, value); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for i := 0; i < keys; i++ {
		if _, _, found, err := e.MVCCGet([]byte(fmt.Sprintf("k%06d", i)), 10); err != nil || !found {
			t.Fatalf("k%06d: found %v, err %v", i, found, err)
		}
	}
	c := e.newest
	c.mu.Lock()
	n, size := len(c.entries), c.bytes
	sum := 0
	for k, ent := range c.entries {
		sum += newestEntrySize(k, ent)
	}
	c.mu.Unlock()
	if n == 0 || n > maxNewestEntries || size > maxNewestBytes || sum != size {
		t.Fatalf("%d entries of %d bytes (accounted %d); bounds %d entries, %d bytes", n, sum, size, maxNewestEntries, maxNewestBytes)
	}
	commitBatch(t, e, func(b *Batch) error { return b.MVCCPut([]byte("big"), 1, make([]byte, maxNewestValue+1)) })
	if _, _, found, _ := e.MVCCGet([]byte("big"), 10); !found {
		t.Fatal("big value not found")
	}
	c.mu.Lock()
	_, cached := c.entries["big"]
	c.mu.Unlock()
	if cached {
		t.Fatal("a value over maxNewestValue was cached")
	}
}
