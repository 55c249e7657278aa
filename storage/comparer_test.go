package storage

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"pgregory.net/rapid"
)

// anyStoreKeyGen draws keys of every shape Pebble may split: MVCC versions,
// bare MVCC prefixes (span bounds), Raft and record keys.
func anyStoreKeyGen() *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte {
		k := userKeyGen().Draw(t, "user")
		switch rapid.IntRange(0, 3).Draw(t, "shape") {
		case 0:
			return EncodeMVCCKey(k, tsGen().Draw(t, "ts"))
		case 1:
			return mvccKeyPrefix(k)
		case 2:
			return raftLogKey(rapid.Uint64Range(0, 3).Draw(t, "group"), rapid.Uint64().Draw(t, "index"))
		default:
			return append([]byte{prefixPrepared}, k...)
		}
	})
}

// TestComparerSplitProperty checks the properties pebble's base.Split
// documents for comparer.Split, and that the order is bytewise.
func TestComparerSplitProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := anyStoreKeyGen().Draw(t, "a"), anyStoreKeyGen().Draw(t, "b")
		cmp := comparer.Compare
		if cmp(a, b) != bytes.Compare(a, b) {
			t.Fatalf("order of %x, %x is not bytewise", a, b)
		}
		pa, pb := a[:comparer.Split(a)], b[:comparer.Split(b)]
		sa, sb := a[len(pa):], b[len(pb):]
		if len(sa) > 0 && cmp(pa, a) >= 0 {
			t.Fatalf("prefix %x of %x does not sort first", pa, a)
		}
		if cmp(a, b) <= 0 && cmp(pa, pb) > 0 {
			t.Fatalf("%x <= %x but prefixes %x > %x", a, b, pa, pb)
		}
		if cmp(pa, pb) < 0 && cmp(a, b) >= 0 {
			t.Fatalf("prefixes %x < %x but %x >= %x", pa, pb, a, b)
		}
		if cmp(pa, pb) == 0 && cmp(a, b) != comparer.ComparePointSuffixes(sa, sb) {
			t.Fatalf("%x vs %x: suffix order differs", a, b)
		}
		if comparer.Split(pa) != len(pa) {
			t.Fatalf("prefix %x of %x splits again", pa, a)
		}
		// ImmediateSuccessor (NextPrefix seeks to it): a prefix key above
		// every key with prefix pa and at or below every later prefix's keys.
		succ := comparer.ImmediateSuccessor(nil, pa)
		if comparer.Split(succ) != len(succ) {
			t.Fatalf("successor %x of prefix %x is not a prefix key", succ, pa)
		}
		if cmp(a, succ) >= 0 {
			t.Fatalf("%x sorts at or after %x, the successor of its prefix", a, succ)
		}
		if cmp(pa, pb) < 0 && cmp(succ, b) > 0 {
			t.Fatalf("successor %x of prefix %x sorts after %x, whose prefix %x is later", succ, pa, b, pb)
		}
	})
}

// boundedGet and boundedLatest are the point reads before prefix
// iteration: a bounded iterator over the key's versions and one SeekGE.
// TestPrefixReadsMatchBoundedIteration compares the two.
func boundedGet(r pebble.Reader, key []byte, ts int64) ([]byte, int64, bool, error) {
	if ts <= 0 {
		return nil, 0, false, nil
	}
	prefix := mvccKeyPrefix(key)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: nextUserKeySeek(prefix)})
	if err != nil {
		return nil, 0, false, err
	}
	defer func() { _ = it.Close() }()
	if !it.SeekGE(appendTS(prefix, ts)) {
		return nil, 0, false, it.Error()
	}
	_, vts, _ := splitRawMVCC(it.Key())
	v, tomb, err := decodeValue(it.Value())
	if err != nil || tomb {
		return nil, vts, false, err
	}
	return append([]byte(nil), v...), vts, true, nil
}

