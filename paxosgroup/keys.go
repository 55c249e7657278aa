package paxosgroup

import (
	"bytes"
	"encoding/binary"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// The keyspace. Keys that start with 0x00 are the system keyspace, owned by
// the meta group; user keys start at 0x01.
var (
	// MetaSpanStart and MetaSpanEnd bound the meta group's span.
	MetaSpanStart = []byte{0x00}
	MetaSpanEnd   = []byte{0x01}
	// UserSpanStart is the first key a user may write.
	UserSpanStart = []byte{0x01}

	metaDescPrefix = []byte("\x00meta/")
	metaNodePrefix = []byte("\x00node/")
	metaNodeIDKey  = []byte("\x00ctr/node")
	metaGroupIDKey = []byte("\x00ctr/group")
)

// MetaGroupID is the group that holds the range directory.
const MetaGroupID = 1

// FirstUserGroupID is the group that owns the user keyspace at bootstrap.
const FirstUserGroupID = 2

// metaDescKey is where a descriptor lives in the directory: ordered by end
// key, with the unbounded end last, so that the group owning key K is the
// first record after metaDescLookupKey(K).
func metaDescKey(end []byte) []byte {
	if len(end) == 0 {
		return append(append([]byte(nil), metaDescPrefix...), 0x02)
	}
	k := append(append([]byte(nil), metaDescPrefix...), 0x01)
	return append(k, end...)
}

// metaDescLookupKey is the smallest directory key whose group could own k:
// the first descriptor with end > k.
func metaDescLookupKey(k []byte) []byte {
	s := append(append([]byte(nil), metaDescPrefix...), 0x01)
	s = append(s, k...)
	return append(s, 0x00)
}

func metaNodeKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), metaNodePrefix...), id)
}

// prefixEnd returns the first key after every key with prefix p.
func prefixEnd(p []byte) []byte {
	e := append([]byte(nil), p...)
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] < 0xff {
			e[i]++
			return e[:i+1]
		}
	}
	return nil
}

// ContainsKey reports whether the descriptor's span holds key.
func ContainsKey(d *pb.GroupDescriptor, key []byte) bool {
	return bytes.Compare(key, d.StartKey) >= 0 && (len(d.EndKey) == 0 || bytes.Compare(key, d.EndKey) < 0)
}

// replicaByNode returns the replica of d on node, if any.
func replicaByNode(d *pb.GroupDescriptor, node uint64) *pb.ReplicaDescriptor {
	for _, r := range d.GetReplicas() {
		if r.NodeId == node {
			return r
		}
	}
	return nil
}

// replicaByID returns the replica of d with the given ID, if any.
func replicaByID(d *pb.GroupDescriptor, id uint64) *pb.ReplicaDescriptor {
	for _, r := range d.GetReplicas() {
		if r.ReplicaId == id {
			return r
		}
	}
	return nil
}
