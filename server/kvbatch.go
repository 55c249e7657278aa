package server

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// Bounds of one batch of single-key writes. A batch is one transaction,
// so it stays far below txn.MaxTxnWriteBytes; a larger write goes alone.
const (
	maxBatchWrites = 256
	maxBatchBytes  = 1 << 20
	// maxBatchesInFlight per group: up to this many concurrent writers
	// each commit at once, as they would unbatched; past it, writes queue
	// for the next batch, which grows with what arrives while the others
	// are replicated.
	maxBatchesInFlight = 4
)

// writeBatcher commits concurrent single-key KV writes to one group at its
// leader as one unrecorded transaction: one pass through the lock table,
// one Raft entry applied on every replica, one commit wait. Under load a
// group's single-key writes otherwise each pay all three, and the Raft
// entry is paid again at every follower.
//
// Sharing a transaction keeps each write linearizable: the members of a
// batch are concurrent requests, so any order among them is allowed; the
// commit timestamp is chosen after all of them arrived (invariant 2), and
// each is acknowledged after the shared commit wait (invariant 3). One
// transaction writes a key once, so a second write of a key already in the
// batch waits for a later one; the two are concurrent requests too, and
// the lock table orders them either way.
type writeBatcher struct {
	size prometheus.Histogram

	mu     sync.Mutex
	groups map[uint64]*writeQueue
}

type writeQueue struct {
	pending  []*queuedWrite
	inFlight int
}

type queuedWrite struct {
	ctx   context.Context
	w     *pb.TxnWrite
	start int64
	done  chan writeResult // buffered: the batch never blocks on a member
}

type writeResult struct {
	ts  int64
	err error
}

func newWriteBatcher(reg prometheus.Registerer) *writeBatcher {
	b := &writeBatcher{groups: map[uint64]*writeQueue{}}
	b.size = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "meridian_kv_write_batch_size",
		Help:    "Single-key KV writes committed together as one transaction.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 9)})
	reg.MustRegister(b.size)
	return b
}

// write commits w, with start timestamp start, in the group's next batch
// and returns its commit timestamp. Errors are the transaction server's
// statuses, shared by the whole batch; a write whose ctx ends after its
// batch began gets an ambiguous result, as a proposal whose client left.
func (b *writeBatcher) write(ctx context.Context, srv *txn.Server, group uint64, w *pb.TxnWrite, start int64) (int64, error) {
	qw := &queuedWrite{ctx: ctx, w: w, start: start, done: make(chan writeResult, 1)}
	b.mu.Lock()
	q := b.groups[group]
	if q == nil {
		q = &writeQueue{}
		b.groups[group] = q
	}
	q.pending = append(q.pending, qw)
	var batch []*queuedWrite
	if q.inFlight < maxBatchesInFlight {
		q.inFlight++
		batch = q.takeLocked()
	}
	b.mu.Unlock()
	switch {
	case len(batch) == 1 && batch[0] == qw:
		// Alone: commit on this goroutine, under this request's context,
		// as an unbatched write would.
		b.run(srv, group, q, batch)
	case batch != nil:
		// The batch's context outlives this request's if others wait for
		// it, so this request must not be the one that waits for it.
		go b.run(srv, group, q, batch)
	}
	select {
	case r := <-qw.done:
		return r.ts, r.err
	case <-ctx.Done():
	}
	select {
	case r := <-qw.done: // the outcome arrived as the client left
		return r.ts, r.err
	default:
	}
	b.mu.Lock()
	queued := q.removeLocked(qw)
	b.mu.Unlock()
	if queued {
		return 0, toStatus(ctx.Err())
	}
	return 0, toStatus(errors.Mark(errors.Wrapf(ctx.Err(), "group %d", group), paxosgroup.ErrAmbiguousResult))
}

// run commits batch and then, keeping the batch's place in flight, starts
// the next one from what queued meanwhile.
func (b *writeBatcher) run(srv *txn.Server, group uint64, q *writeQueue, batch []*queuedWrite) {
	b.commit(srv, group, batch)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(q.pending) == 0 {
		q.inFlight--
		if q.inFlight == 0 && b.groups[group] == q {
			delete(b.groups, group)
		}
		return
	}
	next := q.takeLocked()
	go b.run(srv, group, q, next)
}

func (b *writeBatcher) commit(srv *txn.Server, group uint64, batch []*queuedWrite) {
	b.size.Observe(float64(len(batch)))
	meta := &pb.TxnMetaPB{Id: newTxnID(), StartTs: batch[0].start}
	writes := make([]*pb.TxnWrite, len(batch))
	for i, qw := range batch {
		writes[i] = qw.w
		// The batch is as old as its oldest write, so that no write loses
		// its wound-wait priority by joining it.
		meta.StartTs = min(meta.StartTs, qw.start)
	}
	ctx, release := batchContext(batch)
	resp, err := srv.CommitUnrecorded(ctx, &pb.TxnOnePhaseRequest{GroupId: group, Txn: meta, Writes: writes})
	release()
	r := writeResult{err: err}
	if err == nil {
		r.ts = resp.CommitTs
	}
	for _, qw := range batch {
		qw.done <- r
	}
}

// newTxnID makes the ID of a transaction this node runs for one request.
func newTxnID() []byte {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return id
}

// takeLocked removes the next batch from the queue, in arrival order: at
// most maxBatchWrites writes and maxBatchBytes bytes (the first write is
// taken whatever its size), each key once. Writes left out keep their
// places in the queue.
func (q *writeQueue) takeLocked() []*queuedWrite {
	var batch []*queuedWrite
	var keys map[string]bool
	size := 0
	rest := q.pending[:0]
	for i, qw := range q.pending {
		n := len(qw.w.Key) + len(qw.w.Value)
		full := len(batch) == maxBatchWrites || (len(batch) > 0 && size+n > maxBatchBytes)
		if full {
			rest = append(rest, q.pending[i:]...)
			break
		}
		if keys == nil && len(batch) == 1 {
			keys = map[string]bool{string(batch[0].w.Key): true}
		}
		if keys != nil && keys[string(qw.w.Key)] {
			rest = append(rest, qw)
			continue
		}
		if keys != nil {
			keys[string(qw.w.Key)] = true
		}
		batch = append(batch, qw)
		size += n
	}
	clear(q.pending[len(rest):])
	q.pending = rest
	return batch
}

// removeLocked drops qw from the queue if no batch took it yet.
func (q *writeQueue) removeLocked(qw *queuedWrite) bool {
	for i, p := range q.pending {
		if p == qw {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return true
		}
	}
	return false
}

// batchContext is the context a batch commits under: it ends when every
// member's context has ended, since until then someone waits for the
// outcome. A batch of one uses its member's context.
func batchContext(batch []*queuedWrite) (context.Context, func()) {
	if len(batch) == 1 {
		return batch[0].ctx, func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	var left atomic.Int32
	left.Store(int32(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, qw := range batch {
		stops[i] = context.AfterFunc(qw.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
