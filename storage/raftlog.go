package storage

import (
	"encoding/binary"
	"sync"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// raftState is the cached persistent Raft state of one group. A committed
// copy lives in RaftStorage.mu; a batch that stages Raft writes carries its
// own evolving copy (Batch.raft) and installs it on commit.
type raftState struct {
	// truncIndex and truncTerm identify the last entry removed from the
	// log (by Compact or a snapshot). 0, 0 for a fresh group.
	truncIndex, truncTerm uint64
	// lastIndex and lastTerm identify the last entry in the log, or equal
	// the truncated state if the log is empty.
	lastIndex, lastTerm uint64
	hard                *raftpb.HardState // nil if never set
	conf                *raftpb.ConfState // never nil
	// cacheOps are the entry cache updates of a staged state, applied in
	// order when the batch commits, together with installing the state
	// (raftcache.go). Always nil in the committed state.
	cacheOps []func(c *entryCache, group uint64)
}

func (s *raftState) clone() *raftState {
	c := *s
	if s.hard != nil {
		c.hard = proto.CloneOf(s.hard)
	}
	c.conf = proto.CloneOf(s.conf)
	c.cacheOps = nil
	return &c
}

// RaftStorage is the persistent Raft state of one group: log entries, hard
// state, truncated state, conf state and the replica metadata blob. It
// implements raft.Storage (reads, safe for concurrent use) and stages writes
// into a Batch; its caches change only when that batch commits. The caller
// serializes writes for one group (one batch at a time).
type RaftStorage struct {
	e       *Engine
	groupID uint64

	mu struct {
		sync.Mutex
		st           *raftState
		snapProvider func() (*raftpb.Snapshot, error)
		destroyed    bool
	}
}

var _ raft.Storage = (*RaftStorage)(nil)

// RaftStorage returns the one RaftStorage of groupID, loading its state from
// disk on first use. A group without any persisted state starts empty:
// FirstIndex 1, LastIndex 0, empty hard and conf state.
func (e *Engine) RaftStorage(groupID uint64) (*RaftStorage, error) {
	if err := e.checkUsable(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closed {
		return nil, errors.Mark(errors.New("storage: RaftStorage on closed engine"), ErrClosed)
	}
	if rs, ok := e.mu.groups[groupID]; ok {
		return rs, nil
	}
	st, err := loadRaftState(e.db, groupID)
	if err != nil {
		return nil, err
	}
	rs := &RaftStorage{e: e, groupID: groupID}
	rs.mu.st = st
	e.mu.groups[groupID] = rs
	return rs, nil
}

func loadRaftState(r pebble.Reader, groupID uint64) (*raftState, error) {
	st := &raftState{conf: &raftpb.ConfState{}}
	if v, ok, err := getCopy(r, raftKey(groupID, raftSuffixTruncated)); err != nil {
		return nil, err
	} else if ok {
		if len(v) != 16 {
			return nil, errors.AssertionFailedf("storage: group %d: truncated state of %d bytes", groupID, len(v))
		}
		st.truncIndex = binary.BigEndian.Uint64(v)
		st.truncTerm = binary.BigEndian.Uint64(v[8:])
	}
	if v, ok, err := getCopy(r, raftKey(groupID, raftSuffixHardState)); err != nil {
		return nil, err
	} else if ok {
		st.hard = &raftpb.HardState{}
		if err := proto.Unmarshal(v, st.hard); err != nil {
			return nil, errors.Wrapf(err, "storage: group %d: decoding hard state", groupID)
		}
	}
	if v, ok, err := getCopy(r, raftKey(groupID, raftSuffixConfState)); err != nil {
		return nil, err
	} else if ok {
		if err := proto.Unmarshal(v, st.conf); err != nil {
			return nil, errors.Wrapf(err, "storage: group %d: decoding conf state", groupID)
		}
	}
	st.lastIndex, st.lastTerm = st.truncIndex, st.truncTerm
	lower, upper := raftLogSpan(groupID, st.truncIndex+1, 0)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, errors.Wrap(err, "storage: loading raft state")
	}
	defer func() { _ = it.Close() }()
	if it.Last() {
		ent, err := decodeEntry(it)
		if err != nil {
			return nil, err
		}
		st.lastIndex, st.lastTerm = ent.GetIndex(), ent.GetTerm()
	} else if err := it.Error(); err != nil {
		return nil, errors.Wrap(err, "storage: loading raft state")
	}
	return st, nil
}

func decodeEntry(it *pebble.Iterator) (*raftpb.Entry, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, errors.Wrap(err, "storage: reading raft entry")
	}
	ent := &raftpb.Entry{}
	if err := proto.Unmarshal(v, ent); err != nil {
		return nil, errors.Wrapf(err, "storage: decoding raft entry at key %x", it.Key())
	}
	return ent, nil
}

// GroupID returns the group this storage belongs to.
func (rs *RaftStorage) GroupID() uint64 { return rs.groupID }

// state returns the committed state; rs.mu must be held.
func (rs *RaftStorage) stateLocked() (*raftState, error) {
	if rs.mu.destroyed {
		return nil, errors.Newf("storage: raft group %d was destroyed", rs.groupID)
	}
	if err := rs.e.checkUsable(); err != nil {
		return nil, err
	}
	return rs.mu.st, nil
}

