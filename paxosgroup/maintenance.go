package paxosgroup

import (
	"context"
	"math"
	"sort"
	"time"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/storage"
)

// maintenanceLoop runs the leaders' housekeeping: keep the range directory
// current, replicate under-replicated groups, split large ones.
func (h *Host) maintenanceLoop() {
	if h.opts.TestingKnobs.DisableMaintenance {
		h.wg.Done()
		return
	}
	h.every(h.opts.MaintenanceInterval, func() {
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.MaintenanceInterval*5)
		defer cancel()
		h.maintain(ctx)
	})
}

func (h *Host) maintain(ctx context.Context) {
	for _, id := range h.groupIDs() {
		if h.stopped() {
			return
		}
		r := h.replica(id)
		if r == nil {
			continue
		}
		if !r.isLeader.Load() {
			h.maybeGCReplica(ctx, r)
			continue
		}
		if !r.leaseValid() {
			continue
		}
		h.publishDescriptor(ctx, r)
		h.upReplicate(ctx, r)
		h.maybeSplitBySize(ctx, r)
	}
}

// publishDescriptor writes the leader's descriptor to the directory when it
// has not yet done so for this generation: after restarts, and after
// splits or membership changes whose own publication failed.
func (h *Host) publishDescriptor(ctx context.Context, r *replica) {
	d := r.desc.Load()
	r.mu.Lock()
	done := r.mu.metaGen >= d.Generation && r.mu.metaGen != 0
	r.mu.Unlock()
	if done {
		return
	}
	router, err := h.routerOrErr()
	if err != nil {
		return
	}
	if _, err := router.ProposeMeta(ctx, &pb.MetaCommand{Descriptors: []*pb.GroupDescriptor{d}}); err != nil {
		h.logger.Debug("publishing descriptor", "group", d.GroupId, "err", err.Error())
		return
	}
	r.mu.Lock()
	r.mu.metaGen = max(r.mu.metaGen, d.Generation)
	r.mu.Unlock()
}

// upReplicate adds a voter when the group has fewer than the target and a
// live node without a replica exists, preferring regions, then zones,
// that the group does not cover yet.
func (h *Host) upReplicate(ctx context.Context, r *replica) {
	d := r.desc.Load()
	var live []*pb.NodeDescriptor
	for _, n := range h.Nodes() {
		if ok, _ := h.IsLive(n.NodeId); ok {
			live = append(live, n)
		}
	}
	voters := 0
	for _, rd := range d.Replicas {
		if rd.Type == pb.ReplicaType_VOTER {
			voters++
		}
	}
	if voters >= min(h.opts.TargetReplicas, len(live)) || len(d.Replicas) > voters {
		return
	}
	regions, zones := map[string]int{}, map[string]int{}
	for _, rd := range d.Replicas {
		if n, ok := h.Node(rd.NodeId); ok {
			regions[n.Region]++
			zones[n.Region+"/"+n.Zone]++
		}
	}
	var cands []*pb.NodeDescriptor
	for _, n := range live {
		if replicaByNode(d, n.NodeId) == nil {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if regions[a.Region] != regions[b.Region] {
			return regions[a.Region] < regions[b.Region]
		}
		if zones[a.Region+"/"+a.Zone] != zones[b.Region+"/"+b.Zone] {
			return zones[a.Region+"/"+a.Zone] < zones[b.Region+"/"+b.Zone]
		}
		return a.NodeId < b.NodeId
	})
	if _, err := h.ChangeReplicas(ctx, r.groupID, []uint64{cands[0].NodeId}, nil); err != nil {
		h.logger.Info("up-replication", "group", r.groupID, "node", cands[0].NodeId, "err", err.Error())
	}
}

// maybeSplitBySize splits a group whose data outgrew SplitSizeBytes at the
// key where half the live data lies to each side.
func (h *Host) maybeSplitBySize(ctx context.Context, r *replica) {
	if h.opts.SplitSizeBytes < 0 || r.groupID == MetaGroupID {
		return
	}
	d := r.desc.Load()
	size, err := h.engine.SpanSize(d.StartKey, endOrNil(d.EndKey))
	if err != nil || size < h.opts.SplitSizeBytes {
		return
	}
	key, err := midKey(h.engine, d, size)
	if err != nil || key == nil {
		return
	}
	if _, _, err := h.Split(ctx, key); err != nil {
		h.logger.Info("size-based split", "group", r.groupID, "err", err.Error())
	}
}

// midKey finds the first key past half of the span's estimated size.
func midKey(r storage.Reader, d *pb.GroupDescriptor, size int64) ([]byte, error) {
	var acc int64
	var out []byte
	stop := errStopScan
	err := r.MVCCScan(d.StartKey, endOrNil(d.EndKey), math.MaxInt64, 0, func(k, v []byte, _ int64) error {
		acc += int64(len(k) + len(v) + 16)
		if acc >= size/2 && string(k) != string(d.StartKey) {
			out = append([]byte(nil), k...)
			return stop
		}
		return nil
	})
	if err == stop {
		err = nil
	}
	return out, err
}

var errStopScan = stopScan{}

type stopScan struct{}

func (stopScan) Error() string { return "stop" }

// maybeGCReplica removes a follower that missed its own removal: it heard
// nothing from its group for ReplicaGCInterval, and the range directory
// holds a newer descriptor of the group without this node.
func (h *Host) maybeGCReplica(ctx context.Context, r *replica) {
	d := r.desc.Load()
	if d == nil || r.groupID == MetaGroupID {
		return
	}
	now := time.Now()
	interval := h.opts.ReplicaGCInterval.Nanoseconds()
	if now.UnixNano()-r.lastHeard.Load() < interval || now.UnixNano()-r.lastGCCheck.Load() < interval {
		return
	}
	r.lastGCCheck.Store(now.UnixNano())
	router, err := h.routerOrErr()
	if err != nil {
		return
	}
	cur, err := router.LookupRange(ctx, d.StartKey)
	if err != nil || cur.GroupId != r.groupID || cur.Generation <= d.Generation ||
		replicaByNode(cur, h.opts.NodeID) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.destroyed || r.mu.failed != nil {
		return
	}
	h.logger.Info("removing a replica that missed its removal", "group", r.groupID,
		"local_generation", d.Generation, "directory_generation", cur.Generation)
	r.destroyLocked()
}
