package txn

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"pgregory.net/rapid"
)

// TestParticipantDataDriven runs the scripts in testdata/participant
// against one Participant over a MemStore. Rewrite expectations with
// -rewrite. Transactions are named (TxnID = the name's bytes) and printed
// by name. A command that panics with an assertion failure prints
// "assertion failed: <message>"; the state is left as the panic left it
// (a real replica would crash).
//
//	new [group=G] [max-tombstones=N]
//	    A fresh store and participant for group G (default 1).
//	prepare txn=N ts=T [start=S] [coord=G] [parts=(G,...)] [writes=(k=v,k,...)] [reads=(k,...)]
//	    Prepare with prepare timestamp T, start timestamp S (default 1),
//	    coordinator G (default this group), participants (default this
//	    group and the coordinator). A write "k=v" puts v, a bare "k"
//	    deletes k. Prints the status and the record in effect or outcome.
//	commit txn=N ts=T
//	    Commit at T; prints "committed" or "no-op".
//	abort txn=N
//	    Abort; prints "aborted" or "no-op".
//	commit-1pc txn=N ts=T [writes=(...)]
//	    CommitOnePhase; prints the outcome in effect.
//	forget txn=N
//	    Forget; prints the forgotten horizon.
//	decided txn=N
//	    The remembered outcome, or "unknown".
//	prepared
//	    The prepared records, then min-prepared.
//	restart
//	    Reopen the participant over the same store (a node restart).
//	snapshot
//	    Copy the group's record span and the versions into a fresh store
//	    (a Raft snapshot sent to another replica) and open the
//	    participant there; later commands run on the copy.
//	versions
//	    The MVCC versions: "k@ts=v" or "k@ts=<deleted>".
//	records
//	    The raw records under the group's span, one a line, decoded.
//	locks
//	    RebuildLocks into a lock table holding the live (unprepared) txns
//	    declared with "lock" lines in the input ("N k shared|exclusive");
//	    prints the dropped txns and the table.
//	safe-time closed=C
//	    SafeTime(C, MinPreparedTS()).
func TestParticipantDataDriven(t *testing.T) {
	for _, filter := range []bool{false, true} {
		t.Run(fmt.Sprint("filter=", filter), func(t *testing.T) { testParticipantDataDriven(t, filter) })
	}
}

// testParticipantDataDriven runs the participant's data-driven tests
// with or without the in-memory tombstone filter: the outcomes are the
// same.
func testParticipantDataDriven(t *testing.T, filter bool) {
	datadriven.Walk(t, "testdata/participant", func(t *testing.T, path string) {
		var store *MemStore
		var p *Participant
		var group GroupID
		var opts ParticipantOptions
		open := func() {
			var err error
			if p, err = OpenParticipant(group, store, opts); err != nil {
				t.Fatal(err)
			}
		}
		reset := func(d *datadriven.TestData) {
			g, n := uint64(1), 0
			if d != nil {
				d.MaybeScanArgs(t, "group", &g)
				d.MaybeScanArgs(t, "max-tombstones", &n)
			}
			group, opts, store = GroupID(g), ParticipantOptions{MaxTombstones: n, FilterTombstones: filter}, NewMemStore()
			open()
		}
		reset(nil)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return catchAssertion(t, func() string {
				switch d.Cmd {
				case "new":
					reset(d)
					return ""
				case "prepare":
					res, err := p.Prepare(scanPrepare(t, d, group))
					if err != nil {
						return "error: " + err.Error()
					}
					return fmtPrepareResult(res)
				case "commit":
					var ts int64
					d.ScanArgs(t, "ts", &ts)
					applied, err := p.Commit(argID(t, d), ts)
					return fmtApplied(applied, err, "committed")
				case "abort":
					applied, err := p.Abort(argID(t, d))
					return fmtApplied(applied, err, "aborted")
				case "commit-1pc":
					var ts int64
					d.ScanArgs(t, "ts", &ts)
					o, err := p.CommitOnePhase(argID(t, d), ts, scanWrites(d))
					if err != nil {
						return "error: " + err.Error()
					}
					return fmtOutcome(o)
				case "forget":
					if err := p.Forget(argID(t, d)); err != nil {
						return "error: " + err.Error()
					}
					return fmt.Sprintf("forgotten-ts=%d", p.ForgottenTS())
				case "decided":
					o, ok, err := p.Decided(argID(t, d))
					if err != nil {
						return "error: " + err.Error()
					}
					if !ok {
						return "unknown"
					}
					return fmtOutcome(o)
				case "prepared":
					return fmtPrepared(p)
				case "restart":
					open()
					return fmtPrepared(p)
				case "snapshot":
					next := NewMemStore()
					start, end := RecordSpan(group)
					store.CopyTo(next, start, end)
					store = next
					open()
					return fmtPrepared(p)
				case "versions":
					return fmtVersions(store)
				case "records":
					return fmtRecords(t, store, group)
				case "locks":
					return rebuildLocks(t, d, p)
				case "safe-time":
					var closed int64
					d.ScanArgs(t, "closed", &closed)
					m, ok := p.MinPreparedTS()
					return strconv.FormatInt(SafeTime(closed, m, ok), 10)
				}
				d.Fatalf(t, "unknown command %q", d.Cmd)
				return ""
			})
		})
	})
}

