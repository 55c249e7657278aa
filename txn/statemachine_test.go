package txn_test

import (
	"math"
	"testing"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/storage"
	"github.com/meridiandb/meridian/txn"
	"google.golang.org/protobuf/proto"
)

// smHarness applies commands the way a replica does: one batch per
// command, committed, with the ApplyContext carried across.
type smHarness struct {
	t  *testing.T
	e  *storage.Engine
	sm *txn.StateMachine
	ac *paxosgroup.ApplyContext
}

func newSMHarness(t *testing.T) *smHarness {
	e, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	sm, err := txn.NewStateMachine(txn.ParticipantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	desc := &pb.GroupDescriptor{GroupId: 7, StartKey: []byte("a"), EndKey: []byte("m")}
	return &smHarness{t: t, e: e, sm: sm, ac: &paxosgroup.ApplyContext{Descriptor: desc}}
}

// records counts the transaction records of the harness's group.
func (h *smHarness) records() int {
	h.t.Helper()
	start, end := txn.RecordSpan(7)
	n := 0
	if err := h.e.ScanRecords(start, end, func(_, _ []byte) bool { n++; return true }); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *smHarness) apply(c *pb.TxnCommand) (*pb.TxnResult, error) {
	h.t.Helper()
	data, err := proto.Marshal(c)
	if err != nil {
		h.t.Fatal(err)
	}
	b := h.e.NewBatch()
	defer b.Close()
	h.ac.Index++
	out, err := h.sm.Apply(b, h.ac, data)
	if err != nil {
		return nil, err
	}
	if err := b.Commit(false); err != nil {
		h.t.Fatal(err)
	}
	res := &pb.TxnResult{}
	if err := proto.Unmarshal(out, res); err != nil {
		h.t.Fatal(err)
	}
	return res, nil
}

func (h *smHarness) mustApply(c *pb.TxnCommand) *pb.TxnResult {
	h.t.Helper()
	res, err := h.apply(c)
	if err != nil {
		h.t.Fatalf("apply %v: %v", c, err)
	}
	return res
}

func (h *smHarness) get(key string) (string, int64, bool) {
	h.t.Helper()
	v, ts, ok, err := h.e.MVCCGet([]byte(key), math.MaxInt64)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(v), ts, ok
}

func id(b byte) []byte { var x txn.TxnID; x[0] = b; return x[:] }

func prepare(t *testing.T, txnByte byte, prepareTS int64, writes ...txn.Write) *pb.TxnCommand {
	var tid txn.TxnID
	tid[0] = txnByte
	rec := &txn.PrepareRecord{ID: tid, StartTS: 1, PrepareTS: prepareTS, Coordinator: 7,
		Participants: []txn.GroupID{3, 7}, Writes: writes, ReadKeys: [][]byte{[]byte("c")}}
	return &pb.TxnCommand{Cmd: &pb.TxnCommand_Prepare{Prepare: txn.EncodePrepareRecord(rec)}}
}

func TestStateMachineTwoPhaseCommit(t *testing.T) {
	h := newSMHarness(t)
	res := h.mustApply(prepare(t, 1, 100, txn.Write{Key: []byte("b"), Value: []byte("v1")}))
	if res.PrepareStatus != "prepared" || res.PrepareTs != 100 {
		t.Fatalf("prepare: %v", res)
	}
	if _, _, ok := h.get("b"); ok {
		t.Fatal("prepared write visible before commit")
	}
	// A duplicate prepare keeps the first record.
	if res := h.mustApply(prepare(t, 1, 150)); res.PrepareStatus != "already-prepared" || res.PrepareTs != 100 {
		t.Fatalf("duplicate prepare: %v", res)
	}
	// The coordinator's decision: first wins.
	dec := func(commit bool, ts int64) *pb.TxnCommand {
		return &pb.TxnCommand{Cmd: &pb.TxnCommand_Decide{Decide: &pb.TxnDecide{TxnId: id(1), Commit: commit, CommitTs: ts, Participants: []uint64{3, 7}}}}
	}
	if res := h.mustApply(dec(true, 200)); res.Decision != pb.TxnResult_COMMIT || res.CommitTs != 200 {
		t.Fatalf("decide: %v", res)
	}
	if res := h.mustApply(dec(false, 0)); res.Decision != pb.TxnResult_COMMIT {
		t.Fatalf("a later abort decision changed the commit: %v", res)
	}
	// The coordinator (group 7) is a participant: the decision applied
	// its own part and acknowledged it.
	if v, ts, ok := h.get("b"); !ok || v != "v1" || ts != 200 {
		t.Fatalf("after the decision: b = %q@%d %v", v, ts, ok)
	}
	if h.ac.MaxWriteTS != 200 {
		t.Fatalf("MaxWriteTS = %d, want 200", h.ac.MaxWriteTS)
	}
	commit := &pb.TxnCommand{Cmd: &pb.TxnCommand_Commit{Commit: &pb.TxnCommit{TxnId: id(1), CommitTs: 200}}}
	h.mustApply(commit) // duplicate delivery
	ack := func(g uint64) *pb.TxnResult {
		return h.mustApply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Ack{Ack: &pb.TxnAck{TxnId: id(1), Participant: g}}})
	}
	if !ack(3).AllAcked {
		t.Fatal("not all acked after the other participant's ack")
	}
	if !ack(7).AllAcked {
		t.Fatal("duplicate ack of the coordinator's own part")
	}
	// A single-key write afterwards lands above the transaction's version.
	kv := h.mustApply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Kv{Kv: &pb.KVCommand{Key: []byte("b"), Value: []byte("v2"), Timestamp: 5}}})
	if kv.Timestamp != 201 {
		t.Fatalf("KV write at %d, want 201", kv.Timestamp)
	}
}

