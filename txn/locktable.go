package txn

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/errors"
)

// TxnID names a transaction cluster-wide. It is 16 random bytes (a UUIDv4
// in practice) chosen by the coordinator when the transaction begins, so
// coordinators need no coordination and a restarted node cannot reuse an
// ID that a Raft-logged prepare record still carries. The zero TxnID is
// invalid. It is comparable and used as a map key.
type TxnID [16]byte

// String returns the ID in hex.
func (id TxnID) String() string { return hex.EncodeToString(id[:]) }

// TxnMeta is what the lock table knows about a transaction.
type TxnMeta struct {
	// ID names the transaction.
	ID TxnID
	// StartTS is the transaction's start timestamp (nanoseconds since the
	// Unix epoch) and its wound-wait priority: smaller is older, and older
	// wins. A transaction restarted after an abort keeps its StartTS, so it
	// ages and eventually becomes the oldest. Equal StartTS are ordered by
	// ID.
	StartTS int64
	// Prepared is set once the transaction's prepare record is applied at
	// this group: it can no longer be wounded here. It only goes from false
	// to true.
	Prepared bool
}

// olderThan is the wound-wait priority order: a total order on
// transactions, older first.
func (t TxnMeta) olderThan(o TxnMeta) bool {
	if t.StartTS != o.StartTS {
		return t.StartTS < o.StartTS
	}
	return bytes.Compare(t.ID[:], o.ID[:]) < 0
}

// Mode is a lock mode.
type Mode uint8

const (
	// Shared is taken by reads at the leader; shared locks are compatible
	// with each other.
	Shared Mode = iota + 1
	// Exclusive is taken on the writes of a transaction at prepare; it
	// conflicts with every lock of another transaction.
	Exclusive
)

