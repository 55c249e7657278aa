package txn

import (
	"hash/maphash"
)

// tombFilter is a Bloom filter over transaction IDs: the IDs of every
// tombstone in a participant's store, and of some since evicted or
// forgotten (a Bloom filter cannot drop an entry). A lookup it rules out
// needs no storage read; that is the common case, since a one-phase commit
// looks up its own, new, transaction ID.
type tombFilter struct {
	seed  maphash.Seed
	bits  []uint64
	added int
	// capacity is the number of adds the filter was sized for; past it
	// the false-positive rate climbs and the filter is rebuilt.
	capacity int
}

// filterBitsPerID and filterProbes give about 1% false positives at
// capacity.
const (
	filterBitsPerID = 10
	filterProbes    = 7
)

func newTombFilter(capacity int) *tombFilter {
	n := (capacity*filterBitsPerID + 63) / 64
	return &tombFilter{seed: maphash.MakeSeed(), bits: make([]uint64, n), capacity: capacity}
}

func (f *tombFilter) probes(id TxnID, visit func(word int, mask uint64) bool) bool {
	h := maphash.Bytes(f.seed, id[:])
	h1, h2 := h, h>>32|1
	m := uint64(len(f.bits) * 64)
	for i := range uint64(filterProbes) {
		b := (h1 + i*h2) % m
		if !visit(int(b/64), 1<<(b%64)) {
			return false
		}
	}
	return true
}

func (f *tombFilter) add(id TxnID) {
	f.added++
	f.probes(id, func(w int, mask uint64) bool { f.bits[w] |= mask; return true })
}

// mayContain is false only for an ID never added.
func (f *tombFilter) mayContain(id TxnID) bool {
	return f.probes(id, func(w int, mask uint64) bool { return f.bits[w]&mask != 0 })
}

func (f *tombFilter) full() bool { return f.added > f.capacity }