func TestStateMachineAbortAndOnePhase(t *testing.T) {
	h := newSMHarness(t)
	h.mustApply(prepare(t, 2, 100, txn.Write{Key: []byte("d"), Value: []byte("x")}))
	h.mustApply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Abort{Abort: id(2)}})
	if _, _, ok := h.get("d"); ok {
		t.Fatal("aborted write visible")
	}
	// A late prepare of the aborted transaction is not re-prepared.
	if res := h.mustApply(prepare(t, 2, 120)); res.PrepareStatus != "already-decided" || res.Decision != pb.TxnResult_ABORT {
		t.Fatalf("late prepare: %v", res)
	}
	one := &pb.TxnCommand{Cmd: &pb.TxnCommand_OnePhase{OnePhase: &pb.TxnOnePhase{TxnId: id(3), Ts: 300,
		Writes: []*pb.TxnWrite{{Key: []byte("e"), Value: []byte("y")}, {Key: []byte("f"), Delete: true}}}}}
	if res := h.mustApply(one); res.Decision != pb.TxnResult_COMMIT || res.CommitTs != 300 {
		t.Fatalf("one-phase: %v", res)
	}
	if v, ts, ok := h.get("e"); !ok || v != "y" || ts != 300 {
		t.Fatalf("e = %q@%d %v", v, ts, ok)
	}
}

// TestStateMachineUnrecordedOnePhase: an unrecorded one-phase commit
// installs its writes and leaves no transaction record, where a recorded
// one leaves its tombstone; applying it twice installs the same version.
func TestStateMachineUnrecordedOnePhase(t *testing.T) {
	h := newSMHarness(t)
	one := func(txnID byte, ts int64, value string, unrecorded bool) *pb.TxnCommand {
		return &pb.TxnCommand{Cmd: &pb.TxnCommand_OnePhase{OnePhase: &pb.TxnOnePhase{TxnId: id(txnID), Ts: ts,
			Writes: []*pb.TxnWrite{{Key: []byte("b"), Value: []byte(value)}}, Unrecorded: unrecorded}}}
	}
	for range 2 {
		if res := h.mustApply(one(1, 100, "u", true)); res.Decision != pb.TxnResult_COMMIT || res.CommitTs != 100 {
			t.Fatalf("unrecorded: %v", res)
		}
		if v, ts, ok := h.get("b"); !ok || v != "u" || ts != 100 {
			t.Fatalf("b = %q@%d %v", v, ts, ok)
		}
		if n := h.records(); n != 0 {
			t.Fatalf("an unrecorded commit left %d records", n)
		}
	}
	h.mustApply(one(2, 200, "r", false))
	if n := h.records(); n == 0 {
		t.Fatal("a recorded commit left no record")
	}
	if v, ts, ok := h.get("b"); !ok || v != "r" || ts != 200 {
		t.Fatalf("b = %q@%d %v", v, ts, ok)
	}
}

