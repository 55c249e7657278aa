package netsim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
)

// LatencyMatrix holds the round-trip times between regions. It is
// immutable once parsed and safe for concurrent use.
//
// Rules (the contract of --latency):
//  1. Links are symmetric: "a/b=64ms" is a round trip of 64ms, so each
//     direction takes 32ms.
//  2. Traffic within one region has no added delay.
//  3. The regions named in a spec must form a complete matrix: every pair
//     of them has exactly one entry, so a forgotten pair is an error and
//     not a silent zero.
//  4. A region the matrix does not name at all (say "local") has no
//     added delay to anyone; Validate rejects such a region where the
//     caller knows it should be in the matrix (a node's own --region).
//  5. Jitter ("a/b=64ms~6ms") adds a random extra in [0, 6ms) to each
//     one-way trip, never subtracting: RTT/2 is the propagation floor.
type LatencyMatrix struct {
	links   map[regionPair]link
	regions []string // sorted
}

type regionPair struct{ a, b string } // a < b

func pairOf(x, y string) regionPair {
	if y < x {
		x, y = y, x
	}
	return regionPair{x, y}
}

type link struct {
	rtt, jitter time.Duration
}

// ParseLatency parses a matrix such as
// "us-east/us-west=64ms,us-east/eu-west=88ms~4ms,us-west/eu-west=140ms".
// Each entry is REGION/REGION=RTT[~JITTER] with Go durations; spaces
// around entries are ignored. An empty spec returns nil: no simulated
// latency. Errors name the offending entry.
func ParseLatency(spec string) (*LatencyMatrix, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	m := &LatencyMatrix{links: make(map[regionPair]link)}
	seen := make(map[string]bool)
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		pair, l, err := parseEntry(entry)
		if err != nil {
			return nil, errors.Wrapf(err, "netsim: latency entry %q", entry)
		}
		if _, dup := m.links[pair]; dup {
			return nil, errors.Newf("netsim: latency entry %q: pair %s/%s given twice", entry, pair.a, pair.b)
		}
		m.links[pair] = l
		for _, r := range []string{pair.a, pair.b} {
			if !seen[r] {
				seen[r] = true
				m.regions = append(m.regions, r)
			}
		}
	}
	sort.Strings(m.regions)
	var missing []string
	for i, a := range m.regions {
		for _, b := range m.regions[i+1:] {
			if _, ok := m.links[pairOf(a, b)]; !ok {
				missing = append(missing, a+"/"+b)
			}
		}
	}
	if len(missing) > 0 {
		return nil, errors.Newf("netsim: latency matrix is missing %s (every pair of the regions named needs an entry)",
			strings.Join(missing, ", "))
	}
	return m, nil
}

func parseEntry(entry string) (regionPair, link, error) {
	lhs, rhs, ok := strings.Cut(entry, "=")
	if !ok {
		return regionPair{}, link{}, errors.New("want REGION/REGION=RTT[~JITTER]")
	}
	a, b, ok := strings.Cut(strings.TrimSpace(lhs), "/")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case !ok || a == "" || b == "":
		return regionPair{}, link{}, errors.Newf("%q is not REGION/REGION", lhs)
	case strings.ContainsAny(a+b, "/~ "):
		return regionPair{}, link{}, errors.Newf("bad region name in %q", lhs)
	case a == b:
		return regionPair{}, link{}, errors.Newf("region %s paired with itself (traffic within a region is never delayed)", a)
	}
	rttText, jitterText, hasJitter := strings.Cut(strings.TrimSpace(rhs), "~")
	var l link
	var err error
	if l.rtt, err = parseNonNegative(rttText, "round-trip time"); err != nil {
		return regionPair{}, link{}, err
	}
	if hasJitter {
		if l.jitter, err = parseNonNegative(jitterText, "jitter"); err != nil {
			return regionPair{}, link{}, err
		}
	}
	return pairOf(a, b), l, nil
}

func parseNonNegative(s, what string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.Newf("%s %q is not a duration (e.g. 64ms)", what, s)
	}
	if d < 0 {
		return 0, errors.Newf("%s %s is negative", what, s)
	}
	return d, nil
}

// RTT returns the round-trip time and jitter between two regions: zero
// within a region and for regions the matrix does not name. A nil matrix
// has no latency.
func (m *LatencyMatrix) RTT(a, b string) (rtt, jitter time.Duration) {
	if m == nil || a == b {
		return 0, 0
	}
	l := m.links[pairOf(a, b)]
	return l.rtt, l.jitter
}

// OneWay returns the fixed part of a one-way trip, RTT/2, and the bound of
// its random extra.
func (m *LatencyMatrix) OneWay(from, to string) (delay, jitter time.Duration) {
	rtt, jitter := m.RTT(from, to)
	return rtt / 2, jitter
}

// Regions returns the regions the matrix names, sorted.
func (m *LatencyMatrix) Regions() []string {
	if m == nil {
		return nil
	}
	return append([]string(nil), m.regions...)
}

// Validate checks that every region given is named by the matrix (rule 4):
// a node started with --region us-esat and a matrix of us-east should fail
// loudly instead of running without delays. A nil matrix accepts anything.
func (m *LatencyMatrix) Validate(regions ...string) error {
	if m == nil {
		return nil
	}
	for _, r := range regions {
		if i := sort.SearchStrings(m.regions, r); i == len(m.regions) || m.regions[i] != r {
			return errors.Newf("netsim: region %q is not in the latency matrix (regions: %s)", r, strings.Join(m.regions, ", "))
		}
	}
	return nil
}

// String returns the matrix in ParseLatency's syntax, pairs sorted, so
// that it can be passed on to child processes.
func (m *LatencyMatrix) String() string {
	if m == nil {
		return ""
	}
	pairs := make([]regionPair, 0, len(m.links))
	for p := range m.links {
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].a != pairs[j].a {
			return pairs[i].a < pairs[j].a
		}
		return pairs[i].b < pairs[j].b
	})
	var sb strings.Builder
	for i, p := range pairs {
		if i > 0 {
			sb.WriteByte(',')
		}
		l := m.links[p]
		fmt.Fprintf(&sb, "%s/%s=%s", p.a, p.b, l.rtt)
		if l.jitter > 0 {
			fmt.Fprintf(&sb, "~%s", l.jitter)
		}
	}
	return sb.String()
}
