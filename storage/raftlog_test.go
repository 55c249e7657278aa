package storage

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestRaftLogDataDriven runs the scripts in testdata/raftlog. Rewrite
// expected output with `go test ./storage -run TestRaftLogDataDriven -rewrite`.
//
// Every file starts with an empty in-memory store; commands act on group 1
// unless they say group=<id>.
//
// Writes (each commits its own synced batch, or is a line of `batch`):
//
//	append from=<i> to=<j> term=<t>    entries i..j (inclusive), data "i/t"
//	hard-state term=<t> vote=<v> commit=<c>
//	conf-state voters=<id,id,...>
//	compact index=<i>
//	apply-snapshot index=<i> term=<t> voters=<ids>
//	set-meta data=<string>
//	destroy                            Engine.DestroyGroup
//	batch [commit=false]               input: write lines staged into one
//	                                   batch; committed unless commit=false
//
// Reads:
//
//	state                  first/last index, term(last), hard/conf state
//	entries lo=<i> hi=<j> [max-size=<bytes>]
//	term index=<i>
//	meta                   ReplicaMeta
//	snapshot               Storage.Snapshot (provider installed by provide-snapshot)
//	provide-snapshot index=<i> term=<t>
//	groups                 Engine.Groups
//	restart                close and reopen the store; caches reload from disk
//
// Entry cache:
//
//	cache                  the entry cache: bytes, each group's cached
//	                       index window (oldest append first), and the
//	                       hit/miss counts of Entries calls
//	open [cache-size=<bytes>] [group-entries=<n>] [group-bytes=<bytes>]
//	                       close and reopen the store with these entry
//	                       cache bounds (cache-size=-1 disables it)
func TestRaftLogDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/raftlog", func(t *testing.T, path string) {
		fs := vfs.NewMem()
		opts := Options{FS: fs}
		e, err := Open("store", opts)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = e.Close() }()
		group := func(a map[string]string) *RaftStorage {
			id := uint64(1)
			if v, ok := a["group"]; ok {
				id, _ = strconv.ParseUint(v, 10, 64)
			}
			rs, err := e.RaftStorage(id)
			if err != nil {
				t.Fatal(err)
			}
			return rs
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			a := cmdArgs(d)
			switch d.Cmd {
			case "append", "hard-state", "conf-state", "compact", "apply-snapshot", "set-meta", "destroy":
				b := e.NewBatch()
				defer b.Close()
				if err := stageRaft(t, e, b, group(a), d.Cmd, a); err != nil {
					return "error: " + err.Error()
				}
				if err := b.Commit(true); err != nil {
					return "commit error: " + err.Error()
				}
				return "ok"
			case "batch":
				b := e.NewBatch()
				defer b.Close()
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					cmd, la := parseLine(t, line)
					if err := stageRaft(t, e, b, group(la), cmd, la); err != nil {
						return fmt.Sprintf("%s: error: %v", line, err)
					}
				}
				if a["commit"] == "false" {
					return "staged, not committed"
				}
				if err := b.Commit(true); err != nil {
					return "commit error: " + err.Error()
				}
				return "ok"
			case "state":
				return raftStateString(group(a))
			case "entries":
				max := uint64(1 << 62)
				if _, ok := a["max-size"]; ok {
					max = uint64(mustInt(t, a, "max-size"))
				}
				ents, err := group(a).Entries(uint64(mustInt(t, a, "lo")), uint64(mustInt(t, a, "hi")), max)
				if err != nil {
					return "error: " + err.Error()
				}
				var out []string
				for _, ent := range ents {
					out = append(out, fmt.Sprintf("%d/%d %q size=%d", ent.GetIndex(), ent.GetTerm(), ent.GetData(), proto.Size(ent)))
				}
				if len(out) == 0 {
					return "<none>"
				}
				return strings.Join(out, "\n")
			case "term":
				term, err := group(a).Term(uint64(mustInt(t, a, "index")))
				if err != nil {
					return "error: " + err.Error()
				}
				return strconv.FormatUint(term, 10)
			case "meta":
				m, err := group(a).ReplicaMeta()
				if err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("%q", m)
			case "provide-snapshot":
				index, term := uint64(mustInt(t, a, "index")), uint64(mustInt(t, a, "term"))
				rs := group(a)
				rs.SetSnapshotProvider(func() (*raftpb.Snapshot, error) {
					_, cs, err := rs.InitialState()
					if err != nil {
						return nil, err
					}
					return &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
						Index: proto.Uint64(index), Term: proto.Uint64(term), ConfState: cs}}, nil
				})
				return "ok"
			case "snapshot":
				s, err := group(a).Snapshot()
				if err != nil {
					return "error: " + err.Error()
				}
				m := s.GetMetadata()
				return fmt.Sprintf("index=%d term=%d voters=%v", m.GetIndex(), m.GetTerm(), m.GetConfState().GetVoters())
			case "groups":
				ids, err := e.Groups()
				if err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprint(ids)
			case "restart":
				if err := e.Close(); err != nil {
					return err.Error()
				}
				if e, err = Open("store", opts); err != nil {
					return err.Error()
				}
				return "ok"
			case "open":
				if err := e.Close(); err != nil {
					return err.Error()
				}
				opts = Options{FS: fs}
				if _, ok := a["cache-size"]; ok {
					opts.RaftEntryCacheSize = mustInt(t, a, "cache-size")
				}
				if _, ok := a["group-entries"]; ok {
					opts.TestingKnobs.RaftEntryCacheGroupEntries = int(mustInt(t, a, "group-entries"))
				}
				if _, ok := a["group-bytes"]; ok {
					opts.TestingKnobs.RaftEntryCacheGroupBytes = mustInt(t, a, "group-bytes")
				}
				if e, err = Open("store", opts); err != nil {
					return err.Error()
				}
				return "ok"
			case "cache":
				m := e.Metrics()
				return fmt.Sprintf("%s\nhits=%d misses=%d", e.entries, m.RaftEntryCacheHits, m.RaftEntryCacheMisses)
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func parseVoters(t *testing.T, s string) []uint64 {
	var ids []uint64
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' }) {
		id, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func stageRaft(t *testing.T, e *Engine, b *Batch, rs *RaftStorage, cmd string, a map[string]string) error {
	u := func(k string) uint64 { return uint64(mustInt(t, a, k)) }
	switch cmd {
	case "append":
		var ents []*raftpb.Entry
		for i := u("from"); i <= u("to"); i++ {
			ents = append(ents, &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(u("term")),
				Data: []byte(fmt.Sprintf("%d/%d", i, u("term")))})
		}
		return rs.Append(b, ents)
	case "hard-state":
		return rs.SetHardState(b, &raftpb.HardState{Term: proto.Uint64(u("term")),
			Vote: proto.Uint64(u("vote")), Commit: proto.Uint64(u("commit"))})
	case "conf-state":
		return rs.SetConfState(b, &raftpb.ConfState{Voters: parseVoters(t, a["voters"])})
	case "compact":
		return rs.Compact(b, u("index"))
	case "apply-snapshot":
		return rs.ApplySnapshotMeta(b, &raftpb.SnapshotMetadata{Index: proto.Uint64(u("index")),
			Term: proto.Uint64(u("term")), ConfState: &raftpb.ConfState{Voters: parseVoters(t, a["voters"])}})
	case "set-meta":
		return rs.SetReplicaMeta(b, []byte(a["data"]))
	case "destroy":
		return e.DestroyGroup(b, rs.GroupID())
	}
	t.Fatalf("unknown write %q", cmd)
	return nil
}

func raftStateString(rs *RaftStorage) string {
	first, err := rs.FirstIndex()
	if err != nil {
		return "error: " + err.Error()
	}
	last, _ := rs.LastIndex()
	lastTerm, err := rs.Term(last)
	if err != nil {
		return "error: " + err.Error()
	}
	hs, cs, _ := rs.InitialState()
	hsStr := "<nil>"
	if hs != nil {
		hsStr = fmt.Sprintf("term=%d vote=%d commit=%d", hs.GetTerm(), hs.GetVote(), hs.GetCommit())
	}
	return fmt.Sprintf("first=%d last=%d term(last)=%d\nhard-state: %s\nconf-state: voters=%v",
		first, last, lastTerm, hsStr, cs.GetVoters())
}
