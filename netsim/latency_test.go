package netsim

import (
	"strings"
	"testing"
	"time"
)

const threeRegions = "us-east/us-west=64ms,us-east/eu-west=88ms,us-west/eu-west=140ms"

func TestParseLatency(t *testing.T) {
	m, err := ParseLatency(threeRegions)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		from, to string
		oneWay   time.Duration
	}{
		{"us-east", "us-west", 32 * time.Millisecond},
		{"us-west", "us-east", 32 * time.Millisecond},
		{"us-east", "eu-west", 44 * time.Millisecond},
		{"eu-west", "us-west", 70 * time.Millisecond},
		{"us-east", "us-east", 0},
		{"eu-west", "eu-west", 0},
		{"local", "us-east", 0}, // rule 4: a region the matrix does not name
		{"", "us-east", 0},
	} {
		if d, j := m.OneWay(tc.from, tc.to); d != tc.oneWay || j != 0 {
			t.Errorf("OneWay(%s, %s) = %s~%s, want %s", tc.from, tc.to, d, j, tc.oneWay)
		}
	}
	if got := strings.Join(m.Regions(), ","); got != "eu-west,us-east,us-west" {
		t.Errorf("Regions = %s", got)
	}
	if err := m.Validate("us-east", "eu-west"); err != nil {
		t.Error(err)
	}
	if err := m.Validate("us-esat"); err == nil || !strings.Contains(err.Error(), `"us-esat"`) {
		t.Errorf("Validate(us-esat) = %v, want an error naming it", err)
	}

	j, err := ParseLatency(" a/b = 64ms~5ms , a/c=1s, c/b=0s~1ms ")
	if err != nil {
		t.Fatal(err)
	}
	if d, jit := j.OneWay("b", "a"); d != 32*time.Millisecond || jit != 5*time.Millisecond {
		t.Errorf("OneWay(b, a) = %s~%s", d, jit)
	}
	// String is canonical and parses back to the same matrix.
	if s := j.String(); s != "a/b=64ms~5ms,a/c=1s,b/c=0s~1ms" {
		t.Errorf("String = %q", s)
	}
	back, err := ParseLatency(j.String())
	if err != nil || back.String() != j.String() {
		t.Errorf("round trip: %v %q", err, back.String())
	}

	if m, err := ParseLatency("  "); m != nil || err != nil {
		t.Errorf("empty spec = %v, %v; want no matrix", m, err)
	}
	var none *LatencyMatrix
	if d, _ := none.OneWay("a", "b"); d != 0 || none.Validate("x") != nil || none.String() != "" {
		t.Error("a nil matrix must add nothing and accept any region")
	}
}

func TestParseLatencyErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"a/b", `"a/b": want REGION/REGION=RTT`},
		{"a=5ms", `"a" is not REGION/REGION`},
		{"/b=5ms", `"/b" is not REGION/REGION`},
		{"a/a=5ms", "region a paired with itself"},
		{"a/b/c=5ms", "bad region name"},
		{"a/b=fast", `round-trip time "fast" is not a duration`},
		{"a/b=-5ms", "round-trip time -5ms is negative"},
		{"a/b=5ms~x", `jitter "x" is not a duration`},
		{"a/b=5ms~-1ms", "jitter -1ms is negative"},
		{"a/b=5ms,b/a=6ms", `"b/a=6ms": pair a/b given twice`},
		{"a/b=5ms,b/c=6ms", "missing a/c"},
		{"a/b=5ms,c/d=6ms", "missing a/c, a/d, b/c, b/d"},
		{"a/b=5ms,,b/c=1ms", `entry ""`},
	} {
		_, err := ParseLatency(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseLatency(%q) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
}
