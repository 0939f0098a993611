package p2s

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// OpenVPN over TCP, as OpenVPN 2.6's source defines it (there is no RFC):
// a control channel of packets acknowledged one by one that carries a TLS
// session; in it the key method 2 exchange, the client's PUSH_REQUEST and
// our PUSH_REPLY with its address and routes; then a data channel of
// AES-256-GCM packets keyed from the TLS session (TLS-EKM). The client
// authenticates with its certificate in TLS, which must chain to an
// uploaded root (R12), as SSTP's EAP-TLS does.

// Limits of the control channel (ssl_pkt.h, reliable.h, mtu.h).
const (
	// ovpnControlChunk is the most TLS bytes in one control packet: the
	// client's default tls-mtu is 1250 for the whole packet.
	ovpnControlChunk = 1200
	// ovpnSendWindow is how many of our control packets may wait for the
	// client's acknowledgement (OpenVPN's own send window).
	ovpnSendWindow = 6
	// ovpnMaxPacket is the largest packet we take: the client never sends
	// more than about 1,700 bytes.
	ovpnMaxPacket = 4096
	// ovpnPing and ovpnPingRestart are the keepalive the client is
	// pushed; the server ends a client silent for ovpnPingRestart too.
	ovpnPing        = 10 * time.Second
	ovpnPingRestart = 60 * time.Second
	// ovpnEKMLabel is the TLS exporter label of the data channel's keys
	// (ssl_backend.h EXPORT_KEY_DATA_LABEL), 256 bytes of them.
	ovpnEKMLabel = "EXPORTER-OpenVPN-datakeys"
	// ovpnLastPacketID is where a session stops sending data: far enough
	// below 2^32 for a batch and the keepalives in flight.
	ovpnLastPacketID = 1<<32 - 1<<20
	// ovpnReplayWindow is how far back a data packet id may be and still
	// be taken once (OpenVPN's default replay-window is 64).
	ovpnReplayWindow = 64
)

// ovpnPingPayload is the plaintext of a keepalive (ping.c).
var ovpnPingPayload = []byte{0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb, 0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7, 0x48}

// ovpnOptions is our options string in the key method 2 message; a 2.6
// client only compares it for warnings.
const ovpnOptions = "V4,dev-type tun,link-mtu 1536,tun-mtu 1500,proto TCPv4_SERVER,cipher AES-256-GCM,auth [null-digest],keysize 256,key-method 2,tls-server"

// ovpnSession is one OpenVPN client's connection.
type ovpnSession struct {
	srv  *Server
	log  *slog.Logger
	conn net.Conn
	r    *bufio.Reader

	sid, peerSID uint64 // our session id and the client's
	peerID       uint32

	wmu sync.Mutex // one writer of packets at a time

	// The control channel: what the client sent, in order, for TLS; our
	// packets not yet acknowledged.
	mu        sync.Mutex
	cond      *sync.Cond
	tlsIn     []byte
	nextIn    uint32 // the client's next control packet id
	nextOut   uint32 // our next control packet id
	unacked   map[uint32]bool
	closed    bool
	identity  string
	addr      netip.Addr
	tls       *tls.Conn // the control channel's TLS, once the client is authenticated
	authed    atomic.Bool
	keys      atomic.Pointer[ovpnKeys]
	sendq     chan []byte
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
	pktsIn    atomic.Uint64
	pktsOut   atomic.Uint64
	dropped   atomic.Uint64
	badData   atomic.Uint64
	replayMax uint32 // the data channel's replay window, owned by the reader
	replayMap uint64
}

// ovpnKeys are a session's data channel keys and packet counter.
type ovpnKeys struct {
	keyID        int
	seal, open   cipher.AEAD
	sealIV       [8]byte // implicit IVs (the key's hmac half)
	openIV       [8]byte
	nextPacketID atomic.Uint32
}

