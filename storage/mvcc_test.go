package storage

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestMVCCDataDriven runs the scripts in testdata/mvcc. Rewrite expected
// output with `go test ./storage -run TestMVCCDataDriven -rewrite`.
//
// Every file starts with an empty in-memory store. Keys and values are
// unquoted Go string bodies, so k=a\x00b is the key "a", 0x00, "b".
// Output prints keys with %q.
//
//	put k=<key> ts=<int> v=<value>    commit one version (synced)
//	del k=<key> ts=<int>              commit a tombstone version
//	get k=<key> ts=<int>              MVCCGet: "k@ts=v", or "not found [tombstone@ts]"
//	latest k=<key>                    MVCCLatest
//	scan [start=<key>] [end=<key>] ts=<int> [limit=<n>]
//	                                  MVCCScan; omitted start = "", end = nil
//	gc [start=<key>] [end=<key>] threshold=<int>
//	                                  MVCCGC, prints the number removed
//	raw                               every raw MVCC record, decoded
//	batch                             input: put/del/get/scan lines run on one
//	                                  batch (reads see its writes), then commit
//	snapshot                          take (replacing) the file's snapshot
//	snap-get k=<key> ts=<int>         MVCCGet on the snapshot
//	restart                           close and reopen the store on the same FS
//
// The scripts run twice: once as they are, and once with every key in the
// engine's newest-version cache (newest.go), whose answers must be the
// same.
func TestMVCCDataDriven(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testMVCCDataDriven(t, Options{}) })
	t.Run("newest-cached", func(t *testing.T) {
		testMVCCDataDriven(t, Options{NewestCached: []Span{{Start: []byte{}}}})
	})
}

func testMVCCDataDriven(t *testing.T, opts Options) {
	datadriven.Walk(t, "testdata/mvcc", func(t *testing.T, path string) {
		fs := vfs.NewMem()
		opts.FS = fs
		e, err := Open("store", opts)
		if err != nil {
			t.Fatal(err)
		}
		var snap *Snapshot
		defer func() {
			if snap != nil {
				_ = snap.Close()
			}
			if err := e.Close(); err != nil {
				t.Error(err)
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "batch":
				b := e.NewBatch()
				defer b.Close()
				var out strings.Builder
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					cmd, args := parseLine(t, line)
					fmt.Fprintf(&out, "%s\n", runMVCC(t, b, b, cmd, args))
				}
				if err := b.Commit(true); err != nil {
					return fmt.Sprintf("commit error: %v", err)
				}
				return out.String()
			case "snapshot":
				if snap != nil {
					_ = snap.Close()
				}
				snap = e.NewSnapshot()
				return "ok"
			case "snap-get":
				return runMVCC(t, snap, nil, "get", cmdArgs(d))
			case "restart":
				if snap != nil {
					_ = snap.Close()
					snap = nil
				}
				if err := e.Close(); err != nil {
					return err.Error()
				}
				if e, err = Open("store", opts); err != nil {
					return err.Error()
				}
				return "ok"
			case "gc":
				a := cmdArgs(d)
				start, end := spanArgs(t, a)
				n, err := e.MVCCGC(start, end, mustInt(t, a, "threshold"))
				if err != nil {
					return err.Error()
				}
				return fmt.Sprintf("removed %d", n)
			case "raw":
				s := e.NewSnapshot()
				defer func() { _ = s.Close() }()
				var out strings.Builder
				err := s.ExportSpan(nil, nil, func(k, v []byte) error {
					key, ts, err := DecodeMVCCKey(k)
					if err != nil {
						return err
					}
					val, tomb, err := decodeValue(v)
					if err != nil {
						return err
					}
					if tomb {
						fmt.Fprintf(&out, "%q@%d <tombstone>\n", key, ts)
					} else {
						fmt.Fprintf(&out, "%q@%d=%q\n", key, ts, val)
					}
					return nil
				})
				if err != nil {
					return err.Error()
				}
				if out.Len() == 0 {
					return "<empty>"
				}
				return out.String()
			case "put", "del":
				b := e.NewBatch()
				defer b.Close()
				res := runMVCC(t, nil, b, d.Cmd, cmdArgs(d))
				if res != "ok" {
					return res
				}
				if err := b.Commit(true); err != nil {
					return err.Error()
				}
				return "ok"
			default:
				return runMVCC(t, e, nil, d.Cmd, cmdArgs(d))
			}
		})
	})
}

