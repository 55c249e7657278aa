package truetime

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/beevik/ntp"
	crdberrors "github.com/cockroachdb/errors"
)

// Run polls the time sources every PollInterval until ctx is done, feeding
// each round's exchanges to the core and publishing the new estimate. It
// returns nil when ctx is cancelled. All sources of a round are queried
// concurrently, so one slow master does not delay the others' samples.
func (tt *TrueTime) Run(ctx context.Context) error {
	for {
		tt.PollOnce(ctx)
		t := tt.clock.NewTimer(tt.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// PollOnce queries every source once (concurrently, each bounded by
// QueryTimeout), feeds the results and runs one Sync round.
func (tt *TrueTime) PollOnce(ctx context.Context) {
	type result struct {
		x   Exchange
		err error
	}
	results := make([]result, len(tt.sources))
	var wg sync.WaitGroup
	for i, src := range tt.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			qctx, cancel := context.WithTimeout(ctx, tt.opts.QueryTimeout)
			defer cancel()
			x, err := tt.querier.Query(qctx, src)
			results[i] = result{x, err}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	for i, r := range results {
		if r.err != nil {
			reason := DropUnreachable
			var qe *QueryError
			if errors.As(r.err, &qe) {
				reason = qe.Reason
			}
			tt.mu.syncer.Fail(i, reason, r.err)
			continue
		}
		// A rejected exchange is counted by the core; nothing else to do.
		_ = tt.mu.syncer.Observe(i, r.x)
	}
	tt.syncLocked()
}

// NTPQuerier is the production Querier: an NTPv4 client exchange
// (github.com/beevik/ntp) whose T1 and T4 come from Clock, so that offsets
// are measured against the clock TrueTime carries between polls.
type NTPQuerier struct {
	Clock   Clock
	Timeout time.Duration
}

// Query performs one exchange with addr (HOST:PORT). The library sends a
// random transmit timestamp and rejects a reply whose origin timestamp does
// not echo it (replayed or spoofed), a reply that is not in server mode, and
// a truncated one; each is returned as a *QueryError with its reason.
func (q *NTPQuerier) Query(ctx context.Context, addr string) (Exchange, error) {
	timeout := q.Timeout
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < timeout || timeout == 0 {
			timeout = left
		}
	}
	if timeout <= 0 {
		return Exchange{}, &QueryError{Reason: DropUnreachable, Err: context.DeadlineExceeded}
	}
	r, err := ntp.QueryWithOptions(addr, ntp.QueryOptions{
		Timeout:       timeout,
		GetSystemTime: func() time.Time { return time.Unix(0, q.Clock.Now()) },
	})
	if err != nil {
		return Exchange{}, &QueryError{Reason: classifyNTPError(err), Err: err}
	}
	if err := r.Validate(); err != nil {
		reason := DropUnsynchronized
		if errors.Is(err, ntp.ErrKissOfDeath) {
			reason = DropKissOfDeath
		}
		return Exchange{}, &QueryError{Reason: reason, Err: err}
	}
	return Exchange{
		T1:             r.Timestamps.ClientXmit.UnixNano(),
		T2:             r.Timestamps.ServerRecv.UnixNano(),
		T3:             r.Timestamps.ServerXmit.UnixNano(),
		T4:             r.Timestamps.ClientRecv.UnixNano(),
		RootDispersion: r.RootDispersion,
		RootDelay:      r.RootDelay,
	}, nil
}

func classifyNTPError(err error) DropReason {
	var ne net.Error
	switch {
	case errors.Is(err, ntp.ErrServerResponseMismatch):
		return DropOriginMismatch
	case errors.Is(err, ntp.ErrInvalidMode):
		return DropBadMode
	case errors.Is(err, ntp.ErrInvalidTime), errors.Is(err, ntp.ErrInvalidTransmitTime),
		errors.Is(err, ntp.ErrServerTickedBackwards):
		return DropMalformed
	case errors.As(err, &ne):
		return DropUnreachable
	default:
		return DropUnreachable
	}
}

// localQuerier is single-machine mode's source: one reading of the wall
// clock, as an exchange with zero round trip whose "master" is the system
// clock declaring uncertainty. The local clock (monotonic) carries the
// estimate between readings, widened by drift like any other, and a step
// of the wall clock shows up as a disagreement with the carried estimate.
type localQuerier struct {
	clock       Clock
	wall        WallClock
	uncertainty time.Duration
}

func (q *localQuerier) Query(ctx context.Context, source string) (Exchange, error) {
	if source != LocalSource {
		return Exchange{}, crdberrors.AssertionFailedf("truetime: local querier asked for source %q", source)
	}
	t1 := q.clock.Now()
	w := q.wall.Wall()
	t4 := q.clock.Now()
	return Exchange{T1: t1, T2: w, T3: w, T4: t4, RootDispersion: q.uncertainty}, nil
}

// LocalQuerier returns the Querier of single-machine mode for a clock that
// can also read its wall clock; tests use it with a ManualClock.
func LocalQuerier(clock Clock, wall WallClock, uncertainty time.Duration) Querier {
	return &localQuerier{clock: clock, wall: wall, uncertainty: uncertainty}
}
