package elle

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// tx builds a transaction; times are in arbitrary nanoseconds.
func tx(inv, comp int64, out Outcome, ops ...Op) Txn {
	return Txn{Invoke: inv, Complete: comp, Outcome: out, Ops: ops}
}

func ok(inv, comp int64, ops ...Op) Txn   { return tx(inv, comp, OK, ops...) }
func info(inv, comp int64, ops ...Op) Txn { return tx(inv, comp, Info, ops...) }
func fail(inv, comp int64, ops ...Op) Txn { return tx(inv, comp, Fail, ops...) }

func mustCheck(t *testing.T, h History, opts Options) Result {
	t.Helper()
	res, err := Check(h, opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return res
}

func TestAnomalies(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    History
		opts Options
		want []AnomalyType // exact set of types; nil means valid
	}{
		{name: "serial", h: History{
			ok(0, 10, Append("x", 1), Read("y")),
			ok(20, 30, Read("x", 1), Append("x", 2), Append("y", 1)),
			ok(40, 50, Read("x", 1, 2), Read("y", 1)),
		}},
		{name: "concurrent, no anomaly", h: History{
			ok(0, 100, Append("x", 1), Append("y", 1)),
			ok(10, 90, Read("x"), Append("z", 1)),
			ok(20, 80, Read("z", 1), Read("x", 1), Append("x", 2)),
			ok(200, 300, Read("x", 1, 2), Read("y", 1), Read("z", 1)),
		}},
		{name: "info and fail txns", h: History{
			info(0, 10, Append("x", 1)),  // observed: committed
			info(20, 30, Append("x", 2)), // never observed: ignored
			fail(40, 50, Append("x", 3)), // aborted, never observed
			ok(60, 70, Read("x", 1), Append("y", 5)),
			info(80, 90, Read("y"), Append("y", 6)), // info reads are not used
			ok(100, 110, Read("x", 1), Read("y", 5, 6)),
		}},
		{name: "read-your-writes", h: History{
			ok(0, 10, Append("x", 1), Read("x", 1), Append("x", 2), Read("x", 1, 2)),
			ok(20, 30, Read("x", 1, 2), Append("x", 3), Read("x", 1, 2, 3)),
		}},
		{name: "G0 write cycle", h: History{
			ok(0, 100, Append("x", 1), Append("y", 2)),
			ok(0, 100, Append("x", 3), Append("y", 4)),
			ok(200, 300, Read("x", 1, 3), Read("y", 4, 2)),
		}, want: []AnomalyType{G0}},
		{name: "G1a aborted read", h: History{
			fail(0, 10, Append("x", 1)),
			ok(20, 30, Read("x", 1)),
		}, want: []AnomalyType{G1a}},
		{name: "G1b intermediate read", h: History{
			ok(0, 10, Append("x", 1), Append("x", 2)),
			ok(5, 30, Read("x", 1)),
			ok(40, 50, Read("x", 1, 2)),
		}, want: []AnomalyType{G1b}},
		{name: "G1c circular information flow", h: History{
			ok(0, 100, Append("x", 1), Read("y", 2)),
			ok(0, 100, Append("y", 2), Read("x", 1)),
		}, want: []AnomalyType{G1c}},
		{name: "G-single read skew", h: History{
			ok(0, 100, Append("x", 1), Append("y", 1)),
			ok(0, 100, Read("x"), Read("y", 1)),
			ok(200, 300, Read("x", 1)),
		}, want: []AnomalyType{GSingle}},
		{name: "G2-item write skew", h: History{
			ok(0, 100, Read("x"), Read("y"), Append("x", 1)),
			ok(0, 100, Read("x"), Read("y"), Append("y", 2)),
			ok(200, 300, Read("x", 1), Read("y", 2)),
		}, want: []AnomalyType{G2Item}},
		{name: "G-single-realtime stale read", h: History{
			ok(0, 10, Append("x", 1)),
			ok(20, 30, Read("x")), // serializable before T0, but invoked after T0 completed
			ok(40, 50, Read("x", 1)),
		}, want: []AnomalyType{GSingleRealtime}},
		{name: "stale read is serializable", opts: Options{NoRealtime: true}, h: History{
			ok(0, 10, Append("x", 1)),
			ok(20, 30, Read("x")),
			ok(40, 50, Read("x", 1)),
		}},
		{name: "G0-realtime", h: History{
			ok(0, 10, Append("x", 1)),
			ok(20, 30, Append("x", 2)),
			ok(40, 50, Read("x", 2, 1)),
		}, want: []AnomalyType{G0Realtime}},
		{name: "G1c-realtime read from the future", h: History{
			ok(0, 10, Read("x", 1)),
			ok(20, 30, Append("x", 1)),
		}, want: []AnomalyType{G1cRealtime}},
		{name: "G2-item-realtime", h: History{
			// T0 -rw-> T1 -rw-> T2 -rt-> T0: each rw alone is explained by
			// a serial order, the pair only fails with real time.
			ok(20, 30, Read("x")),
			ok(0, 100, Append("x", 1), Read("y")),
			ok(0, 10, Append("y", 1)),
			ok(200, 210, Read("x", 1), Read("y", 1)),
		}, want: []AnomalyType{G2ItemRealtime}},
		{name: "G-single-process", opts: Options{NoRealtime: true, ProcessOrder: true}, h: History{
			{Process: 1, Invoke: 0, Complete: 10, Outcome: OK, Ops: []Op{Append("x", 1)}},
			{Process: 1, Invoke: 20, Complete: 30, Outcome: OK, Ops: []Op{Read("x")}},
			{Process: 2, Invoke: 40, Complete: 50, Outcome: OK, Ops: []Op{Read("x", 1)}},
		}, want: []AnomalyType{GSingleProcess}},
		{name: "G-single with an observed info txn", h: History{
			info(0, 100, Append("x", 1), Append("y", 1)),
			ok(0, 100, Read("x"), Read("y", 1)),
			ok(200, 300, Read("x", 1)),
		}, want: []AnomalyType{GSingle}},
		{name: "lost write of an ok txn", h: History{
			ok(0, 10, Append("x", 1)),
			ok(20, 30, Append("x", 2)),
			ok(40, 50, Read("x", 2)),
		}, want: []AnomalyType{G0Realtime, GSingleRealtime}},
		{name: "internal: missing own append", h: History{
			ok(0, 10, Append("x", 1), Read("x")),
		}, want: []AnomalyType{Internal}},
		{name: "internal: read changed within txn", h: History{
			ok(0, 10, Append("x", 5)),
			ok(20, 30, Read("x", 5), Append("x", 6), Read("x", 5)),
			ok(40, 50, Read("x", 5, 6)),
		}, want: []AnomalyType{Internal}},
		{name: "duplicate elements", h: History{
			ok(0, 10, Append("x", 1)),
			ok(20, 30, Read("x", 1, 1)),
		}, want: []AnomalyType{DuplicateElems}},
		{name: "garbage read", h: History{
			ok(0, 10, Append("x", 1)),
			ok(20, 30, Read("x", 1, 99)),
		}, want: []AnomalyType{GarbageRead}},
		{name: "incompatible order: later own append seen, earlier lost", h: History{
			ok(0, 10, Append("x", 1), Append("x", 2)),
			ok(20, 30, Read("x", 2)),
		}, want: []AnomalyType{Incompatible}},
		{name: "incompatible order", h: History{
			ok(0, 100, Append("x", 1)),
			ok(0, 100, Append("x", 2)),
			ok(200, 300, Read("x", 1, 2)),
			ok(200, 300, Read("x", 2, 1)),
		}, want: []AnomalyType{Incompatible}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustCheck(t, tc.h, tc.opts)
			got := res.Types()
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) || res.Valid != (len(want) == 0) {
				t.Fatalf("got %v (valid=%v), want %v\n%s", got, res.Valid, want, res.String())
			}
			for _, a := range res.Anomalies {
				if a.Explanation == "" || len(a.Txns) == 0 {
					t.Fatalf("anomaly without evidence: %+v", a)
				}
				checkCycle(t, a)
			}
			t.Log(res.String())
		})
	}
}

