package txn

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/cockroachdb/errors"
)

// This file holds the record types of the replicated 2PC state machines
// (participant.go, coordinator.go), their byte encodings, their key layout
// under the store's prepared-records prefix, and the store interfaces they
// write through.
//
// # Key layout
//
// Every record key is a raw store key under prefix 0x03, which the storage
// engine reserves for prepared-transaction records (storage/keys.go,
// prefixPrepared). The group comes next, so one group's records are one
// contiguous span (RecordSpan) that a Raft snapshot copies and a replica
// removal clears:
//
//	0x03 <group u64 BE> 'p' <txn 16>              participant: prepared record (PrepareRecord)
//	0x03 <group u64 BE> 'd' <txn 16>              participant: decided tombstone (Outcome + seq)
//	0x03 <group u64 BE> 'q' <seq u64 BE> <txn 16> participant: tombstone age order (empty value)
//	0x03 <group u64 BE> 'm'                       participant: meta (next seq, tombstones, horizon)
//	0x03 <group u64 BE> 'c' <txn 16>              coordinator: decision record (DecisionRecord)
//
// Values start with a format version byte (recordVersion). Integers are
// varints (encoding/binary), byte strings are length-prefixed.

// GroupID names a Raft group (a range). It matches paxosgroup's uint64
// group IDs.
type GroupID uint64

// Write is one write of a transaction at one group.
type Write struct {
	Key []byte
	// Value is the new value; ignored when Delete is set.
	Value []byte
	// Delete writes a tombstone version instead of a value.
	Delete bool
}

// Decision is a transaction's outcome. It never changes once recorded
// (DESIGN.md invariant 9).
type Decision uint8

const (
	// DecisionUnknown: no decision is recorded (the zero value).
	DecisionUnknown Decision = iota
	// DecisionCommit: the transaction committed at a commit timestamp.
	DecisionCommit
	// DecisionAbort: the transaction aborted.
	DecisionAbort
)

// String returns "unknown", "commit" or "abort".
func (d Decision) String() string {
	switch d {
	case DecisionUnknown:
		return "unknown"
	case DecisionCommit:
		return "commit"
	case DecisionAbort:
		return "abort"
	}
	return "decision(" + strconv.Itoa(int(d)) + ")"
}

// PrepareRecord is what a participant logs and keeps for a prepared
// transaction: enough to commit it without the client (writes), to rebuild
// its locks at a new leader (write keys exclusive, read keys shared;
// DESIGN.md invariant 8 and the read-lock note in participant.go), and to
// ask its coordinator for the decision (Coordinator, Participants).
type PrepareRecord struct {
	ID TxnID
	// StartTS is the transaction's wound-wait priority (TxnMeta.StartTS),
	// needed to rebuild its locks.
	StartTS int64
	// PrepareTS is the prepare timestamp this participant's leader
	// assigned: above every timestamp it had assigned or closed
	// (ChoosePrepareTS). The commit timestamp must exceed it.
	PrepareTS int64
	// Coordinator is the group holding the decision; it is one of
	// Participants.
	Coordinator GroupID
	// Participants are all groups the transaction writes or reads at,
	// sorted, without duplicates.
	Participants []GroupID
	// Writes are the transaction's writes at this group.
	Writes []Write
	// ReadKeys are the keys the transaction read (under shared locks) at
	// this group.
	ReadKeys [][]byte
}

// Meta returns the lock-table view of the transaction (prepared).
func (r *PrepareRecord) Meta() TxnMeta {
	return TxnMeta{ID: r.ID, StartTS: r.StartTS, Prepared: true}
}

// WriteKeys returns the keys of the writes (fresh slice, shared bytes).
func (r *PrepareRecord) WriteKeys() [][]byte {
	keys := make([][]byte, len(r.Writes))
	for i, w := range r.Writes {
		keys[i] = w.Key
	}
	return keys
}

// clone returns a deep copy, so that records handed out or kept never
// alias the caller's slices.
func (r PrepareRecord) clone() PrepareRecord {
	r.Participants = slices.Clone(r.Participants)
	ws := make([]Write, len(r.Writes))
	for i, w := range r.Writes {
		ws[i] = Write{Key: bytes.Clone(w.Key), Value: bytes.Clone(w.Value), Delete: w.Delete}
	}
	r.Writes = ws
	rk := make([][]byte, len(r.ReadKeys))
	for i, k := range r.ReadKeys {
		rk[i] = bytes.Clone(k)
	}
	r.ReadKeys = rk
	return r
}

