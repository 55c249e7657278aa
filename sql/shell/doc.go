// Package shell is Meridian's interactive SQL shell, the engine of
// `meridian sql`. It works on any database/sql driver: Meridian's own,
// or go-sql-driver/mysql against any MySQL-protocol server. It looks
// and behaves like the mysql client, because that is what Meridian's
// users already know.
//
// # How a session flows
//
//	lines (liner at a terminal; Options.In or Options.Exec in batch)
//	  -> backslash commands (\q \timing \d \c \?) taken at line starts
//	  -> splitter: statements ended by ';' outside quotes and comments
//	  -> first keyword: Exec (INSERT, SET, USE, ...) or Query (the rest)
//	  -> *sql.Conn pinned for the session
//	  -> printer: table | csv | tsv | json, then "N rows in set (T sec)"
//
// Run is the entry point; the command line (cmd/meridian) opens the
// *sql.DB, decides whether stdin is a terminal, and maps
// ErrStatementFailed to a non-zero exit status.
//
// # Invariants
//
//  1. Every statement of a session runs on the same connection, so USE,
//     BEGIN ... COMMIT and session variables behave as in mysql. Only if
//     that connection breaks (interactive mode) is a new one taken, and
//     the user is told that the session state was reset.
//  2. NULL and the empty string print differently in every format.
//  3. Values are printed as the text the server sent; the shell never
//     parses a DECIMAL or a time and prints it back.
//  4. In batch mode the first failing statement stops the session, its
//     error is printed as "ERROR <code> (<state>): <message>", and Run
//     returns ErrStatementFailed, as `mariadb` does in batch mode.
//  5. In the formats other than table, Out holds only data: notices and
//     timings go to Err.
//
// # What it must never do
//
// Call os.Exit or log.Fatal (the caller owns the process), send a
// statement made only of comments, or run a half-entered statement
// when the user leaves an interactive session.
package shell
