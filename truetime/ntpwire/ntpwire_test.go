package ntpwire

import (
	"bytes"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"pgregory.net/rapid"
)

func TestTimestampRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// The window era inference covers: 1970 .. 2106.
		ns := rapid.Int64Range(0, eraSeconds*nanosPerSec-1).Draw(t, "ns")
		got := TimestampFromUnixNano(ns).UnixNano()
		if d := got - ns; d < -1 || d > 1 {
			t.Fatalf("round trip %d -> %d", ns, got)
		}
	})
	// The era boundary (2036-02-07T06:28:16Z) and a fraction that rounds up
	// into the next second.
	for _, ns := range []int64{(eraSeconds - secs1900To1970) * nanosPerSec, 1_999_999_999_999_999_999} {
		if got := TimestampFromUnixNano(ns).UnixNano(); got-ns < -1 || got-ns > 1 {
			t.Fatalf("%d -> %d", ns, got)
		}
	}
	if got := TimestampFromUnixNano(0); got != Timestamp(uint64(secs1900To1970)<<32) {
		t.Fatalf("Unix epoch = %x", uint64(got))
	}
}

func TestShortRoundsUp(t *testing.T) {
	for _, d := range []time.Duration{0, 1, time.Microsecond, time.Millisecond, 1500 * time.Millisecond, 16 * time.Second} {
		s := ShortFromDuration(d)
		if back := s.Duration(); back < d || back > d+16*time.Microsecond {
			t.Errorf("%s -> %d -> %s", d, s, back)
		}
	}
	if ShortFromDuration(-time.Second) != 0 || ShortFromDuration(100000*time.Second) != 0xffffffff {
		t.Fatal("clamping")
	}
}

func TestPacketRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := Packet{
			Leap:           rapid.Uint8Range(0, 3).Draw(t, "leap"),
			Version:        rapid.Uint8Range(1, 4).Draw(t, "version"),
			Mode:           Mode(rapid.Uint8Range(0, 7).Draw(t, "mode")),
			Stratum:        rapid.Uint8().Draw(t, "stratum"),
			Poll:           rapid.Int8().Draw(t, "poll"),
			Precision:      rapid.Int8().Draw(t, "precision"),
			RootDelay:      Short(rapid.Uint32().Draw(t, "rd")),
			RootDispersion: Short(rapid.Uint32().Draw(t, "disp")),
			ReferenceID:    rapid.Uint32().Draw(t, "refid"),
			ReferenceTime:  Timestamp(rapid.Uint64().Draw(t, "ref")),
			OriginTime:     Timestamp(rapid.Uint64().Draw(t, "org")),
			ReceiveTime:    Timestamp(rapid.Uint64().Draw(t, "rec")),
			TransmitTime:   Timestamp(rapid.Uint64().Draw(t, "xmt")),
		}
		b := p.AppendTo(nil)
		if len(b) != HeaderLen {
			t.Fatalf("len %d", len(b))
		}
		got, err := Parse(b)
		if err != nil || got != p {
			t.Fatalf("got %+v, %v; want %+v", got, err, p)
		}
	})
}

func TestParseRejects(t *testing.T) {
	req := Packet{Version: 4, Mode: ModeClient}
	good := req.AppendTo(nil)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated", good[:47], ErrTruncated},
		{"odd extension", append(bytes.Clone(good), 1, 2, 3), ErrBadLength},
		{"oversized", append(bytes.Clone(good), make([]byte, MaxPacketLen)...), ErrOversized},
		{"version 0", func() []byte { b := bytes.Clone(good); b[0] &^= 7 << 3; return b }(), ErrBadVersion},
		{"version 5", func() []byte { b := bytes.Clone(good); b[0] = b[0]&^(7<<3) | 5<<3; return b }(), ErrBadVersion},
		{"server mode", func() []byte { p := req; p.Mode = ModeServer; return p.AppendTo(nil) }(), ErrBadMode},
		{"control mode", func() []byte { p := req; p.Mode = ModeControl; return p.AppendTo(nil) }(), ErrBadMode},
	} {
		if _, err := ParseRequest(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := ParseRequest(append(bytes.Clone(good), make([]byte, 24)...)); err != nil {
		t.Errorf("request with a MAC-sized trailer: %v", err)
	}
}

// FuzzParse: Parse never panics, accepts only well-formed lengths and
// versions, and what it accepts re-encodes to the same header.
func FuzzParse(f *testing.F) {
	req := Packet{Version: 4, Mode: ModeClient, TransmitTime: 0x0123456789abcdef}
	f.Add(req.AppendTo(nil))
	f.Add(append(req.AppendTo(nil), make([]byte, 20)...))
	f.Add([]byte{0x1b})
	f.Add(make([]byte, 48))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if p != (Packet{}) {
				t.Fatalf("error %v with non-zero packet", err)
			}
			return
		}
		if len(b) < HeaderLen || len(b) > MaxPacketLen || (len(b)-HeaderLen)%4 != 0 {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if p.Version < MinVersion || p.Version > MaxVersion {
			t.Fatalf("accepted version %d", p.Version)
		}
		if enc := p.AppendTo(nil); !bytes.Equal(enc, b[:HeaderLen]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, b[:HeaderLen])
		}
		_, rerr := ParseRequest(b)
		if (rerr == nil) != (p.Mode == ModeClient) {
			t.Fatalf("ParseRequest mode check: mode %d err %v", p.Mode, rerr)
		}
	})
}
