package truetime

import (
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/prometheus/client_golang/prometheus"
)

func TestCollector(t *testing.T) {
	clock, tt := syncedClock(t, time.Millisecond, Options{})
	tt.Fail(2, DropOriginMismatch, errors.New("spoofed"))
	clock.Advance(time.Second)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(tt))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "meridian_truetime_") {
			t.Errorf("metric %s lacks the prefix", mf.GetName())
		}
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Gauge != nil:
				got[key] = m.Gauge.GetValue()
			case m.Counter != nil:
				got[key] = m.Counter.GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"meridian_truetime_synced":                                                1,
		"meridian_truetime_fenced":                                                0,
		"meridian_truetime_max_epsilon_seconds":                                   0.25,
		"meridian_truetime_source_reachable,source=m0":                            1,
		"meridian_truetime_source_dropped_total,reason=origin_mismatch,source=m2": 1,
		"meridian_truetime_source_samples_total,source=m1":                        1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if eps := got["meridian_truetime_epsilon_seconds"]; eps < 0.001 || eps > 0.0013 {
		t.Errorf("epsilon %v, want ≈1.2ms", eps)
	}
}
