package tpcc

import (
	"database/sql"
	"testing"
)

func TestDistrictViolations(t *testing.T) {
	n := func(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: true} }
	good := districtAggs{nextO: 3011, maxO: n(3010), maxNO: n(3010), minNO: n(2101), countNO: 910, sumOLCnt: 30100, countOL: 30100}
	for _, tc := range []struct {
		name  string
		edit  func(a *districtAggs)
		conds []int
	}{
		{"consistent", func(a *districtAggs) {}, nil},
		{"all delivered", func(a *districtAggs) { a.maxNO, a.minNO, a.countNO = sql.NullInt64{}, sql.NullInt64{}, 0 }, nil},
		{"next order id skips", func(a *districtAggs) { a.nextO++ }, []int{2}},
		{"order without new order", func(a *districtAggs) { a.maxO = n(3011); a.nextO = 3012 }, []int{2}},
		{"hole in new orders", func(a *districtAggs) { a.countNO-- }, []int{3}},
		{"lost order line", func(a *districtAggs) { a.countOL-- }, []int{4}},
		{"no orders", func(a *districtAggs) { a.maxO = sql.NullInt64{} }, []int{2}},
	} {
		a := good
		tc.edit(&a)
		v := districtViolations(districtKey{1, 3}, &a)
		var got []int
		for _, x := range v {
			got = append(got, x.Condition)
			if x.Warehouse != 1 || x.District != 3 {
				t.Errorf("%s: violation names %d/%d", tc.name, x.Warehouse, x.District)
			}
		}
		if len(got) != len(tc.conds) || len(got) > 0 && got[0] != tc.conds[0] {
			t.Errorf("%s: conditions %v, want %v (%v)", tc.name, got, tc.conds, v)
		}
	}
}
