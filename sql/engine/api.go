package engine

import (
	"github.com/meridiandb/meridian/sql/types"
)

// Column describes one column of a statement's result.
type Column struct {
	// Name is the column's label in the result (its alias if any);
	// OrgName the table column it comes from, if any.
	Name, OrgName string
	// Table is the table's alias in the statement; OrgTable its name;
	// Database the table's database. Empty for computed columns.
	Table, OrgTable, Database string
	// Type is the SQL type of the values.
	Type types.T
	// NotNull, PrimaryKey, Unique and AutoIncrement describe a table column.
	NotNull, PrimaryKey, Unique, AutoIncrement bool
}

// Result ends one statement's output.
type Result struct {
	// AffectedRows counts rows inserted, updated or deleted (MySQL's
	// rules: an ON DUPLICATE KEY UPDATE that changes a row counts 2), or
	// the rows returned for a row result.
	AffectedRows uint64
	// LastInsertID is the first AUTO_INCREMENT value the statement
	// generated, else 0.
	LastInsertID uint64
	// Warnings counts the statement's warnings (SHOW WARNINGS lists them).
	Warnings uint16
	// Info is MySQL's info string ("Records: 3  Duplicates: 0  Warnings: 0"),
	// if any.
	Info string
	// More is set when another statement of the same request follows.
	More bool
}

// ResultWriter receives statement results as they are produced. For each
// statement the engine calls either Columns, then Row for each row, then
// Done; or only Done (statements without rows). An error returned by the
// writer stops the statement; the engine then returns it.
type ResultWriter interface {
	Columns(cols []Column) error
	Row(vals []types.Datum) error
	Done(r Result) error
}

// Prepared describes a prepared statement.
type Prepared struct {
	ID uint32
	// Params is the number of ? placeholders.
	Params int
	// Columns are the result columns, when the statement returns rows and
	// they are known at prepare time (nil otherwise).
	Columns []Column
}

// Status is the session state clients see in protocol status flags.
type Status struct {
	InTransaction bool
	Autocommit    bool
}
