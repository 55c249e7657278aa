package server

import (
	"encoding/binary"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/storage"
	"google.golang.org/protobuf/proto"
)

// kvStateMachine applies single-key writes (pb.KVCommand).
//
// The version timestamp is decided at apply time, deterministically on
// every replica: the proposer's timestamp, raised above every version the
// group wrote before. So versions follow log order even when leaders'
// clocks disagree, and a read of the newest version sees the last applied
// write.
type kvStateMachine struct{}

var _ paxosgroup.StateMachine = kvStateMachine{}

func (kvStateMachine) Apply(b *storage.Batch, ac *paxosgroup.ApplyContext, data []byte) ([]byte, error) {
	var c pb.KVCommand
	if err := proto.Unmarshal(data, &c); err != nil {
		return nil, errors.Wrap(err, "server: undecodable KV command")
	}
	if !paxosgroup.ContainsKey(ac.Descriptor, c.Key) {
		return nil, &paxosgroup.WrongRangeError{Key: c.Key, Descriptor: ac.Descriptor}
	}
	ts := max(c.Timestamp, ac.MaxWriteTS+1)
	var err error
	switch c.Op {
	case pb.KVCommand_PUT:
		err = b.MVCCPut(c.Key, ts, c.Value)
	case pb.KVCommand_DELETE:
		err = b.MVCCDelete(c.Key, ts)
	default:
		err = errors.Newf("server: unknown KV op %d", c.Op)
	}
	if err != nil {
		return nil, err
	}
	ac.MaxWriteTS = ts
	return binary.BigEndian.AppendUint64(nil, uint64(ts)), nil
}
