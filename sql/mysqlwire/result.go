package mysqlwire

import (
	"encoding/binary"

	"github.com/cockroachdb/errors"
)

// status turns the session's state into server status flags.
func (c *conn) status() uint16 {
	if c.sess == nil {
		return StatusAutocommit
	}
	st := c.sess.Status()
	var f uint16
	if st.InTransaction {
		f |= StatusInTrans
		if st.ReadOnlyTransaction {
			f |= StatusInTransReadOnly
		}
	}
	if st.Autocommit {
		f |= StatusAutocommit
	}
	return f
}

// appendOK builds an OK packet and returns where its status flags are.
// header is 0x00, or 0xfe for the OK that ends a result set when the
// client set CLIENT_DEPRECATE_EOF.
func appendOK(b []byte, header byte, r OK, status uint16) ([]byte, int) {
	b = append(b, header)
	b = appendLenEncInt(b, r.AffectedRows)
	b = appendLenEncInt(b, r.LastInsertID)
	at := len(b)
	b = binary.LittleEndian.AppendUint16(b, status)
	b = binary.LittleEndian.AppendUint16(b, r.Warnings)
	if r.Info != "" {
		// Length-prefixed: the MariaDB/MySQL C client (mariadb CLI,
		// sysbench) reads it so and reports a malformed packet otherwise;
		// go-sql-driver ignores the field.
		b = appendLenEncString(b, r.Info)
	}
	return b, at
}

// appendEOF builds the packet that ends a run of column definitions or
// rows: an EOF packet, or an OK packet with the EOF header for clients that
// set CLIENT_DEPRECATE_EOF. It returns where the status flags are.
func (c *conn) appendEOF(b []byte, warnings uint16, status uint16) ([]byte, int) {
	if c.flags&ClientDeprecateEOF != 0 {
		return appendOK(b, iEOF, OK{Warnings: warnings}, status)
	}
	b = append(b, iEOF)
	b = binary.LittleEndian.AppendUint16(b, warnings)
	at := len(b)
	return binary.LittleEndian.AppendUint16(b, status), at
}

func (c *conn) writeOK(r OK) error {
	c.buf, _ = appendOK(c.buf[:0], iOK, r, c.status())
	return c.pk.writePacket(c.buf)
}

// writeColumnDefs writes column definitions and, for clients without
// CLIENT_DEPRECATE_EOF, the EOF after them. (COM_FIELD_LIST, whose
// definitions carry a default value and always end with EOF, writes its
// own; see fieldList.)
func (c *conn) writeColumnDefs(cols []Column) error {
	for i := range cols {
		c.buf = appendColumnDef(c.buf[:0], &cols[i], false)
		if err := c.pk.writePacket(c.buf); err != nil {
			return err
		}
	}
	if c.flags&ClientDeprecateEOF != 0 {
		return nil
	}
	c.buf, _ = c.appendEOF(c.buf[:0], 0, c.status())
	return c.pk.writePacket(c.buf)
}

func appendColumnDef(b []byte, col *Column, fieldList bool) []byte {
	b = appendLenEncString(b, "def")
	b = appendLenEncString(b, col.Schema)
	b = appendLenEncString(b, col.Table)
	b = appendLenEncString(b, col.OrgTable)
	b = appendLenEncString(b, col.Name)
	b = appendLenEncString(b, col.OrgName)
	b = append(b, 0x0c) // length of the fixed-length fields
	charset := col.Charset
	if charset == 0 {
		charset = CharsetBinary
		if isTextType(col.Type) && col.Flags&FlagBinary == 0 {
			charset = CharsetUTF8MB4GeneralCI
		}
	}
	b = binary.LittleEndian.AppendUint16(b, charset)
	b = binary.LittleEndian.AppendUint32(b, col.Length)
	b = append(b, col.Type)
	b = binary.LittleEndian.AppendUint16(b, col.Flags)
	b = append(b, col.Decimals, 0, 0)
	if fieldList {
		b = append(b, iNULL) // default value: not reported
	}
	return b
}

