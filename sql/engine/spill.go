package engine

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"io"
	"iter"
	"os"

	"github.com/cockroachdb/errors"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
)

// Operators that outgrow their memory share go to disk instead of failing
// the statement:
//
//   - a sort writes its buffered rows as a sorted run and merges the runs
//     at the end (sortNode, mergeIter here);
//   - hash tables — GROUP BY, DISTINCT and UNION, the distinct values of
//     COUNT(DISTINCT ...) and friends, the build side of hash joins — keep
//     what they hold and write the rows of the keys they cannot hold to
//     partition files by a hash of the key, then process the partitions one
//     by one, re-partitioning with another hash seed when one is still too
//     big (spillhash.go, agg.go, hashjoin.go);
//   - rows read whole before they are used — a nested loop join's inner
//     side, the rows INSERT ... SELECT, UPDATE and DELETE read before they
//     write — keep their first rows in memory and append the rest to one
//     file, read back in order (rowBuffer here); a nested loop whose inner
//     side spilled reads it once per block of outer rows (ops.go).
//
// Every spill file is unlinked as soon as it is created, so it goes with
// the statement whatever happens to the process; rows are written with
// encodeSpillRow, which keeps every value's kind and digits exactly.

// spillFile is an unlinked temporary file of rows, written once and then
// read from its start, possibly several times (rewind).
type spillFile struct {
	op   string // the operator, for errors
	f    *os.File
	w    *bufio.Writer
	r    *bufio.Reader
	buf  []byte
	rows int64
}

func createSpillFile(op string) (*spillFile, error) {
	f, err := os.CreateTemp("", "meridian-spill-*")
	if err != nil {
		return nil, errors.Wrapf(err, "%s: creating a spill file (check TMPDIR's free space)", op)
	}
	os.Remove(f.Name()) // unlinked: the file goes with the statement
	return &spillFile{op: op, f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

func (s *spillFile) write(row []types.Datum) error {
	s.buf = encodeSpillRow(s.buf[:0], row)
	var n [binary.MaxVarintLen64]byte
	if _, err := s.w.Write(n[:binary.PutUvarint(n[:], uint64(len(s.buf)))]); err != nil {
		return errors.Wrapf(err, "%s: writing a spill file (check TMPDIR's free space)", s.op)
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return errors.Wrapf(err, "%s: writing a spill file (check TMPDIR's free space)", s.op)
	}
	s.rows++
	return nil
}

// rewind ends writing (the first time) and positions reading at the first
// row.
func (s *spillFile) rewind() error {
	if s.w != nil {
		if err := s.w.Flush(); err != nil {
			return errors.Wrapf(err, "%s: writing a spill file (check TMPDIR's free space)", s.op)
		}
		s.w = nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return errors.Wrapf(err, "%s: reading a spill file", s.op)
	}
	if s.r == nil {
		s.r = bufio.NewReaderSize(s.f, 1<<16)
	} else {
		s.r.Reset(s.f)
	}
	return nil
}

// next reads the next row, nil at the end.
func (s *spillFile) next() ([]types.Datum, error) {
	n, err := binary.ReadUvarint(s.r)
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, errors.Wrapf(err, "%s: reading a spill file", s.op)
	}
	if cap(s.buf) < int(n) {
		s.buf = make([]byte, n)
	}
	buf := s.buf[:n]
	if _, err := io.ReadFull(s.r, buf); err != nil {
		return nil, errors.Wrapf(err, "%s: reading a spill file", s.op)
	}
	return decodeSpillRow(buf)
}

func (s *spillFile) close() { s.f.Close() }

// writeRun writes a sorted run.
func writeRun(rows [][]types.Datum) (*spillFile, error) {
	f, err := createSpillFile("sort")
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if err := f.write(r); err != nil {
			f.close()
			return nil, err
		}
	}
	if err := f.rewind(); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// Rows are encoded as a count and self-describing values (spilled rows
// are computed values of any type).
func encodeSpillRow(b []byte, row []types.Datum) []byte {
	b = binary.AppendUvarint(b, uint64(len(row)))
	for _, d := range row {
		b = rowenc.EncodeValue(b, d)
	}
	return b
}

func decodeSpillRow(b []byte) ([]types.Datum, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errors.New("engine: corrupt spill file")
	}
	b = b[k:]
	row := make([]types.Datum, 0, n)
	for range n {
		d, rest, err := rowenc.DecodeValue(b)
		if err != nil {
			return nil, errors.Wrap(err, "engine: corrupt spill file")
		}
		row, b = append(row, d), rest
	}
	return row, nil
}

// mergeIter merges sorted runs (and a sorted in-memory tail).
type mergeIter struct {
	runs []*spillFile
	mem  *sliceIter
	h    mergeHeap
}

type mergeItem struct {
	row []types.Datum
	src int // run index, or -1 for the in-memory rows
}

type mergeHeap struct {
	items []mergeItem
	less  func(a, b []types.Datum) bool
}

