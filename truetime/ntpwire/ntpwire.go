// Package ntpwire encodes and decodes the fixed 48-byte NTPv3/v4 header
// (RFC 5905 §7.3) that Meridian's time master speaks. It parses bytes from
// the network, so it never panics and never trusts a length: Parse accepts
// exactly what a responder may answer and returns a typed error otherwise.
// Extension fields and MACs after the header are length-checked and ignored
// (the time master does not authenticate).
package ntpwire

import (
	"encoding/binary"
	"time"

	"github.com/cockroachdb/errors"
)

const (
	// HeaderLen is the length of the NTP header without extensions.
	HeaderLen = 48
	// MaxPacketLen bounds what a responder reads: a header, a few
	// extension fields and a MAC fit comfortably; anything longer is not
	// a time request worth answering.
	MaxPacketLen = 1024
)

// Mode is the association mode in the low three bits of the first byte.
type Mode uint8

const (
	ModeSymmetricActive Mode = 1
	ModeClient          Mode = 3
	ModeServer          Mode = 4
	ModeControl         Mode = 6
)

// Leap indicator values.
const (
	LeapNoWarning    = 0
	LeapNotInSync    = 3
	MinVersion       = 1
	MaxVersion       = 4
	StratumPrimary   = 1
	StratumUnsynced  = 16
	PrecisionDefault = -20 // ≈ 1µs
)

// Errors returned by Parse and ParseRequest; all are drop reasons.
var (
	ErrTruncated  = errors.New("ntpwire: packet shorter than the 48-byte header")
	ErrOversized  = errors.New("ntpwire: packet longer than MaxPacketLen")
	ErrBadLength  = errors.New("ntpwire: packet length beyond the header is not a multiple of 4")
	ErrBadVersion = errors.New("ntpwire: unsupported NTP version")
	ErrBadMode    = errors.New("ntpwire: unexpected mode")
)

// Timestamp is a 64-bit NTP timestamp: seconds since 1900 in the high 32
// bits, fraction in the low 32, era inferred as for NTPv4 (values that would
// be before 1970 are taken to be in era 1, after 2036).
type Timestamp uint64

const (
	nanosPerSec = 1_000_000_000
	// secs1900To1970 is the offset between the NTP and Unix epochs.
	secs1900To1970 = 2_208_988_800
	eraSeconds     = 1 << 32
)

// TimestampFromUnixNano converts nanoseconds since the Unix epoch (from 1970
// to 2106, the window that era inference covers) to an NTP timestamp,
// rounding to nearest.
func TimestampFromUnixNano(ns int64) Timestamp {
	sec := ns / nanosPerSec
	frac := ns % nanosPerSec
	if frac < 0 {
		sec--
		frac += nanosPerSec
	}
	ntpSec := uint64(sec+secs1900To1970) % eraSeconds
	f := (uint64(frac)<<32 + nanosPerSec/2) / nanosPerSec
	if f >= 1<<32 { // rounding carried into the seconds
		f -= 1 << 32
		ntpSec = (ntpSec + 1) % eraSeconds
	}
	return Timestamp(ntpSec<<32 | f)
}

// UnixNano converts t back to nanoseconds since the Unix epoch, rounding to
// nearest.
func (t Timestamp) UnixNano() int64 {
	sec := int64(t >> 32)
	if sec < secs1900To1970 {
		sec += eraSeconds // era 1
	}
	frac := (uint64(t&0xffffffff)*nanosPerSec + 1<<31) >> 32
	return (sec-secs1900To1970)*nanosPerSec + int64(frac)
}

// Short is the 32-bit NTP short format: 16.16 fixed-point seconds, used for
// root delay and root dispersion.
type Short uint32

