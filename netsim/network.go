package netsim

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
)

// Options configures a Network. Zero values take the documented defaults.
type Options struct {
	// Latency is the round-trip-time matrix between regions (--latency).
	// Nil: no added latency.
	Latency *LatencyMatrix
	// Faults injects partitions, loss and extra delay between nodes. Nil:
	// none.
	Faults *Faults
	// Clock times deliveries. Default RealClock.
	Clock Clock
	// Seed drives jitter: two runs with the same seed and the same
	// messages on a path draw the same delays. Default 0.
	Seed uint64
}

// Network is a simulated WAN: where two endpoints are, how long a message
// between them takes, and whether it arrives. It holds no connections and
// starts no goroutines; transports ask it about each message (Path) or
// each call (the gRPC interceptors). A Network is safe for concurrent use.
type Network struct {
	opts Options
	mu   struct {
		sync.Mutex
		rng *rand.Rand // jitter of unordered trips (Trip)
	}
}

// New returns a network. Callers that want no simulation keep a nil
// *Network instead, which is what makes the disabled path free.
func New(opts Options) *Network {
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	n := &Network{opts: opts}
	n.mu.rng = rand.New(rand.NewPCG(opts.Seed, 0x6e657473696d))
	return n
}

// Clock returns the network's clock.
func (n *Network) Clock() Clock { return n.opts.Clock }

// Latency returns the matrix (nil: none).
func (n *Network) Latency() *LatencyMatrix { return n.opts.Latency }

// Faults returns the faults (nil: none).
func (n *Network) Faults() *Faults { return n.opts.Faults }

// WithFaults returns a network with the same latency, clock and seed but
// the given faults: tests share one matrix and give each cluster its own
// partitions.
func (n *Network) WithFaults(f *Faults) *Network {
	o := n.opts
	o.Faults = f
	return New(o)
}

// Endpoint is one end of a trip. Node 0 is a client, which faults (keyed
// by node) never touch; an empty or unknown Region adds no latency.
type Endpoint struct {
	Node   uint64
	Region string
}

// Trip decides one unordered trip from→to taken now: its delay (one-way
// latency, jitter, extra fault delay), or that it is lost. Ordered
// channels use a Path instead.
func (n *Network) Trip(from, to Endpoint) (delay time.Duration, lost bool) {
	lost, extra := n.opts.Faults.decide(from.Node, to.Node)
	if lost {
		return 0, true
	}
	base, jitter := n.opts.Latency.OneWay(from.Region, to.Region)
	if jitter > 0 {
		n.mu.Lock()
		base += time.Duration(n.mu.rng.Int64N(int64(jitter)))
		n.mu.Unlock()
	}
	return base + extra, false
}

// ErrLost marks the failures of trips the network lost (partitions,
// random loss).
var ErrLost = errors.New("netsim: message lost")

func lostError(what string, from, to Endpoint) error {
	return errors.Wrapf(ErrLost, "%s from node %d (%s) to node %d (%s)", what, from.Node, from.Region, to.Node, to.Region)
}

// Exchange plays the network around one request-response exchange seen
// from the callee: it waits out the request's trip caller→callee, runs fn,
// then waits out the response's trip back. It is how a server delays a
// client for protocols that carry no gRPC metadata (the MySQL wire path,
// once a session has said where its client is). A lost request returns
// an ErrLost error without running fn; a lost response returns one after
// fn ran (the caller cannot tell which, as on a real network). fn's own
// error is returned once the response has arrived. ctx bounds the waits.
func (n *Network) Exchange(ctx context.Context, caller, callee Endpoint, fn func() error) error {
	if err := n.wait(ctx, caller, callee, "request"); err != nil {
		return err
	}
	ferr := fn()
	if err := n.wait(ctx, callee, caller, "response"); err != nil {
		return err
	}
	return ferr
}

func (n *Network) wait(ctx context.Context, from, to Endpoint, what string) error {
	d, lost := n.Trip(from, to)
	if lost {
		return lostError(what, from, to)
	}
	return Sleep(ctx, n.opts.Clock, d)
}

// Path is one direction of one ordered channel (a stream): messages leave
// in the order they were scheduled and never overtake each other, whatever
// the jitter. It keeps only the last delivery time and a generator, so a
// transport needs no goroutine or timer per message.
type Path struct {
	net      *Network
	from, to Endpoint
	delay    time.Duration
	jitter   time.Duration
	mu       struct {
		sync.Mutex
		rng  *rand.Rand
		last time.Time
	}
}

// NewPath returns the path from→to. Its jitter draws are seeded from the
// network's seed and the endpoints, so they do not depend on other paths.
func (n *Network) NewPath(from, to Endpoint) *Path {
	p := &Path{net: n, from: from, to: to}
	p.delay, p.jitter = n.opts.Latency.OneWay(from.Region, to.Region)
	if p.jitter > 0 {
		h := fnv.New64a()
		for _, s := range []string{strconv.FormatUint(from.Node, 10), from.Region, strconv.FormatUint(to.Node, 10), to.Region} {
			_, _ = h.Write([]byte(s))
			_, _ = h.Write([]byte{0})
		}
		p.mu.rng = rand.New(rand.NewPCG(n.opts.Seed, h.Sum64()))
	}
	return p
}

// From returns the endpoint the path starts at.
func (p *Path) From() Endpoint { return p.from }

// To returns the endpoint the path leads to.
func (p *Path) To() Endpoint { return p.to }

// Clock returns the clock that delivery times refer to.
func (p *Path) Clock() Clock { return p.net.opts.Clock }

// Schedule decides the fate of a message entering the path at now: the
// time it is to be delivered, max(previous delivery, now + one-way delay
// + jitter + fault delay), or lost (then it takes no place in the order).
func (p *Path) Schedule(now time.Time) (at time.Time, lost bool) {
	lost, extra := p.net.opts.Faults.decide(p.from.Node, p.to.Node)
	if lost {
		return time.Time{}, true
	}
	d := p.delay + extra
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jitter > 0 {
		d += time.Duration(p.mu.rng.Int64N(int64(p.jitter)))
	}
	at = now.Add(d)
	if at.Before(p.mu.last) {
		at = p.mu.last
	}
	p.mu.last = at
	return at, false
}
