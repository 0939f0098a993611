// Package eaptls runs EAP-TLS (RFC 5216) over any carrier of EAP packets:
// PPP inside SSTP (internal/p2s) and IKEv2's EAP payloads
// (internal/ike/ikev2). A Bridge runs crypto/tls over EAP's lock-step
// flights; a Conversation fragments and reassembles them; a Server is the
// authenticator that checks a client's certificate.
package eaptls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Bridge runs a TLS handshake (crypto/tls, either side) over EAP-TLS
// (RFC 5216): EAP carries TLS records in lock step, one flight at a time.
// The TLS side writes into out and reads from in; the EAP side feeds a
// whole flight from the peer with feed and takes what TLS answered, once
// TLS waits for more input or has finished.
type Bridge struct {
	mu      sync.Mutex
	cond    *sync.Cond
	in, out []byte
	waiting bool // TLS is blocked reading
	done    bool // the handshake returned
	err     error
	closed  bool
	conn    *tls.Conn
}

// NewBridge starts the handshake of server or client TLS with cfg.
func NewBridge(server bool, cfg *tls.Config) *Bridge {
	b := &Bridge{}
	b.cond = sync.NewCond(&b.mu)
	c := bridgeConn{b}
	if server {
		b.conn = tls.Server(c, cfg)
	} else {
		b.conn = tls.Client(c, cfg)
	}
	go func() {
		err := b.conn.Handshake()
		b.mu.Lock()
		b.done, b.err = true, err
		b.cond.Broadcast()
		b.mu.Unlock()
	}()
	return b
}

// Exchange feeds the peer's flight (nil for none) and waits until TLS has
// written its answer and waits for more, or has finished; it returns what
// TLS wrote, and whether the handshake is over (with its error).
func (b *Bridge) Exchange(flight []byte, timeout time.Duration) (out []byte, done bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.in = append(b.in, flight...)
	if len(flight) > 0 {
		b.waiting = false
	}
	b.cond.Broadcast()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer timer.Stop()
	for !b.done && !(b.waiting && len(b.in) == 0) {
		if !time.Now().Before(deadline) {
			return nil, false, errors.New("EAP-TLS: the TLS handshake did not answer in time")
		}
		b.cond.Wait()
	}
	out, b.out = b.out, nil
	return out, b.done, b.err
}

// Close ends the bridge: a TLS read or write in flight fails.
func (b *Bridge) Close() {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

// bridgeConn is the TLS side's net.Conn.
type bridgeConn struct{ b *Bridge }

var errBridgeClosed = errors.New("EAP-TLS bridge closed")

func (c bridgeConn) Read(p []byte) (int, error) {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.in) == 0 {
		if b.closed {
			return 0, errBridgeClosed
		}
		b.waiting = true
		b.cond.Broadcast()
		b.cond.Wait()
	}
	n := copy(p, b.in)
	b.in = b.in[n:]
	return n, nil
}

func (c bridgeConn) Write(p []byte) (int, error) {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBridgeClosed
	}
	b.out = append(b.out, p...)
	return len(p), nil
}

func (bridgeConn) Close() error                     { return nil }
func (bridgeConn) LocalAddr() net.Addr              { return eapAddr{} }
func (bridgeConn) RemoteAddr() net.Addr             { return eapAddr{} }
func (bridgeConn) SetDeadline(time.Time) error      { return nil }
func (bridgeConn) SetReadDeadline(time.Time) error  { return nil }
func (bridgeConn) SetWriteDeadline(time.Time) error { return nil }

type eapAddr struct{}

func (eapAddr) Network() string { return "eap-tls" }
func (eapAddr) String() string  { return "eap-tls" }

// MSK is the EAP-TLS Master Session Key (RFC 5216 §2.3): the first 64
// bytes of TLS-PRF(master secret, "client EAP encryption", client.random
// || server.random), which is the TLS 1.2 keying material exporter
// without context (RFC 5705 §4).
func (b *Bridge) MSK() ([]byte, error) {
	st := b.conn.ConnectionState()
	if st.Version != tls.VersionTLS12 {
		return nil, errors.New("EAP-TLS keys are derived for TLS 1.2 here")
	}
	msk, err := st.ExportKeyingMaterial("client EAP encryption", nil, 64)
	if err != nil {
		// Go exports TLS 1.2 keys only from handshakes with the Extended
		// Master Secret (RFC 7627), which a client may not offer.
		return nil, fmt.Errorf("the client's TLS 1.2 handshake lacks the Extended Master Secret (RFC 7627), without which vnetgw derives no EAP-TLS keys: %w", err)
	}
	return msk, nil
}

// PeerCertificates returns the certificates the peer presented, once the
// handshake is done.
func (b *Bridge) PeerCertificates() []*x509.Certificate {
	return b.conn.ConnectionState().PeerCertificates
}
