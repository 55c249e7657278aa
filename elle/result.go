package elle

import (
	"fmt"
	"sort"
	"strings"
)

// AnomalyType names a class of anomaly.
type AnomalyType string

// Non-cycle anomalies.
const (
	G1a            AnomalyType = "G1a"      // aborted read
	G1b            AnomalyType = "G1b"      // intermediate read
	Internal       AnomalyType = "internal" // txn disagrees with its own earlier ops
	DuplicateElems AnomalyType = "duplicate-elements"
	GarbageRead    AnomalyType = "garbage-read"
	Incompatible   AnomalyType = "incompatible-order"
	TimestampOrder AnomalyType = "timestamp-order"
)

// Cycle anomalies. The -process and -realtime variants are cycles that
// exist only thanks to process-order or real-time edges: serializable, but
// not strictly serializable (realtime) or not in the clients' session order
// (process).
const (
	G0              AnomalyType = "G0"
	G1c             AnomalyType = "G1c"
	GSingle         AnomalyType = "G-single"
	G2Item          AnomalyType = "G2-item"
	G0Process       AnomalyType = "G0-process"
	G1cProcess      AnomalyType = "G1c-process"
	GSingleProcess  AnomalyType = "G-single-process"
	G2ItemProcess   AnomalyType = "G2-item-process"
	G0Realtime      AnomalyType = "G0-realtime"
	G1cRealtime     AnomalyType = "G1c-realtime"
	GSingleRealtime AnomalyType = "G-single-realtime"
	G2ItemRealtime  AnomalyType = "G2-item-realtime"
)

// EdgeKind is one kind of dependency between two transactions. Kinds are
// bits so that masks can select several.
type EdgeKind uint8

const (
	WW       EdgeKind = 1 << iota // write-write: T2 appended right after T1 in a key's version order
	WR                            // write-read: T2 read a list whose last element T1 appended
	RW                            // anti-dependency: T1 read the version that T2's append extends
	Process                       // T1 and T2 are consecutive txns of one process
	Realtime                      // T1 completed before T2 was invoked
)

func (k EdgeKind) String() string {
	switch k {
	case WW:
		return "ww"
	case WR:
		return "wr"
	case RW:
		return "rw"
	case Process:
		return "process"
	case Realtime:
		return "realtime"
	}
	return fmt.Sprintf("edges(%#x)", uint8(k))
}

// Step is one edge of a cycle: From < To in every serialization order.
type Step struct {
	From, To int // transaction ids (history indices)
	Kind     EdgeKind
	Why      string // human-readable evidence for the edge
}

// Anomaly is one violation found in a history.
type Anomaly struct {
	Type AnomalyType
	// Txns lists the transaction ids involved (for cycles: in cycle order).
	Txns []int
	// Key is the key concerned, for non-cycle anomalies ("" otherwise).
	Key string
	// Cycle holds the edges of the cycle, for cycle anomalies; the last
	// step ends where the first begins.
	Cycle []Step
	// Explanation is a human-readable account of the evidence.
	Explanation string
}

func (a Anomaly) String() string { return string(a.Type) + ": " + a.Explanation }

// Result is the outcome of Check.
type Result struct {
	// Valid is true iff no anomaly was found.
	Valid bool
	// Anomalies found, at most Options.MaxPerType of each type, grouped by
	// type in a stable order.
	Anomalies []Anomaly
	// Counts holds the number of anomalies found per type, including those
	// not listed because of Options.MaxPerType.
	Counts map[AnomalyType]int
	// Stats describes the dependency graph that was searched.
	Stats Stats
}

// Stats describes the work done by Check.
type Stats struct {
	Txns, Nodes, Edges, Keys int
	// NontrivialSCCs counts strongly connected components with ≥ 2 txns.
	NontrivialSCCs int
	// Truncated is set when a cycle search ran out of its budget, so that
	// some cycle anomalies of a component may be unreported (the component
	// itself is always reported by at least one cycle if any was found).
	Truncated bool
}

// Has reports whether at least one anomaly of type t was found.
func (r *Result) Has(t AnomalyType) bool { return r.Counts[t] > 0 }

// Types returns the anomaly types found, sorted.
func (r *Result) Types() []AnomalyType {
	ts := make([]AnomalyType, 0, len(r.Counts))
	for t := range r.Counts {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}

// String is a multi-line report.
func (r *Result) String() string {
	var b strings.Builder
	if r.Valid {
		fmt.Fprintf(&b, "valid (%d txns, %d graph nodes, %d edges)\n", r.Stats.Txns, r.Stats.Nodes, r.Stats.Edges)
		return b.String()
	}
	fmt.Fprintf(&b, "INVALID:")
	for _, t := range r.Types() {
		fmt.Fprintf(&b, " %s×%d", t, r.Counts[t])
	}
	b.WriteString("\n")
	for _, a := range r.Anomalies {
		b.WriteString(a.String())
		b.WriteString("\n")
	}
	return b.String()
}

// Options configures Check. The zero value checks strict serializability
// without process order.
type Options struct {
	// NoRealtime drops real-time edges: the history is then checked for
	// serializability only. Default false (real-time edges are added).
	NoRealtime bool
	// ProcessOrder adds process-order edges between consecutive
	// transactions of one process (in Invoke order). Default false.
	ProcessOrder bool
	// MaxPerType bounds how many anomalies of one type are listed in
	// Result.Anomalies (all are counted). Default 8.
	MaxPerType int
	// SearchBudget bounds the edges visited by the cycle search of one
	// component and anomaly class. Default 4,000,000.
	SearchBudget int
}

func (o *Options) ensureDefaults() {
	if o.MaxPerType <= 0 {
		o.MaxPerType = 8
	}
	if o.SearchBudget <= 0 {
		o.SearchBudget = 4_000_000
	}
}