func cmdArgs(d *datadriven.TestData) map[string]string {
	m := map[string]string{}
	for _, a := range d.CmdArgs {
		m[a.Key] = strings.Join(a.Vals, ",")
	}
	return m
}

func parseLine(t *testing.T, line string) (string, map[string]string) {
	fields := strings.Fields(line)
	m := map[string]string{}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("bad argument %q", f)
		}
		m[k] = v
	}
	return fields[0], m
}

func unquote(t *testing.T, s string) []byte {
	u, err := strconv.Unquote(`"` + s + `"`)
	if err != nil {
		t.Fatalf("bad key/value %q: %v", s, err)
	}
	return []byte(u)
}

func mustInt(t *testing.T, a map[string]string, k string) int64 {
	v, ok := a[k]
	if !ok {
		t.Fatalf("missing %s=", k)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func spanArgs(t *testing.T, a map[string]string) (start, end []byte) {
	start = unquote(t, a["start"])
	if v, ok := a["end"]; ok {
		end = unquote(t, v)
	}
	return start, end
}

// runMVCC runs one read or write command against r or w.
func runMVCC(t *testing.T, r Reader, w Writer, cmd string, a map[string]string) string {
	switch cmd {
	case "put":
		if err := w.MVCCPut(unquote(t, a["k"]), mustInt(t, a, "ts"), unquote(t, a["v"])); err != nil {
			return errString(err)
		}
		return "ok"
	case "del":
		if err := w.MVCCDelete(unquote(t, a["k"]), mustInt(t, a, "ts")); err != nil {
			return errString(err)
		}
		return "ok"
	case "get":
		if r == nil {
			r = w.(Reader)
		}
		k := unquote(t, a["k"])
		v, vts, found, err := r.MVCCGet(k, mustInt(t, a, "ts"))
		switch {
		case err != nil:
			return errString(err)
		case found:
			return fmt.Sprintf("%q@%d=%q", k, vts, v)
		case vts != 0:
			return fmt.Sprintf("not found (tombstone@%d)", vts)
		default:
			return "not found"
		}
	case "latest":
		ts, err := r.MVCCLatest(unquote(t, a["k"]))
		if err != nil {
			return errString(err)
		}
		return strconv.FormatInt(ts, 10)
	case "scan":
		if r == nil {
			r = w.(Reader)
		}
		start, end := spanArgs(t, a)
		limit := 0
		if _, ok := a["limit"]; ok {
			limit = int(mustInt(t, a, "limit"))
		}
		var out []string
		err := r.MVCCScan(start, end, mustInt(t, a, "ts"), limit, func(k, v []byte, vts int64) error {
			out = append(out, fmt.Sprintf("%q@%d=%q", k, vts, v))
			return nil
		})
		if err != nil {
			return errString(err)
		}
		if len(out) == 0 {
			return "<empty>"
		}
		return strings.Join(out, "\n")
	}
	t.Fatalf("unknown command %q", cmd)
	return ""
}

// errString prints an error with the sentinel classes tests care about.
func errString(err error) string {
	var marks []string
	for _, s := range []struct {
		err  error
		name string
	}{{ErrKeyTooLarge, "ErrKeyTooLarge"}, {ErrValueTooLarge, "ErrValueTooLarge"},
		{ErrInvalidKey, "ErrInvalidKey"}, {ErrStoreFailed, "ErrStoreFailed"}} {
		if errors.Is(err, s.err) {
			marks = append(marks, s.name)
		}
	}
	return fmt.Sprintf("error: %v %v", err, marks)
}
