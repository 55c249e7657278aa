package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"testing"
	"time"
)

// Fuzz targets for everything that decodes client bytes. Their seed
// corpora run with plain `go test`; `go test -fuzz=FuzzX` explores.

func frame(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// fuzzMaxPayload is the max_allowed_packet of the packet reader under fuzz.
const fuzzMaxPayload = 1 << 16

func FuzzPacketReader(f *testing.F) {
	f.Add(frame(0, []byte{comPing}))
	f.Add(append(frame(0, []byte("\x03select 1")), frame(1, nil)...))
	f.Add(frame(1, []byte{comPing}))                       // out of order
	f.Add([]byte{0xff, 0xff, 0xff, 0, 1, 2, 3})            // a 16 MiB chunk that never comes
	f.Add([]byte{0x01, 0x00, 0x01, 0, 1, 2, 3})            // over max_allowed_packet
	f.Add(append(frame(0, make([]byte, 100)), 5, 0, 0, 1)) // truncated second packet
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newPacketIO(bytes.NewReader(data), io.Discard, fuzzMaxPayload)
		for range 100 {
			pkt, err := p.readPacket()
			if errors.Is(err, errPacketTooLarge) {
				_ = p.discardOversized()
				break
			}
			if err != nil {
				break
			}
			if len(pkt) > fuzzMaxPayload {
				t.Fatalf("packet of %d bytes passed a limit of %d", len(pkt), fuzzMaxPayload)
			}
			// Framing round trip.
			var buf bytes.Buffer
			w := newPacketIO(nil, &buf, 0)
			if w.writePacket(pkt) != nil || w.flush() != nil {
				t.Fatal("write failed")
			}
			r := newPacketIO(&buf, nil, fuzzMaxPayload)
			if back, err := r.readPacket(); err != nil || !bytes.Equal(back, pkt) {
				t.Fatalf("round trip: %v", err)
			}
		}
		// Memory follows the bytes that arrived, not the lengths claimed.
		if c := cap(p.buf); c > 2*len(data)+64<<10 {
			t.Fatalf("buffer of %d bytes for %d input bytes", c, len(data))
		}
	})
}

func FuzzHandshakeResponse(f *testing.F) {
	for _, r := range []handshakeResponse{
		{flags: rawClientFlags | ClientConnectWithDB | ClientConnectAttrs, maxPacket: 1 << 24, charset: 45,
			user: "root", authResponse: []byte("0123456789abcdefghij"), database: "test", plugin: NativePassword,
			attrs: map[string]string{"_client_name": "Go-MySQL-Driver", "_os": "linux"}},
		{flags: ClientProtocol41 | ClientSecureConnection, user: "u", authResponse: []byte{1, 2, 3}},
		{flags: ClientProtocol41, user: "old", authResponse: []byte("x")},
		{flags: ClientProtocol41 | ClientSSL, sslRequest: true},
	} {
		f.Add(encodeHandshakeResponse(r))
	}
	f.Add([]byte{0, 0, 0, 0}) // pre-4.1
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseHandshakeResponse(data)
		if err != nil {
			return
		}
		if len(r.attrs) > maxConnectAttrs {
			t.Fatalf("%d attributes", len(r.attrs))
		}
		// What parsed encodes back to the same response.
		again, err := parseHandshakeResponse(encodeHandshakeResponse(r))
		if err != nil {
			t.Fatalf("re-encoded response does not parse: %v", err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip\n got %+v\nwant %+v", again, r)
		}
	})
}