var errOutOfOrderCall = errors.New("mysqlwire: ResultWriter call out of order")

// resultWriter implements ResultWriter for one Query or Execute. It holds
// back the final packet of each result (pending) until the next result
// starts, which sets SERVER_MORE_RESULTS_EXISTS in it, or the call
// returns, which sends it as is.
type resultWriter struct {
	c      *conn
	binary bool // COM_STMT_EXECUTE: binary rows

	inRows bool
	cols   []Column
	row    []byte

	pending       []byte
	pendingStatus int // offset of the status flags in pending
	results       int // results written, the current one included
}

var _ ResultWriter = (*resultWriter)(nil)

// flushPending sends the previous result's final packet, marked as
// followed by another result.
func (w *resultWriter) flushPending() error {
	if w.pending == nil {
		return nil
	}
	st := binary.LittleEndian.Uint16(w.pending[w.pendingStatus:])
	binary.LittleEndian.PutUint16(w.pending[w.pendingStatus:], st|StatusMoreResultsExists)
	err := w.c.pk.writePacket(w.pending)
	w.pending = nil
	return err
}

func (w *resultWriter) WriteOK(r OK) error {
	if w.inRows {
		return errors.Wrap(errOutOfOrderCall, "WriteOK inside a result set")
	}
	if err := w.flushPending(); err != nil {
		return err
	}
	w.results++
	w.pending, w.pendingStatus = appendOK(nil, iOK, r, w.c.status())
	return nil
}

func (w *resultWriter) WriteColumns(cols []Column) error {
	if w.inRows {
		return errors.Wrap(errOutOfOrderCall, "WriteColumns inside a result set")
	}
	if len(cols) == 0 {
		return errors.New("mysqlwire: a result set needs at least one column")
	}
	if err := w.flushPending(); err != nil {
		return err
	}
	w.results++
	w.inRows = true
	w.cols = append(w.cols[:0], cols...)
	c := w.c
	c.buf = appendLenEncInt(c.buf[:0], uint64(len(cols)))
	if err := c.pk.writePacket(c.buf); err != nil {
		return err
	}
	return c.writeColumnDefs(w.cols)
}

func (w *resultWriter) WriteRow(vals []any) error {
	if !w.inRows {
		return errors.Wrap(errOutOfOrderCall, "WriteRow outside a result set")
	}
	if len(vals) != len(w.cols) {
		return errors.Newf("mysqlwire: row has %d values for %d columns", len(vals), len(w.cols))
	}
	var err error
	if w.binary {
		w.row, err = appendBinaryRow(w.row[:0], w.cols, vals)
	} else {
		w.row, err = appendTextRow(w.row[:0], w.cols, vals)
	}
	if err != nil {
		return err
	}
	err = w.c.pk.writePacket(w.row)
	if cap(w.row) > maxRetainedBuffer {
		w.row = nil // do not keep a huge row's buffer for the connection's life
	}
	return err
}

func (w *resultWriter) EndRows(warnings uint16) error {
	if !w.inRows {
		return errors.Wrap(errOutOfOrderCall, "EndRows outside a result set")
	}
	w.inRows = false
	w.pending, w.pendingStatus = w.c.appendEOF(nil, warnings, w.c.status())
	return nil
}

// finish ends the command after the session returned err: it sends the
// held-back packet, or ERR for err (after the results that preceded it,
// marked as followed by more), or OK if the session wrote nothing.
func (w *resultWriter) finish(err error) {
	c := w.c
	if c.pk.werr != nil {
		return
	}
	if err == nil && w.inRows {
		err = errors.AssertionFailedf("mysqlwire: session returned without ending its result set")
	}
	if err != nil {
		if w.flushPending() != nil {
			return
		}
		code, state, msg := errorFields(err)
		c.buf = appendErrPacket(c.buf[:0], code, state, msg)
		_ = c.pk.writePacket(c.buf)
		return
	}
	if w.pending != nil {
		_ = c.pk.writePacket(w.pending)
		return
	}
	_ = c.writeOK(OK{})
}
