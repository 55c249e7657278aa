package paxosgroup

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the host's Prometheus collectors. Register them with
// Metrics.Register.
type Metrics struct {
	Proposals       prometheus.Counter
	ProposalsFailed *prometheus.CounterVec
	ApplyLatency    prometheus.Histogram
	CommitLatency   prometheus.Histogram
	ReadyBatches    prometheus.Counter
	Snapshots       *prometheus.CounterVec
	leaders         prometheus.GaugeFunc
}

func newMetrics() *Metrics {
	buckets := prometheus.ExponentialBuckets(50e-6, 2, 18)
	return &Metrics{
		Proposals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_raft_proposals_total", Help: "Commands proposed to Raft groups led here."}),
		ProposalsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_raft_proposals_failed_total", Help: "Proposals that did not apply, by reason."}, []string{"reason"}),
		ApplyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meridian_raft_apply_seconds", Help: "Time to apply one batch of committed entries.", Buckets: buckets}),
		CommitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meridian_raft_proposal_seconds", Help: "Time from proposal to applied result at the leader.", Buckets: buckets}),
		ReadyBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_raft_ready_total", Help: "Raft Ready batches handled."}),
		Snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_raft_snapshots_total", Help: "Raft snapshots sent and applied."}, []string{"kind"}),
	}
}

// Register adds the host's collectors, including the leader count, to reg.
func (h *Host) RegisterMetrics(reg prometheus.Registerer) error {
	m := h.metrics
	m.leaders = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "meridian_raft_leaders", Help: "Groups whose leader is the replica on this node."},
		func() float64 {
			n := 0
			for _, id := range h.groupIDs() {
				if r := h.replica(id); r != nil && r.leaderNode.Load() == h.opts.NodeID {
					n++
				}
			}
			return float64(n)
		})
	replicas := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "meridian_raft_replicas", Help: "Replicas hosted on this node."},
		func() float64 { return float64(len(h.groupIDs())) })
	for _, c := range []prometheus.Collector{m.Proposals, m.ProposalsFailed, m.ApplyLatency, m.CommitLatency,
		m.ReadyBatches, m.Snapshots, m.leaders, replicas} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
