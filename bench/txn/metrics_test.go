package txnbench

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestHistogramDelta(t *testing.T) {
	before := sample{
		`meridian_txn_commit_wait_seconds_bucket{le="0"}`:           0,
		`meridian_txn_commit_wait_seconds_bucket{le="5e-05"}`:       10,
		`meridian_txn_commit_wait_seconds_bucket{le="0.0001"}`:      10,
		`meridian_txn_commit_wait_seconds_bucket{le="+Inf"}`:        10,
		`meridian_txn_commit_wait_seconds_sum`:                      0.0001,
		`meridian_txn_commit_wait_seconds_count`:                    10,
		`meridian_txn_commit_seconds_bucket{kind="2pc",le="0.001"}`: 5,
	}
	after := sample{
		`meridian_txn_commit_wait_seconds_bucket{le="0"}`:           0,
		`meridian_txn_commit_wait_seconds_bucket{le="5e-05"}`:       80,
		`meridian_txn_commit_wait_seconds_bucket{le="0.0001"}`:      100,
		`meridian_txn_commit_wait_seconds_bucket{le="+Inf"}`:        110,
		`meridian_txn_commit_wait_seconds_sum`:                      0.0101,
		`meridian_txn_commit_wait_seconds_count`:                    110,
		`meridian_txn_commit_seconds_bucket{kind="2pc",le="0.001"}`: 9,
	}
	h := delta(before, after).histogramOf("meridian_txn_commit_wait_seconds", "")
	if h.count != 100 || math.Abs(h.sum-0.01) > 1e-12 {
		t.Fatalf("count %v sum %v, want 100 and 0.01", h.count, h.sum)
	}
	if lo, hi := h.quantile(0.5); lo != 0 || hi != 5e-05 {
		t.Errorf("p50 in (%v, %v], want (0, 5e-05]", lo, hi)
	}
	if lo, hi := h.quantile(0.95); lo != 1e-04 || !math.IsInf(hi, 1) {
		t.Errorf("p95 in (%v, %v], want (1e-04, +Inf]", lo, hi)
	}
	if f := h.fractionAtOrBelow(5e-05); f != 0.7 {
		t.Errorf("fraction at or below 50µs %v, want 0.7", f)
	}
	if c := delta(before, after).histogramOf("meridian_txn_commit_seconds", `kind="2pc"`); len(c.counts) != 1 || c.counts[0] != 4 {
		t.Errorf("2pc buckets %v, want [4]", c.counts)
	}
}

// TestDumpGoroutines saves one file per node with what its pprof
// endpoint answered.
func TestDumpGoroutines(t *testing.T) {
	var addrs []string
	for _, body := range []string{"goroutine 1 [select]:\nnode one", "goroutine 7 [chan receive]:\nnode two"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/debug/pprof/goroutine" || r.URL.Query().Get("debug") != "2" {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write([]byte(body))
		}))
		defer srv.Close()
		addrs = append(addrs, strings.TrimPrefix(srv.URL, "http://"))
	}
	paths, err := dumpGoroutines(context.Background(), addrs, t.TempDir())
	if err != nil || len(paths) != 2 {
		t.Fatalf("paths %v, err %v", paths, err)
	}
	for i, want := range []string{"node one", "node two"} {
		b, err := os.ReadFile(paths[i])
		if err != nil || !strings.Contains(string(b), want) || !strings.Contains(paths[i], "-n"+string(rune('1'+i))+"-") {
			t.Errorf("%s: %q, %v; want it to hold %q", paths[i], b, err, want)
		}
	}
}
