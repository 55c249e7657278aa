package storage

import "github.com/cockroachdb/pebble/v2"

// comparer is the store's Pebble Comparer: bytewise order, exactly as
// Pebble's default, plus a Split that tells Pebble where the MVCC version
// suffix starts. With it, point reads use SeekPrefixGE and sstable bloom
// filters (built over prefixes) let a read skip every sstable that holds no
// version of its key, instead of seeking in each level.
//
// The prefix of a well-formed MVCC key is its escaped user key with the
// terminator (mvccKeyPrefix), the suffix its 8-byte inverted timestamp.
// Every other key (Raft, local, record keys, the bare MVCC prefixes used as
// span bounds) is all prefix. Split's contract (pebble's base.Split) holds
// because the order is bytewise and no encoded user key is a prefix of
// another's (doc.go, invariant 1): keys compare by prefix first, then by
// suffix bytes, and a bare prefix sorts before its versions.
//
// The name is stored in the store's MANIFEST: a store created with another
// comparer (Pebble's default, before this one existed) does not open.
var comparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Split = splitMVCC
	c.ImmediateSuccessor = immediateSuccessor
	c.Name = "meridian.MVCCBytewiseComparator.v1"
	return &c
}()

// splitMVCC returns the length of key's prefix: len(key) - 8 for a key of
// the MVCC keyspace ending in terminator + timestamp, else len(key).
// Escaping guarantees that 0x00 0x01 occurs in an encoded user key only as
// its terminator, so a key ends in terminator + 8 bytes exactly when it
// carries a timestamp.
func splitMVCC(key []byte) int {
	n := len(key)
	if n < 1+2+tsLen || key[0] != prefixMVCC {
		return n
	}
	if key[n-tsLen-2] != escByte || key[n-tsLen-1] != escTerm {
		return n
	}
	return n - tsLen
}

// immediateSuccessor is the smallest key that sorts after every key with
// prefix a, for Iterator.NextPrefix. For an MVCC prefix (escaped user key
// + terminator) that is the prefix with the terminator's last byte raised
// to escPastTerm: its versions (a + timestamp) sort below it, and every
// longer user key escapes to bytes at or above it. Pebble's default (a +
// 0x00) would sort below the versions, which all start with a byte of
// at least 0x80 (inverted timestamps). Other keys are all prefix; for them
// the default is right.
func immediateSuccessor(dst, a []byte) []byte {
	n := len(a)
	dst = append(dst, a...)
	if n >= 3 && a[0] == prefixMVCC && a[n-2] == escByte && a[n-1] == escTerm {
		dst[len(dst)-1] = escPastTerm
		return dst
	}
	return append(dst, 0x00)
}