// serveOpenVPN runs one OpenVPN client: c is the connection, r its
// reader (the first bytes read ahead).
func (s *Server) serveOpenVPN(c net.Conn, r *bufio.Reader) error {
	o := &ovpnSession{srv: s, log: s.log.With("protocol", ProtocolOpenVPN, "from", c.RemoteAddr().String()), conn: c, r: r,
		unacked: map[uint32]bool{}, sendq: make(chan []byte, sendQueue)}
	o.cond = sync.NewCond(&o.mu)
	var sid [8]byte
	rand.Read(sid[:])
	o.sid = binary.BigEndian.Uint64(sid[:]) | 1
	o.peerID = s.nextPeerID.Add(1) & 0xffffff
	defer o.close()

	// The client's hard reset: its session id, packet 0. Ours answers it
	// and acknowledges it.
	var buf [ovpnMaxPacket]byte
	pkt, err := o.read(buf[:])
	if err != nil {
		return err
	}
	first, err := openvpn.ParseControl(pkt)
	if err != nil {
		return err
	}
	if first.Opcode != openvpn.ControlHardResetClientV2 || first.KeyID != 0 || first.PacketID != 0 {
		return fmt.Errorf("OpenVPN client began with opcode %d, key id %d, packet %d; only P_CONTROL_HARD_RESET_CLIENT_V2 without tls-auth is served",
			first.Opcode, first.KeyID, first.PacketID)
	}
	o.peerSID = first.SessionID
	o.nextIn = 1
	if err := o.sendControl(openvpn.ControlHardResetServerV2, []uint32{0}, nil); err != nil {
		return err
	}

	tlsDone := make(chan error, 1)
	go func() { tlsDone <- o.runTLS() }()
	quit := make(chan struct{})
	defer close(quit)
	go o.writer(quit)
	go o.keepalive(quit)
	for {
		o.conn.SetReadDeadline(time.Now().Add(ovpnPingRestart))
		pkt, err := o.read(buf[:])
		if err != nil {
			select {
			case terr := <-tlsDone:
				if terr != nil && !errors.Is(terr, errBridgeEnded) {
					return terr
				}
			default:
			}
			return err
		}
		switch op := openvpn.Opcode(pkt[0]); {
		case op == openvpn.DataV2:
			o.handleData(pkt)
		case openvpn.IsControl(op):
			if err := o.handleControl(pkt); err != nil {
				return err
			}
		default:
			o.badData.Add(1)
			o.log.Debug("OpenVPN packet of an opcode not served dropped", "opcode", op)
		}
		select {
		case err := <-tlsDone:
			if err != nil {
				o.log.Info("OpenVPN client refused", "err", err)
				return err
			}
		default:
		}
	}
}

