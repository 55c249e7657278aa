package mysqlwire

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"net"
	"sync"

	"github.com/cockroachdb/errors"
)

// Auth-more-data bytes of caching_sha2_password.
const (
	sha2FastAuthOK      byte = 0x03
	sha2PerformFullAuth byte = 0x04
	sha2RequestKey      byte = 0x02
)

var (
	errOldClient    = errors.New("mysqlwire: client does not speak protocol 4.1")
	errAccessDenied = errors.New("mysqlwire: access denied")
	// errClearTextRefused is the access denial of a client that sent its
	// password in clear over TCP without TLS, as the mariadb CLI does
	// when it wanted TLS but the server offered none. MySQL refuses it
	// too; the message says how to connect instead.
	errClearTextRefused = errors.New(
		"the client sent the password unencrypted over a connection without TLS; " +
			"let it use the server's RSA key (mariadb: --skip-ssl) or connect with mysql_native_password")
)

// authResult is what the connection phase learned about the client.
type authResult struct {
	resp         handshakeResponse
	usedPassword bool // for the "(using password: YES)" of error 1045
}

// nativeScramble is mysql_native_password's proof of the password:
// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))).
func nativeScramble(scramble []byte, password string) []byte {
	if password == "" {
		return nil
	}
	stage1 := sha1.Sum([]byte(password))
	stage2 := sha1.Sum(stage1[:])
	h := sha1.New()
	h.Write(scramble[:20])
	h.Write(stage2[:])
	out := h.Sum(nil)
	for i := range out {
		out[i] ^= stage1[i]
	}
	return out
}

// sha2Scramble is caching_sha2_password's fast-path proof:
// SHA256(password) XOR SHA256(SHA256(SHA256(password)) + scramble).
func sha2Scramble(scramble []byte, password string) []byte {
	if password == "" {
		return nil
	}
	m1 := sha256.Sum256([]byte(password))
	m1h := sha256.Sum256(m1[:])
	h := sha256.New()
	h.Write(m1h[:])
	h.Write(scramble[:20])
	out := h.Sum(nil)
	for i := range out {
		out[i] ^= m1[i]
	}
	return out
}

// sha2Cache remembers, per user, SHA256(SHA256(password)) of the last full
// caching_sha2_password authentication, as MySQL's server-side cache does.
// A cached entry lets later connections use the fast path; a changed
// password no longer matches and sends the client through full auth again.
type sha2Cache struct {
	mu struct {
		sync.Mutex
		hashes map[string][32]byte
	}
}

func doubleSHA256(password string) [32]byte {
	h := sha256.Sum256([]byte(password))
	return sha256.Sum256(h[:])
}

func (c *sha2Cache) cached(user, password string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.mu.hashes[user]
	return ok && h == doubleSHA256(password)
}

func (c *sha2Cache) add(user, password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.hashes == nil {
		c.mu.hashes = map[string][32]byte{}
	}
	c.mu.hashes[user] = doubleSHA256(password)
}

// rsaKeyPair is the key caching_sha2_password clients encrypt the password
// with over connections without TLS.
type rsaKeyPair struct {
	key *rsa.PrivateKey
	pem []byte // PKIX public key, as clients ask for it
}

func newRSAKeyPair(key *rsa.PrivateKey) (*rsaKeyPair, error) {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, errors.Wrap(err, "mysqlwire: generating the RSA key")
		}
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, errors.Wrap(err, "mysqlwire: encoding the RSA public key")
	}
	return &rsaKeyPair{key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}, nil
}

