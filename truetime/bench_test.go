package truetime_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/truetime/timemaster"
)

// syncedSystemClock returns a TrueTime on the system clock, synced once
// against an in-process master on loopback (no poller running, so the
// benchmark measures Now alone).
func syncedSystemClock(b *testing.B) *truetime.TrueTime {
	b.Helper()
	addrs, stop := startMasters(b, 1)
	b.Cleanup(stop)
	tt, err := truetime.New(truetime.SystemClock(), truetime.Options{Masters: addrs})
	if err != nil {
		b.Fatal(err)
	}
	tt.PollOnce(context.Background())
	if !tt.Synced() {
		b.Fatalf("not synced: %+v", tt.Status())
	}
	return tt
}

func startMasters(tb testing.TB, n int) (addrs []string, stop func()) {
	tb.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		srv, err := timemaster.New(timemaster.Options{Logger: quiet})
		if err != nil {
			tb.Fatal(err)
		}
		conn, err := timemaster.Listen("127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		addrs = append(addrs, conn.LocalAddr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = srv.Serve(ctx, conn)
		}()
	}
	return addrs, func() { cancel(); wg.Wait() }
}

var sink truetime.Interval

func BenchmarkNow(b *testing.B) {
	tt := syncedSystemClock(b)
	b.ReportAllocs()
	for b.Loop() {
		sink = tt.Now()
	}
}

func BenchmarkNowParallel(b *testing.B) {
	tt := syncedSystemClock(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var iv truetime.Interval
		for pb.Next() {
			iv = tt.Now()
		}
		_ = iv
	})
}

func BenchmarkCheckCommit(b *testing.B) {
	tt := syncedSystemClock(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := tt.CheckCommit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSystemClockRead is the floor under BenchmarkNow: one monotonic
// clock read.
func BenchmarkSystemClockRead(b *testing.B) {
	c := truetime.SystemClock()
	var x int64
	for b.Loop() {
		x += c.Now()
	}
	_ = x
}

// TestEpsilonDistribution measures ε for a client polling local masters on
// loopback every second (production settings), sampling Now every
// millisecond. It runs only when MERIDIAN_TRUETIME_EPSILON is set to a
// duration, e.g.
//
//	MERIDIAN_TRUETIME_EPSILON=60s go test -run TestEpsilonDistribution -v ./truetime/
//
// MERIDIAN_TRUETIME_MASTERS=HOST:PORT,... polls those masters (e.g. running
// `meridian timemaster` processes) instead of three in-process ones.
func TestEpsilonDistribution(t *testing.T) {
	env := os.Getenv("MERIDIAN_TRUETIME_EPSILON")
	if env == "" {
		t.Skip("set MERIDIAN_TRUETIME_EPSILON=60s to measure the ε distribution")
	}
	dur, err := time.ParseDuration(env)
	if err != nil {
		t.Fatal(err)
	}
	addrs := truetime.ParseMasters(os.Getenv("MERIDIAN_TRUETIME_MASTERS"))
	if len(addrs) == 0 {
		var stop func()
		addrs, stop = startMasters(t, 3)
		defer stop()
	}
	tt, err := truetime.New(truetime.SystemClock(), truetime.Options{Masters: addrs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tt.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := tt.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	var eps, offs []time.Duration
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(dur)
	misses := 0
	for now := range tick.C {
		if now.After(end) {
			break
		}
		before := tt.Now()
		wall := time.Now().UnixNano()
		after := tt.Now()
		if wall < before.Earliest || wall > after.Latest {
			misses++
		}
		eps = append(eps, after.Epsilon())
		offs = append(offs, time.Duration(after.Midpoint()-wall))
	}
	slices.Sort(eps)
	slices.Sort(offs)
	pct := func(s []time.Duration, p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	st := tt.Status()
	t.Logf("ε over %s, %d samples, poll %s, %d masters: p50 %s p99 %s max %s min %s",
		dur, len(eps), tt.Options().PollInterval, len(addrs), pct(eps, .5), pct(eps, .99), eps[len(eps)-1], eps[0])
	t.Logf("midpoint − wall clock: p1 %s p50 %s p99 %s", pct(offs, .01), pct(offs, .5), pct(offs, .99))
	for _, s := range st.Sources {
		t.Logf("source %s: last offset %s rtt %s declared %s accepted %d/%d dropped %v",
			s.Address, s.LastOffset, s.LastRTT, s.DeclaredUncertainty, s.Accepted, s.Exchanges, s.Dropped)
	}
	if misses > 0 {
		t.Fatalf("%d samples where the interval missed the wall clock", misses)
	}
}
