package txn

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Client runs transactions for the layers above (SQL sessions, the KV
// commands, tests). It routes each request to the group that holds the
// key: reads of read-write transactions and commits to leaders, snapshot
// reads to the nearest replica.
type Client struct {
	router Router
	clock  Clock
}

// NewClient returns a client that routes through r and takes timestamps
// from clock (the gateway node's TrueTime).
func NewClient(r Router, clock Clock) *Client {
	return &Client{router: r, clock: clock}
}

// Options choose the kind of transaction.
type Options struct {
	// ReadOnly: a lock-free snapshot transaction.
	ReadOnly bool
	// ReadTimestamp, for a read-only transaction: an exact stale read at
	// this timestamp (0: TT.Now().latest, strong).
	ReadTimestamp int64
	// MaxStaleness, for a read-only transaction: a bounded-stale read at
	// the freshest timestamp the nearest replica serves at once, no older
	// than now minus this bound.
	MaxStaleness time.Duration
}

// KeyValue is a row returned by Get or Scan.
type KeyValue struct {
	Key, Value []byte
}

// Txn is one transaction. It is not safe for concurrent use.
type Txn struct {
	c      *Client
	meta   TxnMeta
	opts   Options
	readTS int64
	writes map[string]Write
	// writeBytes is what the buffered writes weigh (writeCost each).
	writeBytes int
	// undo records, since the savepoint (recording), what each buffered
	// write replaced.
	undo      []undoEntry
	recording bool
	groups    map[uint64]*txnGroup
	finished  bool
	// seen holds what a read-write transaction's point reads returned, up
	// to maxSeen keys. The transaction holds those keys locked until it
	// ends, so no other transaction can change them and a second read
	// would return the same (a lock lost meanwhile fails the commit). SQL
	// statements read their tables' descriptors this way every time.
	seen map[string]seenValue
	// maxWriteSeen is the largest max_write_ts of the read-write reads'
	// answers: a commit of reads only goes at or above it.
	maxWriteSeen int64
	// mu guards groups, readTS, seen and maxWriteSeen against GetMany's
	// parallel reads.
	mu sync.Mutex
}

// seenValue is a committed value read (or its absence).
type seenValue struct {
	value []byte
	found bool
}

// maxSeen bounds Txn.seen.
const maxSeen = 1024

type txnGroup struct {
	desc  *pb.GroupDescriptor
	reads bool
	// readTerm is the leader term that served the reads (and holds their
	// locks): later reads and the commit fail if the leader changed.
	readTerm uint64
}

// Begin starts a transaction.
func (c *Client) Begin(ctx context.Context, opts Options) (*Txn, error) {
	return c.begin(ctx, opts, 0)
}

func (c *Client) begin(ctx context.Context, opts Options, startTS int64) (*Txn, error) {
	now := c.clock.Now()
	if !now.Known() {
		if err := c.clock.WaitSynced(ctx); err != nil {
			return nil, errors.Wrap(err, "txn: the node's clock has not synchronised yet")
		}
		now = c.clock.Now()
	}
	if startTS == 0 {
		startTS = now.Latest
	}
	t := &Txn{c: c, opts: opts, writes: map[string]Write{}, groups: map[uint64]*txnGroup{}}
	t.meta.StartTS = startTS
	if _, err := rand.Read(t.meta.ID[:]); err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		switch {
		case opts.ReadTimestamp > 0:
			t.readTS = opts.ReadTimestamp
		case opts.MaxStaleness > 0:
			// Chosen by the first replica read (see snapshotRead).
		default:
			t.readTS = now.Latest
		}
	}
	return t, nil
}

// ID returns the transaction's ID.
func (t *Txn) ID() TxnID { return t.meta.ID }

// StartTS returns the transaction's start timestamp, its wound-wait
// priority: of two conflicting transactions the one with the smaller
// start timestamp is older and goes first.
func (t *Txn) StartTS() int64 { return t.meta.StartTS }

// ReadTimestamp returns a read-only transaction's read timestamp (0 until
// a bounded-stale transaction's first read chose it).
func (t *Txn) ReadTimestamp() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readTS
}

func (t *Txn) pbMeta() *pb.TxnMetaPB { return &pb.TxnMetaPB{Id: t.meta.ID[:], StartTs: t.meta.StartTS} }

// classify turns a gRPC failure into the error classes callers act on.
// errWrongRange marks a request refused because its keys left the group;
// it is retryable (nothing ran), and reads re-route it themselves.
var errWrongRange = errors.New("txn: key moved to another group")

