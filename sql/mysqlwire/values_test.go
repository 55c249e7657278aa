package mysqlwire

import (
	"bytes"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestLenEncRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.OneOf(rapid.Uint64Range(0, 300), rapid.Uint64Range(0, 1<<25), rapid.Uint64()).Draw(t, "n")
		s := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "s")
		b := appendLenEncBytes(appendLenEncInt(nil, n), s)
		d := decoder{b: b}
		got, null := d.lenEncInt()
		back := d.lenEncBytes()
		if d.err != nil || null || got != n || !bytes.Equal(back, s) || len(d.b) != 0 {
			t.Fatalf("round trip of %d, %q: %d %v %q %v", n, s, got, null, back, d.err)
		}
	})
}

// TestValueConversions: what a column accepts, in both encodings (they
// share the conversion, so they must agree on errors).
func TestValueConversions(t *testing.T) {
	col := func(typ byte, flags uint16, decimals byte) *Column {
		return &Column{Name: "c", Type: typ, Flags: flags, Decimals: decimals}
	}
	for _, tc := range []struct {
		col  *Column
		v    any
		text string // "" = error expected
	}{
		{col(TypeLongLong, 0, 0), int8(-5), "-5"},
		{col(TypeLongLong, 0, 0), int16(-5), "-5"},
		{col(TypeLongLong, 0, 0), int32(-5), "-5"},
		{col(TypeLongLong, 0, 0), int(-5), "-5"},
		{col(TypeLongLong, 0, 0), uint8(5), "5"},
		{col(TypeLongLong, 0, 0), uint16(5), "5"},
		{col(TypeLongLong, 0, 0), uint32(5), "5"},
		{col(TypeLongLong, 0, 0), uint(5), "5"},
		{col(TypeTiny, 0, 0), true, "1"},
		{col(TypeTiny, 0, 0), false, "0"},
		{col(TypeTiny, 0, 0), int64(128), ""},
		{col(TypeTiny, FlagUnsigned, 0), int64(-1), ""},
		{col(TypeShort, FlagUnsigned, 0), uint64(65536), ""},
		{col(TypeInt24, 0, 0), int64(1 << 23), ""},
		{col(TypeLongLong, 0, 0), uint64(math.MaxUint64), ""},
		{col(TypeLongLong, 0, 0), "12", ""},
		{col(TypeDouble, 0, 31), int64(3), "3"},
		{col(TypeDouble, 0, 31), uint64(3), "3"},
		{col(TypeDouble, 0, 31), 1e21, "1e21"},
		{col(TypeDouble, 0, 31), -1.5e-7, "-1.5e-7"},
		{col(TypeDouble, 0, 31), 123456789.0, "123456789"},
		{col(TypeDouble, 0, 31), "1", ""},
		{col(TypeNewDecimal, 0, 2), 1.005, "1.00"},
		{col(TypeNewDecimal, 0, 2), float32(2.5), "2.50"},
		{col(TypeNewDecimal, 0, 0), int64(-7), "-7"},
		{col(TypeNewDecimal, 0, 0), uint64(7), "7"},
		{col(TypeNewDecimal, 0, 0), []byte("1.25"), "1.25"},
		{col(TypeNewDecimal, 0, 0), time.Second, ""},
		{col(TypeVarString, 0, 0), int64(-3), "-3"},
		{col(TypeVarString, 0, 0), uint64(3), "3"},
		{col(TypeVarString, 0, 0), 0.25, "0.25"},
		{col(TypeVarString, 0, 0), float32(0.1), "0.1"},
		{col(TypeVarString, 0, 0), time.Now(), ""},
		{col(TypeDate, 0, 0), "2024-01-01", ""},
		{col(TypeDatetime, 0, 0), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{col(TypeDatetime, 0, 2), time.Date(2024, 1, 2, 3, 4, 5, 678900000, time.UTC), "2024-01-02 03:04:05.67"},
		{col(TypeTimestamp, 0, 0), time.Time{}, "0000-00-00 00:00:00"},
		{col(TypeTime, 0, 0), 839 * time.Hour, ""},
		{col(TypeTime, 0, 0), "10:00:00", ""},
		{col(TypeTime, 0, 6), 100*time.Hour + time.Microsecond, "100:00:00.000001"},
		{col(TypeNull, 0, 0), int64(1), ""},
	} {
		text, terr := appendTextValue(nil, tc.col, tc.v)
		_, berr := appendBinaryValue(nil, tc.col, tc.v)
		if tc.text == "" {
			if terr == nil || berr == nil {
				t.Errorf("type 0x%02x <- %T(%v): no error (text %v, binary %v)", tc.col.Type, tc.v, tc.v, terr, berr)
			}
			continue
		}
		if terr != nil || berr != nil {
			t.Errorf("type 0x%02x <- %T(%v): %v / %v", tc.col.Type, tc.v, tc.v, terr, berr)
			continue
		}
		d := decoder{b: text}
		if got := string(d.lenEncBytes()); got != tc.text {
			t.Errorf("type 0x%02x <- %T(%v): text %q, want %q", tc.col.Type, tc.v, tc.v, got, tc.text)
		}
	}
}

// TestBinaryTemporalLengths: binary dates and times use the shortest of
// their lengths, fractional seconds cut to the column's digits.
func TestBinaryTemporalLengths(t *testing.T) {
	for _, tc := range []struct {
		col  Column
		v    any
		want int // length byte
	}{
		{Column{Type: TypeDate}, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), 4},
		{Column{Type: TypeDatetime}, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), 4},
		{Column{Type: TypeDatetime}, time.Date(2024, 1, 2, 0, 0, 1, 0, time.UTC), 7},
		{Column{Type: TypeDatetime}, time.Date(2024, 1, 2, 0, 0, 1, 5000, time.UTC), 7}, // 0 digits
		{Column{Type: TypeDatetime, Decimals: 6}, time.Date(2024, 1, 2, 0, 0, 1, 5000, time.UTC), 11},
		{Column{Type: TypeDatetime}, time.Time{}, 0},
		{Column{Type: TypeTime}, time.Duration(0), 0},
		{Column{Type: TypeTime}, -time.Second, 8},
		{Column{Type: TypeTime, Decimals: 3}, time.Millisecond, 12},
	} {
		b, err := appendBinaryValue(nil, &tc.col, tc.v)
		if err != nil || int(b[0]) != tc.want || len(b) != tc.want+1 {
			t.Errorf("%v in type 0x%02x: %x, %v; want length %d", tc.v, tc.col.Type, b, err, tc.want)
		}
	}
}

func TestErrorFields(t *testing.T) {
	code, state, msg := errorFields(NewError(1062, "23000", "Duplicate entry '%d'", 1))
	if code != 1062 || state != "23000" || msg != "Duplicate entry '1'" {
		t.Fatal(code, state, msg)
	}
	if _, state, _ := errorFields(&Error{Code: 1, State: "bad"}); state != "HY000" {
		t.Fatalf("invalid state passed through: %q", state)
	}
	if e := NewError(1, "HY000", "x"); !strings.Contains(e.Error(), "ERROR 1 (HY000): x") {
		t.Fatal(e.Error())
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := Config{}
	if cfg.Validate() == nil {
		t.Fatal("nil Handler accepted")
	}
	cfg = Config{Handler: newTestEngine(), AuthPlugin: "sha256_password"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := NewServer(cfg).Serve(l); err == nil {
		t.Fatal("unsupported plugin accepted")
	}
}