// catchAssertion runs f and turns an assertion-failure panic into output.
func catchAssertion(t *testing.T, f func() string) (out string) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		err, ok := r.(error)
		if !ok || !errors.HasAssertionFailure(err) {
			panic(r)
		}
		out = "assertion failed: " + namesInMessage(err.Error())
	}()
	return f()
}

// namesInMessage replaces hex TxnIDs of named test txns by their names.
func namesInMessage(s string) string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789abcdef", r) })
	for _, f := range fields {
		if len(f) != 32 {
			continue
		}
		if b, err := hex.DecodeString(f); err == nil {
			s = strings.ReplaceAll(s, f, testName(TxnID(b)))
		}
	}
	return s
}

func argID(t *testing.T, d *datadriven.TestData) TxnID {
	var name string
	d.ScanArgs(t, "txn", &name)
	return testID(name)
}

func scanPrepare(t *testing.T, d *datadriven.TestData, group GroupID) PrepareRecord {
	r := PrepareRecord{ID: argID(t, d), StartTS: 1, Coordinator: group}
	d.ScanArgs(t, "ts", &r.PrepareTS)
	d.MaybeScanArgs(t, "start", &r.StartTS)
	var coord uint64
	if d.MaybeScanArgs(t, "coord", &coord) {
		r.Coordinator = GroupID(coord)
	}
	if a, ok := d.Arg("parts"); ok {
		for _, v := range a.Vals {
			g, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				d.Fatalf(t, "bad group %q", v)
			}
			r.Participants = append(r.Participants, GroupID(g))
		}
	} else {
		r.Participants = []GroupID{group}
		if r.Coordinator != group {
			r.Participants = append(r.Participants, r.Coordinator)
		}
		slices.Sort(r.Participants)
	}
	r.Writes = scanWrites(d)
	if a, ok := d.Arg("reads"); ok {
		for _, v := range a.Vals {
			r.ReadKeys = append(r.ReadKeys, []byte(v))
		}
	}
	return r
}

func scanWrites(d *datadriven.TestData) []Write {
	a, ok := d.Arg("writes")
	if !ok {
		return nil
	}
	var ws []Write
	for _, v := range a.Vals {
		if k, val, ok := strings.Cut(v, "="); ok {
			ws = append(ws, Write{Key: []byte(k), Value: []byte(val)})
		} else {
			ws = append(ws, Write{Key: []byte(v), Delete: true})
		}
	}
	return ws
}

func fmtApplied(applied bool, err error, what string) string {
	switch {
	case err != nil:
		return "error: " + err.Error()
	case applied:
		return what
	}
	return "no-op"
}