// TestStateMachineRefusesWhatTheProtocolNeverSends: commands that would
// break an invariant are refused as outcomes on every replica, never
// panics that would crash-loop the group.
func TestStateMachineRefusesWhatTheProtocolNeverSends(t *testing.T) {
	h := newSMHarness(t)
	h.mustApply(prepare(t, 1, 100, txn.Write{Key: []byte("b"), Value: []byte("v")}))
	cases := map[string]*pb.TxnCommand{
		"garbage":                  {},
		"short id":                 {Cmd: &pb.TxnCommand_Abort{Abort: []byte{1}}},
		"commit at prepare ts":     {Cmd: &pb.TxnCommand_Commit{Commit: &pb.TxnCommit{TxnId: id(1), CommitTs: 100}}},
		"commit never prepared":    {Cmd: &pb.TxnCommand_Commit{Commit: &pb.TxnCommit{TxnId: id(9), CommitTs: 500}}},
		"one-phase of a prepared":  {Cmd: &pb.TxnCommand_OnePhase{OnePhase: &pb.TxnOnePhase{TxnId: id(1), Ts: 500}}},
		"unrecorded of a prepared": {Cmd: &pb.TxnCommand_OnePhase{OnePhase: &pb.TxnOnePhase{TxnId: id(1), Ts: 500, Unrecorded: true}}},
		"decision not here":        {Cmd: &pb.TxnCommand_Decide{Decide: &pb.TxnDecide{TxnId: id(1), Commit: true, CommitTs: 200, Participants: []uint64{3}}}},
	}
	for name, c := range cases {
		if _, err := h.apply(c); !errors.Is(err, txn.ErrInvalidCommand) {
			t.Errorf("%s: got %v, want ErrInvalidCommand", name, err)
		}
	}
	h.mustApply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Commit{Commit: &pb.TxnCommit{TxnId: id(1), CommitTs: 200}}})
	if _, err := h.apply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Abort{Abort: id(1)}}); !errors.Is(err, txn.ErrInvalidCommand) {
		t.Errorf("abort after commit: %v", err)
	}
	if _, err := h.apply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Commit{Commit: &pb.TxnCommit{TxnId: id(1), CommitTs: 250}}}); !errors.Is(err, txn.ErrInvalidCommand) {
		t.Errorf("commit at another timestamp: %v", err)
	}
	// Writes outside the group's span are refused as wrong range.
	_, err := h.apply(prepare(t, 4, 100, txn.Write{Key: []byte("z"), Value: []byte("v")}))
	if !errors.Is(err, paxosgroup.ErrWrongRange) {
		t.Errorf("prepare outside the span: %v", err)
	}
}

// TestStateMachineCanSplit: a group with a prepared transaction refuses to
// split until the transaction is decided.
func TestStateMachineCanSplit(t *testing.T) {
	h := newSMHarness(t)
	canSplit := func() error {
		b := h.e.NewBatch()
		defer b.Close()
		return h.sm.CanSplit(b, 7)
	}
	if err := canSplit(); err != nil {
		t.Fatalf("empty group: %v", err)
	}
	h.mustApply(prepare(t, 1, 100, txn.Write{Key: []byte("b"), Value: []byte("v")}))
	if err := canSplit(); !errors.Is(err, txn.ErrSplitWithPrepared) {
		t.Fatalf("with a prepared txn: %v", err)
	}
	h.mustApply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Commit{Commit: &pb.TxnCommit{TxnId: id(1), CommitTs: 200}}})
	if err := canSplit(); err != nil {
		t.Fatalf("after the commit: %v", err)
	}
}

