package types

import (
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/meridiandb/meridian/sql/sqlerr"
)

func mustDec(t testing.TB, s string) Datum {
	t.Helper()
	d, err := ParseDecimal(s)
	if err != nil {
		t.Fatalf("ParseDecimal(%q): %v", s, err)
	}
	return d
}

func TestDatumString(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for _, tc := range []struct {
		d    Datum
		want string
	}{
		{Null(), "NULL"},
		{NewInt(-42), "-42"},
		{NewUint(math.MaxUint64), "18446744073709551615"},
		{NewFloat(0.1), "0.1"},
		{NewFloat(1.5), "1.5"},
		{NewFloat(100), "100"},
		{NewFloat(-0.0), "0"},
		{NewFloat(1e15), "1e15"},
		{NewFloat(123456789012345), "123456789012345"},
		{NewFloat(1.2345678901234567e20), "1.2345678901234567e20"},
		{NewFloat(1e-7), "0.0000001"},
		{NewFloat(1.5e-20), "1.5e-20"},
		{NewFloat32(0.1), "0.1"},
		{NewFloat32(3.14159), "3.14159"},
		{mustDec(t, "12.340"), "12.340"},
		{mustDec(t, "-0.00"), "0.00"},
		{mustDec(t, "1E+2"), "100"},
		{NewString("héllo"), "héllo"},
		{NewBytes([]byte{'a', 0}), "a\x00"},
		{NewDate(ts, 0), "2024-01-02"},
		{NewDateTime(ts, 0), "2024-01-02 03:04:05"},
		{NewDateTime(ts, 3), "2024-01-02 03:04:05.123"},
		{NewTimestamp(ts, 6), "2024-01-02 03:04:05.123456"},
		{NewDate(time.Date(5, 3, 1, 0, 0, 0, 0, time.UTC), 0), "0005-03-01"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%#v: got %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestParseDecimalRejects(t *testing.T) {
	for _, s := range []string{"", "abc", "1.2.3", "1x", "NaN", "Infinity"} {
		if _, err := ParseDecimal(s); !sqlerr.Is(err, sqlerr.CodeTruncatedWrongValueFF) {
			t.Errorf("%q: got %v", s, err)
		}
	}
}

func TestCompare(t *testing.T) {
	day := NewDate(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), 0)
	for _, tc := range []struct {
		a, b Datum
		want int
	}{
		{Null(), Null(), 0},
		{Null(), NewInt(math.MinInt64), -1},
		{NewInt(-1), NewUint(math.MaxUint64), -1},
		{NewUint(math.MaxUint64), NewInt(math.MaxInt64), 1},
		{NewUint(5), NewInt(5), 0},
		{NewInt(1), mustDec(t, "1.000"), 0},
		{mustDec(t, "1.5"), mustDec(t, "1.50"), 0},
		{mustDec(t, "-1.5"), NewInt(-1), -1},
		{NewUint(math.MaxUint64), mustDec(t, "18446744073709551615.1"), -1},
		{NewFloat(0.5), mustDec(t, "0.5"), 0},
		{NewInt(12), NewString("12abc"), 0},
		{NewInt(0), NewString("abc"), 0},
		{NewString("10"), NewInt(9), 1},
		{NewString("a"), NewString("b"), -1},
		{NewString("a"), NewString("A"), 1},
		{NewString("a"), NewString("a "), -1},
		{NewString("ab"), NewBytes([]byte("ab")), 0},
		{day, NewString("2024-01-02"), 0},
		{day, NewString("2024-01-02 00:00:01"), -1},
		{day, NewDateTime(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), 0), 0},
		{day, NewInt(20240102), 0},
		{day, NewString("zzz"), -1},
	} {
		got, err := Compare(tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("Compare(%v, %v) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
		if back, _ := Compare(tc.b, tc.a); back != -tc.want {
			t.Errorf("Compare(%v, %v) = %d, not antisymmetric", tc.b, tc.a, back)
		}
	}
}

func TestConvert(t *testing.T) {
	dec := func(p, s int) T { return T{Kind: Decimal, Precision: p, Scale: s} }
	for _, tc := range []struct {
		in   Datum
		t    T
		want string
		code uint16
	}{
		{NewInt(127), NewT(TinyInt), "127", 0},
		{NewInt(128), NewT(TinyInt), "", 1264},
		{NewInt(-1), T{Kind: Int, Unsigned: true}, "", 1264},
		{NewInt(255), T{Kind: TinyInt, Unsigned: true}, "255", 0},
		{NewUint(math.MaxUint64), NewT(BigInt), "", 1264},
		{NewUint(math.MaxUint64), T{Kind: BigInt, Unsigned: true}, "18446744073709551615", 0},
		{NewString("1.5"), NewT(Int), "2", 0},
		{NewString("-1.5"), NewT(Int), "-2", 0},
		{NewString("1e3"), NewT(Int), "1000", 0},
		{NewString(" 42 "), NewT(Int), "42", 0},
		{NewString("abc"), NewT(Int), "", 1366},
		{NewString(""), NewT(Int), "", 1366},
		{NewString("12abc"), NewT(Int), "", 1265},
		{NewFloat(2.5), NewT(Int), "2", 0},
		{mustDec(t, "2.5"), NewT(Int), "3", 0},
		{NewFloat(1e19), NewT(BigInt), "", 1264},
		{NewInt(1), NewT(Bool), "1", 0},
		{NewInt(5), NewT(Bool), "5", 0},
		{mustDec(t, "1.555"), dec(5, 2), "1.56", 0},
		{mustDec(t, "-1.555"), dec(5, 2), "-1.56", 0},
		{NewInt(7), dec(5, 2), "7.00", 0},
		{NewInt(1000), dec(5, 2), "", 1264},
		{mustDec(t, "999.995"), dec(5, 2), "", 1264},
		{mustDec(t, "999.994"), dec(5, 2), "999.99", 0},
		{NewInt(-1), T{Kind: Decimal, Precision: 5, Scale: 2, Unsigned: true}, "", 1264},
		{NewString("3.14159"), dec(10, 3), "3.142", 0},
		{NewString("x"), dec(10, 3), "", 1366},
		{NewFloat(0.1), dec(10, 2), "0.10", 0},
		{NewString("0.1"), NewT(Float), "0.1", 0},
		{NewFloat(1e39), NewT(Float), "", 1264},
		{NewFloat(1.2345), T{Kind: Double, Precision: 5, Scale: 2}, "1.23", 0},
		{NewFloat(1234.5), T{Kind: Double, Precision: 5, Scale: 2}, "", 1264},
		{NewString("abc"), T{Kind: VarChar, Length: 3}, "abc", 0},
		{NewString("abcd"), T{Kind: VarChar, Length: 3}, "", 1406},
		{NewString("ab   "), T{Kind: VarChar, Length: 3}, "ab ", 0},
		{NewString("ééé"), T{Kind: VarChar, Length: 3}, "ééé", 0},
		{NewString("ab  "), T{Kind: Char, Length: 3}, "ab", 0},
		{NewInt(12345), T{Kind: Char, Length: 3}, "", 1406},
		{NewFloat(1.5), T{Kind: VarChar, Length: 10}, "1.5", 0},
		{NewBytes([]byte{0xff}), T{Kind: VarChar, Length: 10}, "", 1366},
		{NewString("ab"), T{Kind: Binary, Length: 4}, "ab\x00\x00", 0},
		{NewString("abcde"), T{Kind: VarBinary, Length: 4}, "", 1406},
		{NewString("ééé"), T{Kind: Text, Length: 5}, "", 1406},
		{NewString("2024-02-29"), NewT(Date), "2024-02-29", 0},
		{NewString("2023-02-29"), NewT(Date), "", 1292},
		{NewString("0000-00-00"), NewT(Date), "", 1292},
		{NewString("2024-01-02 10:11:12"), NewT(Date), "2024-01-02", 0},
		{NewString("20240102"), NewT(Date), "2024-01-02", 0},
		{NewInt(20240102), NewT(Date), "2024-01-02", 0},
		{NewInt(20240102030405), NewT(DateTime), "2024-01-02 03:04:05", 0},
		{NewString("24-1-2 3:4:5"), NewT(DateTime), "2024-01-02 03:04:05", 0},
		{NewString("2024-01-02T03:04:05.6"), NewT(DateTime), "2024-01-02 03:04:06", 0},
		{NewString("2024-01-02 03:04:05.123456"), T{Kind: DateTime, Scale: 3}, "2024-01-02 03:04:05.123", 0},
		{NewString("2024-01-02 03:04:05.1235"), T{Kind: DateTime, Scale: 3}, "2024-01-02 03:04:05.124", 0},
		{NewString("9999-12-31 23:59:59.9"), NewT(DateTime), "", 1292},
		{NewString("2024-01-02 24:00:00"), NewT(DateTime), "", 1292},
		{NewString("1969-12-31 23:59:59"), NewT(Timestamp), "", 1292},
		{NewString("2038-01-19 03:14:07"), NewT(Timestamp), "2038-01-19 03:14:07", 0},
		{NewString("2038-01-19 03:14:08"), NewT(Timestamp), "", 1292},
		{NewString("hello"), NewT(DateTime), "", 1292},
		{Null(), NewT(Int), "NULL", 0},
	} {
		got, err := ConvertColumn(tc.in, tc.t, "c", 1)
		if tc.code != 0 {
			if !sqlerr.Is(err, tc.code) {
				t.Errorf("Convert(%q, %v): got %v, %v; want error %d", tc.in, tc.t, got, err, tc.code)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("Convert(%q, %v) = %q, %v; want %q", tc.in, tc.t, got, err, tc.want)
		}
	}
	_, err := ConvertColumn(NewString("abc"), NewT(Int), "a", 3)
	if err.Error() != "Incorrect integer value: 'abc' for column 'a' at row 3" {
		t.Errorf("message: %v", err)
	}
}

func TestConvertKinds(t *testing.T) {
	// Invariant 2 of the package: one Kind per column type.
	for _, tc := range []struct {
		t    T
		in   Datum
		kind Kind
	}{
		{NewT(Int), NewString("1"), KindInt},
		{T{Kind: Int, Unsigned: true}, NewInt(1), KindUint},
		{NewT(Decimal), NewInt(1), KindDecimal},
		{NewT(Double), NewInt(1), KindFloat},
		{NewT(VarChar), NewInt(1), KindString},
		{NewT(VarBinary), NewInt(1), KindBytes},
		{NewT(Date), NewString("2024-01-01"), KindTime},
	} {
		got, err := Convert(tc.in, tc.t)
		if err != nil || got.Kind() != tc.kind {
			t.Errorf("%v: got %v %v", tc.t, got.Kind(), err)
		}
	}
	got, _ := Convert(NewFloat(0.1), NewT(Float))
	if !got.IsFloat32() {
		t.Error("FLOAT column values are single precision")
	}
}

func TestCasts(t *testing.T) {
	for _, tc := range []struct {
		in        Datum
		t         T
		want      string
		truncated bool
	}{
		{NewString("12abc"), T{Kind: BigInt}, "12", true},
		{NewString("1.5"), T{Kind: BigInt}, "1", true},
		{NewString("  -7"), T{Kind: BigInt}, "-7", false},
		{NewInt(-1), T{Kind: BigInt, Unsigned: true}, "18446744073709551615", false},
		{NewUint(math.MaxUint64), T{Kind: BigInt}, "-1", false},
		{mustDec(t, "2.5"), T{Kind: BigInt}, "3", false},
		{NewFloat(2.5), T{Kind: BigInt}, "2", false},
		{NewFloat(1e30), T{Kind: BigInt}, "9223372036854775807", true},
		{NewString("1.005"), T{Kind: Decimal, Precision: 5, Scale: 2}, "1.01", false},
		{NewInt(1000), T{Kind: Decimal, Precision: 3, Scale: 1}, "99.9", true},
		{NewInt(-1000), T{Kind: Decimal, Precision: 3, Scale: 1}, "-99.9", true},
		{NewString("abc"), NewT(Double), "0", true},
		{NewString("1.5e3x"), NewT(Double), "1500", true},
		{NewInt(123), T{Kind: VarChar, Length: -1}, "123", false},
		{NewString("héllo"), T{Kind: VarChar, Length: 2}, "hé", true},
		{NewString("ab"), T{Kind: Binary, Length: 3}, "ab\x00", false},
		{NewString("2024-01-02 10:00:00"), NewT(Date), "2024-01-02", false},
		{NewString("2024-01-02"), T{Kind: DateTime, Scale: 0}, "2024-01-02 00:00:00", false},
		{NewString("nope"), NewT(Date), "NULL", true},
		{Null(), NewT(Date), "NULL", false},
	} {
		got, tr := Cast(tc.in, tc.t)
		if got.String() != tc.want || tr != tc.truncated {
			t.Errorf("Cast(%q, %v) = %q, %v; want %q, %v", tc.in, tc.t, got, tr, tc.want, tc.truncated)
		}
	}
	for _, tc := range []struct {
		in   Datum
		want bool
	}{
		{NewInt(0), false}, {NewInt(-1), true}, {NewString("1abc"), true}, {NewString("abc"), false},
		{NewString("0.0"), false}, {mustDec(t, "0.00"), false}, {NewFloat(0.1), true},
	} {
		if ToBool(tc.in) != tc.want {
			t.Errorf("ToBool(%v) != %v", tc.in, tc.want)
		}
	}
	if f, tr := ToFloat64(NewDate(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), 0)); f != 20240102 || tr {
		t.Errorf("date as number: %v", f)
	}
}

func TestArithmetic(t *testing.T) {
	type fn func(a, b Datum) (Datum, error)
	for _, tc := range []struct {
		name string
		f    fn
		a, b Datum
		want string
		code uint16
	}{
		{"add", Add, NewInt(1), NewInt(2), "3", 0},
		{"add", Add, NewInt(math.MaxInt64), NewInt(1), "", 1690},
		{"add", Add, NewInt(math.MinInt64), NewInt(-1), "", 1690},
		{"add", Add, NewUint(math.MaxUint64), NewInt(-1), "18446744073709551614", 0},
		{"add", Add, NewUint(math.MaxUint64), NewInt(1), "", 1690},
		{"add", Add, NewInt(1), mustDec(t, "2.50"), "3.50", 0},
		{"add", Add, NewInt(1), NewFloat(0.5), "1.5", 0},
		{"add", Add, NewInt(1), NewString("2x"), "3", 0},
		{"add", Add, Null(), NewInt(1), "NULL", 0},
		{"sub", Sub, NewUint(1), NewInt(2), "", 1690},
		{"sub", Sub, NewInt(1), NewInt(2), "-1", 0},
		{"sub", Sub, NewInt(math.MinInt64), NewInt(1), "", 1690},
		{"sub", Sub, mustDec(t, "1.1"), mustDec(t, "0.10"), "1.00", 0},
		{"mul", Mul, NewInt(3), NewInt(-4), "-12", 0},
		{"mul", Mul, NewInt(math.MaxInt64), NewInt(2), "", 1690},
		{"mul", Mul, NewInt(math.MinInt64), NewInt(-1), "", 1690},
		{"mul", Mul, mustDec(t, "1.5"), mustDec(t, "1.25"), "1.875", 0},
		{"mul", Mul, NewUint(1 << 32), NewUint(1 << 32), "", 1690},
		{"div", Div, NewInt(1), NewInt(3), "0.3333", 0},
		{"div", Div, NewInt(2), NewInt(1), "2.0000", 0},
		{"div", Div, mustDec(t, "1.00"), NewInt(3), "0.333333", 0},
		{"div", Div, NewInt(1), NewInt(0), "NULL", 0},
		{"div", Div, NewFloat(1), NewFloat(4), "0.25", 0},
		{"div", Div, NewFloat(1), NewFloat(0), "NULL", 0},
		{"intdiv", IntDiv, NewInt(7), NewInt(2), "3", 0},
		{"intdiv", IntDiv, NewInt(-7), NewInt(2), "-3", 0},
		{"intdiv", IntDiv, mustDec(t, "7.5"), NewInt(2), "3", 0},
		{"intdiv", IntDiv, NewInt(math.MinInt64), NewInt(-1), "", 1690},
		{"intdiv", IntDiv, NewInt(1), NewInt(0), "NULL", 0},
		{"mod", Mod, NewInt(-7), NewInt(3), "-1", 0},
		{"mod", Mod, NewInt(7), NewInt(-3), "1", 0},
		{"mod", Mod, NewUint(7), NewInt(-3), "1", 0},
		{"mod", Mod, NewInt(-7), NewUint(3), "-1", 0},
		{"mod", Mod, mustDec(t, "7.5"), NewInt(2), "1.5", 0},
		{"mod", Mod, NewFloat(-7.5), NewInt(2), "-1.5", 0},
		{"mod", Mod, NewInt(5), NewInt(0), "NULL", 0},
	} {
		got, err := tc.f(tc.a, tc.b)
		if tc.code != 0 {
			if !sqlerr.Is(err, tc.code) {
				t.Errorf("%s(%v, %v): got %v, %v; want error %d", tc.name, tc.a, tc.b, got, err, tc.code)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%s(%v, %v) = %q, %v; want %q", tc.name, tc.a, tc.b, got, err, tc.want)
		}
	}
	_, err := Add(NewInt(math.MaxInt64), NewInt(1))
	if err.Error() != "BIGINT value is out of range in '(9223372036854775807 + 1)'" {
		t.Errorf("message: %v", err)
	}
	for _, tc := range []struct {
		in   Datum
		want string
		code uint16
	}{
		{NewInt(5), "-5", 0}, {NewInt(math.MinInt64), "", 1690}, {NewUint(1 << 63), "-9223372036854775808", 0},
		{mustDec(t, "1.50"), "-1.50", 0}, {NewFloat(2), "-2", 0}, {Null(), "NULL", 0},
	} {
		got, err := Neg(tc.in)
		if tc.code != 0 {
			if !sqlerr.Is(err, tc.code) {
				t.Errorf("Neg(%v): want error %d, got %v", tc.in, tc.code, err)
			}
		} else if err != nil || got.String() != tc.want {
			t.Errorf("Neg(%v) = %v, %v", tc.in, got, err)
		}
	}
}

func TestGoValues(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, tc := range []struct {
		in   any
		want string
		kind Kind
	}{
		{nil, "NULL", KindNull}, {true, "1", KindInt}, {int32(-3), "-3", KindInt}, {uint8(7), "7", KindUint},
		{float32(0.1), "0.1", KindFloat}, {2.5, "2.5", KindFloat}, {"s", "s", KindString}, {[]byte("b"), "b", KindBytes},
		{ts, "2024-01-02 03:04:05.000006", KindTime}, {mustDec(t, "1.20").Decimal(), "1.20", KindDecimal},
	} {
		d, err := FromGo(tc.in)
		if err != nil || d.String() != tc.want || d.Kind() != tc.kind {
			t.Errorf("FromGo(%#v) = %v (%v), %v", tc.in, d, d.Kind(), err)
			continue
		}
		back, err := FromGo(d.GoValue())
		if tc.in != nil && (err != nil || back.String() != d.String()) {
			t.Errorf("GoValue of %v round trip: %v %v", d, back, err)
		}
	}
	if _, err := FromGo(struct{}{}); err == nil {
		t.Error("unknown Go types are refused")
	}
}

func TestHugeDecimalsAreBounded(t *testing.T) {
	if _, err := ParseDecimal("1e99999"); err == nil {
		t.Error("a literal beyond every DECIMAL is refused")
	}
	if d, err := ParseDecimal("1e-99999"); err != nil || d.String() != "0" {
		t.Errorf("a literal below every scale is zero: %v %v", d, err)
	}
	if _, err := Convert(NewString("1e99999"), T{Kind: Decimal, Precision: 65, Scale: 0}); !sqlerr.Is(err, sqlerr.CodeWarnDataOutOfRange) {
		t.Errorf("assignment: %v", err)
	}
	x, tr := ToDecimal(NewString("-1e99999"))
	if !tr || x.Sign() >= 0 || x.Exponent != decimalAdjLimit {
		t.Errorf("implicit cast clamps: %v %v", x, tr)
	}
	// Exact arithmetic on the bounded values stays small.
	if _, err := Add(NewDecimal(x), mustDec(t, "0.000000001")); !sqlerr.Is(err, sqlerr.CodeDataOutOfRange) {
		t.Errorf("sum beyond DECIMAL: %v", err)
	}
}

// TestDetachCopies: a detached datum keeps its value when the bytes it was
// decoded from change.
func TestDetachCopies(t *testing.T) {
	buf := []byte("abc")
	shared := NewString(unsafe.String(&buf[0], len(buf)))
	detached := shared.Detach()
	buf[0] = 'X'
	if shared.Str() != "Xbc" {
		t.Fatalf("the shared datum reads %q: the test no longer shares bytes", shared.Str())
	}
	if detached.Str() != "abc" {
		t.Fatalf("detached datum changed with the bytes it came from: %q", detached.Str())
	}
}
