package tpcc

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// The constants of NURand (TPC-C 2.1.6): A per field, and C chosen once.
const (
	nurandLastA  = 255  // C_LAST, in [0, 999]
	nurandCustA  = 1023 // C_ID, in [1, 3000]
	nurandItemA  = 8191 // OL_I_ID, in [1, 100000]
	maxLastIndex = 999
)

// cLoad are the C values used by init. They are fixed rather than random
// (the specification lets the loader pick any value in [0, A]) so that
// run, a separate process, can pick its own C values under the rule of
// 2.1.6.1 without reading them back from the database.
var cLoad = nurandC{last: 157, cust: 259, item: 7911}

// nurandC holds one C value per NURand field.
type nurandC struct{ last, cust, item int }

// runC picks the C values of a run: C_ID and OL_I_ID anywhere in [0, A],
// C_LAST such that delta = |C_run - C_load| is in [65, 119] and is neither
// 96 nor 112 (2.1.6.1).
func runC(r *rand.Rand) nurandC {
	c := nurandC{cust: r.IntN(nurandCustA + 1), item: r.IntN(nurandItemA + 1)}
	for {
		v := r.IntN(nurandLastA + 1)
		if validCRun(v, cLoad.last) {
			c.last = v
			return c
		}
	}
}

// validCRun reports whether run and load values of C for C_LAST obey 2.1.6.1.
func validCRun(run, load int) bool {
	d := run - load
	if d < 0 {
		d = -d
	}
	return d >= 65 && d <= 119 && d != 96 && d != 112
}

// nurand is NURand(A, x, y) = (((random(0, A) | random(x, y)) + C) % (y - x + 1)) + x.
func nurand(r *rand.Rand, a, c, x, y int) int {
	return (((randInt(r, 0, a) | randInt(r, x, y)) + c) % (y - x + 1)) + x
}

// randInt is uniform in [lo, hi].
func randInt(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

var syllables = [10]string{"BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING"}

// lastName is C_LAST for n in [0, 999]: the syllables of its three digits (4.3.2.3).
func lastName(n int) string {
	return syllables[n/100] + syllables[n/10%10] + syllables[n%10]
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// aString is a random alphanumeric string of length in [lo, hi] (4.3.2.2).
func aString(r *rand.Rand, lo, hi int) string {
	n := randInt(r, lo, hi)
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// nString is a random numeric string of length in [lo, hi].
func nString(r *rand.Rand, lo, hi int) string {
	n := randInt(r, lo, hi)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// dataString is I_DATA or S_DATA: 26..50 characters, 10% of them holding
// "ORIGINAL" at a random position (4.3.3.1).
func dataString(r *rand.Rand) string {
	s := aString(r, 26, 50)
	if r.IntN(10) != 0 {
		return s
	}
	pos := r.IntN(len(s) - 8 + 1)
	return s[:pos] + "ORIGINAL" + s[pos+8:]
}

// zip is a zip code: four random digits and "11111".
func zip(r *rand.Rand) string { return nString(r, 4, 4) + "11111" }

// money renders cents as a DECIMAL literal with two places.
func money(cents int64) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	s := strconv.FormatInt(cents/100, 10) + "." + pad2(cents%100)
	if neg {
		return "-" + s
	}
	return s
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// fraction renders n/10000 as a DECIMAL(4,4) literal (taxes, discounts).
func fraction(n int) string {
	s := strconv.Itoa(n)
	return "0." + strings.Repeat("0", 4-len(s)) + s
}
