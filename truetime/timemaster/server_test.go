package timemaster

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/beevik/ntp"
	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/truetime/ntpwire"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestRespond(t *testing.T) {
	recv := time.Unix(1_795_000_000, 123_456_789)
	xmit := recv.Add(40 * time.Microsecond)
	s, err := New(Options{Uncertainty: 3 * time.Millisecond, Logger: quiet, TestingOffset: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	req := ntpwire.Packet{Version: 3, Mode: ntpwire.ModeClient, Poll: 6, TransmitTime: 0xdeadbeefcafef00d}
	reply, err := s.Respond(req.AppendTo(nil), recv, fixedClock(xmit), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ntpwire.Parse(reply)
	if err != nil {
		t.Fatal(err)
	}
	want := ntpwire.Packet{
		Version: 3, Mode: ntpwire.ModeServer, Stratum: 1, Poll: 6, Precision: ntpwire.PrecisionDefault,
		RootDispersion: ntpwire.ShortFromDuration(3 * time.Millisecond), ReferenceID: 0x4d52444e, // "MRDN"
		OriginTime:    req.TransmitTime,
		ReferenceTime: ntpwire.TimestampFromUnixNano(recv.Add(500 * time.Millisecond).UnixNano()),
		ReceiveTime:   ntpwire.TimestampFromUnixNano(recv.Add(500 * time.Millisecond).UnixNano()),
		TransmitTime:  ntpwire.TimestampFromUnixNano(xmit.Add(500 * time.Millisecond).UnixNano()),
	}
	if p != want {
		t.Fatalf("reply\n%+v\nwant\n%+v", p, want)
	}
	if p.RootDispersion.Duration() < 3*time.Millisecond {
		t.Fatal("declared less uncertainty than configured")
	}
	if len(reply) > len(req.AppendTo(nil)) {
		t.Fatal("reply larger than request")
	}
}

func TestRespondDropsBadPackets(t *testing.T) {
	s, _ := New(Options{Logger: quiet})
	now := time.Now()
	good := (&ntpwire.Packet{Version: 4, Mode: ntpwire.ModeClient}).AppendTo(nil)
	serverMode := (&ntpwire.Packet{Version: 4, Mode: ntpwire.ModeServer}).AppendTo(nil)
	control := (&ntpwire.Packet{Version: 2, Mode: ntpwire.ModeControl}).AppendTo(nil)
	symmetric := (&ntpwire.Packet{Version: 4, Mode: ntpwire.ModeSymmetricActive}).AppendTo(nil)
	v5 := bytes.Clone(good)
	v5[0] = v5[0]&^(7<<3) | 5<<3
	for _, b := range [][]byte{nil, good[:20], good[:47], append(bytes.Clone(good), 1),
		make([]byte, ntpwire.MaxPacketLen+4), serverMode, control, symmetric, v5} {
		if reply, err := s.Respond(b, now, time.Now, nil); err == nil || reply != nil {
			t.Errorf("answered %x", b)
		}
	}
	st := s.Stats()
	want := map[string]int64{DropTruncated: 3, DropBadLength: 1, DropOversized: 1, DropBadMode: 3, DropBadVersion: 1}
	for r, n := range want {
		if st.Dropped[r] != n {
			t.Errorf("dropped[%s] = %d, want %d (%+v)", r, st.Dropped[r], n, st)
		}
	}
	if st.Answered != 0 {
		t.Fatalf("answered %d", st.Answered)
	}
}

// FuzzRespond: any datagram either gets a well-formed server-mode reply that
// echoes its transmit timestamp, or is dropped; never a panic.
func FuzzRespond(f *testing.F) {
	f.Add((&ntpwire.Packet{Version: 4, Mode: ntpwire.ModeClient, TransmitTime: 42}).AppendTo(nil))
	f.Add([]byte("not ntp"))
	s, _ := New(Options{Logger: quiet})
	now := time.Unix(1_795_000_000, 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		reply, err := s.Respond(b, now, fixedClock(now), nil)
		if err != nil {
			return
		}
		p, perr := ntpwire.Parse(reply)
		if perr != nil || p.Mode != ntpwire.ModeServer || len(reply) > len(b) {
			t.Fatalf("bad reply %x to %x: %v", reply, b, perr)
		}
		if p.OriginTime != ntpwire.Timestamp(uint64(b[40])<<56|uint64(b[41])<<48|uint64(b[42])<<40|uint64(b[43])<<32|
			uint64(b[44])<<24|uint64(b[45])<<16|uint64(b[46])<<8|uint64(b[47])) {
			t.Fatal("origin timestamp not echoed")
		}
	})
}

func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	opts.Logger = quiet
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, conn.LocalAddr().String()
}

// TestServeAnswersNTPClient: a real NTP client (beevik/ntp) accepts the
// master's replies, and garbage sent to the socket neither crashes it nor
// stops it answering.
func TestServeAnswersNTPClient(t *testing.T) {
	s, addr := startServer(t, Options{Uncertainty: 2 * time.Millisecond})
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, junk := range [][]byte{{1, 2, 3}, make([]byte, 2000), (&ntpwire.Packet{Version: 4, Mode: ntpwire.ModeServer}).AppendTo(nil)} {
		if _, err := c.Write(junk); err != nil {
			t.Fatal(err)
		}
	}
	for _, version := range []int{3, 4} {
		r, err := ntp.QueryWithOptions(addr, ntp.QueryOptions{Version: version, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("beevik/ntp rejects the reply: %v", err)
		}
		if r.Stratum != 1 || r.RootDispersion < 2*time.Millisecond || r.RootDispersion > 2*time.Millisecond+20*time.Microsecond {
			t.Fatalf("reply %+v", r)
		}
		// Same host clock on both ends: the offset is within the round trip.
		if off := r.ClockOffset.Abs(); off > r.RTT+time.Millisecond {
			t.Fatalf("offset %s with rtt %s", r.ClockOffset, r.RTT)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := s.Stats(); st.Dropped[DropTruncated]+st.Dropped[DropOversized]+st.Dropped[DropBadMode] < 3; st = s.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("junk not counted: %+v", st)
		}
		runtime.Gosched()
	}
	if st := s.Stats(); st.Answered != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	s, _ := New(Options{Logger: quiet})
	conn, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, conn) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteTo([]byte{1}, conn.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("socket still open: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{Uncertainty: -1}, {Uncertainty: 17 * time.Second}, {ReferenceID: "TOOLONG"}} {
		if _, err := New(o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}
