package mysqlwire

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
)

// handshakeCharset is the collation announced in the greeting:
// utf8mb4_general_ci, which every client knows (255, MySQL 8's default
// utf8mb4_0900_ai_ci, is unknown to MariaDB clients).
const handshakeCharset = byte(CharsetUTF8MB4GeneralCI)

// newScramble returns the 20-byte nonce of the auth plugins. MySQL's
// generate_user_salt avoids NUL and '$' because some clients read the
// scramble as a C string; so do we.
func newScramble() []byte {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] &= 0x7f
		if b[i] == 0 || b[i] == '$' {
			b[i]++
		}
	}
	return b
}

// appendGreeting builds the Protocol::HandshakeV10 packet.
func appendGreeting(b []byte, caps uint32, version string, connID uint32, scramble []byte, plugin string, status uint16) []byte {
	b = append(b, 10) // protocol version
	b = append(b, strings.ReplaceAll(version, "\x00", "")...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, connID)
	b = append(b, scramble[:8]...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(caps&0xffff))
	b = append(b, handshakeCharset)
	b = binary.LittleEndian.AppendUint16(b, status)
	b = binary.LittleEndian.AppendUint16(b, uint16(caps>>16))
	b = append(b, byte(len(scramble)+1))
	b = append(b, make([]byte, 10)...) // reserved
	b = append(b, scramble[8:]...)
	b = append(b, 0)
	b = append(b, plugin...)
	return append(b, 0)
}

// handshakeResponse is a parsed Protocol::HandshakeResponse41.
type handshakeResponse struct {
	flags        uint32 // as the client sent them
	maxPacket    uint32
	charset      byte
	sslRequest   bool // an SSLRequest: the client wants TLS before going on
	user         string
	authResponse []byte
	database     string
	plugin       string
	attrs        map[string]string
}

// maxConnectAttrs bounds the number of connection attributes kept, as
// MySQL bounds their total size.
const maxConnectAttrs = 64

// parseHandshakeResponse decodes a client's answer to the greeting. Fields
// after the auth response are optional in practice (clients stop early
// when they have no database or plugin to name), so a packet that ends
// there is accepted.
func parseHandshakeResponse(b []byte) (handshakeResponse, error) {
	var r handshakeResponse
	d := decoder{b: b}
	r.flags = d.uint32()
	if d.err == nil && r.flags&ClientProtocol41 == 0 {
		return r, errOldClient
	}
	r.maxPacket = d.uint32()
	r.charset = d.uint8()
	d.bytes(23) // filler
	if d.err != nil {
		return r, d.err
	}
	if len(d.b) == 0 && r.flags&ClientSSL != 0 {
		r.sslRequest = true
		return r, nil
	}
	r.user = string(d.nulString())
	switch {
	case r.flags&ClientPluginAuthLenencClientData != 0:
		r.authResponse = d.lenEncBytes()
	case r.flags&ClientSecureConnection != 0:
		r.authResponse = d.bytes(int(d.uint8()))
	default:
		r.authResponse = d.nulString()
	}
	if r.flags&ClientConnectWithDB != 0 && len(d.b) > 0 {
		r.database = string(d.nulString())
	}
	if r.flags&ClientPluginAuth != 0 && len(d.b) > 0 {
		r.plugin = string(d.nulString())
	}
	if r.flags&ClientConnectAttrs != 0 && len(d.b) > 0 {
		r.attrs = parseConnectAttrs(d.lenEncBytes())
	}
	if d.err != nil {
		return r, d.err
	}
	r.authResponse = append([]byte(nil), r.authResponse...)
	return r, nil
}

// parseConnectAttrs decodes key/value pairs; attributes are informational,
// so a malformed block yields what was readable rather than an error.
func parseConnectAttrs(b []byte) map[string]string {
	d := decoder{b: b}
	attrs := map[string]string{}
	for len(d.b) > 0 && len(attrs) < maxConnectAttrs {
		k, v := d.lenEncBytes(), d.lenEncBytes()
		if d.err != nil {
			break
		}
		attrs[string(k)] = string(v)
	}
	return attrs
}
