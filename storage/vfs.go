package storage

import (
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walObservingFS wraps the store's filesystem to observe every fsync of a
// WAL file: Pebble's EventListener reports no per-sync events, and the
// group-commit guarantee (many committers, one fsync) is only checkable by
// counting real syncs.
type walObservingFS struct {
	vfs.FS
	onSync func(d time.Duration)
}

var _ vfs.FS = (*walObservingFS)(nil)

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs *walObservingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !isWAL(name) {
		return f, err
	}
	wf := &walFile{File: f, onSync: fs.onSync}
	// A reused (recycled) WAL is already sized; writes within its size
	// need no extension.
	if st, err := f.Stat(); err == nil {
		wf.sized = st.Size()
	}
	return wf, nil
}

func (fs *walObservingFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrap(name, f, err)
}

func (fs *walObservingFS) OpenReadWrite(
	name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption,
) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.wrap(name, f, err)
}

func (fs *walObservingFS) ReuseForWrite(
	oldname, newname string, category vfs.DiskWriteCategory,
) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(newname, f, err)
}

// Unwrap lets Pebble see through the wrapper (it looks for errorfs etc.).
func (fs *walObservingFS) Unwrap() vfs.FS { return fs.FS }

type walFile struct {
	vfs.File
	onSync func(d time.Duration)
	// written is how far Pebble has written; sized is the file's size.
	// Writes past sized first extend the file by walExtendBytes (see
	// extendWAL), so that fsyncs of appends flush data, not metadata.
	written, sized int64
}

// Write extends the file ahead of the write when it would grow it.
// Pebble writes its WAL sequentially.
func (f *walFile) Write(p []byte) (int, error) {
	if end := f.written + int64(len(p)); end > f.sized {
		if extendWAL(f.File, f.sized, end) {
			f.sized = (end/walExtendBytes + 1) * walExtendBytes
		}
	}
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, err
}

func (f *walFile) observe(start time.Time, err error) error {
	if err == nil {
		f.onSync(time.Since(start))
	}
	return err
}

func (f *walFile) Sync() error {
	start := time.Now()
	return f.observe(start, f.File.Sync())
}

func (f *walFile) SyncData() error {
	start := time.Now()
	return f.observe(start, f.File.SyncData())
}

func (f *walFile) SyncTo(length int64) (bool, error) {
	start := time.Now()
	full, err := f.File.SyncTo(length)
	if full {
		err = f.observe(start, err)
	}
	return full, err
}
