package paxosgroup

import (
	"testing"
	"time"
)

// manualNow is a monotonic clock the test advances by hand.
type manualNow struct{ t time.Time }

func (m *manualNow) now() time.Time          { return m.t }
func (m *manualNow) advance(d time.Duration) { m.t = m.t.Add(d) }

func newTestLiveness(clock *manualNow) *liveness {
	o := Options{Now: clock.now, SupportDuration: time.Second, MaxClockDrift: 1e-3, LeaseMargin: 10 * time.Millisecond}
	return newLiveness(&o)
}

// TestLeaseNeverOutlivesSupport checks the clock assumption of the lease
// argument: a leader's view of a peer's support (sentAt + leaseDuration on
// the leader's clock) ends before the peer's promise (receivedAt +
// SupportDuration on the peer's clock) whenever the two clocks' rates
// differ by at most MaxClockDrift — here the peer's clock runs fast by
// exactly that bound, the worst case.
func TestLeaseNeverOutlivesSupport(t *testing.T) {
	leaderClock, peerClock := &manualNow{t: time.Unix(100, 0)}, &manualNow{t: time.Unix(5000, 0)}
	leader, peer := newTestLiveness(leaderClock), newTestLiveness(peerClock)
	// Skip both nodes' startup grace.
	leaderClock.advance(2 * time.Second)
	peerClock.advance(2 * time.Second)

	const drift = 1e-3
	step := func(real time.Duration) {
		leaderClock.advance(real)
		peerClock.advance(time.Duration(float64(real) * (1 + drift)))
	}
	seq := leader.nextHeartbeat(2)
	step(3 * time.Millisecond) // network delay
	epoch := peer.onHeartbeat(1)
	step(3 * time.Millisecond)
	leader.onAck(2, seq, epoch)

	// Walk real time forward: whenever the leader still counts the
	// support, the peer must still be bound by its promise.
	for i := 0; i < 2000; i++ {
		counted := leader.monoNow() < leader.supportedUntil(2, epoch)
		bound := peer.supporting(1)
		if counted && !bound {
			t.Fatalf("after %d ms the leader counts support the peer no longer gives", i)
		}
		step(time.Millisecond)
	}
	if leader.monoNow() < leader.supportedUntil(2, epoch) {
		t.Fatal("support never expired at the leader")
	}
}

// TestSupportEpochs: a lapse of support starts a new epoch, and support of
// an old epoch is not counted.
func TestSupportEpochs(t *testing.T) {
	clock := &manualNow{t: time.Unix(100, 0)}
	leader, peer := newTestLiveness(clock), newTestLiveness(clock)
	clock.advance(2 * time.Second)
	seq := leader.nextHeartbeat(2)
	e1 := peer.onHeartbeat(1)
	leader.onAck(2, seq, e1)
	if leader.supportedUntil(2, e1) == 0 {
		t.Fatal("no support in the first epoch")
	}
	// Continuous renewal keeps the epoch.
	clock.advance(500 * time.Millisecond)
	if e := peer.onHeartbeat(1); e != e1 {
		t.Fatalf("renewal within support changed the epoch: %d -> %d", e1, e)
	}
	// A lapse starts a new one.
	clock.advance(2 * time.Second)
	seq = leader.nextHeartbeat(2)
	e2 := peer.onHeartbeat(1)
	if e2 == e1 {
		t.Fatal("support lapsed but the epoch did not change")
	}
	leader.onAck(2, seq, e2)
	if leader.supportedUntil(2, e1) != 0 {
		t.Fatal("support of the old epoch still counted after a lapse")
	}
	if leader.supportedUntil(2, e2) == 0 {
		t.Fatal("no support in the new epoch")
	}
	// A restarted peer starts fresh epochs and is bound by the grace period.
	restarted := newTestLiveness(clock)
	if !restarted.supporting(7) {
		t.Fatal("a freshly started node must behave as if it supported everyone")
	}
	if e := restarted.onHeartbeat(1); e == e2 || e == e1 {
		t.Fatal("a new incarnation reused an epoch")
	}
}
