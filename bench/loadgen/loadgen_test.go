package loadgen

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestTotalCountsMeasuredOperations(t *testing.T) {
	var mu sync.Mutex
	seen := map[int64]bool{}
	res := Run(context.Background(), Config{Clients: 4, Total: 100}, func(ctx context.Context, client int, seq int64) (int, int, error) {
		mu.Lock()
		defer mu.Unlock()
		if seen[seq] {
			t.Errorf("seq %d handed out twice", seq)
		}
		seen[seq] = true
		if seq%10 == 0 {
			return 0, 1, errors.New("boom")
		}
		return 2, 0, nil
	})
	if res.Ops+res.Errors != 100 || res.Ops != int64(res.Latency.TotalCount()) {
		t.Fatalf("ops %d errors %d histogram %d, want 100 in all and histogram = ops", res.Ops, res.Errors, res.Latency.TotalCount())
	}
	if res.Units != 2*res.Ops || res.Retries != res.Errors || len(res.ErrorSamples) != 1 {
		t.Errorf("units %d retries %d samples %v", res.Units, res.Retries, res.ErrorSamples)
	}
}

// TestStuckOperationsReportedBeforeCancel: an operation that never
// returns on its own is counted as stuck, OnStuck sees it while it is
// still in flight, and then its context is cancelled.
func TestStuckOperationsReportedBeforeCancel(t *testing.T) {
	var cancelledBeforeHook bool
	var inflightAtHook int64
	blocked := make(chan context.Context, 1)
	res := Run(context.Background(), Config{Clients: 1, Duration: time.Millisecond, Grace: time.Millisecond,
		OnStuck: func(n int64) {
			inflightAtHook = n
			cancelledBeforeHook = (<-blocked).Err() != nil
		}},
		func(ctx context.Context, client int, seq int64) (int, int, error) {
			blocked <- ctx
			<-ctx.Done()
			return 0, 0, ctx.Err()
		})
	if res.Stuck != 1 || inflightAtHook != 1 || cancelledBeforeHook {
		t.Fatalf("stuck %d, OnStuck saw %d in flight, cancelled before it: %v", res.Stuck, inflightAtHook, cancelledBeforeHook)
	}
}
