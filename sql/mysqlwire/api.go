package mysqlwire

import "context"

// ConnInfo describes an authenticated connection to the Handler.
type ConnInfo struct {
	// ID is the connection id the client sees (CONNECTION_ID(), the
	// handshake); unique among the server's open connections.
	ID uint32
	// User is the authenticated user name.
	User string
	// Database is the schema named in the handshake, "" for none.
	Database string
	// RemoteAddr is the client's address as host:port.
	RemoteAddr string
	// ClientFlags are the negotiated capability flags (Client*): the client's
	// request intersected with what the server offers. ClientMultiStatements
	// here is the initial multi-statement setting; COM_SET_OPTION changes it
	// later through Session.SetMultiStatements.
	ClientFlags uint32
	// Attrs are the connection attributes the client sent (_client_name,
	// program_name, ...); nil if none.
	Attrs map[string]string
}

// Handler creates a Session for every connection that authenticated.
type Handler interface {
	// Open is called once per connection after the password checked out and
	// before the client is told so. It must select c.Database when that is
	// not empty. An error is sent to the client in place of the OK packet
	// (an error implementing MySQLError keeps its code, e.g. 1049 Unknown
	// database) and the connection is closed. ctx is canceled when the
	// connection ends or the server closes; it may be kept for the
	// session's life. Open is called concurrently for different
	// connections.
	Open(ctx context.Context, c ConnInfo) (Session, error)
}

// Session is one client connection's state in the SQL engine. The wire layer
// calls its methods from one goroutine, one at a time, in the order the
// client's commands arrive; a Session needs no locking of its own for them.
//
// Errors: an error with a method MySQLError() (code uint16, state, msg
// string) anywhere in its chain is sent as that ERR packet; any other error
// as ERR 1105 HY000 with its text. A Session error never closes the
// connection; only network errors (those a ResultWriter returned) do.
//
// Every ctx is canceled when the client disconnects during the call or the
// server closes, so a long statement can stop early.
type Session interface {
	// Query runs the text of one COM_QUERY. When multi-statements are on
	// (ConnInfo.ClientFlags, SetMultiStatements) the text may hold several
	// statements: the session splits it and writes one result per
	// statement, stopping at the first error, which it returns. The wire
	// layer marks every result but the last with SERVER_MORE_RESULTS_EXISTS.
	// When multi-statements are off, a text with several statements is a
	// syntax error, as in MySQL.
	Query(ctx context.Context, query string, w ResultWriter) error

	// Prepare parses a COM_STMT_PREPARE text (one statement) and returns
	// the id the client will execute it by, its number of '?' parameters
	// and its result columns if known (the client takes the columns of
	// each execution's result set as authoritative; empty for statements
	// without rows). Ids must be unique among the session's open statements.
	Prepare(ctx context.Context, query string) (PreparedInfo, error)

	// Execute runs a prepared statement with exactly PreparedInfo.Params
	// values, decoded from the binary protocol: nil, int64, uint64 (for an
	// unsigned parameter), float64, string (text and decimal parameters),
	// []byte (blob parameters and data sent with COM_STMT_SEND_LONG_DATA),
	// time.Time (DATE, DATETIME, TIMESTAMP, wall clock in UTC) and
	// time.Duration (TIME). The slices are the session's to keep. Results
	// are written as for Query; the wire layer encodes them in the binary
	// row format, which the session never sees.
	Execute(ctx context.Context, stmtID uint32, params []any, w ResultWriter) error

	// CloseStmt drops a prepared statement (COM_STMT_CLOSE; the client
	// expects no answer, so there is no error). Unknown ids are ignored.
	CloseStmt(stmtID uint32)

	// ResetStmt resets a prepared statement's execution state
	// (COM_STMT_RESET), e.g. an open cursor. The wire layer itself drops
	// the long data sent for it.
	ResetStmt(stmtID uint32) error

	// UseDatabase makes db the default schema (COM_INIT_DB, the USE
	// command of clients).
	UseDatabase(ctx context.Context, db string) error

	// FieldList returns the columns of table whose names match the LIKE
	// pattern wildcard ("" for all), for COM_FIELD_LIST (mysql CLI
	// completion; deprecated but still sent).
	FieldList(ctx context.Context, table, wildcard string) ([]Column, error)

	// Reset returns the session to the state of a fresh connection of the
	// same user and database (COM_RESET_CONNECTION): roll back the open
	// transaction, drop prepared statements, user variables and temporary
	// tables, restore session variables.
	Reset(ctx context.Context) error

	// SetMultiStatements turns multi-statement queries on or off
	// (COM_SET_OPTION).
	SetMultiStatements(on bool)

	// Status reports the transaction state for the status flags of the OK
	// and EOF packets. It is called after every statement result, so it
	// must be cheap.
	Status() Status

	// Close releases the session. It is called exactly once, when the
	// connection ends for any reason, after any running call returned.
	Close()
}

// Status is the session state the wire layer reports in server status
// flags.
type Status struct {
	InTransaction       bool // SERVER_STATUS_IN_TRANS
	Autocommit          bool // SERVER_STATUS_AUTOCOMMIT
	ReadOnlyTransaction bool // SERVER_STATUS_IN_TRANS_READONLY, with InTransaction
}

// PreparedInfo is what Session.Prepare reports about a statement.
type PreparedInfo struct {
	ID      uint32
	Params  int // number of '?' placeholders, at most 65535
	Columns []Column
}

// OK is the outcome of a statement that returns no rows.
type OK struct {
	AffectedRows uint64
	LastInsertID uint64
	Warnings     uint16
	Info         string // e.g. "Rows matched: 1  Changed: 1  Warnings: 0"
}

// Column describes one result column (a column definition packet).
type Column struct {
	Schema, Table, OrgTable, Name, OrgName string

	Type     byte   // Type* constant
	Flags    uint16 // Flag* constants
	Charset  uint16 // CharsetUTF8MB4GeneralCI for text, CharsetBinary for everything else
	Length   uint32 // maximum display length
	Decimals byte   // digits after the point: DECIMAL scale, fractional seconds of DATETIME/TIME
}

// ResultWriter receives the results of one Query or Execute. A result is
// either WriteOK, or WriteColumns, any number of WriteRow and EndRows.
// Results follow one another (one per statement of a multi-statement
// query); the wire layer holds back the last packet of each result until
// it knows whether another result follows, so the session never says how
// many there will be.
//
// A ResultWriter is valid only during the call it was passed to. An error
// it returns is either a broken connection (the session should stop and
// return it) or a misuse: a call out of order, or a value the column's
// type cannot carry. After an error the session returns an error; the
// client then receives an ERR packet, even in the middle of a result set.
type ResultWriter interface {
	// WriteOK ends a statement that returns no rows.
	WriteOK(r OK) error

	// WriteColumns starts a result set. The wire layer copies cols.
	WriteColumns(cols []Column) error

	// WriteRow sends one row, one value per column: nil (NULL), int64,
	// uint64, float32, float64, string, []byte, time.Time (DATE, DATETIME,
	// TIMESTAMP, sent as the wall clock in its location; the zero Time is
	// the zero date), time.Duration (TIME), bool; also int, int8..int32,
	// uint8..uint32. DECIMAL values are strings. A value is converted to
	// its column's type (a string column accepts numbers, a numeric column
	// does not accept strings). vals is not retained.
	WriteRow(vals []any) error

	// EndRows ends the current result set.
	EndRows(warnings uint16) error
}

// MySQLError is the interface an error implements to reach the client with
// its own code and SQLSTATE.
type MySQLError interface {
	MySQLError() (code uint16, state string, msg string)
}
