package txn

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/storage"
	"google.golang.org/protobuf/proto"
)

// Router finds groups and reaches their replicas. The server implements it
// with its range cache and connections; a local node's service is called
// directly.
type Router interface {
	// LookupKey returns the descriptor of the group holding key (cached).
	LookupKey(ctx context.Context, key []byte) (*pb.GroupDescriptor, error)
	// LookupGroup returns a group's descriptor by ID (cached; the range
	// directory on a miss).
	LookupGroup(ctx context.Context, id uint64) (*pb.GroupDescriptor, error)
	// Observe records a routing answer: a leader hint (node 0: unknown) or
	// a descriptor that is stale (evict) or newer (insert).
	Leader(groupID uint64) uint64
	SetLeader(groupID, node uint64)
	Evict(groupID uint64)
	Insert(d *pb.GroupDescriptor)
	// Client returns the transaction service of a node.
	Client(node uint64) (pb.TxnClient, error)
	// Self is this node's ID (0 for a client outside the cluster).
	Self() uint64
	// Region returns a node's region ("" if unknown), for nearest-replica
	// choice.
	Region(node uint64) string
}

// ServerConfig configures a node's transaction service.
type ServerConfig struct {
	Host   *paxosgroup.Host
	Clock  Clock
	Router Router
	// ToStatus maps errors to gRPC statuses (the server's mapping).
	ToStatus func(error) error
	Logger   *slog.Logger
	// Participant and LockTable configure the 2PC state and the lock
	// tables.
	Participant ParticipantOptions
	LockTable   LockTableOptions
	// ClosedLag is how far closed timestamps trail TT.Now().earliest.
	ClosedLag time.Duration
	// CloseAhead is how far past TT.Now().earliest a leader may close a
	// timestamp on demand, so that a strong read at its gateway's
	// TT.Now().latest is served without waiting out both clocks'
	// uncertainty; a new leader starts its timestamps CloseAhead above
	// its TT.Now().latest, above anything its predecessor closed. Reads
	// wait only when ε of the two clocks together exceeds it; the first
	// writes of a new leader commit-wait up to this much longer. Default
	// DefaultCloseAhead; negative: 0 (close only timestamps in the past).
	CloseAhead time.Duration
	// PublishInterval is the period of the closed-timestamp side channel
	// and of the recovery sweep. Default 100ms.
	PublishInterval time.Duration
	// LeadInterval is the period at which groups with replicas in other
	// regions are published, closed ahead of the clock (lead.go), when
	// CloseAhead leaves room for it. Default 10ms.
	LeadInterval time.Duration
	// InquireAfter is how long a participant stays prepared before it asks
	// the coordinator; also how long an unprepared transaction may stay
	// idle while another waits for its locks. Default 2s.
	InquireAfter time.Duration
	// WoundPreparedGrace is how long an older transaction blocked by a
	// younger prepared one waits before asking the younger one's
	// coordinator to abort it. A prepared transaction is usually a Raft
	// round from its decision; aborting it at once threw away whole
	// transactions that were about to commit. Only a younger transaction
	// that waits for the older one elsewhere (a deadlock the wound would
	// have broken) needs the ask, and it is delayed by this much.
	// Default 20ms; negative: ask at once.
	WoundPreparedGrace time.Duration
	// WoundGrace is how long an older transaction blocked by a younger
	// unprepared one that is still running (not waiting for a lock at
	// this group) waits before wounding it (LockTableOptions.DeferWounds).
	// Most such holders commit within a few milliseconds; a wound throws
	// their whole transaction away and, in an explicit SQL transaction,
	// hands the application a deadlock error to retry. The holder is
	// wounded at once if it asks to wait for a lock here; the grace only
	// bounds waits the lock table cannot see (the holder waits at another
	// group, or its client went quiet). Default 20ms; negative: wound at
	// once (plain wound-wait).
	WoundGrace time.Duration
	// GCTTL is how far back snapshot reads may go: versions older than
	// that may have been garbage collected, so such reads are refused (0:
	// no bound).
	GCTTL time.Duration
	// CompileFilter compiles a scan's row filter (the SQL engine's
	// pushed-down predicate, wired in by the node; nil: filtered scans are
	// refused).
	CompileFilter func(spec []byte) (RowFilter, error)
	TestingKnobs  ServerTestingKnobs
}

// ServerTestingKnobs break invariants on purpose, for the checkers'
// negative controls. Never set outside tests.
type ServerTestingKnobs struct {
	// NoCommitWait answers commits before TT.Now().earliest passes the
	// commit timestamp (breaks invariant 3).
	NoCommitWait bool
	// NoSafeTimeWait serves snapshot reads without waiting for the
	// timestamps in flight below them (breaks invariant 4).
	NoSafeTimeWait bool
	// EarlyReadLockRelease drops a transaction's shared locks when it
	// prepares, before its decision (breaks invariant 6).
	EarlyReadLockRelease bool
	// NoScanSpanLocks locks only the rows a read-write transaction's scan
	// returns, not the span it read (breaks invariant 6 for predicates:
	// phantoms).
	NoScanSpanLocks bool
	// NoCloseAheadAtLeaseStart starts a new leader's timestamps at its
	// TT.Now().latest, below what its predecessor may have closed ahead
	// (breaks invariant 5).
	NoCloseAheadAtLeaseStart bool
	// CrashPoint, when set, is called at the named points of the commit
	// protocol (CrashBeforeDecide, CrashAfterDecide, CrashAfterPrepare) on
	// this node. It may block until ctx ends, so that a test can kill the
	// node exactly there. It is also called at LockWaitPoint, where it
	// must not block.
	CrashPoint func(ctx context.Context, point string, group uint64, id TxnID)
}

// The crash points of ServerTestingKnobs.CrashPoint.
const (
	// CrashBeforeDecide: the coordinator leader got a commit request, every
	// participant is prepared, nothing is decided.
	CrashBeforeDecide = "before-decide"
	// CrashAfterDecide: the commit decision is in the coordinator's log,
	// no participant and not the client has heard of it.
	CrashAfterDecide = "after-decide"
	// CrashAfterPrepare: a participant's prepare record is applied; the
	// client has not heard its vote.
	CrashAfterPrepare = "after-prepare"
	// LockWaitPoint is not a crash: a lock request (of transaction id at
	// group) has just parked to wait, so a test can act while it waits.
	LockWaitPoint = "lock-wait"
)

func (s *Server) crashPoint(ctx context.Context, point string, group GroupID, id TxnID) {
	if f := s.cfg.TestingKnobs.CrashPoint; f != nil {
		f(ctx, point, uint64(group), id)
	}
}

// DefaultCloseAhead is the default ServerConfig.CloseAhead: it covers
// uncertainties up to 5 ms on each side, which NTP to nearby time
// masters stays well within.
const DefaultCloseAhead = 10 * time.Millisecond

func (c *ServerConfig) ensureDefaults() {
	switch {
	case c.CloseAhead == 0:
		c.CloseAhead = DefaultCloseAhead
	case c.CloseAhead < 0:
		c.CloseAhead = 0
	}
	if c.PublishInterval == 0 {
		c.PublishInterval = 100 * time.Millisecond
	}
	if c.LeadInterval == 0 {
		c.LeadInterval = 10 * time.Millisecond
	}
	if c.InquireAfter == 0 {
		c.InquireAfter = 2 * time.Second
	}
	switch {
	case c.WoundPreparedGrace == 0:
		c.WoundPreparedGrace = 20 * time.Millisecond
	case c.WoundPreparedGrace < 0:
		c.WoundPreparedGrace = 0
	}
	switch {
	case c.WoundGrace == 0:
		c.WoundGrace = 20 * time.Millisecond
	case c.WoundGrace < 0:
		c.WoundGrace = 0
	}
	c.LockTable.DeferWounds = c.WoundGrace > 0
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ToStatus == nil {
		c.ToStatus = func(err error) error { return err }
	}
	c.Participant.EnsureDefaults()
}

// Server is a node's transaction service: the leader side of two-phase
// locking and commit for the groups it leads, and snapshot reads at any
// replica. See doc.go for the protocol.
type Server struct {
	pb.UnimplementedTxnServer
	cfg     ServerConfig
	host    *paxosgroup.Host
	clock   Clock
	logger  *slog.Logger
	metrics *Metrics

	mu     sync.Mutex
	groups map[GroupID]*leaderState

	closedMu sync.Mutex
	// closed holds, per group, the closed timestamps this replica learned
	// from its leader (side channel or on demand).
	closed map[GroupID]closedEntry
	// closedMore is closed and replaced whenever closed changes.
	closedMore chan struct{}
	// delays are the other nodes' answers to publications, for leads.
	delays *peerDelays

	// Stop waits for the requests being served (they read the engine,
	// which closes after Stop); once stopped, new ones are refused.
	gateMu   sync.Mutex
	stopped  bool
	inflight sync.WaitGroup
	stopCtx  context.Context
	stopAll  context.CancelFunc
	stopper  chan struct{}
	wg       sync.WaitGroup
}

