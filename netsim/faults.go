package netsim

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Faults injects failures between nodes, per direction: partitions (every
// message lost), random loss with a probability, and extra delay on top of
// the latency matrix. Nodes are named by ID; 0 is not a node (clients).
//
// Random loss is deterministic given the seed: each direction draws from
// its own generator, seeded from the seed and the two node IDs, so the
// n-th message from a to b meets the same fate in every run whatever
// other directions do. The zero value is ready to use with seed 0; a nil
// *Faults injects nothing.
type Faults struct {
	mu struct {
		sync.Mutex
		seed    uint64
		blocked map[direction]bool
		drop    map[direction]float64
		delay   map[direction]time.Duration
		rngs    map[direction]*rand.Rand
	}
}

type direction struct{ from, to uint64 }

// NewFaults returns an empty set of faults whose random loss follows seed.
func NewFaults(seed uint64) *Faults {
	f := &Faults{}
	f.mu.seed = seed
	return f
}

// Block drops everything sent from node `from` to node `to`.
func (f *Faults) Block(from, to uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.blocked == nil {
		f.mu.blocked = make(map[direction]bool)
	}
	f.mu.blocked[direction{from, to}] = true
}

// Partition cuts both directions between a and b.
func (f *Faults) Partition(a, b uint64) {
	f.Block(a, b)
	f.Block(b, a)
}

// Isolate cuts node from every node in others.
func (f *Faults) Isolate(node uint64, others ...uint64) {
	for _, o := range others {
		if o != node {
			f.Partition(node, o)
		}
	}
}

// SetDropRate makes each message from `from` to `to` lost with
// probability p (0 restores delivery; 1 is Block).
func (f *Faults) SetDropRate(from, to uint64, p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.drop == nil {
		f.mu.drop = make(map[direction]float64)
	}
	f.mu.drop[direction{from, to}] = p
}

// SetExtraDelay adds d to every trip from `from` to `to`, on top of the
// latency matrix (a slow link, or a congested one).
func (f *Faults) SetExtraDelay(from, to uint64, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.delay == nil {
		f.mu.delay = make(map[direction]time.Duration)
	}
	f.mu.delay[direction{from, to}] = d
}

// Heal removes every injected fault. The random generators keep their
// positions, so a run stays a function of its seed across heals.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.blocked, f.mu.drop, f.mu.delay = nil, nil, nil
}

// Blocked reports whether from→to is partitioned. Receivers check it too,
// so that a partition also stops what was in flight when it began.
func (f *Faults) Blocked(from, to uint64) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.blocked[direction{from, to}]
}

// decide rules on one message from→to: lost, or delivered with extra
// delay.
func (f *Faults) decide(from, to uint64) (lost bool, extra time.Duration) {
	if f == nil {
		return false, 0
	}
	d := direction{from, to}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.blocked[d] {
		return true, 0
	}
	if p := f.mu.drop[d]; p > 0 {
		rng := f.mu.rngs[d]
		if rng == nil {
			if f.mu.rngs == nil {
				f.mu.rngs = make(map[direction]*rand.Rand)
			}
			rng = rand.New(rand.NewPCG(f.mu.seed, from<<32^to))
			f.mu.rngs[d] = rng
		}
		if rng.Float64() < p {
			return true, 0
		}
	}
	return false, f.mu.delay[d]
}
