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

// Bounds of the newest-version cache. Past them a fill evicts entries at
// random (Go's map iteration starts at a random slot): keys read often
// are filled again at once, so they stay cached most of the time, and
// eviction needs no bookkeeping on the read path.
const (
	maxNewestEntries = 1 << 16
	maxNewestBytes   = 32 << 20
	// maxNewestValue keeps a few large values from displacing many
	// small ones; larger values are read from Pebble every time.
	maxNewestValue = 64 << 10
	// newestEntryOverhead approximates the map's bytes per entry beyond
	// key and value.
	newestEntryOverhead = 64
)

// maxNotedWrites is how many writes a batch lists for the cache to apply
// at its commit; a batch that writes more (a bulk load, a Raft snapshot)
// empties the whole cache instead.
const maxNotedWrites = 256

// newestCache remembers the newest version of keys in the spans of
// Options.NewestCached, so that Engine.MVCCGet at or above that version
// answers without a Pebble iterator. Two kinds of keys gain: the SQL
// catalog's descriptors, read by nearly every statement, and rows that a
// workload reads far more often than others (hot rows), whose versions
// pile up in the memtable and L0, where a seek is costliest.
//
// MVCCGC removes only versions shadowed at its threshold and tombstones,
// so every read it allows answers the same, except for the timestamp
// reported with a removed tombstone: it drops such keys from the cache.
//
// Writes keep it current: a batch lists the writes it makes in the cached
// spans (MVCCPut, MVCCDelete, PutRaw), and after its Pebble commit and
// before Commit returns it applies them to the cache's entries (apply); a
// batch that writes more keys than it lists, or clears a span
// (ClearSpan), empties the cache. So no read that starts after a commit
// returns sees the cache without that commit's write. A fill races with
// such a commit only if the commit lands between the fill's Pebble read
// and its insertion; gen, bumped by every commit that touches the cache,
// tells the fill to drop what it read.
type newestCache struct {
	spans []Span

	mu      sync.Mutex
	gen     uint64
	bytes   int
	entries map[string]newestEntry
}

// newestEntry is a key's newest version: value and found as MVCCGet at
// the newest timestamp returns them, ts 0 when the key has no version.
type newestEntry struct {
	value []byte
	ts    int64
	found bool
}

func newestEntrySize(key string, e newestEntry) int {
	return len(key) + len(e.value) + newestEntryOverhead
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
// cache since gen was handed out, evicting random entries to stay within
// the bounds.
func (c *newestCache) put(key []byte, e newestEntry, gen uint64) {
	if len(e.value) > maxNewestValue {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	k := string(key)
	if old, ok := c.entries[k]; ok { // two fills of one key raced
		c.bytes -= newestEntrySize(k, old)
		delete(c.entries, k)
	}
	size := newestEntrySize(k, e)
	for len(c.entries) >= maxNewestEntries || c.bytes+size > maxNewestBytes {
		for victim, ve := range c.entries {
			c.bytes -= newestEntrySize(victim, ve)
			delete(c.entries, victim)
			break
		}
	}
	c.entries[k] = e
	c.bytes += size
}

// notedWrites lists the writes a batch made in the cache's spans, for
// its commit to apply to the cache.
type notedWrites struct {
	buf    []byte // keys and values, concatenated
	writes []notedWrite
}

type notedWrite struct {
	keyEnd, valEnd int // in buf; the key starts where the previous value ends
	ts             int64
	kind           noteKind
}

type noteKind uint8

const (
	notePut noteKind = iota
	noteTombstone
	// noteForget marks a write whose version is not known to be the
	// newest (PutRaw copies versions of any age): the cache drops the key.
	noteForget
)

func (n *notedWrites) add(key []byte, ts int64, value []byte, kind noteKind) {
	n.buf = append(n.buf, key...)
	keyEnd := len(n.buf)
	n.buf = append(n.buf, value...)
	n.writes = append(n.writes, notedWrite{keyEnd: keyEnd, valEnd: len(n.buf), ts: ts, kind: kind})
}

// apply brings the cache up to date with a committed batch's writes. A
// cached entry is the key's newest version before the commit (any earlier
// commit that wrote the key updated or removed it), so a written version
// at or above it is the newest after: the entry becomes that version. A
// key the cache does not hold stays out; a version below the entry leaves
// it as it is.
func (c *newestCache) apply(n *notedWrites) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	from := 0
	for _, w := range n.writes {
		k, v := n.buf[from:w.keyEnd], n.buf[w.keyEnd:w.valEnd]
		from = w.valEnd
		old, ok := c.entries[string(k)]
		if !ok || (w.ts < old.ts && w.kind != noteForget) {
			continue
		}
		c.bytes -= newestEntrySize(string(k), old)
		if w.kind == noteForget || len(v) > maxNewestValue {
			delete(c.entries, string(k))
			continue
		}
		e := newestEntry{ts: w.ts, found: w.kind == notePut}
		if e.found {
			e.value = bytes.Clone(v)
		}
		c.entries[string(k)] = e
		c.bytes += newestEntrySize(string(k), e)
	}
}

func (c *newestCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.bytes = 0
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
