package txn_test

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/meridiandb/meridian/storage"
	"github.com/meridiandb/meridian/txn"
)

// The Raft apply batch is what the 2PC state machines write through.
var _ txn.Store = (*storage.Batch)(nil)

// TestRecordSpanAcceptedByStorage checks that storage accepts the spans txn
// hands it for snapshots and replica removal, including the last group's
// span, whose end is the first key past the record keyspace.
func TestRecordSpanAcceptedByStorage(t *testing.T) {
	e, err := storage.Open("store", storage.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	for _, g := range []txn.GroupID{0, 7, ^txn.GroupID(0)} {
		start, end := txn.RecordSpan(g)
		b := e.NewBatch()
		if err := b.PutRecord(append(start, 'm'), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
		b.Close()
		snap := e.NewSnapshot()
		n := 0
		if err := snap.ExportRecords(start, end, func(k, v []byte) error { n++; return nil }); err != nil {
			t.Fatalf("group %d: %v", g, err)
		}
		_ = snap.Close()
		if n != 1 {
			t.Fatalf("group %d: exported %d records, want 1", g, n)
		}
		b = e.NewBatch()
		if err := b.ClearRecords(start, end); err != nil {
			t.Fatalf("group %d: %v", g, err)
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
		b.Close()
		if _, ok, err := e.GetRecord(append(start, 'm')); err != nil || ok {
			t.Fatalf("group %d: record survives ClearRecords (ok=%v, err=%v)", g, ok, err)
		}
	}
}
