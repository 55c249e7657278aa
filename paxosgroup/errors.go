package paxosgroup

import (
	"fmt"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// Sentinels that callers act on with errors.Is.
var (
	// ErrNotLeader: this replica cannot serve the request; retry at the
	// leader named in the NotLeaderError, if any.
	ErrNotLeader = errors.New("paxosgroup: not leader")
	// ErrWrongRange: the key is outside the group's span (it split or
	// merged); refresh the descriptor and retry.
	ErrWrongRange = errors.New("paxosgroup: key outside the group's span")
	// ErrGroupNotFound: no replica of the group lives on this node.
	ErrGroupNotFound = errors.New("paxosgroup: group not found on this node")
	// ErrAmbiguousResult: the command was handed to Raft but this replica
	// lost leadership before learning its outcome; it may or may not
	// apply. Never retry such a write blindly.
	ErrAmbiguousResult = errors.New("paxosgroup: result is ambiguous: the command may or may not have been applied")
	// ErrInvalidSplit: the split key cannot split its group (it is the
	// group's start, or in the meta group's span).
	ErrInvalidSplit = errors.New("paxosgroup: invalid split")
	// ErrStopped: the host is shutting down.
	ErrStopped = errors.New("paxosgroup: host stopped")
)

// NotLeaderError says which node leads the group, when known.
type NotLeaderError struct {
	GroupID    uint64
	LeaderNode uint64 // 0: unknown
	Descriptor *pb.GroupDescriptor
}

func (e *NotLeaderError) Error() string {
	if e.LeaderNode == 0 {
		return fmt.Sprintf("paxosgroup: group %d has no known leader here", e.GroupID)
	}
	return fmt.Sprintf("paxosgroup: group %d is led from node %d", e.GroupID, e.LeaderNode)
}

// Is makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// WrongRangeError carries the descriptor the replica has now.
type WrongRangeError struct {
	Key        []byte
	Descriptor *pb.GroupDescriptor
}

func (e *WrongRangeError) Error() string {
	return fmt.Sprintf("paxosgroup: key %q is outside group %d's span [%q, %q)", e.Key,
		e.Descriptor.GetGroupId(), e.Descriptor.GetStartKey(), e.Descriptor.GetEndKey())
}

// Is makes errors.Is(err, ErrWrongRange) hold.
func (e *WrongRangeError) Is(target error) bool { return target == ErrWrongRange }
