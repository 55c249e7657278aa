// Package elle checks histories of list-append transactions for strict
// serializability, after Elle (Kingsbury & Alvaro, "Elle: Inferring
// Isolation Anomalies from Experimental Observations", VLDB 2020). It is the
// checker of the transaction fault suites (DESIGN.md §6): clients run
// transactions of append(key, value) and read(key) micro-ops against keys
// spread over shard groups, record what they saw, and hand the History to
// Check.
//
// It is a pure library: no I/O, clock, goroutine or other Meridian package.
//
// # Recording a history
//
// Each client, for each transaction attempt, records one Txn: its Process,
// Invoke and Complete (monotonic nanoseconds from one clock shared by all
// clients, taken just before the first request and just after the outcome
// is known), the Outcome (OK: committed; Fail: certainly aborted; Info:
// ambiguous), the Ops with read results filled in, and optionally the
// CommitTS the database reported. Values appended to a key must be unique
// per key over the whole history (the generator's job; Check returns an
// ErrMalformed error otherwise). A Recorder collects Txns from concurrent
// clients. A final read-all transaction after the faults end makes lost
// writes detectable (see Limits).
//
//	res, err := elle.Check(rec.History(), elle.Options{})
//	if err != nil { ... }     // malformed history: a test bug
//	if !res.Valid { t.Fatal(res.String()) }
//
// # How Check works
//
//  1. Index every append: key, value -> writing txn, and whether it is the
//     txn's final append to that key.
//  2. Look at each read of each OK txn alone: internal consistency,
//     duplicate elements, garbage values, aborted reads (G1a) and
//     intermediate reads (G1b).
//  3. Decide the committed txns, the nodes of the graph: OK txns, and Info
//     txns of which at least one appended value was read by an OK txn (a
//     value can only be seen if its txn committed). Unobserved Info txns
//     and all Fail txns are left out.
//  4. Infer each key's version order: the longest list any OK txn read of
//     it. Every other read must be a prefix of it, otherwise the key is
//     reported as incompatible-order and gets no dependency edges.
//  5. Build the dependency graph (integer ids, adjacency lists), compute its
//     strongly connected components (Tarjan), and in each component search
//     a short cycle per anomaly class by breadth-first search restricted to
//     the edge kinds the class allows (see Cycles).
//  6. If commit timestamps were reported, check them against the edges.
//
// # Edges (T1 < T2 means T1 precedes T2 in every serialization)
//
//   - ww: T2 appended the next element after an element T1 appended, in the
//     version order of some key; also from the writer of a key's last
//     observed element to every committed txn whose append to that key no
//     OK read observed (lists only grow, so that append came later).
//   - wr: T2 read a list whose last element (ignoring trailing elements T2
//     appended itself) T1 appended.
//   - rw: T1 read a list that T2's append extends: T2 appended the element
//     right after T1's read in the version order (skipping the rest of the
//     writer T1 read from); if T1 read the whole observed order, to every
//     committed txn with an unobserved append to the key.
//   - realtime: T1 (OK) completed before T2 was invoked. Added as a
//     transitive reduction (each txn gets edges from the frontier of most
//     recently completed txns), so their number is about txns × concurrency.
//     Info txns never complete: they get no outgoing realtime edge.
//     Disabled by Options.NoRealtime (then serializability is checked).
//   - process: consecutive txns of one Process in invoke order (only with
//     Options.ProcessOrder); no outgoing edge from an Info txn.
//
// # Anomalies
//
// Cycles (each reported with its edges and the evidence for each):
//   - G0: a cycle of ww edges only (dirty write).
//   - G1c: a cycle of ww and wr edges with at least one wr.
//   - G-single: a cycle with exactly one rw edge (read skew).
//   - G2-item: a cycle with two or more rw edges (write skew).
//   - X-process, X-realtime: a cycle of class X that exists only with
//     process or realtime edges. A history with only realtime cycles is
//     serializable but not strictly serializable.
//
// Non-cycle anomalies:
//   - G1a: an OK txn read a value appended only by a Fail txn.
//   - G1b: an OK txn read a list whose last element (from others) is not
//     the final append of its writer to that key.
//   - internal: a read disagrees with the txn's own earlier reads and
//     appends of the key (after read R and appends A it must read R++A;
//     after appends A alone, a list ending in A).
//   - duplicate-elements: a value appears twice in one read.
//   - garbage-read: a read holds a value no txn appended.
//   - incompatible-order: a read of a key that is not a prefix of the
//     longest read (no single version order explains both), or a committed
//     txn whose later append to a key was observed but an earlier one never
//     was (a lost append: its own appends are ordered).
//   - timestamp-order: reported commit timestamps contradict the graph:
//     ww and rw need ts(T1) < ts(T2), wr ts(T1) ≤ ts(T2) (a read-only txn
//     at t sees commits at t); and a txn invoked after a writing txn
//     completed needs a larger timestamp (commit wait, DESIGN.md §2
//     invariant 3). CommitTS 0 means "not reported".
//
// # Cycles
//
// For each non-trivial component, and each class in the order G0, G1c,
// G-single, G2-item, the search takes each edge of the class's special kind
// (ww, wr, rw, rw) inside the component and looks for a shortest path back
// over the allowed kinds (ww; ww+wr; ww+wr; all data edges); the first
// cycle of exactly that class is reported. The -process/-realtime variants
// are then searched (special edge realtime/process for G0) only for classes
// not found without them. So each component yields at most one cycle per
// class; the counts are of components, not of all cycles.
//
// # Limits
//
//   - Reads of Info and Fail txns are ignored (they may come from an
//     attempt that never committed, and are usually unknown).
//   - Nothing is inferred from a key whose reads are incompatible, and
//     nothing about the relative order of unobserved appends; a write that
//     no later read could have seen is undetectable, hence the final read.
//   - The version order comes from reads only, not from commit timestamps;
//     timestamps are checked against the graph, not used to build it.
//   - No predicate/range anomalies (G2 beyond items), no per-key
//     linearizability (porcupine does that), no "lost update" or
//     "cyclic versions" reporting separate from the cycle classes.
//   - G2-item is found only through a cycle whose shortest closing path
//     has another rw edge; G-single needs a ww/wr-only path back. The
//     search is bounded by Options.SearchBudget per component and class
//     (Result.Stats.Truncated says if it was hit); a component with a
//     cycle still yields at least the first class found.
//   - Real time is the clients' clock: the checker trusts Invoke and
//     Complete to bracket the transaction.
//
// # Invariants
//
//  1. Check never modifies the History.
//  2. Every reported cycle is a closed walk of edges each justified by its
//     Why string, and its Type is the classification of its edges.
//  3. A history of a serial execution, with times consistent with that
//     order, is always Valid (property-tested), and so are its Info/Fail
//     variations.
package elle
