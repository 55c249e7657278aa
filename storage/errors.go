package storage

import (
	"fmt"
	"syscall"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// Sentinel errors. Callers test for them with errors.Is.
var (
	// ErrStoreLocked marks Open failing because another process (or another
	// Open in this process) holds the store's lock file.
	ErrStoreLocked = errors.New("storage: store is in use by another process")

	// ErrKeyTooLarge marks writes of a user key longer than MaxKeySize.
	ErrKeyTooLarge = errors.New("storage: key too large")

	// ErrValueTooLarge marks writes of a value longer than MaxValueSize.
	ErrValueTooLarge = errors.New("storage: value too large")

	// ErrStoreFailed marks every error returned after a write to disk
	// failed. The engine is fail-stopped: it refuses all further reads and
	// writes, and the node must restart (which replays the WAL up to the
	// last durable record). See doc.go, invariant 6.
	ErrStoreFailed = errors.New("storage: store failed; restart the node")

	// ErrDiskFull additionally marks failures caused by ENOSPC.
	ErrDiskFull = errors.New("storage: disk full")

	// ErrClosed marks use of a closed Engine.
	ErrClosed = errors.New("storage: engine closed")
)

// Limits on user keys and values. They bound the size of a single Raft
// entry and keep one version well below Pebble's large-batch threshold.
const (
	// MaxKeySize is the largest user key, in bytes.
	MaxKeySize = 16 << 10
	// MaxValueSize is the largest user value, in bytes.
	MaxValueSize = 8 << 20
)

// translateWriteError turns an error of a failed Pebble write or sync into
// the fail-stop error the engine keeps returning.
func translateWriteError(dir string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return errors.Mark(errors.Mark(errors.Wrapf(err,
			"storage: disk full while writing store %s: free space on the device, then restart the node "+
				"(acknowledged writes are durable; the failed write was not acknowledged)", dir),
			ErrDiskFull), ErrStoreFailed)
	}
	return errors.Mark(errors.Wrapf(err,
		"storage: write to store %s failed; the store refuses further use, restart the node "+
			"(acknowledged writes are durable; the failed write was not acknowledged)", dir), ErrStoreFailed)
}

// pebbleFatal is the panic value of fatalLogger.Fatalf.
type pebbleFatal struct{ err error }

// fatalLogger replaces Pebble's default logger, whose Fatalf exits the
// process. Pebble calls Fatalf when a commit's WAL write or sync fails
// (db.go "fatal commit error"). We panic with the original error instead so
// that Batch.Commit can recover it, fail-stop the engine and return an error.
// A Fatalf from a background goroutine still crashes the process, which is
// the right outcome for a broken invariant there.
type fatalLogger struct {
	onFatal func(err error)
}

// Infof drops Pebble's informational messages (WAL replay progress and the
// like); events that matter surface as errors or metrics.
func (l fatalLogger) Infof(format string, args ...interface{}) {}

// Errorf forwards to Pebble's default logger (stderr).
func (l fatalLogger) Errorf(format string, args ...interface{}) {
	pebble.DefaultLogger.Errorf(format, args...)
}

func (l fatalLogger) Fatalf(format string, args ...interface{}) {
	var err error
	for _, a := range args {
		if e, ok := a.(error); ok {
			err = errors.WithMessage(e, "storage: pebble fatal error")
			break
		}
	}
	if err == nil {
		err = errors.Newf("storage: pebble fatal error: %s", fmt.Sprintf(format, args...))
	}
	if l.onFatal != nil {
		l.onFatal(err)
	}
	panic(pebbleFatal{err: err})
}
