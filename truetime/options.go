package truetime

import (
	"context"
	"flag"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
)

// Options configures a TrueTime. The zero value is valid after
// EnsureDefaults: single-machine mode with the documented defaults.
type Options struct {
	// Masters lists the time masters as HOST:PORT (NTP over UDP). Empty
	// selects single-machine mode: the local system wall clock is the only
	// source, declared to be within LocalUncertainty of true time.
	Masters []string

	// PollInterval is the time between polling rounds. Default 250ms.
	// Between rounds ε grows by MaxDriftPPM of the time since the last
	// sample, and commit wait lasts 2ε: at 1s the drift term averaged
	// 0.1ms and commit wait outlasted a single write's Raft round on
	// loopback; at 250ms it is 0.025ms (docs/BENCHMARKS.md). A round is a
	// few UDP exchanges per master.
	PollInterval time.Duration

	// QueryTimeout bounds one NTP exchange; an exchange that times out
	// counts as the source being unreachable for that round. Rounds do not
	// overlap: the next starts PollInterval after one ends. Must be below
	// SourceTimeout. Default 500ms.
	QueryTimeout time.Duration

	// MaxDriftPPM is the assumed bound on the local clock's rate error, in
	// parts per million. Intervals widen by this much times the time since
	// the sample they come from. Default 200 (quartz is within ~50 ppm, and
	// the kernel may slew by up to 500 ppm; a host whose NTP daemon slews
	// harder than this bound must not run a node). A drift beyond it is
	// detected by the long-baseline check and fences commits.
	MaxDriftPPM int64

	// MaxEpsilon is the largest ε under which read-write commits are
	// allowed (CheckCommit). Default 250ms.
	MaxEpsilon time.Duration

	// SourceTimeout is how long a source's last good sample keeps voting
	// after it stops answering; the sample is widened by drift meanwhile, so
	// it stays correct, only less useful. Default 10 × PollInterval, and
	// at least 10s.
	SourceTimeout time.Duration

	// LocalUncertainty is the uncertainty declared for the local system
	// wall clock in single-machine mode. Default 1ms: on one machine, the
	// system clock is by definition the cluster's time; the uncertainty
	// covers reading it and makes commit wait non-trivial so that the
	// commit-wait code path is exercised.
	LocalUncertainty time.Duration

	// RTTOutlierFactor: a sample whose round-trip time exceeds this multiple
	// of the median of the source's recent round trips is dropped (the
	// previous sample, widened by drift, is tighter). Default 3.
	RTTOutlierFactor float64

	// RTTWindow is the number of recent round trips (accepted or not) the
	// median is taken over. Outlier rejection starts once half of it is
	// filled. Default 8.
	RTTWindow int

	// ViolationFence is how long read-write commits stay refused after the
	// clock detected that its assumptions broke (the masters' agreement does
	// not intersect the interval carried from an earlier sync). Default 30s.
	ViolationFence time.Duration

	// TestingKnobs are for tests only.
	TestingKnobs TestingKnobs
}

// TestingKnobs change TrueTime's behaviour in tests. The zero value is
// production behaviour.
type TestingKnobs struct {
	// DisableDriftWidening stops widening intervals by the drift bound. It
	// makes TrueTime wrong on purpose: the negative control of the property
	// tests uses it to show they catch a broken clock.
	DisableDriftWidening bool

	// Querier replaces the network edge (NTP client, or the wall-clock
	// sampler in single-machine mode).
	Querier Querier
}

// Querier performs one exchange with a time source. It is the I/O edge of
// TrueTime: the NTP client in production, a simulation in tests.
type Querier interface {
	// Query performs one exchange with source (an element of
	// Options.Masters, or LocalSource) and returns its timestamps, T1 and T4
	// taken from TrueTime's Clock. A failure should be a *QueryError so
	// that it is counted under the right reason; other errors count as
	// DropUnreachable. Query is called concurrently for different sources.
	Query(ctx context.Context, source string) (Exchange, error)
}

