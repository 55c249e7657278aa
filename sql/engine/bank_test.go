package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// TestSQLBankUnderNodeRestarts: transfers in explicit SQL transactions
// (locking reads, two updates, commit), from sessions on every node, while
// a node is stopped and restarted every couple of seconds; snapshot audits
// from random nodes must always see the same total and no negative
// balance. Errors clients get must be ones they can act on: 1213 (retry),
// interrupted or outcome-unknown (when their node went away).
func TestSQLBankUnderNodeRestarts(t *testing.T) {
	const accounts, initial = 10, 100
	seed := rand.Uint64()
	if s := os.Getenv("MERIDIAN_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (replay with MERIDIAN_SEED=%d)", seed, seed)
	c := servertest.Start(t, servertest.Options{})
	c.WaitReplicated(3)
	var mu sync.Mutex // guards c.Nodes against the nemesis
	session := func(i int) (*engine.Session, error) {
		mu.Lock()
		n := c.Nodes[i]
		mu.Unlock()
		if n == nil {
			return nil, fmt.Errorf("node %d down", i+1)
		}
		e := engine.New(engine.Config{Txn: n.TxnClient(), NodeID: uint64(i + 1)})
		return e.NewSession(context.Background(), "root", "")
	}
	s0, _ := session(0)
	var rows []string
	for i := range accounts {
		rows = append(rows, fmt.Sprintf("(%d, %d)", i, initial))
	}
	if _, err := run(t, s0, "CREATE DATABASE bank; USE bank; CREATE TABLE acct (id INT PRIMARY KEY, bal INT NOT NULL); INSERT INTO acct VALUES "+strings.Join(rows, ",")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var transfers, audits, retries atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var s *engine.Session
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s == nil {
					var err error
					if s, err = session(rng.IntN(3)); err != nil {
						continue
					}
					if _, err := run(t, s, "USE bank"); err != nil {
						s = nil
						continue
					}
				}
				if w == 0 {
					out, err := run(t, s, "SELECT sum(bal), min(bal), count(*) FROM acct")
					if err != nil {
						s = nil
						continue
					}
					audits.Add(1)
					if want := fmt.Sprintf("%d\t", accounts*initial); !strings.HasPrefix(out, want) || strings.Contains(out, "\t-") {
						t.Errorf("audit saw %q", out)
					}
					continue
				}
				a, b := rng.IntN(accounts), rng.IntN(accounts)
				if a == b {
					continue
				}
				amt := 1 + rng.IntN(20)
				q := fmt.Sprintf("BEGIN; SELECT bal FROM acct WHERE id = %d FOR UPDATE", a)
				out, err := run(t, s, q)
				if err == nil {
					bal, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(out, "ok 0\n")))
					if bal >= amt {
						_, err = run(t, s, fmt.Sprintf("UPDATE acct SET bal = bal - %d WHERE id = %d; UPDATE acct SET bal = bal + %d WHERE id = %d; COMMIT", amt, a, amt, b))
					} else {
						_, err = run(t, s, "ROLLBACK")
					}
				}
				switch {
				case err == nil:
					transfers.Add(1)
				case sqlerr.Is(err, 1213):
					retries.Add(1)
					run(t, s, "ROLLBACK")
				case sqlerr.Is(err, 1317), sqlerr.Is(err, 1105):
					// The node went away or the outcome is unknown: a new
					// session elsewhere; the audit checks what happened.
					s = nil
				default:
					t.Errorf("transfer: unexpected error %v", err)
					s = nil
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	deadline := time.Now().Add(12 * time.Second)
	faults := 0
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(1000+rng.IntN(1500)) * time.Millisecond) // nemesis pacing
		i := rng.IntN(3)
		mu.Lock()
		c.StopNode(i)
		mu.Unlock()
		time.Sleep(500 * time.Millisecond)
		mu.Lock()
		c.StartNode(i)
		mu.Unlock()
		faults++
	}
	close(stop)
	wg.Wait()
	var out string
	var err error
	for i := range 3 {
		var s *engine.Session
		if s, err = session(i); err == nil {
			if out, err = run(t, s, "USE bank; SELECT sum(bal) FROM acct"); err == nil {
				break
			}
		}
	}
	t.Logf("seed %d: %d transfers, %d retryable aborts, %d audits, %d node restarts; final total %q %v",
		seed, transfers.Load(), retries.Load(), audits.Load(), faults, out, err)
	if want := fmt.Sprintf("ok 0\n%d\n", accounts*initial); err != nil || out != want {
		t.Fatalf("seed %d: final total %q (%v), want %q", seed, out, err, want)
	}
	if transfers.Load() == 0 || audits.Load() == 0 {
		t.Fatalf("no progress")
	}
}