// TestStateMachineReloadsOnNewStateGen: the state machine keeps a group's
// participant in memory between commands, and drops it when the replica's
// state changes under it (here: its records cleared, as when a Raft
// snapshot that predates a prepare is installed). With the old generation
// the cached prepared record would still refuse the one-phase commit.
func TestStateMachineReloadsOnNewStateGen(t *testing.T) {
	h := newSMHarness(t)
	h.ac.StateGen = 1
	h.mustApply(prepare(t, 1, 100, txn.Write{Key: []byte("b"), Value: []byte("v")}))
	b := h.e.NewBatch()
	start, end := txn.RecordSpan(7)
	if err := b.ClearRecords(start, end); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	one := &pb.TxnCommand{Cmd: &pb.TxnCommand_OnePhase{OnePhase: &pb.TxnOnePhase{TxnId: id(1), Ts: 300,
		Writes: []*pb.TxnWrite{{Key: []byte("b"), Value: []byte("w")}}}}}
	if _, err := h.apply(one); !errors.Is(err, txn.ErrInvalidCommand) {
		t.Fatalf("same generation: one-phase commit of a cached prepared txn = %v, want ErrInvalidCommand", err)
	}
	h.ac.StateGen = 2
	if res := h.mustApply(one); res.Decision != pb.TxnResult_COMMIT || res.CommitTs != 300 {
		t.Fatalf("new generation: %v", res)
	}
}

// TestStateMachineForgetsAckedDecisions: once every participant acked a
// decision its record is dropped (the records would otherwise grow with
// every transaction), and a late duplicate of the decision is answered
// from the coordinator group's own tombstone: still the first decision.
func TestStateMachineForgetsAckedDecisions(t *testing.T) {
	h := newSMHarness(t)
	dec := func(commit bool, ts int64) *pb.TxnCommand {
		return &pb.TxnCommand{Cmd: &pb.TxnCommand_Decide{Decide: &pb.TxnDecide{TxnId: id(1), Commit: commit, CommitTs: ts, Participants: []uint64{3, 7}}}}
	}
	ack := func(g uint64) *pb.TxnResult {
		return h.mustApply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Ack{Ack: &pb.TxnAck{TxnId: id(1), Participant: g}}})
	}
	h.mustApply(prepare(t, 1, 100, txn.Write{Key: []byte("b"), Value: []byte("v")}))
	h.mustApply(dec(true, 200))
	h.mustApply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Commit{Commit: &pb.TxnCommit{TxnId: id(1), CommitTs: 200}}})
	ack(7)
	before := h.records()
	if !ack(3).AllAcked {
		t.Fatal("not all acked after both")
	}
	if after := h.records(); after != before-1 {
		t.Fatalf("records: %d before the last ack, %d after; want the decision record dropped", before, after)
	}
	for _, c := range []*pb.TxnCommand{dec(false, 0), dec(true, 300)} {
		if res := h.mustApply(c); res.Decision != pb.TxnResult_COMMIT || res.CommitTs != 200 {
			t.Fatalf("late decision %v after the record was dropped: %v, want the commit at 200", c, res)
		}
	}
	if res := ack(3); !res.AllAcked {
		t.Fatalf("duplicate ack: %v", res)
	}
	// A commit asked for a transaction this group never prepared and does
	// not remember is refused, not recorded.
	never := &pb.TxnCommand{Cmd: &pb.TxnCommand_Decide{Decide: &pb.TxnDecide{TxnId: id(9), Commit: true, CommitTs: 500, Participants: []uint64{3, 7}}}}
	if _, err := h.apply(never); !errors.Is(err, txn.ErrInvalidCommand) {
		t.Fatalf("commit decision without a prepare here: %v, want ErrInvalidCommand", err)
	}
	// One entry may acknowledge several participants.
	two := &pb.TxnCommand{Cmd: &pb.TxnCommand_Decide{Decide: &pb.TxnDecide{TxnId: id(2), Commit: false, Participants: []uint64{3, 7}}}}
	h.mustApply(two)
	before = h.records()
	res := h.mustApply(&pb.TxnCommand{Cmd: &pb.TxnCommand_Ack{Ack: &pb.TxnAck{TxnId: id(2), Participant: 3, MoreParticipants: []uint64{7}}}})
	if !res.AllAcked || h.records() != before-1 {
		t.Fatalf("both acked in one entry: %v, records %d -> %d; want all acked and the record dropped", res, before, h.records())
	}
}
