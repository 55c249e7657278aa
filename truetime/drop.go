package truetime

import "fmt"

// DropReason says why an exchange with a time source produced no sample.
// Every drop is counted per source and reason (Status, metrics); none stops
// the clock or the responder.
type DropReason int

const (
	// DropUnreachable: no reply in time, or a network error.
	DropUnreachable DropReason = iota
	// DropMalformed: a truncated, oversized or unparsable reply.
	DropMalformed
	// DropBadMode: a reply that is not in server mode.
	DropBadMode
	// DropOriginMismatch: the reply's origin timestamp is not the one the
	// request carried: a replayed, stale or spoofed packet.
	DropOriginMismatch
	// DropKissOfDeath: the master asked us to go away (stratum 0).
	DropKissOfDeath
	// DropUnsynchronized: the master says it is not synchronised (leap
	// indicator 3, stratum 16, stale reference time, huge dispersion).
	DropUnsynchronized
	// DropBadTimestamps: the four timestamps cannot come from a real round
	// trip (ErrBadExchange).
	DropBadTimestamps
	// DropRTTOutlier: the round trip was far above the recent median
	// (ErrRTTOutlier).
	DropRTTOutlier

	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	DropUnreachable:    "unreachable",
	DropMalformed:      "malformed",
	DropBadMode:        "bad_mode",
	DropOriginMismatch: "origin_mismatch",
	DropKissOfDeath:    "kiss_of_death",
	DropUnsynchronized: "unsynchronized",
	DropBadTimestamps:  "bad_timestamps",
	DropRTTOutlier:     "rtt_outlier",
}

// String returns the reason's metric label value.
func (r DropReason) String() string {
	if r >= 0 && r < numDropReasons {
		return dropReasonNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", int(r))
}

// QueryError is the error a Querier returns for a failed exchange, saying
// under which reason it is counted.
type QueryError struct {
	Reason DropReason
	Err    error
}

func (e *QueryError) Error() string { return fmt.Sprintf("%s: %v", e.Reason, e.Err) }

// Unwrap returns the underlying error.
func (e *QueryError) Unwrap() error { return e.Err }
