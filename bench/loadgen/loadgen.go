// Package loadgen is the closed-loop load generator shared by Meridian's
// transaction and SQL benchmarks: N clients (goroutines), each with one
// operation in flight, run for a warm-up period whose samples are thrown
// away, then for a measured period (or a number of operations), and every
// successful operation's latency goes into a per-client HDR histogram
// (github.com/HdrHistogram/hdrhistogram-go, 3 significant digits, 1 µs to
// 60 s) merged at the end.
//
// Invariants:
//  1. Only operations that started and finished inside the measured period
//     count towards throughput and latency; warm-up operations and the
//     operation that crosses the end are dropped from both.
//  2. A failed operation records no latency; failures are counted and
//     their first distinct messages kept.
//
// It knows nothing of Meridian: the operation is a function.
package loadgen

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// graceDuration is how long operations in flight at the end of the
// measured period may take before they are cancelled.
const graceDuration = 10 * time.Second

// Config is one run.
type Config struct {
	// Clients is the number of concurrent clients. Default 1.
	Clients int
	// Warmup is run first, its samples discarded. Default 0.
	Warmup time.Duration
	// Duration bounds the measured period. Used when Total is 0.
	Duration time.Duration
	// Total, when positive, ends the measured period after this many
	// operations (successful or not).
	Total int
	// Grace is how long operations in flight when the measured period
	// ends may still take. Default 10s.
	Grace time.Duration
	// OnStuck, if set, is called with the number of operations still in
	// flight when Grace runs out, before they are cancelled: the moment
	// to capture what the servers are doing.
	OnStuck func(inflight int64)
}

// Op runs one operation for client (0 <= client < Clients); seq is
// unique across the run (warm-up included). It returns
// how many units of work it did (rows for a bulk insert; 1 otherwise), how
// many times it was retried by the server or itself, and an error.
type Op func(ctx context.Context, client int, seq int64) (units int, retries int, err error)

// Result is a run's outcome.
type Result struct {
	Ops          int64 // successful operations in the measured period
	Units        int64 // their units of work
	Retries      int64
	Errors       int64
	ErrorSamples []string
	Elapsed      time.Duration
	// Stuck counts the operations still unanswered Grace after the
	// measured period ended (they were then cancelled).
	Stuck   int64
	Grace   time.Duration
	Latency *hdrhistogram.Histogram // nanoseconds
}

// NewHistogram returns an empty histogram of the geometry every client
// uses: nanoseconds, 1 µs to 60 s, 3 significant digits.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1000, int64(60*time.Second), 3)
}

// Run drives op as cfg says. It returns when the measured period ends or
// ctx is done.
func Run(ctx context.Context, cfg Config, op Op) *Result {
	clients := max(cfg.Clients, 1)
	var (
		seq      atomic.Int64 // every operation, for unique keys
		count    atomic.Int64 // measured operations, for Total
		inflight atomic.Int64
		measured atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		seen     = map[string]bool{}
	)
	res := &Result{Latency: NewHistogram(), Grace: cmp.Or(cfg.Grace, graceDuration)}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var start, end time.Time
	var startOnce sync.Once
	begin := func() {
		startOnce.Do(func() {
			start = time.Now()
			measured.Store(true)
		})
	}
	if cfg.Warmup <= 0 {
		begin()
	}
	var stop atomic.Bool
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := NewHistogram()
			var ops, units, retries, errs int64
			for runCtx.Err() == nil && !stop.Load() {
				inMeasure := measured.Load()
				n := seq.Add(1) - 1
				if inMeasure && cfg.Total > 0 && count.Add(1) > int64(cfg.Total) {
					break
				}
				t0 := time.Now()
				inflight.Add(1)
				u, r, err := op(runCtx, c, n)
				inflight.Add(-1)
				d := time.Since(t0)
				if !inMeasure || stop.Load() {
					continue
				}
				retries += int64(r)
				if err != nil {
					if runCtx.Err() != nil {
						break
					}
					errs++
					mu.Lock()
					if msg := err.Error(); !seen[msg] && len(res.ErrorSamples) < 5 {
						seen[msg] = true
						res.ErrorSamples = append(res.ErrorSamples, msg)
					}
					mu.Unlock()
					continue
				}
				ops++
				units += int64(u)
				_ = h.RecordValue(int64(d))
			}
			mu.Lock()
			res.Latency.Merge(h)
			res.Ops += ops
			res.Units += units
			res.Retries += retries
			res.Errors += errs
			mu.Unlock()
		}()
	}
	if cfg.Warmup > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Warmup):
		}
		begin()
	}
	if cfg.Total == 0 {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Duration):
		}
		end = time.Now()
		stop.Store(true)
		// Operations still in flight get a grace period, then their
		// context is cancelled: a stuck server must not hang the tool.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(res.Grace):
			res.Stuck = inflight.Load()
			if cfg.OnStuck != nil {
				cfg.OnStuck(res.Stuck)
			}
			cancel()
			<-done
		}
	} else {
		wg.Wait()
		end = time.Now()
	}
	res.Elapsed = end.Sub(start)
	return res
}

// Throughput is successful operations per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// UnitRate is units of work per second.
func (r *Result) UnitRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Units) / r.Elapsed.Seconds()
}

// Percentile returns the latency at percentile q (0 < q <= 100).
func (r *Result) Percentile(q float64) time.Duration {
	return time.Duration(r.Latency.ValueAtPercentile(q))
}

// Print writes the summary: throughput, then latency percentiles in
// milliseconds. unit names a unit of work ("rows") or is empty.
func (r *Result) Print(w io.Writer, title, unit string) {
	ms := func(v int64) string { return fmt.Sprintf("%.3f", float64(v)/1e6) }
	h := r.Latency
	fmt.Fprintf(w, "\nSummary (%s):\n", title)
	fmt.Fprintf(w, "  measured:\t%.2f s, %d ok, %d failed, %d retries\n", r.Elapsed.Seconds(), r.Ops, r.Errors, r.Retries)
	fmt.Fprintf(w, "  throughput:\t%.1f ops/s\n", r.Throughput())
	if unit != "" {
		fmt.Fprintf(w, "  %s/s:\t%.1f\n", unit, r.UnitRate())
	}
	fmt.Fprintf(w, "  latency ms:\tmin %s  mean %s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		ms(h.Min()), ms(int64(h.Mean())), ms(h.ValueAtPercentile(50)), ms(h.ValueAtPercentile(90)),
		ms(h.ValueAtPercentile(99)), ms(h.ValueAtPercentile(99.9)), ms(h.Max()))
	if r.Stuck > 0 {
		fmt.Fprintf(w, "  stuck:\t%d operations unanswered %s after the end (cancelled)\n", r.Stuck, r.Grace)
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}
