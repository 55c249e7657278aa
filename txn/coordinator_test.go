package txn

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestCoordinatorDataDriven runs the scripts in testdata/coordinator
// against one Coordinator over a MemStore. Rewrite expectations with
// -rewrite. Transactions are named and printed by name; assertion
// failures print "assertion failed: <message>".
//
//	new [group=G]
//	    A fresh store and coordinator for group G (default 1).
//	decide txn=N commit|abort [ts=T] parts=(G,...)
//	    Decide; prints the recorded decision (which may be an earlier one).
//	inquire txn=N
//	    Inquire; prints the recorded decision or "unknown".
//	ack txn=N group=G
//	    Acked; prints "all acked" or "waiting for G,...".
//	forget txn=N
//	    Forget; prints "ok".
//	undelivered
//	    The decisions not acked by all, or "none".
//	restart
//	    Reopen over the same store (a node restart or new leader), then
//	    print Undelivered.
//	records
//	    The raw records of the group's span, decoded.
func TestCoordinatorDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/coordinator", func(t *testing.T, path string) {
		var store *MemStore
		var c *Coordinator
		var group GroupID
		open := func() {
			var err error
			c, err = OpenCoordinator(group, store)
			check(t, err)
		}
		group, store = 1, NewMemStore()
		open()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return catchAssertion(t, func() string {
				switch d.Cmd {
				case "new":
					g := uint64(1)
					d.MaybeScanArgs(t, "group", &g)
					group, store = GroupID(g), NewMemStore()
					open()
					return ""
				case "decide":
					var dec Decision
					switch {
					case d.HasArg("commit"):
						dec = DecisionCommit
					case d.HasArg("abort"):
						dec = DecisionAbort
					}
					var ts int64
					d.MaybeScanArgs(t, "ts", &ts)
					r, err := c.Decide(argID(t, d), dec, ts, scanGroups(t, d, "parts"))
					if err != nil {
						return "error: " + err.Error()
					}
					return fmtDecision(r)
				case "inquire":
					r, err := c.Inquire(argID(t, d))
					if err != nil {
						return "error: " + err.Error()
					}
					return fmtDecision(r)
				case "ack":
					var g uint64
					d.ScanArgs(t, "group", &g)
					all, err := c.Acked(argID(t, d), GroupID(g))
					switch {
					case err != nil:
						return "error: " + err.Error()
					case all:
						return "all acked"
					}
					r, _ := c.Inquire(argID(t, d))
					return "waiting for " + fmtGroups(missing(r))
				case "forget":
					if err := c.Forget(argID(t, d)); err != nil {
						return "error: " + err.Error()
					}
					return "ok"
				case "undelivered":
					return fmtUndelivered(c)
				case "restart":
					open()
					return fmtUndelivered(c)
				case "records":
					return fmtRecords(t, store, group)
				}
				d.Fatalf(t, "unknown command %q", d.Cmd)
				return ""
			})
		})
	})
}

func scanGroups(t *testing.T, d *datadriven.TestData, key string) []GroupID {
	a, ok := d.Arg(key)
	if !ok {
		return nil
	}
	var gs []GroupID
	for _, v := range a.Vals {
		g, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			d.Fatalf(t, "bad group %q", v)
		}
		gs = append(gs, GroupID(g))
	}
	return gs
}

func fmtGroups(gs []GroupID) string {
	if len(gs) == 0 {
		return "none"
	}
	s := make([]string, len(gs))
	for i, g := range gs {
		s[i] = strconv.FormatUint(uint64(g), 10)
	}
	return strings.Join(s, ",")
}

func missing(r DecisionRecord) []GroupID {
	var out []GroupID
	for _, g := range r.Participants {
		found := false
		for _, a := range r.Acked {
			found = found || a == g
		}
		if !found {
			out = append(out, g)
		}
	}
	return out
}

func fmtDecision(r DecisionRecord) string {
	if r.Decision == DecisionUnknown {
		return testName(r.ID) + ": unknown"
	}
	s := testName(r.ID) + ": " + r.Decision.String()
	if r.Decision == DecisionCommit {
		s += fmt.Sprintf(" at %d", r.CommitTS)
	}
	return s + " parts=" + fmtGroups(r.Participants) + " acked=" + fmtGroups(r.Acked)
}

func fmtUndelivered(c *Coordinator) string {
	var b strings.Builder
	for _, r := range c.Undelivered() {
		b.WriteString(fmtDecision(r) + "\n")
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}