// LocalSource is the name of the single source of single-machine mode.
const LocalSource = "local-clock"

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.PollInterval == 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = 500 * time.Millisecond
	}
	if o.MaxDriftPPM == 0 {
		o.MaxDriftPPM = 200
	}
	if o.MaxEpsilon == 0 {
		o.MaxEpsilon = 250 * time.Millisecond
	}
	if o.SourceTimeout == 0 {
		o.SourceTimeout = max(10*o.PollInterval, 10*time.Second)
	}
	if o.LocalUncertainty == 0 {
		o.LocalUncertainty = time.Millisecond
	}
	if o.RTTOutlierFactor == 0 {
		o.RTTOutlierFactor = 3
	}
	if o.RTTWindow == 0 {
		o.RTTWindow = 8
	}
	if o.ViolationFence == 0 {
		o.ViolationFence = 30 * time.Second
	}
}

// Validate reports options that cannot work. Call it after EnsureDefaults.
func (o *Options) Validate() error {
	switch {
	case o.PollInterval <= 0:
		return errors.Newf("truetime: PollInterval must be positive, got %s", o.PollInterval)
	case o.QueryTimeout <= 0 || o.QueryTimeout >= o.SourceTimeout:
		return errors.Newf("truetime: QueryTimeout %s must be positive and below SourceTimeout %s", o.QueryTimeout, o.SourceTimeout)
	case o.MaxDriftPPM < 0 || o.MaxDriftPPM > 100000:
		return errors.Newf("truetime: MaxDriftPPM must be in [0, 100000], got %d", o.MaxDriftPPM)
	case o.MaxEpsilon <= 0:
		return errors.Newf("truetime: MaxEpsilon must be positive, got %s", o.MaxEpsilon)
	case o.SourceTimeout < o.PollInterval:
		return errors.Newf("truetime: SourceTimeout %s must be at least PollInterval %s", o.SourceTimeout, o.PollInterval)
	case o.LocalUncertainty < 0:
		return errors.Newf("truetime: LocalUncertainty must not be negative, got %s", o.LocalUncertainty)
	case o.RTTOutlierFactor < 1:
		return errors.Newf("truetime: RTTOutlierFactor must be at least 1, got %g", o.RTTOutlierFactor)
	case o.RTTWindow < 1 || o.RTTWindow > 1024:
		return errors.Newf("truetime: RTTWindow must be in [1, 1024], got %d", o.RTTWindow)
	case o.ViolationFence < 0:
		return errors.Newf("truetime: ViolationFence must not be negative, got %s", o.ViolationFence)
	}
	seen := map[string]bool{}
	for _, m := range o.Masters {
		if m == "" || strings.ContainsAny(m, ", \t") {
			return errors.Newf("truetime: invalid time master address %q", m)
		}
		if m == LocalSource {
			return errors.Newf("truetime: %q is reserved for single-machine mode", m)
		}
		if seen[m] {
			return errors.Newf("truetime: time master %q listed twice; each master must vote once", m)
		}
		seen[m] = true
	}
	return nil
}

// ParseMasters splits a comma-separated list of HOST:PORT addresses (the
// --time-masters flag) into Options.Masters, ignoring empty elements and
// surrounding spaces.
func ParseMasters(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// RegisterFlags binds --time-masters and --max-epsilon on fs to o, with the
// documented defaults; `meridian start` calls it. Call EnsureDefaults after
// parsing.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.Func("time-masters", "comma-separated `HOST:PORT` list of time masters (empty: single-machine mode, the local clock is the time source)",
		func(s string) error {
			o.Masters = ParseMasters(s)
			return nil
		})
	fs.DurationVar(&o.MaxEpsilon, "max-epsilon", 250*time.Millisecond,
		"clock uncertainty above which read-write commits are refused")
}
