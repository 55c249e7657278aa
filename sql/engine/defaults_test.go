package engine_test

import (
	"testing"

	"github.com/meridiandb/meridian/sql/engine"
)

// TestLiteralDefaultsCachedByType: a literal DEFAULT's value is kept per
// column type (one text converts differently for each), and an
// expression DEFAULT is evaluated every time, never kept.
func TestLiteralDefaultsCachedByType(t *testing.T) {
	_, s := newSession(t)
	for _, q := range []string{
		"CREATE DATABASE d", "USE d",
		"CREATE TABLE t (id INT PRIMARY KEY, i INT DEFAULT '7.6', v VARCHAR(5) DEFAULT '7.6', f DOUBLE DEFAULT '7.6', ts DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6))",
		"INSERT INTO t (id) VALUES (1)",
		"ALTER TABLE t ADD COLUMN x DECIMAL(5,2) DEFAULT '7.6'",
		"INSERT INTO t (id) VALUES (2)",
	} {
		if _, err := run(t, s, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := 0; i < 2; i++ { // the second time from the cache
		got, err := run(t, s, "SELECT id, i, v, f, x, ts IS NOT NULL FROM t ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		if want := "1\t8\t7.6\t7.6\t7.60\t1\n2\t8\t7.6\t7.6\t7.60\t1\n"; got != want {
			t.Fatalf("read %d:\n%s\nwant\n%s", i, got, want)
		}
	}
	if !engine.ConstDefaultCachedForTest("'7.6'") {
		t.Fatal("the literal default '7.6' is not cached")
	}
	if engine.ConstDefaultCachedForTest("CURRENT_TIMESTAMP") {
		t.Fatal("CURRENT_TIMESTAMP(6) was cached")
	}
}