func fmtOutcome(o Outcome) string {
	s := o.Decision.String()
	if o.Decision == DecisionCommit {
		s += fmt.Sprintf(" at %d", o.CommitTS)
	}
	if o.PrepareTS != 0 {
		s += fmt.Sprintf(" (prepared at %d)", o.PrepareTS)
	}
	return s
}

func fmtPrepareResult(res PrepareResult) string {
	switch res.Status {
	case Prepared, AlreadyPrepared:
		return res.Status.String() + " " + fmtRecord(res.Record)
	case AlreadyDecided:
		return res.Status.String() + ": " + fmtOutcome(res.Outcome)
	}
	return res.Status.String()
}

func fmtRecord(r PrepareRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s ts=%d start=%d coord=%d parts=%v", testName(r.ID), r.PrepareTS, r.StartTS,
		r.Coordinator, r.Participants)
	if len(r.Writes) > 0 {
		b.WriteString(" writes=")
		for i, w := range r.Writes {
			if i > 0 {
				b.WriteString(",")
			}
			b.Write(w.Key)
			if !w.Delete {
				b.WriteString("=")
				b.Write(w.Value)
			}
		}
	}
	if len(r.ReadKeys) > 0 {
		b.WriteString(" reads=" + string(bytes.Join(r.ReadKeys, []byte(","))))
	}
	return b.String()
}

func fmtPrepared(p *Participant) string {
	var b strings.Builder
	for _, r := range p.Prepared() {
		b.WriteString(fmtRecord(r) + "\n")
	}
	if m, ok := p.MinPreparedTS(); ok {
		fmt.Fprintf(&b, "min-prepared=%d\n", m)
	} else {
		b.WriteString("min-prepared=none\n")
	}
	return b.String()
}

