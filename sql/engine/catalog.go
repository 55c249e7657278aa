package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/sqlerr"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// The catalog lives in the same transactional key space as the data, so a
// statement reads the descriptors it uses inside its own transaction: a
// schema change is serialized with the statements that use the schema
// (DDL takes exclusive locks on the descriptors every statement reads
// shared), and a snapshot read sees the schema of its timestamp.
//
// There is no descriptor cache: stmtCtx.table keeps a descriptor for one
// statement only, and dbIDs is a guess of a database's id that reading a
// table under it confirms (catalog.table). (The storage engine answers
// descriptor reads from memory, storage/newest.go, but they are still
// reads in the transaction, under its locks.) The online schema changes
// (schemachange.go) rest on what that gives:
//
//  1. Every read-write statement reads its table's descriptor under a
//     shared lock held until its transaction ends (two-phase locking), and
//     a descriptor write needs the exclusive lock at prepare. So the
//     transaction that commits a new descriptor version V is ordered after
//     every writer that read an older version: each of them committed (or
//     aborted) before V's prepare, and every writer that commits after V
//     read V or a later version. No writer ever writes with a version
//     older than the newest committed one. (An optimistic transaction
//     would get the same by validating, at its commit timestamp, the
//     descriptor it read.)
//  2. A snapshot read at timestamp t sees the descriptor and the data of
//     the same t: an index it finds public at t was complete at t.
//  3. Hence one version of the schema is in use by writers at any moment,
//     and an index can go from absent to write-only, and from public to
//     dropping, in one step each (with leased, cached schemas two versions
//     are in use at once, which needs an extra delete-only step between).
//
// Keys, beside rowenc's table data (0xF5 't'):
//
//	0xF5 's' 'D' <lower(name)>              -> DatabaseDesc (JSON)
//	0xF5 's' 'T' <db id: 4 bytes> <lower(name)> -> TableDesc (JSON)
//	0xF5 's' 'N'                            -> next descriptor id (8 bytes)
//	0xF5 's' 'A' <table id: 4 bytes>        -> next AUTO_INCREMENT block (8 bytes)
//	0xF5 's' 'U' <table id: 4 bytes> <index id: 4 bytes>
//	                                        -> a duplicate a writer made in a
//	                                           write-only UNIQUE index (its
//	                                           entry's text)
//
// Names are matched case-insensitively (as MySQL with
// lower_case_table_names=1) and shown as created.

// DatabaseDesc describes a database.
type DatabaseDesc struct {
	ID   uint32
	Name string
}

// TableDesc describes a table. Columns and indexes are never renumbered:
// ids only grow, so rows and index entries written under an older version
// stay readable.
type TableDesc struct {
	ID      uint32
	DBID    uint32
	DBName  string `json:"-"`
	Name    string
	Columns []*ColumnDesc
	// PK lists the primary key's column ids. A table declared without one
	// gets a hidden _rowid column filled from AUTO_INCREMENT.
	PK      []uint32
	Indexes []*IndexDesc
	// NextColumnID and NextIndexID allocate ids.
	NextColumnID, NextIndexID uint32
	// Version counts schema changes.
	Version uint64
}

// ColumnDesc describes a column.
type ColumnDesc struct {
	ID      uint32
	Name    string
	Type    types.T
	NotNull bool
	// Default is the DEFAULT expression's SQL text ("" with HasDefault
	// false: NULL, or no default for NOT NULL columns).
	Default    string
	HasDefault bool
	AutoInc    bool
	// OnUpdateNow: ON UPDATE CURRENT_TIMESTAMP.
	OnUpdateNow bool
	Hidden      bool
	// AddedValue, for a column added by ALTER TABLE with a DEFAULT, is
	// that default evaluated once by the ALTER (rowenc.EncodeValue): the
	// value rows written before the column existed read as, without being
	// rewritten. Evaluating the DEFAULT at each read instead would give
	// them a new CURRENT_TIMESTAMP every time, and an index on the column
	// would disagree with its rows.
	AddedValue []byte `json:",omitempty"`
}

