package driver

import (
	"math"
	"testing"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

func TestFloatText(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		bits int
		want string
	}{
		{0, 64, "0"}, {math.Copysign(0, -1), 64, "-0"}, {0.1, 64, "0.1"}, {-2.5, 64, "-2.5"},
		{0.00001, 64, "0.00001"}, {1e-15, 64, "0.000000000000001"}, {1.5e-20, 64, "1.5e-20"},
		{999999999999999, 64, "999999999999999"}, {1e15, 64, "1e15"}, {1e100, 64, "1e100"},
		{-1.2345678901234567e200, 64, "-1.2345678901234567e200"}, {math.Inf(1), 64, "0"},
		{float64(float32(3.14)), 32, "3.14"}, {float64(float32(1e20)), 32, "1e20"},
	} {
		if got := floatText(tc.f, tc.bits); got != tc.want {
			t.Errorf("floatText(%v, %d) = %q, want %q", tc.f, tc.bits, got, tc.want)
		}
	}
}

func TestTimeText(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 120_000_000, time.UTC).UnixMicro()
	for _, tc := range []struct {
		t    *pb.SQLTime
		want string
	}{
		{&pb.SQLTime{UnixMicros: at, Fsp: 0}, "2024-01-02 03:04:05"},
		{&pb.SQLTime{UnixMicros: at, Fsp: 3}, "2024-01-02 03:04:05.120"},
		{&pb.SQLTime{UnixMicros: at, Fsp: 6, Kind: pb.SQLTime_TIMESTAMP}, "2024-01-02 03:04:05.120000"},
		{&pb.SQLTime{UnixMicros: at, Kind: pb.SQLTime_DATE}, "2024-01-02"},
		{&pb.SQLTime{UnixMicros: time.Date(1000, 1, 1, 0, 0, 0, 1000, time.UTC).UnixMicro(), Fsp: 6}, "1000-01-01 00:00:00.000001"},
	} {
		if got := timeText(tc.t); got != tc.want {
			t.Errorf("timeText(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}
