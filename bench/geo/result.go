package geo

import (
	"fmt"
	"io"
	"strings"
)

// Result is a run's outcome, as --json writes it.
type Result struct {
	// Latency is the simulated WAN's matrix, as given.
	Latency          string        `json:"latency"`
	Clients          int           `json:"clients_per_region"`
	WarmupSeconds    float64       `json:"warmup_seconds"`
	DurationSeconds  float64       `json:"duration_seconds"`
	OpsPerClient     int           `json:"ops_per_client,omitempty"` // Config.Ops, instead of the duration
	StalenessSeconds float64       `json:"staleness_seconds"`
	Groups           []GroupResult `json:"groups"`
	Rows             []Row         `json:"rows"`
}

// GroupResult describes one of the benchmark's groups as set up.
type GroupResult struct {
	Name            string   `json:"name"`
	GroupID         uint64   `json:"group_id"`
	LeaderRegion    string   `json:"leader_region"`
	VoterRegions    []string `json:"voter_regions"`
	QuorumRTTMillis float64  `json:"quorum_rtt_ms"`
}

// Row is one operation measured from one region. Latencies are in
// milliseconds, zero when no operation succeeded.
type Row struct {
	Operation  string `json:"operation"` // an Op* constant
	Title      string `json:"title"`
	Region     string `json:"region"` // the client's
	Ops        int64  `json:"ops"`
	Errors     int64  `json:"errors"`
	Retries    int64  `json:"retries"`
	FirstError string `json:"first_error,omitempty"`

	MinMillis   float64 `json:"min_ms"`
	P50Millis   float64 `json:"p50_ms"`
	P99Millis   float64 `json:"p99_ms"`
	MaxMillis   float64 `json:"max_ms"`
	FloorMillis float64 `json:"floor_ms"`
	// P50MinusFloorMillis is what the run adds to the WAN's share at the
	// median: processing, queueing, fsync, commit wait.
	P50MinusFloorMillis float64 `json:"p50_minus_floor_ms"`
	// LeaderMoved names the groups whose leader moved during the row
	// (then the floor is the smaller of before and after).
	LeaderMoved string `json:"leader_moved,omitempty"`
}

// Print writes the table: a row per operation and client region, with
// the median and tail latencies beside the floor.
func (r *Result) Print(w io.Writer) {
	title := len("operation")
	region := len("client")
	for _, row := range r.Rows {
		title, region = max(title, len(row.Title)), max(region, len(row.Region))
	}
	fmt.Fprintf(w, "\nGeo latency, simulated WAN %s\n", orNone(r.Latency))
	for _, g := range r.Groups {
		fmt.Fprintf(w, "  group %s: leader in %s, voters in %s, quorum RTT %.0f ms\n",
			g.Name, g.LeaderRegion, strings.Join(g.VoterRegions, ", "), g.QuorumRTTMillis)
	}
	fmt.Fprintf(w, "\n%-*s  %-*s  %7s  %9s  %9s  %9s  %13s\n", title, "operation", region, "client", "ops", "p50 ms", "p99 ms", "floor ms", "p50−floor ms")
	fmt.Fprintln(w, strings.Repeat("-", title+region+2+2+7+2+9+2+9+2+9+2+13))
	last := ""
	for _, row := range r.Rows {
		name := row.Title
		if name == last {
			name = ""
		}
		last = row.Title
		if row.Ops == 0 {
			fmt.Fprintf(w, "%-*s  %-*s  %7d  %9s  %9s  %9.1f  %13s\n", title, name, region, row.Region, 0, "—", "—", row.FloorMillis, "—")
			continue
		}
		fmt.Fprintf(w, "%-*s  %-*s  %7d  %9.2f  %9.2f  %9.1f  %13.2f", title, name, region, row.Region,
			row.Ops, row.P50Millis, row.P99Millis, row.FloorMillis, row.P50MinusFloorMillis)
		if row.LeaderMoved != "" {
			fmt.Fprintf(w, "  (leader of %s moved)", row.LeaderMoved)
		}
		fmt.Fprintln(w)
	}
	for _, row := range r.Rows {
		if row.Errors > 0 {
			fmt.Fprintf(w, "%s from %s: %d errors, first: %s\n", row.Title, row.Region, row.Errors, row.FirstError)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "off"
	}
	return s
}
