package timemaster

import "github.com/prometheus/client_golang/prometheus"

// Collector exports a Server's counters as meridian_truetime_master_*
// metrics, for a node that embeds a time master (--time-master).
type Collector struct {
	s                                    *Server
	answered, dropped, errs, uncertainty *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector for s.
func NewCollector(s *Server) *Collector {
	return &Collector{
		s:           s,
		answered:    prometheus.NewDesc("meridian_truetime_master_answered_total", "NTP requests answered by the time master.", nil, nil),
		dropped:     prometheus.NewDesc("meridian_truetime_master_dropped_total", "Packets the time master dropped, by reason.", []string{"reason"}, nil),
		errs:        prometheus.NewDesc("meridian_truetime_master_socket_errors_total", "Socket read/send errors.", []string{"op"}, nil),
		uncertainty: prometheus.NewDesc("meridian_truetime_master_declared_uncertainty_seconds", "Uncertainty the time master declares (root dispersion).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.answered
	ch <- c.dropped
	ch <- c.errs
	ch <- c.uncertainty
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(c.answered, prometheus.CounterValue, float64(st.Answered))
	for _, r := range dropReasons {
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped[r]), r)
	}
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(st.ReadErrors), "read")
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(st.SendErrors), "send")
	ch <- prometheus.MustNewConstMetric(c.uncertainty, prometheus.GaugeValue, c.s.opts.Uncertainty.Seconds())
}