func (h *mergeHeap) Len() int           { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool { return h.less(h.items[i].row, h.items[j].row) }
func (h *mergeHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap) Push(x any)         { h.items = append(h.items, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return it
}

func newMergeIter(runs []*spillFile, mem [][]types.Datum, less func(a, b []types.Datum) bool) (*mergeIter, error) {
	m := &mergeIter{runs: runs, h: mergeHeap{less: less}}
	// The in-memory rows form one more run.
	memRun := &sliceIter{rows: mem}
	for i, r := range runs {
		row, err := r.next()
		if err != nil {
			m.close()
			return nil, err
		}
		if row != nil {
			m.h.items = append(m.h.items, mergeItem{row: row, src: i})
		}
	}
	if row, _ := memRun.next(nil); row != nil {
		m.h.items = append(m.h.items, mergeItem{row: row, src: -1})
	}
	heap.Init(&m.h)
	m.mem = memRun
	return m, nil
}

func (m *mergeIter) next(*stmtCtx) ([]types.Datum, error) {
	if m.h.Len() == 0 {
		return nil, nil
	}
	top := m.h.items[0]
	var next []types.Datum
	var err error
	if top.src < 0 {
		next, _ = m.mem.next(nil)
	} else {
		next, err = m.runs[top.src].next()
		if err != nil {
			return nil, err
		}
	}
	if next != nil {
		m.h.items[0].row = next
		heap.Fix(&m.h, 0)
	} else {
		heap.Pop(&m.h)
	}
	return top.row, nil
}

func (m *mergeIter) close() {
	for _, r := range m.runs {
		r.close()
	}
}

// rowBuffer holds rows in the order they were added: in memory while they
// fit a quarter of the statement's memory (charged to the statement, given
// back by close), then in a spill file. It is written once, then read from
// its start as many times as needed (rewind, next) — a nested loop re-reads
// its inner side, DML reads its rows once. The order is kept because
// callers observe it: a DML statement writes rows in the order it read
// them (errors, AUTO_INCREMENT values), and a nested loop whose inner side
// fits produces its rows in the same order as before any spill existed.
type rowBuffer struct {
	c    *stmtCtx
	op   string
	mem  hashMem
	rows [][]types.Datum // the first rows
	file *spillFile      // the rest; nil while every row fits
	n    int64

	// Reading: pos indexes rows; past them, file is read.
	pos     int
	reading bool
}

func newRowBuffer(c *stmtCtx, op string) *rowBuffer {
	return &rowBuffer{c: c, op: op, mem: newHashMem(c)}
}

// add appends a row. Once one row went to disk every later one does, so
// that reading back keeps the order.
func (b *rowBuffer) add(r []types.Datum) error {
	if b.reading {
		return errors.AssertionFailedf("engine: %s: row added to a buffer being read", b.op)
	}
	b.n++
	if b.file == nil {
		if size := rowSize(r) + rowSliceBytes; b.mem.fits(size) {
			b.rows = append(b.rows, r)
			return b.mem.add(size)
		}
		f, err := createSpillFile(b.op)
		if err != nil {
			return err
		}
		b.file = f
	}
	if k := b.c.s.e.cfg.TestingKnobs.RowSpill; k != nil && !k(b.op) {
		return nil
	}
	return b.file.write(r)
}

// rowSliceBytes approximates what a held row costs besides its values (its
// slice header in the buffer).
const rowSliceBytes = 24

// spilled reports whether some rows are on disk.
func (b *rowBuffer) spilled() bool { return b.file != nil }

// len is the number of rows added.
func (b *rowBuffer) len() int64 { return b.n }

// rewind ends writing (the first time) and positions reading at the first
// row.
func (b *rowBuffer) rewind() error {
	b.reading, b.pos = true, 0
	if b.file != nil {
		return b.file.rewind()
	}
	return nil
}

// next returns the next row, nil at the end. A row from disk is fresh; a
// row from memory is the one added, shared with the caller (rows are never
// mutated once produced).
func (b *rowBuffer) next() ([]types.Datum, error) {
	if b.pos < len(b.rows) {
		b.pos++
		return b.rows[b.pos-1], nil
	}
	if b.file == nil {
		return nil, nil
	}
	return b.file.next()
}

// all reads the rows once from the start; a read error ends the loop and
// is left in *errp.
func (b *rowBuffer) all(errp *error) iter.Seq2[int, []types.Datum] {
	return func(yield func(int, []types.Datum) bool) {
		if *errp = b.rewind(); *errp != nil {
			return
		}
		for i := 0; ; i++ {
			r, err := b.next()
			if err != nil {
				*errp = err
				return
			}
			if r == nil || !yield(i, r) {
				return
			}
		}
	}
}

// close gives the memory back and removes the file (it was unlinked when
// created, so closing it frees its space). It may be called again.
func (b *rowBuffer) close() {
	b.mem.release()
	b.rows = nil
	if b.file != nil {
		b.file.close()
		b.file = nil
	}
}
