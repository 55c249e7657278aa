package storage

import (
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// walExtendBytes is the step by which WAL files grow ahead of the writes.
const walExtendBytes = 4 << 20

// extendWAL grows a WAL file from its current size `from` to the next
// multiple of walExtendBytes past `end`, with (unwritten) zeros, and
// reports whether it did. An fdatasync of an append that grows a file
// must also journal the new size; within an already-sized file it flushes
// data only, which on ext4 halves the latency of a synced commit (measured
// here: 200 µs → 100–130 µs for a 300-byte append). So the size changes
// once per walExtendBytes of log instead of on every commit. Pebble reads
// a zeroed tail as the end of the log (its own preallocation and WAL
// recycling leave the same behind), and closed logs end with an EOF
// trailer before it. Best effort: without fallocate the syncs stay slower.
func extendWAL(f vfs.File, from, end int64) bool {
	fd := f.Fd()
	if fd == vfs.InvalidFd {
		return false
	}
	to := (end/walExtendBytes + 1) * walExtendBytes
	return unix.Fallocate(int(fd), 0, from, to-from) == nil
}
