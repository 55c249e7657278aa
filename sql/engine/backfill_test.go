package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestIndexBackfillUnderWrites: CREATE INDEX runs while other sessions
// insert, update and delete rows. Afterwards the index holds exactly the
// table's rows: a lookup through the index returns the same ids as a full
// scan, for every value.
func TestIndexBackfillUnderWrites(t *testing.T) {
	e, s := newSession(t)
	if _, err := run(t, s, "CREATE DATABASE ix; USE ix; CREATE TABLE t (id INT PRIMARY KEY, b VARCHAR(8))"); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for i := range 1500 {
		rows = append(rows, fmt.Sprintf("(%d, 'v%d')", i, i%20))
	}
	if _, err := run(t, s, "INSERT INTO t VALUES "+strings.Join(rows, ",")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var writes atomic.Int64
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := e.NewSession(context.Background(), "root", "ix")
			if err != nil {
				t.Error(err)
				return
			}
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := rng.IntN(2000)
				var q string
				switch rng.IntN(3) {
				case 0:
					q = fmt.Sprintf("INSERT INTO t VALUES (%d, 'v%d') ON DUPLICATE KEY UPDATE b = VALUES(b)", id, rng.IntN(20))
				case 1:
					q = fmt.Sprintf("UPDATE t SET b = 'v%d' WHERE id = %d", rng.IntN(20), id)
				default:
					q = fmt.Sprintf("DELETE FROM t WHERE id = %d", id)
				}
				if _, err := run(t, ws, q); err == nil {
					writes.Add(1)
				}
			}
		}()
	}
	// Let the writers get going, then build the index under them.
	for writes.Load() < 20 {
		run(t, s, "SELECT 1")
	}
	if _, err := run(t, s, "CREATE INDEX bi ON t (b)"); err != nil {
		t.Fatalf("create index: %v", err)
	}
	before := writes.Load()
	for writes.Load() < before+50 {
		run(t, s, "SELECT 1")
	}
	close(stop)
	wg.Wait()
	plan, _ := run(t, s, "EXPLAIN SELECT id FROM t WHERE b = 'v1'")
	if !strings.Contains(plan, "index lookup t on bi") {
		t.Fatalf("the check would not use the index:\n%s", plan)
	}
	total := 0
	for v := range 20 {
		viaIndex, err1 := run(t, s, fmt.Sprintf("SELECT id FROM t WHERE b = 'v%d' ORDER BY id", v))
		viaScan, err2 := run(t, s, fmt.Sprintf("SELECT id FROM t WHERE concat(b, '') = 'v%d' ORDER BY id", v))
		if err1 != nil || err2 != nil || viaIndex != viaScan {
			t.Fatalf("b = v%d: index %q (%v), table %q (%v)", v, viaIndex, err1, viaScan, err2)
		}
		total += strings.Count(viaScan, "\n")
	}
	t.Logf("%d writes ran beside the backfill; index and table agree on %d rows", writes.Load(), total)

}
