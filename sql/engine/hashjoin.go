package engine

import (
	"fmt"
	"slices"

	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/meridiandb/meridian/sql/types"
)

// hashJoin builds a hash table of the right side on its key expressions
// and probes it with each left row; with leftOuter, a left row without a
// match comes out once, NULL-extended.
//
// A build side that outgrows its share makes it a grace hash join
// (spillhash.go): the build rows, then the probe rows, are partitioned to
// disk by a hash of their key, and the partitions are joined pair by pair.
// A pair whose build side still does not fit is partitioned again with
// the next seed — unless that cannot help (all its rows have one key, or
// the depth limit is reached): then it is joined in chunks of its build
// side that fit, each against the whole probe partition, and for a left
// join a bitmap of the probe rows that matched says which come out
// NULL-extended at the end.
type hashJoin struct {
	left, right  node
	lkeys, rkeys []expr
	on           []expr
	leftOuter    bool
}

func (n *hashJoin) width() int { return n.left.width() + n.right.width() }
func (n *hashJoin) explain(ind string, out *[]string) {
	kind := "hash join"
	if n.leftOuter {
		kind = "hash left join"
	}
	*out = append(*out, fmt.Sprintf("%s%s (%d key(s))", ind, kind, len(n.lkeys)))
	n.left.explain(ind+"  ", out)
	n.right.explain(ind+"  ", out)
}

// leftJoin plans a LEFT JOIN (on: the ON conjuncts over the joined row): a
// hash join on its equalities between a column of each side, else a
// nested loop. An equality is a key only when its columns' values hash
// alike exactly when they compare equal, as evalKeys makes them.
func leftJoin(left, right node, on []expr) node {
	lw := left.width()
	var lk, rk, rest []expr
	for _, e := range on {
		if x, ok := e.(*cmpExpr); ok && x.op == opcode.EQ {
			a, aok := x.l.(*colRef)
			b, bok := x.r.(*colRef)
			if aok && bok && a.i >= lw {
				a, b = b, a
			}
			if aok && bok && a.i < lw && b.i >= lw && hashComparable(a.t, b.t) {
				lk, rk = append(lk, a), append(rk, &colRef{i: b.i - lw, t: b.t})
				continue
			}
		}
		rest = append(rest, e)
	}
	if len(lk) == 0 {
		return &nestedJoin{left: left, right: right, rightW: right.width(), on: on, leftOuter: true}
	}
	return &hashJoin{left: left, right: right, lkeys: lk, rkeys: rk, on: rest, leftOuter: true}
}

// hashComparable: exact numbers with exact numbers (compared and hashed as
// decimals), strings with strings (bytewise both ways), times with times
// (by instant). A DOUBLE compares through float64 and a string with a
// number through conversion, which a key cannot reproduce.
func hashComparable(a, b types.T) bool {
	exact := func(t types.T) bool { return t.IsInteger() || t.Kind == types.Decimal }
	str := func(t types.T) bool { return t.IsString() || t.IsBinary() }
	return (exact(a) && exact(b)) || (str(a) && str(b)) || (a.IsTime() && b.IsTime())
}

func evalKeys(c *stmtCtx, es []expr, row []types.Datum) (string, bool, error) {
	vals := make([]types.Datum, len(es))
	for i, e := range es {
		v, err := e.eval(c, row)
		if err != nil {
			return "", false, err
		}
		if v.IsNull() {
			return "", false, nil
		}
		// Numbers hash as decimals, so that 1 = 1.0 match as Compare
		// says they do; strings and times keep their form (leftJoin
		// pairs only columns of one family; an inner join's keys are
		// the planner's).
		if v.Kind() != types.KindString && v.Kind() != types.KindBytes && v.Kind() != types.KindTime {
			d, _ := types.ToDecimal(v)
			v = types.NewDecimal(d)
		}
		vals[i] = v
	}
	return keyOf(vals), true, nil
}

// keyed is a row with its join key appended, as partitions store it (so
// the key is computed once).
func keyed(row []types.Datum, key string) []types.Datum {
	return append(slices.Clip(row), types.NewString(key))
}

func unkeyed(r []types.Datum) ([]types.Datum, string) {
	return r[: len(r)-1 : len(r)-1], r[len(r)-1].Str()
}

func (n *hashJoin) open(c *stmtCtx) (rowIter, error) {
	j := &joinIter{n: n, mem: newHashMem(c), bits: newHashMem(c), table: map[string][][]types.Datum{}}
	if err := j.buildSide(c); err != nil {
		j.close()
		return nil, err
	}
	left, err := n.left.open(c)
	if err != nil {
		j.close()
		return nil, err
	}
	j.left = left
	return j, nil
}

// joinPart is a pair of partitions to join; build is nil when no build
// row went there (a left join still emits the probe rows).
type joinPart struct {
	build, probe *spillFile
	level        int
}

