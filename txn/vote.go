package txn

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// Groups a committing transaction only read take part without a log
// record. Their shared locks need only last until the commit timestamp s
// (writes above s cannot change what the transaction read at s), so
// instead of a prepare record such a group gives a vote: right before the
// one-phase leader or the coordinator picks s, it checks that the locks
// are still held and freezes them (no wound takes them; older writers
// wait, as for a prepared transaction), and answers
//
//   - vote_ts, above every version the group applied: s must be above it,
//     so that what was read is the latest version at s;
//   - valid_until = TT.Now().earliest + CloseAhead, read while its lease is
//     held: s must not exceed it. A later leader of the group starts its
//     timestamps above TT.Now().latest + CloseAhead, so above
//     valid_until; and this leader keeps the locks until a Release tells
//     it s (then later writes here go above s) or until TT.Now().earliest
//     passes valid_until (then they go above it anyway).
//
// Votes are not logged and die with the leader's term, which is safe by
// the same bound. The vote is taken after the writers' locks are held, a
// moment before s is picked, so s is rarely above valid_until: only when
// a writer's leader is new (it starts CloseAhead ahead) or closed ahead.
// Then the vote is extended to cover s: the group waits until
// TT.Now().earliest + CloseAhead passes s and, if the vote still stands
// in the same term, keeps it to s. This saves the read-only groups a Raft round each for the
// prepare and again for the outcome, and lets a transaction that writes
// one group commit in one phase whatever else it read.

// Vote implements pb.TxnServer at a group's leader.
func (s *Server) Vote(ctx context.Context, req *pb.TxnVoteRequest) (*pb.TxnVoteResponse, error) {
	ctx, done, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := s.vote(ctx, req)
	return resp, s.status(err)
}

func (s *Server) vote(ctx context.Context, req *pb.TxnVoteRequest) (*pb.TxnVoteResponse, error) {
	meta, err := metaOf(req.Txn)
	if err != nil {
		return nil, err
	}
	group := GroupID(req.GroupId)
	ls, _, err := s.leader(ctx, group)
	if err != nil {
		return nil, err
	}
	if req.CoverTs > 0 {
		if err := s.clock.WaitUntilAfter(ctx, req.CoverTs-s.cfg.CloseAhead.Nanoseconds()); err != nil {
			return nil, err
		}
	}
	ls.mu.Lock()
	if err := checkReadLocksLocked(ls, meta, true, req.ReadTerm); err != nil {
		ls.mu.Unlock()
		return nil, err
	}
	if _, standing := ls.votes[meta.ID]; req.CoverTs > 0 && !standing {
		ls.mu.Unlock()
		return nil, retryableErr("txn: %s: its vote at group %d ended before it could cover %d", meta.ID, group, req.CoverTs)
	}
	if ls.lt.waitingFor(meta.ID) {
		ls.mu.Unlock()
		return nil, retryableErr("txn: %s still waits for a lock at group %d", meta.ID, group)
	}
	until := s.clock.Now().Earliest + s.cfg.CloseAhead.Nanoseconds()
	ls.lt.MarkPrepared(meta.ID)
	ls.votes[meta.ID] = max(ls.votes[meta.ID], until)
	ls.lastSeen[meta.ID] = time.Now()
	voteTS := ls.tracker.LastAssigned()
	if s.cfg.TestingKnobs.EarlyReadLockRelease {
		ls.wakeLocked(ls.lt.releaseShared(meta.ID))
	}
	ls.mu.Unlock()
	// The bound holds only if the lease outlived the clock reading.
	if info, err := s.host.Lease(ctx, uint64(group)); err != nil || info.Term != ls.term {
		return nil, retryableErr("txn: group %d lost its lease while voting for %s", group, meta.ID)
	}
	s.metrics.votes.Inc()
	return &pb.TxnVoteResponse{VoteTs: voteTS, ValidUntil: until}, nil
}

// collectVotes asks every read-only group for its vote, in parallel, and
// returns the highest vote_ts and the lowest valid_until. With coverTS,
// it extends the standing votes to cover that commit timestamp.
func (s *Server) collectVotes(ctx context.Context, m *pb.TxnMetaPB, groups []*pb.ReadOnlyGroup, coverTS int64) (above, until int64, err error) {
	until = math.MaxInt64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp *pb.TxnVoteResponse
			verr := callGroupLeader(ctx, s.cfg.Router, g.GroupId, g.StartKey, func(ctx context.Context, cl pb.TxnClient) error {
				var err error
				resp, err = cl.Vote(ctx, &pb.TxnVoteRequest{GroupId: g.GroupId, Txn: m, ReadTerm: g.ReadTerm, CoverTs: coverTS})
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			if verr != nil {
				if err == nil {
					err = errors.Mark(errors.Wrapf(classify(verr), "txn: read-only group %d", g.GroupId), ErrRetryable)
				}
				return
			}
			above, until = max(above, resp.VoteTs), min(until, resp.ValidUntil)
		}()
	}
	wg.Wait()
	return above, until, err
}

// releaseVotes ends the votes in the background: with commitTS > 0 the
// transaction committed at it.
func (s *Server) releaseVotes(m *pb.TxnMetaPB, groups []*pb.ReadOnlyGroup, commitTS int64) {
	for _, g := range groups {
		s.spawn(func(ctx context.Context) {
			_ = callGroupLeader(ctx, s.cfg.Router, g.GroupId, g.StartKey, func(ctx context.Context, cl pb.TxnClient) error {
				_, err := cl.Release(ctx, &pb.TxnReleaseRequest{GroupId: g.GroupId, TxnId: m.Id, CommitTs: commitTS})
				return err
			})
		})
	}
}

// expireVotesLocked releases the locks of votes whose valid_until has
// passed: every later write here is above it, so above any commit
// timestamp the vote allowed.
func (s *Server) expireVotesLocked(ls *leaderState) {
	if len(ls.votes) == 0 {
		return
	}
	now := s.clock.Now().Earliest
	for id, until := range ls.votes {
		if now > until {
			delete(ls.votes, id)
			ls.wakeLocked(ls.lt.Release(id))
			delete(ls.lastSeen, id)
		}
	}
}
