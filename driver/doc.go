// Package driver is Meridian's database/sql driver. It speaks the node's
// gRPC SQL API (service SQL in api/meridian.proto) and nothing else: it is
// a client, as a user's program is.
//
//	import _ "github.com/meridiandb/meridian/driver"
//
//	db, err := sql.Open("meridian", "meridian://root@127.0.0.1:7400/db?region=us-east")
//
// # How a connection works
//
// A Connector owns one gRPC client connection to a node; each database/sql
// connection is one bidirectional stream on it, and the stream is the SQL
// session (current database, transaction, prepared statements): when the
// stream ends, the node closes the session and rolls back its transaction.
//
//	QueryContext/ExecContext ──SQLQuery──► node ──► engine session
//	PrepareContext           ──SQLPrepare─►   (statement ID, parameter count)
//	Stmt.Query/Exec          ──SQLExecute─►   (ID and arguments only)
//	rows                     ◄──SQLResponse── columns, row batches, result, status
//
// A query with arguments is prepared, executed and dropped on the node in
// one round trip. BeginTx sends BEGIN, or START TRANSACTION READ ONLY for
// TxOptions{ReadOnly: true} (a lock-free snapshot transaction); isolation
// levels other than the default and serializable are refused, because
// Meridian's transactions are strictly serializable and a weaker level
// asked for would be a promise the driver silently changes.
//
// The DSN's staleness option makes a connection's read-only reads bounded
// stale (SET read_staleness): they may read a slightly older snapshot that
// a replica in the client's region serves without waiting on the leader.
//
// Values: Rows.Next yields int64, uint64, float64, float32 (FLOAT columns,
// so they keep their digits), string (text and DECIMAL, exactly as
// stored), []byte, time.Time in UTC, and nil for NULL; with
// ?textValues=true floats and times come as the text MySQL prints. Arguments may be any of these
// (uint64 in full), the other integer types, bool (1 or 0), and whatever
// database/sql's default conversion accepts.
//
// # Errors and cancellation
//
// Statement errors are *Error with MySQL's code, SQLSTATE and message
// ("Error 1146 (42S02): Table 'db.t' doesn't exist"). When a context ends
// during a statement, the driver asks the node to interrupt it and returns
// the context's error at once; the connection stays usable, and before its
// next use reads what the interrupted statement still sends. A connection
// whose stream failed is discarded: the driver returns
// database/sql/driver.ErrBadConn (which makes database/sql retry on
// another connection) only when the request certainly had no effect — it
// was never sent, or only touched the session that is now gone (PREPARE,
// BEGIN, ROLLBACK, ping); otherwise the error says that the outcome is
// unknown.
//
// Invariants:
//  1. A connection has at most one request whose responses are unread,
//     and sends the next only after reading them.
//  2. ErrBadConn means the request did not take effect.
//  3. database/sql's per-connection prepared statements stay valid while
//     the connection lives: ResetSession never clears the session.
//
// It must never import server or engine packages: its only contract with
// the node is the protobuf API.
package driver