// ShortFromDuration converts d to the short format, rounding up: a declared
// uncertainty must never shrink in transit. Negative durations give 0 and
// durations beyond 65535s saturate.
func ShortFromDuration(d time.Duration) Short {
	if d <= 0 {
		return 0
	}
	if d >= 65535*time.Second {
		return 0xffffffff
	}
	v := (uint64(d)<<16 + nanosPerSec - 1) / nanosPerSec
	return Short(v)
}

// Duration converts s to a duration, rounding up.
func (s Short) Duration() time.Duration {
	return time.Duration((uint64(s)*nanosPerSec + 0xffff) >> 16)
}

// Packet is the NTP header.
type Packet struct {
	Leap           uint8
	Version        uint8
	Mode           Mode
	Stratum        uint8
	Poll           int8
	Precision      int8
	RootDelay      Short
	RootDispersion Short
	ReferenceID    uint32
	ReferenceTime  Timestamp
	OriginTime     Timestamp
	ReceiveTime    Timestamp
	TransmitTime   Timestamp
}

// Parse decodes the header of b, checking lengths and the version; it does
// not check the mode. b is not retained.
func Parse(b []byte) (Packet, error) {
	switch {
	case len(b) < HeaderLen:
		return Packet{}, errors.Wrapf(ErrTruncated, "%d bytes", len(b))
	case len(b) > MaxPacketLen:
		return Packet{}, errors.Wrapf(ErrOversized, "%d bytes", len(b))
	case (len(b)-HeaderLen)%4 != 0:
		return Packet{}, errors.Wrapf(ErrBadLength, "%d bytes", len(b))
	}
	p := Packet{
		Leap:           b[0] >> 6,
		Version:        (b[0] >> 3) & 7,
		Mode:           Mode(b[0] & 7),
		Stratum:        b[1],
		Poll:           int8(b[2]),
		Precision:      int8(b[3]),
		RootDelay:      Short(binary.BigEndian.Uint32(b[4:])),
		RootDispersion: Short(binary.BigEndian.Uint32(b[8:])),
		ReferenceID:    binary.BigEndian.Uint32(b[12:]),
		ReferenceTime:  Timestamp(binary.BigEndian.Uint64(b[16:])),
		OriginTime:     Timestamp(binary.BigEndian.Uint64(b[24:])),
		ReceiveTime:    Timestamp(binary.BigEndian.Uint64(b[32:])),
		TransmitTime:   Timestamp(binary.BigEndian.Uint64(b[40:])),
	}
	if p.Version < MinVersion || p.Version > MaxVersion {
		return Packet{}, errors.Wrapf(ErrBadVersion, "version %d", p.Version)
	}
	return p, nil
}

// ParseRequest parses a packet a time master should answer: a client-mode
// (3) request of version 1 to 4.
func ParseRequest(b []byte) (Packet, error) {
	p, err := Parse(b)
	if err != nil {
		return Packet{}, err
	}
	if p.Mode != ModeClient {
		return Packet{}, errors.Wrapf(ErrBadMode, "mode %d, want %d (client)", p.Mode, ModeClient)
	}
	return p, nil
}

// AppendTo appends the 48-byte encoding of p to b. Fields are masked to
// their widths.
func (p *Packet) AppendTo(b []byte) []byte {
	b = append(b, (p.Leap&3)<<6|(p.Version&7)<<3|uint8(p.Mode&7), p.Stratum, byte(p.Poll), byte(p.Precision))
	b = binary.BigEndian.AppendUint32(b, uint32(p.RootDelay))
	b = binary.BigEndian.AppendUint32(b, uint32(p.RootDispersion))
	b = binary.BigEndian.AppendUint32(b, p.ReferenceID)
	b = binary.BigEndian.AppendUint64(b, uint64(p.ReferenceTime))
	b = binary.BigEndian.AppendUint64(b, uint64(p.OriginTime))
	b = binary.BigEndian.AppendUint64(b, uint64(p.ReceiveTime))
	b = binary.BigEndian.AppendUint64(b, uint64(p.TransmitTime))
	return b
}