// IndexState is where a secondary index is in its life (schemachange.go).
type IndexState uint8

const (
	// IndexPublic: maintained by writers, used by queries. The zero value,
	// so that descriptors written before states existed read as public.
	IndexPublic IndexState = iota
	// IndexWriteOnly: maintained by every writer, never read by queries,
	// while CREATE INDEX backfills it. A UNIQUE one is not enforced on
	// writers: a duplicate they make fails the CREATE INDEX instead.
	IndexWriteOnly
	// IndexDropping: neither maintained nor read; its entries are being
	// deleted (DROP INDEX, or a failed CREATE INDEX). It keeps no name:
	// an index of the same name may be created beside it.
	IndexDropping
)

func (s IndexState) String() string {
	switch s {
	case IndexPublic:
		return "public"
	case IndexWriteOnly:
		return "write-only"
	case IndexDropping:
		return "dropping"
	}
	return fmt.Sprintf("IndexState(%d)", uint8(s))
}

// IndexDesc describes a secondary index (index id 1 is the primary key).
type IndexDesc struct {
	ID      uint32
	Name    string
	Unique  bool
	Columns []uint32
	Desc    []bool
	State   IndexState `json:",omitempty"`
}

// sameDefinition reports whether ix and o index the same columns the same
// way (names and states aside).
func (ix *IndexDesc) sameDefinition(o *IndexDesc) bool {
	if ix.Unique != o.Unique || len(ix.Columns) != len(o.Columns) || len(ix.Desc) != len(o.Desc) {
		return false
	}
	for i := range ix.Columns {
		if ix.Columns[i] != o.Columns[i] {
			return false
		}
	}
	for i := range ix.Desc {
		if ix.Desc[i] != o.Desc[i] {
			return false
		}
	}
	return true
}

const hiddenRowID = "_rowid"

var nextIDKey = []byte{rowenc.SQLPrefix, 's', 'N'}

func dbKey(name string) []byte {
	return append([]byte{rowenc.SQLPrefix, 's', 'D'}, strings.ToLower(name)...)
}

func tablesPrefix(dbID uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{rowenc.SQLPrefix, 's', 'T'}, dbID)
}

func tableKey(dbID uint32, name string) []byte {
	return append(tablesPrefix(dbID), strings.ToLower(name)...)
}

func autoIncKey(tableID uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{rowenc.SQLPrefix, 's', 'A'}, tableID)
}

// uniqueViolationsPrefix holds the duplicate markers of t's write-only
// UNIQUE indexes.
func uniqueViolationsPrefix(tableID uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{rowenc.SQLPrefix, 's', 'U'}, tableID)
}

// uniqueViolationKey marks that a writer made a duplicate in write-only
// UNIQUE index indexID: the CREATE INDEX building it must fail (a
// transaction that makes the index public reads it under lock, so every
// writer that made a duplicate before is seen, and every later writer
// finds the index public and enforces it).
func uniqueViolationKey(tableID, indexID uint32) []byte {
	return binary.BigEndian.AppendUint32(uniqueViolationsPrefix(tableID), indexID)
}

// column returns the column named name (case-insensitive), or nil.
func (t *TableDesc) column(name string) *ColumnDesc {
	for _, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return c
		}
	}
	return nil
}

