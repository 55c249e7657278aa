package storage

import (
	"encoding/binary"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// staged returns the state of rs as b will leave it, creating b's copy (and
// the OnCommit hook that installs it) on the first Raft write of rs into b.
func (rs *RaftStorage) staged(b *Batch) (*raftState, error) {
	if err := b.checkWritable(); err != nil {
		return nil, err
	}
	if st, ok := b.raft[rs.groupID]; ok {
		return st, nil
	}
	rs.mu.Lock()
	cur, err := rs.stateLocked()
	var st *raftState
	if err == nil {
		st = cur.clone()
	}
	rs.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if b.raft == nil {
		b.raft = make(map[uint64]*raftState)
	}
	b.raft[rs.groupID] = st
	b.OnCommit(func() {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		// Invariant 4: caches describe durable state only, so they are
		// installed after the commit, never when staging. The entry cache
		// changes under the same lock, so readers see it match the state.
		ops := st.cacheOps
		st.cacheOps = nil
		rs.mu.st = st
		if rs.mu.destroyed {
			return // destroyed earlier in this batch
		}
		for _, op := range ops {
			op(rs.e.entries, rs.groupID)
		}
	})
	return st, nil
}

// Append stages ents, which must have consecutive indexes, into b; once b
// commits they are also kept in the entry cache, so the caller must not
// modify them after the call (raft never does). Entries
// at or below the truncated index are skipped (raft may resend them). If
// the log holds entries past the last new one they are deleted: a new
// leader overwrote a conflicting suffix, and a stale suffix must never be
// served (Entries/LastIndex) or reloaded on restart.
func (rs *RaftStorage) Append(b *Batch, ents []*raftpb.Entry) error {
	st, err := rs.staged(b)
	if err != nil {
		return err
	}
	for len(ents) > 0 && ents[0].GetIndex() <= st.truncIndex {
		ents = ents[1:]
	}
	if len(ents) == 0 {
		return nil
	}
	first := ents[0].GetIndex()
	if first > st.lastIndex+1 {
		return errors.AssertionFailedf("storage: group %d: append at %d leaves a gap after last index %d",
			rs.groupID, first, st.lastIndex)
	}
	cached := make([]cachedEntry, len(ents))
	for i, ent := range ents {
		if ent.GetIndex() != first+uint64(i) {
			return errors.AssertionFailedf("storage: group %d: appended entries not consecutive at %d",
				rs.groupID, ent.GetIndex())
		}
		data, err := proto.Marshal(ent)
		if err != nil {
			return errors.Wrapf(err, "storage: group %d: encoding entry %d", rs.groupID, ent.GetIndex())
		}
		if err := b.b.Set(raftLogKey(rs.groupID, ent.GetIndex()), data, nil); err != nil {
			return errors.Wrap(err, "storage: Append")
		}
		cached[i] = cachedEntry{ent: ent, size: uint64(len(data))}
	}
	last := ents[len(ents)-1]
	if last.GetIndex() < st.lastIndex {
		lower, upper := raftLogSpan(rs.groupID, last.GetIndex()+1, 0)
		if err := b.b.DeleteRange(lower, upper, nil); err != nil {
			return errors.Wrap(err, "storage: Append")
		}
	}
	st.lastIndex, st.lastTerm = last.GetIndex(), last.GetTerm()
	st.cacheOps = append(st.cacheOps, func(c *entryCache, group uint64) { c.add(group, cached) })
	return nil
}

// SetHardState stages hs (copied).
func (rs *RaftStorage) SetHardState(b *Batch, hs *raftpb.HardState) error {
	st, err := rs.staged(b)
	if err != nil {
		return err
	}
	if err := setProto(b, raftKey(rs.groupID, raftSuffixHardState), hs); err != nil {
		return err
	}
	st.hard = proto.CloneOf(hs)
	return nil
}

// SetConfState stages cs (copied). InitialState returns it after commit;
// the group host puts it in snapshot metadata.
func (rs *RaftStorage) SetConfState(b *Batch, cs *raftpb.ConfState) error {
	st, err := rs.staged(b)
	if err != nil {
		return err
	}
	if err := setProto(b, raftKey(rs.groupID, raftSuffixConfState), cs); err != nil {
		return err
	}
	st.conf = proto.CloneOf(cs)
	return nil
}

func setProto(b *Batch, key []byte, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return errors.Wrap(err, "storage: encoding raft state")
	}
	return errors.Wrap(b.b.Set(key, data, nil), "storage: staging raft state")
}

func (rs *RaftStorage) setTruncated(b *Batch, st *raftState, index, term uint64) error {
	var v [16]byte
	binary.BigEndian.PutUint64(v[:], index)
	binary.BigEndian.PutUint64(v[8:], term)
	if err := b.b.Set(raftKey(rs.groupID, raftSuffixTruncated), v[:], nil); err != nil {
		return errors.Wrap(err, "storage: staging truncated state")
	}
	st.truncIndex, st.truncTerm = index, term
	return nil
}

