package mysqlwire

import (
	"bytes"
	"encoding/binary"

	"github.com/cockroachdb/errors"
)

// errMalformed is returned by every decoder when a client packet is shorter
// than its own fields say or otherwise inconsistent.
var errMalformed = errors.New("mysqlwire: malformed packet")

func appendLenEncInt(b []byte, n uint64) []byte {
	switch {
	case n < 251:
		return append(b, byte(n))
	case n < 1<<16:
		return append(b, 0xfc, byte(n), byte(n>>8))
	case n < 1<<24:
		return append(b, 0xfd, byte(n), byte(n>>8), byte(n>>16))
	default:
		return binary.LittleEndian.AppendUint64(append(b, 0xfe), n)
	}
}

func appendLenEncString(b []byte, s string) []byte {
	return append(appendLenEncInt(b, uint64(len(s))), s...)
}

func appendLenEncBytes(b []byte, s []byte) []byte {
	return append(appendLenEncInt(b, uint64(len(s))), s...)
}

// decoder reads fields from one client packet. Every read is bounds-checked
// against the packet, never against a length the packet claims, so a
// hostile length costs no allocation. The first failure sticks in err and
// later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err = errMalformed; d.b = nil }

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint8() byte {
	if v := d.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) uint16() uint16 {
	if v := d.bytes(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	if v := d.bytes(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) uint64() uint64 {
	if v := d.bytes(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// lenEncInt reads a length-encoded integer; null reports the 0xfb NULL
// marker, which only some fields allow.
func (d *decoder) lenEncInt() (n uint64, null bool) {
	switch first := d.uint8(); first {
	case 0xfb:
		return 0, true
	case 0xfc:
		return uint64(d.uint16()), false
	case 0xfd:
		v := d.bytes(3)
		if v == nil {
			return 0, false
		}
		return uint64(v[0]) | uint64(v[1])<<8 | uint64(v[2])<<16, false
	case 0xfe:
		return d.uint64(), false
	case 0xff:
		d.fail()
		return 0, false
	default:
		return uint64(first), false
	}
}

func (d *decoder) lenEncBytes() []byte {
	n, null := d.lenEncInt()
	if null || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	return d.bytes(int(n))
}

// nulString reads up to a NUL byte and consumes it; a missing NUL is an
// error.
func (d *decoder) nulString() []byte {
	if d.err != nil {
		return nil
	}
	i := bytes.IndexByte(d.b, 0)
	if i < 0 {
		d.fail()
		return nil
	}
	v := d.b[:i:i]
	d.b = d.b[i+1:]
	return v
}

// rest consumes the remainder of the packet.
func (d *decoder) rest() []byte {
	if d.err != nil {
		return nil
	}
	v := d.b
	d.b = nil
	return v
}
