package storage

import (
	"container/list"
	"fmt"
	"strings"
	"sync"

	"go.etcd.io/raft/v3/raftpb"
)

// entryCache keeps the most recently appended Raft entries of each group in
// memory, so that the leader's read-back (raft's maybeSendAppend and
// committed entries) and Term lookups do not iterate Pebble and decode
// protos for entries it has just written. It is shared by every group of
// an Engine.
//
// Consistency: every cached entry (group, i) equals the committed log entry
// i of that group, and truncIndex < i <= lastIndex of its committed
// raftState. Entries are added and removed only in a committed batch's
// OnCommit callback that installs the new raftState, under the group's
// RaftStorage.mu, and reads happen under the same lock, so raft never sees
// a cached entry from another log than the one its state describes.
// Budget evictions only remove entries and may run under any lock: a read
// that finds part of its range gone falls back to Pebble.
//
// Bounds: per group at most maxGroupEntries entries and maxGroupBytes bytes
// (the oldest are dropped first); in total at most maxBytes, enforced by
// dropping the entries of the group whose last append is oldest.
//
// Lock order: RaftStorage.mu before entryCache.mu (a leaf).
type entryCache struct {
	maxBytes        int64
	maxGroupBytes   int64
	maxGroupEntries int

	mu struct {
		sync.Mutex
		groups map[uint64]*cachedLog
		// lru orders groups by last append, oldest first.
		lru   *list.List
		bytes int64
		// hits and misses count Entries calls served and not served.
		hits, misses int64
	}
}

// cachedLog is the cached window [first, first+len(ents)) of one group.
type cachedLog struct {
	group uint64
	first uint64
	ents  []cachedEntry
	bytes int64
	elem  *list.Element
}

type cachedEntry struct {
	ent *raftpb.Entry
	// size is the entry's proto size, which Entries' maxSize counts.
	size uint64
}

func (l *cachedLog) end() uint64 { return l.first + uint64(len(l.ents)) }

// newEntryCache returns a cache, or nil (every method is a no-op and every
// lookup misses) if maxBytes is not positive.
func newEntryCache(maxBytes, maxGroupBytes int64, maxGroupEntries int) *entryCache {
	if maxBytes <= 0 || maxGroupBytes <= 0 || maxGroupEntries <= 0 {
		return nil
	}
	c := &entryCache{maxBytes: maxBytes, maxGroupBytes: min(maxGroupBytes, maxBytes), maxGroupEntries: maxGroupEntries}
	c.mu.groups = make(map[uint64]*cachedLog)
	c.mu.lru = list.New()
	return c
}

// add records that ents (consecutive indexes) were appended to group's log
// and committed: cached entries at or after ents[0]'s index are replaced
// (a conflicting suffix is gone from the log), and a window that no longer
// connects to ents is dropped.
func (c *entryCache) add(group uint64, ents []cachedEntry) {
	if c == nil || len(ents) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.mu.groups[group]
	if l == nil {
		l = &cachedLog{group: group}
		l.elem = c.mu.lru.PushBack(l)
		c.mu.groups[group] = l
	}
	first := ents[0].ent.GetIndex()
	if len(l.ents) == 0 || first < l.first || first > l.end() {
		c.dropFrontLocked(l, len(l.ents))
		l.first = first
	} else {
		c.truncateLocked(l, first)
	}
	for _, ce := range ents {
		l.ents = append(l.ents, ce)
		l.bytes += int64(ce.size)
		c.mu.bytes += int64(ce.size)
	}
	n, b := 0, l.bytes
	for n < len(l.ents) && (len(l.ents)-n > c.maxGroupEntries || b > c.maxGroupBytes) {
		b -= int64(l.ents[n].size)
		n++
	}
	c.dropFrontLocked(l, n)
	c.mu.lru.MoveToBack(l.elem)
	c.evictLocked(l)
}

func entriesBytes(ents []cachedEntry) int64 {
	var n int64
	for _, ce := range ents {
		n += int64(ce.size)
	}
	return n
}

