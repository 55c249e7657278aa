package engine

import (
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
)

// Hash tables that outgrow memory. DISTINCT, UNION, aggregation and hash
// joins share one discipline:
//
//  1. A table holds keys while they fit its share of the statement's
//     memory (hashMem). The first key that does not fit freezes it: from
//     then on it takes no new key, and the rows of keys it does not hold
//     go to one of spillFanout partition files, chosen by a seeded hash of
//     the key. Freezing is what keeps results exact: a key's rows are
//     either all met by the table in memory or all in one partition, never
//     split between the two, so no key is emitted twice or half-counted.
//  2. When its input ends, the table finishes what it holds, forgets it,
//     and then treats each partition as an input of its own, one at a
//     time, the last written first (so that few files are open at once).
//  3. A partition that overflows again is partitioned with the next seed,
//     which splits keys the previous seed put together. Each level frees
//     at least the keys it held, so only absurd inputs go deep; past
//     maxSpillDepth levels the statement fails with error 1038. (A hash
//     join whose partition cannot be split — one hot key — joins it in
//     chunks instead: hashjoin.go.)
//
// Spilled rows are already evaluated (group values, aggregate arguments,
// join keys), so no expression runs twice for a row.

const (
	// spillFanout is how many partitions an overflowing table writes.
	spillFanout = 16
	// maxSpillDepth is how many times a row may be partitioned.
	maxSpillDepth = 6
	// setEntryBytes approximates a hash set entry besides its key.
	setEntryBytes = 32
)

// hashMem is one hash table's memory. What it holds is charged to the
// statement, so that all operators together stay under
// Config.MaxStatementMemory, and given back when the table forgets its
// keys.
type hashMem struct {
	c     *stmtCtx
	share int64
	held  int64
}

func newHashMem(c *stmtCtx) hashMem {
	return hashMem{c: c, share: c.s.e.cfg.MaxStatementMemory / 4}
}

// fits reports whether n more bytes may be held: within the table's share
// and the statement's bound. An empty table always takes its first entry,
// so that every level makes progress; if even that is over the
// statement's bound (other operators hold it all), add fails the
// statement.
func (m *hashMem) fits(n int) bool {
	if m.held == 0 {
		return true
	}
	return m.held+int64(n) <= m.share && m.c.memory+int64(n) <= m.c.s.e.cfg.MaxStatementMemory
}

func (m *hashMem) add(n int) error {
	m.held += int64(n)
	return m.c.charge(n)
}

func (m *hashMem) release() {
	m.c.memory -= m.held
	m.held = 0
}

// spillParts are the partition files of one overflowing level.
type spillParts struct {
	op    string
	level int // of the rows written here; the files are read at level+1
	files []*spillFile
	drop  bool // TestingKnobs.DropSpilledPartition
}

// newSpillParts starts partitioning the rows of a level, or fails the
// statement when they have been partitioned maxSpillDepth times already.
func newSpillParts(c *stmtCtx, op string, level int) (*spillParts, error) {
	if level >= maxSpillDepth {
		return nil, sqlerr.New(1038, "HY001", "Out of sort memory: a %s partition still needs more than %d bytes after %d re-partitionings; add a WHERE clause or raise the statement memory bound", op, c.s.e.cfg.MaxStatementMemory/4, maxSpillDepth)
	}
	k := c.s.e.cfg.TestingKnobs
	n := spillFanout
	if k.SpillFanout > 0 {
		n = k.SpillFanout
	}
	return &spillParts{op: op, level: level, files: make([]*spillFile, n), drop: k.DropSpilledPartition}, nil
}

func (p *spillParts) add(key string, row []types.Datum) error {
	i := partitionOf(uint64(p.level), key, len(p.files))
	if p.drop && i == 0 {
		return nil
	}
	if p.files[i] == nil {
		f, err := createSpillFile(p.op)
		if err != nil {
			return err
		}
		p.files[i] = f
	}
	return p.files[i].write(row)
}