func boundedLatest(r pebble.Reader, key []byte) (int64, error) {
	prefix := mvccKeyPrefix(key)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: nextUserKeySeek(prefix)})
	if err != nil {
		return 0, err
	}
	defer func() { _ = it.Close() }()
	if !it.First() {
		return 0, it.Error()
	}
	_, vts, _ := splitRawMVCC(it.Key())
	return vts, nil
}

// TestPrefixReadsMatchBoundedIteration writes random versions and
// tombstones of keys that are prefixes of one another, some flushed to
// sstables (bloom filters in play), some deleted by range (ClearSpan),
// some only staged in a batch, and checks that MVCCGet and MVCCLatest on
// the engine, a snapshot and the batch answer exactly as bounded
// iteration does, for random keys (present or not) and timestamps.
func TestPrefixReadsMatchBoundedIteration(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e, err := Open("store", Options{FS: vfs.NewMem()})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = e.Close() }()
		smallTS := rapid.Int64Range(1, 8)
		rounds := rapid.IntRange(1, 4).Draw(t, "rounds")
		for round := 0; round < rounds; round++ {
			b := e.NewBatch()
			for i, n := 0, rapid.IntRange(0, 20).Draw(t, "writes"); i < n; i++ {
				k, ts := userKeyGen().Draw(t, "k"), smallTS.Draw(t, "ts")
				switch rapid.IntRange(0, 9).Draw(t, "op") {
				case 0:
					err = b.MVCCDelete(k, ts)
				case 1:
					if end := userKeyGen().Draw(t, "end"); bytes.Compare(k, end) < 0 {
						err = b.ClearSpan(k, end)
					}
				default:
					err = b.MVCCPut(k, ts, []byte(fmt.Sprintf("v%d-%x", ts, k)))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			commitMaybeFlush(t, e, b)
		}
		snap := e.NewSnapshot()
		defer func() { _ = snap.Close() }()
		staged := e.NewBatch()
		defer staged.Close()
		for i, n := 0, rapid.IntRange(0, 5).Draw(t, "staged"); i < n; i++ {
			k, ts := userKeyGen().Draw(t, "sk"), smallTS.Draw(t, "sts")
			if rapid.Bool().Draw(t, "stagedDelete") {
				err = staged.MVCCDelete(k, ts)
			} else {
				err = staged.MVCCPut(k, ts, []byte("staged"))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		readers := allReaders(e, snap, staged)
		for i, n := 0, rapid.IntRange(1, 30).Draw(t, "reads"); i < n; i++ {
			k, ts := userKeyGen().Draw(t, "rk"), rapid.Int64Range(0, 9).Draw(t, "rts")
			for _, rd := range readers {
				v, vts, found, err := rd.r.MVCCGet(k, ts)
				wv, wvts, wfound, werr := boundedGet(rd.pr, k, ts)
				if err != nil || werr != nil {
					t.Fatal(errors.CombineErrors(err, werr))
				}
				if !bytes.Equal(v, wv) || vts != wvts || found != wfound {
					t.Fatalf("%s: MVCCGet(%x, %d) = %q@%d found=%v, bounded iteration %q@%d found=%v",
						rd.name, k, ts, v, vts, found, wv, wvts, wfound)
				}
				latest, err := rd.r.MVCCLatest(k)
				wlatest, werr := boundedLatest(rd.pr, k)
				if err != nil || werr != nil {
					t.Fatal(errors.CombineErrors(err, werr))
				}
				if latest != wlatest {
					t.Fatalf("%s: MVCCLatest(%x) = %d, bounded iteration %d", rd.name, k, latest, wlatest)
				}
			}
		}
	})
}

// TestScanMatchesNaiveIteration writes many versions and tombstones of a
// few keys (prefixes of one another), flushing some rounds to sstables,
// and checks that MVCCScan (which skips older versions with Next, then
// NextPrefix) returns exactly what stepping through every version does,
// on the engine, a snapshot and a batch with staged writes.
func TestScanMatchesNaiveIteration(t *testing.T) {
	keys := [][]byte{{}, {'a'}, {'a', 0x00}, {'a', 0x01}, {'a', 'b'}, {'b'}, {0x00}, {0xFF}}
	keyGen := rapid.SampledFrom(keys)
	tsGen := rapid.Int64Range(1, 12)
	rapid.Check(t, func(t *rapid.T) {
		e, err := Open("store", Options{FS: vfs.NewMem()})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = e.Close() }()
		write := func(b *Batch, label string) {
			k, ts := keyGen.Draw(t, label+"k"), tsGen.Draw(t, label+"ts")
			var err error
			if rapid.IntRange(0, 4).Draw(t, label+"del") == 0 {
				err = b.MVCCDelete(k, ts)
			} else {
				err = b.MVCCPut(k, ts, []byte(fmt.Sprintf("v%d-%x", ts, k)))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for round, rounds := 0, rapid.IntRange(1, 5).Draw(t, "rounds"); round < rounds; round++ {
			b := e.NewBatch()
			for i, n := 0, rapid.IntRange(0, 30).Draw(t, "writes"); i < n; i++ {
				write(b, "")
			}
			commitMaybeFlush(t, e, b)
		}
		snap := e.NewSnapshot()
		defer func() { _ = snap.Close() }()
		staged := e.NewBatch()
		defer staged.Close()
		for i, n := 0, rapid.IntRange(0, 8).Draw(t, "staged"); i < n; i++ {
			write(staged, "s")
		}
		readers := allReaders(e, snap, staged)
		for i, n := 0, rapid.IntRange(1, 10).Draw(t, "scans"); i < n; i++ {
			start, end := keyGen.Draw(t, "start"), keyGen.Draw(t, "end")
			if rapid.Bool().Draw(t, "open") {
				start, end = nil, nil
			}
			ts, limit := rapid.Int64Range(0, 13).Draw(t, "rts"), rapid.IntRange(0, 4).Draw(t, "limit")
			for _, rd := range readers {
				var got []string
				err := rd.r.MVCCScan(start, end, ts, limit, func(k, v []byte, vts int64) error {
					got = append(got, fmt.Sprintf("%x@%d=%s", k, vts, v))
					return nil
				})
				want, werr := naiveScan(rd.pr, start, end, ts, limit)
				if err != nil || werr != nil {
					t.Fatal(errors.CombineErrors(err, werr))
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s: MVCCScan(%x, %x, %d, limit %d) = %v, stepping through every version: %v",
						rd.name, start, end, ts, limit, got, want)
				}
			}
		}
	})
}

// naiveScan visits every version in the span with Next and keeps, per
// key, the newest at or below ts that is not a tombstone.
func naiveScan(r pebble.Reader, start, end []byte, ts int64, limit int) ([]string, error) {
	if ts <= 0 {
		return nil, nil
	}
	lower, upper := mvccSpanBounds(start, end)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	var out []string
	var done []byte // prefix of the key already decided
	for valid := it.First(); valid; valid = it.Next() {
		prefix, vts, _ := splitRawMVCC(it.Key())
		if done != nil && bytes.Equal(prefix, done) || vts > ts {
			continue
		}
		done = append(done[:0], prefix...)
		v, tomb, err := decodeValue(it.Value())
		if err != nil {
			return nil, err
		}
		if !tomb {
			out = append(out, fmt.Sprintf("%x@%d=%s", unescapeInto(nil, prefix), vts, v))
			if limit > 0 && len(out) >= limit {
				break
			}
		}
	}
	return out, it.Error()
}

// commitMaybeFlush commits and closes b, then flushes the memtable to an
// sstable when rapid says so.
func commitMaybeFlush(t *rapid.T, e *Engine, b *Batch) {
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if rapid.Bool().Draw(t, "flush") {
		if err := e.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// testReader is one of the three views the property tests read through,
// with the raw Pebble reader the reference implementations use.
type testReader struct {
	name string
	r    Reader
	pr   pebble.Reader
}

func allReaders(e *Engine, snap *Snapshot, staged *Batch) []testReader {
	return []testReader{{"engine", e, e.db}, {"snapshot", snap, snap.s}, {"batch", staged, staged.b}}
}
