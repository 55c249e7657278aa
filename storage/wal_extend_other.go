//go:build !linux

package storage

import (
	"github.com/cockroachdb/pebble/v2/vfs"
)

// walExtendBytes is the step by which WAL files would grow ahead of writes.
const walExtendBytes = 4 << 20

// extendWAL is a no-op where fallocate is not available.
func extendWAL(vfs.File, int64, int64) bool { return false }
