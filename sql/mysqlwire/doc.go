// Package mysqlwire is Meridian's MySQL client/server protocol server. It
// lets any MySQL client — the mysql and mariadb CLIs, go-sql-driver/mysql,
// JDBC, sysbench, ORMs — talk to Meridian unchanged (DESIGN.md §1: the
// MySQL listener next to gRPC). It knows bytes, packets, authentication and
// result encodings, and nothing of SQL: statements go to a Session that the
// SQL engine implements, and values cross that boundary as plain Go values.
// It imports no other Meridian package, so it builds and is tested alone.
//
// # A connection's way through the package
//
//	accept (server.go) ── over MaxConnections? ── ERR 1040, close
//	  │
//	greeting (handshake.go): protocol 10, capabilities, 20-byte scramble,
//	  │                      the configured auth plugin
//	HandshakeResponse41 ── other plugin? ── AuthSwitchRequest (auth.go)
//	  │
//	mysql_native_password: SHA1 proof of the password
//	caching_sha2_password: fast path for cached users (SHA256 proof),
//	  │   else full auth: the password RSA-encrypted with the server key,
//	  │   which the client may request (0x02) first
//	Handler.Open ── error ── ERR, close
//	  │
//	OK ── command loop (conn.go, commands.go), one command at a time:
//	        COM_QUERY ─────────► Session.Query   ─► text rows    (result.go,
//	        COM_STMT_EXECUTE ──► Session.Execute ─► binary rows   values.go)
//	        COM_STMT_PREPARE/CLOSE/RESET/SEND_LONG_DATA (stmt.go), COM_PING,
//	        COM_INIT_DB, COM_FIELD_LIST, COM_SET_OPTION, COM_STATISTICS,
//	        COM_RESET_CONNECTION, COM_QUIT; anything else: ERR 1047
//
// The session writes results through a ResultWriter and never learns
// whether rows go out as text or binary, nor whether the client wants EOF
// packets or CLIENT_DEPRECATE_EOF's OK packets. For multi-statement
// queries the writer holds back the final packet of each result until it
// knows whether another result follows, and then sets
// SERVER_MORE_RESULTS_EXISTS in it: the session only writes results one
// after another.
//
// # Invariants
//
//  1. Nothing a client sends can crash the server or hold it: every decoder
//     checks bounds against the bytes received, memory grows with bytes
//     that actually arrived and never past MaxAllowedPacket, the handshake
//     has a deadline, commands are read under IdleTimeout and ReadTimeout,
//     writes under WriteTimeout. A session panic ends only its connection.
//  2. Sequence ids: every command starts at 0 and each packet, in either
//     direction, takes the next id; a client packet with the wrong id ends
//     the connection (ERR 1156), since the two ends no longer agree.
//  3. A session error is an ERR packet and the connection goes on; only a
//     broken or unparseable conversation ends it.
//  4. Session methods are called from one goroutine per connection, in
//     command order; every command's context is canceled if the client
//     hangs up meanwhile (a background read watches the socket) or the
//     server closes, and Session.Close is called exactly once, last.
//
// # What it must never do
//
// Parse SQL (the session owns statements, including splitting
// multi-statement text), accept a password it did not verify, take a
// clear-text password over TCP without TLS (it is RSA-encrypted instead),
// or allocate from a length a client claims before the bytes arrive.
//
// Not implemented: TLS, compression, LOAD DATA LOCAL INFILE, COM_CHANGE_USER,
// server-side cursors (COM_STMT_FETCH; results are always sent whole) and
// session-state tracking.
package mysqlwire
