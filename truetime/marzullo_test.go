package truetime

import (
	"fmt"
	"math"
	"testing"
)

func TestAgree(t *testing.T) {
	for _, tc := range []struct {
		spans    []span
		k        int
		want     span
		agreeing string
		ok       bool
	}{
		// Three overlapping honest sources, quorum 2: the hull of the
		// doubly-covered points, not the triple intersection.
		{spans: []span{{0, 10}, {5, 15}, {8, 20}}, k: 2, want: span{5, 15}, agreeing: "111", ok: true},
		{spans: []span{{0, 10}, {5, 15}, {8, 20}}, k: 3, want: span{8, 10}, agreeing: "111", ok: true},
		// A liar far away is outvoted.
		{spans: []span{{0, 10}, {2, 12}, {500, 510}}, k: 2, want: span{2, 10}, agreeing: "110", ok: true},
		// Closed intervals: touching counts as overlapping.
		{spans: []span{{0, 10}, {10, 20}}, k: 2, want: span{10, 10}, agreeing: "11", ok: true},
		// Two disjoint pairs: the hull spans both, since either may hold
		// true time.
		{spans: []span{{0, 10}, {5, 12}, {100, 110}, {105, 120}}, k: 2, want: span{5, 110}, agreeing: "1111", ok: true},
		// One honest, one liar, threshold 1: the hull of both.
		{spans: []span{{0, 10}, {500, 510}}, k: 1, want: span{0, 510}, agreeing: "11", ok: true},
		// Nothing covered twice.
		{spans: []span{{0, 10}, {20, 30}, {40, 50}}, k: 2, agreeing: "000", ok: false},
		{spans: []span{{-5, 5}}, k: 1, want: span{-5, 5}, agreeing: "1", ok: true},
	} {
		t.Run(fmt.Sprint(tc.spans, tc.k), func(t *testing.T) {
			got, agreeing, ok := agree(tc.spans, tc.k)
			var a []byte
			for _, b := range agreeing {
				a = append(a, "01"[map[bool]int{false: 0, true: 1}[b]])
			}
			if ok != tc.ok || (ok && got != tc.want) || string(a) != tc.agreeing {
				t.Fatalf("agree(%v, %d) = %v %s %v, want %v %s %v", tc.spans, tc.k, got, a, ok, tc.want, tc.agreeing, tc.ok)
			}
		})
	}
}

func TestToSample(t *testing.T) {
	const ms = int64(1e6)
	// Master 100ms ahead, symmetric 10ms round trip, 1ms hold, u=2ms.
	x := Exchange{T1: 1000 * ms, T2: 1105 * ms, T3: 1106 * ms, T4: 1011 * ms, RootDispersion: 2e6}
	if x.Offset() != 100e6 || x.RTT() != 10e6 {
		t.Fatalf("offset %s rtt %s", x.Offset(), x.RTT())
	}
	s, err := toSample(x, 0)
	if err != nil {
		t.Fatal(err)
	}
	// offset ± (rtt/2 + u) = 100ms ± 7ms, plus 1ns of timestamp slack.
	if s.anchor != x.T4 || s.lo != 93*ms-1 || s.hi != 107*ms+1 {
		t.Fatalf("sample %+v", s)
	}
	s, _ = toSample(x, 200)
	if want := 107*ms + 1 + 2*driftNanos(11*ms, 200); s.hi != want {
		t.Fatalf("drift over the exchange: hi %d want %d", s.hi, want)
	}
	for name, bad := range map[string]Exchange{
		"reply before request": {T1: 10, T2: 5, T3: 5, T4: 9},
		"negative hold":        {T1: 0, T2: 10, T3: 9, T4: 20},
		"hold beyond rtt":      {T1: 0, T2: 0, T3: 50, T4: 20},
		"negative dispersion":  {T1: 0, T2: 0, T3: 0, T4: 20, RootDispersion: -1},
		"huge dispersion":      {T1: 0, T2: 0, T3: 0, T4: 20, RootDispersion: 17e9},
	} {
		if _, err := toSample(bad, 200); err == nil {
			t.Errorf("%s: accepted %+v", name, bad)
		}
	}
}

func TestDriftNanos(t *testing.T) {
	for _, tc := range []struct{ elapsed, ppm, want int64 }{
		{0, 200, 0},
		{1e9, 200, 200_041}, // 1e9·200/(1e6−200), rounded up
		{-1e9, 200, 200_041},
		{1, 200, 1}, // rounded up
		{1e9, 0, 0},
		{999_800, 200, 200},
		{math.MaxInt64, 100000, math.MaxInt64/9 + 1}, // no overflow, rounded up
	} {
		if got := driftNanos(tc.elapsed, tc.ppm); got != tc.want {
			t.Errorf("driftNanos(%d, %d) = %d, want %d", tc.elapsed, tc.ppm, got, tc.want)
		}
	}
}
