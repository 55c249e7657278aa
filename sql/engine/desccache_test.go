package engine

import (
	"encoding/json"
	"testing"

	"github.com/meridiandb/meridian/sql/types"
)

// TestDecodeTableCacheCopies: a cached descriptor is handed out as a copy,
// so DDL editing the one it got changes neither the cache nor other
// statements' descriptors, and changed bytes are decoded afresh.
func TestDecodeTableCacheCopies(t *testing.T) {
	orig := &TableDesc{ID: 7, Name: "t", PK: []uint32{1},
		Columns: []*ColumnDesc{{ID: 1, Name: "a", Type: types.NewT(types.BigInt)}},
		Indexes: []*IndexDesc{{ID: 2, Name: "i", Columns: []uint32{1}, Desc: []bool{false}}}}
	raw, err := json.Marshal(orig)
	if err != nil {
		t.Fatal(err)
	}
	key := tableKey(1, "desccache")
	first, err := decodeTable(key, raw)
	if err != nil {
		t.Fatal(err)
	}
	first.Columns[0].Name = "edited"
	first.Columns = append(first.Columns, &ColumnDesc{ID: 2, Name: "b"})
	first.Indexes[0].Columns[0] = 9
	first.PK[0] = 9
	second, err := decodeTable(key, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Columns) != 1 || second.Columns[0].Name != "a" || second.Indexes[0].Columns[0] != 1 || second.PK[0] != 1 {
		t.Fatalf("cached descriptor changed by an edit of a copy: %+v", second)
	}
	orig.Name = "renamed"
	raw2, _ := json.Marshal(orig)
	third, err := decodeTable(key, raw2)
	if err != nil || third.Name != "renamed" {
		t.Fatalf("changed bytes decoded as %+v, %v", third, err)
	}
}