func (t *TableDesc) columnByID(id uint32) *ColumnDesc {
	for _, c := range t.Columns {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// colIndex returns the position of column id in t.Columns.
func (t *TableDesc) colIndex(id uint32) int {
	for i, c := range t.Columns {
		if c.ID == id {
			return i
		}
	}
	return -1
}

// index returns the secondary index named name (public or write-only:
// dropping indexes keep no name), or nil.
func (t *TableDesc) index(name string) *IndexDesc {
	for _, ix := range t.Indexes {
		if ix.State != IndexDropping && strings.EqualFold(ix.Name, name) {
			return ix
		}
	}
	return nil
}

// indexByID returns the secondary index with id, in any state, or nil.
func (t *TableDesc) indexByID(id uint32) *IndexDesc {
	for _, ix := range t.Indexes {
		if ix.ID == id {
			return ix
		}
	}
	return nil
}

// columnName names column id for SHOW, also after the column was dropped
// (a dropping index may still list it).
func (t *TableDesc) columnName(id uint32) string {
	if c := t.columnByID(id); c != nil {
		return c.Name
	}
	return fmt.Sprintf("#%d (dropped)", id)
}

// visibleColumns are the columns SELECT * shows.
func (t *TableDesc) visibleColumns() []*ColumnDesc {
	var out []*ColumnDesc
	for _, c := range t.Columns {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// rowDescs is the decode list of every column, in Columns order.
func (t *TableDesc) rowDescs() []rowenc.ColumnDesc {
	out := make([]rowenc.ColumnDesc, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = rowenc.ColumnDesc{ID: c.ID, T: c.Type}
	}
	return out
}

func (t *TableDesc) colIDs() []uint32 {
	out := make([]uint32, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.ID
	}
	return out
}

func (t *TableDesc) pkTypes() []types.T {
	out := make([]types.T, len(t.PK))
	for i, id := range t.PK {
		out[i] = t.columnByID(id).Type
	}
	return out
}

// catalog reads and writes descriptors in one transaction.
type catalog struct {
	tx *txn.Txn
}

func getJSON(ctx context.Context, tx *txn.Txn, key []byte, v any) (bool, error) {
	b, ok, err := tx.Get(ctx, key)
	if err != nil || !ok {
		return false, err
	}
	return true, errors.Wrapf(json.Unmarshal(b, v), "catalog: decoding %q", key)
}

func putJSON(tx *txn.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(key, b)
}

// database returns the named database or error 1049.
func (c catalog) database(ctx context.Context, name string) (*DatabaseDesc, error) {
	var d DatabaseDesc
	ok, err := getJSON(ctx, c.tx, dbKey(name), &d)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, sqlerr.UnknownDatabase(name)
	}
	return &d, nil
}

// table returns db.name or error 1146 (1046 without a database). With a
// guess of the database's id (dbIDs) it reads the table's descriptor
// alone: a table's descriptor is deleted by the transaction that drops
// the table or its database, and ids are never reused, so finding it
// under the shared lock shows that database and table exist as long as
// the lock is held (DROP DATABASE must take that descriptor exclusively
// too). Not finding it, it reads the database to tell which error it is,
// or to correct a guess that a dropped and re-created database outdated.
func (c catalog) table(ctx context.Context, db, name string) (*TableDesc, error) {
	if db == "" {
		return nil, errNoDatabase()
	}
	if g, ok := dbIDs.Load(strings.ToLower(db)); ok {
		guess := g.(dbGuess)
		key := tableKey(guess.id, name)
		raw, found, err := c.tx.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		if found {
			t, err := decodeTable(key, raw)
			if err != nil {
				return nil, err
			}
			t.DBName = guess.name
			return t, nil
		}
	}
	d, err := c.database(ctx, db)
	if err != nil {
		return nil, err
	}
	dbIDs.Store(strings.ToLower(db), dbGuess{id: d.ID, name: d.Name})
	key := tableKey(d.ID, name)
	raw, ok, err := c.tx.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, sqlerr.NoSuchTable(d.Name, name)
	}
	t, err := decodeTable(key, raw)
	if err != nil {
		return nil, err
	}
	t.DBName = d.Name
	return t, nil
}

// tableDescs caches decoded table descriptors process-wide, by key, with
// the stored bytes they were decoded from. Every statement still reads
// its tables' descriptors in its transaction (that read is what orders it
// against schema changes); the cache only saves decoding the JSON again,
// which was a tenth of a busy node's CPU. A hit is used only when the
// bytes read are the cached ones, and is returned as a deep copy: DDL
// edits the descriptor it gets.
var tableDescs sync.Map // string(key) -> *cachedTable

type cachedTable struct {
	raw  []byte
	desc *TableDesc
}

func decodeTable(key, raw []byte) (*TableDesc, error) {
	if e, ok := tableDescs.Load(string(key)); ok && bytes.Equal(e.(*cachedTable).raw, raw) {
		return e.(*cachedTable).desc.clone(), nil
	}
	var t TableDesc
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, errors.Wrap(err, "catalog: decoding a table")
	}
	tableDescs.Store(string(key), &cachedTable{raw: bytes.Clone(raw), desc: t.clone()})
	return &t, nil
}

// clone is a deep copy of t (AddedValue, never edited in place, is
// shared).
func (t *TableDesc) clone() *TableDesc {
	c := *t
	c.Columns = make([]*ColumnDesc, len(t.Columns))
	for i, col := range t.Columns {
		cc := *col
		c.Columns[i] = &cc
	}
	c.PK = slices.Clone(t.PK)
	c.Indexes = make([]*IndexDesc, len(t.Indexes))
	for i, ix := range t.Indexes {
		ic := *ix
		ic.Columns, ic.Desc = slices.Clone(ix.Columns), slices.Clone(ix.Desc)
		c.Indexes[i] = &ic
	}
	return &c
}

// dbIDs caches database ids (and names as created) by lower-case name,
// process-wide. It is only a guess, which table checks: a table found
// under the guessed id proves it (see table).
var dbIDs sync.Map // string -> dbGuess

type dbGuess struct {
	id   uint32
	name string
}

func errNoDatabase() error {
	return sqlerr.New(1046, "3D000", "No database selected")
}

// databases lists every database, by name.
func (c catalog) databases(ctx context.Context) ([]*DatabaseDesc, error) {
	start := []byte{rowenc.SQLPrefix, 's', 'D'}
	rows, err := c.tx.Scan(ctx, start, rowenc.PrefixEnd(start), 0)
	if err != nil {
		return nil, err
	}
	out := make([]*DatabaseDesc, 0, len(rows))
	for _, r := range rows {
		var d DatabaseDesc
		if err := json.Unmarshal(r.Value, &d); err != nil {
			return nil, errors.Wrap(err, "catalog: decoding a database")
		}
		out = append(out, &d)
	}
	return out, nil
}

// tables lists the tables of a database, by name.
func (c catalog) tables(ctx context.Context, db *DatabaseDesc) ([]*TableDesc, error) {
	p := tablesPrefix(db.ID)
	rows, err := c.tx.Scan(ctx, p, rowenc.PrefixEnd(p), 0)
	if err != nil {
		return nil, err
	}
	out := make([]*TableDesc, 0, len(rows))
	for _, r := range rows {
		var t TableDesc
		if err := json.Unmarshal(r.Value, &t); err != nil {
			return nil, errors.Wrap(err, "catalog: decoding a table")
		}
		t.DBName = db.Name
		out = append(out, &t)
	}
	return out, nil
}

// newID allocates a descriptor id (databases and tables share the space).
func (c catalog) newID(ctx context.Context) (uint32, error) {
	b, ok, err := c.tx.Get(ctx, nextIDKey)
	if err != nil {
		return 0, err
	}
	next := uint64(100) // ids below are reserved for system tables
	if ok && len(b) == 8 {
		next = binary.BigEndian.Uint64(b)
	}
	return uint32(next), c.tx.Put(nextIDKey, binary.BigEndian.AppendUint64(nil, next+1))
}

func (c catalog) putTable(t *TableDesc) error {
	t.Version++
	return putJSON(c.tx, tableKey(t.DBID, t.Name), t)
}
