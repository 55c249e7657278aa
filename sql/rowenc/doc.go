// Package rowenc stores SQL rows in the key-value space (DESIGN §3): the
// order-preserving key encoding of column values, the layout of table and
// index keys, and the column-id-tagged encoding of row values.
//
// Keys. Every SQL key starts with SQLPrefix (0xF5) and 't':
//
//	0xF5 't' <table id> <index id> <key column>... [<primary key columns>]
//
// Index 1 is the primary index: its keys are the primary key columns and
// its value is the row. A secondary index entry's key is the index columns
// followed by the primary key columns that the index does not already
// hold, so that every entry is unique and points at its row. The table and
// index ids are order-preserving varints, so one table's data (all its
// indexes) is one contiguous span, and so is each index.
//
// Why 0xF5: keys that start with 0x00 are the meta group's (range
// directory, node and id counters; see paxosgroup/keys.go), and user keys
// start at 0x01; the `meridian kv` commands write keys of the user's
// choosing, usually text. 0xF5 is the first byte value that never occurs
// in UTF-8, so no textual key a user writes can collide with or sort among
// SQL data, and 0xF6..0xFF stay free for future system keyspaces.
//
// Key values (EncodeKey). Each value starts with a marker byte: 0x00 for
// NULL, so NULL sorts first; integers and times use a varint whose marker
// encodes sign and length; doubles are 8 bytes with the sign bit flipped
// (all bits for negatives); decimals a sign marker, the decimal exponent
// and BCD digits without trailing zeros, so 1.5 and 1.50 encode alike;
// strings are escaped (0x00 -> 0x00 0xFF) and terminated (0x00 0x01), so a
// string sorts before every string it is a prefix of. Every value encoding
// is prefix-free, so a descending column is the bytewise complement of the
// ascending encoding, NULL last.
//
// Row values (EncodeRow). A format byte, the largest column id the writer
// knew, then for every non-NULL value in column-id order: a varint of the
// id delta and a 3-bit value tag, and the value. NULLs take no space. A
// column added later has an id above the row's largest id, so a reader can
// tell "absent, use the column default" from "NULL": ADD COLUMN rewrites
// nothing, DROP COLUMN leaves bytes that readers skip.
//
// Invariants:
//  1. For values of one column type (as types.ConvertColumn produces them),
//     bytes.Compare of EncodeKey results equals types.Compare, ascending,
//     and its negation descending.
//  2. Decoding never panics, whatever the bytes; it returns an error
//     marked ErrCorrupt.
//  3. Column ids are never reused and grow: a column's id is above every
//     id that existed when it was added.
//
// This package does no I/O; it knows nothing of transactions or of the
// catalog beyond table, index and column ids.
package rowenc
