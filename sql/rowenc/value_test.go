package rowenc

import (
	"testing"
	"time"

	"github.com/meridiandb/meridian/sql/types"
)

func TestValueRoundTrip(t *testing.T) {
	dec, _ := types.ParseDecimal("-123.4500")
	vals := []types.Datum{
		types.Null(), types.NewInt(-1 << 63), types.NewUint(1<<64 - 1), types.NewFloat(-2.5e300),
		types.NewFloat32(3.14), dec, types.NewString("héllo\x00"), types.NewBytes([]byte{0, 255}),
		types.NewDateTime(time.Date(2024, 2, 29, 1, 2, 3, 456000, time.UTC), 6), types.NewDate(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), 0),
	}
	var b []byte
	for _, v := range vals {
		b = EncodeValue(b, v)
	}
	for i, want := range vals {
		got, rest, err := DecodeValue(b)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if got.Kind() != want.Kind() || got.String() != want.String() || got.IsFloat32() != want.IsFloat32() {
			t.Fatalf("value %d: got %v (%v), want %v (%v)", i, got, got.Kind(), want, want.Kind())
		}
		b = rest
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes left", len(b))
	}
}

func FuzzDecodeValue(f *testing.F) {
	f.Add(EncodeValue(nil, types.NewString("x")))
	f.Add([]byte{byte(types.KindTime), 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			_, rest, err := DecodeValue(b)
			if err != nil {
				return
			}
			b = rest
		}
	})
}
