package server

import (
	"math"
	"strings"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/sql/types"
)

// Every Datum kind crosses the SQL API unchanged: kind, rendering, FLOAT's
// single precision, the kind and fsp of times, a decimal's scale.
func TestSQLValueRoundTrip(t *testing.T) {
	dec, err := types.ParseDecimal("-12.340")
	if err != nil {
		t.Fatal(err)
	}
	bigDec, err := types.ParseDecimal("123456789012345678901234567890.123456789")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	for _, d := range []types.Datum{
		types.Null(),
		types.NewInt(-5), types.NewInt(math.MinInt64), types.NewInt(math.MaxInt64),
		types.NewUint(math.MaxUint64), types.NewUint(0),
		types.NewFloat(2.5), types.NewFloat(math.Inf(1)), types.NewFloat(-1e-300),
		types.NewFloat32(3.14),
		dec, bigDec,
		types.NewString(""), types.NewString("héllo\x00"),
		types.NewBytes(nil), types.NewBytes([]byte{0, 0xff}),
		types.NewDate(ts, 0),
		types.NewDateTime(ts, 0), types.NewDateTime(ts, 3), types.NewDateTime(ts, 6),
		types.NewTimestamp(ts, 2),
		types.NewDateTime(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), 0),
	} {
		v, size := toPBValue(d)
		if size <= 0 {
			t.Errorf("%s: size %d", d, size)
		}
		got, err := fromPBValue(v)
		if err != nil {
			t.Errorf("%s (%s): %v", d, d.Kind(), err)
			continue
		}
		if got.Kind() != d.Kind() || got.String() != d.String() {
			t.Errorf("%s (%s) came back as %s (%s)", d, d.Kind(), got, got.Kind())
		}
		switch d.Kind() {
		case types.KindFloat:
			if got.IsFloat32() != d.IsFloat32() {
				t.Errorf("%s: float32 %v came back %v", d, d.IsFloat32(), got.IsFloat32())
			}
		case types.KindTime:
			if got.TimeKind() != d.TimeKind() || got.Fsp() != d.Fsp() || got.UnixMicros() != d.UnixMicros() {
				t.Errorf("%s: %s fsp %d came back %s fsp %d", d, d.TimeKind(), d.Fsp(), got.TimeKind(), got.Fsp())
			}
		}
	}
}

func TestSQLValueBadArguments(t *testing.T) {
	for _, v := range []*pb.SQLValue{
		{V: &pb.SQLValue_Decimal{Decimal: "1e5x"}},
		{V: &pb.SQLValue_Time{Time: &pb.SQLTime{Fsp: 7}}},
		{V: &pb.SQLValue_Time{Time: &pb.SQLTime{UnixMicros: math.MaxInt64}}},
	} {
		if d, err := fromPBValue(v); err == nil {
			t.Errorf("%v decoded as %s", v, d)
		}
	}
}

func TestSQLTypeKinds(t *testing.T) {
	for k := types.TinyInt; k <= types.Timestamp; k++ {
		got := toPBType(types.NewT(k)).Kind
		if got == pb.SQLType_NULL || got.String() != strings.ToUpper(k.String()) {
			t.Errorf("type kind %s maps to %s", k, got)
		}
	}
	if got := toPBType(types.T{}).Kind; got != pb.SQLType_NULL {
		t.Errorf("the zero type maps to %s", got)
	}
	dt := toPBType(types.T{Kind: types.DateTime, Scale: 3})
	if dt.Scale != 3 {
		t.Errorf("DATETIME(3) scale %d", dt.Scale)
	}
}