func fmtVersions(s *MemStore) string {
	var b strings.Builder
	for _, k := range s.VersionKeys() {
		tss, vs := s.Versions(k)
		for i, ts := range tss {
			if vs[i].Delete {
				fmt.Fprintf(&b, "%s@%d=<deleted>\n", k, ts)
			} else {
				fmt.Fprintf(&b, "%s@%d=%s\n", k, ts, vs[i].Value)
			}
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// fmtRecords decodes the raw records of group's span, showing the key
// layout: kind byte, then txn name or sequence.
func fmtRecords(t *testing.T, s *MemStore, group GroupID) string {
	var b strings.Builder
	start, end := RecordSpan(group)
	_ = s.ScanRecords(start, end, func(k, v []byte) bool {
		kind, rest := k[len(start)], k[len(start)+1:]
		switch kind {
		case kindPrepared:
			r, err := DecodePrepareRecord(v)
			check(t, err)
			fmt.Fprintf(&b, "p/%s: %s\n", testName(TxnID(rest)), fmtRecord(r))
		case kindTombstone:
			ts, err := decodeTombstone(v)
			check(t, err)
			fmt.Fprintf(&b, "d/%s: %s seq=%d\n", testName(TxnID(rest)), fmtOutcome(ts.Outcome), ts.seq)
		case kindAgeOrder:
			fmt.Fprintf(&b, "q/%d/%s\n", binary.BigEndian.Uint64(rest), testName(TxnID(rest[8:])))
		case kindMeta:
			m, err := decodeMeta(v)
			check(t, err)
			fmt.Fprintf(&b, "m: next-seq=%d tombstones=%d forgotten-ts=%d\n", m.nextSeq, m.tombstones, m.forgottenTS)
		case kindDecision:
			r, err := DecodeDecisionRecord(v)
			check(t, err)
			fmt.Fprintf(&b, "c/%s: %s\n", testName(TxnID(rest)), fmtDecision(r))
		default:
			fmt.Fprintf(&b, "?%x\n", k)
		}
		return true
	})
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func rebuildLocks(t *testing.T, d *datadriven.TestData, p *Participant) string {
	lt := NewLockTable(LockTableOptions{})
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			d.Fatalf(t, "bad lock line %q", line)
		}
		if res := lt.Acquire(TxnMeta{ID: testID(f[0]), StartTS: 100}, []byte(f[1]), parseMode(t, d, f[2])); res.Status != Granted {
			d.Fatalf(t, "lock line %q: %s", line, res.Status)
		}
	}
	dropped := RebuildLocks(lt, p.Prepared())
	return "dropped " + fmtIDs(dropped) + "\n" + fmtTable(lt)
}

// TestRecordEncodingRoundTrip checks that every record decodes to what was
// encoded, and that truncations never decode successfully into garbage.
func TestRecordEncodingRoundTrip(t *testing.T) {
	bs := rapid.SliceOfN(rapid.Byte(), 0, 8)
	groups := rapid.SliceOfN(rapid.Uint64().AsAny(), 0, 4)
	toGroups := func(vs []any) []GroupID {
		var gs []GroupID
		for _, v := range vs {
			gs = append(gs, GroupID(v.(uint64)))
		}
		return gs
	}
	rapid.Check(t, func(t *rapid.T) {
		var id TxnID
		copy(id[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "id"))
		r := PrepareRecord{
			ID: id, StartTS: rapid.Int64().Draw(t, "start"), PrepareTS: rapid.Int64().Draw(t, "prep"),
			Coordinator: GroupID(rapid.Uint64().Draw(t, "coord")), Participants: toGroups(groups.Draw(t, "parts")),
		}
		for i := range rapid.IntRange(0, 3).Draw(t, "nw") {
			w := Write{Key: bs.Draw(t, fmt.Sprint("k", i)), Delete: rapid.Bool().Draw(t, fmt.Sprint("del", i))}
			if !w.Delete {
				w.Value = bs.Draw(t, fmt.Sprint("v", i))
			}
			r.Writes = append(r.Writes, w)
		}
		for i := range rapid.IntRange(0, 3).Draw(t, "nr") {
			r.ReadKeys = append(r.ReadKeys, bs.Draw(t, fmt.Sprint("r", i)))
		}
		enc := EncodePrepareRecord(&r)
		got, err := DecodePrepareRecord(enc)
		if err != nil || fmtRecordFull(got) != fmtRecordFull(r) {
			t.Fatalf("round trip: %v\n%s\n%s", err, fmtRecordFull(got), fmtRecordFull(r))
		}
		n := rapid.IntRange(0, len(enc)-1).Draw(t, "cut")
		if _, err := DecodePrepareRecord(enc[:n]); !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("truncated to %d of %d bytes: %v", n, len(enc), err)
		}
		dr := DecisionRecord{
			ID: id, Decision: DecisionCommit + Decision(rapid.IntRange(0, 1).Draw(t, "d")),
			CommitTS: rapid.Int64().Draw(t, "cts"), Participants: toGroups(groups.Draw(t, "dp")),
			Acked: toGroups(groups.Draw(t, "da")),
		}
		gotD, err := DecodeDecisionRecord(EncodeDecisionRecord(&dr))
		if err != nil || fmt.Sprint(gotD) != fmt.Sprint(dr) {
			t.Fatalf("decision round trip: %v\n%v\n%v", err, gotD, dr)
		}
	})
}

// fmtRecordFull prints a record distinguishing nil from empty nowhere:
// empty and nil slices decode alike.
func fmtRecordFull(r PrepareRecord) string {
	s := fmt.Sprintf("%x %d %d %d %v %q", r.ID, r.StartTS, r.PrepareTS, r.Coordinator, r.Participants, r.ReadKeys)
	for _, w := range r.Writes {
		s += fmt.Sprintf(" %q=%q/%t", w.Key, w.Value, w.Delete)
	}
	return s
}

// FuzzDecodeRecords checks that decoders never panic and that what
// decodes re-encodes to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	r := PrepareRecord{ID: testID("a"), StartTS: 1, PrepareTS: 2, Coordinator: 1, Participants: []GroupID{1},
		Writes: []Write{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("d"), Delete: true}}, ReadKeys: [][]byte{[]byte("r")}}
	f.Add(EncodePrepareRecord(&r))
	f.Add(EncodeDecisionRecord(&DecisionRecord{ID: testID("a"), Decision: DecisionAbort, Participants: []GroupID{1, 2}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodePrepareRecord(b); err == nil && !bytes.Equal(EncodePrepareRecord(&r), b) {
			// Non-canonical varints may decode; re-encoding must then decode
			// to the same record.
			r2, err := DecodePrepareRecord(EncodePrepareRecord(&r))
			if err != nil || fmtRecordFull(r2) != fmtRecordFull(r) {
				t.Fatalf("re-encoding changed the record: %v", err)
			}
		}
		if r, err := DecodeDecisionRecord(b); err == nil {
			r2, err := DecodeDecisionRecord(EncodeDecisionRecord(&r))
			if err != nil || fmt.Sprint(r2) != fmt.Sprint(r) {
				t.Fatalf("re-encoding changed the decision: %v", err)
			}
		}
	})
}

