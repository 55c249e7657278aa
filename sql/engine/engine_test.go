package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/sql/engine"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
)

// textWriter renders results as the logic tests expect: one line per row,
// values tab-separated, NULL as NULL; statements without rows as
// "ok N" (affected rows).
type textWriter struct {
	b    strings.Builder
	cols []engine.Column
}

func (w *textWriter) Columns(cols []engine.Column) error { w.cols = cols; return nil }
func (w *textWriter) Row(vals []types.Datum) error {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if v.IsNull() {
			parts[i] = "NULL"
		} else {
			parts[i] = v.String()
		}
	}
	w.b.WriteString(strings.Join(parts, "\t") + "\n")
	return nil
}
func (w *textWriter) Done(r engine.Result) error {
	if w.cols == nil {
		fmt.Fprintf(&w.b, "ok %d\n", r.AffectedRows)
	}
	w.cols = nil
	return nil
}

// newSession starts a 3-node cluster and opens a session on node 1.
func newSession(t *testing.T) (*engine.Engine, *engine.Session) {
	t.Helper()
	c := servertest.Start(t, servertest.Options{})
	c.WaitReplicated(3)
	e := engine.New(engine.Config{Txn: c.Nodes[0].TxnClient(), NodeID: 1})
	s, err := e.NewSession(context.Background(), "root", "")
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}

func run(t *testing.T, s *engine.Session, q string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &textWriter{}
	err := s.Run(ctx, q, w)
	return w.b.String(), err
}

func TestSmoke(t *testing.T) {
	_, s := newSession(t)
	for _, q := range []string{
		"CREATE DATABASE d",
		"USE d",
		"CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, v DECIMAL(10,2), KEY (name))",
		"INSERT INTO t VALUES (1, 'a', 1.5), (2, 'b', NULL), (3, 'c', 3)",
		"SELECT * FROM t",
		"SELECT name FROM t WHERE id = 2",
		"SELECT count(*), sum(v), max(name) FROM t",
		"SELECT * FROM t WHERE name = 'c'",
		"UPDATE t SET v = v + 1 WHERE id >= 2",
		"SELECT id, v FROM t ORDER BY v DESC LIMIT 2",
		"DELETE FROM t WHERE id = 1",
		"SELECT * FROM t",
		"INSERT INTO t VALUES (2, 'x', 0)",
		"SELECT * FROM nope",
		"EXPLAIN SELECT * FROM t WHERE id = 3",
		"EXPLAIN SELECT * FROM t WHERE name = 'c'",
	} {
		out, err := run(t, s, q)
		t.Logf("%s\n%s%v", q, out, err)
	}
	_ = sqlerr.Code
}
