package netsim

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
)

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func mustParse(t *testing.T, spec string) *LatencyMatrix {
	t.Helper()
	m, err := ParseLatency(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPathDelaysPerDirection(t *testing.T) {
	n := New(Options{Latency: mustParse(t, threeRegions)})
	east, west, eu := Endpoint{1, "us-east"}, Endpoint{2, "us-west"}, Endpoint{3, "eu-west"}
	for _, tc := range []struct {
		from, to Endpoint
		want     time.Duration
	}{
		{east, west, 32 * time.Millisecond},
		{west, east, 32 * time.Millisecond},
		{west, eu, 70 * time.Millisecond},
		{eu, east, 44 * time.Millisecond},
		{east, Endpoint{4, "us-east"}, 0},
	} {
		at, lost := n.NewPath(tc.from, tc.to).Schedule(epoch)
		if lost || at.Sub(epoch) != tc.want {
			t.Errorf("%v -> %v: delivered after %s (lost %v), want %s", tc.from, tc.to, at.Sub(epoch), lost, tc.want)
		}
		if d, lost := n.Trip(tc.from, tc.to); lost || d != tc.want {
			t.Errorf("Trip %v -> %v = %s (lost %v), want %s", tc.from, tc.to, d, lost, tc.want)
		}
	}
}

// TestPathOrderWithJitter: jitter larger than the gap between sends would
// reorder messages if each were delayed independently; a path never does,
// and its draws are a function of the seed.
func TestPathOrderWithJitter(t *testing.T) {
	m := mustParse(t, "a/b=20ms~30ms")
	draw := func(seed uint64) []time.Time {
		p := New(Options{Latency: m, Seed: seed}).NewPath(Endpoint{1, "a"}, Endpoint{2, "b"})
		var out []time.Time
		for i := range 200 {
			at, lost := p.Schedule(epoch.Add(time.Duration(i) * time.Millisecond))
			if lost {
				t.Fatal("lost without faults")
			}
			out = append(out, at)
		}
		return out
	}
	a := draw(7)
	raised := 0
	for i, at := range a {
		sent := epoch.Add(time.Duration(i) * time.Millisecond)
		if d := at.Sub(sent); d < 10*time.Millisecond {
			t.Fatalf("message %d delivered after %s, below the one-way floor", i, d)
		}
		if i > 0 && at.Before(a[i-1]) {
			t.Fatalf("message %d delivered at %s, before message %d at %s", i, at, i-1, a[i-1])
		}
		if i > 0 && at.Equal(a[i-1]) {
			raised++ // held back by its predecessor's larger jitter
		}
	}
	if raised == 0 {
		t.Fatal("no message was held back for order: the test does not exercise jitter")
	}
	b := draw(7)
	for i := range a {
		if !a[i].Equal(b[i]) {
			t.Fatalf("same seed, different delivery of message %d: %s vs %s", i, a[i], b[i])
		}
	}
	c := draw(8)
	same := true
	for i := range a {
		same = same && a[i].Equal(c[i])
	}
	if same {
		t.Fatal("different seeds drew identical jitter")
	}
}

func TestFaults(t *testing.T) {
	var none *Faults
	if lost, extra := none.decide(1, 2); lost || extra != 0 || none.Blocked(1, 2) {
		t.Fatal("nil faults must inject nothing")
	}
	f := &Faults{}
	f.Block(1, 2)
	if !f.Blocked(1, 2) || f.Blocked(2, 1) {
		t.Fatal("Block is one-way")
	}
	f.Isolate(3, 1, 2, 3)
	for _, o := range []uint64{1, 2} {
		if !f.Blocked(3, o) || !f.Blocked(o, 3) {
			t.Fatalf("Isolate(3) left %d reachable", o)
		}
	}
	f.SetExtraDelay(1, 4, 5*time.Millisecond)
	n := New(Options{Latency: mustParse(t, "a/b=10ms"), Faults: f})
	if d, lost := n.Trip(Endpoint{1, "a"}, Endpoint{4, "b"}); lost || d != 10*time.Millisecond {
		t.Fatalf("extra delay: trip %s lost %v, want 10ms", d, lost)
	}
	if _, lost := n.NewPath(Endpoint{1, "a"}, Endpoint{2, "a"}).Schedule(epoch); !lost {
		t.Fatal("a blocked path delivered")
	}
	f.Heal()
	if f.Blocked(1, 2) || f.Blocked(3, 1) {
		t.Fatal("Heal left a partition")
	}
	if d, _ := n.Trip(Endpoint{1, "a"}, Endpoint{4, "b"}); d != 5*time.Millisecond {
		t.Fatalf("Heal left extra delay: %s", d)
	}
}

func TestDropRateSeeded(t *testing.T) {
	run := func(seed uint64) (pattern []bool, lost int) {
		f := NewFaults(seed)
		f.SetDropRate(1, 2, 0.3)
		f.SetDropRate(2, 1, 1)
		for range 1000 {
			l, _ := f.decide(1, 2)
			if other, _ := f.decide(2, 1); !other {
				t.Fatal("drop rate 1 delivered")
			}
			if _, x := f.decide(1, 3); x != 0 {
				t.Fatal("undeclared direction delayed")
			}
			pattern = append(pattern, l)
			if l {
				lost++
			}
		}
		return pattern, lost
	}
	a, lost := run(42)
	if lost < 200 || lost > 400 {
		t.Fatalf("lost %d of 1000 at rate 0.3", lost)
	}
	b, _ := run(42)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, message %d lost differently", i)
		}
	}
}