// TestParticipantStoreErrors checks that store errors are returned, not
// dropped or panicked on.
func TestParticipantStoreErrors(t *testing.T) {
	s := &failingStore{MemStore: NewMemStore()}
	p, err := OpenParticipant(1, s, ParticipantOptions{})
	check(t, err)
	rec := PrepareRecord{ID: testID("a"), StartTS: 1, PrepareTS: 5, Coordinator: 1, Participants: []GroupID{1},
		Writes: []Write{{Key: []byte("k"), Value: []byte("v")}}}
	s.fail = true
	if _, err := p.Prepare(rec); !errors.Is(err, errInjected) {
		t.Fatalf("prepare: %v", err)
	}
	s.fail = false
	_, err = p.Prepare(rec)
	check(t, err)
	s.fail = true
	if _, err := p.Commit(rec.ID, 6); !errors.Is(err, errInjected) {
		t.Fatalf("commit: %v", err)
	}
	if _, err := p.Abort(rec.ID); !errors.Is(err, errInjected) {
		t.Fatalf("abort: %v", err)
	}
}

var errInjected = errors.New("injected store failure")

type failingStore struct {
	*MemStore
	fail bool
}

func (s *failingStore) GetRecord(k []byte) ([]byte, bool, error) {
	if s.fail {
		return nil, false, errInjected
	}
	return s.MemStore.GetRecord(k)
}

func (s *failingStore) PutRecord(k, v []byte) error {
	if s.fail {
		return errInjected
	}
	return s.MemStore.PutRecord(k, v)
}

func (s *failingStore) DeleteRecord(k []byte) error {
	if s.fail {
		return errInjected
	}
	return s.MemStore.DeleteRecord(k)
}

func (s *failingStore) PutVersion(k []byte, ts int64, v []byte) error {
	if s.fail {
		return errInjected
	}
	return s.MemStore.PutVersion(k, ts, v)
}

