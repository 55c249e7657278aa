package storage

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestRecordsDataDriven runs the scripts in testdata/records. Rewrite
// expected output with `go test ./storage -run TestRecordsDataDriven -rewrite`.
//
// Every file starts with two empty in-memory stores, a (the default) and
// b; commands take store=b to act on b. A record key is written g=<group>
// k=<suffix>: 0x03 <group u64 BE> <suffix>, the layout of txn/records.go.
// raw=<key> gives the whole raw key instead (to test validation). Keys and
// values are unquoted Go string bodies. Records print as g<group>/"suffix".
//
//	put g=<id> k=<s> v=<value>          PutRecord, committed (synced)
//	del g=<id> k=<s>                    DeleteRecord, committed
//	get g=<id> k=<s> [on=snap]          GetRecord on the engine (or snapshot)
//	scan [g=<id>] [from=<s>] [to=<s>] [stop-after=<n>] [on=snap]
//	                                    ScanRecords over the group's span
//	                                    (from/to are suffixes inside it;
//	                                    no g = the whole record keyspace);
//	                                    start-raw=/end-raw= give raw bounds
//	batch [commit=false]                input: put/del/get/scan/clear/putv/
//	                                    delv/getv lines on one batch (reads
//	                                    see its writes), then commit
//	clear g=<id>                        ClearRecords of the group's span
//	putv k=<key> ts=<int> v=<value>     PutVersion (batch lines only)
//	delv k=<key> ts=<int>               DeleteVersion (batch lines only)
//	getv k=<key> ts=<int>               MVCCGet
//	snapshot                            take (replacing) the snapshot of a
//	transfer g=<id>                     ExportRecords of the group's span
//	                                    from a fresh snapshot of a, into b
//	                                    with ClearRecords + PutRawRecord
//	                                    in one batch; prints the records
func TestRecordsDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/records", func(t *testing.T, path string) {
		stores := map[string]*Engine{}
		for _, name := range []string{"a", "b"} {
			e, err := Open(name, Options{FS: vfs.NewMem()})
			if err != nil {
				t.Fatal(err)
			}
			stores[name] = e
		}
		var snap *Snapshot
		defer func() {
			if snap != nil {
				_ = snap.Close()
			}
			for _, e := range stores {
				_ = e.Close()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			a := cmdArgs(d)
			e := stores["a"]
			if a["store"] == "b" {
				e = stores["b"]
			}
			switch d.Cmd {
			case "put", "del", "clear":
				return commitOne(t, e, func(b *Batch) string { return runRecords(t, b, b, d.Cmd, a) })
			case "batch":
				b := e.NewBatch()
				defer b.Close()
				var out strings.Builder
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					cmd, la := parseLine(t, line)
					fmt.Fprintf(&out, "%s\n", runRecords(t, b, b, cmd, la))
				}
				if a["commit"] == "false" {
					return out.String() + "staged, not committed"
				}
				if err := b.Commit(true); err != nil {
					return "commit error: " + err.Error()
				}
				return out.String()
			case "snapshot":
				if snap != nil {
					_ = snap.Close()
				}
				snap = e.NewSnapshot()
				return "ok"
			case "transfer":
				return transferRecords(t, stores["a"], stores["b"], a)
			case "get", "scan":
				var r RecordReader = e
				if a["on"] == "snap" {
					r = snap
				}
				return runRecords(t, r, nil, d.Cmd, a)
			case "getv":
				return runMVCC(t, e, nil, "get", a)
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func commitOne(t *testing.T, e *Engine, stage func(b *Batch) string) string {
	b := e.NewBatch()
	defer b.Close()
	if res := stage(b); res != "ok" {
		return res
	}
	if err := b.Commit(true); err != nil {
		return "commit error: " + err.Error()
	}
	return "ok"
}

func recordGroupPrefix(t *testing.T, a map[string]string) []byte {
	g, err := strconv.ParseUint(a["g"], 10, 64)
	if err != nil {
		t.Fatalf("bad g=: %v", err)
	}
	return binary.BigEndian.AppendUint64([]byte{prefixPrepared}, g)
}

// recordKeyArg returns the key named by g=/k= or raw=.
func recordKeyArg(t *testing.T, a map[string]string) []byte {
	if v, ok := a["raw"]; ok {
		return unquote(t, v)
	}
	return append(recordGroupPrefix(t, a), unquote(t, a["k"])...)
}

// recordSpanArg returns the scan or clear bounds named by the arguments.
func recordSpanArg(t *testing.T, a map[string]string) (start, end []byte) {
	start = []byte{prefixPrepared}
	if _, ok := a["g"]; ok {
		p := recordGroupPrefix(t, a)
		start = append(p, unquote(t, a["from"])...)
		end = keyPrefixEnd(p)
		if v, ok := a["to"]; ok {
			end = append(append([]byte(nil), p...), unquote(t, v)...)
		}
	}
	if v, ok := a["start-raw"]; ok {
		start = unquote(t, v)
	}
	if v, ok := a["end-raw"]; ok {
		end = unquote(t, v)
	}
	return start, end
}

func keyPrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func formatRecordKey(k []byte) string {
	if len(k) < 9 || k[0] != prefixPrepared {
		return fmt.Sprintf("raw %q", k)
	}
	return fmt.Sprintf("g%d/%q", binary.BigEndian.Uint64(k[1:9]), k[9:])
}

// runRecords runs one record or version command against r or b.
func runRecords(t *testing.T, r RecordReader, b *Batch, cmd string, a map[string]string) string {
	if r == nil {
		r = b
	}
	switch cmd {
	case "put":
		return okOrErr(b.PutRecord(recordKeyArg(t, a), unquote(t, a["v"])))
	case "del":
		return okOrErr(b.DeleteRecord(recordKeyArg(t, a)))
	case "clear":
		start, end := recordSpanArg(t, a)
		return okOrErr(b.ClearRecords(start, end))
	case "putv":
		return okOrErr(b.PutVersion(unquote(t, a["k"]), mustInt(t, a, "ts"), unquote(t, a["v"])))
	case "delv":
		return okOrErr(b.DeleteVersion(unquote(t, a["k"]), mustInt(t, a, "ts")))
	case "getv":
		return runMVCC(t, b, nil, "get", a)
	case "get":
		k := recordKeyArg(t, a)
		v, ok, err := r.GetRecord(k)
		switch {
		case err != nil:
			return recordErrString(err)
		case !ok:
			return formatRecordKey(k) + " not found"
		}
		return fmt.Sprintf("%s=%q", formatRecordKey(k), v)
	case "scan":
		start, end := recordSpanArg(t, a)
		stopAfter := -1
		if _, ok := a["stop-after"]; ok {
			stopAfter = int(mustInt(t, a, "stop-after"))
		}
		var out []string
		err := r.ScanRecords(start, end, func(k, v []byte) bool {
			out = append(out, fmt.Sprintf("%s=%q", formatRecordKey(k), v))
			return len(out) != stopAfter
		})
		if err != nil {
			return recordErrString(err)
		}
		if len(out) == 0 {
			return "<empty>"
		}
		return strings.Join(out, "\n")
	}
	t.Fatalf("unknown record command %q", cmd)
	return ""
}

func okOrErr(err error) string {
	if err != nil {
		return recordErrString(err)
	}
	return "ok"
}

func recordErrString(err error) string {
	if errors.Is(err, ErrInvalidRecordKey) {
		return fmt.Sprintf("error: %v [ErrInvalidRecordKey]", err)
	}
	return errString(err)
}

// transferRecords copies group g's records from src to dst as a Raft
// snapshot would, and prints what was exported.
func transferRecords(t *testing.T, src, dst *Engine, a map[string]string) string {
	start, end := recordSpanArg(t, a)
	snap := src.NewSnapshot()
	defer func() { _ = snap.Close() }()
	b := dst.NewBatch()
	defer b.Close()
	if err := b.ClearRecords(start, end); err != nil {
		return recordErrString(err)
	}
	var out []string
	err := snap.ExportRecords(start, end, func(k, v []byte) error {
		out = append(out, fmt.Sprintf("%s=%q", formatRecordKey(k), v))
		return b.PutRawRecord(k, v)
	})
	if err != nil {
		return recordErrString(err)
	}
	if err := b.Commit(true); err != nil {
		return "commit error: " + err.Error()
	}
	return fmt.Sprintf("exported %d\n%s", len(out), strings.Join(out, "\n"))
}
