package tpcc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestLastName(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "BARBARBAR"},
		{371, "PRICALLYOUGHT"}, // the specification's example (4.3.2.3)
		{999, "EINGEINGEING"},
		{40, "BARPRESBAR"},
	} {
		if got := lastName(tc.n); got != tc.want {
			t.Errorf("lastName(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestNURand(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ a, c, x, y int }{
		{nurandLastA, 123, 0, 999},
		{nurandCustA, 259, 1, 3000},
		{nurandItemA, 7911, 1, 100000},
		{nurandCustA, 259, 1, 300}, // shrunken test data
	} {
		counts := map[int]int{}
		const n = 200000
		for range n {
			v := nurand(r, tc.a, tc.c, tc.x, tc.y)
			if v < tc.x || v > tc.y {
				t.Fatalf("NURand(%d, %d, %d) = %d out of range", tc.a, tc.x, tc.y, v)
			}
			counts[v]++
		}
		// Non-uniform: the most frequent value is drawn far more often
		// than a uniform draw would give it.
		most := 0
		for _, c := range counts {
			most = max(most, c)
		}
		if uniform := n / (tc.y - tc.x + 1); most < 3*uniform {
			t.Errorf("NURand(%d, %d, %d): most frequent value drawn %d times, uniform would be %d", tc.a, tc.x, tc.y, most, uniform)
		}
	}
}

func TestRunC(t *testing.T) {
	for seed := range uint64(200) {
		c := runC(rand.New(rand.NewPCG(seed, 0)))
		if !validCRun(c.last, cLoad.last) {
			t.Fatalf("seed %d: C_LAST run %d vs load %d", seed, c.last, cLoad.last)
		}
		if c.cust < 0 || c.cust > nurandCustA || c.item < 0 || c.item > nurandItemA {
			t.Fatalf("seed %d: C out of range: %+v", seed, c)
		}
	}
	for _, tc := range []struct {
		run, load int
		ok        bool
	}{{222, 157, true}, {276, 157, true}, {221, 157, false}, {277, 157, false}, {253, 157, false}, {269, 157, false}, {92, 157, true}} {
		if got := validCRun(tc.run, tc.load); got != tc.ok {
			t.Errorf("validCRun(%d, %d) = %v, want %v", tc.run, tc.load, got, tc.ok)
		}
	}
}

func TestStrings(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	original := 0
	for range 10000 {
		if s := aString(r, 8, 16); len(s) < 8 || len(s) > 16 {
			t.Fatalf("aString length %d", len(s))
		}
		s := dataString(r)
		if len(s) < 26 || len(s) > 50 {
			t.Fatalf("dataString length %d", len(s))
		}
		if strings.Contains(s, "ORIGINAL") {
			original++
		}
		if z := zip(r); len(z) != 9 || !strings.HasSuffix(z, "11111") {
			t.Fatalf("zip %q", z)
		}
	}
	if original < 800 || original > 1200 {
		t.Errorf("%d of 10000 data strings hold ORIGINAL, want about 10%%", original)
	}
}

func TestMoney(t *testing.T) {
	for _, cents := range []int64{0, 1, 99, 100, 1000, -1000, 30000000, 123456789, -5} {
		s := money(cents)
		back, err := parseCents(s)
		if err != nil || back != cents {
			t.Errorf("money(%d) = %q, parsed back %d, %v", cents, s, back, err)
		}
	}
	for s, want := range map[string]int64{"300000.00": 30000000, "12.5": 1250, "7": 700, "-10.00": -1000, "1.2300": 123} {
		if got, err := parseCents(s); err != nil || got != want {
			t.Errorf("parseCents(%q) = %d, %v, want %d", s, got, err, want)
		}
	}
	if _, err := parseCents("1.234"); err == nil {
		t.Errorf("parseCents(1.234) accepted a third decimal place")
	}
	if got := fraction(7); got != "0.0007" {
		t.Errorf("fraction(7) = %q", got)
	}
}

type codedErr struct{ code uint16 }

func (e *codedErr) Error() string { return "coded" }
func (e *codedErr) MySQLError() (uint16, string, string) {
	return e.code, "40001", "conflict"
}

func TestSQLCode(t *testing.T) {
	for _, tc := range []struct {
		err       error
		code      uint16
		retryable bool
	}{
		{&codedErr{1213}, 1213, true},
		{fmt.Errorf("stock 1/2: %w", &codedErr{1213}), 1213, true},
		{errors.New("Error 1213 (40001): Deadlock found when trying to get lock"), 1213, true}, // go-sql-driver's text
		{fmt.Errorf("wrapped: %w", errors.New("Error 1205 (HY000): Lock wait timeout exceeded")), 1205, true},
		{errors.New("Error 1062 (23000): Duplicate entry"), 1062, false},
		{errors.New("connection refused"), 0, false},
	} {
		if got := sqlCode(tc.err); got != tc.code {
			t.Errorf("sqlCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
		if got := retryable(tc.err); got != tc.retryable {
			t.Errorf("retryable(%v) = %v", tc.err, got)
		}
	}
}
