package truetime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestSyncerDataDriven runs the scripts in testdata/syncer against the
// deterministic core. Rewrite expectations with -rewrite. All times are
// durations from an arbitrary origin of the local clock (the core makes no
// assumption about the epoch).
//
//	init sources=N [drift-ppm=P] [source-timeout=D] [violation-fence=D] [rtt-window=N]
//	    A new Syncer with N sources named m0..mN-1 (defaults as Options).
//	observe src=I t1=D t2=D t3=D t4=D [u=D]
//	    Feed an exchange with declared uncertainty u. Prints the sample's
//	    offset bounds, or why it was dropped.
//	fail src=I [reason=R]
//	    Record a failed exchange (R a DropReason name, default unreachable).
//	sync now=D
//	    Run an agreement round at local reading now; prints the estimate
//	    and each source's state.
//	interval now=D
//	    Print the interval of true time at local reading now, and whether
//	    commits would be fenced by a violation.
func TestSyncerDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/syncer", func(t *testing.T, path string) {
		var s *Syncer
		dur := func(d *datadriven.TestData, key string) int64 {
			var v string
			d.ScanArgs(t, key, &v)
			x, err := time.ParseDuration(v)
			if err != nil {
				d.Fatalf(t, "%s: %v", key, err)
			}
			return int64(x)
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "init":
				var n int
				d.ScanArgs(t, "sources", &n)
				var o Options
				if d.HasArg("drift-ppm") {
					d.ScanArgs(t, "drift-ppm", &o.MaxDriftPPM)
				}
				if d.HasArg("source-timeout") {
					o.SourceTimeout = time.Duration(dur(d, "source-timeout"))
				}
				if d.HasArg("violation-fence") {
					o.ViolationFence = time.Duration(dur(d, "violation-fence"))
				}
				if d.HasArg("rtt-window") {
					d.ScanArgs(t, "rtt-window", &o.RTTWindow)
				}
				var names []string
				for i := range n {
					names = append(names, fmt.Sprintf("m%d", i))
				}
				o.Masters = names
				o.EnsureDefaults()
				if err := o.Validate(); err != nil {
					return err.Error()
				}
				s = NewSyncer(names, o)
				return ""
			case "observe":
				var src int
				d.ScanArgs(t, "src", &src)
				x := Exchange{T1: dur(d, "t1"), T2: dur(d, "t2"), T3: dur(d, "t3"), T4: dur(d, "t4")}
				if d.HasArg("u") {
					x.RootDispersion = time.Duration(dur(d, "u"))
				}
				if err := s.Observe(src, x); err != nil {
					return "dropped: " + err.Error()
				}
				smp := s.sources[src].sample
				return fmt.Sprintf("offset in [%s, %s] at %s (rtt %s)",
					time.Duration(smp.lo), time.Duration(smp.hi), time.Duration(smp.anchor), x.RTT())
			case "fail":
				var src int
				d.ScanArgs(t, "src", &src)
				reason := DropUnreachable
				if d.HasArg("reason") {
					var name string
					d.ScanArgs(t, "reason", &name)
					for r := DropReason(0); r < numDropReasons; r++ {
						if r.String() == name {
							reason = r
						}
					}
				}
				s.Fail(src, reason, fmt.Errorf("scripted %s", reason))
				return ""
			case "sync":
				now := dur(d, "now")
				s.Sync(now)
				return describeSyncer(s, now)
			case "interval":
				now := dur(d, "now")
				iv := s.Interval(now)
				if !iv.Known() {
					return "unknown"
				}
				out := fmt.Sprintf("[%s, %s] ε %s", time.Duration(iv.Earliest), time.Duration(iv.Latest), iv.Epsilon())
				if now < s.fencedUntil {
					out += fmt.Sprintf("; fenced for %s", time.Duration(s.fencedUntil-now))
				}
				return out
			default:
				d.Fatalf(t, "unknown command %s", d.Cmd)
				return ""
			}
		})
	})
}

func describeSyncer(s *Syncer, now int64) string {
	var b strings.Builder
	if s.est.synced {
		sp := s.est.offsets(now, s.driftPPM)
		fmt.Fprintf(&b, "estimate: offset in [%s, %s] (anchor %s)\n", time.Duration(sp.lo), time.Duration(sp.hi), time.Duration(s.est.anchor))
	} else {
		b.WriteString("estimate: none\n")
	}
	if s.lastProblem != "" {
		fmt.Fprintf(&b, "problem: %s\n", s.lastProblem)
	}
	if s.violations > 0 {
		fmt.Fprintf(&b, "violations: %d; fenced until %s\n%s\n", s.violations, time.Duration(s.fencedUntil), s.lastViolation)
	}
	for _, src := range s.sources {
		state := "no sample"
		if src.has {
			age := now - src.sample.anchor
			state = fmt.Sprintf("sample age %s", time.Duration(age))
			if age > int64(s.opts.SourceTimeout) {
				state += " (timed out)"
			}
		}
		if src.outvoted {
			state += ", outvoted"
		}
		var drops []string
		for r := DropReason(0); r < numDropReasons; r++ {
			if src.drops[r] > 0 {
				drops = append(drops, fmt.Sprintf("%s=%d", r, src.drops[r]))
			}
		}
		if len(drops) > 0 {
			state += ", dropped " + strings.Join(drops, " ")
		}
		fmt.Fprintf(&b, "%s: %s\n", src.addr, state)
	}
	fmt.Fprintf(&b, "history: %d estimates", len(s.history))
	return b.String()
}
