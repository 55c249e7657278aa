package server

import (
	"bytes"
	"context"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/txn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

// writeLocal runs a single-key write at this node, the group's leader,
// as a one-phase transaction, batched with the group's concurrent
// single-key writes (writeBatcher): it respects the locks of transactions,
// gets a timestamp above everything the leader closed, and commit-waits.
// Wound-wait aborts are retried with the same start timestamp.
func (s kvService) writeLocal(ctx context.Context, rt *pb.Routing, cmd *pb.KVCommand) (int64, error) {
	w := &pb.TxnWrite{Key: cmd.Key, Value: cmd.Value, Delete: cmd.Op == pb.KVCommand_DELETE}
	var ts int64
	err := s.singleKeyTxn(ctx, func(ctx context.Context, srv *txn.Server, start int64) error {
		var err error
		ts, err = s.n.writes.write(ctx, srv, rt.GroupId, w, start)
		return err
	})
	return ts, err
}

// singleKeyTxn runs fn as a transaction of its own at this node, retrying
// retryable aborts with the first attempt's start timestamp. Each attempt
// is a new transaction; fn names it (newTxnID), or a write batch does.
func (s kvService) singleKeyTxn(ctx context.Context, fn func(ctx context.Context, srv *txn.Server, start int64) error) error {
	srv := s.n.txnServer()
	if srv == nil {
		return status.Error(codes.Unavailable, errNotReady.Error())
	}
	start := s.n.clock.Now().Latest
	for backoff := time.Millisecond; ; backoff = min(2*backoff, 50*time.Millisecond) {
		err := fn(ctx, srv, start)
		if st, ok := status.FromError(err); !ok || st.Code() != codes.Aborted || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-time.After(backoff):
		}
	}
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

// getLocal reads the latest committed value at the leader under a
// shared lock held for the read alone, so that it waits for a prepared
// transaction writing the key and sees every acknowledged commit.
//
// Most reads meet no lock: those are served without entering the lock
// table (txn.Server.ReadLatestUnlocked), which is the same read.
func (s kvService) getLocal(ctx context.Context, req *pb.GetRequest) (*pb.GetResponse, error) {
	out := &pb.GetResponse{}
	if srv := s.n.txnServer(); srv != nil {
		kv, found, ok, err := srv.ReadLatestUnlocked(ctx, txn.GroupID(req.Routing.GroupId), req.Key)
		if err != nil {
			return nil, err
		}
		if ok {
			out.Found, out.Value, out.Timestamp = found, kv.Value, kv.Timestamp
			return out, nil
		}
	}
	err := s.singleKeyTxn(ctx, func(ctx context.Context, srv *txn.Server, start int64) error {
		meta := &pb.TxnMetaPB{Id: newTxnID(), StartTs: start}
		resp, err := srv.Read(ctx, &pb.TxnReadRequest{GroupId: req.Routing.GroupId, Txn: meta, Keys: [][]byte{req.Key}})
		_, _ = srv.Release(context.WithoutCancel(ctx), &pb.TxnReleaseRequest{GroupId: req.Routing.GroupId, TxnId: meta.Id})
		if err != nil {
			return err
		}
		out.Found, out.Value, out.Timestamp = resp.Found[0], resp.Values[0].Value, resp.Values[0].Timestamp
		return nil
	})
	return out, err
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

// scanLocal reads the group's part of a scan at the leader as a snapshot
// at TT.Now().latest: every commit acknowledged before is below it, and the
// leader waits until nothing at or below it is still in flight.
func (s kvService) scanLocal(ctx context.Context, req *pb.ScanRequest) (*pb.ScanResponse, error) {
	srv := s.n.txnServer()
	if srv == nil {
		return nil, status.Error(codes.Unavailable, errNotReady.Error())
	}
	resp, err := srv.SnapshotRead(ctx, &pb.SnapshotReadRequest{GroupId: req.Routing.GroupId, Timestamp: s.n.clock.Now().Latest,
		Scan: true, StartKey: req.StartKey, EndKey: req.EndKey, Limit: req.Limit})
	if err != nil {
		return nil, err
	}
	return &pb.ScanResponse{Kvs: resp.Rows, ResumeKey: resp.ResumeKey}, nil
}

// Txn runs a script of operations as one transaction with this node as
// the gateway.
func (s kvService) Txn(ctx context.Context, req *pb.TxnScriptRequest) (*pb.TxnScriptResponse, error) {
	cl := s.n.TxnClient()
	if cl == nil {
		return nil, status.Error(codes.Unavailable, errNotReady.Error())
	}
	for i, op := range req.Ops {
		if op.Kind == pb.TxnScriptOp_SCAN && len(op.Key) == 0 {
			continue
		}
		if err := validateKey(op.Key); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "op %d: %s", i+1, status.Convert(err).Message())
		}
		if req.ReadOnly && (op.Kind == pb.TxnScriptOp_PUT || op.Kind == pb.TxnScriptOp_DELETE) {
			return nil, status.Errorf(codes.InvalidArgument, "op %d: a read-only transaction cannot write", i+1)
		}
		if len(op.Value) > MaxValueSize {
			return nil, status.Errorf(codes.InvalidArgument, "op %d: value of %d bytes exceeds the limit of %d bytes", i+1, len(op.Value), MaxValueSize)
		}
	}
	opts := txn.Options{ReadOnly: req.ReadOnly, ReadTimestamp: req.ReadTimestamp, MaxStaleness: time.Duration(req.MaxStalenessNanos)}
	resp := &pb.TxnScriptResponse{}
	ts, err := cl.RunTxn(ctx, opts, func(ctx context.Context, tx *txn.Txn) error {
		resp.Attempts++
		resp.Results = make([]*pb.TxnScriptResult, len(req.Ops))
		for i := 0; i < len(req.Ops); i++ {
			op := req.Ops[i]
			r := &pb.TxnScriptResult{}
			resp.Results[i] = r
			var err error
			switch op.Kind {
			case pb.TxnScriptOp_GET:
				// A run of GETs is one GetMany: its groups are read in
				// parallel.
				j := i + 1
				for j < len(req.Ops) && req.Ops[j].Kind == pb.TxnScriptOp_GET {
					j++
				}
				keys := make([][]byte, 0, j-i)
				for _, o := range req.Ops[i:j] {
					keys = append(keys, o.Key)
				}
				var vals [][]byte
				var found []bool
				if vals, found, err = tx.GetMany(ctx, keys); err == nil {
					for k := range keys {
						resp.Results[i+k] = &pb.TxnScriptResult{Value: vals[k], Found: found[k]}
					}
					i = j - 1
				}
			case pb.TxnScriptOp_PUT:
				err = tx.Put(op.Key, op.Value)
			case pb.TxnScriptOp_DELETE:
				err = tx.Delete(op.Key)
			case pb.TxnScriptOp_SCAN:
				start := op.Key
				if len(start) == 0 {
					start = paxosgroup.UserSpanStart
				}
				var rows []txn.KeyValue
				rows, err = tx.Scan(ctx, start, op.EndKey, int(op.Limit))
				for _, kv := range rows {
					r.Rows = append(r.Rows, &pb.KeyValue{Key: kv.Key, Value: kv.Value})
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, toStatus(err)
	}
	resp.CommitTs = ts
	return resp, nil
}
