package rowenc

import (
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/sql/types"
)

func randomColumns(r *rand.Rand) []ColumnDesc {
	var cols []ColumnDesc
	id := uint32(0)
	for n := 1 + r.IntN(8); n > 0; n-- {
		id += 1 + uint32(r.IntN(3))
		if r.IntN(10) == 0 {
			id += 1 << 20
		}
		cols = append(cols, ColumnDesc{ID: id, T: testTypes[r.IntN(len(testTypes))]})
	}
	return cols
}

func sameDatum(a, b types.Datum) bool {
	return a.Kind() == b.Kind() && a.String() == b.String() && a.IsFloat32() == b.IsFloat32()
}

func TestRowRoundTrip(t *testing.T) {
	r := newRand(t)
	for iter := 0; iter < 2000; iter++ {
		cols := randomColumns(r)
		ids := make([]uint32, len(cols))
		vals := make([]types.Datum, len(cols))
		for i, c := range cols {
			ids[i], vals[i] = c.ID, randomValue(r, c.T)
		}
		// The writer may list columns in any order.
		perm := r.Perm(len(cols))
		pids, pvals := make([]uint32, len(cols)), make([]types.Datum, len(cols))
		for i, p := range perm {
			pids[i], pvals[i] = ids[p], vals[p]
		}
		enc := EncodeRow([]byte("pre"), pids, pvals)[3:]
		got, err := DecodeRow(enc, cols)
		if err != nil {
			t.Fatalf("cols %v vals %v: %v", cols, vals, err)
		}
		for i := range cols {
			if !sameDatum(got[i], vals[i]) {
				t.Fatalf("column %d (%v): wrote %q, read %q", cols[i].ID, cols[i].T, vals[i], got[i])
			}
		}
		// Decoding without copying strings reads the same values.
		shared := make([]types.Datum, len(cols))
		if err := DecodeRowSharing(enc, cols, shared, nil); err != nil {
			t.Fatal(err)
		}
		for i := range cols {
			if !sameDatum(shared[i], vals[i]) {
				t.Fatalf("column %d (%v) decoded sharing: wrote %q, read %q", cols[i].ID, cols[i].T, vals[i], shared[i])
			}
		}
		// A subset of the columns decodes on its own: the rest is skipped.
		var sub []ColumnDesc
		var want []types.Datum
		for i, c := range cols {
			if r.IntN(2) == 0 {
				sub, want = append(sub, c), append(want, vals[i])
			}
		}
		got, err = DecodeRow(enc, sub)
		if err != nil {
			t.Fatal(err)
		}
		for i := range sub {
			if !sameDatum(got[i], want[i]) {
				t.Fatalf("subset column %d: wrote %q, read %q", sub[i].ID, want[i], got[i])
			}
		}
	}
}

func TestRowAbsentColumns(t *testing.T) {
	intT := types.NewT(types.BigInt)
	// Written when the table had columns 1..3, column 2 NULL.
	enc := EncodeRow(nil, []uint32{1, 2, 3}, []types.Datum{types.NewInt(10), types.Null(), types.NewString("x")})
	cols := []ColumnDesc{
		{ID: 1, T: intT},
		{ID: 2, T: intT, Default: types.NewInt(-1)},
		{ID: 3, T: types.NewT(types.Text)},
		{ID: 4, T: intT, Default: types.NewInt(42)}, // added later with DEFAULT 42
		{ID: 5, T: intT},                            // added later without default
	}
	vals := make([]types.Datum, len(cols))
	absent := make([]bool, len(cols))
	if err := DecodeRowInto(enc, cols, vals, absent); err != nil {
		t.Fatal(err)
	}
	wantAbsent := []bool{false, false, false, true, true}
	for i := range cols {
		if absent[i] != wantAbsent[i] {
			t.Errorf("column %d: absent=%v", cols[i].ID, absent[i])
		}
	}
	got, err := DecodeRow(enc, cols)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10", "NULL", "x", "42", "NULL"}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("column %d: got %v, want %s (a NULL written stays NULL; an absent column takes its default)", cols[i].ID, got[i], want[i])
		}
	}
	// A dropped column's bytes are skipped.
	got, err = DecodeRow(enc, []ColumnDesc{cols[2]})
	if err != nil || got[0].Str() != "x" {
		t.Fatalf("%v %v", got, err)
	}
	// An all-NULL row is the header alone.
	if enc := EncodeRow(nil, []uint32{1, 2}, []types.Datum{types.Null(), types.Null()}); len(enc) != 2 {
		t.Fatalf("all-NULL row is %d bytes", len(enc))
	}
}

func TestDecodeRowRejects(t *testing.T) {
	cols := []ColumnDesc{{ID: 1, T: types.NewT(types.BigInt)}, {ID: 2, T: types.NewT(types.Text)}}
	good := EncodeRow(nil, []uint32{1, 2}, []types.Datum{types.NewInt(300), types.NewString("hello")})
	for _, tc := range []struct {
		name string
		buf  []byte
		cols []ColumnDesc
	}{
		{"empty", nil, cols},
		{"unknown format", append([]byte{9}, good[1:]...), cols},
		{"truncated", good[:len(good)-1], cols},
		{"wrong type", good, []ColumnDesc{{ID: 1, T: types.NewT(types.Text)}}},
		{"id beyond header", []byte{rowFormat, 1, 2<<tagBits | tagInt, 2}, cols},
		{"repeated id", []byte{rowFormat, 2, 1<<tagBits | tagInt, 2, 0<<tagBits | tagInt, 2}, cols},
		{"bad tag", []byte{rowFormat, 2, 1<<tagBits | 7, 2}, cols[1:]},
	} {
		if _, err := DecodeRow(tc.buf, tc.cols); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", tc.name, err)
		}
	}
	if _, err := DecodeRow(good, []ColumnDesc{cols[1], cols[0]}); err == nil {
		t.Error("unsorted columns must be refused")
	}
}

// TestDecodeRowSharingShares shows what DecodeRowSharing's callers must
// keep: its strings are the buffer's bytes, DecodeRowInto's are copies.
func TestDecodeRowSharingShares(t *testing.T) {
	cols := []ColumnDesc{{ID: 1, T: types.T{Kind: types.VarChar, Length: 10}}, {ID: 2, T: types.T{Kind: types.VarBinary, Length: 10}}}
	enc := EncodeRow(nil, []uint32{1, 2}, []types.Datum{types.NewString("abc"), types.NewBytes([]byte("xyz"))})
	copied, shared := make([]types.Datum, 2), make([]types.Datum, 2)
	if err := DecodeRowInto(enc, cols, copied, nil); err != nil {
		t.Fatal(err)
	}
	if err := DecodeRowSharing(enc, cols, shared, nil); err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		enc[i] = 'Z'
	}
	if copied[0].String() != "abc" || copied[1].String() != "xyz" {
		t.Errorf("DecodeRowInto's values changed with the buffer: %v %v", copied[0], copied[1])
	}
	if shared[0].String() != "ZZZ" || shared[1].String() != "ZZZ" {
		t.Errorf("DecodeRowSharing copied: %v %v, want the buffer's bytes", shared[0], shared[1])
	}
}