// enter admits a request unless the service stopped and returns its
// context, which Stop cancels, and the function to call when it ends. (Not a RWMutex: a request may call
// this node's service again, and must then fail, not block, on Stop.)
func (s *Server) enter(ctx context.Context) (context.Context, func(), error) {
	if err := s.admit(); err != nil {
		return nil, nil, err
	}
	// Stop cancels the request, so that waits inside it end.
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(s.stopCtx, cancel)
	return ctx, func() { unhook(); cancel(); s.inflight.Done() }, nil
}

// admit counts a request in flight unless the server is stopping; the
// caller calls s.inflight.Done when it ends. A request that never waits
// needs no more than this from enter.
func (s *Server) admit() error {
	s.gateMu.Lock()
	defer s.gateMu.Unlock()
	if s.stopped {
		return s.status(errors.Mark(errors.New("txn: the node is stopping; retry on another node"), paxosgroup.ErrStopped))
	}
	s.inflight.Add(1)
	return nil
}

type closedEntry struct {
	ts    int64
	index uint64
	// ahead: the leader closes the group ahead of its clock (lead.go)
	// and publishes it every LeadInterval.
	ahead bool
}

// NewServer returns a node's transaction service; Start runs its
// background loops.
func NewServer(cfg ServerConfig) *Server {
	cfg.ensureDefaults()
	stopCtx, stopAll := context.WithCancel(context.Background())
	return &Server{
		stopCtx:    stopCtx,
		stopAll:    stopAll,
		cfg:        cfg,
		host:       cfg.Host,
		clock:      cfg.Clock,
		logger:     cfg.Logger,
		metrics:    newMetrics(),
		groups:     map[GroupID]*leaderState{},
		closed:     map[GroupID]closedEntry{},
		delays:     newPeerDelays(),
		closedMore: make(chan struct{}),
		stopper:    make(chan struct{}),
	}
}

// Metrics returns the service's Prometheus collectors.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Start runs the closed-timestamp side channel and the recovery sweep.
func (s *Server) Start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.cfg.PublishInterval)
		defer t.Stop()
		// Groups closed ahead are published more often (lead.go).
		var lead <-chan time.Time
		if s.leadsAhead() {
			lt := time.NewTicker(s.cfg.LeadInterval)
			defer lt.Stop()
			lead = lt.C
		}
		for {
			select {
			case <-s.stopper:
				return
			case <-lead:
				s.publishClosed(false)
			case <-t.C:
				s.publishClosed(true)
				s.sweep()
			}
		}
	}()
}

// Stop refuses new requests, fails the lock and safe-time waits of the
// ones being served, waits for them and ends the background work.
func (s *Server) Stop() {
	select {
	case <-s.stopper:
	default:
		close(s.stopper)
	}
	s.mu.Lock()
	for _, ls := range s.groups {
		ls.kill()
	}
	s.mu.Unlock()
	s.gateMu.Lock()
	s.stopped = true
	s.gateMu.Unlock()
	s.stopAll()
	s.inflight.Wait()
	s.wg.Wait()
}

// spawn runs fn in the background with a context that ends at Stop.
func (s *Server) spawn(fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		go func() {
			select {
			case <-s.stopper:
				cancel()
			case <-ctx.Done():
			}
		}()
		fn(ctx)
	}()
}

func (s *Server) status(err error) error {
	if err == nil {
		return nil
	}
	return s.cfg.ToStatus(err)
}

func metaOf(m *pb.TxnMetaPB) (TxnMeta, error) {
	id, err := txnID(m.GetId())
	if err != nil {
		return TxnMeta{}, err
	}
	if m.GetStartTs() <= 0 {
		return TxnMeta{}, invalid("txn: start timestamp %d", m.GetStartTs())
	}
	return TxnMeta{ID: id, StartTS: m.GetStartTs()}, nil
}