// read reads one packet, at most ovpnMaxPacket bytes.
func (o *ovpnSession) read(buf []byte) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(o.r, l[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n == 0 || n > len(buf) {
		return nil, fmt.Errorf("OpenVPN packet of %d bytes", n)
	}
	if _, err := io.ReadFull(o.r, buf[:n]); err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// handleControl takes a control packet: acknowledgements of ours, and the
// client's next TLS bytes, which it acknowledges.
func (o *ovpnSession) handleControl(pkt []byte) error {
	c, err := openvpn.ParseControl(pkt)
	if err != nil {
		return err
	}
	if c.SessionID != o.peerSID || c.KeyID != 0 {
		return fmt.Errorf("OpenVPN control packet of session %016x key %d; the client's is %016x key 0 (renegotiation is not served: the client's configuration says reneg-sec 0)",
			c.SessionID, c.KeyID, o.peerSID)
	}
	if len(c.Acks) > 0 && c.RemoteSessionID != o.sid {
		return fmt.Errorf("OpenVPN acknowledgement for session %016x, ours is %016x", c.RemoteSessionID, o.sid)
	}
	o.mu.Lock()
	for _, a := range c.Acks {
		delete(o.unacked, a)
	}
	deliver := c.Opcode == openvpn.ControlV1 && c.PacketID == o.nextIn
	if deliver {
		o.tlsIn = append(o.tlsIn, c.Payload...)
		o.nextIn++
	}
	o.cond.Broadcast()
	o.mu.Unlock()
	switch {
	case c.Opcode == openvpn.AckV1:
		return nil
	case c.Opcode == openvpn.ControlHardResetClientV2 && c.PacketID == 0, deliver, c.PacketID < o.nextIn:
		// Acknowledged, also again: the client retransmits what it has
		// not seen acknowledged, over TCP too.
		return o.sendControl(openvpn.AckV1, []uint32{c.PacketID}, nil)
	}
	// Ahead of the next one: not acknowledged, the client sends it again.
	return nil
}

// sendControl sends a control packet (or an ACK) with acks and payload,
// numbered when it is not an ACK.
func (o *ovpnSession) sendControl(op int, acks []uint32, payload []byte) error {
	c := openvpn.Control{Opcode: op, SessionID: o.sid, Acks: acks, RemoteSessionID: o.peerSID, Payload: payload}
	if op != openvpn.AckV1 {
		o.mu.Lock()
		c.PacketID = o.nextOut
		o.nextOut++
		o.unacked[c.PacketID] = true
		o.mu.Unlock()
	}
	b := c.Append(make([]byte, 2, 2+32+len(payload)))
	binary.BigEndian.PutUint16(b, uint16(len(b)-2))
	return o.write(b)
}

func (o *ovpnSession) write(b []byte) error {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	o.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := o.conn.Write(b)
	return err
}

// errBridgeEnded ends the TLS side when the session closes.
var errBridgeEnded = errors.New("OpenVPN session ended")

// ovpnTLSConn is the TLS side's connection: it reads the client's control
// payloads in order and writes ours in packets of at most
// ovpnControlChunk bytes, at most ovpnSendWindow unacknowledged.
type ovpnTLSConn struct{ o *ovpnSession }

func (c ovpnTLSConn) Read(p []byte) (int, error) {
	o := c.o
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.tlsIn) == 0 {
		if o.closed {
			return 0, errBridgeEnded
		}
		o.cond.Wait()
	}
	n := copy(p, o.tlsIn)
	o.tlsIn = o.tlsIn[n:]
	return n, nil
}

func (c ovpnTLSConn) Write(p []byte) (int, error) {
	o := c.o
	for off := 0; off < len(p); off += ovpnControlChunk {
		chunk := p[off:min(off+ovpnControlChunk, len(p))]
		o.mu.Lock()
		for len(o.unacked) >= ovpnSendWindow && !o.closed {
			o.cond.Wait()
		}
		closed := o.closed
		o.mu.Unlock()
		if closed {
			return off, errBridgeEnded
		}
		if err := o.sendControl(openvpn.ControlV1, nil, chunk); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

func (ovpnTLSConn) Close() error                     { return nil }
func (ovpnTLSConn) LocalAddr() net.Addr              { return ovpnAddr{} }
func (ovpnTLSConn) RemoteAddr() net.Addr             { return ovpnAddr{} }
func (ovpnTLSConn) SetDeadline(time.Time) error      { return nil }
func (ovpnTLSConn) SetReadDeadline(time.Time) error  { return nil }
func (ovpnTLSConn) SetWriteDeadline(time.Time) error { return nil }

type ovpnAddr struct{}

func (ovpnAddr) Network() string { return "openvpn-control" }
func (ovpnAddr) String() string  { return "openvpn-control" }

// runTLS runs the control channel's TLS session: the handshake with the
// client's certificate, key method 2 both ways, the data channel's keys,
// and the push. It returns when the session ends.
func (o *ovpnSession) runTLS() error {
	cfg := eaptls.ServerConfig(o.srv.cfg.Cert, o.srv.roots, o.srv.cfg.Revoked)
	cfg.MaxVersion = 0 // TLS 1.3 too: the keys come from the exporter
	cfg.DynamicRecordSizingDisabled = true
	tc := tls.Server(ovpnTLSConn{o}, cfg)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("OpenVPN TLS: %w", err)
	}
	st := tc.ConnectionState()
	o.identity = st.PeerCertificates[0].Subject.CommonName
	o.mu.Lock()
	o.tls = tc
	o.mu.Unlock()
	var plain [16 << 10]byte
	n, err := tc.Read(plain[:])
	if err != nil {
		return err
	}
	km, err := openvpn.ParseKeyMethod2(plain[:n], true)
	if err != nil {
		return err
	}
	if !strings.Contains(km.PeerInfo, "IV_PROTO=") || openvpn.PeerInfoProto(km.PeerInfo)&openvpn.IVProtoTLSKeyExport == 0 {
		return errors.New("the OpenVPN client cannot derive keys from TLS (IV_PROTO without TLS key export): OpenVPN 2.6 or later is needed")
	}
	if !openvpn.PeerInfoHasCipher(km.PeerInfo, "AES-256-GCM") {
		return errors.New("the OpenVPN client does not offer AES-256-GCM in its data-ciphers")
	}
	reply := openvpn.KeyMethod2{Options: ovpnOptions}
	rand.Read(reply.Random1[:])
	rand.Read(reply.Random2[:])
	if _, err := tc.Write(reply.Append(nil, false)); err != nil {
		return err
	}
	material, err := st.ExportKeyingMaterial(ovpnEKMLabel, nil, 256)
	if err != nil {
		return fmt.Errorf("OpenVPN keys: %w", err)
	}
	keys, err := newOvpnKeys(material)
	if err != nil {
		return err
	}
	// The client is authenticated: it gets an address.
	addr, err := o.srv.reserve(o)
	if err != nil {
		o.sendMessage(tc, "AUTH_FAILED,"+err.Error())
		return err
	}
	o.mu.Lock()
	o.addr = addr
	o.mu.Unlock()
	o.srv.mu.Lock()
	o.srv.ident[addr] = o.identity
	o.srv.mu.Unlock()
	pushed := false
	for {
		n, err := tc.Read(plain[:])
		if err != nil {
			return err
		}
		for msg := range bytes.SplitSeq(plain[:n], []byte{0}) {
			switch m := string(bytes.TrimRight(msg, "\r\n")); {
			case m == "":
			case m == "PUSH_REQUEST" && !pushed:
				o.keys.Store(keys)
				o.authed.Store(true)
				for _, m := range o.pushReplies() {
					if err := o.sendMessage(tc, m); err != nil {
						return err
					}
				}
				pushed = true
				o.log.Info("point-to-site client connected", "addr", addr, "identity", o.identity, "tls", tls.VersionName(st.Version))
			case m == "PUSH_REQUEST":
				// Asked again while the reply travels: answered once.
			default:
				o.log.Debug("OpenVPN control message ignored", "message", m)
			}
		}
	}
}

// sendMessage writes a control channel message, NUL-terminated, in a TLS
// record of its own.
func (o *ovpnSession) sendMessage(tc *tls.Conn, m string) error {
	_, err := tc.Write(append([]byte(m), 0))
	return err
}

// pushReplies are the client's configuration, in PUSH_REPLY messages of
// less than ovpnPushBundle bytes each (push.c send_push_reply; all but
// the last say push-continuation 2): its address in the pool's subnet,
// the routes through the tunnel (a default route as redirect-gateway
// def1, which keeps the way to the gateway), the DNS servers, the
// keepalive, and the data channel's cipher, peer id and keys from TLS.
func (o *ovpnSession) pushReplies() []string {
	pool := o.srv.cfg.Pool.Masked()
	options := []string{
		"route-gateway " + o.srv.serverAddr().String(),
		"topology subnet",
		fmt.Sprintf("ping %d", int(ovpnPing.Seconds())),
		fmt.Sprintf("ping-restart %d", int(ovpnPingRestart.Seconds())),
		"ifconfig " + o.addr.String() + " " + ipv4Mask(pool.Bits()),
		fmt.Sprintf("peer-id %d", o.peerID), "cipher AES-256-GCM", "key-derivation tls-ekm",
	}
	for _, r := range o.srv.cfg.Routes {
		switch {
		case !r.Addr().Is4():
		case r.Bits() == 0:
			options = append(options, "redirect-gateway def1")
		default:
			options = append(options, "route "+r.Masked().Addr().String()+" "+ipv4Mask(r.Bits()))
		}
	}
	for _, d := range o.srv.cfg.DNS {
		if d.Is4() {
			options = append(options, "dhcp-option DNS "+d.String())
		}
	}
	const more, last = ",push-continuation 2", ",push-continuation 1"
	var out []string
	msg := "PUSH_REPLY"
	for _, opt := range options {
		if len(msg)+1+len(opt)+len(more) >= ovpnPushBundle {
			out = append(out, msg+more)
			msg = "PUSH_REPLY"
		}
		msg += "," + opt
	}
	if len(out) > 0 {
		msg += last
	}
	return append(out, msg)
}

// ovpnPushBundle bounds a PUSH_REPLY message (common.h PUSH_BUNDLE_SIZE).
const ovpnPushBundle = 1024

// ipv4Mask is the dotted netmask of a prefix length.
func ipv4Mask(bits int) string { return net.IP(net.CIDRMask(bits, 32)).String() }

// newOvpnKeys makes the data channel's ciphers from the 256 bytes of key
// material: the client's direction (its key in bytes 0-31, implicit IV
// 64-71) we open, ours (128-159, IV 192-199) we seal (ssl.c
// init_key_contexts: the server uses the inverse direction).
func newOvpnKeys(m []byte) (*ovpnKeys, error) {
	aead := func(key []byte) (cipher.AEAD, error) {
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}
	k := &ovpnKeys{}
	var err error
	if k.open, err = aead(m[0:32]); err != nil {
		return nil, err
	}
	if k.seal, err = aead(m[128:160]); err != nil {
		return nil, err
	}
	copy(k.openIV[:], m[64:72])
	copy(k.sealIV[:], m[192:200])
	return k, nil
}

// handleData opens a P_DATA_V2 packet and forwards what it carries.
func (o *ovpnSession) handleData(pkt []byte) {
	k := o.keys.Load()
	keyID, _, rest, err := openvpn.ParseDataV2(pkt)
	if k == nil || err != nil || keyID != k.keyID || len(rest) < 4+16 {
		o.badData.Add(1)
		return
	}
	id := binary.BigEndian.Uint32(rest)
	if !o.replayOK(id) {
		o.badData.Add(1)
		return
	}
	var nonce [12]byte
	copy(nonce[:4], rest[:4])
	copy(nonce[4:], k.openIV[:])
	// The tag comes before the ciphertext (crypto.c
	// openvpn_encrypt_aead); Go's GCM wants it after: moved in place.
	var tag [16]byte
	copy(tag[:], rest[4:20])
	body := rest[4:]
	copy(body, rest[20:])
	copy(body[len(body)-16:], tag[:])
	plain, err := k.open.Open(body[:0], nonce[:], body, pkt[:8])
	if err != nil {
		o.badData.Add(1)
		o.log.Debug("OpenVPN data packet does not open", "err", err)
		return
	}
	o.replayMark(id)
	if bytes.Equal(plain, ovpnPingPayload) {
		return
	}
	if len(plain) < 20 || plain[0]>>4 != 4 || netip.AddrFrom4([4]byte(plain[12:16])) != o.addr {
		// Only IPv4 from its own address: a client does not speak for
		// another.
		o.dropped.Add(1)
		return
	}
	o.bytesIn.Add(uint64(len(plain)))
	o.pktsIn.Add(1)
	if c := o.srv.capture.Load(); c != nil {
		c.Packet(plain)
	}
	o.srv.cfg.Router.Forward(plain)
}

// replayOK reports whether data packet id is new (not 0, not seen, not
// older than the window).
func (o *ovpnSession) replayOK(id uint32) bool {
	switch {
	case id == 0:
		return false
	case id > o.replayMax:
		return true
	case o.replayMax-id >= ovpnReplayWindow:
		return false
	}
	return o.replayMap&(1<<(o.replayMax-id)) == 0
}

// replayMark notes data packet id as seen.
func (o *ovpnSession) replayMark(id uint32) {
	if id > o.replayMax {
		shift := id - o.replayMax
		if shift >= ovpnReplayWindow {
			o.replayMap = 0
		} else {
			o.replayMap <<= shift
		}
		o.replayMax = id
	}
	o.replayMap |= 1 << (o.replayMax - id)
}

// SendIP queues an IPv4 packet for the client; it never blocks.
func (o *ovpnSession) SendIP(pkt []byte) error {
	if !o.authed.Load() {
		return errNotUp
	}
	if len(pkt) > ovpnMaxPacket-64 {
		o.dropped.Add(1)
		return fmt.Errorf("a packet of %d bytes is too large for OpenVPN", len(pkt))
	}
	select {
	case o.sendq <- append([]byte(nil), pkt...):
		o.bytesOut.Add(uint64(len(pkt)))
		o.pktsOut.Add(1)
		return nil
	default:
		o.dropped.Add(1)
		return errQueueFull
	}
}

// seal appends a P_DATA_V2 packet carrying plain, TCP length first.
func (o *ovpnSession) seal(b []byte, k *ovpnKeys, plain []byte) []byte {
	start := len(b)
	b = append(b, 0, 0)
	h := openvpn.DataV2Header(k.keyID, o.peerID)
	b = append(b, h[:]...)
	id := k.nextPacketID.Add(1)
	b = binary.BigEndian.AppendUint32(b, id)
	var nonce [12]byte
	binary.BigEndian.PutUint32(nonce[:4], id)
	copy(nonce[4:], k.sealIV[:])
	ad := b[start+2 : start+10]
	b = append(b, make([]byte, 16)...) // the tag's place
	ctAt := len(b)
	b = k.seal.Seal(b, nonce[:], plain, ad)
	// The tag goes before the ciphertext (crypto.c openvpn_encrypt_aead).
	copy(b[ctAt-16:ctAt], b[len(b)-16:])
	b = b[:len(b)-16]
	binary.BigEndian.PutUint16(b[start:], uint16(len(b)-start-2))
	return b
}

// writer sends the queued packets, many in one write, until quit.
func (o *ovpnSession) writer(quit <-chan struct{}) {
	buf := make([]byte, 0, 40<<10)
	for {
		buf = buf[:0]
		var pkt []byte
		select {
		case <-quit:
			return
		case pkt = <-o.sendq:
		}
		k := o.keys.Load()
		if k.nextPacketID.Load() >= ovpnLastPacketID {
			// A packet id (the GCM nonce's counter) is never used twice:
			// the client connects again for new keys.
			o.log.Info("OpenVPN data channel's packet ids used up: connection closed", "addr", o.addr)
			o.conn.Close()
			return
		}
		buf = o.seal(buf, k, pkt)
	more:
		for len(buf) < 32<<10 {
			select {
			case pkt := <-o.sendq:
				buf = o.seal(buf, k, pkt)
			default:
				break more
			}
		}
		if err := o.write(buf); err != nil {
			o.conn.Close() // the reader ends the session
			return
		}
	}
}

// keepalive sends a ping when nothing went to the client for ovpnPing.
func (o *ovpnSession) keepalive(quit <-chan struct{}) {
	t := time.NewTicker(ovpnPing)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		if k := o.keys.Load(); k != nil {
			if err := o.write(o.seal(nil, k, ovpnPingPayload)); err != nil {
				o.conn.Close()
				return
			}
		}
	}
}

// close ends the session: the TLS side, and the client's address.
func (o *ovpnSession) close() {
	o.mu.Lock()
	o.closed = true
	addr := o.addr
	o.cond.Broadcast()
	o.mu.Unlock()
	o.conn.Close()
	if addr.IsValid() {
		o.srv.leave(addr, o)
	}
}

// The session as a Server's client.
func (o *ovpnSession) connected() bool  { return o.authed.Load() }
func (o *ovpnSession) closeConn()       { o.conn.Close() }
func (o *ovpnSession) protocol() string { return ProtocolOpenVPN }
func (o *ovpnSession) remoteAddr() netip.AddrPort {
	a, _ := netip.ParseAddrPort(o.conn.RemoteAddr().String())
	return a
}
func (o *ovpnSession) traffic() (bytesIn, bytesOut, packetsIn, packetsOut uint64) {
	return o.bytesIn.Load(), o.bytesOut.Load(), o.pktsIn.Load(), o.pktsOut.Load()
}

// disconnect tells the client to stop (HALT: it does not reconnect by
// itself, R14) and closes the connection after a moment for the message
// to arrive.
func (o *ovpnSession) disconnect() {
	o.mu.Lock()
	tc := o.tls
	o.mu.Unlock()
	if tc != nil {
		o.sendMessage(tc, "HALT,disconnected by the gateway's administrator")
	}
	time.AfterFunc(time.Second, func() { o.conn.Close() })
}