// Outcome is what a participant remembers of a decided transaction (its
// tombstone).
type Outcome struct {
	Decision Decision
	// CommitTS is the commit timestamp (DecisionCommit only).
	CommitTS int64
	// PrepareTS is the prepare timestamp if the transaction was prepared
	// here before it was decided, else 0.
	PrepareTS int64
}

// DecisionRecord is the coordinator's durable decision for a transaction.
type DecisionRecord struct {
	ID       TxnID
	Decision Decision
	// CommitTS is the commit timestamp (DecisionCommit only, else 0).
	CommitTS int64
	// Participants must each apply the decision and ack it; sorted, no
	// duplicates.
	Participants []GroupID
	// Acked are the participants that confirmed, sorted.
	Acked []GroupID
}

// AllAcked reports whether every participant acked the decision.
func (r *DecisionRecord) AllAcked() bool { return len(r.Acked) == len(r.Participants) }

func (r DecisionRecord) clone() DecisionRecord {
	r.Participants = slices.Clone(r.Participants)
	r.Acked = slices.Clone(r.Acked)
	return r
}

// Records is the raw key/value space of 2PC records (prefix 0x03). The
// implementation at integration is the apply batch of the group's Raft
// apply loop: reads must see the batch's own earlier writes, and the whole
// batch (records, versions, applied index) commits atomically.
//
// Keys and values passed in are owned by the callee after the call only if
// it copies them; the caller may reuse them. Returned slices may be
// retained by the caller until the next write.
type Records interface {
	// GetRecord returns the value at key, or ok=false if there is none.
	GetRecord(key []byte) (value []byte, ok bool, err error)
	// PutRecord sets key to value.
	PutRecord(key, value []byte) error
	// DeleteRecord removes key (no error if absent).
	DeleteRecord(key []byte) error
	// ScanRecords calls fn for each record with start <= key < end, in key
	// order, until fn returns false. fn must not write.
	ScanRecords(start, end []byte, fn func(key, value []byte) bool) error
}

// Versions is the MVCC user keyspace, written by commits (DESIGN.md
// invariant 1: all writes of a transaction carry its commit timestamp).
type Versions interface {
	// PutVersion writes value as the version of key at ts (ts > 0).
	PutVersion(key []byte, ts int64, value []byte) error
	// DeleteVersion writes a tombstone version of key at ts (ts > 0).
	DeleteVersion(key []byte, ts int64) error
}

// Store is what the 2PC state machines write through.
type Store interface {
	Records
	Versions
}

// ErrCorruptRecord marks a 2PC record that does not decode.
var ErrCorruptRecord = errors.New("txn: corrupt 2PC record")

const (
	// recordPrefix is storage's prefixPrepared.
	recordPrefix byte = 0x03
	// recordVersion is the first byte of every record value.
	recordVersion byte = 1

	kindPrepared  byte = 'p'
	kindTombstone byte = 'd'
	kindAgeOrder  byte = 'q'
	kindMeta      byte = 'm'
	kindDecision  byte = 'c'
)

// RecordSpan returns the span [start, end) of raw keys holding group's 2PC
// records: what a Raft snapshot of the group must carry and what removing
// the replica must clear.
func RecordSpan(group GroupID) (start, end []byte) {
	start = binary.BigEndian.AppendUint64([]byte{recordPrefix}, uint64(group))
	return start, bytesPrefixEnd(start)
}

func bytesPrefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

func recordKey(group GroupID, kind byte, suffix ...[]byte) []byte {
	k := binary.BigEndian.AppendUint64([]byte{recordPrefix}, uint64(group))
	k = append(k, kind)
	for _, s := range suffix {
		k = append(k, s...)
	}
	return k
}

func txnKey(group GroupID, kind byte, id TxnID) []byte { return recordKey(group, kind, id[:]) }

func ageKey(group GroupID, seq uint64, id TxnID) []byte {
	return recordKey(group, kindAgeOrder, binary.BigEndian.AppendUint64(nil, seq), id[:])
}

// encoder appends record fields.
type encoder struct{ b []byte }

