package elle

import (
	"errors"
	"fmt"
	"sync"
)

// OpKind is the kind of a micro-operation.
type OpKind uint8

const (
	// OpAppend appends Value to the list stored at Key.
	OpAppend OpKind = iota + 1
	// OpRead reads the whole list stored at Key into Values.
	OpRead
)

// Op is one micro-operation of a transaction.
type Op struct {
	Kind OpKind
	Key  string
	// Value is the appended element (OpAppend only). The test generator
	// must make values unique per key across the whole history.
	Value int
	// Values is the full list observed (OpRead only), oldest element first.
	// For an OK transaction nil means the empty list. Reads of Info and Fail
	// transactions are not used (their contents may be unknown or may come
	// from an attempt that never committed) and can be left nil.
	Values []int
}

// Append returns an append micro-op.
func Append(key string, value int) Op { return Op{Kind: OpAppend, Key: key, Value: value} }

// Read returns a read micro-op that observed values.
func Read(key string, values ...int) Op { return Op{Kind: OpRead, Key: key, Values: values} }

// Outcome is what the client learnt about a transaction.
type Outcome uint8

const (
	// OK: the database reported the transaction committed.
	OK Outcome = iota + 1
	// Fail: the transaction certainly did not commit (aborted).
	Fail
	// Info: ambiguous; it may or may not have committed (timeouts,
	// "ambiguous result" errors, a crashed coordinator).
	Info
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	case Info:
		return "info"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Txn is one completed client transaction of a history.
type Txn struct {
	// Process identifies the client that ran the transaction. Used for
	// process-order edges (Options.ProcessOrder) and in reports.
	Process int
	// Invoke and Complete are monotonic nanoseconds from the test's single
	// clock: Invoke just before the client sends the first request,
	// Complete just after it learns the outcome. Complete is ignored for
	// Info transactions (they may commit at any time after Invoke).
	Invoke, Complete int64
	Outcome          Outcome
	Ops              []Op
	// CommitTS is the commit timestamp the database reported for an OK
	// transaction (for a read-only transaction: its read timestamp), or 0
	// if not reported. Used by the timestamp-order check.
	CommitTS int64
}

// History is the list of transactions a test observed, in any order. The
// index of a transaction in the history is its id in every report ("T12").
type History []Txn

// Recorder collects a History from concurrent clients.
//
// Its zero value is ready to use; all methods are safe for concurrent use.
type Recorder struct {
	mu struct {
		sync.Mutex
		h History
	}
}

// Add records a finished transaction and returns its id. The recorder keeps
// txn (and its slices): the caller must not modify them afterwards.
func (r *Recorder) Add(txn Txn) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.h = append(r.mu.h, txn)
	return len(r.mu.h) - 1
}

// History returns a copy of the transactions recorded so far (the Txn
// values share their Ops slices with the recorder).
func (r *Recorder) History() History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(History(nil), r.mu.h...)
}

// ErrMalformed marks errors about histories that break the recording
// contract (rather than anomalies of the database under test).
var ErrMalformed = errors.New("elle: malformed history")

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
