// Package types is the value layer of Meridian's SQL engine: column types
// (T), values (Datum), and the MySQL semantics that act on them —
// comparison, assignment conversion, implicit casts, arithmetic and the
// built-in functions. The binder, planner and executor sit on top of it;
// sql/rowenc stores Datums in the key-value space.
//
// A statement's values flow through it like this: the binder maps parsed
// column types with FromFieldType and literals to Datums; the executor
// evaluates expressions with Compare, the arithmetic functions, Cast and
// the built-ins (CallBuiltin, with an EvalContext carrying the statement
// time); INSERT and UPDATE pass every value through ConvertColumn, which
// applies the column's type in MySQL strict mode; rowenc then encodes the
// converted values. Results go to clients as Datum.String, which is
// exactly what MySQL's text protocol sends.
//
// Invariants:
//  1. A Datum never changes after construction; copies share storage.
//  2. Values stored in a column have one Kind per column type (ConvertColumn
//     makes it so): integer columns hold KindInt (KindUint if unsigned),
//     DECIMAL KindDecimal at the column's scale, FLOAT/DOUBLE KindFloat,
//     text KindString, binary KindBytes, dates and datetimes KindTime.
//     rowenc's key order equals Compare's order within such a column.
//  3. Strings compare by bytes (utf8mb4_bin without trailing-space
//     padding); there is one collation.
//  4. Sessions run in UTC: TIMESTAMP and DATETIME hold the same wall clock.
//
// This package does no I/O and reads no clock: NOW() comes from
// EvalContext. It never mentions a column's nullability or defaults; those
// belong to the catalog and the executor.
//
// Types Meridian does not offer yet fail in FromFieldType with error 1235:
// JSON, ENUM, SET, BIT, YEAR, TIME, spatial and vector types.
package types