func newEncoder() *encoder        { return &encoder{b: []byte{recordVersion}} }
func (e *encoder) int(v int64)    { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) uint(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) byte(v byte)    { e.b = append(e.b, v) }
func (e *encoder) bytes(v []byte) { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) id(v TxnID)     { e.b = append(e.b, v[:]...) }
func (e *encoder) groups(gs []GroupID) {
	e.uint(uint64(len(gs)))
	for _, g := range gs {
		e.uint(uint64(g))
	}
}

// decoder reads record fields; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func newDecoder(b []byte) *decoder {
	d := &decoder{b: b}
	if v := d.byte(); d.err == nil && v != recordVersion {
		d.fail("unknown record version %d", v)
	}
	return d
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = errors.Mark(errors.Newf("txn: "+format, args...), ErrCorruptRecord)
	}
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) { // every element takes at least one byte
		d.fail("count %d exceeds remaining %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	v := bytes.Clone(d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *decoder) id() TxnID {
	var id TxnID
	if len(d.b) < len(id) {
		d.fail("truncated txn ID")
		return id
	}
	copy(id[:], d.b)
	d.b = d.b[len(id):]
	return id
}

func (d *decoder) groups() []GroupID {
	n := d.count()
	var gs []GroupID
	for i := 0; i < n && d.err == nil; i++ {
		gs = append(gs, GroupID(d.uint()))
	}
	return gs
}

func (d *decoder) decision() Decision {
	v := Decision(d.byte())
	if v > DecisionAbort {
		d.fail("bad decision %d", v)
	}
	return v
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// EncodePrepareRecord returns the value of a prepared record.
func EncodePrepareRecord(r *PrepareRecord) []byte {
	e := newEncoder()
	e.id(r.ID)
	e.int(r.StartTS)
	e.int(r.PrepareTS)
	e.uint(uint64(r.Coordinator))
	e.groups(r.Participants)
	e.uint(uint64(len(r.Writes)))
	for _, w := range r.Writes {
		if w.Delete {
			e.byte(1)
			e.bytes(w.Key)
			continue
		}
		e.byte(0)
		e.bytes(w.Key)
		e.bytes(w.Value)
	}
	e.uint(uint64(len(r.ReadKeys)))
	for _, k := range r.ReadKeys {
		e.bytes(k)
	}
	return e.b
}

// DecodePrepareRecord decodes EncodePrepareRecord's output. Errors are
// marked ErrCorruptRecord.
func DecodePrepareRecord(b []byte) (PrepareRecord, error) {
	d := newDecoder(b)
	var r PrepareRecord
	r.ID = d.id()
	r.StartTS = d.int()
	r.PrepareTS = d.int()
	r.Coordinator = GroupID(d.uint())
	r.Participants = d.groups()
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		var w Write
		switch d.byte() {
		case 0:
			w.Key, w.Value = d.bytes(), d.bytes()
		case 1:
			w.Key, w.Delete = d.bytes(), true
		default:
			d.fail("bad write kind")
		}
		r.Writes = append(r.Writes, w)
	}
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		r.ReadKeys = append(r.ReadKeys, d.bytes())
	}
	return r, d.done()
}

// tombstone is a participant's stored Outcome with its age sequence.
type tombstone struct {
	Outcome
	seq uint64
}

func encodeTombstone(t tombstone) []byte {
	e := newEncoder()
	e.byte(byte(t.Decision))
	e.int(t.CommitTS)
	e.int(t.PrepareTS)
	e.uint(t.seq)
	return e.b
}

func decodeTombstone(b []byte) (tombstone, error) {
	d := newDecoder(b)
	var t tombstone
	t.Decision = d.decision()
	t.CommitTS = d.int()
	t.PrepareTS = d.int()
	t.seq = d.uint()
	if d.err == nil && t.Decision == DecisionUnknown {
		d.fail("tombstone without decision")
	}
	return t, d.done()
}

// participantMeta is the participant's small bookkeeping record.
type participantMeta struct {
	// nextSeq numbers tombstones in decision order.
	nextSeq uint64
	// tombstones counts stored tombstones.
	tombstones uint64
	// forgottenTS is the largest commit or prepare timestamp of a
	// tombstone that was forgotten or evicted (see Participant).
	forgottenTS int64
}

func encodeMeta(m participantMeta) []byte {
	e := newEncoder()
	e.uint(m.nextSeq)
	e.uint(m.tombstones)
	e.int(m.forgottenTS)
	return e.b
}