// evictLocked enforces the global budget: whole groups, least recently
// appended first, then the oldest entries of cur itself.
func (c *entryCache) evictLocked(cur *cachedLog) {
	for c.mu.bytes > c.maxBytes {
		l := c.mu.lru.Front().Value.(*cachedLog)
		if l == cur {
			break
		}
		c.removeLocked(l)
	}
	n := 0
	for budget := c.mu.bytes; budget > c.maxBytes && n < len(cur.ents); n++ {
		budget -= int64(cur.ents[n].size)
	}
	c.dropFrontLocked(cur, n)
}

// dropFrontLocked removes the n oldest entries of l.
func (c *entryCache) dropFrontLocked(l *cachedLog, n int) {
	if n == 0 {
		return
	}
	b := entriesBytes(l.ents[:n])
	l.bytes -= b
	c.mu.bytes -= b
	clear(l.ents[:n]) // let the dropped entries be collected
	l.ents = l.ents[n:]
	l.first += uint64(n)
	if len(l.ents) == 0 {
		l.ents = nil
	}
}

// truncateLocked removes the entries at index >= from.
func (c *entryCache) truncateLocked(l *cachedLog, from uint64) {
	if from >= l.end() {
		return
	}
	keep := int(from - l.first)
	b := entriesBytes(l.ents[keep:])
	l.bytes -= b
	c.mu.bytes -= b
	clear(l.ents[keep:])
	l.ents = l.ents[:keep]
}

func (c *entryCache) removeLocked(l *cachedLog) {
	c.dropFrontLocked(l, len(l.ents))
	c.mu.lru.Remove(l.elem)
	delete(c.mu.groups, l.group)
}

// compact drops group's entries at or below index (log truncation).
func (c *entryCache) compact(group, index uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.mu.groups[group]
	if l == nil {
		return
	}
	if index >= l.first {
		c.dropFrontLocked(l, int(min(index+1, l.end())-l.first))
	}
	if len(l.ents) == 0 {
		c.removeLocked(l)
	}
}

// clear drops every entry of group (snapshot applied, group destroyed).
func (c *entryCache) clear(group uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.mu.groups[group]; l != nil {
		c.removeLocked(l)
	}
}

// entries returns group's entries [lo, hi), cut after maxSize bytes as
// RaftStorage.Entries does, if the cache holds all of them up to the cut;
// else ok=false. The slice is fresh; the entries are shared.
func (c *entryCache) entries(group, lo, hi, maxSize uint64) (ents []*raftpb.Entry, ok bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.mu.groups[group]
	if l == nil || lo < l.first || lo >= l.end() {
		c.mu.misses++
		return nil, false
	}
	var size uint64
	for i := lo; i < hi; i++ {
		if i >= l.end() {
			c.mu.misses++
			return nil, false
		}
		ce := l.ents[i-l.first]
		size += ce.size
		if len(ents) > 0 && size > maxSize {
			break
		}
		if ents == nil {
			ents = make([]*raftpb.Entry, 0, min(hi-lo, uint64(len(l.ents))))
		}
		ents = append(ents, ce.ent)
	}
	c.mu.hits++
	return ents, true
}

// term returns the term of group's entry i if it is cached.
func (c *entryCache) term(group, i uint64) (uint64, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.mu.groups[group]
	if l == nil || i < l.first || i >= l.end() {
		return 0, false
	}
	return l.ents[i-l.first].ent.GetTerm(), true
}

// stats returns the cached bytes and the hit and miss counts.
func (c *entryCache) stats() (bytes, hits, misses int64) {
	if c == nil {
		return 0, 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.bytes, c.mu.hits, c.mu.misses
}

// String describes the cache for tests: total bytes, then per group (in
// LRU order, oldest first) its window and bytes.
func (c *entryCache) String() string {
	if c == nil {
		return "disabled"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "bytes=%d", c.mu.bytes)
	for el := c.mu.lru.Front(); el != nil; el = el.Next() {
		l := el.Value.(*cachedLog)
		if len(l.ents) == 0 {
			fmt.Fprintf(&b, "\ngroup %d: empty", l.group)
			continue
		}
		fmt.Fprintf(&b, "\ngroup %d: [%d, %d] bytes=%d", l.group, l.first, l.end()-1, l.bytes)
	}
	return b.String()
}
