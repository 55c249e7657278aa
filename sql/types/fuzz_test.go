package types

import (
	"sort"
	"testing"
	"time"
)

// User input reaches these functions unchecked; they must never panic.
// Plain `go test` runs the seeds; `go test -fuzz FuzzConvert` explores.

var fuzzTypes = []T{
	NewT(TinyInt), {Kind: BigInt, Unsigned: true}, NewT(BigInt), NewT(Bool),
	{Kind: Decimal, Precision: 10, Scale: 2}, {Kind: Decimal, Precision: 65, Scale: 30},
	NewT(Float), NewT(Double), {Kind: Double, Precision: 5, Scale: 2},
	{Kind: Char, Length: 3}, {Kind: VarChar, Length: 5}, NewT(Text), {Kind: Binary, Length: 3}, NewT(Blob),
	NewT(Date), {Kind: DateTime, Scale: 6}, {Kind: Timestamp, Scale: 2},
}

func fuzzDatums(s string, i int64, f float64) []Datum {
	d, err := ParseDecimal(s)
	if err != nil {
		d = Null()
	}
	return []Datum{NewString(s), NewBytes([]byte(s)), NewInt(i), NewUint(uint64(i)), NewFloat(f), d,
		NewDateTime(time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC), 6), Null()}
}

func FuzzConvert(f *testing.F) {
	for _, s := range []string{"", "1", "-1.5e3", "12abc", "2024-02-29 10:11:12.1234567", "99999999999999999999999",
		"1e99999", "0.000000000000000000000000000000000000001", "24-1-2", "20240229", " 7 ", "\xff\xfe"} {
		f.Add(s, int64(20240102), 1.5)
	}
	f.Fuzz(func(t *testing.T, s string, i int64, fl float64) {
		for _, d := range fuzzDatums(s, i, fl) {
			for _, typ := range fuzzTypes {
				_, _ = Convert(d, typ)
				_, _ = Cast(d, typ)
			}
			_, _ = ToInt64(d)
			_, _ = ToUint64(d)
			_, _ = ToFloat64(d)
			_, _ = ToDecimal(d)
			_ = ToBool(d)
			for _, e := range fuzzDatums(s, i, fl) {
				_, _ = Compare(d, e)
				for _, op := range []func(a, b Datum) (Datum, error){Add, Sub, Mul, Div, IntDiv, Mod} {
					_, _ = op(d, e)
				}
			}
			_, _ = Neg(d)
		}
	})
}

func FuzzBuiltins(f *testing.F) {
	f.Add("2024-01-31", "%Y-%m-%d %H:%i:%s", int64(3))
	f.Add("héllo wörld", "DAY_SECOND", int64(-2))
	f.Add("1 2:3:4.5", "MONTH", int64(1<<62))
	f.Add("", "%", int64(0))
	var names []string
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	ctx := &EvalContext{Now: time.Date(2024, 3, 15, 13, 45, 30, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, s1, s2 string, i int64) {
		pool := append(fuzzDatums(s1, i, float64(i)/7), NewString(s2))
		for _, n := range names {
			def := builtins[n]
			maxArgs := def.MaxArgs
			if maxArgs < 0 {
				maxArgs = def.MinArgs + 2
			}
			for argc := def.MinArgs; argc <= maxArgs; argc++ {
				args := make([]Datum, argc)
				for k := range args {
					args[k] = pool[(int(uint64(i)%uint64(len(pool)))+k*3+argc)%len(pool)]
				}
				if argc > 0 {
					args[argc-1] = NewString(s2) // units and formats come last
				}
				_, _ = def.Fn(ctx, args)
			}
		}
	})
}