func decodeMeta(b []byte) (participantMeta, error) {
	d := newDecoder(b)
	m := participantMeta{nextSeq: d.uint(), tombstones: d.uint(), forgottenTS: d.int()}
	return m, d.done()
}

// EncodeDecisionRecord returns the value of a coordinator decision record.
func EncodeDecisionRecord(r *DecisionRecord) []byte {
	e := newEncoder()
	e.id(r.ID)
	e.byte(byte(r.Decision))
	e.int(r.CommitTS)
	e.groups(r.Participants)
	e.groups(r.Acked)
	return e.b
}

// DecodeDecisionRecord decodes EncodeDecisionRecord's output. Errors are
// marked ErrCorruptRecord.
func DecodeDecisionRecord(b []byte) (DecisionRecord, error) {
	d := newDecoder(b)
	var r DecisionRecord
	r.ID = d.id()
	r.Decision = d.decision()
	r.CommitTS = d.int()
	r.Participants = d.groups()
	r.Acked = d.groups()
	if d.err == nil && r.Decision == DecisionUnknown {
		d.fail("decision record without decision")
	}
	return r, d.done()
}

// MemStore is an in-memory Store for tests and tools: records in a map
// scanned in key order, versions per key. It is not safe for concurrent
// use.
type MemStore struct {
	records  map[string][]byte
	versions map[string]map[int64]MemVersion
}

// MemVersion is one MVCC version in a MemStore.
type MemVersion struct {
	Value  []byte
	Delete bool
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{records: map[string][]byte{}, versions: map[string]map[int64]MemVersion{}}
}

// GetRecord implements Records.
func (s *MemStore) GetRecord(key []byte) ([]byte, bool, error) {
	v, ok := s.records[string(key)]
	return v, ok, nil
}

// PutRecord implements Records.
func (s *MemStore) PutRecord(key, value []byte) error {
	s.records[string(key)] = bytes.Clone(value)
	return nil
}

// DeleteRecord implements Records.
func (s *MemStore) DeleteRecord(key []byte) error {
	delete(s.records, string(key))
	return nil
}

// ScanRecords implements Records.
func (s *MemStore) ScanRecords(start, end []byte, fn func(key, value []byte) bool) error {
	for _, k := range s.recordKeys() {
		if k < string(start) || (end != nil && k >= string(end)) {
			continue
		}
		if !fn([]byte(k), s.records[k]) {
			break
		}
	}
	return nil
}

func (s *MemStore) recordKeys() []string {
	keys := make([]string, 0, len(s.records))
	for k := range s.records {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// PutVersion implements Versions.
func (s *MemStore) PutVersion(key []byte, ts int64, value []byte) error {
	return s.put(key, ts, MemVersion{Value: bytes.Clone(value)})
}

// DeleteVersion implements Versions.
func (s *MemStore) DeleteVersion(key []byte, ts int64) error {
	return s.put(key, ts, MemVersion{Delete: true})
}

func (s *MemStore) put(key []byte, ts int64, v MemVersion) error {
	if ts <= 0 {
		return errors.Newf("txn: version timestamp %d is not positive", ts)
	}
	vs := s.versions[string(key)]
	if vs == nil {
		vs = map[int64]MemVersion{}
		s.versions[string(key)] = vs
	}
	vs[ts] = v
	return nil
}

// VersionKeys returns the keys with versions, sorted.
func (s *MemStore) VersionKeys() [][]byte {
	keys := make([]string, 0, len(s.versions))
	for k := range s.versions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

// Versions returns the version timestamps of key, ascending, and the
// versions at them.
func (s *MemStore) Versions(key []byte) ([]int64, []MemVersion) {
	vs := s.versions[string(key)]
	ts := make([]int64, 0, len(vs))
	for t := range vs {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	out := make([]MemVersion, len(ts))
	for i, t := range ts {
		out[i] = vs[t]
	}
	return ts, out
}

// CopyTo copies the records in [start, end) and every version into dst,
// as a Raft snapshot of one group would (the test store holds one group's
// user keys).
func (s *MemStore) CopyTo(dst *MemStore, start, end []byte) {
	_ = s.ScanRecords(start, end, func(k, v []byte) bool {
		_ = dst.PutRecord(k, v)
		return true
	})
	for k, vs := range s.versions {
		for ts, v := range vs {
			_ = dst.put([]byte(k), ts, MemVersion{Value: bytes.Clone(v.Value), Delete: v.Delete})
		}
	}
}