func (s *Server) propose(ctx context.Context, group GroupID, c *pb.TxnCommand) (*pb.TxnResult, error) {
	data, err := proto.Marshal(c)
	if err != nil {
		return nil, err
	}
	out, err := s.host.Propose(ctx, uint64(group), data)
	if err != nil {
		return nil, err
	}
	var res pb.TxnResult
	if err := proto.Unmarshal(out, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func checkKeys(d *pb.GroupDescriptor, keys [][]byte) error {
	for _, k := range keys {
		if !paxosgroup.ContainsKey(d, k) {
			return &paxosgroup.WrongRangeError{Key: k, Descriptor: d}
		}
	}
	return nil
}

// readAt reads keys and a scan at ts from the local engine.
// maxFilteredScan bounds the rows one filtered scan request visits, so a
// selective filter over a large span answers in pieces (the caller
// resumes) instead of holding a leader for the whole span.
const maxFilteredScan = 10_000

func readAt(e *storage.Engine, d *pb.GroupDescriptor, ts int64, keys [][]byte, scan bool,
	start, end []byte, limit uint32, filter RowFilter) (vals []*pb.KeyValue, found []bool, rows []*pb.KeyValue, resume []byte, err error) {
	for _, k := range keys {
		v, vts, ok, err := e.MVCCGet(k, ts)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		vals = append(vals, &pb.KeyValue{Key: k, Value: v, Timestamp: vts})
		found = append(found, ok)
	}
	if !scan {
		return vals, found, nil, nil, nil
	}
	if !paxosgroup.ContainsKey(d, start) {
		return nil, nil, nil, nil, &paxosgroup.WrongRangeError{Key: start, Descriptor: d}
	}
	// Clip the scan to the group; the caller continues at resume.
	stop := scanBound(d, end)
	clipped := len(stop) > 0 && !bytes.Equal(stop, end)
	n, visited := 0, 0
	var last []byte
	var arena rowArena
	visit := int(limit)
	if filter != nil {
		visit = 0 // the callback stops at limit matches
	}
	err = e.MVCCScan(start, stop, ts, visit, func(k, v []byte, vts int64) error {
		visited++
		if filter != nil {
			last = append(last[:0], k...)
			ok, err := filter(v)
			if err != nil {
				return err
			}
			if !ok {
				if visited >= maxFilteredScan {
					return errStopScan
				}
				return nil
			}
		}
		rows = append(rows, arena.keyValue(k, v, vts))
		n++
		if filter != nil && ((limit > 0 && n == int(limit)) || visited >= maxFilteredScan) {
			return errStopScan
		}
		return nil
	})
	stopped := errors.Is(err, errStopScan)
	if err != nil && !stopped {
		return nil, nil, nil, nil, err
	}
	switch {
	case stopped:
		resume = append(bytes.Clone(last), 0)
	case filter == nil && limit > 0 && n == int(limit):
		resume = append(bytes.Clone(rows[n-1].Key), 0)
	case clipped:
		resume = bytes.Clone(d.EndKey)
	}
	return vals, found, rows, resume, nil
}

var errStopScan = errors.New("txn: scan stopped")

// rowArena copies scanned rows out of the store's buffers into a few
// growing allocations instead of three per row (the KeyValue, its key and
// its value): a scan of a hundred rows made three hundred. A caller that
// keeps one row keeps its chunk alive, so chunks start small.
type rowArena struct {
	buf []byte
	kvs []pb.KeyValue
}

func (a *rowArena) keyValue(k, v []byte, ts int64) *pb.KeyValue {
	if len(a.kvs) == cap(a.kvs) {
		a.kvs = make([]pb.KeyValue, 0, min(max(2*cap(a.kvs), 8), 256))
	}
	a.kvs = a.kvs[:len(a.kvs)+1]
	kv := &a.kvs[len(a.kvs)-1]
	kv.Key, kv.Value, kv.Timestamp = a.copy(k), a.copy(v), ts
	return kv
}

func (a *rowArena) copy(b []byte) []byte {
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, max(min(2*cap(a.buf), 64<<10), 1<<10, len(b)))
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// scanBound is where a scan of [start, end) within group d ends at the
// latest: end, clipped to the group (nil: unbounded).
func scanBound(d *pb.GroupDescriptor, end []byte) []byte {
	if len(d.EndKey) > 0 && (len(end) == 0 || bytes.Compare(d.EndKey, end) < 0) {
		return d.EndKey
	}
	if len(end) == 0 {
		return nil
	}
	return end
}

// RowFilter decides whether a scanned row's value is returned (a
// compiled pushed-down predicate).
type RowFilter func(value []byte) (bool, error)

// rowFilter compiles a request's filter with the configured compiler.
func (s *Server) rowFilter(spec []byte) (RowFilter, error) {
	if len(spec) == 0 {
		return nil, nil
	}
	if s.cfg.CompileFilter == nil {
		return nil, invalid("txn: this node cannot filter scans")
	}
	f, err := s.cfg.CompileFilter(spec)
	if err != nil {
		return nil, invalid("txn: bad scan filter: %v", err)
	}
	return f, nil
}

// Read implements pb.TxnServer: a read-write transaction's reads at the
// leader under shared locks (invariant 6). A scan locks the span it read.
func (s *Server) Read(ctx context.Context, req *pb.TxnReadRequest) (*pb.TxnReadResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := s.read(ctx, req)
	if err == nil {
		// After the reads: at least every version they saw.
		resp.MaxWriteTs = s.host.MaxWriteTS(req.GroupId)
	}
	return resp, s.status(err)
}

func (s *Server) read(ctx context.Context, req *pb.TxnReadRequest) (*pb.TxnReadResponse, error) {
	meta, err := metaOf(req.Txn)
	if err != nil {
		return nil, err
	}
	group := GroupID(req.GroupId)
	ls, info, err := s.leader(ctx, group)
	if err != nil {
		return nil, err
	}
	if err := checkKeys(info.Descriptor, req.Keys); err != nil {
		return nil, err
	}
	if req.ReadTerm != 0 && req.ReadTerm != ls.term {
		return nil, retryableErr("txn: %s lost its read locks at group %d (its leader changed)", meta.ID, group)
	}
	mode := Shared
	if req.Exclusive {
		mode = Exclusive
	}
	if err := s.acquire(ctx, ls, meta, req.Keys, mode); err != nil {
		return nil, err
	}
	resp := &pb.TxnReadResponse{Term: ls.term}
	resp.Values, resp.Found, _, _, err = readAt(s.host.Engine(), info.Descriptor, math.MaxInt64, req.Keys, false, nil, nil, 0, nil)
	if err != nil || !req.Scan {
		return resp, err
	}
	// Find where the scan stops (limit or group end), lock the span up to
	// there so that nothing can be inserted into it or deleted from it
	// until this transaction ends (no phantoms), then read it under the
	// lock. Rows written in between are in the span too: the scan returns
	// at most limit of them and resumes after the last one returned.
	//
	// The second read is skipped when it would return the first one's
	// rows: no key of the requested span was held exclusively when the
	// first read began and the table granted no exclusive lock inside it
	// until the span was locked. A version is installed only under its
	// writer's exclusive lock, so nothing in the span changed in between
	// (the argument of ReadLatestUnlocked, for a span).
	filter, err := s.rowFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	bound := scanBound(info.Descriptor, req.EndKey)
	ls.mu.Lock()
	grants := ls.lt.ExclusiveGrants()
	quiet := !ls.dead && !s.cfg.TestingKnobs.NoScanSpanLocks &&
		!ls.lt.HeldExclusiveIn(req.StartKey, bound)
	ls.mu.Unlock()
	_, _, rows, resume, err := readAt(s.host.Engine(), info.Descriptor, math.MaxInt64, nil, true, req.StartKey, req.EndKey, req.Limit, filter)
	if err != nil {
		return nil, err
	}
	end := req.EndKey
	if len(resume) > 0 {
		end = resume
	}
	if len(end) == 0 {
		end = nil
	}
	switch {
	case s.cfg.TestingKnobs.NoScanSpanLocks:
		// The start key too, so that the leader knows the reader even
		// when the scan is empty.
		keys := [][]byte{req.StartKey}
		for _, r := range rows {
			keys = append(keys, r.Key)
		}
		if err := s.acquire(ctx, ls, meta, keys, Shared); err != nil {
			return nil, err
		}
	case end == nil || bytes.Compare(req.StartKey, end) < 0:
		if err := s.acquireSpan(ctx, ls, meta, req.StartKey, end); err != nil {
			return nil, err
		}
	}
	if quiet && ls.lt.ExclusiveGrants() != grants {
		ls.mu.Lock()
		quiet = !ls.lt.ExclusiveGrantedIn(grants, req.StartKey, bound)
		ls.mu.Unlock()
	}
	if quiet {
		s.metrics.lockedScans.WithLabelValues("once").Inc()
	} else {
		s.metrics.lockedScans.WithLabelValues("twice").Inc()
		_, _, rows, _, err = readAt(s.host.Engine(), info.Descriptor, math.MaxInt64, nil, true, req.StartKey, end, req.Limit, filter)
		if err != nil {
			return nil, err
		}
	}
	if req.Exclusive && len(rows) > 0 {
		// The span lock keeps the rows as read: no writer gets into it.
		keys := make([][]byte, len(rows))
		for i, r := range rows {
			keys[i] = r.Key
		}
		if err := s.acquire(ctx, ls, meta, keys, Exclusive); err != nil {
			return nil, err
		}
	}
	resp.Rows = rows
	resp.ResumeKey = resume
	if req.Limit > 0 && len(rows) == int(req.Limit) {
		resp.ResumeKey = append(bytes.Clone(rows[len(rows)-1].Key), 0)
	}
	return resp, nil
}

// ReadLatestUnlocked reads key's newest committed version at group's
// leaseholder without entering the lock table, when that is the same as
// Read with a shared lock held for the read alone: no transaction held
// key exclusively when the read began, and the group granted no exclusive
// lock while it ran, so no write of key was being installed or could
// start. A version is installed only under its writer's exclusive lock,
// which is released after commit wait, so what it reads is acknowledged
// or could have been. ok is false when that cannot be shown (the key is
// locked, or a writer got a lock meanwhile); the caller then reads under
// a lock. The lock table never hears of these reads, so they neither wait
// for nor delay writers.
func (s *Server) ReadLatestUnlocked(ctx context.Context, group GroupID, key []byte) (kv *pb.KeyValue, found, ok bool, err error) {
	if err := s.admit(); err != nil {
		return nil, false, false, err
	}
	defer s.inflight.Done()
	ls, info, err := s.leader(ctx, group)
	if err != nil {
		return nil, false, false, s.status(err)
	}
	keys := [][]byte{key}
	if err := checkKeys(info.Descriptor, keys); err != nil {
		return nil, false, false, s.status(err)
	}
	ls.mu.Lock()
	locked := ls.dead || ls.lt.HeldExclusive(key)
	grants := ls.lt.ExclusiveGrants()
	ls.mu.Unlock()
	if locked {
		return nil, false, false, nil
	}
	vals, fnd, _, _, err := readAt(s.host.Engine(), info.Descriptor, math.MaxInt64, keys, false, nil, nil, 0, nil)
	if err != nil {
		return nil, false, false, s.status(err)
	}
	if ls.lt.ExclusiveGrants() != grants {
		return nil, false, false, nil
	}
	return vals[0], fnd[0], true, nil
}

// SnapshotRead implements pb.TxnServer: a lock-free read at a timestamp at
// this replica, once its safe time covers it (invariant 4).
func (s *Server) SnapshotRead(ctx context.Context, req *pb.SnapshotReadRequest) (*pb.SnapshotReadResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := s.snapshotRead(ctx, req)
	return resp, s.status(err)
}

func (s *Server) snapshotRead(ctx context.Context, req *pb.SnapshotReadRequest) (*pb.SnapshotReadResponse, error) {
	group := GroupID(req.GroupId)
	ts := req.Timestamp
	if ts == 0 {
		if req.MaxStalenessNanos <= 0 {
			return nil, invalid("txn: snapshot read without a timestamp or a staleness bound")
		}
		// Bounded staleness: the freshest timestamp served here at once,
		// unless it is older than the bound.
		// A group closed ahead (lead.go) may be safe past the clock: read
		// at TT.Now().latest then, not at a time yet to come.
		now := s.clock.Now().Latest
		ts = max(now-req.MaxStalenessNanos, min(s.localSafeTime(group), now))
	}
	if err := s.checkReadTS(ts); err != nil {
		return nil, err
	}
	if err := s.waitSafe(ctx, group, ts); err != nil {
		return nil, err
	}
	return s.readReplica(req, ts)
}

// checkReadTS refuses a snapshot read timestamp that is not positive or
// older than the versions garbage collection keeps.
func (s *Server) checkReadTS(ts int64) error {
	if ts <= 0 {
		return invalid("txn: snapshot read at timestamp %d", ts)
	}
	if ttl := s.cfg.GCTTL; ttl > 0 && ts < s.clock.Now().Latest-ttl.Nanoseconds() {
		return errors.Mark(errors.Newf("txn: snapshot read at %s is older than the versions kept (--gc-ttl %s): read at a later timestamp, or start the nodes with a longer --gc-ttl",
			time.Unix(0, ts).UTC().Format(time.RFC3339Nano), ttl), ErrSnapshotTooOld)
	}
	return nil
}

// readReplica serves req at ts from this node's replica of its group,
// once the replica's safe time covers ts.
func (s *Server) readReplica(req *pb.SnapshotReadRequest, ts int64) (*pb.SnapshotReadResponse, error) {
	resp := &pb.SnapshotReadResponse{Timestamp: ts}
	err := s.host.LocalReplicaRead(req.GroupId, func(d *pb.GroupDescriptor, r storage.Reader) error {
		if err := checkKeys(d, req.Keys); err != nil {
			return err
		}
		var err error
		filter, err := s.rowFilter(req.Filter)
		if err != nil {
			return err
		}
		resp.Values, resp.Found, resp.Rows, resp.ResumeKey, err = readAt(s.host.Engine(), d, ts, req.Keys, req.Scan, req.StartKey, req.EndKey, req.Limit, filter)
		return err
	})
	return resp, err
}

// SnapshotReadMany implements pb.TxnServer: SnapshotRead of several
// groups at one timestamp, asking each leader node once for the safe
// times this replica lacks.
func (s *Server) SnapshotReadMany(ctx context.Context, req *pb.SnapshotReadManyRequest) (*pb.SnapshotReadManyResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := s.snapshotReadMany(ctx, req)
	return resp, s.status(err)
}

func (s *Server) snapshotReadMany(ctx context.Context, req *pb.SnapshotReadManyRequest) (*pb.SnapshotReadManyResponse, error) {
	ts := req.Timestamp
	if err := s.checkReadTS(ts); err != nil {
		return nil, err
	}
	groups := make([]GroupID, len(req.Reads))
	for i, r := range req.Reads {
		if r.Scan {
			return nil, invalid("txn: SnapshotReadMany reads keys, not scans")
		}
		groups[i] = GroupID(r.GroupId)
	}
	if err := s.waitSafeMany(ctx, groups, ts); err != nil {
		return nil, err
	}
	out := &pb.SnapshotReadManyResponse{Reads: make([]*pb.SnapshotReadResponse, len(req.Reads))}
	for i, r := range req.Reads {
		var err error
		if out.Reads[i], err = s.readReplica(r, ts); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// localSafeTime is the largest timestamp this replica can serve now
// without asking anyone: the closed timestamp it learned, once it applied
// the index that goes with it.
func (s *Server) localSafeTime(group GroupID) int64 {
	s.closedMu.Lock()
	c := s.closed[group]
	s.closedMu.Unlock()
	if s.host.AppliedIndex(uint64(group)) >= c.index {
		return c.ts
	}
	return 0
}

// safeHere reports whether this replica serves ts without asking its
// leader: the closed timestamp it learned covers ts, and it applied, or
// now waits to apply, the index that goes with it. With a lead (lead.go)
// the publication often arrives before the entries it covers are applied
// here, which they soon are: waiting for them beats a trip to the leader.
// For the same reason, when the leader closes the group ahead, it waits
// for newer publications (up to CloseAhead, then asks): the side channel
// brings one every LeadInterval, a trip from the leader, where asking
// takes two, and both wait for the writes in flight below ts.
func (s *Server) safeHere(ctx context.Context, group GroupID, ts int64) (bool, error) {
	var timeout <-chan time.Time
	for {
		s.closedMu.Lock()
		c, more := s.closed[group], s.closedMore
		s.closedMu.Unlock()
		if c.ts >= ts {
			s.metrics.snapshotReads.WithLabelValues("local").Inc()
			if s.host.AppliedIndex(uint64(group)) >= c.index || s.cfg.TestingKnobs.NoSafeTimeWait {
				return true, nil
			}
			return true, s.host.WaitApplied(ctx, uint64(group), c.index)
		}
		if !c.ahead {
			return false, nil
		}
		if timeout == nil {
			t := time.NewTimer(s.cfg.CloseAhead)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-more:
		case <-timeout:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (s *Server) learnClosed(group GroupID, ts int64, index uint64, ahead bool) {
	s.closedMu.Lock()
	defer s.closedMu.Unlock()
	if c := s.closed[group]; ts > c.ts {
		s.closed[group] = closedEntry{ts: ts, index: index, ahead: ahead}
		close(s.closedMore)
		s.closedMore = make(chan struct{})
	}
}

// waitSafe returns once this replica may serve a snapshot read at ts: its
// leader closed ts, and this replica applied everything written at or
// below it. A leader closes on demand; a follower asks its leader when the
// side channel has not covered ts yet.
func (s *Server) waitSafe(ctx context.Context, group GroupID, ts int64) error {
	if ok, err := s.safeHere(ctx, group, ts); ok || err != nil {
		return err
	}
	if s.host.LeaderNode(uint64(group)) == s.host.NodeID() {
		if ls, _, err := s.leader(ctx, group); err == nil {
			s.metrics.snapshotReads.WithLabelValues("leader").Inc()
			_, _, err := s.closeAt(ctx, ls, ts)
			return err
		}
	}
	s.metrics.snapshotReads.WithLabelValues("asked").Inc()
	c, err := s.askClose(ctx, group, ts)
	if err != nil {
		return err
	}
	return s.adoptClosed(ctx, c)
}

// adoptClosed takes a closed timestamp a leader answered and waits until
// this replica applied the index that goes with it.
func (s *Server) adoptClosed(ctx context.Context, c *pb.ClosedTimestamp) error {
	s.learnClosed(GroupID(c.GroupId), c.ClosedTs, c.AppliedIndex, c.PublishedAhead)
	if s.cfg.TestingKnobs.NoSafeTimeWait {
		return nil
	}
	return s.host.WaitApplied(ctx, c.GroupId, c.AppliedIndex)
}

// waitSafeMany is waitSafe for several groups: the groups whose safe
// time this replica lacks are asked of their leader nodes, one request
// per node, in parallel. A group whose batched ask fails, or whose leader
// is this node or unknown, goes through waitSafe.
func (s *Server) waitSafeMany(ctx context.Context, groups []GroupID, ts int64) error {
	byNode := map[uint64][]uint64{}
	var single []GroupID
	for _, g := range groups {
		if ok, err := s.safeHere(ctx, g, ts); err != nil {
			return err
		} else if ok {
			continue
		}
		if leader := s.host.LeaderNode(uint64(g)); leader != 0 && leader != s.host.NodeID() {
			byNode[leader] = append(byNode[leader], uint64(g))
		} else {
			single = append(single, g)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for node, gs := range byNode {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.askCloseMany(ctx, node, gs, ts); err != nil {
				mu.Lock()
				for _, g := range gs {
					single = append(single, GroupID(g))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, g := range single {
		if err := s.waitSafe(ctx, g, ts); err != nil {
			return err
		}
	}
	return nil
}

// askCloseMany asks node, the leader of groups, to close ts at each of
// them, and waits until this replica applied what each answer names.
func (s *Server) askCloseMany(ctx context.Context, node uint64, groups []uint64, ts int64) error {
	cl, err := s.cfg.Router.Client(node)
	if err != nil {
		return err
	}
	resp, err := cl.CloseMany(ctx, &pb.CloseManyRequest{Timestamp: ts, GroupIds: groups})
	if err != nil {
		return err
	}
	if len(resp.Closed) != len(groups) {
		return errors.Newf("txn: node %d closed %d of %d groups", node, len(resp.Closed), len(groups))
	}
	s.metrics.snapshotReads.WithLabelValues("asked").Add(float64(len(resp.Closed)))
	for _, c := range resp.Closed {
		if err := s.adoptClosed(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// askClose asks the group's leader to close ts.
func (s *Server) askClose(ctx context.Context, group GroupID, ts int64) (*pb.ClosedTimestamp, error) {
	var out *pb.ClosedTimestamp
	err := callGroupLeader(ctx, s.cfg.Router, uint64(group), nil, func(ctx context.Context, cl pb.TxnClient) error {
		var err error
		out, err = cl.Close(ctx, &pb.CloseRequest{GroupId: uint64(group), Timestamp: ts})
		return err
	})
	return out, err
}

// Close implements pb.TxnServer: a follower asks the leader to close ts.
func (s *Server) Close(ctx context.Context, req *pb.CloseRequest) (*pb.ClosedTimestamp, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	c, err := s.closeLed(ctx, req.GroupId, req.Timestamp)
	return c, s.status(err)
}

// closeLed closes ts at a group this node leads (a follower asked).
func (s *Server) closeLed(ctx context.Context, group uint64, ts int64) (*pb.ClosedTimestamp, error) {
	ls, _, err := s.leader(ctx, GroupID(group))
	if err != nil {
		return nil, err
	}
	closed, index, err := s.closeAt(ctx, ls, ts)
	if err != nil {
		return nil, err
	}
	return &pb.ClosedTimestamp{GroupId: group, ClosedTs: closed, AppliedIndex: index, Term: ls.term}, nil
}

// CloseMany implements pb.TxnServer: Close at several groups this node
// leads. It fails as a whole if it leads any of them no longer.
func (s *Server) CloseMany(ctx context.Context, req *pb.CloseManyRequest) (*pb.CloseManyResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	out := &pb.CloseManyResponse{Closed: make([]*pb.ClosedTimestamp, len(req.GroupIds))}
	for i, g := range req.GroupIds {
		if out.Closed[i], err = s.closeLed(ctx, g, req.Timestamp); err != nil {
			return nil, s.status(err)
		}
	}
	return out, nil
}

// PublishClosed implements pb.TxnServer: closed timestamps from the
// leaders of another node.
func (s *Server) PublishClosed(ctx context.Context, req *pb.PublishClosedRequest) (*pb.PublishClosedResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	for _, c := range req.Closed {
		s.learnClosed(GroupID(c.GroupId), c.ClosedTs, c.AppliedIndex, c.PublishedAhead)
	}
	var latest int64
	if now := s.clock.Now(); now.Known() {
		latest = now.Latest
	}
	return &pb.PublishClosedResponse{ReceivedLatest: latest}, nil
}

// publishClosed closes a timestamp at every group this node leads (all),
// or only at those with replicas in other regions, and sends them to the
// nodes of the other replicas: followers of idle groups can then serve
// snapshot reads without asking, and with a lead (lead.go) strong reads
// too.
func (s *Server) publishClosed(all bool) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PublishInterval)
	defer cancel()
	byNode := map[uint64][]*pb.ClosedTimestamp{}
	now := s.clock.Now()
	if !now.Known() {
		return
	}
	for _, g := range s.host.LedGroups() {
		ls, info, err := s.leader(ctx, GroupID(g))
		if err != nil {
			continue
		}
		lead, remote := s.groupLead(info.Descriptor)
		if !all && !remote {
			continue
		}
		ls.mu.Lock()
		closed := ls.tracker.Close(now.Earliest + lead)
		ls.mu.Unlock()
		if lead > 0 {
			// A promise ahead of the clock must be made inside the lease,
			// as closeAt's: a successor starts CloseAhead above its
			// TT.Now().latest, after this lease ends.
			if info, err := s.host.Lease(ctx, g); err != nil || info.Term != ls.term {
				continue
			}
		}
		c := &pb.ClosedTimestamp{GroupId: g, ClosedTs: closed, AppliedIndex: s.host.AppliedIndex(g), Term: ls.term, PublishedAhead: lead > 0}
		// The leader's own replica serves bounded-stale reads from it too.
		s.learnClosed(GroupID(g), c.ClosedTs, c.AppliedIndex, c.PublishedAhead)
		s.metrics.closedLag.WithLabelValues(strconv.FormatUint(g, 10)).Set(float64(now.Latest-closed) / 1e9)
		for _, r := range info.Descriptor.Replicas {
			if r.NodeId != s.host.NodeID() {
				byNode[r.NodeId] = append(byNode[r.NodeId], c)
			}
		}
	}
	for node, cs := range byNode {
		s.sendClosed(node, cs, now.Earliest)
	}
}

// Prepare implements pb.TxnServer: lock the writes, assign the prepare
// timestamp and log the prepare record.
func (s *Server) Prepare(ctx context.Context, req *pb.TxnPrepareRequest) (*pb.TxnPrepareResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := s.prepare(ctx, req)
	if err != nil && errors.Is(err, ErrRetryable) {
		s.metrics.aborts.WithLabelValues("prepare").Inc()
	}
	return resp, s.status(err)
}

func writesOf(ws []*pb.TxnWrite) ([]Write, [][]byte) {
	out := make([]Write, len(ws))
	keys := make([][]byte, len(ws))
	for i, w := range ws {
		out[i] = Write{Key: w.Key, Value: w.Value, Delete: w.Delete}
		keys[i] = w.Key
	}
	slices.SortFunc(out, func(a, b Write) int { return bytes.Compare(a.Key, b.Key) })
	slices.SortFunc(keys, bytes.Compare)
	return out, keys
}

// checkReadLocks fails if a transaction that read here lost its shared
// locks (a new leader, or an abort here).
func checkReadLocksLocked(ls *leaderState, meta TxnMeta, hasReads bool, readTerm uint64) error {
	if _, ok := ls.aborted[meta.ID]; ok {
		return retryableErr("txn: %s was aborted at group %d", meta.ID, ls.group)
	}
	// Knowing the transaction is not enough: after a change of leader it
	// may have read here again, and the old term's locks are gone.
	if hasReads && (!ls.lt.knows(meta.ID) || (readTerm != 0 && readTerm != ls.term)) {
		return retryableErr("txn: %s lost its read locks at group %d (its leader changed)", meta.ID, ls.group)
	}
	return nil
}

// lockWrites validates a prepare or one-phase commit at the group's
// leader and takes the exclusive locks of its writes (sorted by key).
func (s *Server) lockWrites(ctx context.Context, group GroupID, m *pb.TxnMetaPB, ws []*pb.TxnWrite, hasReads bool, readTerm uint64, repeat bool) (*leaderState, TxnMeta, []Write, error) {
	meta, err := metaOf(m)
	if err != nil {
		return nil, meta, nil, err
	}
	ls, info, err := s.leader(ctx, group)
	if err != nil {
		return nil, meta, nil, err
	}
	// A request repeated after its answer was lost (the client retries on
	// Unavailable) must not run again: a leader has applied its whole log
	// before it serves, so a decision of an earlier attempt is visible here.
	// A first send skips the lookup (a miss costs a search of every
	// memtable): any other decision it could find, such as an abort
	// delivered before the prepare arrived, is found again when the entry
	// applies, which refuses it.
	if repeat {
		if o, ok, err := DecidedIn(engineStore{s.host.Engine()}, group, meta.ID); err != nil {
			return nil, meta, nil, err
		} else if ok {
			return nil, meta, nil, &decidedError{o}
		}
	}
	writes, keys := writesOf(ws)
	if err := checkKeys(info.Descriptor, keys); err != nil {
		return nil, meta, nil, err
	}
	ls.mu.Lock()
	err = checkReadLocksLocked(ls, meta, hasReads, readTerm)
	ls.mu.Unlock()
	if err != nil {
		return nil, meta, nil, err
	}
	if err := s.acquire(ctx, ls, meta, keys, Exclusive); err != nil {
		return nil, meta, nil, err
	}
	return ls, meta, writes, nil
}

// decidedError: a prepare or one-phase commit arrived for a transaction
// this group has already decided.
type decidedError struct{ o Outcome }

func (e *decidedError) Error() string {
	return fmt.Sprintf("txn: transaction already decided here (%v)", e.o.Decision)
}

func (s *Server) prepare(ctx context.Context, req *pb.TxnPrepareRequest) (*pb.TxnPrepareResponse, error) {
	group := GroupID(req.GroupId)
	ls, meta, writes, err := s.lockWrites(ctx, group, req.Txn, req.Writes, req.HasReads, req.ReadTerm, req.Repeat)
	if de := (*decidedError)(nil); errors.As(err, &de) {
		// Only an abort can be decided while the client still prepares
		// (the commit decision follows every yes vote).
		return nil, retryableErr("txn: %s was aborted at group %d before it prepared (%s)", meta.ID, group, de.o.Decision)
	}
	if err != nil {
		return nil, err
	}
	parts := make([]GroupID, len(req.Participants))
	for i, p := range req.Participants {
		parts[i] = GroupID(p)
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	ls.mu.Lock()
	if err := checkReadLocksLocked(ls, meta, req.HasReads, req.ReadTerm); err != nil {
		ls.mu.Unlock()
		return nil, err
	}
	ts := ls.tracker.Assign(s.clock.Now().Latest)
	ls.preparing[meta.ID] = ts
	rec := PrepareRecord{
		ID: meta.ID, StartTS: meta.StartTS, PrepareTS: ts,
		Coordinator: GroupID(req.Coordinator), Participants: parts,
		Writes: writes, ReadKeys: readOnlyKeys(ls.lt, meta.ID, writes),
	}
	ls.mu.Unlock()

	res, err := s.propose(ctx, group, &pb.TxnCommand{Cmd: &pb.TxnCommand_Prepare{Prepare: EncodePrepareRecord(&rec)}})
	ls.mu.Lock()
	defer ls.mu.Unlock()
	delete(ls.preparing, meta.ID)
	switch {
	case err != nil && errors.Is(err, paxosgroup.ErrAmbiguousResult):
		// The record may yet apply: keep the locks and the timestamp in
		// flight; the sweep asks the coordinator, which decides.
		ls.prepared[meta.ID] = &preparedTxn{rec: rec, since: time.Now()}
		return nil, err
	case err != nil:
		ls.tracker.Applied(ts)
		ls.notifyLocked()
		ls.abortLocked(meta.ID, err)
		return nil, err
	}
	switch res.PrepareStatus {
	case Prepared.String(), AlreadyPrepared.String():
	default:
		ls.tracker.Applied(ts)
		ls.notifyLocked()
		ls.abortLocked(meta.ID, ErrRetryable)
		return nil, retryableErr("txn: group %d refused to prepare %s (%s)", group, meta.ID, res.PrepareStatus)
	}
	rec.PrepareTS = res.PrepareTs
	if res.PrepareTs != ts {
		// Already prepared earlier (a retried request) at another timestamp.
		ls.tracker.Applied(ts)
		ls.notifyLocked()
	}
	ls.prepared[meta.ID] = &preparedTxn{rec: rec, since: time.Now()}
	if ls.lt.MarkPrepared(meta.ID) {
		// Wounded while its prepare was in Raft: the wounder waits for its
		// decision, so ask for it now (it may be waiting for the wounder
		// elsewhere).
		s.askAbortLocked(ls, meta.ID)
	}
	if s.cfg.TestingKnobs.EarlyReadLockRelease {
		ls.wakeLocked(ls.lt.releaseShared(meta.ID))
	}
	if s.cfg.TestingKnobs.CrashPoint != nil {
		ls.mu.Unlock()
		s.crashPoint(ctx, CrashAfterPrepare, group, meta.ID)
		ls.mu.Lock()
	}
	return &pb.TxnPrepareResponse{PrepareTs: res.PrepareTs}, nil
}

// Decide implements pb.TxnServer at the coordinator's leader.
func (s *Server) Decide(ctx context.Context, req *pb.TxnDecideRequest) (*pb.TxnDecideResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := s.decide(ctx, req)
	return resp, s.status(err)
}

func (s *Server) decide(ctx context.Context, req *pb.TxnDecideRequest) (*pb.TxnDecideResponse, error) {
	meta, err := metaOf(req.Txn)
	if err != nil {
		return nil, err
	}
	group := GroupID(req.GroupId)
	if !slices.Contains(req.Participants, req.GroupId) {
		return nil, invalid("txn: coordinator %d is not among participants %v", group, req.Participants)
	}
	ls, _, err := s.leader(ctx, group)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	commit := req.Commit
	above, until := int64(0), int64(math.MaxInt64)
	if commit && len(req.ReadOnly) > 0 {
		// Every participant is prepared: the commit timestamp is picked
		// right after the votes.
		if above, until, err = s.collectVotes(ctx, req.Txn, req.ReadOnly, 0); err != nil {
			s.logger.Debug("read-only group refused its vote", "txn", meta.ID, "err", err.Error())
			commit = false
		}
	}
	cmd := &pb.TxnDecide{TxnId: meta.ID[:], Commit: commit, Participants: req.Participants}
	if commit {
		if err := s.clock.CheckCommit(); err != nil {
			return nil, err
		}
		if len(req.PrepareTs) != len(req.Participants) {
			return nil, invalid("txn: commit of %s with %d prepare timestamps for %d participants", meta.ID, len(req.PrepareTs), len(req.Participants))
		}
		// Each prepare timestamp is at least its participant's
		// TT.Now().latest, read after this commit began: that is the
		// clock reading invariant 2 asks s to reach. Reading this
		// node's clock again now would only push s, and so the commit
		// wait, later: as it is, the wait started with the prepares.
		ls.mu.Lock()
		cmd.CommitTs = ChooseCommitTS(0, append(slices.Clip(req.PrepareTs), above), ls.tracker.LastAssigned(), ls.tracker.Closed())
		ls.tracker.Observe(cmd.CommitTs)
		ls.mu.Unlock()
		if cmd.CommitTs > until {
			s.metrics.voteExtensions.Inc()
			if _, _, err := s.collectVotes(ctx, req.Txn, req.ReadOnly, cmd.CommitTs); err != nil {
				s.logger.Debug("read-only group could not extend its vote", "txn", meta.ID, "err", err.Error())
				cmd.Commit, cmd.CommitTs, commit = false, 0, false
			}
		}
	}
	if commit {
		s.crashPoint(ctx, CrashBeforeDecide, group, meta.ID)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	res, err := s.propose(ctx, group, &pb.TxnCommand{Cmd: &pb.TxnCommand_Decide{Decide: cmd}})
	if err != nil {
		if commit {
			return nil, errors.Mark(err, ErrAmbiguous)
		}
		s.releaseVotes(req.Txn, req.ReadOnly, 0)
		return nil, err
	}
	resp := &pb.TxnDecideResponse{Committed: res.Decision == pb.TxnResult_COMMIT, CommitTs: res.CommitTs}
	if resp.Committed {
		s.releaseVotes(req.Txn, req.ReadOnly, resp.CommitTs)
	} else {
		s.releaseVotes(req.Txn, req.ReadOnly, 0)
	}
	replicated := time.Now()
	if resp.Committed {
		// Commit wait overlaps the decision's replication: it waits for a
		// deadline, which the Raft round has brought nearer or passed. A
		// decision recorded earlier (a retried request) has its own
		// timestamp, res.CommitTs.
		if err := s.commitWait(ctx, res.CommitTs); err != nil {
			s.spawn(func(ctx context.Context) {
				if s.commitWait(ctx, res.CommitTs) == nil {
					s.releaseOwnPart(ls, meta.ID, res.CommitTs)
				}
			})
			return nil, errors.Mark(err, ErrAmbiguous)
		}
		resp.CommitWaitNanos = int64(time.Since(replicated))
		s.metrics.commitWait.Observe(time.Since(replicated).Seconds())
		s.metrics.commitLatency.WithLabelValues("2pc").Observe(time.Since(start).Seconds())
	}
	keys := map[uint64][]byte{}
	for i, p := range req.Participants {
		if i < len(req.ParticipantKeys) {
			keys[p] = req.ParticipantKeys[i]
		}
	}
	// The decision applied this group's own part (applyDecide): commit
	// wait is over, so its locks go now, as a delivery's would.
	s.releaseOwnPart(ls, meta.ID, res.CommitTs)
	d := DecisionRecord{ID: meta.ID, CommitTS: res.CommitTs, Participants: groupsOf(req.Participants), Acked: []GroupID{group}}
	d.Decision = DecisionAbort
	if resp.Committed {
		d.Decision = DecisionCommit
		s.crashPoint(ctx, CrashAfterDecide, group, meta.ID)
		if ctx.Err() != nil {
			return nil, errors.Mark(ctx.Err(), ErrAmbiguous)
		}
	}
	s.startDeliver(ls, d, keys)
	return resp, nil
}

// releaseOwnPart releases the coordinator group's own locks of a decided
// transaction (commitTS 0: aborted), after commit wait.
func (s *Server) releaseOwnPart(ls *leaderState, id TxnID, commitTS int64) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if commitTS > 0 {
		ls.tracker.Observe(commitTS)
	}
	ls.releaseLocked(id)
}

// readOnlyKeys are the keys id holds but does not write: shared ones, and
// exclusive ones it read for update. Its prepare record keeps them locked
// across a change of leader.
func readOnlyKeys(lt *LockTable, id TxnID, writes []Write) [][]byte {
	keys := lt.heldKeys(id, Shared)
	ex := lt.heldKeys(id, Exclusive)
	if len(ex) == len(writes) {
		return keys // the writes, all locked exclusively here
	}
	written := make(map[string]bool, len(writes))
	for _, w := range writes {
		written[string(w.Key)] = true
	}
	for _, k := range ex {
		if !written[string(k)] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys
}

func groupsOf(ids []uint64) []GroupID {
	out := make([]GroupID, len(ids))
	for i, id := range ids {
		out[i] = GroupID(id)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// commitWait waits until TT.Now().earliest > ts (invariant 3).
func (s *Server) commitWait(ctx context.Context, ts int64) error {
	if s.cfg.TestingKnobs.NoCommitWait {
		return nil
	}
	return s.clock.WaitUntilAfter(ctx, ts)
}

// deliver sends a recorded decision to every participant and logs their
// acknowledgements at the coordinator; once all acked, the coordinator
// forgets the decision. Undelivered decisions are re-sent by the sweep.
func (s *Server) deliver(ctx context.Context, coord GroupID, d DecisionRecord, keys map[uint64][]byte) {
	var wg sync.WaitGroup
	acked := make([]bool, len(d.Participants))
	for i, p := range d.Participants {
		if slices.Contains(d.Acked, p) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &pb.TxnResolveRequest{GroupId: uint64(p), TxnId: d.ID[:], Commit: d.Decision == DecisionCommit, CommitTs: d.CommitTS}
			err := callGroupLeader(ctx, s.cfg.Router, uint64(p), keys[uint64(p)], func(ctx context.Context, cl pb.TxnClient) error {
				_, err := cl.Resolve(ctx, req)
				return err
			})
			if err != nil {
				s.logger.Debug("delivering decision", "txn", d.ID, "group", p, "err", err.Error())
				return
			}
			acked[i] = true
		}()
	}
	wg.Wait()
	var done []uint64
	for i, p := range d.Participants {
		if acked[i] {
			done = append(done, uint64(p))
		}
	}
	if len(done) > 0 {
		// One entry for all of them.
		_, _ = s.propose(ctx, coord, &pb.TxnCommand{Cmd: &pb.TxnCommand_Ack{Ack: &pb.TxnAck{TxnId: d.ID[:], Participant: done[0], MoreParticipants: done[1:]}}})
	}
}

// Resolve implements pb.TxnServer at a participant's leader: apply the
// coordinator's decision, then release the locks.
func (s *Server) Resolve(ctx context.Context, req *pb.TxnResolveRequest) (*pb.TxnResolveResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	err = s.resolve(ctx, req)
	return &pb.TxnResolveResponse{}, s.status(err)
}

func (s *Server) resolve(ctx context.Context, req *pb.TxnResolveRequest) error {
	id, err := txnID(req.TxnId)
	if err != nil {
		return err
	}
	group := GroupID(req.GroupId)
	ls, _, err := s.leader(ctx, group)
	if err != nil {
		return err
	}
	if req.Unknown {
		return nil
	}
	var cmd *pb.TxnCommand
	if req.Commit {
		cmd = &pb.TxnCommand{Cmd: &pb.TxnCommand_Commit{Commit: &pb.TxnCommit{TxnId: id[:], CommitTs: req.CommitTs}}}
	} else {
		cmd = &pb.TxnCommand{Cmd: &pb.TxnCommand_Abort{Abort: id[:]}}
	}
	_, err = s.propose(ctx, group, cmd)
	if err != nil && errors.Is(err, ErrInvalidCommand) {
		// A commit of a transaction never prepared here whose prepare
		// refused, or a duplicate contradicting a forgotten outcome: the
		// decision has nothing to apply here.
		s.logger.Debug("resolve refused", "txn", id, "group", group, "err", err.Error())
		err = nil
	}
	if err != nil {
		return err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if req.Commit {
		ls.tracker.Observe(req.CommitTs)
	}
	ls.releaseLocked(id)
	return nil
}

// Inquire implements pb.TxnServer at the coordinator's leader: the
// recorded decision, or an abort recorded now (presumed abort) if none.
func (s *Server) Inquire(ctx context.Context, req *pb.TxnInquireRequest) (*pb.TxnResolveRequest, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	id, err := txnID(req.TxnId)
	if err != nil {
		return nil, s.status(err)
	}
	if len(req.Participants) == 0 {
		return nil, s.status(invalid("txn: inquiry for %s without participants", id))
	}
	// Deciding is idempotent: the first decision wins and is returned.
	res, err := s.propose(ctx, GroupID(req.Coordinator), &pb.TxnCommand{Cmd: &pb.TxnCommand_Decide{Decide: &pb.TxnDecide{
		TxnId: id[:], Commit: false, Participants: req.Participants,
	}}})
	if err != nil {
		return nil, s.status(err)
	}
	out := &pb.TxnResolveRequest{GroupId: req.Participant, TxnId: id[:], Commit: res.Decision == pb.TxnResult_COMMIT, CommitTs: res.CommitTs}
	if res.Decision == pb.TxnResult_ABORT {
		s.metrics.aborts.WithLabelValues("presumed").Inc()
		// The abort applied the coordinator group's own part too: its
		// locks go now. (A commit's are released by its Decide, after
		// commit wait.)
		s.mu.Lock()
		ls := s.groups[GroupID(req.Coordinator)]
		s.mu.Unlock()
		if ls != nil {
			s.releaseOwnPart(ls, id, 0)
		}
	}
	return out, nil
}

// resolvePrepared asks the coordinator of a transaction prepared here for
// its decision (aborting it if undecided) and applies the answer.
func (s *Server) resolvePrepared(ctx context.Context, group GroupID, rec PrepareRecord) {
	var ans *pb.TxnResolveRequest
	parts := make([]uint64, len(rec.Participants))
	for i, p := range rec.Participants {
		parts[i] = uint64(p)
	}
	err := callGroupLeader(ctx, s.cfg.Router, uint64(rec.Coordinator), nil, func(ctx context.Context, cl pb.TxnClient) error {
		var err error
		ans, err = cl.Inquire(ctx, &pb.TxnInquireRequest{Coordinator: uint64(rec.Coordinator), TxnId: rec.ID[:], Participant: uint64(group), Participants: parts})
		return err
	})
	if err != nil {
		s.logger.Debug("inquiry", "txn", rec.ID, "coordinator", rec.Coordinator, "err", err.Error())
		return
	}
	ans.GroupId = uint64(group)
	if err := s.resolve(ctx, ans); err != nil {
		s.logger.Debug("resolving after inquiry", "txn", rec.ID, "err", err.Error())
	}
}

// Release implements pb.TxnServer: a rollback (or an abort before
// prepare) drops the transaction's locks here. A prepared transaction is
// not touched: only its coordinator's decision ends it.
func (s *Server) Release(ctx context.Context, req *pb.TxnReleaseRequest) (*pb.TxnReleaseResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	id, err := txnID(req.TxnId)
	if err != nil {
		return nil, s.status(err)
	}
	group := GroupID(req.GroupId)
	// Always at the current leader: a node that does not lead the group
	// (or holds an older term's state) must say so, or the client would
	// take "released" for an answer while the real leader keeps the locks
	// until its idle sweep.
	ls, _, err := s.leader(ctx, group)
	if err != nil {
		return nil, s.status(err)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if req.Verify {
		if err := checkReadLocksLocked(ls, TxnMeta{ID: id}, true, req.ReadTerm); err != nil {
			return nil, s.status(err)
		}
		if req.Keep {
			return &pb.TxnReleaseResponse{}, nil
		}
	}
	if req.CommitTs > 0 {
		// The end of a vote: the reads here were the latest at the commit
		// timestamp, and stay so.
		ls.tracker.Observe(req.CommitTs)
	}
	delete(ls.votes, id)
	_, preparing := ls.preparing[id]
	if _, prepared := ls.prepared[id]; !prepared && !preparing {
		ls.wakeLocked(ls.lt.Release(id))
		delete(ls.lastSeen, id)
	}
	return &pb.TxnReleaseResponse{}, nil
}

// CommitOnePhase implements pb.TxnServer: a transaction that touches one
// group commits with one Raft entry and no coordinator record.
func (s *Server) CommitOnePhase(ctx context.Context, req *pb.TxnOnePhaseRequest) (*pb.TxnDecideResponse, error) {
	return s.serveOnePhase(ctx, req, false)
}

// CommitUnrecorded is CommitOnePhase for a transaction that only writes,
// whose ID the caller made on this node for this one request and never
// sends again (a retry is a new transaction): the group keeps no decision
// tombstone for it, which would only answer questions no one can ask.
// That spares each replica three of the four records a one-phase commit
// writes. Single-key KV writes use it.
func (s *Server) CommitUnrecorded(ctx context.Context, req *pb.TxnOnePhaseRequest) (*pb.TxnDecideResponse, error) {
	if req.HasReads || req.Repeat || len(req.ReadOnly) > 0 {
		return nil, s.status(invalid("txn: an unrecorded commit of %x reads or repeats", req.Txn.GetId()))
	}
	return s.serveOnePhase(ctx, req, true)
}

func (s *Server) serveOnePhase(ctx context.Context, req *pb.TxnOnePhaseRequest, unrecorded bool) (*pb.TxnDecideResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := s.commitOnePhase(ctx, req, unrecorded)
	if err != nil && errors.Is(err, ErrRetryable) {
		s.metrics.aborts.WithLabelValues("one_phase").Inc()
	}
	return resp, s.status(err)
}

func (s *Server) commitOnePhase(ctx context.Context, req *pb.TxnOnePhaseRequest, unrecorded bool) (*pb.TxnDecideResponse, error) {
	if err := s.clock.CheckCommit(); err != nil {
		return nil, err
	}
	group := GroupID(req.GroupId)
	start := time.Now()
	ls, meta, writes, err := s.lockWrites(ctx, group, req.Txn, req.Writes, req.HasReads, req.ReadTerm, req.Repeat)
	if de := (*decidedError)(nil); errors.As(err, &de) {
		if de.o.Decision != DecisionCommit {
			return nil, retryableErr("txn: %s was already aborted at group %d", meta.ID, group)
		}
		// An earlier attempt committed and its answer was lost.
		if err := s.commitWait(ctx, de.o.CommitTS); err != nil {
			return nil, errors.Mark(err, ErrAmbiguous)
		}
		return &pb.TxnDecideResponse{Committed: true, CommitTs: de.o.CommitTS}, nil
	}
	if err != nil {
		return nil, err
	}
	above, until := int64(0), int64(math.MaxInt64)
	if len(req.ReadOnly) > 0 {
		// The write locks are held: the commit timestamp is picked right
		// after the votes.
		if above, until, err = s.collectVotes(ctx, req.Txn, req.ReadOnly, 0); err != nil {
			ls.mu.Lock()
			ls.abortLocked(meta.ID, err)
			ls.mu.Unlock()
			s.releaseVotes(req.Txn, req.ReadOnly, 0)
			return nil, err
		}
	}
	ls.mu.Lock()
	if err := checkReadLocksLocked(ls, meta, req.HasReads, req.ReadTerm); err != nil {
		ls.mu.Unlock()
		s.releaseVotes(req.Txn, req.ReadOnly, 0)
		return nil, err
	}
	ts := ls.tracker.Assign(max(s.clock.Now().Latest, above+1))
	ls.preparing[meta.ID] = ts
	ls.mu.Unlock()
	if ts > until {
		s.metrics.voteExtensions.Inc()
		if _, _, err := s.collectVotes(ctx, req.Txn, req.ReadOnly, ts); err != nil {
			ls.mu.Lock()
			delete(ls.preparing, meta.ID)
			ls.tracker.Applied(ts)
			ls.notifyLocked()
			ls.abortLocked(meta.ID, err)
			ls.mu.Unlock()
			s.releaseVotes(req.Txn, req.ReadOnly, 0)
			return nil, err
		}
	}
	pw := make([]*pb.TxnWrite, len(writes))
	for i, w := range writes {
		pw[i] = &pb.TxnWrite{Key: w.Key, Value: w.Value, Delete: w.Delete}
	}
	cmd := &pb.TxnCommand{Cmd: &pb.TxnCommand_OnePhase{OnePhase: &pb.TxnOnePhase{TxnId: meta.ID[:], Ts: ts, Writes: pw, Unrecorded: unrecorded}}}
	res, err := s.propose(ctx, group, cmd)
	replicated := time.Now()
	// Commit wait is a deadline, not a duration: waiting only now ends
	// when waiting from the timestamp's choice would have, and under load
	// the Raft round has outlasted it, so it costs no goroutine.
	werr := s.commitWait(ctx, ts)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err != nil && errors.Is(err, paxosgroup.ErrAmbiguousResult) {
		// It may yet apply (the client went away, or the proposal's fate
		// is unknown). Keep the locks and the timestamp in flight — a
		// later apply must not slip under a reader that took the locks —
		// and settle it by proposing the same entry again: applying it is
		// idempotent (the decision tombstone, or for an unrecorded commit
		// the same versions installed again), so its answer is the outcome
		// either way.
		s.spawn(func(bg context.Context) { s.settleOnePhase(bg, ls, meta.ID, ts, cmd) })
		return nil, errors.Mark(err, ErrAmbiguous)
	}
	delete(ls.preparing, meta.ID)
	ls.tracker.Applied(ts)
	ls.notifyLocked()
	if err != nil {
		ls.abortLocked(meta.ID, err)
		s.releaseVotes(req.Txn, req.ReadOnly, 0)
		return nil, err
	}
	resp := &pb.TxnDecideResponse{Committed: res.Decision == pb.TxnResult_COMMIT, CommitTs: res.CommitTs}
	if resp.Committed {
		s.releaseVotes(req.Txn, req.ReadOnly, resp.CommitTs)
	} else {
		s.releaseVotes(req.Txn, req.ReadOnly, 0)
	}
	if werr != nil {
		ls.abortLocked(meta.ID, werr)
		return nil, errors.Mark(werr, ErrAmbiguous)
	}
	ls.releaseLocked(meta.ID)
	if !resp.Committed {
		return nil, retryableErr("txn: %s was already decided at group %d", meta.ID, group)
	}
	resp.CommitWaitNanos = int64(time.Since(replicated))
	s.metrics.commitWait.Observe(time.Since(replicated).Seconds())
	s.metrics.commitLatency.WithLabelValues("one_phase").Observe(time.Since(start).Seconds())
	return resp, nil
}

// sweep is the recovery loop: ask coordinators about transactions
// prepared here too long, re-send undelivered decisions of groups led
// here, and abort idle unprepared transactions that others wait for.
func (s *Server) sweep() {
	s.mu.Lock()
	states := make([]*leaderState, 0, len(s.groups))
	for _, ls := range s.groups {
		states = append(states, ls)
	}
	s.mu.Unlock()
	now := time.Now()
	for _, ls := range states {
		if s.host.LeaderNode(uint64(ls.group)) != s.host.NodeID() {
			s.mu.Lock()
			if s.groups[ls.group] == ls {
				delete(s.groups, ls.group)
				ls.kill()
			}
			s.mu.Unlock()
			continue
		}
		ls.mu.Lock()
		for id, p := range ls.prepared {
			if now.Sub(p.since) > s.cfg.InquireAfter && !ls.asked[id] {
				ls.asked[id] = true
				rec := p.rec
				s.spawn(func(ctx context.Context) {
					s.resolvePrepared(ctx, ls.group, rec)
					ls.mu.Lock()
					delete(ls.asked, rec.ID)
					if p := ls.prepared[rec.ID]; p != nil {
						p.since = time.Now()
					}
					ls.mu.Unlock()
				})
			}
		}
		s.expireVotesLocked(ls)
		if len(ls.waiters) > 0 {
			for id, seen := range ls.lastSeen {
				if _, prepared := ls.prepared[id]; prepared {
					continue
				}
				if _, voted := ls.votes[id]; voted {
					continue // its vote ends it
				}
				if _, preparing := ls.preparing[id]; preparing {
					continue
				}
				if now.Sub(seen) > s.cfg.InquireAfter {
					ls.abortLocked(id, retryableErr("txn: %s was idle for %s while holding locks at group %d", id, now.Sub(seen), ls.group))
					s.metrics.aborts.WithLabelValues("idle").Inc()
				}
			}
		}
		for id, at := range ls.aborted {
			if now.Sub(at) > time.Minute {
				delete(ls.aborted, id)
			}
		}
		ls.mu.Unlock()
		s.redeliver(ls)
	}
}

// redeliver re-sends the decisions this coordinator group had not seen
// acknowledged at its previous pass. Passes run once per InquireAfter:
// each reads the group's decision records from the store.
func (s *Server) redeliver(ls *leaderState) {
	ls.mu.Lock()
	due := time.Since(ls.lastRedeliver) >= s.cfg.InquireAfter
	if due {
		ls.lastRedeliver = time.Now()
	}
	ls.mu.Unlock()
	if !due {
		return
	}
	co, err := OpenCoordinator(ls.group, engineStore{s.host.Engine()})
	if err != nil {
		return
	}
	ls.mu.Lock()
	seen := make(map[TxnID]bool)
	var todo []DecisionRecord
	for _, d := range co.Undelivered() {
		seen[d.ID] = true
		if ls.undelivered[d.ID] {
			todo = append(todo, d)
		}
	}
	ls.undelivered = seen
	ls.mu.Unlock()
	for _, d := range todo {
		s.startDeliver(ls, d, nil)
	}
}

// startDeliver delivers a decision unless a delivery of it is already
// running: under load (slow applies, lost leases) redelivery passes would
// otherwise pile up goroutines all proposing the same acknowledgements.
func (s *Server) startDeliver(ls *leaderState, d DecisionRecord, keys map[uint64][]byte) {
	ls.mu.Lock()
	if ls.delivering[d.ID] {
		ls.mu.Unlock()
		return
	}
	ls.delivering[d.ID] = true
	ls.mu.Unlock()
	s.spawn(func(ctx context.Context) {
		defer func() {
			ls.mu.Lock()
			delete(ls.delivering, d.ID)
			ls.mu.Unlock()
		}()
		s.deliver(ctx, ls.group, d, keys)
	})
}

// engineStore reads 2PC records from the engine's committed state (leader
// state rebuilds); it never writes.
type engineStore struct{ e *storage.Engine }

func (s engineStore) GetRecord(key []byte) ([]byte, bool, error) { return s.e.GetRecord(key) }
func (s engineStore) ScanRecords(start, end []byte, fn func(key, value []byte) bool) error {
	return s.e.ScanRecords(start, end, fn)
}
func (engineStore) PutRecord(_, _ []byte) error {
	return errors.AssertionFailedf("txn: engineStore is read-only")
}
func (engineStore) DeleteRecord(_ []byte) error {
	return errors.AssertionFailedf("txn: engineStore is read-only")
}
func (engineStore) PutVersion(_ []byte, _ int64, _ []byte) error {
	return errors.AssertionFailedf("txn: engineStore is read-only")
}
func (engineStore) DeleteVersion(_ []byte, _ int64) error {
	return errors.AssertionFailedf("txn: engineStore is read-only")
}

// settleOnePhase re-proposes an ambiguous one-phase commit until it
// applies (or the term ends), then releases its timestamp and locks.
func (s *Server) settleOnePhase(ctx context.Context, ls *leaderState, id TxnID, ts int64, cmd *pb.TxnCommand) {
	backoff := 10 * time.Millisecond
	for {
		ls.mu.Lock()
		dead := ls.dead
		ls.mu.Unlock()
		if dead || ctx.Err() != nil {
			return // the next leader starts above ts without these locks
		}
		if _, err := s.propose(ctx, ls.group, cmd); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	delete(ls.preparing, id)
	ls.tracker.Applied(ts)
	ls.notifyLocked()
	ls.releaseLocked(id)
}
