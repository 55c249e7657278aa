package engine

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"io"
	"os"

	"github.com/cockroachdb/errors"

	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
)

// A sort larger than its memory share spills: the buffered rows are
// sorted and written to a temporary file as a run, and the runs are
// merged at the end. Only sorts spill; hash tables (GROUP BY, DISTINCT,
// hash joins) fail the statement at Config.MaxStatementMemory instead.

// spillRun is a sorted run on disk.
type spillRun struct {
	f *os.File
	r *bufio.Reader
}

func writeRun(rows [][]types.Datum) (*spillRun, error) {
	f, err := os.CreateTemp("", "meridian-sort-*")
	if err != nil {
		return nil, errors.Wrap(err, "sort: creating a spill file (check TMPDIR's free space)")
	}
	os.Remove(f.Name()) // unlinked: the file goes with the statement
	w := bufio.NewWriterSize(f, 1<<16)
	var buf []byte
	for _, r := range rows {
		buf = encodeSpillRow(buf[:0], r)
		if _, err := w.Write(binary.AppendUvarint(nil, uint64(len(buf)))); err != nil {
			f.Close()
			return nil, err
		}
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return nil, errors.Wrap(err, "sort: writing a spill file")
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, errors.Wrap(err, "sort: writing a spill file")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &spillRun{f: f, r: bufio.NewReaderSize(f, 1<<16)}, nil
}

// next reads the run's next row, nil at its end.
func (r *spillRun) next() ([]types.Datum, error) {
	n, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.r, buf); err != nil {
		return nil, err
	}
	return decodeSpillRow(buf)
}

func (r *spillRun) close() { r.f.Close() }

// Rows are encoded as a count and self-describing values (a sort's rows
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
		return nil, errors.New("sort: corrupt spill file")
	}
	b = b[k:]
	row := make([]types.Datum, 0, n)
	for range n {
		d, rest, err := rowenc.DecodeValue(b)
		if err != nil {
			return nil, errors.Wrap(err, "sort: corrupt spill file")
		}
		row, b = append(row, d), rest
	}
	return row, nil
}

// mergeIter merges sorted runs (and a sorted in-memory tail).
type mergeIter struct {
	runs []*spillRun
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

func newMergeIter(runs []*spillRun, mem [][]types.Datum, less func(a, b []types.Datum) bool) (*mergeIter, error) {
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
