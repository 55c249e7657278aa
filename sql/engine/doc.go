// Package engine is Meridian's SQL engine: it turns MySQL-dialect
// statements into reads and writes of the transaction layer (DESIGN.md §1,
// §3, §5).
//
// A statement's way through it:
//
//	parse.go    TiDB parser, one per session; the AST is never mutated
//	session.go  transaction rules: autocommit reads are lock-free snapshot
//	            reads, autocommit writes run in their own read-write
//	            transaction with retries (results held until commit),
//	            explicit transactions retry only while nothing reached the
//	            client; SET, system variables, prepared statements
//	catalog.go  databases and tables as JSON descriptors in the same KV
//	            space, read inside the statement's transaction (so DDL is
//	            serialized with the statements that use the schema)
//	expr.go     expressions compiled to small structs over row positions
//	query.go    SELECT/UNION planning: FROM tree, WHERE conjuncts pushed to
//	            tables, join method (index lookup, hash, nested loop),
//	            aggregation, ORDER BY (top-N with LIMIT), LIMIT
//	access.go   how a table is read: point get, primary-key range, secondary
//	            index lookup, full scan — streamed in chunks
//	ops.go      the operators (iterators)
//	dml.go      INSERT/REPLACE/ON DUPLICATE KEY UPDATE, UPDATE, DELETE with
//	            index maintenance; AUTO_INCREMENT blocks per node
//	ddl.go      CREATE/DROP DATABASE/TABLE, TRUNCATE, the index and column
//	            clauses of ALTER TABLE, SHOW, EXPLAIN
//	schemachange.go  CREATE/DROP INDEX and ALTER TABLE, online: a first
//	            transaction adds new indexes write-only (every writer
//	            maintains them, no query reads them), the backfill writes
//	            their entries in small transactions of primary-key chunks,
//	            a UNIQUE one is checked for duplicates, and a last
//	            transaction makes them public; dropped indexes become
//	            dropping and their entries go chunk by chunk. Writers wait
//	            for one chunk at most. An index a crash left half-built
//	            or half-dropped stays visible (SHOW INDEX, SHOW CREATE
//	            TABLE); running the CREATE INDEX again, or DROP INDEX,
//	            finishes it
//
// Rows live at rowenc's keys (0xF5 't' table index key...), every column
// in the value; secondary index entries are keys only. Values are
// sql/types Datums with MySQL semantics; errors are sql/sqlerr errors with
// MySQL codes.
//
// Correlated subqueries run once per outer row (the outer row on a stack
// the subquery's outer references read); they are refused in grouped
// queries. Limits today: NATURAL joins, window
// functions, views and SQL-level PREPARE are refused with error 1235.
// An ALTER TABLE applies all its clauses or none (schemachange.go). DROP
// and TRUNCATE change the catalog and purge the old data afterwards
// (purge.go).
//
// Memory: a sort holds at most a quarter of Config.MaxStatementMemory;
// past that it spills sorted runs to disk and merges them. A hash table —
// GROUP BY, DISTINCT, UNION, DISTINCT aggregates, a hash join's build
// side — holds at most a quarter too, charged to the statement (so that
// all of them together stay under the bound) and given back when it
// closes; past that it keeps what it holds and partitions the rest to
// disk by a hash of the key, re-partitioning with a new seed what still
// does not fit (spill.go, spillhash.go). Rows read whole before they are
// used — a nested loop join's inner side (joins without an equality
// between the sides), the rows INSERT ... SELECT, UPDATE and DELETE read
// before they write — are held the same way up to a quarter and appended
// to a file past it; a nested loop whose inner side spilled reads it once
// per block of outer rows that fits another quarter. Spill files are
// unlinked when created and closed when the statement ends, failed or
// not. Results are those of an in-memory run; only their order may
// differ, which ORDER BY fixes. What cannot spill fails the statement
// with error 1038 at the bound: a GROUP BY or DISTINCT partition that six
// re-partitionings did not split (and an operator whose first row finds
// the bound already held by the statement's others). Not counted against
// the bound: the writes a transaction buffers, and the rows INSERT
// converts (all of them, read back from the buffer) before it writes.
package engine
