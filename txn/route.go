package txn

import (
	"context"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RoutingErrorOf extracts the RoutingError detail of a status, if any.
func RoutingErrorOf(err error) *pb.RoutingError {
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.FailedPrecondition {
		return nil
	}
	for _, d := range s.Details() {
		if re, ok := d.(*pb.RoutingError); ok {
			return re
		}
	}
	return nil
}

// unreachable reports errors after which another replica may answer.
func unreachable(err error) bool {
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.Unavailable
}

// callGroupLeader runs fn at the leader of group, following not-leader
// hints and refreshing stale descriptors, until fn returns anything but a
// routing refusal or unavailability, or ctx ends. key, if set, is a key of
// the group (its start key) used to find it; otherwise it is looked up by
// ID. fn must be safe to repeat: the requests sent through here are
// idempotent (the protocol's first decision wins).
func callGroupLeader(ctx context.Context, r Router, group uint64, key []byte,
	fn func(ctx context.Context, cl pb.TxnClient) error) error {
	return callGroup(ctx, r, group, key, false, fn)
}

// callGroup is callGroupLeader; with nearest set it tries the replica
// nearest to this node first (snapshot reads), the leader after it.
func callGroup(ctx context.Context, r Router, group uint64, key []byte, nearest bool,
	fn func(ctx context.Context, cl pb.TxnClient) error) error {
	backoff := 5 * time.Millisecond
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return errors.CombineErrors(last, ctx.Err())
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 200*time.Millisecond)
		}
		d, err := lookupGroup(ctx, r, group, key)
		if err != nil {
			last = err
			if ctx.Err() != nil {
				return err
			}
			continue
		}
		tried := map[uint64]bool{}
		for _, node := range candidates(r, d, nearest) {
			if tried[node] {
				continue
			}
			tried[node] = true
			served := node
			err = callNode(ctx, r, node, fn)
			re := RoutingErrorOf(err)
			if re != nil && re.Reason == pb.RoutingError_NOT_LEADER && re.LeaderNode != 0 && !tried[re.LeaderNode] {
				r.SetLeader(group, re.LeaderNode)
				tried[re.LeaderNode] = true
				served = re.LeaderNode
				err = callNode(ctx, r, served, fn)
				re = RoutingErrorOf(err)
			}
			switch {
			case err == nil:
				if !nearest {
					// The node that answered, which after a hint is the
					// leader it named, not the one that refused.
					r.SetLeader(group, served)
				}
				return nil
			case re != nil && re.Reason == pb.RoutingError_WRONG_RANGE:
				// The request's keys left the group (a split): asking the
				// group again cannot help; the caller routes them anew.
				r.Evict(group)
				if re.Descriptor_ != nil && re.Descriptor_.GroupId == group {
					r.Insert(re.Descriptor_)
				}
				return err
			case re != nil && re.Reason != pb.RoutingError_NOT_LEADER:
				r.Evict(group)
				if re.Descriptor_ != nil && re.Descriptor_.GroupId == group {
					r.Insert(re.Descriptor_)
				}
			case re == nil && !unreachable(err):
				return err
			}
			last = err
			if re != nil && re.Reason != pb.RoutingError_NOT_LEADER {
				break
			}
		}
		r.SetLeader(group, 0)
		if ctx.Err() != nil {
			return errors.CombineErrors(last, ctx.Err())
		}
	}
}

func callNode(ctx context.Context, r Router, node uint64, fn func(ctx context.Context, cl pb.TxnClient) error) error {
	cl, err := r.Client(node)
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	return fn(ctx, cl)
}

func lookupGroup(ctx context.Context, r Router, group uint64, key []byte) (*pb.GroupDescriptor, error) {
	if key != nil {
		d, err := r.LookupKey(ctx, key)
		if err == nil && d.GroupId == group {
			return d, nil
		}
	}
	return r.LookupGroup(ctx, group)
}

// candidates orders a group's nodes: for leader calls the cached leader
// first, then the voters; for nearest calls this node, then replicas in
// this node's region, then the leader and the rest.
func candidates(r Router, d *pb.GroupDescriptor, nearest bool) []uint64 {
	var out []uint64
	seen := map[uint64]bool{}
	add := func(id uint64) {
		if id != 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if nearest {
		self := r.Self()
		region := r.Region(self)
		for _, rep := range d.Replicas {
			if rep.NodeId == self {
				add(self)
			}
		}
		for _, rep := range d.Replicas {
			if region != "" && r.Region(rep.NodeId) == region {
				add(rep.NodeId)
			}
		}
	}
	add(r.Leader(d.GroupId))
	for _, rep := range d.Replicas {
		if rep.Type == pb.ReplicaType_VOTER {
			add(rep.NodeId)
		}
	}
	for _, rep := range d.Replicas {
		add(rep.NodeId)
	}
	return out
}
