package txn

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the transaction service's Prometheus collectors.
type Metrics struct {
	commitLatency   *prometheus.HistogramVec
	commitWait      prometheus.Histogram
	aborts          *prometheus.CounterVec
	lockWaits       prometheus.Counter
	lockWaitSeconds prometheus.Histogram
	snapshotReads   *prometheus.CounterVec
	closedLag       *prometheus.GaugeVec
	votes           prometheus.Counter
	voteExtensions  prometheus.Counter
	lockedScans     *prometheus.CounterVec
}

func newMetrics() *Metrics {
	buckets := prometheus.ExponentialBuckets(50e-6, 2, 18)
	return &Metrics{
		commitLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "meridian_txn_commit_seconds", Help: "Commit latency at the committing leader, by kind (one_phase, 2pc: the coordinator's decision).",
			Buckets: buckets}, []string{"kind"}),
		commitWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meridian_txn_commit_wait_seconds", Help: "Commit wait left after the commit was replicated (0 when overlapped).",
			Buckets: append([]float64{0}, buckets...)}),
		aborts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_txn_aborts_total", Help: "Transactions aborted by this node's leaders, by reason."}, []string{"reason"}),
		lockWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_txn_lock_waits_total", Help: "Lock requests that had to wait."}),
		lockWaitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meridian_txn_lock_wait_seconds", Help: "Time lock requests waited.", Buckets: buckets}),
		snapshotReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_txn_snapshot_reads_total", Help: "Snapshot reads by how safe time was established (local: already closed here; leader; asked: the leader was asked)."},
			[]string{"path"}),
		closedLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_txn_safe_time_lag_seconds", Help: "TT.Now().latest minus the closed timestamp last published, per group led here."},
			[]string{"group"}),
		votes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_txn_votes_total", Help: "Votes given by this node's leaders for groups a committing transaction only read (no log record)."}),
		voteExtensions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_txn_vote_extensions_total", Help: "Commits whose timestamp was above a read-only group's vote, which was extended to cover it."}),
		lockedScans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_txn_locked_scans_total", Help: "Scans of read-write transactions at this node's leaders, by how often the span was read (once: nothing was written in it while it was locked; twice: read again under the lock)."},
			[]string{"reads"}),
	}
}

// Register adds the collectors to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.commitLatency, m.commitWait, m.aborts, m.lockWaits, m.lockWaitSeconds, m.snapshotReads, m.closedLag, m.votes, m.voteExtensions, m.lockedScans} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