func FuzzStmtExecute(f *testing.F) {
	head := []byte{0, 1, 0, 0, 0}
	f.Add(byte(0), head)
	f.Add(byte(2), append(append(head, 0, 1, TypeLongLong, 0, TypeVarString, 0), append(binary.LittleEndian.AppendUint64(nil, 7), 1, 'x')...))
	f.Add(byte(1), append(head, 1, 1, TypeNull, 0))
	f.Add(byte(1), append(head, 0, 1, TypeDatetime, 0, 11, 0xe8, 0x07, 2, 29, 1, 2, 3, 1, 0, 0, 0))
	f.Add(byte(1), append(head, 0, 1, TypeTime, 0, 12, 1, 1, 0, 0, 0, 1, 2, 3, 1, 0, 0, 0))
	f.Add(byte(1), append(head, 0, 1, TypeBlob, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))
	f.Add(byte(3), append(head, 0, 0)) // types never bound
	f.Fuzz(func(t *testing.T, nparams byte, payload []byte) {
		st := &stmtState{params: int(nparams), longData: make([][]byte, nparams)}
		if nparams > 0 && len(payload) > 0 && payload[0]&1 != 0 {
			st.addLongData(int(payload[0])%int(nparams), payload, fuzzMaxPayload)
		}
		for range 2 { // the second time with whatever types the first bound
			params, err := st.decodeExecute(payload)
			if err == nil && len(params) != int(nparams) {
				t.Fatalf("%d values for %d parameters", len(params), nparams)
			}
		}
	})
}

var garbageSeed = flag.Uint64("mysqlwire.garbage-seed", 0, "seed of TestGarbageOverTCP (0: from the clock)")

// TestGarbageOverTCP throws random bytes at a real server over TCP — in
// place of the handshake, as a framed handshake response, and as commands
// after a real login — then checks that a real client is served and that
// Close finds every connection goroutine finished.
func TestGarbageOverTCP(t *testing.T) {
	seed := *garbageSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -mysqlwire.garbage-seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	srv, addr := startServer(t, Config{HandshakeTimeout: time.Second, MaxAllowedPacket: 1 << 16})
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	commands := []byte{comQuit, comInitDB, comQuery, comFieldList, comStatistics, comPing, comStmtPrepare,
		comStmtExecute, comStmtSendLongData, comStmtClose, comStmtReset, comSetOption, comResetConnection}
	rounds := 300
	if testing.Short() {
		rounds = 60
	}
	for round := range rounds {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		switch mode := rng.IntN(4); mode {
		case 0: // bytes in place of a handshake response
			_, _ = nc.Write(randBytes(rng.IntN(300)))
		case 1: // a framed handshake response with random contents
			resp := encodeHandshakeResponse(handshakeResponse{flags: rng.Uint32() | ClientProtocol41, user: "root", plugin: "x"})
			for range rng.IntN(8) {
				resp[rng.IntN(len(resp))] = byte(rng.Uint32())
			}
			_, _ = nc.Write(frame(1, append(resp, randBytes(rng.IntN(50))...)))
		default: // commands after a real login
			c := &rawClient{t: t, nc: nc, pk: newPacketIO(nc, nc, 1<<20), flags: rawClientFlags | ClientDeprecateEOF}
			if err := c.handshake("root", "", ""); err != nil {
				t.Fatalf("round %d: handshake: %v", round, err)
			}
			c.pk.resetSeq()
			_ = c.send(append([]byte{comStmtPrepare}, "select ?, ?, ?"...))
			for range rng.IntN(20) {
				var p []byte
				if mode == 2 {
					p = append([]byte{commands[rng.IntN(len(commands))]}, randBytes(rng.IntN(40))...)
					if rng.IntN(2) == 0 && len(p) >= 5 {
						binary.LittleEndian.PutUint32(p[1:], 1) // the prepared statement's id
					}
					c.pk.seq = byte(rng.IntN(2)) // mostly in order
				} else {
					p = randBytes(rng.IntN(100))
					c.pk.seq = byte(rng.Uint32())
				}
				if c.send(p) != nil {
					break
				}
			}
		}
		nc.Close()
	}

	db := openDB(t, "root", addr, "")
	var n int
	if err := db.QueryRow("select 42").Scan(&n); err != nil || n != 42 {
		t.Fatalf("after the garbage (seed %d): %d, %v", seed, n, err)
	}
	db.Close()
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatalf("Close still waiting for connections after 30s (seed %d)", seed)
	}
}
