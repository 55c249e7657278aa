package mysqlwire

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"net"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
)

// rawClient speaks the protocol by hand, for what go-sql-driver/mysql never
// sends (COM_SET_OPTION, COM_FIELD_LIST, unknown commands, a plugin other
// than the greeting's) and for looking at status flags on the wire.
type rawClient struct {
	t     testing.TB
	nc    net.Conn
	pk    *packetIO
	flags uint32
	// How the handshake went.
	switched, fullAuth bool
}

// greeting is what a client reads from Protocol::HandshakeV10.
type greeting struct {
	version  string
	connID   uint32
	caps     uint32
	scramble []byte
	plugin   string
}

func parseGreeting(b []byte) (greeting, error) {
	var g greeting
	d := decoder{b: b}
	if d.uint8() != 10 {
		return g, errors.New("not a v10 greeting")
	}
	g.version = string(d.nulString())
	g.connID = d.uint32()
	g.scramble = append(g.scramble, d.bytes(8)...)
	d.uint8()
	g.caps = uint32(d.uint16())
	d.uint8()  // charset
	d.uint16() // status
	g.caps |= uint32(d.uint16()) << 16
	n := int(d.uint8())
	d.bytes(10)
	g.scramble = append(g.scramble, d.bytes(max(13, n-8)-1)...)
	d.uint8()
	g.plugin = string(d.nulString())
	return g, d.err
}

// encodeHandshakeResponse builds a HandshakeResponse41 as clients do.
func encodeHandshakeResponse(r handshakeResponse) []byte {
	b := binary.LittleEndian.AppendUint32(nil, r.flags)
	b = binary.LittleEndian.AppendUint32(b, r.maxPacket)
	b = append(b, r.charset)
	b = append(b, make([]byte, 23)...)
	if r.sslRequest {
		return b
	}
	b = append(append(b, r.user...), 0)
	switch {
	case r.flags&ClientPluginAuthLenencClientData != 0:
		b = appendLenEncBytes(b, r.authResponse)
	case r.flags&ClientSecureConnection != 0:
		b = append(append(b, byte(len(r.authResponse))), r.authResponse...)
	default:
		b = append(append(b, r.authResponse...), 0)
	}
	if r.flags&ClientConnectWithDB != 0 {
		b = append(append(b, r.database...), 0)
	}
	if r.flags&ClientPluginAuth != 0 {
		b = append(append(b, r.plugin...), 0)
	}
	if r.flags&ClientConnectAttrs != 0 && r.attrs != nil {
		var attrs []byte
		for k, v := range r.attrs {
			attrs = appendLenEncString(appendLenEncString(attrs, k), v)
		}
		b = appendLenEncBytes(b, attrs)
	}
	return b
}

const rawClientFlags = ClientProtocol41 | ClientSecureConnection | ClientPluginAuth |
	ClientPluginAuthLenencClientData | ClientTransactions | ClientMultiResults | ClientLongPassword

// dialRaw connects and authenticates; plugin is the method the client
// claims in its response ("" for the greeting's).
func dialRaw(t testing.TB, addr, user, password string, flags uint32, plugin string) *rawClient {
	t.Helper()
	c, err := tryDialRaw(addr, user, password, flags, plugin)
	if err != nil {
		t.Fatal(err)
	}
	c.t = t
	t.Cleanup(func() { c.nc.Close() })
	return c
}

func tryDialRaw(addr, user, password string, flags uint32, plugin string) (*rawClient, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &rawClient{nc: nc, pk: newPacketIO(nc, nc, 1<<30), flags: flags}
	if err := c.handshake(user, password, plugin); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *rawClient) handshake(user, password, plugin string) error {
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	pkt, err := c.pk.readPacket()
	if err != nil {
		return err
	}
	if pkt[0] == iERR {
		return packetError(pkt)
	}
	g, err := parseGreeting(pkt)
	if err != nil {
		return err
	}
	if plugin == "ssl" {
		// An SSLRequest, which this server never offers a reason to send.
		if err := c.send(encodeHandshakeResponse(handshakeResponse{flags: c.flags | ClientSSL, sslRequest: true})); err != nil {
			return err
		}
		_, err := c.pk.readPacket()
		return cmp.Or(err, errors.New("the server went on after an SSLRequest"))
	}
	if plugin == "" {
		plugin = g.plugin
	}
	c.flags &= g.caps
	resp := handshakeResponse{flags: c.flags, maxPacket: 1 << 24, charset: 45, user: user,
		authResponse: authProof(plugin, g.scramble, password), plugin: plugin}
	if err := c.send(encodeHandshakeResponse(resp)); err != nil {
		return err
	}
	for {
		pkt, err := c.pk.readPacket()
		if err != nil {
			return err
		}
		switch {
		case pkt[0] == iOK:
			return nil
		case pkt[0] == iERR:
			return packetError(pkt)
		case pkt[0] == iAuthSwitch:
			d := decoder{b: pkt[1:]}
			plugin = string(d.nulString())
			g.scramble = append([]byte(nil), d.nulString()...)
			c.switched = true
			err = c.send(authProof(plugin, g.scramble, password))
		case len(pkt) == 2 && pkt[1] == sha2FastAuthOK:
		case len(pkt) == 2 && pkt[1] == sha2PerformFullAuth:
			c.fullAuth = true
			err = c.sendEncryptedPassword(g.scramble, password)
		default:
			return errors.Newf("unexpected packet %x", pkt)
		}
		if err != nil {
			return err
		}
	}
}

