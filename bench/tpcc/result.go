package tpcc

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// Result is a run's measured outcome; its JSON form is what --json writes.
type Result struct {
	Warehouses      int     `json:"warehouses"`
	Terminals       int     `json:"terminals"`
	Wait            bool    `json:"wait"`
	DurationSeconds float64 `json:"duration_seconds"` // the measured period
	RampSeconds     float64 `json:"ramp_seconds"`
	// TpmC is New-Order transactions completed per minute of the
	// measured period, rolled-back ones included (5.4.2).
	TpmC float64 `json:"tpmC"`
	// Efficiency is TpmC as a percentage of 12.86 × W, the most that
	// spec-paced terminals allow; above 100 without --wait.
	Efficiency float64 `json:"efficiency"`
	// Transactions counts transactions of every type completed in the
	// measured period.
	Transactions int64 `json:"transactions"`
	Retries      int64 `json:"retries"`
	Errors       int64 `json:"errors"`
	// Types has one entry per transaction type: new_order, payment,
	// order_status, delivery, stock_level.
	Types map[string]TypeResult `json:"types"`
	// ErrorSamples counts the first distinct error messages.
	ErrorSamples map[string]int `json:"error_samples,omitempty"`
}

// TypeResult is one transaction type's counts and latency percentiles
// (milliseconds, from BEGIN to the end of COMMIT, retries included).
type TypeResult struct {
	Count     int64   `json:"count"`
	Rollbacks int64   `json:"rollbacks"`
	Retries   int64   `json:"retries"`
	Errors    int64   `json:"errors"`
	P50       float64 `json:"p50_ms"`
	P90       float64 `json:"p90_ms"`
	P95       float64 `json:"p95_ms"`
	P99       float64 `json:"p99_ms"`
	Max       float64 `json:"max_ms"`
}

func (r *recorder) result(cfg Config) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{
		Warehouses: cfg.Warehouses, Terminals: cfg.Terminals, Wait: cfg.Wait,
		DurationSeconds: cfg.Duration.Seconds(), RampSeconds: cfg.Ramp.Seconds(),
		Types: map[string]TypeResult{},
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	for i, s := range r.mu.types {
		h := s.hist
		res.Types[txnType(i).String()] = TypeResult{
			Count: s.count, Rollbacks: s.rollbacks, Retries: s.retries, Errors: s.errors,
			P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P95: ms(h.ValueAtQuantile(95)),
			P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max()),
		}
		res.Transactions += s.count
		res.Retries += s.retries
		res.Errors += s.errors
	}
	res.TpmC = float64(r.mu.types[newOrder].count) / cfg.Duration.Minutes()
	res.Efficiency = 100 * res.TpmC / (maxTpmCPerWarehouse * float64(cfg.Warehouses))
	if len(r.mu.samples) > 0 {
		res.ErrorSamples = r.mu.samples
	}
	return res
}

// Print writes the summary table.
func (res *Result) Print(w io.Writer) {
	pacing := "no wait"
	if res.Wait {
		pacing = "keying and think times"
	}
	fmt.Fprintf(w, "TPC-C: %d warehouses, %d terminals, %s, %s measured after %s ramp\n",
		res.Warehouses, res.Terminals, pacing,
		time.Duration(res.DurationSeconds*float64(time.Second)), time.Duration(res.RampSeconds*float64(time.Second)))
	fmt.Fprintf(w, "tpmC %.1f  efficiency %.1f%%  transactions %d (%.1f/s)  retries %d  errors %d\n",
		res.TpmC, res.Efficiency, res.Transactions, float64(res.Transactions)/res.DurationSeconds, res.Retries, res.Errors)
	fmt.Fprintf(w, "%-13s %8s %6s %8s %7s %9s %9s %9s %9s %9s\n",
		"type", "count", "mix%", "retries", "errors", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "max ms")
	for _, name := range txnNames {
		t := res.Types[name]
		mix := 0.0
		if res.Transactions > 0 {
			mix = 100 * float64(t.Count) / float64(res.Transactions)
		}
		fmt.Fprintf(w, "%-13s %8d %6.1f %8d %7d %9.2f %9.2f %9.2f %9.2f %9.2f\n",
			name, t.Count, mix, t.Retries, t.Errors, t.P50, t.P90, t.P95, t.P99, t.Max)
	}
	if no := res.Types[newOrder.String()]; no.Count > 0 {
		fmt.Fprintf(w, "new_order rolled back (invalid item, counted): %d (%.2f%%)\n", no.Rollbacks, 100*float64(no.Rollbacks)/float64(no.Count))
	}
	if len(res.ErrorSamples) > 0 {
		keys := make([]string, 0, len(res.ErrorSamples))
		for k := range res.ErrorSamples {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "errors:")
		for _, k := range keys {
			fmt.Fprintf(w, "  %5d× %s\n", res.ErrorSamples[k], k)
		}
	}
}
