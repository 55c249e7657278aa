package rowenc

import (
	"bytes"
	"math"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/sql/types"
)

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// checkOrder asserts invariant 1 for a pair of values of one column type.
func checkOrder(t *testing.T, a, b types.Datum) {
	t.Helper()
	want, err := types.Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range []bool{false, true} {
		got := sign(bytes.Compare(EncodeKey(nil, a, desc), EncodeKey(nil, b, desc)))
		if desc {
			got = -got
		}
		if got != want {
			t.Fatalf("desc=%v: key order of %q (%x) vs %q (%x) is %d, Compare says %d",
				desc, a, EncodeKey(nil, a, desc), b, EncodeKey(nil, b, desc), got, want)
		}
	}
}

// checkRoundTrip asserts that a value decodes to itself and leaves the
// bytes after it alone.
func checkRoundTrip(t *testing.T, d types.Datum, typ types.T) {
	t.Helper()
	for _, desc := range []bool{false, true} {
		enc := EncodeKey([]byte("pre"), d, desc)
		enc = append(enc, "post"...)
		got, rest, err := DecodeKey(enc[3:], typ, desc)
		if err != nil {
			t.Fatalf("%v %q desc=%v: %v", typ, d, desc, err)
		}
		if string(rest) != "post" || got.Kind() != d.Kind() || got.String() != d.String() ||
			got.IsFloat32() != d.IsFloat32() || (d.Kind() == types.KindTime && got.TimeKind() != d.TimeKind()) {
			t.Fatalf("%v desc=%v: %q (%v) decoded as %q (%v), rest %q", typ, desc, d, d.Kind(), got, got.Kind(), rest)
		}
	}
}

func TestKeyProperties(t *testing.T) {
	r := newRand(t)
	for _, typ := range testTypes {
		vals := make([]types.Datum, 200)
		for i := range vals {
			vals[i] = randomValue(r, typ)
			checkRoundTrip(t, vals[i], typ)
		}
		for i := 0; i < 2000; i++ {
			checkOrder(t, vals[r.IntN(len(vals))], vals[r.IntN(len(vals))])
		}
	}
}

func dec(t testing.TB, s string) types.Datum {
	d, err := types.ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecimalKeysIgnoreScale(t *testing.T) {
	vals := []string{"-1e10", "-123.456", "-1.50", "-1.5", "-1", "-0.001", "0", "0.00", "1e-40", "0.001",
		"0.1", "0.10", "0.11", "0.2", "1", "1.0", "1.5", "1.50", "1.51", "9.99", "10", "1E+1", "100", "1e100"}
	for _, a := range vals {
		for _, b := range vals {
			checkOrder(t, dec(t, a), dec(t, b))
		}
	}
	if !bytes.Equal(EncodeKey(nil, dec(t, "1.5"), false), EncodeKey(nil, dec(t, "1.50"), false)) {
		t.Fatal("1.5 and 1.50 must encode alike")
	}
	got, _, err := DecodeKey(EncodeKey(nil, dec(t, "1.5"), false), types.T{Kind: types.Decimal, Precision: 5, Scale: 2}, false)
	if err != nil || got.String() != "1.50" {
		t.Fatalf("decimal comes back at the column's scale: %v %v", got, err)
	}
	got, _, err = DecodeKey(EncodeKey(nil, dec(t, "0.000"), true), types.T{Kind: types.Decimal, Precision: 5, Scale: 3}, true)
	if err != nil || got.String() != "0.000" {
		t.Fatalf("zero: %v %v", got, err)
	}
}

func TestKeyEdges(t *testing.T) {
	ints := []int64{math.MinInt64, math.MinInt64 + 1, -1 << 32, -257, -256, -255, -2, -1, 0, 1, 255, 256, 1 << 40, math.MaxInt64}
	for _, a := range ints {
		for _, b := range ints {
			checkOrder(t, types.NewInt(a), types.NewInt(b))
		}
		checkOrder(t, types.NewInt(a), types.NewUint(math.MaxUint64))
		checkOrder(t, types.Null(), types.NewInt(a))
	}
	strs := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "a", "a\x00", "a\x00b", "ab", "b", "\xff", "\xff\xff"}
	for _, a := range strs {
		for _, b := range strs {
			checkOrder(t, types.NewBytes([]byte(a)), types.NewBytes([]byte(b)))
		}
		checkRoundTrip(t, types.NewBytes([]byte(a)), types.NewT(types.Blob))
	}
	floats := []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1)}
	for _, a := range floats {
		for _, b := range floats {
			checkOrder(t, types.NewFloat(a), types.NewFloat(b))
		}
	}
	if !bytes.Equal(EncodeKey(nil, types.NewFloat(math.Copysign(0, -1)), false), EncodeKey(nil, types.NewFloat(0), false)) {
		t.Fatal("-0 and 0 must encode alike")
	}
}