func authProof(plugin string, scramble []byte, password string) []byte {
	if plugin == CachingSHA2Password {
		return sha2Scramble(scramble, password)
	}
	return nativeScramble(scramble, password)
}

func (c *rawClient) sendEncryptedPassword(scramble []byte, password string) error {
	if err := c.send([]byte{sha2RequestKey}); err != nil {
		return err
	}
	pkt, err := c.pk.readPacket()
	if err != nil {
		return err
	}
	block, _ := pem.Decode(pkt[1:])
	if block == nil {
		return errors.New("no PEM in the key answer")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return err
	}
	plain := append([]byte(password), 0)
	for i := range plain {
		plain[i] ^= scramble[i%len(scramble)]
	}
	enc, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub.(*rsa.PublicKey), plain, nil)
	if err != nil {
		return err
	}
	return c.send(enc)
}

// send writes one packet continuing the current sequence.
func (c *rawClient) send(payload []byte) error {
	if err := c.pk.writePacket(payload); err != nil {
		return err
	}
	return c.pk.flush()
}

// command starts a new exchange with a command packet.
func (c *rawClient) command(payload ...byte) {
	c.t.Helper()
	c.pk.resetSeq()
	if err := c.send(payload); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) read() []byte {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	pkt, err := c.pk.readPacket()
	if err != nil {
		c.t.Fatal(err)
	}
	return append([]byte(nil), pkt...)
}

// rawResult is a whole answer to COM_QUERY or COM_FIELD_LIST as read by a
// client: the packets, and the status flags of the final one.
type rawResult struct {
	ok      bool
	err     error
	columns [][]byte
	rows    [][]byte
	status  uint16
}

// readStatus returns the status flags of an OK packet (0x00 or 0xfe
// header) or an EOF packet.
func readStatus(pkt []byte, deprecateEOF bool) uint16 {
	if pkt[0] == iEOF && !deprecateEOF {
		return binary.LittleEndian.Uint16(pkt[3:])
	}
	d := decoder{b: pkt[1:]}
	d.lenEncInt()
	d.lenEncInt()
	return d.uint16()
}

// readResult reads one result; fieldList for COM_FIELD_LIST answers,
// which have no column count.
func (c *rawClient) readResult(fieldList bool) rawResult {
	c.t.Helper()
	deprecate := c.flags&ClientDeprecateEOF != 0
	var r rawResult
	pkt := c.read()
	switch pkt[0] {
	case iOK:
		r.ok, r.status = true, readStatus(pkt, true)
		return r
	case iERR:
		r.err = packetError(pkt)
		return r
	}
	if fieldList {
		for ; pkt[0] != iEOF; pkt = c.read() {
			r.columns = append(r.columns, pkt)
		}
		r.status = readStatus(pkt, deprecate)
		return r
	}
	d := decoder{b: pkt}
	n, _ := d.lenEncInt()
	for range n {
		r.columns = append(r.columns, c.read())
	}
	if !deprecate {
		c.read() // EOF after the columns
	}
	for {
		pkt := c.read()
		if pkt[0] == iERR {
			r.err = packetError(pkt)
			return r
		}
		if pkt[0] == iEOF && len(pkt) < maxPacketChunk {
			r.status = readStatus(pkt, deprecate)
			return r
		}
		r.rows = append(r.rows, pkt)
	}
}

func packetError(pkt []byte) error {
	d := decoder{b: pkt[1:]}
	code := d.uint16()
	d.uint8()
	state := string(d.bytes(5))
	return &Error{Code: code, State: state, Message: string(d.rest())}
}

func checkError(t testing.TB, err error, code uint16) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("got %v, want error %d", err, code)
	}
}
