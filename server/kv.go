package server

import (
	"bytes"
	"context"
	"math"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/storage"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// kvService serves single-key linearizable operations. A request without
// routing comes from a client: this node routes it to the leaseholder. A
// request with routing was routed here and is served by the local replica.
type kvService struct {
	pb.UnimplementedKVServer
	n *Node
}

var _ pb.KVServer = kvService{}

func validateKey(key []byte) error {
	switch {
	case len(key) == 0:
		return status.Error(codes.InvalidArgument, "key is empty")
	case key[0] == 0x00:
		return status.Error(codes.InvalidArgument, "keys starting with byte 0x00 are reserved for the system")
	case len(key) > MaxKeySize:
		return status.Errorf(codes.InvalidArgument, "key of %d bytes exceeds the limit of %d bytes", len(key), MaxKeySize)
	}
	return nil
}

func (s kvService) Put(ctx context.Context, req *pb.PutRequest) (*pb.PutResponse, error) {
	if err := validateKey(req.Key); err != nil {
		return nil, err
	}
	if len(req.Value) > MaxValueSize {
		return nil, status.Errorf(codes.InvalidArgument, "value of %d bytes exceeds the limit of %d bytes", len(req.Value), MaxValueSize)
	}
	ts, err := s.write(ctx, req.Routing, &pb.KVCommand{Op: pb.KVCommand_PUT, Key: req.Key, Value: req.Value})
	if err != nil {
		return nil, err
	}
	return &pb.PutResponse{Timestamp: ts}, nil
}

func (s kvService) Delete(ctx context.Context, req *pb.DeleteRequest) (*pb.DeleteResponse, error) {
	if err := validateKey(req.Key); err != nil {
		return nil, err
	}
	ts, err := s.write(ctx, req.Routing, &pb.KVCommand{Op: pb.KVCommand_DELETE, Key: req.Key})
	if err != nil {
		return nil, err
	}
	return &pb.DeleteResponse{Timestamp: ts}, nil
}

func (s kvService) write(ctx context.Context, routing *pb.Routing, cmd *pb.KVCommand) (int64, error) {
	if routing != nil {
		return s.writeLocal(ctx, routing, cmd)
	}
	var ts int64
	err := s.n.routeKey(ctx, cmd.Key, true, func(ctx context.Context, node uint64, d *pb.GroupDescriptor) error {
		rt := &pb.Routing{GroupId: d.GroupId, Generation: d.Generation}
		if node == s.n.NodeID() {
			var err error
			ts, err = s.writeLocal(ctx, rt, cmd)
			return err
		}
		cl, err := s.n.kvClient(node)
		if err != nil {
			return err
		}
		if cmd.Op == pb.KVCommand_PUT {
			resp, err := cl.Put(ctx, &pb.PutRequest{Key: cmd.Key, Value: cmd.Value, Routing: rt})
			ts = resp.GetTimestamp()
			return err
		}
		resp, err := cl.Delete(ctx, &pb.DeleteRequest{Key: cmd.Key, Routing: rt})
		ts = resp.GetTimestamp()
		return err
	})
	return ts, err
}

func (s kvService) writeLocal(ctx context.Context, rt *pb.Routing, cmd *pb.KVCommand) (int64, error) {
	h := s.n.Host()
	if h == nil {
		return 0, status.Error(codes.Unavailable, errNotReady.Error())
	}
	c := proto.CloneOf(cmd)
	c.Timestamp = time.Now().UnixNano()
	data, err := proto.Marshal(&pb.TxnCommand{Cmd: &pb.TxnCommand_Kv{Kv: c}})
	if err != nil {
		return 0, status.Error(codes.Internal, err.Error())
	}
	out, err := h.Propose(ctx, rt.GroupId, data)
	if err != nil {
		return 0, toStatus(err)
	}
	var res pb.TxnResult
	if err := proto.Unmarshal(out, &res); err != nil {
		return 0, status.Error(codes.Internal, err.Error())
	}
	return res.Timestamp, nil
}

func (s kvService) Get(ctx context.Context, req *pb.GetRequest) (*pb.GetResponse, error) {
	if err := validateKey(req.Key); err != nil {
		return nil, err
	}
	if req.Routing != nil {
		return s.getLocal(ctx, req)
	}
	var out *pb.GetResponse
	err := s.n.routeKey(ctx, req.Key, false, func(ctx context.Context, node uint64, d *pb.GroupDescriptor) error {
		r := &pb.GetRequest{Key: req.Key, Routing: &pb.Routing{GroupId: d.GroupId, Generation: d.Generation}}
		var err error
		if node == s.n.NodeID() {
			out, err = s.getLocal(ctx, r)
			return err
		}
		cl, err := s.n.kvClient(node)
		if err != nil {
			return err
		}
		out, err = cl.Get(ctx, r)
		return err
	})
	return out, err
}

func (s kvService) getLocal(ctx context.Context, req *pb.GetRequest) (*pb.GetResponse, error) {
	h := s.n.Host()
	if h == nil {
		return nil, status.Error(codes.Unavailable, errNotReady.Error())
	}
	out := &pb.GetResponse{}
	err := h.Read(ctx, req.Routing.GroupId, func(d *pb.GroupDescriptor, r storage.Reader) error {
		if !paxosgroup.ContainsKey(d, req.Key) {
			return &paxosgroup.WrongRangeError{Key: req.Key, Descriptor: d}
		}
		v, ts, found, err := r.MVCCGet(req.Key, math.MaxInt64)
		out.Value, out.Timestamp, out.Found = v, ts, found
		return err
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return out, nil
}

func (s kvService) Scan(ctx context.Context, req *pb.ScanRequest) (*pb.ScanResponse, error) {
	if len(req.StartKey) == 0 {
		req.StartKey = paxosgroup.UserSpanStart
	}
	if err := validateKey(req.StartKey); err != nil {
		return nil, err
	}
	if len(req.EndKey) > 0 && bytes.Compare(req.EndKey, req.StartKey) <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "scan end %q is not after start %q", req.EndKey, req.StartKey)
	}
	if req.Routing != nil {
		return s.scanLocal(ctx, req)
	}
	// Walk group by group; each group's part is read at its leaseholder.
	out := &pb.ScanResponse{}
	start := req.StartKey
	for {
		limit := uint32(0)
		if req.Limit > 0 {
			limit = req.Limit - uint32(len(out.Kvs))
		}
		var part *pb.ScanResponse
		err := s.n.routeKey(ctx, start, false, func(ctx context.Context, node uint64, d *pb.GroupDescriptor) error {
			r := &pb.ScanRequest{StartKey: start, EndKey: req.EndKey, Limit: limit,
				Routing: &pb.Routing{GroupId: d.GroupId, Generation: d.Generation}}
			var err error
			if node == s.n.NodeID() {
				part, err = s.scanLocal(ctx, r)
				return err
			}
			cl, err := s.n.kvClient(node)
			if err != nil {
				return err
			}
			part, err = cl.Scan(ctx, r)
			return err
		})
		if err != nil {
			return nil, err
		}
		out.Kvs = append(out.Kvs, part.Kvs...)
		if len(part.ResumeKey) == 0 || (req.Limit > 0 && uint32(len(out.Kvs)) >= req.Limit) {
			return out, nil
		}
		start = part.ResumeKey
	}
}

func (s kvService) scanLocal(ctx context.Context, req *pb.ScanRequest) (*pb.ScanResponse, error) {
	h := s.n.Host()
	if h == nil {
		return nil, status.Error(codes.Unavailable, errNotReady.Error())
	}
	out := &pb.ScanResponse{}
	err := h.Read(ctx, req.Routing.GroupId, func(d *pb.GroupDescriptor, r storage.Reader) error {
		if !paxosgroup.ContainsKey(d, req.StartKey) {
			return &paxosgroup.WrongRangeError{Key: req.StartKey, Descriptor: d}
		}
		end := req.EndKey
		if len(d.EndKey) > 0 && (len(end) == 0 || bytes.Compare(d.EndKey, end) < 0) {
			end = d.EndKey
			out.ResumeKey = append([]byte(nil), d.EndKey...)
		}
		var endArg []byte
		if len(end) > 0 {
			endArg = end
		}
		return r.MVCCScan(req.StartKey, endArg, math.MaxInt64, int(req.Limit), func(k, v []byte, ts int64) error {
			out.Kvs = append(out.Kvs, &pb.KeyValue{Key: append([]byte(nil), k...), Value: append([]byte(nil), v...), Timestamp: ts})
			return nil
		})
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return out, nil
}
