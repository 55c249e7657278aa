package truetime

import "slices"

// span is a closed interval of offsets (or times).
type span struct{ lo, hi int64 }

func (s span) intersects(o span) bool { return s.lo <= o.hi && o.lo <= s.hi }

// agree is the intersection step (Marzullo's algorithm, in the form NTP's
// clock select uses): given the sources' intervals and a threshold k, it
// returns the smallest interval containing every point covered by at least k
// of them, and for each source whether its interval contains such a point.
//
// Why the hull of all such points rather than the most-covered point: if at
// most f sources are wrong and m answered, true time is covered by at least
// m−f intervals, but the points covered by more intervals may be ones where a
// liar overlaps honest sources without containing true time. Only the hull is
// guaranteed to contain it.
//
// ok is false when no point is covered k times. agreeing is freshly
// allocated. k must be ≥ 1.
func agree(spans []span, k int) (result span, agreeing []bool, ok bool) {
	type edge struct {
		at    int64
		delta int // +1 start, −1 end
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, s := range spans {
		edges = append(edges, edge{s.lo, +1}, edge{s.hi, -1})
	}
	// Starts sort before ends at the same point: intervals are closed, so
	// touching intervals share that point.
	slices.SortFunc(edges, func(a, b edge) int {
		if a.at != b.at {
			if a.at < b.at {
				return -1
			}
			return 1
		}
		return b.delta - a.delta
	})
	var regions []span
	count := 0
	for _, e := range edges {
		if e.delta > 0 {
			count++
			if count == k {
				regions = append(regions, span{lo: e.at})
			}
			continue
		}
		if count == k {
			regions[len(regions)-1].hi = e.at
		}
		count--
	}
	if len(regions) == 0 {
		return span{}, make([]bool, len(spans)), false
	}
	agreeing = make([]bool, len(spans))
	for i, s := range spans {
		for _, r := range regions {
			if s.intersects(r) {
				agreeing[i] = true
				break
			}
		}
	}
	return span{lo: regions[0].lo, hi: regions[len(regions)-1].hi}, agreeing, true
}
