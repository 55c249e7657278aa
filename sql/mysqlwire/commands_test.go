package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Commands go-sql-driver/mysql never sends, through the raw client.

func TestRawCommands(t *testing.T) {
	eofModes(t, func(t *testing.T, tweak func(*Server)) {
		_, addr := startServer(t, Config{}, tweak)
		c := dialRaw(t, addr, "root", "", rawClientFlags|ClientDeprecateEOF, "")
		query := func(q string) rawResult {
			c.command(append([]byte{comQuery}, q...)...)
			return c.readResult(false)
		}

		c.command(comPing)
		if pkt := c.read(); pkt[0] != iOK {
			t.Fatalf("ping: %x", pkt)
		}

		c.command(append([]byte{comInitDB}, "test"...)...)
		if pkt := c.read(); pkt[0] != iOK {
			t.Fatalf("init db: %x", pkt)
		}
		c.command(append([]byte{comInitDB}, "nope"...)...)
		checkError(t, packetError(c.read()), 1049)

		c.command(append([]byte{comFieldList}, "kv\x00"...)...)
		r := c.readResult(true)
		if r.err != nil || len(r.columns) != 2 || !bytes.Contains(r.columns[0], []byte("\x01k\x01k")) {
			t.Fatalf("field list: %+v", r)
		}
		// Each definition ends with the default value, here NULL.
		if last := r.columns[1][len(r.columns[1])-1]; last != iNULL {
			t.Fatalf("field list default %x", last)
		}
		c.command(append([]byte{comFieldList}, "nope\x00"...)...)
		checkError(t, c.readResult(true).err, 1146)

		c.command(comStatistics)
		if s := string(c.read()); !strings.HasPrefix(s, "Uptime: ") || !strings.Contains(s, "Threads: 1") {
			t.Fatalf("statistics %q", s)
		}

		// COM_SET_OPTION switches multi-statements, which the client did not
		// ask for in the handshake.
		checkError(t, query("rows 1; rows 2").err, 1064)
		c.command(comSetOption, 0, 0)
		if pkt := c.read(); pkt[0] != iEOF {
			t.Fatalf("set option on: %x", pkt)
		}
		c.flags |= ClientMultiResults
		if r := query("rows 1; rows 2"); r.status&StatusMoreResultsExists == 0 {
			t.Fatalf("first of two results: %+v", r)
		}
		if r := c.readResult(false); len(r.rows) != 2 {
			t.Fatalf("second of two results: %+v", r)
		}
		c.command(comSetOption, 1, 0)
		c.read()
		checkError(t, query("rows 1; rows 2").err, 1064)
		c.command(comSetOption, 9, 0)
		checkError(t, packetError(c.read()), ErrCodeUnknownCom)

		for _, cmd := range []byte{comSleep, 0x05, 0x11, 0x1c, 0x20, 0xff} {
			c.command(cmd)
			checkError(t, packetError(c.read()), ErrCodeUnknownCom)
		}
		c.command()
		checkError(t, packetError(c.read()), ErrCodeMalformedPacket)

		// Prepared statements: execute twice, the second time without
		// types (they are remembered), then reset and close.
		c.command(append([]byte{comStmtPrepare}, "select ?, ?"...)...)
		pkt := c.read()
		if pkt[0] != iOK || binary.LittleEndian.Uint16(pkt[7:]) != 2 {
			t.Fatalf("prepare: %x", pkt)
		}
		id := binary.LittleEndian.Uint32(pkt[1:])
		c.read()
		c.read() // two parameter definitions
		if c.flags&ClientDeprecateEOF == 0 {
			c.read()
		}
		exec := func(bound bool, a int64, b string) rawResult {
			p := binary.LittleEndian.AppendUint32([]byte{comStmtExecute}, id)
			p = append(p, 0, 1, 0, 0, 0, 0) // flags, iterations, NULL bitmap
			if bound {
				p = append(p, 1, TypeLongLong, 0, TypeVarString, 0)
			} else {
				p = append(p, 0)
			}
			p = binary.LittleEndian.AppendUint64(p, uint64(a))
			p = appendLenEncString(p, b)
			c.command(p...)
			return c.readResult(false)
		}
		r1, r2 := exec(true, -5, "x"), exec(false, -5, "x")
		if r1.err != nil || len(r1.rows) != 1 || !bytes.Equal(r1.rows[0], r2.rows[0]) {
			t.Fatalf("executions: %+v %+v", r1, r2)
		}
		wantRow := append([]byte{0, 0}, binary.LittleEndian.AppendUint64(nil, uint64(math.MaxUint64-4))...)
		if !bytes.Equal(r1.rows[0], append(wantRow, 1, 'x')) {
			t.Fatalf("binary row %x", r1.rows[0])
		}
		c.command(append([]byte{comStmtReset}, binary.LittleEndian.AppendUint32(nil, id)...)...)
		if pkt := c.read(); pkt[0] != iOK {
			t.Fatalf("reset: %x", pkt)
		}
		c.command(append([]byte{comStmtClose}, binary.LittleEndian.AppendUint32(nil, id)...)...)
		checkError(t, exec(true, 1, "").err, ErrCodeUnknownStmt)
		c.command(append([]byte{comStmtReset}, 9, 9, 9, 9)...)
		checkError(t, packetError(c.read()), ErrCodeUnknownStmt)

		// COM_RESET_CONNECTION ends the transaction and the statements.
		query("begin")
		c.command(append([]byte{comStmtPrepare}, "select 1"...)...)
		id = binary.LittleEndian.Uint32(c.read()[1:])
		c.command(comResetConnection)
		if pkt := c.read(); pkt[0] != iOK || readStatus(pkt, true) != StatusAutocommit {
			t.Fatalf("reset connection: %x", pkt)
		}
		checkError(t, exec(true, 1, "").err, ErrCodeUnknownStmt)

		c.command(comQuit)
		if _, err := c.pk.readPacket(); !errors.Is(err, io.EOF) {
			t.Fatalf("after quit: %v", err)
		}
	})
}

