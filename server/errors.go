package server

import (
	"context"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/storage"
	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/txn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// toStatus maps an internal error to the gRPC status clients act on:
//   - FailedPrecondition with a RoutingError detail: ask another node or
//     refresh the range (gateways handle these; clients rarely see them);
//   - Unknown with "ambiguous result": the write may or may not have
//     happened, do not retry blindly;
//   - InvalidArgument: bad input, fix the request;
//   - ResourceExhausted: the node's disk is full;
//   - Aborted: refused for now (a split of a group with prepared
//     transactions), retry later;
//   - Unavailable: try again later or elsewhere.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !errors.Is(err, paxosgroup.ErrAmbiguousResult) {
		if s, _ := status.FromError(err); s.Code() != codes.Unknown {
			return err
		}
	}
	var nl *paxosgroup.NotLeaderError
	var wr *paxosgroup.WrongRangeError
	switch {
	case errors.As(err, &nl):
		return routingStatus(err, &pb.RoutingError{Reason: pb.RoutingError_NOT_LEADER, LeaderNode: nl.LeaderNode, Descriptor_: nl.Descriptor})
	case errors.As(err, &wr):
		return routingStatus(err, &pb.RoutingError{Reason: pb.RoutingError_WRONG_RANGE, Descriptor_: wr.Descriptor})
	case errors.Is(err, paxosgroup.ErrGroupNotFound):
		return routingStatus(err, &pb.RoutingError{Reason: pb.RoutingError_GROUP_NOT_FOUND})
	case errors.Is(err, paxosgroup.ErrAmbiguousResult):
		return status.Error(codes.Unknown, "ambiguous result: "+err.Error())
	case errors.Is(err, storage.ErrKeyTooLarge), errors.Is(err, storage.ErrValueTooLarge),
		errors.Is(err, paxosgroup.ErrInvalidSplit):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, txn.ErrAmbiguous):
		return status.Error(codes.Unknown, "ambiguous result: "+err.Error())
	case errors.Is(err, txn.ErrRetryable):
		return status.Error(codes.Aborted, "retryable: "+err.Error())
	case errors.Is(err, txn.ErrInvalidCommand):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, txn.ErrSnapshotTooOld):
		return status.Error(codes.OutOfRange, err.Error())
	case errors.Is(err, truetime.ErrCommitFenced):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, txn.ErrSplitWithPrepared):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, storage.ErrDiskFull):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, paxosgroup.ErrStopped):
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

func routingStatus(err error, re *pb.RoutingError) error {
	s, derr := status.New(codes.FailedPrecondition, err.Error()).WithDetails(re)
	if derr != nil {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return s.Err()
}

// routingError extracts the RoutingError detail of a status, if any.
func routingError(err error) *pb.RoutingError { return txn.RoutingErrorOf(err) }

// IsAmbiguous reports whether err says a write's outcome is unknown.
func IsAmbiguous(err error) bool {
	if errors.Is(err, paxosgroup.ErrAmbiguousResult) {
		return true
	}
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.Unknown
}
