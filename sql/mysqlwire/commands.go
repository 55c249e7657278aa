package mysqlwire

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/errors"
)

// dispatch answers one command. Answers are written to the packet buffer
// and flushed by the command loop; a network error is sticky in c.pk and
// ends the loop there. It reports whether the client quit.
func (c *conn) dispatch(cmd byte, data []byte) (quit bool) {
	switch cmd {
	case comQuit:
		return true
	case comPing:
		_ = c.writeOK(OK{})
	case comQuery:
		c.srv.questions.Add(1)
		query := string(data)
		w := &resultWriter{c: c}
		w.finish(c.withCommandContext(func(ctx context.Context) error {
			return c.sess.Query(ctx, query, w)
		}))
	case comInitDB:
		db := string(data)
		c.answer(c.withCommandContext(func(ctx context.Context) error {
			return c.sess.UseDatabase(ctx, db)
		}))
	case comFieldList:
		c.fieldList(data)
	case comStatistics:
		c.statistics()
	case comStmtPrepare:
		c.prepare(string(data))
	case comStmtExecute:
		c.srv.questions.Add(1)
		c.execute(data)
	case comStmtSendLongData:
		c.sendLongData(data)
	case comStmtClose:
		// No answer: the client has moved on already.
		if len(data) >= 4 {
			id := binary.LittleEndian.Uint32(data)
			delete(c.stmts, id)
			c.sess.CloseStmt(id)
		}
	case comStmtReset:
		c.resetStmt(data)
	case comSetOption:
		c.setOption(data)
	case comResetConnection:
		clear(c.stmts)
		c.answer(c.withCommandContext(c.sess.Reset))
	default:
		c.writeError(ErrCodeUnknownCom, "08S01", "Unknown command")
	}
	return false
}

// answer sends OK for a nil session error, or the error.
func (c *conn) answer(err error) {
	if err != nil {
		c.writeError(errorFields(err))
		return
	}
	_ = c.writeOK(OK{})
}

func (c *conn) writeError(code uint16, state, msg string) {
	c.buf = appendErrPacket(c.buf[:0], code, state, msg)
	_ = c.pk.writePacket(c.buf)
}

func (c *conn) malformed() {
	c.writeError(ErrCodeMalformedPacket, "08S01", "Malformed communication packet")
}

// fieldList answers COM_FIELD_LIST: the table's column definitions, each
// with a default value field, then EOF.
func (c *conn) fieldList(data []byte) {
	d := decoder{b: data}
	table := string(d.nulString())
	wildcard := string(d.rest())
	if d.err != nil {
		c.malformed()
		return
	}
	var cols []Column
	err := c.withCommandContext(func(ctx context.Context) (err error) {
		cols, err = c.sess.FieldList(ctx, table, wildcard)
		return err
	})
	if err != nil {
		c.writeError(errorFields(err))
		return
	}
	for i := range cols {
		c.buf = appendColumnDef(c.buf[:0], &cols[i], true)
		if c.pk.writePacket(c.buf) != nil {
			return
		}
	}
	c.buf, _ = c.appendEOF(c.buf[:0], 0, c.status())
	_ = c.pk.writePacket(c.buf)
}

// statistics answers COM_STATISTICS with the human-readable line of
// mysqladmin status.
func (c *conn) statistics() {
	uptime := max(int64(time.Since(c.srv.started)/time.Second), 1)
	q := c.srv.questions.Load()
	msg := fmt.Sprintf("Uptime: %d  Threads: %d  Questions: %d  Slow queries: 0  Opens: 0  Flush tables: 0  Open tables: 0  Queries per second avg: %.3f",
		uptime, c.srv.openConnections(), q, float64(q)/float64(uptime))
	_ = c.pk.writePacket([]byte(msg))
}