// rerouted runs read, looking its keys up again (up to a few times) when a
// split moved them while the request was on its way.
func rerouted[T any](read func() (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := read()
		if err == nil || !errors.Is(err, errWrongRange) || attempt == 4 {
			return v, err
		}
	}
}

func classify(err error) error {
	if err == nil || errors.Is(err, ErrRetryable) || errors.Is(err, ErrAmbiguous) {
		return err
	}
	if re := RoutingErrorOf(err); re != nil && re.Reason == pb.RoutingError_WRONG_RANGE {
		// The group no longer holds the key (a split moved it): nothing
		// ran; the key must be routed again.
		return errors.Mark(errors.Mark(err, errWrongRange), ErrRetryable)
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Aborted:
			return errors.Mark(errors.New(s.Message()), ErrRetryable)
		case codes.Unknown:
			return errors.Mark(errors.New(s.Message()), ErrAmbiguous)
		case codes.OutOfRange:
			return errors.Mark(errors.New(s.Message()), ErrSnapshotTooOld)
		}
	}
	return err
}

// Get returns the value of key: the transaction's own write if any, else
// the committed value (under a shared lock at the leader for read-write
// transactions, at the read timestamp at the nearest replica for
// read-only ones).
func (t *Txn) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if w, ok := t.writes[string(key)]; ok {
		return w.Value, !w.Delete, nil
	}
	vals, found, err := t.GetMany(ctx, [][]byte{key})
	if err != nil {
		return nil, false, err
	}
	return vals[0], found[0], nil
}

// GetMany reads several keys, one request per group, groups in parallel.
func (t *Txn) GetMany(ctx context.Context, keys [][]byte) ([][]byte, []bool, error) {
	return t.getManyRerouted(ctx, keys, false)
}

// GetManyForUpdate is GetMany under exclusive locks, for rows the
// transaction is about to write (UPDATE, DELETE, SELECT ... FOR UPDATE):
// two transactions after the same row then queue at the read, instead of
// both reading it shared and one wounding the other when both write. A
// read-only transaction reads as GetMany does.
func (t *Txn) GetManyForUpdate(ctx context.Context, keys [][]byte) ([][]byte, []bool, error) {
	return t.getManyRerouted(ctx, keys, true)
}

func (t *Txn) getManyRerouted(ctx context.Context, keys [][]byte, exclusive bool) ([][]byte, []bool, error) {
	type result struct {
		vals  [][]byte
		found []bool
	}
	r, err := rerouted(func() (result, error) {
		v, f, err := t.getMany(ctx, keys, exclusive)
		return result{v, f}, err
	})
	return r.vals, r.found, err
}

func (t *Txn) getMany(ctx context.Context, keys [][]byte, exclusive bool) ([][]byte, []bool, error) {
	if t.finished {
		return nil, nil, errors.New("txn: transaction already finished")
	}
	vals := make([][]byte, len(keys))
	found := make([]bool, len(keys))
	byGroup := map[uint64][]int{}
	descs := map[uint64]*pb.GroupDescriptor{}
	for i, k := range keys {
		if w, ok := t.writes[string(k)]; ok {
			vals[i], found[i] = w.Value, !w.Delete
			continue
		}
		if !exclusive {
			// A key read before is still locked: no need to ask again.
			// An exclusive read goes on, for the lock.
			t.mu.Lock()
			v, ok := t.seen[string(k)]
			t.mu.Unlock()
			if ok {
				vals[i], found[i] = bytes.Clone(v.value), v.found
				continue
			}
		}
		d, err := t.c.router.LookupKey(ctx, k)
		if err != nil {
			return nil, nil, err
		}
		byGroup[d.GroupId] = append(byGroup[d.GroupId], i)
		descs[d.GroupId] = d
	}
	if t.opts.ReadOnly && t.ReadTimestamp() != 0 && len(byGroup) > 1 {
		t.readManyByNode(ctx, keys, byGroup, descs, vals, found)
	}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	// A bounded-stale read picks its timestamp at the first replica it
	// reads; the other groups must read at the same one. One group is
	// read on the caller's goroutine, whose stack has already grown.
	sequential := len(byGroup) == 1 || t.opts.ReadOnly && t.ReadTimestamp() == 0
	for g, idx := range byGroup {
		wg.Add(1)
		run := func(f func()) {
			if sequential {
				f()
			} else {
				go f()
			}
		}
		run(func() {
			defer wg.Done()
			ks := make([][]byte, len(idx))
			for j, i := range idx {
				ks[j] = keys[i]
			}
			vs, fs, err := t.readGroup(ctx, descs[g], ks, exclusive)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			for j, i := range idx {
				vals[i], found[i] = vs[j], fs[j]
				if !t.opts.ReadOnly && len(t.seen) < maxSeen {
					if t.seen == nil {
						t.seen = map[string]seenValue{}
					}
					t.seen[string(keys[i])] = seenValue{bytes.Clone(vs[j]), fs[j]}
				}
			}
		})
		sequential = sequential && t.ReadTimestamp() == 0
	}
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	return vals, found, nil
}

