package txn

import (
	"context"
	"sync"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// Closing ahead for replicas in other regions.
//
// A strong read-only transaction reads at its gateway's TT.Now().latest. A
// follower serves that at once only if its leader has already closed the
// timestamp. The side channel's closed timestamps trail the leader's
// TT.Now().earliest, and they reach a follower one trip later, so a
// follower in another region never has a fresh enough one: it must ask the
// leader, a WAN round trip.
//
// A leader therefore closes a group with replicas outside its own region
// ahead of its clock, by the group's lead, and publishes such groups every
// LeadInterval. The lead covers
//
//   - the delay each such replica's node reports: from the leader's
//     TT.Now().earliest at publication to the receiver's TT.Now().latest
//     on arrival (the trip plus both clocks' uncertainty), the largest of
//     the last few, so that jitter is covered;
//   - LeadInterval, since the closed timestamp must still cover reads
//     until the next one arrives;
//   - leadMargin, for scheduling.
//
// Writes to the group then get timestamps above the closed one and
// commit-wait about the lead. A write replicated to another region
// overlaps that wait with its Raft round: the lead is about one trip plus
// the interval, the nearest quorum's round trip two trips.
//
// The lead never exceeds CloseAhead, which bounds every promise a leader
// makes ahead of its clock: a new leader starts its timestamps CloseAhead
// above its TT.Now().latest (invariant 5), and votes last CloseAhead. A
// node whose delay needs more is left out (its reads ask, as before), and
// with the default CloseAhead, too small for any trip between regions,
// nothing is closed ahead and nothing is published faster.

// leadMargin is added to a lead for the scheduling of the publisher and
// the receiver.
const leadMargin = 2 * time.Millisecond

// delaySamples is how many of a node's reported delays its lead covers.
const delaySamples = 8

// maxSendsPerNode bounds the publications in flight to one node, so that a
// node that does not answer does not pile up calls.
const maxSendsPerNode = 8

// peerDelays records, per node, the delays its answers to publications
// reported (nanoseconds), and the publications in flight to it.
type peerDelays struct {
	mu       sync.Mutex
	samples  map[uint64]*delayRing
	inFlight map[uint64]int
}

type delayRing struct {
	d [delaySamples]int64
	n int // samples recorded (wraps modulo delaySamples for the index)
}

func newPeerDelays() *peerDelays {
	return &peerDelays{samples: map[uint64]*delayRing{}, inFlight: map[uint64]int{}}
}

// observe records a delay node reported.
func (p *peerDelays) observe(node uint64, d int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.samples[node]
	if r == nil {
		r = &delayRing{}
		p.samples[node] = r
	}
	r.d[r.n%delaySamples] = max(d, 0)
	r.n++
}

// delay returns the largest of node's recent delays, if it reported any.
func (p *peerDelays) delay(node uint64) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.samples[node]
	if r == nil {
		return 0, false
	}
	var m int64
	for i := range min(r.n, delaySamples) {
		m = max(m, r.d[i])
	}
	return m, true
}

// begin counts a publication to node in flight, unless maxSendsPerNode
// are; end uncounts it.
func (p *peerDelays) begin(node uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inFlight[node] >= maxSendsPerNode {
		return false
	}
	p.inFlight[node]++
	return true
}

func (p *peerDelays) end(node uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight[node]--
}

// leadsAhead reports whether this node closes groups ahead at all: only
// if CloseAhead leaves room for a trip beyond the interval and margin.
func (s *Server) leadsAhead() bool {
	return s.cfg.CloseAhead > 2*(s.cfg.LeadInterval+leadMargin)
}

// groupLead returns how far ahead of TT.Now().earliest this node, leading
// a group with descriptor d, closes it (nanoseconds, 0: not ahead), and
// whether the group has a replica in another region (then it is published
// every LeadInterval, which is also how its nodes' delays are learned).
func (s *Server) groupLead(d *pb.GroupDescriptor) (lead int64, remote bool) {
	if !s.leadsAhead() || d == nil {
		return 0, false
	}
	return leadOf(s.host.NodeID(), d.Replicas, s.cfg.Router.Region, s.delays.delay,
		s.cfg.CloseAhead.Nanoseconds(), (s.cfg.LeadInterval + leadMargin).Nanoseconds())
}

// leadOf is groupLead's rule: the largest delay+extra among the replicas'
// nodes outside self's region whose delay is known and fits within limit.
func leadOf(self uint64, replicas []*pb.ReplicaDescriptor, region func(uint64) string, delay func(uint64) (int64, bool), limit, extra int64) (lead int64, remote bool) {
	home := region(self)
	for _, r := range replicas {
		if r.NodeId == self || region(r.NodeId) == home {
			continue
		}
		remote = true
		if d, ok := delay(r.NodeId); ok && d+extra <= limit {
			lead = max(lead, d+extra)
		}
	}
	return lead, remote
}

// sendClosed publishes closed timestamps to node in the background and
// records the delay its answer reports against at, the TT.Now().earliest
// the closed timestamps were computed from.
func (s *Server) sendClosed(node uint64, cs []*pb.ClosedTimestamp, at int64) {
	if !s.delays.begin(node) {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.delays.end(node)
		cl, err := s.cfg.Router.Client(node)
		if err != nil {
			return
		}
		// Longer than any trip between regions; a publication that takes
		// longer is stale anyway.
		ctx, cancel := context.WithTimeout(s.stopCtx, time.Second)
		defer cancel()
		resp, err := cl.PublishClosed(ctx, &pb.PublishClosedRequest{FromNode: s.host.NodeID(), Closed: cs})
		if err == nil && resp.ReceivedLatest > 0 {
			s.delays.observe(node, resp.ReceivedLatest-at)
		}
	}()
}
