package storage

import (
	"encoding/binary"

	"github.com/cockroachdb/errors"
)

// Key prefixes. Every raw Pebble key begins with exactly one of these bytes;
// the prefix decides which part of the store the key belongs to. New
// prefixes may be added, existing ones never renumbered (they are on disk).
const (
	// prefixLocal holds store-local keys: node identity, cluster id.
	prefixLocal byte = 0x01
	// prefixRaft holds per-group Raft state: log, hard state, truncated
	// state, conf state, replica metadata.
	prefixRaft byte = 0x02
	// prefixPrepared is reserved for prepared-transaction records.
	prefixPrepared byte = 0x03
	// prefixMVCC is the MVCC user keyspace. It is last so that user data
	// sorts after all system data and the keyspace is one contiguous span.
	prefixMVCC byte = 0x10
	// prefixMVCCEnd is the exclusive upper bound of the MVCC keyspace.
	prefixMVCCEnd byte = 0x11
)

// Escaping of user keys inside the MVCC keyspace. 0x00 is written as
// 0x00 0xFF and the key is terminated with 0x00 0x01. Because the terminator
// sorts below every escaped continuation (0x00 0xFF) and below every other
// byte, a key sorts before every key it is a proper prefix of, so encoded
// order equals user-key order and no encoded key is a prefix of another
// encoded user key.
const (
	escByte    byte = 0x00
	escEscaped byte = 0xFF
	escTerm    byte = 0x01
	// escPastTerm follows escByte in no encoded key; seeking to
	// escape(k)+0x00 0x02 lands on the first version of the next user key.
	escPastTerm byte = 0x02
)

// tsLen is the length of the encoded timestamp suffix.
const tsLen = 8

// MVCC value tags: the first byte of every MVCC value.
const (
	tagValue     byte = 0x01
	tagTombstone byte = 0x02
)

// ErrInvalidKey marks raw keys that do not decode as MVCC keys.
var ErrInvalidKey = errors.New("storage: invalid MVCC key")

// ErrInvalidValue marks raw values that do not decode as MVCC values.
var ErrInvalidValue = errors.New("storage: invalid MVCC value")

// appendEscapedKey appends prefix-free, order-preserving escaping of key,
// including the terminator.
func appendEscapedKey(dst, key []byte) []byte {
	for _, c := range key {
		if c == escByte {
			dst = append(dst, escByte, escEscaped)
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, escByte, escTerm)
}

// mvccKeyPrefix is the encoding shared by all versions of key: the MVCC
// prefix byte and the escaped key with its terminator.
func mvccKeyPrefix(key []byte) []byte {
	dst := make([]byte, 0, len(key)+3+tsLen)
	dst = append(dst, prefixMVCC)
	return appendEscapedKey(dst, key)
}

// EncodeMVCCKey returns the raw key of version ts of key. Versions of one key
// sort newest first because the timestamp is stored inverted.
func EncodeMVCCKey(key []byte, ts int64) []byte {
	return appendTS(mvccKeyPrefix(key), ts)
}

func appendTS(dst []byte, ts int64) []byte {
	return binary.BigEndian.AppendUint64(dst, ^uint64(ts))
}

// mvccSpanBounds returns the raw bounds covering every version of every user
// key in [start, end); end == nil means the end of the user keyspace.
func mvccSpanBounds(start, end []byte) (lower, upper []byte) {
	lower = mvccKeyPrefix(start)
	if end == nil {
		upper = []byte{prefixMVCCEnd}
	} else {
		upper = mvccKeyPrefix(end)
	}
	return lower, upper
}

// nextUserKeySeek returns the smallest raw key greater than every version of
// the user key whose prefix (as returned by mvccKeyPrefix) is p.
func nextUserKeySeek(p []byte) []byte {
	out := append([]byte(nil), p...)
	out[len(out)-1] = escPastTerm
	return out
}

// DecodeMVCCKey splits a raw MVCC key into user key and timestamp. The
// returned key is freshly allocated. It validates the whole encoding, as raw
// keys may arrive from another node in a snapshot.
func DecodeMVCCKey(raw []byte) (key []byte, ts int64, err error) {
	key, prefixLen, err := decodeMVCCPrefix(raw)
	if err != nil {
		return nil, 0, err
	}
	if len(raw)-prefixLen != tsLen {
		return nil, 0, errors.Mark(errors.Newf("storage: MVCC key %x: timestamp suffix has %d bytes, want %d",
			raw, len(raw)-prefixLen, tsLen), ErrInvalidKey)
	}
	ts = int64(^binary.BigEndian.Uint64(raw[prefixLen:]))
	if ts <= 0 {
		return nil, 0, errors.Mark(errors.Newf("storage: MVCC key %x: timestamp %d is not positive", raw, ts), ErrInvalidKey)
	}
	return key, ts, nil
}

// decodeMVCCPrefix unescapes the user key of raw and returns it with the
// length of the prefix (MVCC byte, escaped key, terminator).
func decodeMVCCPrefix(raw []byte) (key []byte, prefixLen int, err error) {
	if len(raw) == 0 || raw[0] != prefixMVCC {
		return nil, 0, errors.Mark(errors.Newf("storage: raw key %x is not in the MVCC keyspace", raw), ErrInvalidKey)
	}
	key = make([]byte, 0, len(raw))
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		if c != escByte {
			key = append(key, c)
			continue
		}
		if i+1 >= len(raw) {
			break
		}
		switch raw[i+1] {
		case escEscaped:
			key = append(key, escByte)
			i++
		case escTerm:
			return key, i + 2, nil
		default:
			return nil, 0, errors.Mark(errors.Newf("storage: MVCC key %x: bad escape 0x00 0x%02x at %d", raw, raw[i+1], i), ErrInvalidKey)
		}
	}
	return nil, 0, errors.Mark(errors.Newf("storage: MVCC key %x: unterminated user key", raw), ErrInvalidKey)
}