// readManyByNode serves a read-only transaction's reads of groups that
// share their nearest replica node with one SnapshotReadMany to that node,
// which asks each leader node once for the safe times it lacks instead of
// once per group. It fills vals and found and deletes the groups it read
// from byGroup; whatever it could not read is left for the caller to read
// group by group (which also re-routes).
func (t *Txn) readManyByNode(ctx context.Context, keys [][]byte, byGroup map[uint64][]int,
	descs map[uint64]*pb.GroupDescriptor, vals [][]byte, found []bool) {
	byNode := map[uint64][]uint64{}
	for g, d := range descs {
		if c := candidates(t.c.router, d, true); len(c) > 0 {
			byNode[c[0]] = append(byNode[c[0]], g)
		}
	}
	reqs := map[uint64]*pb.SnapshotReadManyRequest{}
	for node, groups := range byNode {
		if len(groups) < 2 {
			continue
		}
		req := &pb.SnapshotReadManyRequest{Timestamp: t.ReadTimestamp()}
		for _, g := range groups {
			r := &pb.SnapshotReadRequest{GroupId: g}
			for _, i := range byGroup[g] {
				r.Keys = append(r.Keys, keys[i])
			}
			req.Reads = append(req.Reads, r)
		}
		reqs[node] = req
	}
	// Served groups leave byGroup only after every reader is done with it.
	var mu sync.Mutex
	var served []uint64
	var wg sync.WaitGroup
	for node, req := range reqs {
		groups := byNode[node]
		wg.Add(1)
		read := func() {
			defer wg.Done()
			var resp *pb.SnapshotReadManyResponse
			err := callNode(ctx, t.c.router, node, func(ctx context.Context, cl pb.TxnClient) error {
				var err error
				resp, err = cl.SnapshotReadMany(ctx, req)
				return err
			})
			if err != nil || len(resp.Reads) != len(groups) {
				return
			}
			for j, r := range resp.Reads {
				if n := len(req.Reads[j].Keys); len(r.Values) != n || len(r.Found) != n {
					return
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for j, g := range groups {
				r := resp.Reads[j]
				for k, i := range byGroup[g] {
					vals[i], found[i] = r.Values[k].Value, r.Found[k]
				}
			}
			served = append(served, groups...)
		}
		if len(reqs) == 1 {
			read() // on the caller's goroutine, whose stack has grown
		} else {
			go read()
		}
	}
	wg.Wait()
	for _, g := range served {
		delete(byGroup, g)
	}
}

func (t *Txn) note(d *pb.GroupDescriptor, reads bool) {
	t.noteRead(d, reads, 0, 0)
}

// noteRead records a group the transaction touched and, for a read, the
// leader term that served it.
func (t *Txn) noteRead(d *pb.GroupDescriptor, reads bool, term uint64, maxWriteTS int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maxWriteSeen = max(t.maxWriteSeen, maxWriteTS)
	g := t.groups[d.GroupId]
	if g == nil {
		g = &txnGroup{desc: d}
		t.groups[d.GroupId] = g
	}
	g.reads = g.reads || reads
	if g.readTerm == 0 {
		g.readTerm = term
	}
}

// readTerm is the term of the transaction's earlier reads at a group (0:
// none).
func (t *Txn) readTerm(group uint64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g := t.groups[group]; g != nil {
		return g.readTerm
	}
	return 0
}

// readGroup reads keys of one group. A key that moved to another group
// (a split) is re-routed.
func (t *Txn) readGroup(ctx context.Context, d *pb.GroupDescriptor, keys [][]byte, exclusive bool) ([][]byte, []bool, error) {
	var vals [][]byte
	var found []bool
	if t.opts.ReadOnly {
		resp, err := t.snapshotRead(ctx, d, &pb.SnapshotReadRequest{Keys: keys})
		if err != nil {
			return nil, nil, err
		}
		for i, v := range resp.Values {
			vals, found = append(vals, v.Value), append(found, resp.Found[i])
		}
		return vals, found, nil
	}
	var resp *pb.TxnReadResponse
	err := callGroupLeader(ctx, t.c.router, d.GroupId, d.StartKey, func(ctx context.Context, cl pb.TxnClient) error {
		var err error
		resp, err = cl.Read(ctx, &pb.TxnReadRequest{GroupId: d.GroupId, Txn: t.pbMeta(), Keys: keys, ReadTerm: t.readTerm(d.GroupId), Exclusive: exclusive})
		return err
	})
	if err != nil {
		return nil, nil, classify(err)
	}
	t.noteRead(d, true, resp.Term, resp.MaxWriteTs)
	for i, v := range resp.Values {
		vals, found = append(vals, v.Value), append(found, resp.Found[i])
	}
	return vals, found, nil
}

// snapshotRead sends a snapshot read to the nearest replica of d.
func (t *Txn) snapshotRead(ctx context.Context, d *pb.GroupDescriptor, req *pb.SnapshotReadRequest) (*pb.SnapshotReadResponse, error) {
	req.GroupId = d.GroupId
	req.Timestamp = t.ReadTimestamp()
	if req.Timestamp == 0 {
		req.MaxStalenessNanos = t.opts.MaxStaleness.Nanoseconds()
	}
	var resp *pb.SnapshotReadResponse
	err := callGroup(ctx, t.c.router, d.GroupId, d.StartKey, true, func(ctx context.Context, cl pb.TxnClient) error {
		var err error
		resp, err = cl.SnapshotRead(ctx, req)
		return err
	})
	if err != nil {
		return nil, classify(err)
	}
	t.mu.Lock()
	if t.readTS == 0 {
		t.readTS = resp.Timestamp
	}
	t.mu.Unlock()
	return resp, nil
}

// Scan returns the rows in [start, end) (end nil: to the end), up to
// limit (0: all), merged with the transaction's own writes.
func (t *Txn) Scan(ctx context.Context, start, end []byte, limit int) ([]KeyValue, error) {
	var out []KeyValue
	for {
		rows, resume, err := t.ScanChunk(ctx, start, end, limit-len(out), nil)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if resume == nil {
			return out, nil
		}
		start = resume
	}
}

// ScanChunk reads the rows of [start, end) in order, merged with the
// transaction's own writes, stopping after about limit stored rows (0: no
// limit); resume is where the next chunk starts, nil when the span is
// done. A read-write transaction locks the span it read up to resume.
// Callers stream large scans chunk by chunk. A filter (opaque here; the
// node's CompileFilter reads it) makes the groups return only matching
// rows, limit counting those; the transaction's own writes are merged in
// unfiltered, so the caller re-checks its condition.
func (t *Txn) ScanChunk(ctx context.Context, start, end []byte, limit int, filter []byte) (rows []KeyValue, resume []byte, err error) {
	return t.scanChunkRerouted(ctx, start, end, limit, filter, false)
}

// ScanChunkForUpdate is ScanChunk with the rows it returns locked
// exclusively (the span stays shared), as GetManyForUpdate.
func (t *Txn) ScanChunkForUpdate(ctx context.Context, start, end []byte, limit int, filter []byte) (rows []KeyValue, resume []byte, err error) {
	return t.scanChunkRerouted(ctx, start, end, limit, filter, true)
}

func (t *Txn) scanChunkRerouted(ctx context.Context, start, end []byte, limit int, filter []byte, exclusive bool) (rows []KeyValue, resume []byte, err error) {
	type result struct {
		rows   []KeyValue
		resume []byte
	}
	r, err := rerouted(func() (result, error) {
		rows, resume, err := t.scanChunk(ctx, start, end, limit, filter, exclusive)
		return result{rows, resume}, err
	})
	return r.rows, r.resume, err
}

func (t *Txn) scanChunk(ctx context.Context, start, end []byte, limit int, filter []byte, exclusive bool) (rows []KeyValue, resume []byte, err error) {
	if t.finished {
		return nil, nil, errors.New("txn: transaction already finished")
	}
	cur := start
	for {
		d, err := t.c.router.LookupKey(ctx, cur)
		if err != nil {
			return nil, nil, err
		}
		want := uint32(0)
		if limit > 0 {
			want = uint32(limit - len(rows))
		}
		var got []*pb.KeyValue
		var next []byte
		if t.opts.ReadOnly {
			resp, err := t.snapshotRead(ctx, d, &pb.SnapshotReadRequest{Scan: true, StartKey: cur, EndKey: end, Limit: want, Filter: filter})
			if err != nil {
				return nil, nil, err
			}
			got, next = resp.Rows, resp.ResumeKey
		} else {
			var resp *pb.TxnReadResponse
			err := callGroupLeader(ctx, t.c.router, d.GroupId, d.StartKey, func(ctx context.Context, cl pb.TxnClient) error {
				var err error
				resp, err = cl.Read(ctx, &pb.TxnReadRequest{GroupId: d.GroupId, Txn: t.pbMeta(), Scan: true, StartKey: cur, EndKey: end, Limit: want, ReadTerm: t.readTerm(d.GroupId), Filter: filter, Exclusive: exclusive})
				return err
			})
			if err != nil {
				return nil, nil, classify(err)
			}
			t.noteRead(d, true, resp.Term, resp.MaxWriteTs)
			got, next = resp.Rows, resp.ResumeKey
		}
		rows = slices.Grow(rows, len(got))
		for _, kv := range got {
			rows = append(rows, KeyValue{Key: kv.Key, Value: kv.Value})
		}
		if len(next) == 0 || (len(end) > 0 && bytes.Compare(next, end) >= 0) {
			next = nil
		}
		if next == nil || (limit > 0 && len(rows) >= limit) {
			resume = next
			break
		}
		cur = next
	}
	// Merge the transaction's own writes in the part of the span read.
	stop := end
	if resume != nil {
		stop = resume
	}
	var mine []string
	for k := range t.writes {
		if k >= string(start) && (len(stop) == 0 || k < string(stop)) {
			mine = append(mine, k)
		}
	}
	if len(mine) == 0 {
		return rows, resume, nil
	}
	slices.Sort(mine)
	out := make([]KeyValue, 0, len(rows)+len(mine))
	for len(rows) > 0 || len(mine) > 0 {
		c := 1 // the next row read comes first
		if len(rows) == 0 {
			c = -1
		} else if len(mine) > 0 {
			c = strings.Compare(mine[0], string(rows[0].Key))
		}
		if c > 0 {
			out, rows = append(out, rows[0]), rows[1:]
			continue
		}
		if c == 0 {
			rows = rows[1:] // overwritten by the transaction
		}
		if w := t.writes[mine[0]]; !w.Delete {
			out = append(out, KeyValue{Key: []byte(mine[0]), Value: w.Value})
		}
		mine = mine[1:]
	}
	return out, resume, nil
}

// Put buffers a write; it is sent at commit.
func (t *Txn) Put(key, value []byte) error { return t.buffer(Write{Key: key, Value: value}) }

// Delete buffers a delete.
func (t *Txn) Delete(key []byte) error { return t.buffer(Write{Key: key, Delete: true}) }

func (t *Txn) buffer(w Write) error {
	switch {
	case t.finished:
		return errors.New("txn: transaction already finished")
	case t.opts.ReadOnly:
		return errors.New("txn: write in a read-only transaction")
	case len(w.Key) == 0:
		return errors.New("txn: empty key")
	}
	n := t.writeBytes + writeCost(w)
	if old, ok := t.writes[string(w.Key)]; ok {
		n -= writeCost(old)
	}
	if n > MaxTxnWriteBytes {
		return errors.Mark(errors.Newf("txn: the transaction's writes would exceed %d bytes (MaxTxnWriteBytes); nothing was written: split it into smaller transactions", MaxTxnWriteBytes), ErrTxnTooLarge)
	}
	w.Key, w.Value = bytes.Clone(w.Key), bytes.Clone(w.Value)
	if t.recording {
		old, had := t.writes[string(w.Key)]
		t.undo = append(t.undo, undoEntry{key: string(w.Key), old: old, had: had, bytes: t.writeBytes})
	}
	t.writeBytes = n
	t.writes[string(w.Key)] = w
	return nil
}

type undoEntry struct {
	key   string
	old   Write
	had   bool
	bytes int
}

// Savepoint marks the writes buffered so far; RollbackToSavepoint undoes
// the ones buffered after it. The SQL engine takes one before every
// statement of an explicit transaction, so that a failing statement
// leaves none of its writes behind (as MySQL rolls back a statement).
// There is one savepoint at a time: taking one forgets the previous.
// Locks taken after it stay until the transaction ends, as in MySQL.
func (t *Txn) Savepoint() {
	t.undo, t.recording = t.undo[:0], true
}

// RollbackToSavepoint restores the buffered writes to the savepoint.
func (t *Txn) RollbackToSavepoint() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		if u.had {
			t.writes[u.key] = u.old
		} else {
			delete(t.writes, u.key)
		}
		t.writeBytes = u.bytes
	}
	t.undo = t.undo[:0]
}