// rewind ends writing; the files (nil where no row went) are ready to be
// read.
func (p *spillParts) rewind() error {
	for _, f := range p.files {
		if f != nil {
			if err := f.rewind(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *spillParts) close() {
	for _, f := range p.files {
		if f != nil {
			f.close()
		}
	}
}

// partitionOf hashes a key with a seed (FNV-1a, then a 64-bit finalizer
// so that the low bits depend on every byte). The seed is the level:
// keys one level put in the same partition are spread by the next.
func partitionOf(seed uint64, key string, n int) int {
	h := uint64(14695981039346656037) ^ (seed * 0x9e3779b97f4a7c15)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return int(h % uint64(n))
}

// spillPart is a partition waiting to be read, and its level.
type spillPart struct {
	f     *spillFile
	level int
}

// spillLevels is the level bookkeeping of a spilling table with one input
// (a set or an aggregation; a join has two and pairs its partitions
// itself).
type spillLevels struct {
	op    string
	mem   hashMem
	level int         // of the rows being read
	parts *spillParts // set once the level's table is frozen
	todo  []spillPart
	src   *spillFile // the partition being read; nil at level 0
}

// spill writes a row of a key the table does not hold, freezing it.
func (l *spillLevels) spill(c *stmtCtx, key string, row []types.Datum) error {
	if l.parts == nil {
		p, err := newSpillParts(c, l.op, l.level)
		if err != nil {
			return err
		}
		l.parts = p
		c.s.e.hashSpills.Add(1)
	}
	return l.parts.add(key, row)
}

// nextSource ends the current level — the caller has forgotten what its
// table held; its memory is given back here — and returns the next
// partition to read, nil when none is left.
func (l *spillLevels) nextSource() (*spillFile, error) {
	l.mem.release()
	if l.src != nil {
		l.src.close()
		l.src = nil
	}
	if l.parts != nil {
		if err := l.parts.rewind(); err != nil {
			return nil, err
		}
		for _, f := range l.parts.files {
			if f != nil {
				l.todo = append(l.todo, spillPart{f: f, level: l.parts.level + 1})
			}
		}
		l.parts = nil
	}
	if len(l.todo) == 0 {
		return nil, nil
	}
	p := l.todo[len(l.todo)-1]
	l.todo = l.todo[:len(l.todo)-1]
	l.src, l.level = p.f, p.level
	return p.f, nil
}

func (l *spillLevels) close() {
	l.mem.release()
	if l.src != nil {
		l.src.close()
	}
	if l.parts != nil {
		l.parts.close()
	}
	for _, p := range l.todo {
		p.f.close()
	}
	l.src, l.parts, l.todo = nil, nil, nil
}

// spillSet decides which rows are the first of their key: DISTINCT,
// UNION, and the DISTINCT values of aggregates.
type spillSet struct {
	spillLevels
	seen map[string]struct{}
}

func newSpillSet(c *stmtCtx, op string) *spillSet {
	return &spillSet{spillLevels: spillLevels{op: op, mem: newHashMem(c)}, seen: map[string]struct{}{}}
}

// admit reports whether row is the first of its key, to be passed on now.
// Once the set is full, a row whose key it does not hold goes to a
// partition instead, to be judged again when nextSource returns that
// partition (its key cannot have been passed on: the set took no key
// since it froze).
func (s *spillSet) admit(c *stmtCtx, key string, row []types.Datum) (bool, error) {
	if _, ok := s.seen[key]; ok {
		return false, nil
	}
	if n := len(key) + setEntryBytes; s.parts == nil && s.mem.fits(n) {
		s.seen[key] = struct{}{}
		return true, s.mem.add(n)
	}
	return false, s.spill(c, key, row)
}

// nextSource ends the level (the set forgets its keys) and returns the
// next partition to read, nil when none is left.
func (s *spillSet) nextSource() (*spillFile, error) {
	s.seen = map[string]struct{}{}
	return s.spillLevels.nextSource()
}

type distinctNode struct {
	in node
	n  int // leading columns that define distinctness
}

func (n *distinctNode) width() int { return n.in.width() }
func (n *distinctNode) explain(ind string, out *[]string) {
	*out = append(*out, ind+"distinct (hash)")
	n.in.explain(ind+"  ", out)
}

// open streams: a row is passed on as soon as it is known to be the first
// of its key, so DISTINCT ... LIMIT stops early. After a spill the rows
// of the partitions come after the input's, in another order; nothing
// relies on DISTINCT's order (ORDER BY sorts above it).
func (n *distinctNode) open(c *stmtCtx) (rowIter, error) {
	in, err := n.in.open(c)
	if err != nil {
		return nil, err
	}
	return &distinctIter{in: in, n: n.n, set: newSpillSet(c, "distinct")}, nil
}

type distinctIter struct {
	in  rowIter    // the input; nil once read through
	src *spillFile // then the partition being read (owned by set)
	n   int
	set *spillSet
}

func (it *distinctIter) next(c *stmtCtx) ([]types.Datum, error) {
	for {
		var r []types.Datum
		var err error
		switch {
		case it.in != nil:
			r, err = it.in.next(c)
		case it.src != nil:
			r, err = it.src.next()
		}
		if err != nil {
			return nil, err
		}
		if r == nil {
			if it.in != nil {
				it.in.close()
				it.in = nil
			}
			if it.src, err = it.set.nextSource(); err != nil || it.src == nil {
				return nil, err
			}
			continue
		}
		first, err := it.set.admit(c, keyOf(r[:it.n]), r)
		if err != nil {
			return nil, err
		}
		if first {
			return r, nil
		}
	}
}

func (it *distinctIter) close() {
	if it.in != nil {
		it.in.close()
	}
	it.set.close()
}
