package p2s

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// tlsBridge runs a TLS handshake (crypto/tls, either side) over EAP-TLS
// (RFC 5216): EAP carries TLS records in lock step, one flight at a time.
// The TLS side writes into out and reads from in; the EAP side feeds a
// whole flight from the peer with feed and takes what TLS answered, once
// TLS waits for more input or has finished.
type tlsBridge struct {
	mu      sync.Mutex
	cond    *sync.Cond
	in, out []byte
	waiting bool // TLS is blocked reading
	done    bool // the handshake returned
	err     error
	closed  bool
	conn    *tls.Conn
}

// newTLSBridge starts the handshake of server or client TLS with cfg.
func newTLSBridge(server bool, cfg *tls.Config) *tlsBridge {
	b := &tlsBridge{}
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

// exchange feeds the peer's flight (nil for none) and waits until TLS has
// written its answer and waits for more, or has finished; it returns what
// TLS wrote, and whether the handshake is over (with its error).
func (b *tlsBridge) exchange(flight []byte, timeout time.Duration) (out []byte, done bool, err error) {
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
		if time.Now().After(deadline) {
			return nil, false, errors.New("EAP-TLS: the TLS handshake did not answer in time")
		}
		b.cond.Wait()
	}
	out, b.out = b.out, nil
	return out, b.done, b.err
}

// close ends the bridge: a TLS read or write in flight fails.
func (b *tlsBridge) close() {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

// bridgeConn is the TLS side's net.Conn.
type bridgeConn struct{ b *tlsBridge }

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

// msk is the EAP-TLS Master Session Key (RFC 5216 §2.3): the first 64
// bytes of TLS-PRF(master secret, "client EAP encryption", client.random
// || server.random), which is the TLS 1.2 keying material exporter
// without context (RFC 5705 §4).
func (b *tlsBridge) msk() ([]byte, error) {
	st := b.conn.ConnectionState()
	if st.Version != tls.VersionTLS12 {
		return nil, errors.New("EAP-TLS keys are derived for TLS 1.2 here")
	}
	return st.ExportKeyingMaterial("client EAP encryption", nil, 64)
}