// MaxTxnWriteBytes bounds what one transaction may write (keys, values and
// a small overhead per write). A transaction's writes travel to each group
// in one prepare or commit request and one Raft entry, and wait in the
// gateway's memory until then: past this bound they would not fit one
// message, so the write is refused up front with ErrTxnTooLarge.
const MaxTxnWriteBytes = 8 << 20

// ErrSnapshotTooOld marks a snapshot read refused because its timestamp
// is older than the GC TTL (gRPC OutOfRange): the versions it needs may be
// gone.
var ErrSnapshotTooOld = errors.New("txn: snapshot too old")

// ErrTxnTooLarge marks a write refused because the transaction would
// exceed MaxTxnWriteBytes. The transaction is still usable (the write was
// not buffered); retrying it unchanged fails again.
var ErrTxnTooLarge = errors.New("txn: transaction too large")

func writeCost(w Write) int { return len(w.Key) + len(w.Value) + 16 }

// Rollback abandons the transaction and releases its locks.
func (t *Txn) Rollback(ctx context.Context) {
	if t.finished {
		return
	}
	t.finished = true
	t.releaseAll(ctx)
}

func (t *Txn) releaseAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = t.release(ctx, false)
}

// release releases the locks at every group touched; with verify, it
// fails unless every group still held them.
func (t *Txn) release(ctx context.Context, verify bool) error {
	return t.eachGroup(ctx, false, func(id uint64, g *txnGroup) *pb.TxnReleaseRequest {
		return &pb.TxnReleaseRequest{GroupId: id, TxnId: t.meta.ID[:], Verify: verify, ReadTerm: g.readTerm}
	})
}

