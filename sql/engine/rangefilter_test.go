package engine_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRangeFilterMatchesFullScan checks that a primary key range drops
// only the conjuncts its span decides (exactFilter): random predicates on
// the key columns of a signed and an unsigned two-column primary key —
// equalities, BETWEEN, open and closed bounds, with integer, fractional,
// string and NULL constants — must return what the same predicates over
// a+0 and b+0 (no key range, every conjunct checked on every row) return.
func TestRangeFilterMatchesFullScan(t *testing.T) {
	seed := spillSeed(t)
	t.Logf("seed %d (MERIDIAN_SPILL_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0xf11e))
	_, s := newSession(t)
	setup := []string{
		"CREATE DATABASE rf", "USE rf",
		"CREATE TABLE si (a INT, b INT, v INT, PRIMARY KEY (a, b))",
		"CREATE TABLE un (a INT UNSIGNED, b INT UNSIGNED, v INT, PRIMARY KEY (a, b))",
	}
	var si, un []string
	for a := -3; a <= 3; a++ {
		for b := -3; b <= 3; b++ {
			si = append(si, fmt.Sprintf("(%d, %d, %d)", a, b, a*10+b))
			if a >= 0 && b >= 0 {
				un = append(un, fmt.Sprintf("(%d, %d, %d)", a, b, a*10+b))
			}
		}
	}
	setup = append(setup, "INSERT INTO si VALUES "+strings.Join(si, ", "), "INSERT INTO un VALUES "+strings.Join(un, ", "))
	for _, q := range setup {
		if _, err := run(t, s, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	consts := []string{"-4", "-3", "-1", "0", "1", "2", "3", "4", "1.5", "-0.5", "2.0", "'2'", "'1.5'", "NULL", "18446744073709551615"}
	c := func() string { return consts[rng.IntN(len(consts))] }
	pred := func(col string) string {
		switch rng.IntN(6) {
		case 0:
			return col + " = " + c()
		case 1:
			return col + " BETWEEN " + c() + " AND " + c()
		case 2:
			return col + " > " + c()
		case 3:
			return col + " >= " + c()
		case 4:
			return col + " < " + c()
		default:
			return c() + " >= " + col
		}
	}
	for i := 0; i < 300; i++ {
		table := []string{"si", "un"}[rng.IntN(2)]
		var conj []string
		for n := 1 + rng.IntN(3); n > 0; n-- {
			conj = append(conj, pred([]string{"a", "b"}[rng.IntN(2)]))
		}
		where := strings.Join(conj, " AND ")
		plain := strings.NewReplacer("a ", "a+0 ", "b ", "b+0 ").Replace(where + " ")
		q := "SELECT a, b, v FROM " + table + " WHERE %s ORDER BY a, b"
		got, err := run(t, s, fmt.Sprintf(q, where))
		want, werr := run(t, s, fmt.Sprintf(q, plain))
		if (err == nil) != (werr == nil) {
			t.Fatalf("%s: error %v, without a key range %v", fmt.Sprintf(q, where), err, werr)
		}
		if got != want {
			t.Fatalf("%s returned\n%s\nwithout a key range (%s)\n%s", fmt.Sprintf(q, where), got, plain, want)
		}
	}
}