// checkCycle verifies that a cycle anomaly is a closed walk whose edge kinds
// match its type.
func checkCycle(t *testing.T, a Anomaly) {
	t.Helper()
	if len(a.Cycle) == 0 {
		return
	}
	for i, s := range a.Cycle {
		next := a.Cycle[(i+1)%len(a.Cycle)]
		if s.To != next.From || s.Why == "" {
			t.Fatalf("broken cycle in %s", a)
		}
	}
	if _, full := classify(a.Cycle); full != a.Type {
		t.Fatalf("cycle classified %s but reported %s", full, a.Type)
	}
}

func TestExplanation(t *testing.T) {
	res := mustCheck(t, History{
		ok(0, 100, Append("x", 1), Append("y", 1)),
		ok(0, 100, Read("x"), Read("y", 1)),
		ok(200, 300, Read("x", 1)),
	}, Options{})
	if len(res.Anomalies) != 1 {
		t.Fatalf("want 1 anomaly:\n%s", res.String())
	}
	a := res.Anomalies[0]
	for _, want := range []string{
		`T1 read "x" = []; T0 appended 1, the next element`,
		`T1 read "y" with 1 elements, the last from others being 1, which T0 appended`,
	} {
		if !strings.Contains(a.Explanation, want) {
			t.Errorf("explanation lacks %q:\n%s", want, a.Explanation)
		}
	}
	if len(a.Cycle) != 2 || a.Cycle[0].Kind != RW && a.Cycle[1].Kind != RW {
		t.Errorf("unexpected cycle %+v", a.Cycle)
	}
}