// Compact stages log truncation: entries <= index are deleted and the
// truncated state becomes (index, term(index)). It returns
// raft.ErrCompacted if index is already truncated and raft.ErrUnavailable
// if index is beyond the last index.
func (rs *RaftStorage) Compact(b *Batch, index uint64) error {
	st, err := rs.staged(b)
	if err != nil {
		return err
	}
	if index <= st.truncIndex {
		return raft.ErrCompacted
	}
	if index > st.lastIndex {
		return raft.ErrUnavailable
	}
	// Read through the batch: the entry may be staged in it.
	term, err := termOf(b.b, rs.groupID, st, index)
	if err != nil {
		return err
	}
	lower, upper := raftLogSpan(rs.groupID, 0, index+1)
	if err := b.b.DeleteRange(lower, upper, nil); err != nil {
		return errors.Wrap(err, "storage: Compact")
	}
	st.cacheOps = append(st.cacheOps, func(c *entryCache, group uint64) { c.compact(group, index) })
	return rs.setTruncated(b, st, index, term)
}

// ApplySnapshotMeta stages the Raft side of installing a snapshot whose
// data the caller has already staged or written (ClearSpan + PutRaw): the
// log is emptied, the truncated state becomes (meta.Index, meta.Term), the
// conf state becomes meta.ConfState, and the hard state's commit is raised
// to meta.Index (term and vote are left to raft, whose HardState in the
// same Ready carries them). It returns raft.ErrSnapOutOfDate if the snapshot is not
// newer than the truncated state.
func (rs *RaftStorage) ApplySnapshotMeta(b *Batch, meta *raftpb.SnapshotMetadata) error {
	st, err := rs.staged(b)
	if err != nil {
		return err
	}
	if meta.GetIndex() <= st.truncIndex {
		return raft.ErrSnapOutOfDate
	}
	lower, upper := raftLogSpan(rs.groupID, 0, 0)
	if err := b.b.DeleteRange(lower, upper, nil); err != nil {
		return errors.Wrap(err, "storage: ApplySnapshotMeta")
	}
	st.cacheOps = append(st.cacheOps, func(c *entryCache, group uint64) { c.clear(group) })
	if err := rs.setTruncated(b, st, meta.GetIndex(), meta.GetTerm()); err != nil {
		return err
	}
	st.lastIndex, st.lastTerm = meta.GetIndex(), meta.GetTerm()
	cs := meta.GetConfState()
	if cs == nil {
		cs = &raftpb.ConfState{}
	}
	if err := rs.SetConfState(b, cs); err != nil {
		return err
	}
	hs := &raftpb.HardState{}
	if st.hard != nil {
		hs = proto.CloneOf(st.hard)
	}
	if hs.GetCommit() < meta.GetIndex() {
		hs.Commit = proto.Uint64(meta.GetIndex())
	}
	return rs.SetHardState(b, hs)
}

// SetReplicaMeta stages the group host's opaque metadata blob (copied).
func (rs *RaftStorage) SetReplicaMeta(b *Batch, data []byte) error {
	if _, err := rs.staged(b); err != nil {
		return err
	}
	return errors.Wrap(b.b.Set(raftKey(rs.groupID, raftSuffixMeta), data, nil), "storage: SetReplicaMeta")
}

// DestroyGroup stages the removal of all Raft state and metadata of the
// group (not its user data: use ClearSpan). On commit the group's
// RaftStorage is invalidated (its methods return errors) and a later
// Engine.RaftStorage call starts from empty state.
func (e *Engine) DestroyGroup(b *Batch, groupID uint64) error {
	if err := b.checkWritable(); err != nil {
		return err
	}
	lower, upper := raftGroupSpan(groupID)
	if err := b.b.DeleteRange(lower, upper, nil); err != nil {
		return errors.Wrap(err, "storage: DestroyGroup")
	}
	delete(b.raft, groupID)
	b.OnCommit(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.entries.clear(groupID)
		if rs, ok := e.mu.groups[groupID]; ok {
			rs.mu.Lock()
			rs.mu.destroyed = true
			rs.mu.Unlock()
			delete(e.mu.groups, groupID)
		}
	})
	return nil
}

// Groups returns, in increasing order, the IDs of the groups with any Raft
// state on this node (for restart).
func (e *Engine) Groups() ([]uint64, error) {
	if err := e.checkUsable(); err != nil {
		return nil, err
	}
	it, err := e.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixRaft}, UpperBound: []byte{prefixRaft + 1},
	})
	if err != nil {
		return nil, errors.Wrap(err, "storage: Groups")
	}
	defer func() { _ = it.Close() }()
	var ids []uint64
	for valid := it.First(); valid; {
		k := it.Key()
		if len(k) < 9 {
			return nil, errors.AssertionFailedf("storage: malformed raft key %x", k)
		}
		id := binary.BigEndian.Uint64(k[1:9])
		ids = append(ids, id)
		if id == ^uint64(0) {
			break
		}
		valid = it.SeekGE(raftGroupPrefix(id + 1))
	}
	return ids, errors.Wrap(it.Error(), "storage: Groups")
}
