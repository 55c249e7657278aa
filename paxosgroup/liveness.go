package paxosgroup

import (
	"sync"
	"time"
)

// liveness tracks node-level support, the ground leader leases stand on.
//
// Every tick a node sends each peer a heartbeat. A peer that receives it
// promises support: for SupportDuration of its own monotonic clock it will
// not vote for, or campaign against, any leader hosted on the sender's node
// in a group where it currently follows that node (replica.go enforces the
// promise by dropping vote requests and by not ticking such followers).
// When the acknowledgement returns, the sender knows the promise started no
// earlier than the heartbeat left, so it may count on it until
// sentAt + Options.leaseDuration() on its own clock.
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

	mu struct {
		sync.Mutex
		seq         uint64
		sent        map[uint64]sentHeartbeat
		supportFor  map[uint64]time.Time // peer -> we support it until
		supportFrom map[uint64]time.Time // peer -> it supports us until
		lastHeard   map[uint64]time.Time // peer -> last heartbeat or ack
	}
}

type sentHeartbeat struct {
	peer uint64
	at   time.Time
}

func newLiveness(opts *Options) *liveness {
	now := opts.Now()
	l := &liveness{
		now:             opts.Now,
		supportDuration: opts.SupportDuration,
		leaseDuration:   opts.leaseDuration(),
		startedAt:       now,
		base:            now,
	}
	l.mu.sent = make(map[uint64]sentHeartbeat)
	l.mu.supportFor = make(map[uint64]time.Time)
	l.mu.supportFrom = make(map[uint64]time.Time)
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

// onHeartbeat grants support to peer and reports that the peer is alive.
func (l *liveness) onHeartbeat(peer uint64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	until := now.Add(l.supportDuration)
	if until.After(l.mu.supportFor[peer]) {
		l.mu.supportFor[peer] = until
	}
	l.mu.lastHeard[peer] = now
}

// onAck extends peer's support for us, measured from when the heartbeat
// left.
func (l *liveness) onAck(peer, seq uint64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.mu.sent[seq]
	if !ok || s.peer != peer {
		return
	}
	delete(l.mu.sent, seq)
	until := s.at.Add(l.leaseDuration)
	if until.After(l.mu.supportFrom[peer]) {
		l.mu.supportFrom[peer] = until
	}
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
	return now.Before(l.mu.supportFor[leader])
}

// inStartupGrace reports whether promises of a previous incarnation may
// still bind this node.
func (l *liveness) inStartupGrace() bool {
	return l.now().Sub(l.startedAt) < l.supportDuration
}

// supportedUntil returns, as nanoseconds since l.base, until when peer
// supports this node (0: not at all).
func (l *liveness) supportedUntil(peer uint64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.mu.supportFrom[peer]
	if !ok {
		return 0
	}
	return int64(t.Sub(l.base))
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
