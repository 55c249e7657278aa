// Package netsim simulates a wide-area network inside Meridian's own
// transports, because the machines we test on have no netem: a
// round-trip-time matrix between regions (--latency), seeded jitter, and
// seeded faults between nodes (partitions, random loss, extra delay).
//
// It decides and never carries: a transport asks it when a message may be
// delivered or whether it is lost, and does the waiting itself.
//
//	--latency "a/b=64ms~4ms,..."  -> ParseLatency -> *LatencyMatrix
//	LatencyMatrix + Faults + Clock + Seed -> New -> *Network
//
//	Raft streams (paxosgroup):  Network.NewPath per peer; Path.Schedule per
//	                            message; the peer's sender delivers in order
//	                            at the scheduled times.
//	gRPC calls (server, driver): the caller declares its region in metadata
//	                            (CallerDialOptions, OutgoingContext); the
//	                            callee's interceptors (Network.ServerOptions)
//	                            hold the request and the response one-way
//	                            each, so a client needs no matrix.
//	other request-response      Network.Exchange around each request
//	protocols (MySQL wire):     (a Raft snapshot is one, too).
//
// Invariants:
//  1. A nil *Network, *LatencyMatrix or *Faults simulates nothing and
//     costs a nil check: no timers, goroutines or clock readings.
//  2. Messages on one Path are delivered in the order scheduled: a
//     delivery time is never before the previous one, whatever the jitter.
//  3. Within a region, and for regions the matrix does not name, latency
//     is zero; only Faults (by node) and their extra delay apply.
//  4. Given a seed, the n-th message on a path draws the same jitter, and
//     the n-th message from one node to another the same loss, in every
//     run, whatever happens elsewhere.
//
// It must never: sleep in a transport's sending goroutine on behalf of
// another destination, start a goroutine per message, or read the wall
// clock other than through its Clock.
package netsim
