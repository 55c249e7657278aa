package rowenc

import (
	"bytes"
	"math"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/sql/types"
)

// Fuzz targets. Plain `go test` runs their seed corpora as regression
// tests; `go test -fuzz FuzzDecodeKey ./sql/rowenc/` explores further.

func FuzzDecodeKey(f *testing.F) {
	for i, typ := range testTypes {
		for _, d := range []types.Datum{types.Null(), mustConvert(f, types.NewString("1"), typ)} {
			f.Add(EncodeKey(nil, d, i%2 == 0), uint8(i), i%2 == 0)
		}
	}
	f.Add([]byte{markerDecPos, 0x90, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x20}, uint8(9), false)
	f.Add([]byte{markerBytes, 0x00}, uint8(17), false)
	f.Fuzz(func(t *testing.T, data []byte, typeIdx uint8, desc bool) {
		typ := testTypes[int(typeIdx)%len(testTypes)]
		d, rest, err := DecodeKey(data, typ, desc)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not marked corrupt: %v", err)
			}
			return
		}
		if len(rest) > len(data) {
			t.Fatal("rest longer than input")
		}
		// What decodes re-encodes to something that decodes to the same.
		again, rest2, err := DecodeKey(EncodeKey(nil, d, desc), typ, desc)
		if err != nil || len(rest2) != 0 || !sameDatum(again, d) {
			t.Fatalf("%v: %q re-decoded as %q, %v", typ, d, again, err)
		}
	})
}

func mustConvert(f *testing.F, d types.Datum, t types.T) types.Datum {
	c, err := types.Convert(d, t)
	if err != nil {
		if t.IsTime() {
			c, err = types.Convert(types.NewString("2024-01-02 03:04:05.678"), t)
		}
		if err != nil {
			f.Fatal(err)
		}
	}
	return c
}

func FuzzDecodeRow(f *testing.F) {
	cols := make([]ColumnDesc, len(testTypes))
	ids := make([]uint32, len(testTypes))
	vals := make([]types.Datum, len(testTypes))
	for i, typ := range testTypes {
		cols[i] = ColumnDesc{ID: uint32(i + 1), T: typ}
		ids[i] = cols[i].ID
		vals[i] = mustConvert(f, types.NewString("1"), typ)
	}
	f.Add(EncodeRow(nil, ids, vals))
	f.Add(EncodeRow(nil, ids[:3], vals[:3]))
	f.Add([]byte{rowFormat, 0})
	f.Add([]byte{rowFormat, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0c, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := DecodeRow(data, cols); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error not marked corrupt: %v", err)
		}
		if _, err := DecodeRow(data, cols[5:9]); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error not marked corrupt: %v", err)
		}
	})
}

// FuzzKeyOrder checks invariant 1 on pairs of integers, strings, doubles
// and decimals built from the fuzzer's inputs.
func FuzzKeyOrder(f *testing.F) {
	f.Add(int64(0), int64(-1), "", "\x00", 0.0, -0.0, int8(0), int8(-2))
	f.Add(int64(math.MinInt64), int64(math.MaxInt64), "a\x00", "a", 1.5, math.Inf(1), int8(5), int8(-5))
	f.Add(int64(255), int64(256), "ab", "a\xff", -1e300, 1e-300, int8(127), int8(-128))
	f.Add(int64(-256), int64(-257), "\x00\x01", "\x00\xff", 3.0, 3.0000000000000004, int8(1), int8(0))
	f.Fuzz(func(t *testing.T, x, y int64, s1, s2 string, f1, f2 float64, e1, e2 int8) {
		checkOrder(t, types.NewInt(x), types.NewInt(y))
		checkOrder(t, types.NewUint(uint64(x)), types.NewUint(uint64(y)))
		checkOrder(t, types.NewBytes([]byte(s1)), types.NewBytes([]byte(s2)))
		checkRoundTrip(t, types.NewBytes([]byte(s1)), types.NewT(types.VarBinary))
		if !math.IsNaN(f1) && !math.IsNaN(f2) {
			checkOrder(t, types.NewFloat(f1), types.NewFloat(f2))
		}
		d1, d2 := types.NewDecimal(apd.New(x, int32(e1))), types.NewDecimal(apd.New(y, int32(e2)))
		checkOrder(t, d1, d2)
		enc := EncodeKey(nil, d1, false)
		got, _, err := DecodeKey(enc, types.T{Kind: types.Decimal, Precision: 65, Scale: 0}, false)
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := types.Compare(got, d1); c != 0 || !bytes.Equal(EncodeKey(nil, got, false), enc) {
			t.Fatalf("decimal %v decoded as %v", d1, got)
		}
	})
}
