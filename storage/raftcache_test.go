package storage

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"
)

// TestEntryCacheMatchesPebble drives two stores through the same random
// Raft log writes (appends with conflicts, compactions, snapshots, group
// destruction, uncommitted batches, restarts) on three groups: one with a
// small entry cache (so per-group and global eviction happen), one without.
// After every step, Entries and Term on random ranges of every group must
// answer identically, and the cache must have served some of them.
func TestEntryCacheMatchesPebble(t *testing.T) {
	var hits int64
	defer func() {
		if !t.Failed() && hits == 0 {
			t.Fatal("the entry cache served no Entries call: the test compares nothing")
		}
	}()
	rapid.Check(t, func(t *rapid.T) {
		fsC, fsP := vfs.NewMem(), vfs.NewMem()
		optsC := Options{FS: fsC, RaftEntryCacheSize: 600}
		optsC.TestingKnobs.RaftEntryCacheGroupEntries = 8
		optsP := Options{FS: fsP, RaftEntryCacheSize: -1}
		open := func(opts Options) *Engine {
			e, err := Open("store", opts)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		cached, plain := open(optsC), open(optsP)
		defer func() {
			hits += cached.Metrics().RaftEntryCacheHits
			_ = cached.Close()
			_ = plain.Close()
		}()
		groups := []uint64{1, 2, 3}
		for step, n := 0, rapid.IntRange(1, 40).Draw(t, "steps"); step < n; step++ {
			g := rapid.SampledFrom(groups).Draw(t, "group")
			if rapid.IntRange(0, 30).Draw(t, "restart") == 0 {
				hits += cached.Metrics().RaftEntryCacheHits
				_ = cached.Close()
				_ = plain.Close()
				cached, plain = open(optsC), open(optsP)
			}
			ops := randomRaftOps(t, cached, g)
			commit := rapid.IntRange(0, 9).Draw(t, "commit") > 0
			errC := applyRaftOps(cached, g, ops, commit)
			errP := applyRaftOps(plain, g, ops, commit)
			if fmt.Sprint(errC) != fmt.Sprint(errP) {
				t.Fatalf("step %d: ops %v: cached store: %v, plain store: %v", step, ops, errC, errP)
			}
			for _, g := range groups {
				compareRaftReads(t, cached, plain, g)
			}
		}
	})
}

// raftOp is one staged Raft write of a random step.
type raftOp struct {
	kind        string // append, compact, snapshot, destroy
	index, term uint64
	count       int
}

func (o raftOp) String() string { return fmt.Sprintf("%s(%d,%d,%d)", o.kind, o.index, o.term, o.count) }

// randomRaftOps draws one to three writes valid for the log's current state
// (read from the cached store; both stores hold the same state).
func randomRaftOps(t *rapid.T, e *Engine, g uint64) []raftOp {
	rs, err := e.RaftStorage(g)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := rs.FirstIndex()
	last, _ := rs.LastIndex()
	hs, _, _ := rs.InitialState()
	term := hs.GetTerm()
	var ops []raftOp
	for i, n := 0, rapid.IntRange(1, 3).Draw(t, "ops"); i < n; i++ {
		switch rapid.IntRange(0, 9).Draw(t, "kind") {
		case 0, 1:
			if last >= first {
				idx := rapid.Uint64Range(first, last).Draw(t, "compactAt")
				ops = append(ops, raftOp{kind: "compact", index: idx})
				first = idx + 1
			}
		case 2:
			idx := last + rapid.Uint64Range(1, 20).Draw(t, "snapAhead")
			term++
			ops = append(ops, raftOp{kind: "snapshot", index: idx, term: term})
			first, last = idx+1, idx
		case 3:
			if rapid.IntRange(0, 3).Draw(t, "destroy") == 0 {
				ops = append(ops, raftOp{kind: "destroy"})
				return ops
			}
		default:
			from := rapid.Uint64Range(first, last+1).Draw(t, "appendFrom")
			count := rapid.IntRange(1, 12).Draw(t, "count")
			if from <= last {
				term++ // a new leader overwrites a suffix
			}
			ops = append(ops, raftOp{kind: "append", index: from, term: max(term, 1), count: count})
			last = from + uint64(count) - 1
		}
	}
	// The term rides in the hard state, so later steps use higher terms.
	ops = append(ops, raftOp{kind: "hard-state", term: term})
	return ops
}

func applyRaftOps(e *Engine, g uint64, ops []raftOp, commit bool) error {
	rs, err := e.RaftStorage(g)
	if err != nil {
		return err
	}
	b := e.NewBatch()
	defer b.Close()
	for _, op := range ops {
		switch op.kind {
		case "append":
			ents := make([]*raftpb.Entry, op.count)
			for i := range ents {
				idx := op.index + uint64(i)
				ents[i] = &raftpb.Entry{Index: proto.Uint64(idx), Term: proto.Uint64(op.term),
					Data: []byte(fmt.Sprintf("%d/%d/%x", idx, op.term, make([]byte, idx%7)))}
			}
			err = rs.Append(b, ents)
		case "compact":
			err = rs.Compact(b, op.index)
		case "snapshot":
			err = rs.ApplySnapshotMeta(b, &raftpb.SnapshotMetadata{Index: proto.Uint64(op.index),
				Term: proto.Uint64(op.term), ConfState: &raftpb.ConfState{Voters: []uint64{1}}})
		case "destroy":
			err = e.DestroyGroup(b, g)
		case "hard-state":
			err = rs.SetHardState(b, &raftpb.HardState{Term: proto.Uint64(op.term)})
		}
		if err != nil {
			return err
		}
	}
	if !commit {
		return nil
	}
	return b.Commit(false)
}

// compareRaftReads checks every Entries range and Term of group g.
func compareRaftReads(t *rapid.T, cached, plain *Engine, g uint64) {
	rc, err := cached.RaftStorage(g)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := plain.RaftStorage(g)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := rp.FirstIndex()
	last, _ := rp.LastIndex()
	lo0 := first - min(first, 2)
	for lo := lo0; lo <= last+2; lo++ {
		tc, errC := rc.Term(lo)
		tp, errP := rp.Term(lo)
		if tc != tp || fmt.Sprint(errC) != fmt.Sprint(errP) {
			t.Fatalf("group %d: Term(%d): cached %d %v, plain %d %v", g, lo, tc, errC, tp, errP)
		}
		for hi := lo; hi <= min(last+2, lo+12); hi++ {
			for _, maxSize := range []uint64{0, 25, 1 << 30} {
				ec, errC := rc.Entries(lo, hi, maxSize)
				ep, errP := rp.Entries(lo, hi, maxSize)
				if fmt.Sprint(errC) != fmt.Sprint(errP) || !entriesEqual(ec, ep) {
					t.Fatalf("group %d: Entries(%d, %d, %d):\ncached %v %v\nplain  %v %v",
						g, lo, hi, maxSize, ec, errC, ep, errP)
				}
			}
		}
	}
}

func entriesEqual(a, b []*raftpb.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
