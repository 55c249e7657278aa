package mysqlwire

import (
	"bufio"
	"io"
	"slices"

	"github.com/cockroachdb/errors"
)

// maxRetainedBuffer is the largest buffer a connection keeps between
// packets.
const maxRetainedBuffer = 1 << 20

var (
	// errPacketTooLarge: the client's packet exceeds max_allowed_packet.
	errPacketTooLarge = errors.New("mysqlwire: packet bigger than max_allowed_packet")
	// errOutOfOrder: a packet arrived with the wrong sequence id, so the
	// two ends disagree about the conversation and it cannot go on.
	errOutOfOrder = errors.New("mysqlwire: packets out of order")
)

// packetIO frames MySQL packets: a 3-byte little-endian payload length and a
// sequence id, then the payload. A payload of 2^24-1 bytes or more is split
// into chunks of 2^24-1 and ends with a shorter (possibly empty) chunk.
// Sequence ids count up across both directions within one exchange and
// restart at 0 with every command; resetSeq marks that restart.
type packetIO struct {
	r   *bufio.Reader
	w   *bufio.Writer
	seq uint8

	// maxPayload bounds one incoming logical packet (max_allowed_packet).
	maxPayload int
	buf        []byte

	// An oversized packet is reported at its first header; what is left of
	// it stays on the wire until discardOversized reads it.
	oversizedLeft int
	oversizedMore bool

	// werr is the first write error: after it nothing more is written.
	werr error
}

func newPacketIO(r io.Reader, w io.Writer, maxPayload int) *packetIO {
	return &packetIO{
		r:          bufio.NewReaderSize(r, 16<<10),
		w:          bufio.NewWriterSize(w, 16<<10),
		maxPayload: maxPayload,
	}
}

func (p *packetIO) resetSeq() { p.seq = 0 }

// readPacket returns the next logical packet. The slice is valid until the
// next call. Memory grows with the bytes that actually arrive, not with the
// length a header claims, and never past maxPayload.
func (p *packetIO) readPacket() ([]byte, error) {
	if cap(p.buf) > maxRetainedBuffer {
		p.buf = nil // a rare large packet should not pin its memory for the connection's life
	}
	p.buf = p.buf[:0]
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
			return nil, err
		}
		n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
		if hdr[3] != p.seq {
			return nil, errOutOfOrder
		}
		p.seq++
		if len(p.buf)+n > p.maxPayload {
			p.oversizedLeft, p.oversizedMore = n, n == maxPacketChunk
			return nil, errPacketTooLarge
		}
		var err error
		if p.buf, err = readAppend(p.r, p.buf, n); err != nil {
			return nil, err
		}
		if n < maxPacketChunk {
			return p.buf, nil
		}
	}
}

// discardOversized reads and drops the rest of the packet that
// readPacket refused, so that a client that writes its whole packet before
// reading the answer gets to read our error, and the sequence id of the
// answer is the one it expects. The caller bounds it with a read deadline.
func (p *packetIO) discardOversized() error {
	for {
		if _, err := p.r.Discard(p.oversizedLeft); err != nil {
			return err
		}
		if !p.oversizedMore {
			return nil
		}
		var hdr [4]byte
		if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
			return err
		}
		p.seq = hdr[3] + 1
		p.oversizedLeft = int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
		p.oversizedMore = p.oversizedLeft == maxPacketChunk
	}
}

// readAppend appends n bytes from r to b, growing b at most by what it
// already holds (or 64 KiB) per step.
func readAppend(r io.Reader, b []byte, n int) ([]byte, error) {
	for n > 0 {
		step := min(n, max(len(b), 64<<10))
		b = slices.Grow(b, step)
		if _, err := io.ReadFull(r, b[len(b):len(b)+step]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return b, err
		}
		b = b[:len(b)+step]
		n -= step
	}
	return b, nil
}

// writePacket frames payload into the write buffer; flush sends it. After
// a write error every call returns that error.
func (p *packetIO) writePacket(payload []byte) error {
	for p.werr == nil {
		n := min(len(payload), maxPacketChunk)
		hdr := [4]byte{byte(n), byte(n >> 8), byte(n >> 16), p.seq}
		p.seq++
		if _, err := p.w.Write(hdr[:]); err != nil {
			p.werr = err
			break
		}
		if _, err := p.w.Write(payload[:n]); err != nil {
			p.werr = err
			break
		}
		payload = payload[n:]
		if n < maxPacketChunk {
			return nil
		}
	}
	return p.werr
}

func (p *packetIO) flush() error {
	if p.werr == nil {
		p.werr = p.w.Flush()
	}
	return p.werr
}