func TestManualClock(t *testing.T) {
	c := NewManualClock(epoch)
	var fired []time.Duration
	c.AfterFunc(20*time.Millisecond, func() { fired = append(fired, c.Now().Sub(epoch)) })
	stopped := c.AfterFunc(5*time.Millisecond, func() { t.Error("stopped timer fired") })
	c.AfterFunc(10*time.Millisecond, func() {
		fired = append(fired, c.Now().Sub(epoch))
		// Scheduled from the firing time: due at 15ms, inside this Advance.
		c.AfterFunc(5*time.Millisecond, func() { fired = append(fired, c.Now().Sub(epoch)) })
	})
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop must succeed once")
	}
	c.Advance(19 * time.Millisecond)
	if len(fired) != 2 || fired[0] != 10*time.Millisecond || fired[1] != 15*time.Millisecond || c.Pending() != 1 {
		t.Fatalf("after 19ms fired at %v, %d pending", fired, c.Pending())
	}
	c.Advance(time.Millisecond)
	if len(fired) != 3 || fired[2] != 20*time.Millisecond || c.Now().Sub(epoch) != 20*time.Millisecond {
		t.Fatalf("after 20ms fired at %v", fired)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, c, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep on a cancelled context = %v", err)
	}
	if c.Pending() != 0 {
		t.Fatal("a cancelled Sleep left its timer")
	}
	before := c.Created()
	if err := Sleep(context.Background(), c, 0); err != nil || c.Created() != before {
		t.Fatal("a zero Sleep must not create a timer")
	}
}

func TestExchangeLost(t *testing.T) {
	f := NewFaults(0)
	n := New(Options{Faults: f})
	ran := 0
	fn := func() error { ran++; return nil }
	f.Block(1, 2)
	if err := n.Exchange(context.Background(), Endpoint{Node: 1}, Endpoint{Node: 2}, fn); !errors.Is(err, ErrLost) || ran != 0 {
		t.Fatalf("lost request: %v, ran %d", err, ran)
	}
	f.Heal()
	f.Block(2, 1)
	if err := n.Exchange(context.Background(), Endpoint{Node: 1}, Endpoint{Node: 2}, fn); !errors.Is(err, ErrLost) || ran != 1 {
		t.Fatalf("lost response: %v, ran %d", err, ran)
	}
	if err := n.Exchange(context.Background(), Endpoint{Node: 1}, Endpoint{Node: 3}, fn); err != nil || ran != 2 {
		t.Fatalf("healthy exchange: %v, ran %d", err, ran)
	}
}