// InitialState implements raft.Storage. HardState is nil if none was ever
// persisted; ConfState is never nil. Both are copies.
func (rs *RaftStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st, err := rs.stateLocked()
	if err != nil {
		return nil, nil, err
	}
	var hs *raftpb.HardState
	if st.hard != nil {
		hs = proto.CloneOf(st.hard)
	}
	return hs, proto.CloneOf(st.conf), nil
}

// Entries implements raft.Storage: entries [lo, hi), at most maxSize bytes
// (by proto size) but at least one. It returns raft.ErrCompacted if
// lo <= the truncated index and raft.ErrUnavailable if hi > LastIndex+1.
// Entries come from the entry cache when it holds the whole range, else
// from Pebble. The slice is freshly allocated; the entries may be shared
// with the cache (and with the caller of Append) and must not be modified.
func (rs *RaftStorage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st, err := rs.stateLocked()
	if err != nil {
		return nil, err
	}
	if lo <= st.truncIndex {
		return nil, raft.ErrCompacted
	}
	if hi > st.lastIndex+1 || lo > hi {
		return nil, raft.ErrUnavailable
	}
	if lo == hi {
		return nil, nil
	}
	if ents, ok := rs.e.entries.entries(rs.groupID, lo, hi, maxSize); ok {
		return ents, nil
	}
	lower, upper := raftLogSpan(rs.groupID, lo, hi)
	it, err := rs.e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, errors.Wrap(err, "storage: Entries")
	}
	defer func() { _ = it.Close() }()
	ents := make([]*raftpb.Entry, 0, min(hi-lo, 64))
	var size uint64
	next := lo
	for valid := it.First(); valid; valid = it.Next() {
		ent, err := decodeEntry(it)
		if err != nil {
			return nil, err
		}
		if ent.GetIndex() != next {
			return nil, errors.AssertionFailedf("storage: group %d: log hole: want index %d, found %d",
				rs.groupID, next, ent.GetIndex())
		}
		size += uint64(proto.Size(ent))
		if len(ents) > 0 && size > maxSize {
			return ents, nil
		}
		ents = append(ents, ent)
		next++
	}
	if err := it.Error(); err != nil {
		return nil, errors.Wrap(err, "storage: Entries")
	}
	if next != hi {
		return nil, errors.AssertionFailedf("storage: group %d: log ends at %d, last index is %d",
			rs.groupID, next-1, st.lastIndex)
	}
	return ents, nil
}

// Term implements raft.Storage for i in [FirstIndex()-1, LastIndex()].
func (rs *RaftStorage) Term(i uint64) (uint64, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st, err := rs.stateLocked()
	if err != nil {
		return 0, err
	}
	if i > st.truncIndex && i < st.lastIndex {
		if term, ok := rs.e.entries.term(rs.groupID, i); ok {
			return term, nil
		}
	}
	return termOf(rs.e.db, rs.groupID, st, i)
}

// termOf returns the term of entry i given state st, reading entries from r.
func termOf(r pebble.Reader, groupID uint64, st *raftState, i uint64) (uint64, error) {
	switch {
	case i == st.truncIndex:
		return st.truncTerm, nil
	case i < st.truncIndex:
		return 0, raft.ErrCompacted
	case i > st.lastIndex:
		return 0, raft.ErrUnavailable
	case i == st.lastIndex:
		return st.lastTerm, nil
	}
	v, ok, err := getCopy(r, raftLogKey(groupID, i))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errors.AssertionFailedf("storage: group %d: entry %d missing below last index %d",
			groupID, i, st.lastIndex)
	}
	ent := &raftpb.Entry{}
	if err := proto.Unmarshal(v, ent); err != nil {
		return 0, errors.Wrapf(err, "storage: group %d: decoding entry %d", groupID, i)
	}
	return ent.GetTerm(), nil
}

// LastIndex implements raft.Storage.
func (rs *RaftStorage) LastIndex() (uint64, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st, err := rs.stateLocked()
	if err != nil {
		return 0, err
	}
	return st.lastIndex, nil
}

// FirstIndex implements raft.Storage: the truncated index plus one.
func (rs *RaftStorage) FirstIndex() (uint64, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st, err := rs.stateLocked()
	if err != nil {
		return 0, err
	}
	return st.truncIndex + 1, nil
}

// SetSnapshotProvider installs the function Snapshot calls. The group host
// returns the metadata (index = applied index, term, conf state); the data
// travels separately (Snapshot.ExportSpan).
func (rs *RaftStorage) SetSnapshotProvider(fn func() (*raftpb.Snapshot, error)) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.mu.snapProvider = fn
}

// Snapshot implements raft.Storage by calling the snapshot provider, or
// returns raft.ErrSnapshotTemporarilyUnavailable if there is none. The
// provider is called without rs.mu held, so it may use this RaftStorage.
func (rs *RaftStorage) Snapshot() (*raftpb.Snapshot, error) {
	rs.mu.Lock()
	fn := rs.mu.snapProvider
	_, err := rs.stateLocked()
	rs.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	return fn()
}

// ReplicaMeta returns the blob last stored by SetReplicaMeta and committed,
// or nil if there is none.
func (rs *RaftStorage) ReplicaMeta() ([]byte, error) {
	rs.mu.Lock()
	_, err := rs.stateLocked()
	rs.mu.Unlock()
	if err != nil {
		return nil, err
	}
	v, _, err := getCopy(rs.e.db, raftKey(rs.groupID, raftSuffixMeta))
	return v, err
}