type joinIter struct {
	n       *hashJoin
	mem     hashMem // the table
	bits    hashMem // a chunked left join's bitmap
	table   map[string][][]types.Datum
	left    rowIter     // the probe input; nil once read through
	build   *spillParts // level 0's partitions; nil while the build side fits
	probe   *spillParts
	todo    []joinPart
	pending [][]types.Datum

	// The pair being joined.
	cur     *joinPart
	carry   []types.Datum // a build row read that did not fit the chunk
	chunked bool          // cur's build side comes in several chunks
	more    bool          // rows remain past the current chunk
	matched []uint64      // chunked left join: probe rows that matched
	idx     int           // position in cur.probe
	final   bool          // rereading cur.probe for its unmatched rows
}

// buildSide reads the right side into the table, or into partitions once
// it does not fit.
func (j *joinIter) buildSide(c *stmtCtx) error {
	it, err := j.n.right.open(c)
	if err != nil {
		return err
	}
	defer it.close()
	for {
		r, err := it.next(c)
		if err != nil || r == nil {
			return err
		}
		k, ok, err := evalKeys(c, j.n.rkeys, r)
		if err != nil {
			return err
		}
		if !ok {
			continue // a NULL key matches nothing
		}
		if j.build == nil {
			if size := rowSize(r) + len(k) + setEntryBytes; j.mem.fits(size) {
				j.table[k] = append(j.table[k], r)
				if err := j.mem.add(size); err != nil {
					return err
				}
				continue
			}
			if err := j.spillTable(c); err != nil {
				return err
			}
		}
		if err := j.build.add(k, keyed(r, k)); err != nil {
			return err
		}
	}
}

// spillTable turns to a grace join: the rows held go to the build
// partitions, and the probe side will be partitioned alike.
func (j *joinIter) spillTable(c *stmtCtx) error {
	var err error
	if j.build, err = newSpillParts(c, "hash join", 0); err != nil {
		return err
	}
	if j.probe, err = newSpillParts(c, "hash join", 0); err != nil {
		return err
	}
	c.s.e.hashSpills.Add(1)
	for k, rows := range j.table {
		for _, r := range rows {
			if err := j.build.add(k, keyed(r, k)); err != nil {
				return err
			}
		}
	}
	j.forget()
	return nil
}

// forget empties the table and gives its memory back.
func (j *joinIter) forget() {
	j.table = map[string][][]types.Datum{}
	j.mem.release()
}

