package rowenc

import (
	"flag"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/sql/types"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the randomised tests (0: time-based)")

// newRand returns the seeded source of a randomised test and logs the seed,
// so that a failure can be replayed with -seed.
func newRand(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// testTypes are the column types the property tests cover: every kind,
// with parameters at the edges.
var testTypes = []types.T{
	types.NewT(types.TinyInt), {Kind: types.TinyInt, Unsigned: true},
	types.NewT(types.SmallInt), {Kind: types.SmallInt, Unsigned: true},
	types.NewT(types.MediumInt), {Kind: types.MediumInt, Unsigned: true},
	types.NewT(types.Int), {Kind: types.Int, Unsigned: true},
	types.NewT(types.BigInt), {Kind: types.BigInt, Unsigned: true},
	types.NewT(types.Bool),
	{Kind: types.Decimal, Precision: 10, Scale: 2}, {Kind: types.Decimal, Precision: 65, Scale: 30},
	{Kind: types.Decimal, Precision: 5, Scale: 0}, {Kind: types.Decimal, Precision: 20, Scale: 4, Unsigned: true},
	types.NewT(types.Float), types.NewT(types.Double),
	{Kind: types.Char, Length: 5}, {Kind: types.VarChar, Length: 20}, types.NewT(types.Text),
	{Kind: types.Binary, Length: 4}, {Kind: types.VarBinary, Length: 10}, types.NewT(types.Blob),
	types.NewT(types.Date), types.NewT(types.DateTime), {Kind: types.DateTime, Scale: 6},
	{Kind: types.Timestamp, Scale: 3},
}

var textAlphabet = []string{"a", "b", "z", " ", "\x00", "\x01", "é", "😀", "A"}
var byteAlphabet = []byte{0x00, 0x01, 0xfe, 0xff, 'a', ' '}

// randomValue returns a random value of column type t, converted to it as
// an INSERT would, or NULL now and then.
func randomValue(r *rand.Rand, t types.T) types.Datum {
	if r.IntN(12) == 0 {
		return types.Null()
	}
	for {
		d, err := types.Convert(rawValue(r, t), t)
		if err == nil {
			return d
		}
	}
}

func rawValue(r *rand.Rand, t types.T) types.Datum {
	switch {
	case t.IsInteger():
		if t.Unsigned {
			return types.NewUint(randomBits(r))
		}
		return types.NewInt(int64(randomBits(r)))
	case t.Kind == types.Decimal:
		n := 1 + r.IntN(t.Precision)
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteByte('-')
		}
		for i := 0; i < n; i++ {
			if i == n-t.Scale && i > 0 {
				b.WriteByte('.')
			}
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		return types.NewString(b.String())
	case t.Kind == types.Float || t.Kind == types.Double:
		switch r.IntN(4) {
		case 0:
			return types.NewFloat([]float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1e-300, -1e300, math.MaxFloat32, math.SmallestNonzeroFloat64}[r.IntN(9)])
		case 1:
			return types.NewFloat(float64(r.IntN(2000) - 1000))
		}
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = r.NormFloat64()
		}
		if t.Kind == types.Float {
			f = float64(float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))))
		}
		return types.NewFloat(f)
	case t.IsString():
		var b strings.Builder
		for n := r.IntN(7); n > 0; n-- {
			b.WriteString(textAlphabet[r.IntN(len(textAlphabet))])
		}
		return types.NewString(b.String())
	case t.IsBinary():
		b := make([]byte, r.IntN(7))
		for i := range b {
			b[i] = byteAlphabet[r.IntN(len(byteAlphabet))]
		}
		return types.NewBytes(b)
	default: // times
		lo, hi := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMicro()
		if t.Kind == types.Timestamp {
			lo, hi = 1e6, (1<<31-1)*1e6
		}
		us := lo + r.Int64N(hi-lo)
		if r.IntN(3) == 0 {
			us -= us % 1e6 // whole seconds are common
		}
		return types.NewDateTime(time.UnixMicro(us), 6)
	}
}

// randomBits returns integers of every magnitude, and the edges.
func randomBits(r *rand.Rand) uint64 {
	switch r.IntN(5) {
	case 0:
		return []uint64{0, 1, math.MaxUint64, 1 << 63, 1<<63 - 1, 255, 256, 127, 128}[r.IntN(9)]
	case 1:
		return uint64(r.IntN(512)) - 256
	}
	return r.Uint64() >> r.IntN(64)
}
