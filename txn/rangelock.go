package txn

import (
	"bytes"
	"slices"

	"github.com/cockroachdb/errors"
)

// Span locks keep scans serializable. A scan under a read-write
// transaction locks the span it read, shared, so that no other
// transaction can insert into (or delete from) it until the scanner
// commits: locking only the rows returned would let a phantom appear
// between two scans of one transaction, or between a scan and the
// scanner's commit timestamp.
//
// A span lock conflicts only with exclusive key locks inside it (spans are
// shared, and shared locks are compatible). The wound-wait rules are the
// key rules: an older span request wounds younger exclusive holders in the
// span, a younger one waits; an exclusive request inside a held span
// wounds or waits for its holder in the same way. Two fairness rules keep
// older requests from ever waiting on younger unwounded ones (which could
// deadlock): a span request also waits behind older exclusive requests
// queued in its span, and an exclusive request waits behind older span
// requests queued over its key.
//
// Spans are few (one per scan of an open transaction), so they are kept
// in plain slices and matched by a linear pass (bounded by what the open
// transactions of one leader hold); the locked keys inside a span are
// found by a binary search of the table's sorted keys.

// rangeEntry is a held or queued shared lock on [start, end); a nil end is
// unbounded.
type rangeEntry struct {
	txn        *txnState
	start, end []byte
}

func (r *rangeEntry) contains(k string) bool {
	return k >= string(r.start) && (r.end == nil || k < string(r.end))
}

func (r *rangeEntry) covers(start, end []byte) bool {
	if bytes.Compare(start, r.start) < 0 {
		return false
	}
	return r.end == nil || (end != nil && bytes.Compare(end, r.end) <= 0)
}

// AcquireRange asks for a shared lock on the span [start, end) (end nil:
// unbounded) for txn, with the same results and wound-wait rules as
// Acquire. Start and end are copied. It is granted when no other
// transaction holds an exclusive lock on a key in the span and no older
// exclusive request is queued there. A transaction waits for at most one
// span at a time; asking for another one replaces the queued request.
func (lt *LockTable) AcquireRange(txn TxnMeta, start, end []byte) Result {
	if end != nil && bytes.Compare(start, end) >= 0 {
		panic(errors.AssertionFailedf("txn: empty lock span [%q, %q)", start, end))
	}
	lt.metrics.Acquires++
	lt.newRequest()
	t := lt.register(txn)
	if t.wounded {
		return Result{Status: Wounded}
	}
	for _, r := range t.ranges {
		if r.covers(start, end) {
			return Result{Status: Granted}
		}
	}
	if t.meta.Prepared {
		panic(errors.AssertionFailedf("txn: prepared txn %s acquires a new span lock", t.meta.ID))
	}
	req := t.waitingRange
	fresh := req == nil || !bytes.Equal(req.start, start) || !bytes.Equal(req.end, end)
	if fresh {
		if req != nil {
			lt.rangeQueue = slices.DeleteFunc(lt.rangeQueue, func(e *rangeEntry) bool { return e == req })
		}
		req = &rangeEntry{txn: t, start: bytes.Clone(start), end: bytes.Clone(end)}
		i, _ := slices.BinarySearchFunc(lt.rangeQueue, req, func(q, e *rangeEntry) int {
			return compareAge(q.txn.meta, e.txn.meta)
		})
		lt.rangeQueue = slices.Insert(lt.rangeQueue, i, req)
		t.waitingRange = req
	}
	res := Result{Status: Waiting}
	lt.spanBlockers(&res, req, woundYounger)
	if len(res.WaitsFor) == 0 {
		lt.grantSpan(req)
		return Result{Status: Granted}
	}
	if lt.closesCycle(t) {
		lt.rangeQueue = slices.DeleteFunc(lt.rangeQueue, func(e *rangeEntry) bool { return e == req })
		t.waitingRange = nil
		return lt.woundSelf(t, res)
	}
	if fresh {
		lt.metrics.Waits++
	}
	lt.sortByAge(res.WaitsFor)
	return res
}

