package engine_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// TestWoundedStatementErrorIsRetryable: a transaction wounded at one
// group keeps reading at the others until it commits, and may read there
// what contradicts its earlier reads. Here the younger of two "new order"
// transactions read the next order number, lost its lock on it to the
// older one, which committed that order's line in another group; its own
// insert of the line then finds it. The client must see a retryable
// conflict (1213), not a duplicate key (1062) that its data never had.
func TestWoundedStatementErrorIsRetryable(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	c.WaitReplicated(3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := engine.New(engine.Config{Txn: c.Nodes[0].TxnClient(), NodeID: 1})
	session := func() *engine.Session {
		s, err := e.NewSession(ctx, "root", "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	older, younger := session(), session()
	if _, err := run(t, older, "CREATE DATABASE w; USE w; CREATE TABLE district (id INT PRIMARY KEY, next INT); CREATE TABLE line (o INT PRIMARY KEY); INSERT INTO district VALUES (1, 7)"); err != nil {
		t.Fatal(err)
	}
	// Every table in its own group (user table IDs start at 100), so the
	// wound at district's group is unknown at line's.
	for id := uint32(100); id < 110; id++ {
		if _, err := c.Admin(0).Split(ctx, &pb.SplitRequest{SplitKey: rowenc.TablePrefix(id)}); err != nil {
			t.Fatalf("split at table %d: %v", id, err)
		}
	}
	c.WaitReplicated(3)
	plan, err := run(t, older, "EXPLAIN SELECT * FROM district JOIN line")
	if err != nil {
		t.Fatal(err)
	}
	groups := regexp.MustCompile(`table (district|line): groups (\d+)`).FindAllStringSubmatch(plan, -1)
	if len(groups) != 2 || groups[0][2] == groups[1][2] {
		t.Fatalf("district and line must be in different groups for this test; plan:\n%s", plan)
	}
	if _, err := run(t, younger, "USE w"); err != nil {
		t.Fatal(err)
	}
	step := func(s *engine.Session, q string) string {
		t.Helper()
		out, err := run(t, s, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	step(older, "BEGIN")
	step(older, "SELECT o FROM line WHERE o = 0") // older starts first
	step(younger, "BEGIN")
	if got := step(younger, "SELECT next FROM district WHERE id = 1 FOR UPDATE"); got != "7\n" {
		t.Fatalf("younger read next = %q", got)
	}
	// The older transaction takes the district row (wounding the younger)
	// and commits order 7's line.
	step(older, "UPDATE district SET next = 8 WHERE id = 1")
	step(older, "INSERT INTO line VALUES (7)")
	step(older, "COMMIT")
	_, err = run(t, younger, "INSERT INTO line VALUES (7)")
	if !sqlerr.Is(err, 1213) {
		t.Fatalf("the wounded transaction's insert: got %v, want a retryable conflict (1213)", err)
	}
	t.Logf("as expected: %v", err)
}