// String returns "shared" or "exclusive".
func (m Mode) String() string {
	switch m {
	case Shared:
		return "shared"
	case Exclusive:
		return "exclusive"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

func conflicts(a, b Mode) bool { return a == Exclusive || b == Exclusive }

// Status is the outcome of Acquire.
type Status uint8

const (
	// Granted: the lock is held (it may have been held already).
	Granted Status = iota + 1
	// Waiting: the request is queued; Release of the blockers will grant
	// it (Release returns the grant).
	Waiting
	// Wounded: the requesting transaction was wounded by an older one and
	// is not prepared, or (DeferWounds) its request would close a cycle of
	// waits. Nothing was queued; the caller aborts it, and the holders in
	// Wound and WoundPrepared as for Waiting.
	Wounded
)

// String returns the status in lower case.
func (s Status) String() string {
	switch s {
	case Granted:
		return "granted"
	case Waiting:
		return "waiting"
	case Wounded:
		return "wounded"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// Result is the outcome of Acquire. Its slices are fresh and owned by the
// caller.
type Result struct {
	Status Status
	// WaitsFor, when Waiting, lists the transactions the request waits for,
	// oldest first: conflicting holders and conflicting requests queued
	// ahead of it.
	WaitsFor []TxnID
	// Wound lists younger unprepared holders that conflict with the request
	// and were not wounded before. The caller must abort each of them and
	// then Release it; until then they keep their locks and the request
	// keeps waiting.
	Wound []TxnID
	// Deferred lists, with LockTableOptions.DeferWounds, younger unprepared
	// holders that conflict with the request but were left running: none
	// of them waits, through this table, for the requester, and a request
	// of theirs that would close such a cycle is refused. The caller
	// wounds those still blocking with WoundBlockers after a grace (they
	// may be waiting at another group, where this table cannot see it).
	Deferred []TxnID
	// WoundPrepared lists younger prepared holders that conflict with the
	// request. This participant cannot abort them; the caller asks their
	// coordinators to abort them if they have not decided yet (a prepared
	// transaction may be waiting for locks at another group, so waiting for
	// it blindly could deadlock across groups), and otherwise waits for the
	// decision.
	WoundPrepared []TxnID
}

// Grant tells the caller that a parked request now holds its lock.
type Grant struct {
	Txn  TxnID
	Key  []byte
	Mode Mode
	// Range marks a span lock (AcquireRange) on [Key, End).
	Range bool
	End   []byte
}

// Lock is a holder or a queued request, for introspection.
type Lock struct {
	Txn  TxnID
	Mode Mode
}

// PreparedTxn is what a prepare record in the Raft log tells a new leader:
// the transaction and the keys it writes at this group.
type PreparedTxn struct {
	Txn       TxnMeta
	WriteKeys [][]byte
}

// LockTableMetrics counts what the table did. Counters only grow, also
// across Rebuild; Txns and Keys are gauges.
type LockTableMetrics struct {
	// Acquires counts Acquire calls; Waits those that queued a new request.
	Acquires, Waits int64
	// Wounds counts transactions wounded (each at most once);
	// WoundsPrepared counts reports of prepared younger blockers;
	// Deferrals counts younger holders left running (DeferWounds).
	Wounds, WoundsPrepared, Deferrals int64
	// Grants counts requests granted by Release.
	Grants int64
	// Txns and Keys are the transactions and keys the table tracks now.
	Txns, Keys int
}

// LockTableOptions configure a LockTable. The zero value is the default.
type LockTableOptions struct {
	// DeferWounds lets an older request wait for a younger unprepared
	// holder instead of wounding it at once, unless the holder already
	// waits, through the table, for the requester: most such holders
	// finish in a few milliseconds, and a wound throws their whole
	// transaction away. A request that would then close a cycle of waits
	// through the table is refused instead (Wounded: the requester is
	// younger than a transaction on the cycle that waits for it, or the
	// cycle would have been broken by wounding). The caller wounds the
	// holders still blocking after a grace (WoundBlockers), which breaks
	// cycles through other groups and holders that went idle.
	DeferWounds  bool
	TestingKnobs LockTableTestingKnobs
}

// LockTableTestingKnobs break the table on purpose, for negative controls
// of the checkers in tests. Never set in production.
type LockTableTestingKnobs struct {
	// NoWound makes older requests wait for younger holders instead of
	// wounding them (plain 2PL, which can deadlock).
	NoWound bool
	// WaitIntoCycle lets a request wait even when its wait closes a cycle
	// through the table (which deadlocks).
	WaitIntoCycle bool
}

// LockTable is the per-leader table of shared and exclusive key locks with
// wound-wait deadlock avoidance. See the package documentation for the
// flow and invariants.
//
// A LockTable is not safe for concurrent use: the caller holds its own
// mutex (or owns the table from a single goroutine) around every call.
// Nothing inside blocks, reads a clock or starts a goroutine.
type LockTable struct {
	opts  LockTableOptions
	locks map[string]*keyLocks
	// keys are the keys of locks, sorted, so that a span finds the locked
	// keys inside it by a binary search rather than a walk of the map
	// (every scan of a read-write transaction asks, under the leader's
	// mutex).
	keys    []string
	txns    map[TxnID]*txnState
	metrics LockTableMetrics
	// ranges are the held shared span locks of scans (see rangelock.go);
	// rangeQueue the parked span requests, oldest first.
	ranges     []*rangeEntry
	rangeQueue []*rangeEntry
	// exclusiveGrants counts exclusive locks granted (upgrades included).
	// It is atomic so that a reader validating an unlocked read
	// (Server.ReadLatestUnlocked) needs no mutex. recentExclusive holds
	// the keys of the latest grants, grant n at n%len, for
	// ExclusiveGrantedIn.
	exclusiveGrants atomic.Uint64
	recentExclusive [recentExclusiveGrants]string
	// request and search number the requests decided and the searches of
	// the waits-for graph (reaches), to mark txnStates without clearing.
	request, search uint64
}

// recentExclusiveGrants is how many exclusive grants ExclusiveGrantedIn
// can look back on: more than a scan's read usually sees granted on a
// busy leader (a few thousand a second, a read taking well under 1ms).
const recentExclusiveGrants = 64

type txnState struct {
	meta    TxnMeta
	wounded bool
	// noPath is the request (LockTable.request) during which the txn was
	// found not to wait for the requester, seen the search that visited it
	// last (reaches).
	noPath, seen uint64
	// held maps the keys this txn holds to their mode.
	held map[string]Mode
	// waiting is the set of keys where this txn has a queued request.
	waiting map[string]struct{}
	// ranges are the spans this txn holds shared; waitingRange its parked
	// span request (a transaction's requests at a leader are sequential).
	ranges       []*rangeEntry
	waitingRange *rangeEntry
}

// keyLocks is the state of one key: holders (at most one if any is
// exclusive) and the queue of waiting requests, oldest first.
type keyLocks struct {
	holders []*lockEntry
	queue   []*lockEntry
}

type lockEntry struct {
	txn  *txnState
	mode Mode
}

// NewLockTable returns an empty table.
func NewLockTable(opts LockTableOptions) *LockTable {
	return &LockTable{
		opts:  opts,
		locks: make(map[string]*keyLocks),
		txns:  make(map[TxnID]*txnState),
	}
}

// Acquire asks for a lock on key in mode for txn. The key is copied.
//
//   - If txn was wounded (and not prepared since), the result is Wounded
//     and nothing changes: the caller aborts it and calls Release.
//   - If txn already holds the key in mode or a stronger one, it is Granted
//     (re-entrant; nothing changes). A txn holding Shared that asks for
//     Exclusive upgrades: granted once it is the only holder.
//   - Otherwise the request is granted when it conflicts with no holder and
//     no older request waits ahead of it; else it is queued (in priority
//     order) and the result is Waiting, with the younger conflicting
//     holders to wound. Asking again while waiting is idempotent (a
//     stronger mode replaces the queued one).
//
// txn.StartTS must not change for an ID the table knows; txn.Prepared is
// remembered once true. A prepared transaction may only re-acquire locks it
// holds. Violations are caller bugs and panic.
func (lt *LockTable) Acquire(txn TxnMeta, key []byte, mode Mode) Result {
	if mode != Shared && mode != Exclusive {
		panic(errors.AssertionFailedf("txn: acquire with invalid lock mode %d", mode))
	}
	lt.metrics.Acquires++
	lt.newRequest()
	t := lt.register(txn)
	if t.wounded {
		return Result{Status: Wounded}
	}
	k := string(key)
	if held, ok := t.held[k]; ok && held >= mode {
		return Result{Status: Granted}
	}
	if t.meta.Prepared {
		panic(errors.AssertionFailedf("txn: prepared txn %s acquires a new %s lock", t.meta.ID, mode))
	}
	kl := lt.locks[k]
	if kl == nil {
		kl = &keyLocks{}
		lt.addKey(k, kl)
	}
	req := kl.request(t)
	queued := req == nil
	if queued {
		req = &lockEntry{txn: t, mode: mode}
		kl.enqueue(req)
		t.waiting[k] = struct{}{}
	} else if mode > req.mode {
		req.mode = mode
	}
	// Every queue head was blocked before this call, and a new or stronger
	// request unblocks nobody: only req itself can be granted.
	for _, e := range lt.grantHead(k, kl) {
		if e != req {
			panic(errors.AssertionFailedf("txn: acquire by %s granted %s", t.meta.ID, e.txn.meta.ID))
		}
		lt.noteGranted(k, e)
		return Result{Status: Granted}
	}
	res := lt.waitResult(k, kl, req)
	if lt.closesCycle(t) {
		if queued {
			kl.queue = slices.DeleteFunc(kl.queue, func(e *lockEntry) bool { return e == req })
			delete(t.waiting, k)
			if len(kl.holders) == 0 && len(kl.queue) == 0 {
				lt.dropKeyLocks(k)
			}
		}
		return lt.woundSelf(t, res)
	}
	if queued {
		lt.metrics.Waits++
	}
	return res
}

// isWaiting reports whether t has a request queued.
func (t *txnState) isWaiting() bool { return len(t.waiting) > 0 || t.waitingRange != nil }

// closesCycle reports whether t, with the requests it has queued now,
// waits for itself through the table (DeferWounds only: plain wound-wait
// never lets a cycle form). Before t's newest request no cycle existed, so
// a new one passes through t. The younger holders on such cycles that
// could be wounded were (waitResult), so what remains is closed by t
// waiting for an older transaction, with a deferred wait of an older
// transaction somewhere on the way back: t is refused. The oldest
// transaction never is: everything it waits for is younger.
func (lt *LockTable) closesCycle(t *txnState) bool {
	return lt.opts.DeferWounds && !lt.opts.TestingKnobs.WaitIntoCycle && lt.reaches(t, t)
}

// reaches reports whether from waits for to, directly or through a chain
// of waiting transactions. Wounded transactions end chains: their
// requests are about to be dropped. Every search during one request
// (newRequest) has the requester as to, and what a failed search visited
// cannot reach it, then or later in the request (wounds only cut
// chains), so those are not walked again: deciding a request walks the
// graph about once however many holders it meets.
func (lt *LockTable) reaches(from, to *txnState) bool {
	if from.noPath == lt.request {
		return false
	}
	lt.search++
	from.seen = lt.search
	seen := []*txnState{from}
	for i := 0; i < len(seen); i++ {
		x := seen[i]
		if x.wounded || !x.isWaiting() {
			continue
		}
		for _, id := range lt.blockers(x, noWound).WaitsFor {
			y := lt.txns[id]
			if y == to {
				return true
			}
			if y.seen != lt.search && y.noPath != lt.request {
				y.seen = lt.search
				seen = append(seen, y)
			}
		}
	}
	for _, x := range seen {
		x.noPath = lt.request
	}
	return false
}

// newRequest starts the decision of a new request for reaches.
func (lt *LockTable) newRequest() { lt.request++ }

// woundSelf wounds t at its own request to wait, passing on the wounds
// the request made on the way (res).
func (lt *LockTable) woundSelf(t *txnState, res Result) Result {
	t.wounded = true
	lt.metrics.Wounds++
	return Result{Status: Wounded, Wound: res.Wound, WoundPrepared: res.WoundPrepared}
}

// register returns the state of txn, creating it on first sight.
func (lt *LockTable) register(txn TxnMeta) *txnState {
	if txn.ID == (TxnID{}) {
		panic(errors.AssertionFailedf("txn: zero transaction ID"))
	}
	t := lt.txns[txn.ID]
	if t == nil {
		t = &txnState{meta: txn, held: make(map[string]Mode), waiting: make(map[string]struct{})}
		lt.txns[txn.ID] = t
		return t
	}
	if t.meta.StartTS != txn.StartTS {
		panic(errors.AssertionFailedf("txn: %s start timestamp changed from %d to %d",
			txn.ID, t.meta.StartTS, txn.StartTS))
	}
	t.meta.Prepared = t.meta.Prepared || txn.Prepared
	return t
}

// waitResult lists what req waits for and wounds younger conflicting
// holders.
func (lt *LockTable) waitResult(k string, kl *keyLocks, req *lockEntry) Result {
	res := Result{Status: Waiting}
	lt.keyBlockers(&res, k, kl, req, woundYounger)
	lt.sortByAge(res.WaitsFor)
	return res
}

// woundMode says what blockedBy does about a younger blocker.
type woundMode uint8

const (
	// noWound only records the wait.
	noWound woundMode = iota
	// woundYounger wounds younger holders, or defers the wound of running
	// ones under DeferWounds.
	woundYounger
	// woundNow wounds younger holders, deferred or not (WoundBlockers).
	woundNow
)

// keyBlockers adds to res what the queued request req on key k waits
// for: conflicting holders of k, spans held over k (for a writer), and
// older conflicting requests queued ahead. Younger holders are wounded
// as wound says.
func (lt *LockTable) keyBlockers(res *Result, k string, kl *keyLocks, req *lockEntry, wound woundMode) {
	t := req.txn
	for _, h := range kl.holders {
		if h.txn != t && conflicts(h.mode, req.mode) {
			lt.blockedBy(res, t, h.txn, wound)
		}
	}
	for _, q := range kl.queue {
		if q == req {
			break
		}
		if q.txn != t && conflicts(q.mode, req.mode) {
			lt.blockedBy(res, t, q.txn, noWound)
		}
	}
	if req.mode != Exclusive {
		return
	}
	for _, r := range lt.ranges {
		if r.txn != t && r.contains(k) {
			lt.blockedBy(res, t, r.txn, wound)
		}
	}
	for _, r := range lt.rangeQueue {
		if r.txn != t && r.txn.meta.olderThan(t.meta) && r.contains(k) {
			lt.blockedBy(res, t, r.txn, noWound)
		}
	}
}

// blockedBy notes in res that t's request waits for h. A younger holder h
// is wounded as wound says (or reported when it is prepared and cannot
// be); with noWound the wait is only recorded (h is queued ahead, or the
// caller only asks).
func (lt *LockTable) blockedBy(res *Result, t, h *txnState, wound woundMode) {
	if !slices.Contains(res.WaitsFor, h.meta.ID) {
		res.WaitsFor = append(res.WaitsFor, h.meta.ID)
	}
	if wound == noWound || !t.meta.olderThan(h.meta) || lt.opts.TestingKnobs.NoWound {
		return
	}
	switch {
	case h.meta.Prepared:
		if !slices.Contains(res.WoundPrepared, h.meta.ID) {
			res.WoundPrepared = append(res.WoundPrepared, h.meta.ID)
			lt.metrics.WoundsPrepared++
		}
	case !h.wounded && wound == woundYounger && lt.opts.DeferWounds && !lt.reaches(h, t):
		if !slices.Contains(res.Deferred, h.meta.ID) {
			res.Deferred = append(res.Deferred, h.meta.ID)
			lt.metrics.Deferrals++
		}
	case !h.wounded:
		h.wounded = true
		res.Wound = append(res.Wound, h.meta.ID)
		lt.metrics.Wounds++
	}
}

// MarkPrepared records that txn's prepare record was applied: from now on
// it cannot be wounded, and an older conflicting request waits for its
// decision. It returns whether the txn had been wounded before (the wound
// had no effect; the wounder keeps waiting). It is a no-op for a txn the
// table does not know (it holds no lock here). A txn with queued requests
// cannot be prepared: that is a caller bug and panics.
func (lt *LockTable) MarkPrepared(id TxnID) (wasWounded bool) {
	t := lt.txns[id]
	if t == nil {
		return false
	}
	if t.isWaiting() {
		panic(errors.AssertionFailedf("txn: %s prepared while waiting for %d locks", id, len(t.waiting)))
	}
	t.meta.Prepared = true
	wasWounded, t.wounded = t.wounded, false
	return wasWounded
}

// waitingFor reports whether id has a request queued.
func (lt *LockTable) waitingFor(id TxnID) bool {
	t := lt.txns[id]
	return t != nil && t.isWaiting()
}

// Release drops every lock and queued request of txn (at commit or abort,
// after the decision is applied) and forgets it. It returns the requests
// this grants, ordered by key and, within a key, oldest first; the caller
// wakes them. Keys in the returned grants are fresh. A grant may go to a
// wounded txn that was queued elsewhere: the caller ignores it, the txn is
// being aborted and its Release drops the lock. Releasing an unknown txn
// returns nil.
func (lt *LockTable) Release(id TxnID) []Grant {
	t := lt.txns[id]
	if t == nil {
		return nil
	}
	keys := make([]string, 0, len(t.held)+len(t.waiting))
	for k := range t.held {
		keys = append(keys, k)
	}
	for k := range t.waiting {
		if _, ok := t.held[k]; !ok {
			keys = append(keys, k)
		}
	}
	// Keys whose queued writers t's spans blocked may go ahead now.
	keys = append(keys, lt.dropSpans(t)...)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	delete(lt.txns, id)
	var grants []Grant
	for _, k := range keys {
		grants = lt.dropKey(t, k, grants)
	}
	return lt.grantSpans(grants)
}

// dropKey removes t's hold and queued request on key k and appends the
// requests this grants.
func (lt *LockTable) dropKey(t *txnState, k string, grants []Grant) []Grant {
	lt.locks[k].remove(t)
	return lt.regrant(k, grants)
}

// regrant grants what can go ahead on key k now and appends it to grants.
func (lt *LockTable) regrant(k string, grants []Grant) []Grant {
	kl := lt.locks[k]
	if kl == nil {
		return grants
	}
	for _, e := range lt.grantHead(k, kl) {
		lt.noteGranted(k, e)
		grants = append(grants, Grant{Txn: e.txn.meta.ID, Key: []byte(k), Mode: e.mode})
		lt.metrics.Grants++
	}
	if len(kl.holders) == 0 && len(kl.queue) == 0 {
		lt.dropKeyLocks(k)
	}
	return grants
}

// noteGranted moves a granted request from the txn's waiting set to its
// held set.
func (lt *LockTable) noteGranted(k string, e *lockEntry) {
	delete(e.txn.waiting, k)
	e.txn.held[k] = e.mode
	if e.mode == Exclusive {
		lt.countExclusive(k)
	}
}

// countExclusive counts an exclusive grant of k.
func (lt *LockTable) countExclusive(k string) {
	n := lt.exclusiveGrants.Add(1)
	lt.recentExclusive[n%recentExclusiveGrants] = k
}

// HeldExclusive reports whether a transaction holds key exclusively.
func (lt *LockTable) HeldExclusive(key []byte) bool {
	kl := lt.locks[string(key)]
	if kl == nil {
		return false
	}
	for _, h := range kl.holders {
		if h.mode == Exclusive {
			return true
		}
	}
	return false
}

// HeldExclusiveIn reports whether a transaction holds a key in [start,
// end) exclusively (end nil: unbounded).
func (lt *LockTable) HeldExclusiveIn(start, end []byte) bool {
	for _, k := range lt.keysIn(&rangeEntry{start: start, end: end}) {
		for _, h := range lt.locks[k].holders {
			if h.mode == Exclusive {
				return true
			}
		}
	}
	return false
}

// ExclusiveGrants returns how many exclusive locks the table has granted;
// it may be called without the caller's mutex.
func (lt *LockTable) ExclusiveGrants() uint64 { return lt.exclusiveGrants.Load() }

// ExclusiveGrantedIn reports whether an exclusive lock on a key in [start,
// end) (end nil: unbounded) may have been granted since ExclusiveGrants
// returned since: true when one was, or when more grants followed than
// the table remembers. A locked scan asks it to learn whether a writer
// got into its span while it read, which grants elsewhere in the group
// do not tell.
func (lt *LockTable) ExclusiveGrantedIn(since uint64, start, end []byte) bool {
	now := lt.exclusiveGrants.Load()
	if now-since > recentExclusiveGrants {
		return true
	}
	for n := since + 1; n <= now; n++ {
		k := lt.recentExclusive[n%recentExclusiveGrants]
		if k >= string(start) && (end == nil || k < string(end)) {
			return true
		}
	}
	return false
}

// Rebuild discards the whole table and installs exclusive locks on the
// write keys of the prepared transactions, as read from the Raft log by a
// new leader (shared locks and queued requests were leader memory). It
// returns the IDs of the other transactions the table knew, sorted by
// age: they lost their shared locks or queued requests and must abort
// (DESIGN.md invariant 8). Two prepared transactions writing one key
// cannot both be prepared: that panics. Metrics counters are kept.
func (lt *LockTable) Rebuild(prepared []PreparedTxn) (dropped []TxnID) {
	old := lt.txns
	lt.locks = make(map[string]*keyLocks)
	lt.keys = nil
	lt.txns = make(map[TxnID]*txnState)
	lt.ranges, lt.rangeQueue = nil, nil
	for _, p := range prepared {
		meta := p.Txn
		meta.Prepared = true
		if lt.txns[meta.ID] != nil {
			panic(errors.AssertionFailedf("txn: rebuild lists %s twice", meta.ID))
		}
		t := lt.register(meta)
		for _, key := range p.WriteKeys {
			k := string(key)
			if t.held[k] != 0 {
				continue
			}
			if kl := lt.locks[k]; kl != nil {
				panic(errors.AssertionFailedf("txn: prepared %s and %s both write %q",
					meta.ID, kl.holders[0].txn.meta.ID, key))
			}
			lt.addKey(k, &keyLocks{holders: []*lockEntry{{txn: t, mode: Exclusive}}})
			t.held[k] = Exclusive
			lt.countExclusive(k)
		}
	}
	for id := range old {
		if lt.txns[id] == nil {
			dropped = append(dropped, id)
		}
	}
	slices.SortFunc(dropped, func(a, b TxnID) int { return compareAge(old[a].meta, old[b].meta) })
	return dropped
}

// addKey adds the state of a key that had none.
func (lt *LockTable) addKey(k string, kl *keyLocks) {
	lt.locks[k] = kl
	i, _ := slices.BinarySearch(lt.keys, k)
	lt.keys = slices.Insert(lt.keys, i, k)
}

// dropKeyLocks forgets the state of a key that has no holder or waiter.
func (lt *LockTable) dropKeyLocks(k string) {
	delete(lt.locks, k)
	if i, ok := slices.BinarySearch(lt.keys, k); ok {
		lt.keys = slices.Delete(lt.keys, i, i+1)
	}
}

// request returns t's queued request, if any.
func (kl *keyLocks) request(t *txnState) *lockEntry {
	for _, q := range kl.queue {
		if q.txn == t {
			return q
		}
	}
	return nil
}

// enqueue inserts e in priority order, oldest first.
func (kl *keyLocks) enqueue(e *lockEntry) {
	i, _ := slices.BinarySearchFunc(kl.queue, e, func(q, e *lockEntry) int {
		return compareAge(q.txn.meta, e.txn.meta)
	})
	kl.queue = slices.Insert(kl.queue, i, e)
}

// grantHead grants queued requests on key k from the head for as long as
// they are compatible with the holders and with the span locks held or
// requested ahead of them, and returns them in order. Stopping at the
// first blocked request is what keeps younger requests from overtaking an
// older one; compatible shared requests at the head go together.
func (lt *LockTable) grantHead(k string, kl *keyLocks) []*lockEntry {
	var granted []*lockEntry
	for len(kl.queue) > 0 {
		q := kl.queue[0]
		for _, h := range kl.holders {
			if h.txn != q.txn && conflicts(h.mode, q.mode) {
				return granted
			}
		}
		if q.mode == Exclusive && lt.spanBlocks(q.txn, k) {
			return granted
		}
		kl.queue = kl.queue[1:]
		if h := kl.holder(q.txn); h != nil {
			h.mode = max(h.mode, q.mode) // upgrade
		} else {
			kl.holders = append(kl.holders, q)
			slices.SortFunc(kl.holders, func(a, b *lockEntry) int { return compareAge(a.txn.meta, b.txn.meta) })
		}
		granted = append(granted, q)
	}
	return granted
}

func (kl *keyLocks) holder(t *txnState) *lockEntry {
	for _, h := range kl.holders {
		if h.txn == t {
			return h
		}
	}
	return nil
}

// remove drops t's hold and queued request.
func (kl *keyLocks) remove(t *txnState) {
	del := func(e *lockEntry) bool { return e.txn == t }
	kl.holders = slices.DeleteFunc(kl.holders, del)
	kl.queue = slices.DeleteFunc(kl.queue, del)
}

func compareAge(a, b TxnMeta) int {
	switch {
	case a.olderThan(b):
		return -1
	case b.olderThan(a):
		return 1
	}
	return 0
}

func (lt *LockTable) sortByAge(ids []TxnID) {
	slices.SortFunc(ids, func(a, b TxnID) int { return compareAge(lt.txns[a].meta, lt.txns[b].meta) })
}

// Holders returns the holders of key, oldest first.
func (lt *LockTable) Holders(key []byte) []Lock {
	kl := lt.locks[string(key)]
	if kl == nil {
		return nil
	}
	return locksOf(kl.holders)
}

// Waiters returns the requests queued on key, in grant order (oldest
// first).
func (lt *LockTable) Waiters(key []byte) []Lock {
	kl := lt.locks[string(key)]
	if kl == nil {
		return nil
	}
	return locksOf(kl.queue)
}

func locksOf(es []*lockEntry) []Lock {
	out := make([]Lock, len(es))
	for i, e := range es {
		out[i] = Lock{Txn: e.txn.meta.ID, Mode: e.mode}
	}
	return out
}

// Keys returns the keys that have holders or waiters, sorted.
func (lt *LockTable) Keys() [][]byte {
	out := make([][]byte, len(lt.keys))
	for i, k := range lt.keys {
		out[i] = []byte(k)
	}
	return out
}

// Txn returns what the table knows of a transaction and whether it was
// wounded (and not prepared since).
func (lt *LockTable) Txn(id TxnID) (meta TxnMeta, wounded bool, ok bool) {
	t := lt.txns[id]
	if t == nil {
		return TxnMeta{}, false, false
	}
	return t.meta, t.wounded, true
}

// WaitsFor returns, for each queued request of txn, what it waits for:
// conflicting holders and conflicting older requests queued ahead of it,
// without duplicates, oldest first. These are the txn's out-edges in the
// waits-for graph.
func (lt *LockTable) WaitsFor(id TxnID) []TxnID {
	t := lt.txns[id]
	if t == nil {
		return nil
	}
	return lt.blockers(t, noWound).WaitsFor
}

// WoundBlockers wounds the younger holders that id's queued requests
// still wait for, deferred or not, and reports them (Wound,
// WoundPrepared) as Acquire does: the caller aborts them or asks their
// coordinators. The caller calls it once a deferred wound's grace has
// passed. An unknown or unparked id gets an empty Result.
func (lt *LockTable) WoundBlockers(id TxnID) Result {
	t := lt.txns[id]
	if t == nil || !t.isWaiting() {
		return Result{}
	}
	return lt.blockers(t, woundNow)
}

// blockers computes what t's queued requests wait for, wounding as wound
// says.
func (lt *LockTable) blockers(t *txnState, wound woundMode) Result {
	res := Result{Status: Waiting}
	for k := range t.waiting {
		kl := lt.locks[k]
		lt.keyBlockers(&res, k, kl, kl.request(t), wound)
	}
	if r := t.waitingRange; r != nil {
		lt.spanBlockers(&res, r, wound)
	}
	lt.sortByAge(res.WaitsFor)
	return res
}

// Metrics returns the counters and gauges.
func (lt *LockTable) Metrics() LockTableMetrics {
	m := lt.metrics
	m.Txns, m.Keys = len(lt.txns), len(lt.locks)
	return m
}

// String dumps the table, one key a line, for debugging:
// key: holders [txn mode ...] waiters [txn mode ...].
func (lt *LockTable) String() string {
	var b strings.Builder
	for _, k := range lt.Keys() {
		b.WriteString(string(k) + ":")
		for _, l := range lt.Holders(k) {
			b.WriteString(" " + l.Txn.String() + "/" + l.Mode.String())
		}
		if ws := lt.Waiters(k); len(ws) > 0 {
			b.WriteString(" waiting:")
			for _, l := range ws {
				b.WriteString(" " + l.Txn.String() + "/" + l.Mode.String())
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
