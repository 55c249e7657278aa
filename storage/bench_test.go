package storage

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// BenchmarkMVCCGet reads random keys, each with 4 versions, at a timestamp
// between versions, from flushed sstables.
func BenchmarkMVCCGet(b *testing.B) {
	e := openMem(b, vfs.NewMem())
	defer func() { _ = e.Close() }()
	const keys = 10000
	batch := e.NewBatch()
	for i := 0; i < keys; i++ {
		for ts := int64(10); ts <= 40; ts += 10 {
			if err := batch.MVCCPut([]byte(fmt.Sprintf("key%06d", i)), ts, []byte("value-value-value")); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := batch.Commit(false); err != nil {
		b.Fatal(err)
	}
	batch.Close()
	if err := e.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _, found, err := e.MVCCGet([]byte(fmt.Sprintf("key%06d", (i*7919)%keys)), 25)
		if err != nil || !found {
			b.Fatal(found, err)
		}
	}
}

// BenchmarkConcurrentSyncedCommits measures group commit on a real disk
// (t.TempDir()): many goroutines commit small synced batches.
func BenchmarkConcurrentSyncedCommits(b *testing.B) {
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprint("goroutines-per-cpu=", par), func(b *testing.B) {
			e, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = e.Close() }()
			m0 := e.Metrics()
			var seq atomic.Int64
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					batch := e.NewBatch()
					i := seq.Add(1)
					if err := batch.MVCCPut([]byte(fmt.Sprintf("k%09d", i)), 1, []byte("v")); err != nil {
						b.Error(err)
						return
					}
					if err := batch.Commit(true); err != nil {
						b.Error(err)
						return
					}
					batch.Close()
				}
			})
			m := e.Metrics()
			commits := m.SyncedCommits - m0.SyncedCommits
			if commits > 0 {
				b.ReportMetric(float64(m.WALSyncs-m0.WALSyncs)/float64(commits), "syncs/commit")
			}
		})
	}
}

// BenchmarkMVCCGetLayered reads keys spread over 8 overlapping flushed
// sstables (each holds one eighth of the keys, interleaved), the shape in
// which every point read used to seek in every table.
func BenchmarkMVCCGetLayered(b *testing.B) {
	e := openMem(b, vfs.NewMem())
	defer func() { _ = e.Close() }()
	const keys, tables = 16000, 8
	for t := 0; t < tables; t++ {
		batch := e.NewBatch()
		for i := t; i < keys; i += tables {
			if err := batch.MVCCPut([]byte(fmt.Sprintf("key%06d", i)), 10, []byte("value-value-value")); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(false); err != nil {
			b.Fatal(err)
		}
		batch.Close()
		if err := e.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("get", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _, found, err := e.MVCCGet([]byte(fmt.Sprintf("key%06d", (i*7919)%keys)), 25)
			if err != nil || !found {
				b.Fatal(found, err)
			}
		}
	})
	b.Run("latest", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ts, err := e.MVCCLatest([]byte(fmt.Sprintf("key%06d", (i*7919)%keys)))
			if err != nil || ts != 10 {
				b.Fatal(ts, err)
			}
		}
	})
	b.Run("absent", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _, found, err := e.MVCCGet([]byte(fmt.Sprintf("nokey%06d", (i*7919)%keys)), 25)
			if err != nil || found {
				b.Fatal(found, err)
			}
		}
	})
}

// BenchmarkRaftEntries is the leader's read-back: append a batch of 8
// entries of 256 bytes, then read them back (as raft does to send them to
// followers and to apply them), once per follower and once to apply.
func BenchmarkRaftEntries(b *testing.B) {
	e := openMem(b, vfs.NewMem())
	defer func() { _ = e.Close() }()
	rs, err := e.RaftStorage(1)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 256)
	next := uint64(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ents := make([]*raftpb.Entry, 8)
		for j := range ents {
			ents[j] = &raftpb.Entry{Index: proto.Uint64(next + uint64(j)), Term: proto.Uint64(1), Data: data}
		}
		batch := e.NewBatch()
		if err := rs.Append(batch, ents); err != nil {
			b.Fatal(err)
		}
		if err := batch.Commit(false); err != nil {
			b.Fatal(err)
		}
		batch.Close()
		for r := 0; r < 3; r++ {
			got, err := rs.Entries(next, next+8, 1<<20)
			if err != nil || len(got) != 8 {
				b.Fatal(len(got), err)
			}
		}
		next += 8
	}
}

// BenchmarkMVCCScan scans 100 consecutive keys of 10,000 at the newest
// timestamp, each key with 1 or 50 versions, in the memtable or flushed:
// sysbench's range queries over rows that are updated often.
func BenchmarkMVCCScan(b *testing.B) {
	for _, versions := range []int{1, 3, 50} {
		for _, flushed := range []bool{false, true} {
			b.Run(fmt.Sprintf("versions=%d/flushed=%v", versions, flushed), func(b *testing.B) {
				e := openMem(b, vfs.NewMem())
				defer func() { _ = e.Close() }()
				const keys = 10000
				for v := 1; v <= versions; v++ {
					batch := e.NewBatch()
					for i := 0; i < keys; i++ {
						if err := batch.MVCCPut([]byte(fmt.Sprintf("key%06d", i)), int64(v), []byte("value-value-value")); err != nil {
							b.Fatal(err)
						}
					}
					if err := batch.Commit(false); err != nil {
						b.Fatal(err)
					}
					batch.Close()
				}
				if flushed {
					if err := e.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					start := (i * 7919) % (keys - 100)
					n := 0
					err := e.MVCCScan([]byte(fmt.Sprintf("key%06d", start)), []byte(fmt.Sprintf("key%06d", start+100)), int64(versions), 0,
						func([]byte, []byte, int64) error { n++; return nil })
					if err != nil || n != 100 {
						b.Fatal(n, err)
					}
				}
			})
		}
	}
}
