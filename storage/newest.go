package storage

import (
	"bytes"
	"math"
	"sync"
)

// Span is a span of user keys [Start, End); End nil means to the end of
// the keyspace.
type Span struct {
	Start, End []byte
}

func (s Span) contains(key []byte) bool {
	return bytes.Compare(key, s.Start) >= 0 && (s.End == nil || bytes.Compare(key, s.End) < 0)
}

// overlaps reports whether s meets [start, end) (end nil: unbounded).
func (s Span) overlaps(start, end []byte) bool {
	return (end == nil || bytes.Compare(s.Start, end) < 0) && (s.End == nil || bytes.Compare(start, s.End) < 0)
}

// maxNewestEntries bounds the newest-version cache; past it, keys are
// read from Pebble without being remembered.
const maxNewestEntries = 4096

// newestCache remembers the newest version of keys in the spans of
// Options.NewestCached, so that Engine.MVCCGet at or above that version
// answers without an iterator. It is meant for keys read by nearly every
// request and rarely written: the SQL catalog's descriptors, whose point
// reads were about 3% of a busy leaseholder's CPU.
//
// MVCCGC needs no invalidation: it removes only versions shadowed at its
// threshold and tombstones, so every read it allows answers the same.
//
// Writes invalidate it: a batch that writes into a cached span (MVCCPut,
// MVCCDelete, PutRaw, ClearSpan) empties the cache after its Pebble
// commit and before Commit returns, so no read that starts after a
// commit returns sees the cache without that commit's write. A fill
// races with such a commit only if the commit lands between the fill's
// Pebble read and its insertion; gen, bumped by every invalidation,
// tells the fill to drop what it read.
type newestCache struct {
	spans []Span

	mu      sync.Mutex
	gen     uint64
	entries map[string]newestEntry
}

// newestEntry is a key's newest version: value and found as MVCCGet at
// the newest timestamp returns them, ts 0 when the key has no version.
type newestEntry struct {
	value []byte
	ts    int64
	found bool
}

func newNewestCache(spans []Span) *newestCache {
	if len(spans) == 0 {
		return nil
	}
	return &newestCache{spans: spans, entries: map[string]newestEntry{}}
}

func (c *newestCache) covers(key []byte) bool {
	for _, s := range c.spans {
		if s.contains(key) {
			return true
		}
	}
	return false
}

func (c *newestCache) overlaps(start, end []byte) bool {
	for _, s := range c.spans {
		if s.overlaps(start, end) {
			return true
		}
	}
	return false
}

// get returns key's newest version if cached, and otherwise the
// generation a fill must present to put.
func (c *newestCache) get(key []byte) (newestEntry, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(key)]
	return e, ok, c.gen
}

// put remembers e as key's newest version unless a write invalidated the
// cache since gen was handed out.
func (c *newestCache) put(key []byte, e newestEntry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen && len(c.entries) < maxNewestEntries {
		c.entries[string(key)] = e
	}
}

func (c *newestCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}

// mvccGetNewest is Engine.MVCCGet for a key the cache covers.
func (e *Engine) mvccGetNewest(key []byte, ts int64) ([]byte, int64, bool, error) {
	if ts <= 0 {
		return nil, 0, false, nil
	}
	ent, ok, gen := e.newest.get(key)
	if !ok {
		v, vts, found, err := mvccGet(e.db, key, math.MaxInt64)
		if err != nil {
			return nil, 0, false, err
		}
		ent = newestEntry{value: v, ts: vts, found: found}
		e.newest.put(key, ent, gen)
	}
	if ts < ent.ts {
		return mvccGet(e.db, key, ts) // an older version
	}
	if !ent.found {
		return nil, ent.ts, false, nil
	}
	return bytes.Clone(ent.value), ent.ts, true, nil
}