// spanBlockers adds to res what the span request r waits for: other
// transactions' exclusive holders in the span, and older exclusive
// requests queued there. Younger holders are wounded as wound says.
func (lt *LockTable) spanBlockers(res *Result, r *rangeEntry, wound woundMode) {
	t := r.txn
	for _, k := range lt.keysIn(r) {
		kl := lt.locks[k]
		for _, h := range kl.holders {
			if h.txn != t && h.mode == Exclusive {
				lt.blockedBy(res, t, h.txn, wound)
			}
		}
		for _, q := range kl.queue {
			if q.txn != t && q.mode == Exclusive && q.txn.meta.olderThan(t.meta) {
				lt.blockedBy(res, t, q.txn, noWound)
			}
		}
	}
}

// spanBlocks reports whether a writer t on key k must wait for a span:
// one held by another transaction, or requested by an older one.
func (lt *LockTable) spanBlocks(t *txnState, k string) bool {
	for _, r := range lt.ranges {
		if r.txn != t && r.contains(k) {
			return true
		}
	}
	for _, r := range lt.rangeQueue {
		if r.txn != t && r.txn.meta.olderThan(t.meta) && r.contains(k) {
			return true
		}
	}
	return false
}

// keysIn returns the keys with holders or waiters inside r's span, sorted.
// The slice aliases the table's index: the caller must not keep it across
// a change of the table.
func (lt *LockTable) keysIn(r *rangeEntry) []string {
	i, _ := slices.BinarySearch(lt.keys, string(r.start))
	j := len(lt.keys)
	if r.end != nil {
		j, _ = slices.BinarySearch(lt.keys, string(r.end))
	}
	return lt.keys[i:max(i, j)]
}

// grantSpan moves a queued span request to the held spans.
func (lt *LockTable) grantSpan(r *rangeEntry) {
	lt.rangeQueue = slices.DeleteFunc(lt.rangeQueue, func(e *rangeEntry) bool { return e == r })
	r.txn.waitingRange = nil
	r.txn.ranges = append(r.txn.ranges, r)
	lt.ranges = append(lt.ranges, r)
}

// dropSpans removes t's held and queued spans and returns the locked keys
// inside them: their queued writers may be unblocked now.
func (lt *LockTable) dropSpans(t *txnState) []string {
	spans := t.ranges
	if t.waitingRange != nil {
		spans = append(spans, t.waitingRange)
	}
	if len(spans) == 0 {
		return nil
	}
	var keys []string
	for _, r := range spans {
		keys = append(keys, lt.keysIn(r)...)
	}
	mine := func(e *rangeEntry) bool { return e.txn == t }
	lt.ranges = slices.DeleteFunc(lt.ranges, mine)
	lt.rangeQueue = slices.DeleteFunc(lt.rangeQueue, mine)
	t.ranges, t.waitingRange = nil, nil
	return keys
}

// grantSpans grants the queued span requests that are no longer blocked,
// oldest first, appending them to grants (Range set, Key and End the
// span).
func (lt *LockTable) grantSpans(grants []Grant) []Grant {
	for _, r := range slices.Clone(lt.rangeQueue) {
		var res Result
		lt.spanBlockers(&res, r, noWound)
		if len(res.WaitsFor) > 0 {
			continue
		}
		lt.grantSpan(r)
		lt.metrics.Grants++
		grants = append(grants, Grant{Txn: r.txn.meta.ID, Key: bytes.Clone(r.start), End: bytes.Clone(r.end), Mode: Shared, Range: true})
	}
	return grants
}

// holdsRangeLocked reports whether id holds a span covering [start, end).
func (lt *LockTable) holdsRangeLocked(id TxnID, start, end []byte) bool {
	t := lt.txns[id]
	if t == nil {
		return false
	}
	for _, r := range t.ranges {
		if r.covers(start, end) {
			return true
		}
	}
	return false
}

// Spans returns the held span locks as "txn [start,end)" pairs in
// acquisition order, then the queued ones, for introspection and tests.
func (lt *LockTable) Spans() (held, queued []SpanLock) {
	conv := func(rs []*rangeEntry) []SpanLock {
		out := make([]SpanLock, len(rs))
		for i, r := range rs {
			out[i] = SpanLock{Txn: r.txn.meta.ID, Start: r.start, End: r.end}
		}
		return out
	}
	return conv(lt.ranges), conv(lt.rangeQueue)
}

// SpanLock is a held or queued span lock, for introspection.
type SpanLock struct {
	Txn        TxnID
	Start, End []byte
}