func (j *joinIter) next(c *stmtCtx) ([]types.Datum, error) {
	for {
		if len(j.pending) > 0 {
			r := j.pending[0]
			j.pending = j.pending[1:]
			return r, nil
		}
		var err error
		switch {
		case j.left != nil:
			err = j.stepLeft(c)
		case j.cur != nil:
			err = j.stepPart(c)
		case len(j.todo) > 0:
			p := j.todo[len(j.todo)-1]
			j.todo = j.todo[:len(j.todo)-1]
			err = j.startPart(c, p)
		default:
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// stepLeft takes one probe row: it joins it with the table, or writes it
// to its partition.
func (j *joinIter) stepLeft(c *stmtCtx) error {
	l, err := j.left.next(c)
	if err != nil {
		return err
	}
	if l == nil {
		j.left.close()
		j.left = nil
		if j.build == nil {
			return nil
		}
		return j.queue(j.build, j.probe, 1)
	}
	k, ok, err := evalKeys(c, j.n.lkeys, l)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		if j.n.leftOuter {
			j.pending = append(j.pending, j.nullExtend(l))
		}
		return nil
	case j.build != nil:
		return j.probe.add(k, keyed(l, k))
	}
	matched, err := j.probeRow(c, l, k)
	if err == nil && !matched && j.n.leftOuter {
		j.pending = append(j.pending, j.nullExtend(l))
	}
	return err
}

// queue pairs up partitions to join at level; pairs that cannot produce
// a row are dropped.
func (j *joinIter) queue(build, probe *spillParts, level int) error {
	if err := build.rewind(); err != nil {
		return err
	}
	if err := probe.rewind(); err != nil {
		return err
	}
	for i := range build.files {
		b, p := build.files[i], probe.files[i]
		build.files[i], probe.files[i] = nil, nil
		if p == nil || (b == nil && !j.n.leftOuter) {
			if b != nil {
				b.close()
			}
			if p != nil {
				p.close()
			}
			continue
		}
		j.todo = append(j.todo, joinPart{build: b, probe: p, level: level})
	}
	if build == j.build {
		j.build, j.probe = nil, nil
	}
	return nil
}

func (j *joinIter) nullExtend(l []types.Datum) []types.Datum {
	row := make([]types.Datum, len(l), len(l)+j.n.right.width())
	copy(row, l)
	for range j.n.right.width() {
		row = append(row, types.Null())
	}
	return row
}

// probeRow queues l joined with each held row of its key that passes ON.
func (j *joinIter) probeRow(c *stmtCtx, l []types.Datum, k string) (bool, error) {
	matched := false
	for _, r := range j.table[k] {
		row := make([]types.Datum, 0, len(l)+len(r))
		row = append(append(row, l...), r...)
		pass, err := passes(c, j.n.on, row)
		if err != nil {
			return false, err
		}
		if pass {
			matched = true
			j.pending = append(j.pending, row)
		}
	}
	return matched, nil
}

// startPart loads a pair's build side, or its first chunk. A build side
// that does not fit is partitioned again when that can split it.
func (j *joinIter) startPart(c *stmtCtx, p joinPart) error {
	j.cur, j.idx, j.final, j.chunked, j.more, j.matched, j.carry = &p, 0, false, false, false, nil, nil
	more, oneKey, err := j.loadChunk()
	if err != nil || !more {
		return err
	}
	if !oneKey && p.level < maxSpillDepth {
		return j.repartition(c, p)
	}
	j.chunked, j.more = true, true
	if j.n.leftOuter {
		words := (int(p.probe.rows) + 63) / 64
		j.matched = make([]uint64, words)
		return j.bits.add(8 * words)
	}
	return nil
}

// loadChunk fills the table from cur's build partition while it fits. It
// reports whether rows remain, and whether the rows it read had one key.
func (j *joinIter) loadChunk() (more, oneKey bool, err error) {
	oneKey = true
	first := ""
	for n := 0; j.cur.build != nil; n++ {
		r := j.carry
		j.carry = nil
		if r == nil {
			if r, err = j.cur.build.next(); err != nil || r == nil {
				return false, oneKey, err
			}
		}
		row, k := unkeyed(r)
		size := rowSize(row) + len(k) + setEntryBytes
		if !j.mem.fits(size) {
			j.carry = r
			return true, oneKey, nil
		}
		if err := j.mem.add(size); err != nil {
			return false, false, err
		}
		j.table[k] = append(j.table[k], row)
		if n == 0 {
			first = k
		} else if k != first {
			oneKey = false
		}
	}
	return false, oneKey, nil
}

// repartition splits cur's pair with the next level's seed.
func (j *joinIter) repartition(c *stmtCtx, p joinPart) error {
	j.forget()
	j.cur, j.carry = nil, nil // the files are reread from their start
	defer p.build.close()
	defer p.probe.close()
	build, err := newSpillParts(c, "hash join", p.level)
	if err != nil {
		return err
	}
	probe, err := newSpillParts(c, "hash join", p.level)
	if err != nil {
		build.close()
		return err
	}
	c.s.e.hashSpills.Add(1)
	err = copyToParts(p.build, build)
	if err == nil {
		err = copyToParts(p.probe, probe)
	}
	if err == nil {
		err = j.queue(build, probe, p.level+1)
	}
	build.close() // the files queue took are nil here
	probe.close()
	return err
}

func copyToParts(f *spillFile, parts *spillParts) error {
	if err := f.rewind(); err != nil {
		return err
	}
	for {
		r, err := f.next()
		if err != nil || r == nil {
			return err
		}
		if err := parts.add(r[len(r)-1].Str(), r); err != nil {
			return err
		}
	}
}

// stepPart joins one probe row of cur with the table, and moves to the
// next chunk, the unmatched rows, or the next pair at the end of the
// probe partition.
func (j *joinIter) stepPart(c *stmtCtx) error {
	r, err := j.cur.probe.next()
	if err != nil {
		return err
	}
	if r != nil {
		i := j.idx
		j.idx++
		l, k := unkeyed(r)
		if j.final {
			if j.matched[i/64]&(1<<(i%64)) == 0 {
				j.pending = append(j.pending, j.nullExtend(l))
			}
			return nil
		}
		matched, err := j.probeRow(c, l, k)
		switch {
		case err != nil:
			return err
		case matched && j.matched != nil:
			j.matched[i/64] |= 1 << (i % 64)
		case !matched && j.n.leftOuter && !j.chunked:
			j.pending = append(j.pending, j.nullExtend(l))
		}
		return nil
	}
	switch {
	case j.more:
		j.forget()
		j.more, _, err = j.loadChunk()
		if err == nil {
			err = j.cur.probe.rewind()
		}
		j.idx = 0
		return err
	case j.chunked && j.n.leftOuter && !j.final:
		j.final, j.idx = true, 0
		return j.cur.probe.rewind()
	}
	j.endPart()
	return nil
}

func (j *joinIter) endPart() {
	if j.cur.build != nil {
		j.cur.build.close()
	}
	j.cur.probe.close()
	j.cur, j.matched, j.carry = nil, nil, nil
	j.forget()
	j.bits.release()
}

func (j *joinIter) close() {
	if j.left != nil {
		j.left.close()
	}
	if j.cur != nil {
		j.endPart()
	}
	for _, p := range [...]*spillParts{j.build, j.probe} {
		if p != nil {
			p.close()
		}
	}
	for _, p := range j.todo {
		if p.build != nil {
			p.build.close()
		}
		p.probe.close()
	}
	j.todo = nil
	j.forget()
}
