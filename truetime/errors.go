package truetime

import "github.com/cockroachdb/errors"

// ErrCommitFenced marks every error CheckCommit returns: the clock cannot
// currently bound true time tightly enough (or trustworthily enough) for a
// read-write transaction to pick a commit timestamp. Callers test it with
// errors.Is and refuse the commit; reads at timestamps in the past are not
// affected. The condition clears by itself once the clock resynchronises.
var ErrCommitFenced = errors.New("truetime: read-write commits fenced")

// ErrNotSynced is the cause inside ErrCommitFenced errors returned before the
// clock has ever agreed with a quorum of its time sources. It is also marked
// with ErrCommitFenced.
var ErrNotSynced = errors.New("truetime: clock has not synchronised with its time sources")

// ErrBadExchange is returned by Observe for an exchange whose timestamps
// cannot come from a real round trip (the reply left before the request
// arrived, the round trip is negative, the declared uncertainty is absurd).
var ErrBadExchange = errors.New("truetime: inconsistent NTP exchange")

// ErrRTTOutlier is returned by Observe for an exchange whose round-trip time
// is far above the source's recent median; its interval would be needlessly
// wide and it most likely sat in a queue.
var ErrRTTOutlier = errors.New("truetime: round-trip time outlier")
