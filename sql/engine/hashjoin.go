package engine

import (
	"errors"
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
//
// Keys hash in the terms in which = compares their two sides (keyDomain):
// an INT with a VARCHAR as doubles, so that 1 meets '1', ' 1' and '1.0';
// an INT with a DECIMAL as decimals. An equality whose sides no hashing
// can reproduce (a time with a string) is tested row by row instead, as
// is a row whose key value is not of its expression's declared class:
// such build rows make the whole join a nested loop, such probe rows are
// joined with the whole build side at the end.
type hashJoin struct {
	left, right  node
	lkeys, rkeys []expr
	on           []expr
	leftOuter    bool
}

func (n *hashJoin) width() int { return n.left.width() + n.right.width() }
func (n *hashJoin) explain(ind string, out *[]string) {
	p := n.plan()
	if len(p.lkeys) == 0 {
		n.nested(p, n.left).explain(ind, out)
		return
	}
	kind := "hash join"
	if n.leftOuter {
		kind = "hash left join"
	}
	*out = append(*out, fmt.Sprintf("%s%s (%d key(s))", ind, kind, len(p.lkeys)))
	n.left.explain(ind+"  ", out)
	n.right.explain(ind+"  ", out)
}

// leftJoin plans a LEFT JOIN (on: the ON conjuncts over the joined row): a
// hash join on its equalities between a column of each side, else a
// nested loop. An equality is a key only when some hashing of its columns'
// values makes them hash alike exactly when they compare equal (keyDomain).
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
			if aok && bok && a.i < lw && b.i >= lw && domainOf(a.t, b.t) != domainNone {
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

// keyDomain is how the values of a pair of join keys compare (MySQL's
// rules, as types.Compare applies them), and so how they are hashed: the
// two sides' values must hash alike exactly when they compare equal.
type keyDomain uint8

const (
	// domainNone: no hashing reproduces the comparison (a time with a
	// string compares as times only when the string reads as one; a time
	// with a number by its digits); the equality is tested row by row.
	domainNone keyDomain = iota
	// domainExact: integers with integers or decimals compare exactly,
	// and hash as decimals (1 = 1.0).
	domainExact
	// domainDouble: a double with any number, or a string with a number,
	// compare as doubles (1 = '1.0' = ' 1' = 1e0, 0 = 'abc'), and hash as
	// the double.
	domainDouble
	// domainString: strings compare bytewise, and hash as they are.
	domainString
	// domainTime: times compare as instants (DATE 2024-01-02 = DATETIME
	// 2024-01-02 00:00:00), and hash as the instant.
	domainTime
)

// typeClass groups column types by how they compare.
type typeClass uint8

const (
	classOther  typeClass = iota
	classExact            // integers, decimals
	classApprox           // FLOAT, DOUBLE
	classString           // character and byte strings
	classTime             // DATE, DATETIME, TIMESTAMP
)

func classOf(t types.T) typeClass {
	switch {
	case t.IsInteger() || t.Kind == types.Decimal:
		return classExact
	case t.Kind == types.Float || t.Kind == types.Double:
		return classApprox
	case t.IsString() || t.IsBinary():
		return classString
	case t.IsTime():
		return classTime
	}
	return classOther
}

// kindClass is the class of a value, which may differ from its
// expression's declared type (a CASE is typed by its first branch).
func kindClass(k types.Kind) typeClass {
	switch k {
	case types.KindInt, types.KindUint, types.KindDecimal:
		return classExact
	case types.KindFloat:
		return classApprox
	case types.KindString, types.KindBytes:
		return classString
	case types.KindTime:
		return classTime
	}
	return classOther
}

// domainOf is the domain of an equality between values of types a and b.
func domainOf(a, b types.T) keyDomain {
	ca, cb := classOf(a), classOf(b)
	number := func(c typeClass) bool { return c == classExact || c == classApprox }
	switch {
	case ca == classExact && cb == classExact:
		return domainExact
	case ca == classString && cb == classString:
		return domainString
	case ca == classTime && cb == classTime:
		return domainTime
	case (number(ca) || ca == classString) && (number(cb) || cb == classString):
		return domainDouble
	}
	return domainNone
}

// hashable reports whether a value of class c, on a side declared of
// class decl, hashes correctly in dom: hashing alike is then comparing
// equal, against any value of the other side's declared class. That holds
// for values of the declared class, and in domainDouble for doubles too
// (a double compares with anything as doubles). A value of another class
// (from an expression typed loosely: a CASE is typed by its first branch)
// could compare differently — an integer with an integer exactly, not as
// doubles — and is joined row by row instead.
func (dom keyDomain) hashable(c, decl typeClass) bool {
	return dom != domainNone && (c == decl || (dom == domainDouble && c == classApprox))
}

// hashPlan is how a hashJoin runs: the key pairs it hashes, their
// domains, and the conditions tested on each joined row — its ON
// conditions and the equalities no hashing reproduces.
type hashPlan struct {
	lkeys, rkeys []expr
	doms         []keyDomain
	lcls, rcls   []typeClass // the keys' declared classes
	on           []expr
	eqs          []expr // every key equality, for rows joined row by row
}

func (n *hashJoin) plan() hashPlan {
	lw := n.left.width()
	p := hashPlan{on: n.on}
	for i, l := range n.lkeys {
		r := n.rkeys[i]
		eq := &keyEq{l: l, r: r, lw: lw}
		p.eqs = append(p.eqs, eq)
		if d := domainOf(l.typ(), r.typ()); d != domainNone {
			p.lkeys, p.rkeys, p.doms = append(p.lkeys, l), append(p.rkeys, r), append(p.doms, d)
			p.lcls, p.rcls = append(p.lcls, classOf(l.typ())), append(p.rcls, classOf(r.typ()))
			continue
		}
		p.on = append(slices.Clip(p.on), eq)
	}
	return p
}

// nested is the join as a nested loop over left: the plan when no key
// can be hashed, and the way rows whose key values cannot be hashed are
// joined.
func (n *hashJoin) nested(p hashPlan, left node) *nestedJoin {
	on := append(slices.Clip(p.eqs), n.on...)
	return &nestedJoin{left: left, right: n.right, rightW: n.right.width(), on: on, leftOuter: n.leftOuter}
}

// keyEq is a join key equality over the joined row: l over the left
// columns, r over the right ones, compared as = compares.
type keyEq struct {
	l, r expr
	lw   int
}

func (e *keyEq) eval(c *stmtCtx, row []types.Datum) (types.Datum, error) {
	a, err := e.l.eval(c, row[:e.lw:e.lw])
	if err != nil {
		return types.Datum{}, err
	}
	b, err := e.r.eval(c, row[e.lw:])
	if err != nil || a.IsNull() || b.IsNull() {
		return types.Null(), err
	}
	k, err := types.Compare(a, b)
	if err != nil {
		return types.Datum{}, err
	}
	return boolDatum(k == 0), nil
}
func (e *keyEq) typ() types.T { return tBigInt }

// keyState is what evalKeys found.
type keyState uint8

const (
	keyOK   keyState = iota
	keyNull          // a NULL key matches nothing
	keyOdd           // a value that cannot be hashed in its domain
)

// evalKeys evaluates a row's keys (es, declared of classes cls) and hashes
// them in their domains.
func evalKeys(c *stmtCtx, es []expr, doms []keyDomain, cls []typeClass, row []types.Datum) (string, keyState, error) {
	vals := make([]types.Datum, len(es))
	for i, e := range es {
		v, err := e.eval(c, row)
		if err != nil {
			return "", keyNull, err
		}
		if v.IsNull() {
			return "", keyNull, nil
		}
		if !doms[i].hashable(kindClass(v.Kind()), cls[i]) {
			return "", keyOdd, nil
		}
		switch doms[i] {
		case domainExact:
			d, _ := types.ToDecimal(v)
			v = types.NewDecimal(d)
		case domainDouble:
			f, _ := types.ToFloat64(v) // strings by their numeric prefix, as Compare reads them
			v = types.NewFloat(f)
		}
		// Strings and times keep their form: the key encoding of a
		// string is its bytes whether it is text or binary, and of a time
		// its instant whatever its type.
		vals[i] = v
	}
	return keyOf(vals), keyOK, nil
}

// keyed is a row with its join key appended, as partitions store it (so
// the key is computed once).
func keyed(row []types.Datum, key string) []types.Datum {
	return append(slices.Clip(row), types.NewString(key))
}

func unkeyed(r []types.Datum) ([]types.Datum, string) {
	return r[: len(r)-1 : len(r)-1], r[len(r)-1].Str()
}

// errOddBuildKey stops building a hash table when a build row's key
// cannot be hashed (see keyDomain.hashable): the join then runs as a
// nested loop.
var errOddBuildKey = errors.New("engine: a hash join build key cannot be hashed")

func (n *hashJoin) open(c *stmtCtx) (rowIter, error) {
	p := n.plan()
	if len(p.lkeys) == 0 {
		return n.nested(p, n.left).open(c)
	}
	j := &joinIter{n: n, p: p, mem: newHashMem(c), bits: newHashMem(c), table: map[string][][]types.Datum{}}
	if err := j.buildSide(c); err != nil {
		j.close()
		if err == errOddBuildKey {
			return n.nested(p, n.left).open(c)
		}
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
	p       hashPlan
	mem     hashMem // the table
	bits    hashMem // a chunked left join's bitmap
	table   map[string][][]types.Datum
	left    rowIter     // the probe input; nil once read through
	build   *spillParts // level 0's partitions; nil while the build side fits
	probe   *spillParts
	todo    []joinPart
	pending [][]types.Datum

	// Probe rows whose key cannot be hashed, joined at the end by a
	// nested loop (oddIt).
	odd   *rowBuffer
	oddIt rowIter

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
		k, st, err := evalKeys(c, j.p.rkeys, j.p.doms, j.p.rcls, r)
		switch {
		case err != nil:
			return err
		case st == keyNull:
			continue // a NULL key matches nothing
		case st == keyOdd:
			return errOddBuildKey
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
		case j.odd != nil:
			return j.nextOdd(c)
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
	k, st, err := evalKeys(c, j.p.lkeys, j.p.doms, j.p.lcls, l)
	if err != nil {
		return err
	}
	switch {
	case st == keyNull:
		if j.n.leftOuter {
			j.pending = append(j.pending, j.nullExtend(l))
		}
		return nil
	case st == keyOdd:
		if j.odd == nil {
			j.odd = newRowBuffer(c, "hash join")
		}
		return j.odd.add(l)
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
		pass, err := passes(c, j.p.on, row)
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

// nextOdd joins the probe rows whose key could not be hashed with the
// whole build side, row by row, once everything else is done.
func (j *joinIter) nextOdd(c *stmtCtx) ([]types.Datum, error) {
	if j.oddIt == nil {
		j.forget() // the table is done with; its memory serves the loop
		it, err := j.n.nested(j.p, &bufferNode{b: j.odd, w: j.n.left.width()}).open(c)
		if err != nil {
			return nil, err
		}
		j.oddIt = it
	}
	r, err := j.oddIt.next(c)
	if r == nil && err == nil {
		j.oddIt.close()
		j.odd.close()
		j.oddIt, j.odd = nil, nil
	}
	return r, err
}

func (j *joinIter) close() {
	if j.left != nil {
		j.left.close()
	}
	if j.oddIt != nil {
		j.oddIt.close()
	}
	if j.odd != nil {
		j.odd.close()
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