// CheckLocks reports ErrRetryable if the transaction lost a shared lock
// it read under (an older transaction wounded it at one group, or a
// leader changed): its reads may then disagree with each other, and so
// may anything derived from them — a duplicate-key error found by a
// later read, say. Nil means every read still holds; the locks stay.
func (t *Txn) CheckLocks(ctx context.Context) error {
	if t.opts.ReadOnly || t.finished {
		return nil
	}
	return t.eachGroup(ctx, true, func(id uint64, g *txnGroup) *pb.TxnReleaseRequest {
		return &pb.TxnReleaseRequest{GroupId: id, TxnId: t.meta.ID[:], Verify: true, Keep: true, ReadTerm: g.readTerm}
	})
}

// eachGroup sends req's Release to the leader of every group the
// transaction touched (with readsOnly, those it read), in parallel, and
// returns the first error.
func (t *Txn) eachGroup(ctx context.Context, readsOnly bool, req func(id uint64, g *txnGroup) *pb.TxnReleaseRequest) error {
	var wg sync.WaitGroup
	t.mu.Lock()
	groups := make(map[uint64]*txnGroup, len(t.groups))
	for id, g := range t.groups {
		if !readsOnly || g.reads {
			groups[id] = g
		}
	}
	t.mu.Unlock()
	errs := make(chan error, len(groups))
	for id, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- callGroupLeader(ctx, t.c.router, id, g.desc.StartKey, func(ctx context.Context, cl pb.TxnClient) error {
				_, err := cl.Release(ctx, req(id, g))
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	var first error
	for err := range errs {
		if err != nil && first == nil {
			first = classify(err)
		}
	}
	return first
}

// Commit commits the transaction and returns its commit timestamp. A
// read-only transaction returns its read timestamp. Errors: ErrRetryable
// (nothing was committed; retry the whole transaction), ErrAmbiguous (the
// outcome is unknown; never retry blindly), or another error (nothing
// was committed).
func (t *Txn) Commit(ctx context.Context) (int64, error) {
	if t.finished {
		return 0, errors.New("txn: transaction already finished")
	}
	t.finished = true
	if t.opts.ReadOnly {
		return t.readTS, nil
	}
	// Group the writes.
	byGroup := map[uint64][]*pb.TxnWrite{}
	keys := make([]string, 0, len(t.writes))
	for k := range t.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w := t.writes[k]
		d, err := t.c.router.LookupKey(ctx, w.Key)
		if err != nil {
			t.releaseAll(ctx)
			return 0, err
		}
		t.note(d, false)
		byGroup[d.GroupId] = append(byGroup[d.GroupId], &pb.TxnWrite{Key: w.Key, Value: w.Value, Delete: w.Delete})
	}
	// Groups only read vote (vote.go) instead of preparing.
	var readOnly []*pb.ReadOnlyGroup
	for id, g := range t.groups {
		if len(byGroup[id]) == 0 {
			readOnly = append(readOnly, &pb.ReadOnlyGroup{GroupId: id, ReadTerm: g.readTerm, StartKey: g.desc.StartKey})
		}
	}
	slices.SortFunc(readOnly, func(a, b *pb.ReadOnlyGroup) int { return cmp.Compare(a.GroupId, b.GroupId) })
	switch {
	case len(t.groups) == 0:
		return t.c.clock.Now().Latest, nil
	case len(byGroup) == 0:
		return t.commitReadOnly(ctx)
	case len(byGroup) == 1:
		for id := range byGroup {
			return t.commitOnePhase(ctx, id, t.groups[id], byGroup[id], readOnly)
		}
	}
	return t.commitTwoPhase(ctx, byGroup, readOnly)
}

// commitReadOnly ends a read-write transaction that wrote nothing: its
// reads are consistent at any time its shared locks were all held, so it
// commits at TT.Now().latest once that is past, provided every group
// still holds its locks then (a wound or a new leader may have dropped
// them, letting a writer commit below ts).
func (t *Txn) commitReadOnly(ctx context.Context) (int64, error) {
	// Not below a version read: one may be ahead of the clock (its
	// writer's commit wait had not ended when a new leader applied it, or
	// its group is closed ahead), and waiting out ts also waits that out.
	t.mu.Lock()
	ts := max(t.c.clock.Now().Latest, t.maxWriteSeen)
	t.mu.Unlock()
	if err := t.c.clock.WaitUntilAfter(ctx, ts); err != nil {
		t.releaseAll(ctx)
		return 0, err
	}
	if err := t.release(ctx, true); err != nil {
		t.releaseAll(ctx)
		if !errors.Is(err, ErrRetryable) {
			err = errors.Mark(errors.Wrap(err, "txn: verifying read locks"), ErrRetryable)
		}
		return 0, err
	}
	return ts, nil
}

func (t *Txn) commitOnePhase(ctx context.Context, id uint64, g *txnGroup, writes []*pb.TxnWrite, readOnly []*pb.ReadOnlyGroup) (int64, error) {
	var resp *pb.TxnDecideResponse
	sent := false
	err := callGroupLeader(ctx, t.c.router, id, g.desc.StartKey, func(ctx context.Context, cl pb.TxnClient) error {
		var err error
		resp, err = cl.CommitOnePhase(ctx, &pb.TxnOnePhaseRequest{GroupId: id, Txn: t.pbMeta(), Writes: writes, HasReads: g.reads, ReadTerm: g.readTerm, Repeat: sent, ReadOnly: readOnly})
		sent = true
		return err
	})
	if err != nil {
		err = classify(err)
		if !errors.Is(err, ErrRetryable) {
			// An attempt may have reached a leader and applied (a routing
			// refusal now says nothing of an earlier Unavailable attempt);
			// a retryable answer comes from a leader that checked the
			// transaction's decision first.
			err = errors.Mark(errors.Wrap(err, "txn: one-phase commit"), ErrAmbiguous)
		}
		if !errors.Is(err, ErrAmbiguous) {
			t.releaseAll(ctx)
		}
		return 0, err
	}
	return resp.CommitTs, nil
}

func (t *Txn) commitTwoPhase(ctx context.Context, byGroup map[uint64][]*pb.TxnWrite, readOnly []*pb.ReadOnlyGroup) (int64, error) {
	// The participants are the groups written; the first coordinates.
	ids := make([]uint64, 0, len(byGroup))
	for id := range byGroup {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	coord := ids[0]
	pkeys := make([][]byte, len(ids))
	for i, id := range ids {
		pkeys[i] = t.groups[id].desc.StartKey
	}
	prepTS := make([]int64, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := t.groups[id]
			sent := false
			errs[i] = callGroupLeader(ctx, t.c.router, id, g.desc.StartKey, func(ctx context.Context, cl pb.TxnClient) error {
				resp, err := cl.Prepare(ctx, &pb.TxnPrepareRequest{GroupId: id, Txn: t.pbMeta(), Coordinator: coord,
					Participants: ids, Writes: byGroup[id], HasReads: g.reads, ReadTerm: g.readTerm, Repeat: sent})
				sent = true
				if err == nil {
					prepTS[i] = resp.PrepareTs
				}
				return err
			})
		}()
	}
	wg.Wait()
	commit := true
	var cause error
	for _, err := range errs {
		if err != nil {
			commit, cause = false, classify(err)
			break
		}
	}
	var resp *pb.TxnDecideResponse
	err := callGroupLeader(ctx, t.c.router, coord, t.groups[coord].desc.StartKey, func(ctx context.Context, cl pb.TxnClient) error {
		var err error
		resp, err = cl.Decide(ctx, &pb.TxnDecideRequest{GroupId: coord, Txn: t.pbMeta(), Commit: commit,
			Participants: ids, PrepareTs: prepTS, ParticipantKeys: pkeys, ReadOnly: readOnly})
		return err
	})
	if !commit {
		// The abort decision reaches the prepared participants; the others
		// only hold locks.
		t.releaseAll(ctx)
		if cause != nil && !errors.Is(cause, ErrRetryable) && !errors.Is(cause, ErrAmbiguous) {
			return 0, cause
		}
		return 0, errors.Mark(errors.Wrap(cause, "txn: prepare failed"), ErrRetryable)
	}
	if err != nil {
		// Any attempt may have logged the decision.
		return 0, errors.Mark(errors.Wrap(classify(err), "txn: commit decision"), ErrAmbiguous)
	}
	if !resp.Committed {
		t.releaseAll(ctx)
		return 0, retryableErr("txn: %s was aborted by its coordinator (a participant waited too long, or a group it read lost its locks)", t.meta.ID)
	}
	return resp.CommitTs, nil
}

// Restart begins a new attempt of a transaction that aborted with a
// retryable error: a fresh transaction that keeps t's start timestamp, so
// that it keeps its wound-wait age. t must be finished (rolled back).
func (c *Client) Restart(ctx context.Context, t *Txn) (*Txn, error) {
	return c.begin(ctx, t.opts, t.meta.StartTS)
}

// RunTxn runs fn in a read-write transaction (or as opts says) and commits
// it, retrying retryable aborts with backoff; a retry keeps the first
// attempt's start timestamp, so it ages and eventually wins every
// wound-wait conflict. It returns the commit timestamp. An ambiguous
// result is returned, never retried.
func (c *Client) RunTxn(ctx context.Context, opts Options, fn func(ctx context.Context, t *Txn) error) (int64, error) {
	var startTS int64
	backoff := time.Millisecond
	for {
		t, err := c.begin(ctx, opts, startTS)
		if err != nil {
			return 0, err
		}
		startTS = t.meta.StartTS
		err = fn(ctx, t)
		if err == nil {
			var ts int64
			ts, err = t.Commit(ctx)
			if err == nil {
				return ts, nil
			}
		} else {
			t.Rollback(ctx)
		}
		if !errors.Is(err, ErrRetryable) || ctx.Err() != nil {
			return 0, err
		}
		d := backoff/2 + time.Duration(mrand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
			return 0, errors.CombineErrors(err, ctx.Err())
		case <-time.After(d):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// IsRetryable reports whether err is a retryable abort.
func IsRetryable(err error) bool { return errors.Is(classify(err), ErrRetryable) }

// IsAmbiguous reports whether err is an ambiguous commit result.
func IsAmbiguous(err error) bool { return errors.Is(classify(err), ErrAmbiguous) }

// Groups returns the IDs of the groups whose spans intersect [start, end)
// (end nil: unbounded), in key order: for EXPLAIN and placement tools.
func (c *Client) Groups(ctx context.Context, start, end []byte) ([]uint64, error) {
	var out []uint64
	cur := start
	for {
		d, err := c.router.LookupKey(ctx, cur)
		if err != nil {
			return nil, err
		}
		out = append(out, d.GroupId)
		if len(d.EndKey) == 0 || (len(end) > 0 && bytes.Compare(d.EndKey, end) >= 0) {
			return out, nil
		}
		cur = d.EndKey
	}
}