func TestTimestampOrder(t *testing.T) {
	h := History{
		ok(0, 10, Append("x", 1)),
		ok(20, 30, Read("x", 1)),
		ok(40, 50, Append("y", 1)),
		ok(60, 70, Read("y", 1)),
	}
	h[0].CommitTS, h[1].CommitTS, h[2].CommitTS, h[3].CommitTS = 100, 200, 300, 400
	if res := mustCheck(t, h, Options{}); !res.Valid {
		t.Fatalf("ordered timestamps reported:\n%s", res.String())
	}
	// wr dependency going back in time.
	h[1].CommitTS = 50
	res := mustCheck(t, h, Options{})
	if !res.Has(TimestampOrder) {
		t.Fatalf("wr against timestamps not found:\n%s", res.String())
	}
	// Real-time order without data dependency: T2 writes y after T0
	// completed (no shared key) but gets a smaller timestamp.
	h[1].CommitTS = 200
	h[2].CommitTS, h[3].CommitTS = 90, 95
	res = mustCheck(t, h, Options{})
	if !res.Has(TimestampOrder) || len(res.Types()) != 1 {
		t.Fatalf("commit-wait violation not found:\n%s", res.String())
	}
}

func TestMalformed(t *testing.T) {
	for _, h := range []History{
		{ok(0, 10, Append("x", 1)), ok(20, 30, Append("x", 1))},
		{ok(10, 0, Append("x", 1))},
		{{Outcome: 0}},
		{ok(0, 1, Op{Kind: 9, Key: "x"})},
	} {
		if _, err := Check(h, Options{}); !errors.Is(err, ErrMalformed) {
			t.Errorf("Check(%v) = %v, want ErrMalformed", h, err)
		}
	}
}

func TestMaxPerType(t *testing.T) {
	var h History
	for i := range 20 {
		h = append(h, ok(int64(i*10), int64(i*10+5), Read(string(rune('a'+i)), 1000+i)))
	}
	res := mustCheck(t, h, Options{MaxPerType: 3})
	if res.Counts[GarbageRead] != 20 || len(res.Anomalies) != 3 {
		t.Fatalf("counts %v, listed %d", res.Counts, len(res.Anomalies))
	}
}

func TestRecorder(t *testing.T) {
	var r Recorder
	done := make(chan int)
	for p := range 4 {
		go func() {
			done <- r.Add(Txn{Process: p, Outcome: OK, Ops: []Op{Append("k", p)}})
		}()
	}
	seen := map[int]bool{}
	for range 4 {
		seen[<-done] = true
	}
	if h := r.History(); len(h) != 4 || len(seen) != 4 {
		t.Fatalf("recorded %d txns, ids %v", len(h), seen)
	}
}