func TestDecodeKeyRejects(t *testing.T) {
	bigint := types.NewT(types.BigInt)
	for _, tc := range []struct {
		name string
		buf  []byte
		t    types.T
	}{
		{"empty", nil, bigint},
		{"short int", []byte{0x89}, bigint},
		{"non-minimal int", []byte{0x89, 0x00}, bigint},
		{"bad marker", []byte{0x30}, bigint},
		{"negative unsigned", EncodeKey(nil, types.NewInt(-1), false), types.T{Kind: types.BigInt, Unsigned: true}},
		{"unsigned too big for signed", EncodeKey(nil, types.NewUint(math.MaxUint64), false), bigint},
		{"unterminated string", []byte{markerBytes, 'a', 0x00}, types.NewT(types.Text)},
		{"bad escape", []byte{markerBytes, 0x00, 0x07}, types.NewT(types.Text)},
		{"short float", []byte{markerFloat, 1, 2}, types.NewT(types.Double)},
		{"decimal trailing zero", []byte{markerDecPos, 0x88, 0x21, 0x00}, types.NewT(types.Decimal)},
		{"decimal no end", []byte{markerDecPos, 0x88, 0x22}, types.NewT(types.Decimal)},
		{"time out of range", append([]byte{markerTime}, EncodeKey(nil, types.NewInt(math.MaxInt64), false)...), types.NewT(types.Date)},
	} {
		if _, _, err := DecodeKey(tc.buf, tc.t, false); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func TestTableKeys(t *testing.T) {
	if TablePrefix(7)[0] != SQLPrefix {
		t.Fatal("SQL keys start with SQLPrefix")
	}
	// Tables and indexes are contiguous and ordered by id.
	var prev []byte
	for _, table := range []uint32{0, 1, 2, 255, 256, 1 << 20, math.MaxUint32} {
		for _, index := range []uint32{PrimaryIndexID, 2, 300} {
			k := EncodeIndexKey(table, index, []types.Datum{types.NewInt(-5), types.NewString("x")}, []bool{false, true})
			if bytes.Compare(prev, k) >= 0 {
				t.Fatalf("key %x not after %x", k, prev)
			}
			if !bytes.HasPrefix(k, IndexPrefix(table, index)) || !bytes.HasPrefix(k, TablePrefix(table)) {
				t.Fatal("index key outside its prefixes")
			}
			if bytes.Compare(k, PrefixEnd(TablePrefix(table))) >= 0 || bytes.Compare(k, PrefixEnd(IndexPrefix(table, index))) >= 0 {
				t.Fatal("index key beyond PrefixEnd of its prefix")
			}
			tid, iid, rest, err := DecodeIndexKey(k)
			if err != nil || tid != table || iid != index {
				t.Fatalf("DecodeIndexKey: %d %d %v", tid, iid, err)
			}
			vals, rest, err := DecodeKeyColumns(rest, []types.T{types.NewT(types.BigInt), types.NewT(types.Text)}, []bool{false, true})
			if err != nil || len(rest) != 0 || vals[0].Int() != -5 || vals[1].Str() != "x" {
				t.Fatalf("DecodeKeyColumns: %v %x %v", vals, rest, err)
			}
			prev = k
		}
	}
	if PrefixEnd([]byte{0xff, 0xff}) != nil || PrefixEnd(nil) != nil {
		t.Fatal("PrefixEnd of all-0xFF has no bound")
	}
	if got := PrefixEnd([]byte{1, 0xff}); !bytes.Equal(got, []byte{2}) {
		t.Fatalf("PrefixEnd: %x", got)
	}
	if _, _, _, err := DecodeIndexKey([]byte("\x00meta/")); !errors.Is(err, ErrCorrupt) {
		t.Fatal("a meta key is not a table key")
	}
}

// An arbitrary apd value (any exponent, any scale) encodes in numeric
// order, even if Convert never produced it.
func TestDecimalArbitraryExponents(t *testing.T) {
	r := newRand(t)
	vals := make([]types.Datum, 300)
	for i := range vals {
		x := apd.New(r.Int64N(2001)-1000, int32(r.IntN(41)-20))
		if r.IntN(5) == 0 {
			x.Coeff.SetString("123456789012345678901234567890123456789", 10)
			x.Negative = r.IntN(2) == 0
		}
		vals[i] = types.NewDecimal(x)
	}
	for i := 0; i < 5000; i++ {
		checkOrder(t, vals[r.IntN(len(vals))], vals[r.IntN(len(vals))])
	}
}
