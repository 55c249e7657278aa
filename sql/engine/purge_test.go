package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/txn"
)

// TestDropPurgesInChunks: DROP TABLE and TRUNCATE TABLE of a table whose
// keys weigh more than one transaction may write (txn.MaxTxnWriteBytes)
// succeed, and leave no key of the old table and no purge record behind;
// TRUNCATE keeps the table, empty, with AUTO_INCREMENT starting over.
func TestDropPurgesInChunks(t *testing.T) {
	e, s := newSession(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mustRun := func(q string) string {
		t.Helper()
		out, err := run(t, s, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	mustRun("CREATE DATABASE pg; USE pg")
	// Two keys of ~30 bytes per row (row and index entry): 160,000 rows
	// are ~10 MB of deletions.
	const rows, batch = 160000, 2000
	load := func(table string) uint32 {
		mustRun("CREATE TABLE " + table + " (id INT PRIMARY KEY AUTO_INCREMENT, v INT, INDEX (v))")
		for i := 0; i < rows; i += batch {
			var b strings.Builder
			fmt.Fprintf(&b, "INSERT INTO %s (id, v) VALUES ", table)
			for j := i; j < i+batch; j++ {
				if j > i {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, "(%d, %d)", j+1, j%97)
			}
			mustRun(b.String())
		}
		id, err := engine.TableIDForTest(ctx, e, "pg", table)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	gone := func(what string, id uint32) {
		t.Helper()
		data, purges, err := engine.StoredKeysForTest(ctx, e, id)
		if err != nil || data != 0 || purges != 0 {
			t.Fatalf("after %s: %d keys of table id %d and %d purge records left (%v)", what, data, id, purges, err)
		}
	}
	id := load("d")
	mustRun("DROP TABLE d")
	gone("DROP TABLE", id)

	id = load("tr")
	mustRun("TRUNCATE TABLE tr")
	gone("TRUNCATE TABLE", id)
	if got := mustRun("SELECT count(*) FROM tr"); got != "0\n" {
		t.Fatalf("rows after TRUNCATE: %q", got)
	}
	mustRun("INSERT INTO tr (v) VALUES (7)")
	if got := mustRun("SELECT id, v FROM tr"); got != "1\t7\n" {
		t.Fatalf("after TRUNCATE and an insert: %q, want AUTO_INCREMENT from 1", got)
	}
}

// TestPurgeRetriesAmbiguousCommits: a purge transaction whose outcome is
// unknown (its leader changed as it committed) is run again, so the DROP
// still leaves nothing behind. Every other purge transaction's commit is
// reported ambiguous here, after it committed.
func TestPurgeRetriesAmbiguousCommits(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	c.WaitReplicated(3)
	var n atomic.Int64
	e := engine.New(engine.Config{Txn: c.Nodes[0].TxnClient(), NodeID: 1, TestingKnobs: engine.TestingKnobs{
		AfterPurgeTxn: func() error {
			if n.Add(1)%2 == 1 {
				return errors.Mark(errors.New("injected: the commit's outcome is unknown"), txn.ErrAmbiguous)
			}
			return nil
		}}})
	s, err := e.NewSession(context.Background(), "root", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, q := range []string{
		"CREATE DATABASE pa", "USE pa", "CREATE TABLE t (id INT PRIMARY KEY, v INT, INDEX (v))",
		"INSERT INTO t VALUES " + values(2500),
	} {
		if _, err := run(t, s, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	id, err := engine.TableIDForTest(ctx, e, "pa", "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, s, "DROP TABLE t"); err != nil {
		t.Fatalf("DROP TABLE: %v", err)
	}
	data, purges, err := engine.StoredKeysForTest(ctx, e, id)
	if err != nil || data != 0 || purges != 0 {
		t.Fatalf("after DROP TABLE: %d keys of table id %d and %d purge records left (%v)", data, id, purges, err)
	}
	if n.Load() < 6 {
		t.Fatalf("only %d purge transactions: the test did not exercise chunks", n.Load())
	}
}

// values is n rows (i, i%7) for a VALUES list.
func values(n int) string {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf("(%d, %d)", i, i%7)
	}
	return strings.Join(rows, ",")
}
