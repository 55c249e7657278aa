package truetime

import "github.com/prometheus/client_golang/prometheus"

// Collector exports a TrueTime's Status as Prometheus metrics named
// meridian_truetime_*. Register it on the node's registry:
//
//	reg.MustRegister(truetime.NewCollector(tt))
//
// Each scrape takes one Status snapshot.
type Collector struct {
	tt *TrueTime

	epsilon, offset, maxEpsilon, synced, fenced, sinceSync *prometheus.Desc
	rounds, noAgreement, violations                        *prometheus.Desc
	srcReachable, srcOutvoted, srcOffset, srcRTT           *prometheus.Desc
	srcUncertainty, srcExchanges, srcAccepted, srcDropped  *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector for tt.
func NewCollector(tt *TrueTime) *Collector {
	src := []string{"source"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("meridian_truetime_"+name, help, labels, nil)
	}
	return &Collector{
		tt:             tt,
		epsilon:        d("epsilon_seconds", "Half the width of the TrueTime interval (ε).", nil),
		offset:         d("offset_seconds", "Estimated true time minus the local clock.", nil),
		maxEpsilon:     d("max_epsilon_seconds", "ε above which read-write commits are refused.", nil),
		synced:         d("synced", "1 once the clock has agreed with its time sources.", nil),
		fenced:         d("fenced", "1 while read-write commits are refused by the clock.", nil),
		sinceSync:      d("since_last_sync_seconds", "Local time since the last round in which the sources agreed.", nil),
		rounds:         d("sync_rounds_total", "Synchronisation rounds.", nil),
		noAgreement:    d("no_agreement_rounds_total", "Rounds in which too few sources answered or they disagreed.", nil),
		violations:     d("violations_total", "Detected breaks of the clock's assumptions (drift beyond the bound, wrong majority).", nil),
		srcReachable:   d("source_reachable", "1 if the source has a sample recent enough to vote.", src),
		srcOutvoted:    d("source_outvoted", "1 if the source's interval missed the others' agreement in the last round.", src),
		srcOffset:      d("source_offset_seconds", "Offset measured by the last accepted exchange.", src),
		srcRTT:         d("source_rtt_seconds", "Round-trip time of the last accepted exchange.", src),
		srcUncertainty: d("source_declared_uncertainty_seconds", "Uncertainty the source declared in its last accepted reply.", src),
		srcExchanges:   d("source_exchanges_total", "Exchanges attempted with the source.", src),
		srcAccepted:    d("source_samples_total", "Exchanges that produced a sample.", src),
		srcDropped:     d("source_dropped_total", "Exchanges dropped, by reason.", []string{"source", "reason"}),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.epsilon, c.offset, c.maxEpsilon, c.synced, c.fenced, c.sinceSync,
		c.rounds, c.noAgreement, c.violations, c.srcReachable, c.srcOutvoted, c.srcOffset, c.srcRTT,
		c.srcUncertainty, c.srcExchanges, c.srcAccepted, c.srcDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.tt.Status()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ctr := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if st.Synced {
		g(c.epsilon, st.Epsilon.Seconds())
		g(c.offset, st.Offset.Seconds())
		g(c.sinceSync, st.SinceLastSync.Seconds())
	}
	g(c.maxEpsilon, st.MaxEpsilon.Seconds())
	g(c.synced, b2f(st.Synced))
	g(c.fenced, b2f(st.Fenced))
	ctr(c.rounds, st.Rounds)
	ctr(c.noAgreement, st.NoAgreementRounds)
	ctr(c.violations, st.Violations)
	for _, s := range st.Sources {
		g(c.srcReachable, b2f(s.Reachable), s.Address)
		g(c.srcOutvoted, b2f(s.Outvoted), s.Address)
		if s.HasSample {
			g(c.srcOffset, s.LastOffset.Seconds(), s.Address)
			g(c.srcRTT, s.LastRTT.Seconds(), s.Address)
			g(c.srcUncertainty, s.DeclaredUncertainty.Seconds(), s.Address)
		}
		ctr(c.srcExchanges, s.Exchanges, s.Address)
		ctr(c.srcAccepted, s.Accepted, s.Address)
		for r := DropReason(0); r < numDropReasons; r++ {
			ctr(c.srcDropped, s.Dropped[r.String()], s.Address, r.String())
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