// authenticate runs the connection phase from the greeting to the point
// where the password checked out. It returns errAccessDenied (after which
// the caller sends ERR 1045), another error for a broken or malformed
// conversation (the caller sends nothing more, or Bad handshake), or nil.
func (c *conn) authenticate() (authResult, error) {
	var res authResult
	scramble := newScramble()
	c.pk.resetSeq()
	c.buf = appendGreeting(c.buf[:0], c.srv.capabilities, c.srv.cfg.ServerVersion, c.id, scramble, c.srv.cfg.AuthPlugin, StatusAutocommit)
	if err := c.writeAndFlush(c.buf); err != nil {
		return res, err
	}
	pkt, err := c.pk.readPacket()
	if err != nil {
		return res, err
	}
	if res.resp, err = parseHandshakeResponse(pkt); err != nil {
		return res, err
	}
	if res.resp.sslRequest {
		return res, errors.New("mysqlwire: client requires TLS, which this server does not offer")
	}
	c.flags = res.resp.flags & c.srv.capabilities
	data, plugin := res.resp.authResponse, res.resp.plugin
	if c.flags&ClientPluginAuth == 0 {
		plugin = NativePassword // the only method clients before plugins know
	}
	want := c.srv.cfg.AuthPlugin
	if plugin != want {
		if c.flags&ClientPluginAuth == 0 {
			return res, errAccessDenied
		}
		// AuthSwitchRequest: the account's plugin decides, as in MySQL.
		c.buf = append(append(append(c.buf[:0], iAuthSwitch), want...), 0)
		c.buf = append(append(c.buf, scramble...), 0)
		if err := c.writeAndFlush(c.buf); err != nil {
			return res, err
		}
		if data, err = c.pk.readPacket(); err != nil {
			return res, err
		}
		data = bytes.Clone(data)
		plugin = want
	}
	res.usedPassword = len(data) > 0
	password, known := c.srv.lookupUser(res.resp.user)
	switch plugin {
	case NativePassword:
		if !known || subtle.ConstantTimeCompare(data, nativeScramble(scramble, password)) != 1 {
			return res, errAccessDenied
		}
		return res, nil
	default:
		return res, c.authSHA2(res.resp.user, password, known, data, scramble)
	}
}

// authSHA2 finishes caching_sha2_password: an empty password needs no
// proof; a cached user proves the password with the scramble (fast path);
// anyone else sends it whole, RSA-encrypted with the server's key unless
// the connection is a local socket, which MySQL trusts with clear text.
func (c *conn) authSHA2(user, password string, known bool, data, scramble []byte) error {
	if !known {
		return errAccessDenied
	}
	if len(data) == 0 || password == "" {
		if len(data) == 0 && password == "" {
			return nil
		}
		return errAccessDenied
	}
	if c.srv.sha2.cached(user, password) {
		if subtle.ConstantTimeCompare(data, sha2Scramble(scramble, password)) != 1 {
			return errAccessDenied
		}
		return c.writeAndFlush([]byte{iAuthMoreData, sha2FastAuthOK})
	}
	if err := c.writeAndFlush([]byte{iAuthMoreData, sha2PerformFullAuth}); err != nil {
		return err
	}
	pkt, err := c.pk.readPacket()
	if err != nil {
		return err
	}
	var clear []byte
	if _, local := c.nc.LocalAddr().(*net.UnixAddr); local {
		clear = bytes.TrimSuffix(pkt, []byte{0})
	} else {
		keys, err := c.srv.rsaKeys()
		if err != nil {
			return err
		}
		if len(pkt) == 1 && pkt[0] == sha2RequestKey {
			if err := c.writeAndFlush(append([]byte{iAuthMoreData}, keys.pem...)); err != nil {
				return err
			}
			if pkt, err = c.pk.readPacket(); err != nil {
				return err
			}
		}
		if len(pkt) != keys.key.Size() {
			return errClearTextRefused // not an RSA ciphertext
		}
		plain, err := rsa.DecryptOAEP(sha1.New(), nil, keys.key, pkt, nil)
		if err != nil {
			return errAccessDenied
		}
		// The client XORed password+NUL with the scramble before encrypting,
		// so a replayed ciphertext is useless against another scramble.
		for i := range plain {
			plain[i] ^= scramble[i%len(scramble)]
		}
		clear = bytes.TrimSuffix(plain, []byte{0})
	}
	if subtle.ConstantTimeCompare(clear, []byte(password)) != 1 {
		return errAccessDenied
	}
	c.srv.sha2.add(user, password)
	return nil
}
