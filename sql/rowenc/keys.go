package rowenc

import (
	"math"

	"github.com/meridiandb/meridian/sql/types"
)

// SQLPrefix is the first byte of every SQL key (see the package comment
// for why 0xF5).
const SQLPrefix byte = 0xF5

// tableSpace follows SQLPrefix in table data keys, leaving other letters
// for SQL data that is not a table's.
const tableSpace byte = 't'

// PrimaryIndexID is the index id of every table's primary index.
const PrimaryIndexID uint32 = 1

// TablePrefix returns the prefix of all keys of table tableID, all its
// indexes included.
func TablePrefix(tableID uint32) []byte {
	return appendUvarintKey([]byte{SQLPrefix, tableSpace}, uint64(tableID))
}

// IndexPrefix returns the prefix of all keys of one index of a table.
func IndexPrefix(tableID, indexID uint32) []byte {
	return appendUvarintKey(TablePrefix(tableID), uint64(indexID))
}

// EncodeIndexKey returns the key of an index entry: the index prefix and
// vals encoded in order, vals[i] descending when desc[i] (desc may be nil:
// all ascending).
func EncodeIndexKey(tableID, indexID uint32, vals []types.Datum, desc []bool) []byte {
	key := IndexPrefix(tableID, indexID)
	for i, v := range vals {
		key = EncodeKey(key, v, i < len(desc) && desc[i])
	}
	return key
}

// DecodeIndexKey splits key into its table id, index id and the rest (the
// encoded key columns).
func DecodeIndexKey(key []byte) (tableID, indexID uint32, rest []byte, err error) {
	if len(key) < 2 || key[0] != SQLPrefix || key[1] != tableSpace {
		return 0, 0, nil, corruptf("key %x is not a table key", key)
	}
	r := reader{buf: key[2:]}
	ids := [2]uint32{}
	for i := range ids {
		u, neg, err := r.varint()
		if err != nil {
			return 0, 0, nil, err
		}
		if neg || u > math.MaxUint32 {
			return 0, 0, nil, corruptf("key %x: bad table or index id", key)
		}
		ids[i] = uint32(u)
	}
	return ids[0], ids[1], r.buf, nil
}

// DecodeKeyColumns decodes the key columns that follow an index prefix,
// one per entry of cols (descending where desc[i]), and returns what
// follows them.
func DecodeKeyColumns(buf []byte, cols []types.T, desc []bool) ([]types.Datum, []byte, error) {
	out := make([]types.Datum, len(cols))
	for i, t := range cols {
		var err error
		out[i], buf, err = DecodeKey(buf, t, i < len(desc) && desc[i])
		if err != nil {
			return nil, nil, err
		}
	}
	return out, buf, nil
}

// PrefixEnd returns the smallest key greater than every key that starts
// with prefix: the end of a scan over the prefix. It returns nil (no upper
// bound) when prefix is empty or all 0xFF.
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			end := append([]byte(nil), prefix[:i+1]...)
			end[i]++
			return end
		}
	}
	return nil
}
