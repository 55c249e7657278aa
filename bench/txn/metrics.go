package txnbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is one scrape of every node's meridian_txn_* series, summed
// over the nodes: series text (name and labels) -> value.
type sample map[string]float64

// scrape reads /metrics of every HTTP address and sums the transaction
// series over the nodes.
func scrape(ctx context.Context, httpAddrs []string) (sample, error) {
	s := sample{}
	for _, a := range httpAddrs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("txnbench: scrape %s: %w", a, err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "meridian_txn_") {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			if i < 0 {
				continue
			}
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err != nil {
				continue
			}
			s[line[:i]] += v
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// delta returns after minus before.
func delta(before, after sample) sample {
	d := sample{}
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

// histogram is one Prometheus histogram's deltas.
type histogram struct {
	le     []float64 // upper bounds, ascending, +Inf last
	counts []float64 // cumulative
	sum    float64
	count  float64
}

// histogramOf collects the series of family name whose labels (other
// than le) are exactly labels ("" or `kind="2pc"`).
func (d sample) histogramOf(name, labels string) histogram {
	var h histogram
	type b struct{ le, c float64 }
	var bs []b
	prefix := name + "_bucket{"
	for k, v := range d {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		inner := strings.TrimSuffix(k[len(prefix):], "}")
		var le string
		var rest []string
		for _, p := range strings.Split(inner, ",") {
			if strings.HasPrefix(p, "le=") {
				le = strings.Trim(p[3:], `"`)
			} else {
				rest = append(rest, p)
			}
		}
		if strings.Join(rest, ",") != labels {
			continue
		}
		f, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" {
			f, err = math.Inf(1), nil
		}
		if err != nil {
			continue
		}
		bs = append(bs, b{f, v})
	}
	slices.SortFunc(bs, func(x, y b) int {
		switch {
		case x.le < y.le:
			return -1
		case x.le > y.le:
			return 1
		}
		return 0
	})
	for _, x := range bs {
		h.le, h.counts = append(h.le, x.le), append(h.counts, x.c)
	}
	suffix := ""
	if labels != "" {
		suffix = "{" + labels + "}"
	}
	h.sum, h.count = d[name+"_sum"+suffix], d[name+"_count"+suffix]
	return h
}

// quantile returns the bucket (lo, hi] holding quantile q.
func (h histogram) quantile(q float64) (lo, hi float64) {
	if h.count == 0 {
		return 0, 0
	}
	rank := q * h.count
	prev := 0.0
	for i, c := range h.counts {
		if c >= rank {
			return prev, h.le[i]
		}
		prev = h.le[i]
	}
	return prev, math.Inf(1)
}

// fractionAtOrBelow is the share of observations at or below bound (a
// bucket bound).
func (h histogram) fractionAtOrBelow(bound float64) float64 {
	if h.count == 0 {
		return 0
	}
	for i, le := range h.le {
		if le >= bound {
			return h.counts[i] / h.count
		}
	}
	return 1
}

func fmtSeconds(s float64) string {
	if math.IsInf(s, 1) {
		return "+Inf"
	}
	return time.Duration(s * 1e9).Round(time.Microsecond).String()
}

// printMetrics writes the transaction metrics' deltas over the run.
func printMetrics(w io.Writer, d sample) {
	fmt.Fprintln(w, "\nServer metrics over the measured period (all nodes):")
	for _, name := range []struct{ family, labels, title string }{
		{"meridian_txn_commit_seconds", `kind="one_phase"`, "commit latency at the leader, one-phase"},
		{"meridian_txn_commit_seconds", `kind="2pc"`, "commit latency at the coordinator, 2PC decide"},
		{"meridian_txn_commit_wait_seconds", "", "commit wait left after replication"},
	} {
		h := d.histogramOf(name.family, name.labels)
		if h.count == 0 {
			continue
		}
		lo, hi := h.quantile(0.5)
		lo9, hi9 := h.quantile(0.9)
		fmt.Fprintf(w, "  %s: n=%.0f mean %s p50 in (%s, %s] p90 in (%s, %s]", name.title, h.count,
			fmtSeconds(h.sum/h.count), fmtSeconds(lo), fmtSeconds(hi), fmtSeconds(lo9), fmtSeconds(hi9))
		if name.family == "meridian_txn_commit_wait_seconds" && len(h.le) > 1 {
			fmt.Fprintf(w, "; %.1f%% at or below %s", 100*h.fractionAtOrBelow(h.le[1]), fmtSeconds(h.le[1]))
		}
		fmt.Fprintln(w)
	}
	var counters []string
	for k, v := range d {
		if v != 0 && (strings.HasPrefix(k, "meridian_txn_aborts_total") || strings.HasPrefix(k, "meridian_txn_snapshot_reads_total") ||
			strings.HasPrefix(k, "meridian_txn_lock_waits_total")) {
			counters = append(counters, fmt.Sprintf("  %s %.0f", k, v))
		}
	}
	slices.Sort(counters)
	for _, c := range counters {
		fmt.Fprintln(w, c)
	}
}

// dumpGoroutines saves every node's goroutines (pprof, with stacks) to
// files in dir and returns their paths: what the servers were doing about
// operations that did not come back.
func dumpGoroutines(ctx context.Context, httpAddrs []string, dir string) ([]string, error) {
	var paths []string
	for i, a := range httpAddrs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a+"/debug/pprof/goroutine?debug=2", nil)
		if err != nil {
			return paths, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return paths, fmt.Errorf("txnbench: goroutines of %s: %w", a, err)
		}
		f, err := os.CreateTemp(dir, fmt.Sprintf("meridian-stuck-n%d-*.txt", i+1))
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			err = errors.Join(err, f.Close())
			paths = append(paths, f.Name())
		}
		_ = resp.Body.Close()
		if err != nil {
			return paths, err
		}
	}
	return paths, nil
}