func TestPacketsOutOfOrder(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dialRaw(t, addr, "root", "", rawClientFlags, "")
	c.pk.seq = 3
	if err := c.send([]byte{comPing}); err != nil {
		t.Fatal(err)
	}
	c.pk.seq = 0 // the server answers in its own count: it cannot trust the client's
	checkError(t, packetError(c.read()), ErrCodeNetOutOfOrder)
}

func TestDecodeExecute(t *testing.T) {
	type param struct {
		typ      byte
		unsigned bool
		raw      []byte // nil: NULL
	}
	le16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	le64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	params := []param{
		{TypeTiny, false, []byte{0xff}},
		{TypeTiny, true, []byte{0xff}},
		{TypeShort, false, le16(0x8000)},
		{TypeYear, true, le16(2024)},
		{TypeLong, false, le32(0xfffffffe)},
		{TypeInt24, true, le32(0xffffff)},
		{TypeLongLong, false, le64(1 << 63)},
		{TypeLongLong, true, le64(math.MaxUint64)},
		{TypeFloat, false, le32(math.Float32bits(0.5))},
		{TypeDouble, false, le64(math.Float64bits(-2.25))},
		{TypeNewDecimal, false, []byte("\x04-1.5")},
		{TypeVarString, false, []byte("\x03h\x00i")},
		{TypeBlob, false, []byte("\x02\x00\xff")},
		{TypeDate, false, cat([]byte{4}, le16(2024), []byte{2, 29})},
		{TypeDatetime, false, cat([]byte{7}, le16(1999), []byte{12, 31, 23, 59, 58})},
		{TypeTimestamp, false, cat([]byte{11}, le16(2000), []byte{1, 1, 0, 0, 1}, le32(123456))},
		{TypeDatetime, false, []byte{0}},
		{TypeTime, false, cat([]byte{8, 1}, le32(2), []byte{3, 4, 5})},
		{TypeTime, false, cat([]byte{12, 0}, le32(0), []byte{0, 0, 1}, le32(500000))},
		{TypeTime, false, []byte{0}},
		{TypeVarString, false, nil},
		{TypeNull, false, nil},
	}
	want := []any{
		int64(-1), uint64(255), int64(-32768), uint64(2024), int64(-2), uint64(0xffffff),
		int64(math.MinInt64), uint64(math.MaxUint64), 0.5, -2.25, "-1.5", "h\x00i", []byte{0, 0xff},
		time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 58, 0, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 1, 123456000, time.UTC),
		time.Time{},
		-(2*24*time.Hour + 3*time.Hour + 4*time.Minute + 5*time.Second),
		time.Second + 500*time.Millisecond,
		time.Duration(0),
		nil, nil,
	}
	nulls := make([]byte, (len(params)+7)/8)
	var types, values []byte
	for i, p := range params {
		flag := byte(0)
		if p.unsigned {
			flag = 0x80
		}
		types = append(types, p.typ, flag)
		if p.raw == nil {
			nulls[i/8] |= 1 << (i % 8)
		}
		values = append(values, p.raw...)
	}
	head := []byte{0, 1, 0, 0, 0}
	payload := cat(head, nulls, []byte{1}, types, values)
	st := &stmtState{params: len(params), longData: make([][]byte, len(params))}
	got, err := st.decodeExecute(payload)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n got %#v\nwant %#v", got, want)
	}
	// The next execution may leave the types out.
	if got, err = st.decodeExecute(cat(head, nulls, []byte{0}, values)); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("with remembered types: %v %#v", err, got)
	}
	// Long data replaces a value in the packet: parameter 11 (a string)
	// and 12 (a blob) come from COM_STMT_SEND_LONG_DATA.
	st.addLongData(11, []byte("lo"), 100)
	st.addLongData(11, []byte("ng"), 100)
	st.addLongData(12, nil, 100)
	without := cat(values[:bytes.Index(values, []byte("\x04-1.5"))+5], values[bytes.Index(values, []byte("\x02\x00\xff"))+3:])
	got, err = st.decodeExecute(cat(head, nulls, []byte{0}, without))
	if err != nil || got[11] != "long" || !bytes.Equal(got[12].([]byte), []byte{}) || got[13] != want[13] {
		t.Fatalf("long data: %v %#v", err, got)
	}

	// Failures.
	for name, tc := range map[string]struct {
		payload []byte
		code    uint16
	}{
		"no types ever bound": {cat(head, []byte{0}, []byte{0}, le64(1)), ErrCodeWrongArguments},
		"truncated value":     {cat(head, []byte{0}, []byte{1, TypeLongLong, 0}, []byte{1, 2}), 0},
		"truncated types":     {cat(head, []byte{0}, []byte{1, TypeLongLong}), 0},
		"string too long":     {cat(head, []byte{0}, []byte{1, TypeVarString, 0}, []byte{0xfc, 0xff, 0xff, 'a'}), 0},
		"bad date":            {cat(head, []byte{0}, []byte{1, TypeDate, 0}, []byte{4}, le16(2023), []byte{2, 29}), ErrCodeWrongArguments},
		"bad date length":     {cat(head, []byte{0}, []byte{1, TypeDate, 0}, []byte{5, 0, 0, 0, 0, 0}), 0},
		"bad time":            {cat(head, []byte{0}, []byte{1, TypeTime, 0}, []byte{8, 0}, le32(0), []byte{24, 0, 0}), ErrCodeWrongArguments},
		"unknown type":        {cat(head, []byte{0}, []byte{1, 0x42, 0}, []byte{0}), ErrCodeUnknown},
		"short header":        {[]byte{0, 1}, 0},
	} {
		st := &stmtState{params: 1, longData: make([][]byte, 1)}
		_, err := st.decodeExecute(tc.payload)
		if tc.code == 0 {
			if !errors.Is(err, errMalformed) {
				t.Errorf("%s: got %v, want malformed", name, err)
			}
			continue
		}
		if code, _, _ := errorFields(err); err == nil || code != tc.code {
			t.Errorf("%s: got %v, want %d", name, err, tc.code)
		}
	}
}
