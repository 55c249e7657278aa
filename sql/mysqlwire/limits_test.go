package mysqlwire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestTooManyConnections(t *testing.T) {
	eng := newTestEngine()
	closed := make(chan uint32, 4)
	eng.onClose = func(id uint32) { closed <- id }
	_, addr := startServer(t, Config{Handler: eng, MaxConnections: 1})
	held := dialRaw(t, addr, "root", "", rawClientFlags, "")
	err := ping(t, "root", addr, "")
	checkMySQLError(t, err, ErrCodeConCount, "08004")
	// Freeing the slot lets the next client in.
	held.command(comQuit)
	<-closed
	if err := ping(t, "root", addr, ""); err != nil {
		t.Fatal(err)
	}
}

func TestIdleTimeout(t *testing.T) {
	eng := newTestEngine()
	closed := make(chan uint32, 4)
	eng.onClose = func(id uint32) { closed <- id }
	_, addr := startServer(t, Config{Handler: eng, IdleTimeout: 200 * time.Millisecond})
	c := dialRaw(t, addr, "root", "", rawClientFlags, "")
	// The client is told why, then the connection ends.
	c.pk.resetSeq()
	checkError(t, packetError(c.read()), ErrCodeClientInactive)
	if _, err := c.pk.readPacket(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the idle error: %v", err)
	}
	<-closed
}

// TestOversizedPacket: a packet over MaxAllowedPacket is answered with ERR
// 1153 (read whole first, so the client, which writes its packet before
// reading, gets the answer) and the connection is closed; the server
// serves other connections as before.
func TestOversizedPacket(t *testing.T) {
	_, addr := startServer(t, Config{MaxAllowedPacket: 1 << 20})
	db := openDB(t, "root", addr, "maxAllowedPacket=67108864")
	// The server closes a connection after ERR 1153; a pooled one could
	// be picked up before the client notices.
	db.SetMaxIdleConns(0)
	// Just within the limit: a query whose packet is 1 MiB exactly arrives
	// (the toy engine cannot parse a number that long).
	_, err := db.Exec("select " + strings.Repeat("1", 1<<20-len("select ")-1))
	checkMySQLError(t, err, 1064, "42000")
	for _, n := range []int{1<<20 + 1, 2 << 20, 1<<24 + 10} {
		_, err := db.Exec("select '" + strings.Repeat("a", n) + "'")
		checkMySQLError(t, err, ErrCodeNetPacketTooLarge, "08S01")
	}
	// Long data counts against the same limit, per parameter; the error
	// waits for the execution and the connection stays.
	db2 := openDB(t, "root", addr, "maxAllowedPacket=65536")
	db2.SetMaxOpenConns(1)
	var got []byte
	err = db2.QueryRow("select ?", bytes.Repeat([]byte{1}, 2<<20)).Scan(&got)
	checkMySQLError(t, err, ErrCodeNetPacketTooLarge, "HY000")
	var n int
	if err := db2.QueryRow("select 9").Scan(&n); err != nil || n != 9 {
		t.Fatalf("after long data error: %d, %v", n, err)
	}
	if err := db.QueryRow("select 8").Scan(&n); err != nil || n != 8 {
		t.Fatalf("after oversized packets: %d, %v", n, err)
	}
}
