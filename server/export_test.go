package server

import dto "github.com/prometheus/client_model/go"

// KVWriteBatches reports how many batches of single-key writes this node
// committed and how many writes they held.
func (n *Node) KVWriteBatches() (batches, writes uint64) {
	var m dto.Metric
	if err := n.writes.size.Write(&m); err != nil {
		panic(err)
	}
	return m.GetHistogram().GetSampleCount(), uint64(m.GetHistogram().GetSampleSum())
}
