package paxosgroup

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// liveness tracks node-level support, the ground leader leases stand on.
//
// Every tick a node sends each peer a heartbeat. A peer that receives it
// promises support: for SupportDuration of its own monotonic clock it will
// not vote for, or campaign against, a leader on the sender's node in a
// group where it follows that node (replica.go enforces the promise by
// dropping vote requests and by not ticking such followers). When the
// acknowledgement returns, the sender knows the promise started no earlier
// than the heartbeat left, so it may count on it until
// sentAt + Options.leaseDuration() on its own clock.
//
// Support comes in epochs. A supporter starts a new epoch for a peer
// whenever its support for that peer had lapsed before it is granted
// again, and every incarnation of a node starts with fresh epochs. Within
// one epoch support was continuous, so a follower that answered the leader
// of term T in epoch e still follows it while epoch e lasts: leaving it
// would have needed a vote that the promise forbade. Raft messages and
// acknowledgements carry the sender's epoch; a leader counts a voter
// towards its lease only while the voter's support is still in the epoch
// of its last answer in the leader's term (replica.go). Without epochs, a
// follower that had moved on to a newer leader during a partition would,
// once the partition heals and node-level support resumes, look like
// support for the old leader.
//
// A node that restarts has forgotten the promises it made. It therefore
// behaves, for SupportDuration after start, as if it supported every peer:
// it grants no votes and starts no campaigns.
type liveness struct {
	now             func() time.Time
	supportDuration time.Duration
	leaseDuration   time.Duration
	startedAt       time.Time
	// base anchors the monotonic nanosecond values handed to quorum math.
	base time.Time
	// epochBase makes this incarnation's epochs differ from any earlier
	// incarnation's.
	epochBase uint64

	mu struct {
		sync.Mutex
		seq         uint64
		sent        map[uint64]sentHeartbeat
		supportFor  map[uint64]support // peer -> we support it
		supportFrom map[uint64]support // peer -> it supports us
		lastHeard   map[uint64]time.Time
	}
}

type support struct {
	until time.Time
	epoch uint64
}

type sentHeartbeat struct {
	peer uint64
	at   time.Time
}

func newLiveness(opts *Options) *liveness {
	now := opts.Now()
	var b [8]byte
	_, _ = rand.Read(b[:])
	l := &liveness{
		now:             opts.Now,
		supportDuration: opts.SupportDuration,
		leaseDuration:   opts.leaseDuration(),
		startedAt:       now,
		base:            now,
		epochBase:       binary.BigEndian.Uint64(b[:]) &^ 0xffffffff,
	}
	l.mu.sent = make(map[uint64]sentHeartbeat)
	l.mu.supportFor = make(map[uint64]support)
	l.mu.supportFrom = make(map[uint64]support)
	l.mu.lastHeard = make(map[uint64]time.Time)
	return l
}

// nextHeartbeat records a heartbeat about to be sent to peer.
func (l *liveness) nextHeartbeat(peer uint64) uint64 {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.seq++
	l.mu.sent[l.mu.seq] = sentHeartbeat{peer: peer, at: now}
	// Forget heartbeats whose acknowledgement could no longer extend
	// anything (they were lost).
	if len(l.mu.sent) > 1024 {
		for seq, s := range l.mu.sent {
			if now.Sub(s.at) > l.supportDuration {
				delete(l.mu.sent, seq)
			}
		}
	}
	return l.mu.seq
}

// onHeartbeat grants support to peer and returns the epoch it is granted
// in.
func (l *liveness) onHeartbeat(peer uint64) uint64 {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.mu.supportFor[peer]
	if s.epoch == 0 || !now.Before(s.until) {
		// Support lapsed (or never was): a new epoch.
		if s.epoch == 0 {
			s.epoch = l.epochBase
		}
		s.epoch++
	}
	s.until = now.Add(l.supportDuration)
	l.mu.supportFor[peer] = s
	l.mu.lastHeard[peer] = now
	return s.epoch
}

// epochFor is this node's current support epoch for peer (0: none), which
// stamps every Raft message sent to it.
func (l *liveness) epochFor(peer uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.supportFor[peer].epoch
}

// onAck records peer's support for us in epoch, measured from when the
// heartbeat left.
func (l *liveness) onAck(peer, seq, epoch uint64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.mu.sent[seq]
	if !ok || s.peer != peer {
		return
	}
	delete(l.mu.sent, seq)
	until := s.at.Add(l.leaseDuration)
	cur := l.mu.supportFrom[peer]
	if cur.epoch != epoch {
		// Acks of one stream arrive in order, so a different epoch is a
		// newer one; the old epoch's support is no longer counted.
		cur = support{epoch: epoch, until: until}
	} else if until.After(cur.until) {
		cur.until = until
	}
	l.mu.supportFrom[peer] = cur
	l.mu.lastHeard[peer] = now
}

// supporting reports whether this node may not help elect a leader other
// than one on node leader: it promised support, or it has just restarted
// and cannot know what it promised.
func (l *liveness) supporting(leader uint64) bool {
	now := l.now()
	if now.Sub(l.startedAt) < l.supportDuration {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return now.Before(l.mu.supportFor[leader].until)
}

// inStartupGrace reports whether promises of a previous incarnation may
// still bind this node.
func (l *liveness) inStartupGrace() bool {
	return l.now().Sub(l.startedAt) < l.supportDuration
}

// supportedUntil returns, as nanoseconds since l.base, until when peer
// supports this node in the given epoch (0: not at all, or not in that
// epoch).
func (l *liveness) supportedUntil(peer, epoch uint64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.mu.supportFrom[peer]
	if !ok || epoch == 0 || s.epoch != epoch {
		return 0
	}
	return int64(s.until.Sub(l.base))
}

// monoNow is the current time in the units of supportedUntil.
func (l *liveness) monoNow() int64 { return int64(l.now().Sub(l.base)) }

// isLive reports whether peer was heard from within SupportDuration.
func (l *liveness) isLive(peer uint64) (bool, time.Time) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.mu.lastHeard[peer]
	return ok && now.Sub(t) < l.supportDuration, t
}
