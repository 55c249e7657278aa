package truetime

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/truetime/ntpwire"
)

// badResponder answers every request on a loopback socket with a reply
// mangled by mangle; it stands in for a broken, replaying or spoofing server.
func badResponder(t *testing.T, mangle func(req ntpwire.Packet, reply []byte) []byte) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, addr, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			req, err := ntpwire.ParseRequest(buf[:n])
			if err != nil {
				continue
			}
			now := ntpwire.TimestampFromUnixNano(time.Now().UnixNano())
			reply := ntpwire.Packet{Version: 4, Mode: ntpwire.ModeServer, Stratum: 1, ReferenceTime: now,
				OriginTime: req.TransmitTime, ReceiveTime: now, TransmitTime: now}
			_, _ = conn.WriteTo(mangle(req, reply.AppendTo(nil)), addr)
		}
	}()
	return conn.LocalAddr().String()
}

// TestNTPQuerierDropsBadReplies: replayed/spoofed (origin mismatch),
// wrong-mode, truncated and unsynchronised replies are errors with the
// right reason, and a well-formed one is accepted.
func TestNTPQuerierDropsBadReplies(t *testing.T) {
	q := &NTPQuerier{Clock: SystemClock(), Timeout: 2 * time.Second}
	for _, tc := range []struct {
		name   string
		mangle func(ntpwire.Packet, []byte) []byte
		want   DropReason
	}{
		{"origin mismatch", func(_ ntpwire.Packet, b []byte) []byte { b[24] ^= 0xff; return b }, DropOriginMismatch},
		{"replayed reply of another request", func(_ ntpwire.Packet, b []byte) []byte {
			copy(b[24:32], []byte{1, 2, 3, 4, 5, 6, 7, 8})
			return b
		}, DropOriginMismatch},
		{"client mode", func(_ ntpwire.Packet, b []byte) []byte { b[0] = b[0]&^7 | 3; return b }, DropBadMode},
		{"truncated", func(_ ntpwire.Packet, b []byte) []byte { return b[:30] }, DropMalformed},
		{"zero transmit time", func(_ ntpwire.Packet, b []byte) []byte { clear(b[40:48]); return b }, DropMalformed},
		{"unsynchronised leap", func(_ ntpwire.Packet, b []byte) []byte { b[0] |= 3 << 6; return b }, DropUnsynchronized},
		{"kiss of death", func(_ ntpwire.Packet, b []byte) []byte { b[1] = 0; return b }, DropKissOfDeath},
		{"oversized", func(_ ntpwire.Packet, b []byte) []byte { return append(b, make([]byte, 4000)...) }, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := badResponder(t, tc.mangle)
			x, err := q.Query(context.Background(), addr)
			if tc.want < 0 {
				// Trailing bytes after a valid header are extension
				// fields to an NTP client: the header is still good.
				if err != nil {
					t.Fatalf("valid header with trailer rejected: %v", err)
				}
				if x.RTT() < 0 || x.T4 < x.T1 {
					t.Fatalf("exchange %+v", x)
				}
				return
			}
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Reason != tc.want {
				t.Fatalf("got %v, want reason %s", err, tc.want)
			}
		})
	}
}

func TestNTPQuerierUnreachable(t *testing.T) {
	// A bound-then-closed port: the kernel answers "connection refused".
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()
	_ = conn.Close()
	q := &NTPQuerier{Clock: SystemClock(), Timeout: time.Second}
	var qe *QueryError
	if _, err := q.Query(context.Background(), addr); !errors.As(err, &qe) || qe.Reason != DropUnreachable {
		t.Fatalf("got %v", err)
	}
}