// TestParticipantDuplicateDelivery delivers each transaction's prepare and
// decision, with duplicates, in random interleavings (a commit only after
// its prepare applied, as the protocol guarantees; an abort at any time),
// with random restarts and a small tombstone bound so that tombstones are
// evicted. Prepare timestamps are assigned as a leader does: above every
// timestamp assigned or committed so far. It checks that no assertion
// fires, that a committed transaction never prepares again, that exactly
// the committed writes are installed at their commit timestamps, and that
// nothing stays prepared once every decision was re-driven. Failures print
// a replayable seed (rapid).
func TestParticipantDuplicateDelivery(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 6).Draw(t, "txns")
		store := NewMemStore()
		opts := ParticipantOptions{MaxTombstones: rapid.IntRange(1, 8).Draw(t, "max-tombstones"),
			FilterTombstones: rapid.Bool().Draw(t, "filter")}
		p, err := OpenParticipant(1, store, opts)
		if err != nil {
			t.Fatal(err)
		}
		type txnPlan struct {
			commit            bool
			prepareTS         int64 // 0 until first delivered
			prepared, decided bool
		}
		var lastTS int64 // the leader's last assigned or observed timestamp
		plans := make([]txnPlan, n)
		for i := range plans {
			plans[i].commit = rapid.Bool().Draw(t, fmt.Sprint("commit", i))
		}
		rec := func(i int) PrepareRecord {
			if plans[i].prepareTS == 0 {
				lastTS++
				plans[i].prepareTS = lastTS
			}
			return PrepareRecord{ID: testID(fmt.Sprint("t", i)), StartTS: 1, PrepareTS: plans[i].prepareTS,
				Coordinator: 1, Participants: []GroupID{1},
				Writes: []Write{{Key: []byte(fmt.Sprint("k", i)), Value: []byte("v")}}}
		}
		deliver := func(i int) {
			pl := &plans[i]
			var err error
			if pl.commit {
				commitTS := pl.prepareTS + 5
				_, err = p.Commit(rec(i).ID, commitTS)
				lastTS = max(lastTS, commitTS)
			} else {
				_, err = p.Abort(rec(i).ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			pl.decided = true
		}
		for step := range rapid.IntRange(1, 60).Draw(t, "steps") {
			i := rapid.IntRange(0, n-1).Draw(t, fmt.Sprint("txn", step))
			pl := &plans[i]
			switch rapid.IntRange(0, 2).Draw(t, fmt.Sprint("op", step)) {
			case 0:
				res, err := p.Prepare(rec(i))
				if err != nil {
					t.Fatal(err)
				}
				if res.Status == Prepared && pl.commit && pl.decided {
					t.Fatalf("committed txn %d prepared again", i)
				}
				pl.prepared = pl.prepared || res.Status == Prepared || res.Status == AlreadyPrepared
			case 1:
				if pl.commit && !pl.prepared {
					continue
				}
				deliver(i)
			case 2:
				if p, err = OpenParticipant(1, store, opts); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A recovering coordinator re-drives every decision; a commit
		// only once its prepare was applied.
		for i := range plans {
			if plans[i].commit && !plans[i].prepared {
				res, err := p.Prepare(rec(i))
				if err != nil || res.Status != Prepared {
					t.Fatalf("txn %d: first prepare: %v %v", i, res.Status, err)
				}
			}
			deliver(i)
		}
		if got := p.Prepared(); len(got) != 0 {
			t.Fatalf("still prepared: %d records", len(got))
		}
		for i, pl := range plans {
			tss, _ := store.Versions([]byte(fmt.Sprint("k", i)))
			want := "[]"
			if pl.commit {
				want = fmt.Sprint([]int64{pl.prepareTS + 5})
			}
			if fmt.Sprint(tss) != want {
				t.Fatalf("txn %d (commit=%t): versions %v, want %s", i, pl.commit, tss, want)
			}
		}
	})
}

// TestParticipantEvictsInBatches checks eviction beyond MaxTombstones
// when a batch holds more than one tombstone (MaxTombstones/64): the
// oldest go first, the horizon is the largest commit timestamp evicted,
// the count never exceeds the bound, and age entries written without a
// copy of their tombstone (stores from before the copy) still evict.
func TestParticipantEvictsInBatches(t *testing.T) {
	const max = 128 // evictBatch 2
	store := NewMemStore()
	opts := ParticipantOptions{MaxTombstones: max}
	p, err := OpenParticipant(1, store, opts)
	check(t, err)
	id := func(i int) TxnID { return testID(fmt.Sprintf("t%03d", i)) }
	commit := func(i int) {
		t.Helper()
		o, err := p.CommitOnePhase(id(i), int64(i+1), []Write{{Key: []byte(fmt.Sprint("k", i)), Value: []byte("v")}})
		check(t, err)
		if o.Decision != DecisionCommit {
			t.Fatalf("txn %d: %+v", i, o)
		}
		if p.meta.tombstones > max {
			t.Fatalf("txn %d: %d tombstones, bound %d", i, p.meta.tombstones, max)
		}
	}
	for i := range max {
		commit(i)
	}
	// The oldest two lose their copies, as if written before the copy.
	for i := range 2 {
		check(t, store.PutRecord(ageKey(1, uint64(i), id(i)), nil))
	}
	p, err = OpenParticipant(1, store, opts)
	check(t, err)
	commit(max) // 129 tombstones: evict t000 and t001
	if got := p.meta.tombstones; got != max-1 {
		t.Fatalf("after the first eviction: %d tombstones, want %d", got, max-1)
	}
	if got := p.ForgottenTS(); got != 2 {
		t.Fatalf("horizon %d, want 2 (t001's commit)", got)
	}
	commit(max + 1) // 128: no eviction
	commit(max + 2) // 129: evict t002 and t003 from their copies
	if got := p.ForgottenTS(); got != 4 {
		t.Fatalf("horizon %d, want 4 (t003's commit)", got)
	}
	for i := range max + 3 {
		_, ok, err := p.Decided(id(i))
		check(t, err)
		if want := i >= 4; ok != want {
			t.Fatalf("txn %d: remembered %t, want %t", i, ok, want)
		}
	}
}

// TestTombFilter: every added ID is reported as maybe present, and at
// capacity few others are.
func TestTombFilter(t *testing.T) {
	const n = 10_000
	rng := rand.New(rand.NewPCG(1, 2))
	id := func() TxnID {
		var id TxnID
		binary.LittleEndian.PutUint64(id[:8], rng.Uint64())
		binary.LittleEndian.PutUint64(id[8:], rng.Uint64())
		return id
	}
	f := newTombFilter(n)
	added := make([]TxnID, n)
	for i := range added {
		added[i] = id()
		f.add(added[i])
	}
	for _, a := range added {
		if !f.mayContain(a) {
			t.Fatalf("%s was added and is reported absent", a)
		}
	}
	if f.full() {
		t.Fatal("full at capacity")
	}
	fp := 0
	for range n {
		if f.mayContain(id()) {
			fp++
		}
	}
	if fp > n/20 {
		t.Fatalf("%d of %d IDs never added reported present", fp, n)
	}
	f.add(id())
	if !f.full() {
		t.Fatal("not full past capacity")
	}
}

// TestParticipantFilterAcrossRebuilds: with the tombstone filter on, a
// participant that decides many more transactions than the filter was
// first sized for (so that it is rebuilt from the store as it fills)
// still finds every tombstone it keeps, before and after a reopen.
func TestParticipantFilterAcrossRebuilds(t *testing.T) {
	const max, n = 1000, 3000
	store := NewMemStore()
	opts := ParticipantOptions{MaxTombstones: max, FilterTombstones: true}
	p, err := OpenParticipant(1, store, opts)
	check(t, err)
	id := func(i int) TxnID { return testID(fmt.Sprintf("f%05d", i)) }
	for i := range n {
		if _, err := p.CommitOnePhase(id(i), int64(i+1), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, reopen := range []bool{false, true} {
		if reopen {
			p, err = OpenParticipant(1, store, opts)
			check(t, err)
		}
		kept := 0
		for i := range n {
			_, ok, err := p.Decided(id(i))
			check(t, err)
			if ok {
				kept++
			} else if i >= n-max+int(p.evictBatch()) {
				t.Fatalf("reopen=%t: txn %d, among the newest, has no tombstone", reopen, i)
			}
		}
		if kept != int(p.meta.tombstones) {
			t.Fatalf("reopen=%t: %d tombstones found, %d stored", reopen, kept, p.meta.tombstones)
		}
	}
}