// splitRawMVCC returns the prefix (as mvccKeyPrefix would) and the timestamp
// of a raw key known to be well formed (read back from our own keyspace).
// It avoids the allocation of DecodeMVCCKey on the read path.
func splitRawMVCC(raw []byte) (prefix []byte, ts int64, ok bool) {
	if len(raw) < 1+2+tsLen || raw[0] != prefixMVCC {
		return nil, 0, false
	}
	p := raw[:len(raw)-tsLen]
	if p[len(p)-2] != escByte || p[len(p)-1] != escTerm {
		return nil, 0, false
	}
	return p, int64(^binary.BigEndian.Uint64(raw[len(p):])), true
}

// unescapeInto appends the user key of a well-formed prefix to dst.
func unescapeInto(dst, prefix []byte) []byte {
	body := prefix[1 : len(prefix)-2]
	for i := 0; i < len(body); i++ {
		dst = append(dst, body[i])
		if body[i] == escByte {
			i++ // skip escEscaped
		}
	}
	return dst
}

func encodeValue(value []byte) []byte {
	out := make([]byte, 1+len(value))
	out[0] = tagValue
	copy(out[1:], value)
	return out
}

var tombstoneValue = []byte{tagTombstone}

// decodeValue returns the user value and whether the version is a tombstone.
func decodeValue(raw []byte) (value []byte, tombstone bool, err error) {
	if len(raw) == 0 {
		return nil, false, errors.Mark(errors.New("storage: empty MVCC value"), ErrInvalidValue)
	}
	switch raw[0] {
	case tagValue:
		return raw[1:], false, nil
	case tagTombstone:
		if len(raw) != 1 {
			return nil, false, errors.Mark(errors.Newf("storage: tombstone with %d trailing bytes", len(raw)-1), ErrInvalidValue)
		}
		return nil, true, nil
	default:
		return nil, false, errors.Mark(errors.Newf("storage: unknown MVCC value tag 0x%02x", raw[0]), ErrInvalidValue)
	}
}

// Raft keys: prefixRaft, group id (8 bytes big-endian), a suffix byte, and
// for log entries the index (8 bytes big-endian) so entries sort by index.
const (
	raftSuffixConfState byte = 'c'
	raftSuffixHardState byte = 'h'
	raftSuffixLog       byte = 'l'
	raftSuffixMeta      byte = 'm'
	raftSuffixTruncated byte = 't'
)

func raftGroupPrefix(groupID uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixRaft}, groupID)
}

func raftKey(groupID uint64, suffix byte) []byte {
	return append(raftGroupPrefix(groupID), suffix)
}

func raftLogKey(groupID, index uint64) []byte {
	return binary.BigEndian.AppendUint64(raftKey(groupID, raftSuffixLog), index)
}

// raftGroupSpan returns the bounds of every key of the group.
func raftGroupSpan(groupID uint64) (lower, upper []byte) {
	lower = raftGroupPrefix(groupID)
	if groupID == ^uint64(0) {
		return lower, []byte{prefixRaft + 1}
	}
	return lower, raftGroupPrefix(groupID + 1)
}

// raftLogSpan returns the bounds of log entries [lo, hi) of the group;
// hi == 0 means no upper bound.
func raftLogSpan(groupID, lo, hi uint64) (lower, upper []byte) {
	lower = raftLogKey(groupID, lo)
	if hi == 0 {
		upper = raftKey(groupID, raftSuffixLog+1)
	} else {
		upper = raftLogKey(groupID, hi)
	}
	return lower, upper
}

func localKey(name string) []byte {
	return append([]byte{prefixLocal}, name...)
}