// setOption answers COM_SET_OPTION, which turns multi-statements on (0) or
// off (1).
func (c *conn) setOption(data []byte) {
	if len(data) != 2 {
		c.malformed()
		return
	}
	switch binary.LittleEndian.Uint16(data) {
	case 0:
		c.flags |= ClientMultiStatements
		c.sess.SetMultiStatements(true)
	case 1:
		c.flags &^= ClientMultiStatements
		c.sess.SetMultiStatements(false)
	default:
		c.writeError(ErrCodeUnknownCom, "08S01", "Unknown command")
		return
	}
	c.buf, _ = c.appendEOF(c.buf[:0], 0, c.status())
	_ = c.pk.writePacket(c.buf)
}

// prepare answers COM_STMT_PREPARE: COM_STMT_PREPARE_OK, then a definition
// per parameter and per column, each run followed by EOF unless the
// client set CLIENT_DEPRECATE_EOF.
func (c *conn) prepare(query string) {
	var info PreparedInfo
	err := c.withCommandContext(func(ctx context.Context) (err error) {
		info, err = c.sess.Prepare(ctx, query)
		return err
	})
	if err == nil && (info.Params < 0 || info.Params > 0xffff || len(info.Columns) > 0xffff) {
		c.sess.CloseStmt(info.ID)
		err = NewError(1390, "HY000", "Prepared statement contains too many placeholders")
	}
	if err != nil {
		c.writeError(errorFields(err))
		return
	}
	c.stmts[info.ID] = &stmtState{id: info.ID, params: info.Params, longData: make([][]byte, info.Params)}
	b := append(c.buf[:0], iOK)
	b = binary.LittleEndian.AppendUint32(b, info.ID)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(info.Columns)))
	b = binary.LittleEndian.AppendUint16(b, uint16(info.Params))
	b = append(b, 0, 0, 0) // filler, warnings
	c.buf = b
	if c.pk.writePacket(c.buf) != nil {
		return
	}
	if info.Params > 0 {
		params := make([]Column, info.Params)
		for i := range params {
			params[i] = Column{Name: "?", Type: TypeVarString, Charset: CharsetBinary}
		}
		if c.writeColumnDefs(params) != nil {
			return
		}
	}
	if len(info.Columns) > 0 {
		_ = c.writeColumnDefs(info.Columns)
	}
}

// lookupStmt decodes a statement id and finds its state; it answers the
// client itself when it cannot.
func (c *conn) lookupStmt(data []byte, command string) (*stmtState, []byte, bool) {
	if len(data) < 4 {
		c.malformed()
		return nil, nil, false
	}
	id := binary.LittleEndian.Uint32(data)
	st := c.stmts[id]
	if st == nil {
		c.writeError(ErrCodeUnknownStmt, "HY000", fmt.Sprintf("Unknown prepared statement handler (%d) given to %s", id, command))
		return nil, nil, false
	}
	return st, data[4:], true
}

// execute answers COM_STMT_EXECUTE with results in the binary protocol.
func (c *conn) execute(data []byte) {
	st, rest, ok := c.lookupStmt(data, "mysqld_stmt_execute")
	if !ok {
		return
	}
	// Long data belongs to one execution, whatever its outcome.
	defer st.clearLongData()
	if st.longDataErr != nil {
		c.writeError(errorFields(st.longDataErr))
		return
	}
	params, err := st.decodeExecute(rest)
	if errors.Is(err, errMalformed) {
		c.malformed()
		return
	}
	if err != nil {
		c.writeError(errorFields(err))
		return
	}
	w := &resultWriter{c: c, binary: true}
	w.finish(c.withCommandContext(func(ctx context.Context) error {
		return c.sess.Execute(ctx, st.id, params, w)
	}))
}

// sendLongData handles COM_STMT_SEND_LONG_DATA, which has no answer:
// problems wait for the statement's next execution.
func (c *conn) sendLongData(data []byte) {
	if len(data) < 6 {
		return
	}
	st := c.stmts[binary.LittleEndian.Uint32(data)]
	if st == nil {
		return
	}
	st.addLongData(int(binary.LittleEndian.Uint16(data[4:])), data[6:], c.srv.cfg.MaxAllowedPacket)
}

func (c *conn) resetStmt(data []byte) {
	st, _, ok := c.lookupStmt(data, "mysqld_stmt_reset")
	if !ok {
		return
	}
	st.clearLongData()
	c.answer(c.sess.ResetStmt(st.id))
}
