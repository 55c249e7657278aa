package storage

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2/vfs"
	"pgregory.net/rapid"
)

// userKeyGen favours the bytes that matter to the escaping: 0x00, 0x01,
// 0x02, 0xFF, and short keys that are prefixes of one another.
func userKeyGen() *rapid.Generator[[]byte] {
	return rapid.SliceOfN(rapid.SampledFrom([]byte{0x00, 0x01, 0x02, 'a', 'b', 0xFE, 0xFF}), 0, 6)
}

func tsGen() *rapid.Generator[int64] {
	return rapid.OneOf(rapid.Int64Range(1, 5), rapid.Int64Range(1, 1<<62),
		rapid.Just(int64(1<<63-1)))
}

// TestMVCCKeyOrderProperty checks invariant 1: raw order is user key order,
// then timestamp descending; and encoding round-trips.
func TestMVCCKeyOrderProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		k1, k2 := userKeyGen().Draw(t, "k1"), userKeyGen().Draw(t, "k2")
		ts1, ts2 := tsGen().Draw(t, "ts1"), tsGen().Draw(t, "ts2")
		e1, e2 := EncodeMVCCKey(k1, ts1), EncodeMVCCKey(k2, ts2)

		want := bytes.Compare(k1, k2)
		if want == 0 {
			switch {
			case ts1 > ts2:
				want = -1
			case ts1 < ts2:
				want = 1
			}
		}
		if got := bytes.Compare(e1, e2); got != want {
			t.Fatalf("order of (%x@%d) vs (%x@%d): encoded %d, want %d", k1, ts1, k2, ts2, got, want)
		}
		// No encoded user-key prefix is a prefix of another key's encoding.
		p1, p2 := mvccKeyPrefix(k1), mvccKeyPrefix(k2)
		if !bytes.Equal(k1, k2) && (bytes.HasPrefix(e2, p1) || bytes.HasPrefix(e1, p2)) {
			t.Fatalf("prefix collision between %x and %x", k1, k2)
		}
		// The seek past all versions of k1 lands after every version of k1
		// and at or before every version of any greater key.
		past := nextUserKeySeek(p1)
		if bytes.Compare(e1, past) >= 0 {
			t.Fatalf("nextUserKeySeek(%x) not after version %d", k1, ts1)
		}
		if bytes.Compare(k2, k1) > 0 && bytes.Compare(e2, past) < 0 {
			t.Fatalf("nextUserKeySeek(%x) skips greater key %x", k1, k2)
		}

		dk, dts, err := DecodeMVCCKey(e1)
		if err != nil || !bytes.Equal(dk, k1) || dts != ts1 {
			t.Fatalf("round trip of %x@%d: got %x@%d, %v", k1, ts1, dk, dts, err)
		}
		prefix, sts, ok := splitRawMVCC(e1)
		if !ok || sts != ts1 || !bytes.Equal(unescapeInto(nil, prefix), k1) {
			t.Fatalf("splitRawMVCC(%x) = %x, %d, %v", e1, prefix, sts, ok)
		}
	})
}

// FuzzDecodeMVCCKey feeds arbitrary bytes (as arrive in Raft snapshots) to
// the decoder: it must never panic, and whatever it accepts must re-encode
// to the same bytes.
func FuzzDecodeMVCCKey(f *testing.F) {
	f.Add(EncodeMVCCKey([]byte("a\x00b"), 7))
	f.Add(EncodeMVCCKey(nil, 1))
	f.Add([]byte{prefixMVCC, 0x00})
	f.Add([]byte{prefixMVCC, 0x00, 0x03})
	f.Add([]byte{prefixRaft, 1, 2})
	f.Fuzz(func(t *testing.T, raw []byte) {
		key, ts, err := DecodeMVCCKey(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error not marked ErrInvalidKey: %v", err)
			}
			return
		}
		if re := EncodeMVCCKey(key, ts); !bytes.Equal(re, raw) {
			t.Fatalf("accepted %x but it re-encodes as %x", raw, re)
		}
	})
}

func TestLimits(t *testing.T) {
	e, err := Open("s", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	b := e.NewBatch()
	defer b.Close()
	for _, tc := range []struct {
		key, value []byte
		mark       error
	}{
		{make([]byte, MaxKeySize+1), nil, ErrKeyTooLarge},
		{[]byte("k"), make([]byte, MaxValueSize+1), ErrValueTooLarge},
	} {
		err := b.MVCCPut(tc.key, 1, tc.value)
		if !errors.Is(err, tc.mark) {
			t.Fatalf("put: got %v, want %v", err, tc.mark)
		}
		if !strings.Contains(err.Error(), "exceeds the limit") {
			t.Fatalf("unclear message: %v", err)
		}
	}
	if err := b.MVCCDelete(make([]byte, MaxKeySize+1), 1); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("delete: %v", err)
	}
	if err := b.MVCCPut(make([]byte, MaxKeySize), 1, make([]byte, MaxValueSize)); err != nil {
		t.Fatalf("put at the limits: %v", err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	v, _, found, err := e.MVCCGet(make([]byte, MaxKeySize), 1)
	if err != nil || !found || len(v) != MaxValueSize {
		t.Fatalf("get at the limits: %d bytes, %v, %v", len(v), found, err)
	}
}
