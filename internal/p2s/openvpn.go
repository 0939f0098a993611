package p2s

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// OpenVPN over TCP, as OpenVPN 2.6's source defines it (there is no RFC):
// a control channel of packets acknowledged one by one that carries a TLS
// session, wrapped with the gateway's static key (tls-crypt or tls-auth);
// in it the key method 2 exchange, the client's PUSH_REQUEST and
// our PUSH_REPLY with its address and routes; then a data channel of
// AES-256-GCM packets keyed from the TLS session (TLS-EKM). The client
// authenticates with its certificate in TLS, which must chain to an
// uploaded root (R12), as SSTP's EAP-TLS does. A client renegotiates
// (hourly by default) with a soft reset: a new key state, with its own
// control channel, TLS session and data channel keys.

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
	// ovpnHandWindow is how long a key state's handshake may take
	// (OpenVPN's hand-window default).
	ovpnHandWindow = 60 * time.Second
	// ovpnMaxTLSIn bounds the client's TLS bytes waiting for a key
	// state to read them: OpenVPN itself buffers 12 packets.
	ovpnMaxTLSIn = 64 << 10
	// ovpnMTU is the largest packet a client takes (its tun-mtu, 1500 by
	// default: it refuses a longer frame and reconnects).
	ovpnMTU = 1500
	// ovpnLastPacketID is where a session stops sending data: far enough
	// below 2^32 for a batch and the keepalives in flight.
	ovpnLastPacketID = 1<<32 - 1<<20
	// ovpnReplayWindow is how far back a data packet id may be and still
	// be taken once (OpenVPN's default replay-window is 64).
	ovpnReplayWindow = 64
	// ovpnTokenPrefix begins the auth-token a client a RADIUS server
	// accepted is pushed, which tells it from a password.
	ovpnTokenPrefix = "vnetgw-session-"
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
	// handshook stops counting the connection against its sender's
	// bound (Server.negotiating), admitted as one that has not
	// authenticated.
	handshook, admitted func()
	peerID              uint32

	wmu sync.Mutex // one writer of packets at a time

	// wrap unwraps the client's control packets and wraps ours, in the
	// mode of its first packet (nil: they are not wrapped); sendPID
	// numbers ours (wmu); replay and replayTime check the client's
	// (the reading goroutine's), plain holds the last one unwrapped.
	wrap       *openvpn.Wrapper
	sendPID    openvpn.PacketID
	replay     ovpnReplay
	replayTime uint32
	plain      []byte

	// The key states (ssl.c key_state): the first, and one per
	// renegotiation, each with its own control channel and TLS session;
	// the newest two are kept.
	mu       sync.Mutex
	cond     *sync.Cond
	states   [8]*ovpnKeyState // by key id
	order    []int            // the key ids of states, oldest first
	closed   bool
	identity string     // who the client is, once authenticated (mu)
	addr     netip.Addr // its address, once it has one (mu)
	// thumb is the thumbprint of the certificate the client connected
	// with, if it did (mu): its renegotiations must present the same.
	thumb string
	// token is what a client a RADIUS server accepted is pushed as its
	// auth-token, set before the push.
	token string
	// pending is the key state whose handshake runs (mu): one at a
	// time, as OpenVPN negotiates; pendingSince, since when.
	pending      *ovpnKeyState
	pendingSince time.Time
	tlsErr       chan error // a key state's TLS failed: the session ends
	// refused is why the client was told AUTH_FAILED (mu): what ends
	// the session, also when the client leaves before refuse ends it.
	refused error
	// ctx ends with the session: what waits for it (a RADIUS server)
	// gives up.
	ctx    context.Context
	cancel context.CancelFunc
	// wg is the session's goroutines (its key states' and the writer):
	// serveOpenVPN waits for them, so that Server.Close leaves nothing
	// running.
	wg sync.WaitGroup

	// The data channel: the keys data is sent with (the newest key
	// state's), and those it is opened with, by key id.
	send   atomic.Pointer[ovpnKeys]
	recv   [8]atomic.Pointer[ovpnKeys]
	authed atomic.Bool
	outQueue
	bytesIn atomic.Uint64
	pktsIn  atomic.Uint64
}

// ovpnKeyState is one key state's control channel: the client's TLS
// bytes, in order, and our packets not yet acknowledged, numbered from 0
// (reliable.c). Its fields are guarded by the session's mu.
type ovpnKeyState struct {
	keyID   int
	tlsIn   []byte
	nextIn  uint32 // the client's next control packet id
	nextOut uint32 // our next control packet id
	unacked map[uint32]bool
	retired bool // replaced by newer key states: its TLS side ends
	// tls is its TLS session once our key method message went out: the
	// client reads control messages of it from then on.
	tls *tls.Conn
	// halt is a message for the client (disconnect's HALT) held until
	// then.
	halt string
}

// ovpnKeys are a key state's data channel keys, packet counter and replay
// window (the window owned by the reading goroutine).
type ovpnKeys struct {
	keyID        int
	seal, open   cipher.AEAD
	sealIV       [8]byte // implicit IVs (the key's hmac half)
	openIV       [8]byte
	nextPacketID atomic.Uint32
	replay       ovpnReplay
}

// serveOpenVPN runs one OpenVPN client: c is the connection, r its
// reader (the first bytes read ahead).
func (s *Server) serveOpenVPN(c net.Conn, r *bufio.Reader, handshook, admitted func()) error {
	o := &ovpnSession{srv: s, handshook: handshook, admitted: admitted, log: s.log.With("protocol", ProtocolOpenVPN, "from", c.RemoteAddr().String()), conn: c, r: r,
		outQueue: newOutQueue(), tlsErr: make(chan error, len(ovpnSession{}.states))}
	o.cond = sync.NewCond(&o.mu)
	o.ctx, o.cancel = context.WithCancel(context.Background())
	var sid [8]byte
	rand.Read(sid[:])
	o.sid = binary.BigEndian.Uint64(sid[:]) | 1
	o.peerID = s.nextPeerID.Add(1) & 0xffffff
	defer func() {
		o.close() // the key states' TLS sides and RADIUS waits end
		o.wg.Wait()
	}()

	// The client's hard reset: its session id, packet 0 of key state 0.
	// Ours answers it and acknowledges it. A connection that ends before
	// (a scanner's probe, a client without the gateway's key) is logged
	// as one that asked for no call: once a minute at most.
	var buf [ovpnMaxPacket]byte
	pkt, err := o.read(buf[:])
	if err != nil {
		return noCallError{err}
	}
	if pkt, err = o.unwrapFirst(pkt); err != nil {
		return noCallError{err}
	}
	first, err := openvpn.ParseControl(pkt)
	if err != nil {
		return noCallError{err}
	}
	if first.Opcode != openvpn.ControlHardResetClientV2 || first.KeyID != 0 || first.PacketID != 0 {
		return noCallError{fmt.Errorf("OpenVPN client began with opcode %d, key id %d, packet %d; only P_CONTROL_HARD_RESET_CLIENT_V2 is served",
			first.Opcode, first.KeyID, first.PacketID)}
	}
	o.peerSID = first.SessionID
	ks := o.newKeyState(0)
	if err := o.sendControl(ks, openvpn.ControlHardResetServerV2, []uint32{0}, nil); err != nil {
		return err
	}
	o.wg.Go(func() { o.runFirst(ks) })
	quit := make(chan struct{})
	defer close(quit)
	o.wg.Go(func() { o.writer(quit) })
	for {
		// OpenVPN's hand-window: a key state's handshake (the first:
		// authentication, RADIUS's second factor too, and the push) has
		// ovpnHandWindow.
		deadline := time.Now().Add(ovpnPingRestart)
		o.mu.Lock()
		if o.pending != nil && o.pendingSince.Add(ovpnHandWindow).Before(deadline) {
			deadline = o.pendingSince.Add(ovpnHandWindow)
		}
		o.mu.Unlock()
		o.conn.SetReadDeadline(deadline)
		pkt, err := o.read(buf[:])
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Said in OpenVPN's words, not as a read that timed out.
			o.mu.Lock()
			handshake := o.pending != nil && !o.pendingSince.Add(ovpnHandWindow).After(time.Now())
			o.mu.Unlock()
			if handshake {
				err = fmt.Errorf("OpenVPN client's handshake took longer than the hand-window (%v)", ovpnHandWindow)
			} else {
				err = fmt.Errorf("OpenVPN client silent for %v (ping-restart)", ovpnPingRestart)
			}
		}
		if err != nil {
			err = o.why(err)
			if errors.Is(err, io.EOF) && o.authed.Load() {
				// The connected client left: OpenVPN over TCP closes its
				// connection, with no exit notification. close logs it
				// as disconnected; it was neither refused nor cut off.
				return nil
			}
			return err
		}
		switch op := openvpn.Opcode(pkt[0]); {
		case op == openvpn.DataV2:
			o.handleData(pkt)
		case openvpn.IsControl(op):
			if pkt, err = o.unwrap(pkt); err != nil {
				// As OpenVPN does: dropped, the session goes on.
				o.srv.ovpnDrops.control.Add(1)
				o.log.Debug("OpenVPN control packet dropped", "err", err)
				continue
			}
			if err := o.handleControl(pkt); err != nil {
				return o.why(err)
			}
		default:
			o.srv.ovpnDrops.data.Add(1)
			o.log.Debug("OpenVPN packet of an opcode not served dropped", "opcode", op)
		}
		if err := o.why(nil); err != nil {
			return err
		}
	}
}

// why is what ends the session for err: a key state's error, when there
// is one, rather than the closed connection it leaves (a read, or the
// write of an acknowledgement, that fails), or the refusal the client
// was told and left on, as it does; logged once, by accept.
func (o *ovpnSession) why(err error) error {
	select {
	case terr := <-o.tlsErr:
		return fmt.Errorf("OpenVPN client refused: %w", terr)
	default:
	}
	o.mu.Lock()
	refused := o.refused
	o.mu.Unlock()
	if err != nil && refused != nil {
		return fmt.Errorf("OpenVPN client refused: %w", refused)
	}
	return err
}

// newKeyState starts key state id, whose first packet (the client's
// reset) came: the next is 1. Of three key states, the oldest is
// retired, with its data channel keys.
func (o *ovpnSession) newKeyState(id int) *ovpnKeyState {
	ks := &ovpnKeyState{keyID: id, nextIn: 1, unacked: map[uint32]bool{}}
	o.mu.Lock()
	defer o.mu.Unlock()
	if old := o.states[id]; old != nil {
		old.retired = true
		o.order = slices.DeleteFunc(o.order, func(k int) bool { return k == id })
	}
	o.states[id] = ks
	o.order = append(o.order, id)
	o.pending, o.pendingSince = ks, time.Now()
	if len(o.order) > 2 {
		gone := o.order[0]
		o.order = o.order[1:]
		o.states[gone].retired = true
		o.states[gone] = nil
		o.recv[gone].Store(nil)
	}
	o.cond.Broadcast()
	return ks
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

// handleControl takes a control packet: acknowledgements of ours, the
// client's next TLS bytes, which it acknowledges, and a soft reset, which
// starts a renegotiation in a new key state.
func (o *ovpnSession) handleControl(pkt []byte) error {
	c, err := openvpn.ParseControl(pkt)
	if err != nil {
		return err
	}
	if c.SessionID != o.peerSID {
		return fmt.Errorf("OpenVPN control packet of session %016x; the client's is %016x", c.SessionID, o.peerSID)
	}
	if len(c.Acks) > 0 && c.RemoteSessionID != o.sid {
		return fmt.Errorf("OpenVPN acknowledgement for session %016x, ours is %016x", c.RemoteSessionID, o.sid)
	}
	o.mu.Lock()
	ks := o.states[c.KeyID]
	o.mu.Unlock()
	// A soft reset of a key state held is the client's again, its
	// acknowledgement not seen yet: key ids go round 1 to 7 (ssl.c), and
	// of those only the two newest are held. It is acknowledged below.
	if c.Opcode == openvpn.ControlSoftResetV1 && c.PacketID == 0 && (ks == nil || ks.retired) {
		o.mu.Lock()
		busy := o.pending != nil
		o.mu.Unlock()
		switch {
		case c.KeyID == 0:
			return errors.New("OpenVPN soft reset of key state 0")
		case !o.authed.Load() || busy:
			// One handshake at a time, after the client authenticated.
			return fmt.Errorf("OpenVPN soft reset of key state %d while a key state's handshake runs", c.KeyID)
		}
		// The client renegotiates (ssl.c key_state_soft_reset): our soft
		// reset answers and acknowledges its, then a new TLS session.
		ks = o.newKeyState(c.KeyID)
		if err := o.sendControl(ks, openvpn.ControlSoftResetV1, []uint32{0}, nil); err != nil {
			return err
		}
		o.log.Debug("OpenVPN client renegotiates", "key_id", c.KeyID)
		o.wg.Go(func() { o.runRenegotiation(ks) })
		return nil
	}
	if ks == nil {
		// A key state dropped after renegotiations, whose packets may
		// still come (a late acknowledgement), or one never started:
		// dropped, as OpenVPN does; it changes nothing.
		o.log.Debug("OpenVPN control packet of a key state not held dropped", "key_id", c.KeyID, "opcode", c.Opcode)
		return nil
	}
	o.mu.Lock()
	for _, a := range c.Acks {
		delete(ks.unacked, a)
	}
	deliver := c.Opcode == openvpn.ControlV1 && c.PacketID == ks.nextIn
	if deliver && len(ks.tlsIn)+len(c.Payload) > ovpnMaxTLSIn {
		o.mu.Unlock()
		return fmt.Errorf("OpenVPN client sent %d bytes of TLS that key state %d does not read", len(ks.tlsIn)+len(c.Payload), c.KeyID)
	}
	if deliver {
		ks.tlsIn = append(ks.tlsIn, c.Payload...)
		ks.nextIn++
	}
	o.cond.Broadcast()
	o.mu.Unlock()
	if c.Opcode == openvpn.AckV1 || !deliver && c.PacketID >= ks.nextIn {
		// Ahead of the next one: not acknowledged, the client sends it
		// again.
		return nil
	}
	// Acknowledged, also again: the client retransmits what it has not
	// seen acknowledged, over TCP too.
	return o.sendControl(ks, openvpn.AckV1, []uint32{c.PacketID}, nil)
}

// sendControl sends a control packet (or an ACK) of key state ks with
// acks and payload, numbered when it is not an ACK.
func (o *ovpnSession) sendControl(ks *ovpnKeyState, op int, acks []uint32, payload []byte) error {
	c := openvpn.Control{Opcode: op, KeyID: ks.keyID, SessionID: o.sid, Acks: acks, RemoteSessionID: o.peerSID, Payload: payload}
	if op != openvpn.AckV1 {
		o.mu.Lock()
		c.PacketID = ks.nextOut
		ks.nextOut++
		ks.unacked[c.PacketID] = true
		o.mu.Unlock()
	}
	b := c.Append(make([]byte, 2, 2+32+len(payload)))
	o.wmu.Lock()
	defer o.wmu.Unlock()
	if o.wrap != nil {
		// Numbered here, under the write lock, so that the client sees
		// the packet ids rise (it checks them as we check its).
		if o.sendPID.ID == math.MaxUint32 {
			// Counting begins again from a later time (packet_id.c):
			// the client takes no id twice in one.
			o.sendPID = openvpn.PacketID{Time: max(uint32(time.Now().Unix()), o.sendPID.Time+1)}
		}
		o.sendPID.ID++
		b = o.wrap.Wrap(b[:2:2], b[2:], o.sendPID)
	}
	binary.BigEndian.PutUint16(b, uint16(len(b)-2))
	return o.writeLocked(b)
}

func (o *ovpnSession) write(b []byte) error {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	return o.writeLocked(b)
}

func (o *ovpnSession) writeLocked(b []byte) error {
	o.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := o.conn.Write(b)
	return err
}

// ovpnWraps are the ways a client may wrap its control packets with the
// gateway's key, tried on its first packet: the profile's tls-crypt
// first; tls-auth with key-direction 1 or none, with any of the digests
// OpenVPN's auth option names for it.
var ovpnWraps = []struct {
	mode openvpn.WrapMode
	dir  openvpn.KeyDirection
}{
	{openvpn.TLSCrypt, openvpn.KeyDirectionNormal},
	{openvpn.TLSAuthSHA256, openvpn.KeyDirectionNormal},
	{openvpn.TLSAuthSHA1, openvpn.KeyDirectionNormal},
	{openvpn.TLSAuthSHA512, openvpn.KeyDirectionNormal},
	{openvpn.TLSAuthSHA256, openvpn.KeyDirectionBoth},
	{openvpn.TLSAuthSHA1, openvpn.KeyDirectionBoth},
	{openvpn.TLSAuthSHA512, openvpn.KeyDirectionBoth},
}

// unwrapFirst unwraps the client's first packet in whichever way of
// ovpnWraps it verifies, which the session keeps to. Without a key, the
// packet is taken as it is.
func (o *ovpnSession) unwrapFirst(pkt []byte) ([]byte, error) {
	k := o.srv.cfg.OpenVPNKey
	if k == nil {
		return pkt, nil
	}
	o.plain = make([]byte, 0, ovpnMaxPacket)
	for _, w := range ovpnWraps {
		o.wrap = openvpn.NewWrapper(k, w.mode, w.dir)
		if plain, err := o.unwrap(pkt); err == nil {
			o.sendPID = openvpn.PacketID{Time: uint32(time.Now().Unix())}
			o.log.Debug("OpenVPN client wraps its control packets", "mode", w.mode.String(), "key_direction_0", w.dir == openvpn.KeyDirectionNormal)
			return plain, nil
		}
	}
	o.wrap = nil
	o.srv.ovpnDrops.control.Add(1)
	return nil, errors.New("OpenVPN client's first packet does not carry the gateway's key (tls-crypt or tls-auth of the gateway's VPN client package)")
}

// unwrap checks and unwraps a control packet of the client (a packet
// replayed within the session is refused, as packet_id.c does), or
// returns it as it is when the session does not wrap them.
func (o *ovpnSession) unwrap(pkt []byte) ([]byte, error) {
	if o.wrap == nil {
		return pkt, nil
	}
	plain, pid, err := o.wrap.Unwrap(o.plain[:0], pkt)
	if err != nil {
		return nil, err
	}
	switch {
	case pid.Time < o.replayTime:
		return nil, fmt.Errorf("OpenVPN control packet of time %d, before the client's %d", pid.Time, o.replayTime)
	case pid.Time > o.replayTime:
		// The client began counting again.
		o.replay, o.replayTime = ovpnReplay{}, pid.Time
	}
	if !o.replay.ok(pid.ID) {
		return nil, fmt.Errorf("OpenVPN control packet %d replayed", pid.ID)
	}
	o.replay.mark(pid.ID)
	return plain, nil
}

// errBridgeEnded ends a key state's TLS side when the session closes or
// the key state is retired.
var errBridgeEnded = errors.New("OpenVPN key state ended")

// ovpnTLSConn is a key state's TLS side's connection: it reads the
// client's control payloads in order and writes ours in packets of at
// most ovpnControlChunk bytes, at most ovpnSendWindow unacknowledged.
type ovpnTLSConn struct {
	o  *ovpnSession
	ks *ovpnKeyState
}

func (c ovpnTLSConn) Read(p []byte) (int, error) {
	o, ks := c.o, c.ks
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(ks.tlsIn) == 0 {
		if o.closed || ks.retired {
			return 0, errBridgeEnded
		}
		o.cond.Wait()
	}
	n := copy(p, ks.tlsIn)
	ks.tlsIn = ks.tlsIn[n:]
	return n, nil
}

func (c ovpnTLSConn) Write(p []byte) (int, error) {
	o, ks := c.o, c.ks
	for off := 0; off < len(p); off += ovpnControlChunk {
		chunk := p[off:min(off+ovpnControlChunk, len(p))]
		o.mu.Lock()
		for len(ks.unacked) >= ovpnSendWindow && !o.closed && !ks.retired {
			o.cond.Wait()
		}
		ended := o.closed || ks.retired
		o.mu.Unlock()
		if ended {
			return off, errBridgeEnded
		}
		if err := o.sendControl(ks, openvpn.ControlV1, nil, chunk); err != nil {
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

// fail ends the session for a key state's error (not for the end of a
// retired one's, or of the session).
func (o *ovpnSession) fail(err error) {
	if err != nil && !errors.Is(err, errBridgeEnded) {
		select {
		case o.tlsErr <- err:
		default: // the session ends already, for an earlier error
		}
		o.conn.Close() // the reader ends the session
	}
}

// handshake runs a key state's TLS session up to its data channel keys:
// the handshake (with the client's certificate, when certificates
// authenticate), key method 2 both ways (the client's user name and
// password in it, when RADIUS does), and the keys from TLS's exporter.
func (o *ovpnSession) handshake(ks *ovpnKeyState) (*tls.Conn, openvpn.KeyMethod2, *ovpnKeys, error) {
	tc := tls.Server(ovpnTLSConn{o, ks}, o.tlsConfig())
	var km openvpn.KeyMethod2
	if err := tc.Handshake(); err != nil {
		return nil, km, nil, fmt.Errorf("OpenVPN TLS: %w", err)
	}
	st := tc.ConnectionState()
	var plain [16 << 10]byte
	n, err := tc.Read(plain[:])
	if err != nil {
		return nil, km, nil, err
	}
	if km, err = openvpn.ParseKeyMethod2(plain[:n], true); err != nil {
		return nil, km, nil, err
	}
	reply := openvpn.KeyMethod2{Options: ovpnOptions}
	rand.Read(reply.Random1[:])
	rand.Read(reply.Random2[:])
	if _, err := tc.Write(reply.Append(nil, false)); err != nil {
		return nil, km, nil, err
	}
	o.mu.Lock()
	ks.tls = tc
	halt := ks.halt
	o.mu.Unlock()
	if halt != "" {
		// The client disconnected during the handshake reads it now.
		if err := o.sendMessage(tc, halt); err != nil {
			return nil, km, nil, err
		}
	}
	// Checked once our key method message went: a client takes
	// AUTH_FAILED only after it (ssl.c key_method_2_read), and stops.
	if openvpn.PeerInfoProto(km.PeerInfo)&openvpn.IVProtoTLSKeyExport == 0 && ks.keyID == 0 {
		return tc, km, nil, errNoTLSEKM
	}
	if !openvpn.PeerInfoHasCipher(km.PeerInfo, "AES-256-GCM") && ks.keyID == 0 {
		return tc, km, nil, errNoSharedCipher
	}
	material, err := st.ExportKeyingMaterial(ovpnEKMLabel, nil, 256)
	if err != nil {
		return nil, km, nil, fmt.Errorf("OpenVPN keys: %w", err)
	}
	keys, err := newOvpnKeys(ks.keyID, material)
	if err != nil {
		return nil, km, nil, err
	}
	return tc, km, keys, nil
}

// tlsConfig is the control channel's TLS: TLS 1.2 or 1.3, the gateway's
// certificate, and the client's, which must chain to an uploaded root
// and not be revoked: always, unless RADIUS authenticates clients too
// (then a certificate is checked if given) or alone (then none is asked).
func (o *ovpnSession) tlsConfig() *tls.Config {
	live := o.srv.settings()
	cfg := eaptls.ServerConfig(*o.srv.cert.Load(), live.roots, live.Revoked)
	cfg.MaxVersion = 0 // TLS 1.3 too: the keys come from the exporter
	cfg.DynamicRecordSizingDisabled = true
	switch {
	case o.srv.cfg.RadiusOnly && len(o.srv.cfg.Radius) > 0:
		cfg.ClientAuth, cfg.VerifyConnection = tls.NoClientCert, nil
	case len(o.srv.cfg.Radius) > 0:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		verify := cfg.VerifyConnection
		cfg.VerifyConnection = func(st tls.ConnectionState) error {
			if len(st.PeerCertificates) == 0 {
				return nil // the user name and password, then
			}
			return verify(st)
		}
	}
	return cfg
}

// authenticate decides who the client is: the subject of its
// certificate, checked in TLS, or the user name a RADIUS server accepts
// with the password.
func (o *ovpnSession) authenticate(tc *tls.Conn, km openvpn.KeyMethod2) (peer, error) {
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		return peer{name: certs[0].Subject.CommonName, thumb: eaptls.CertThumbprint(certs[0]), chain: certs}, nil
	}
	if len(o.srv.cfg.Radius) == 0 {
		return peer{}, errors.New("the OpenVPN client gave no certificate")
	}
	if km.Username == "" {
		return peer{}, errors.New("the OpenVPN client gave neither a certificate nor a user name (auth-user-pass)")
	}
	if strings.HasPrefix(km.Password, ovpnTokenPrefix) {
		// The auth-token of an earlier connection, which the client sends
		// when it connects again: good for that connection's
		// renegotiations alone. Refused here, not as a wrong password at
		// the RADIUS server (which counts those, and may lock the
		// account); the client forgets it and sends its password.
		return peer{}, fmt.Errorf("OpenVPN client %q gave the auth-token of an earlier connection", km.Username)
	}
	if len(km.Password) > radius.MaxPassword {
		// RFC 2865 §5.2: a User-Password holds at most 128 octets.
		return peer{}, fmt.Errorf("OpenVPN client %q gave a password of %d bytes: %w", km.Username, len(km.Password), errPasswordTooLong)
	}
	ctx, cancel := context.WithTimeout(o.ctx, ovpnHandWindow)
	defer cancel()
	req := o.srv.radiusRequest(km.Username, o.conn)
	req.Password = km.Password
	a, err := radius.Authenticate(ctx, o.srv.settings().Radius, req)
	if errors.Is(err, radius.ErrNoAnswer) {
		return peer{}, fmt.Errorf("no RADIUS server answered for user %q: %w", km.Username, err)
	}
	if err != nil {
		return peer{}, fmt.Errorf("RADIUS about user %q: %w", km.Username, err)
	}
	if !a.Accept {
		return peer{}, fmt.Errorf("the RADIUS server rejected user %q (%s)", km.Username, a.Message)
	}
	return peer{name: km.Username, user: km.Username, radius: true, grant: a.Grant}, nil
}

// Refusals the client is told with their reason, which its user can do
// something about: a password RADIUS cannot carry; a data channel the
// gateway cannot key (TLS-EKM) or cipher (AES-256-GCM alone), told in
// the words of OpenVPN's own server (push.c) where it has them.
var (
	errPasswordTooLong = fmt.Errorf("a password of over %d bytes, the most RADIUS carries", radius.MaxPassword)
	errNoTLSEKM        = errors.New("the client cannot derive keys from TLS (IV_PROTO without TLS key export): OpenVPN 2.6 or later is needed")
	errNoSharedCipher  = errors.New("data channel cipher negotiation failed (no shared cipher): the gateway's is AES-256-GCM")
)

// noRoomError is a client authenticated but given no place (reserve's
// refusal: the gateway full, the pool exhausted, or its certificate
// revoked meanwhile), told as it is: for now, but for a revoked
// certificate.
type noRoomError struct{ error }

func (e noRoomError) Unwrap() error { return e.error }

// authFailed is the AUTH_FAILED message that tells a client refused
// with err why, when it can do something about it.
func authFailed(err error) string {
	for _, told := range []error{errPasswordTooLong, errNoTLSEKM, errNoSharedCipher} {
		if errors.Is(err, told) {
			return "AUTH_FAILED," + told.Error()
		}
	}
	if nr, ok := errors.AsType[noRoomError](err); ok {
		if errors.Is(err, errRevokedMeanwhile) {
			return "AUTH_FAILED," + nr.error.Error()
		}
		// A refusal for now, which OpenVPN 2.6 takes as one: it connects
		// again later rather than stop (push.c receive_auth_failed,
		// options_util.c parse_auth_failed_temp: TEMP[flags]:reason).
		return "AUTH_FAILED,TEMP:" + nr.error.Error()
	}
	return "AUTH_FAILED"
}

// runFirst runs the first key state: the client authenticates, gets an
// address and its configuration (the push), and the data channel starts.
func (o *ovpnSession) runFirst(ks *ovpnKeyState) {
	tc, km, keys, err := o.handshake(ks)
	if errors.Is(err, errNoTLSEKM) || errors.Is(err, errNoSharedCipher) {
		o.refuse(tc, err)
		return
	}
	if err != nil {
		o.fail(err)
		return
	}
	o.handshook() // what follows may wait for a RADIUS server
	who, err := o.authenticate(tc, km)
	if errors.Is(err, radius.ErrNoAnswer) {
		// No verdict: the connection ends untold, and the client
		// connects again.
		o.fail(err)
		return
	}
	if err != nil {
		// The client stops (auth-retry none, its default), told why.
		o.refuse(tc, err)
		return
	}
	addr, err := o.srv.reserve(o, who)
	if err != nil {
		// Told as any refusal, the connection up a moment after for the
		// client to read it: closed at once, with the client's packets
		// unread, the message could go with it (a TCP reset).
		o.refuse(tc, noRoomError{err})
		return
	}
	if who.user != "" {
		// Pushed as its auth-token, which the client sends instead of
		// the password when it renegotiates (reneg-sec): with
		// auth-nocache it has forgotten the password, and asked its
		// user for it again at every renegotiation, an hour apart, the
		// tunnel stopped meanwhile (and ended after hand-window).
		var b [24]byte
		rand.Read(b[:])
		o.token = ovpnTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	}
	o.admitted()
	o.mu.Lock()
	closed := o.closed
	if !closed {
		o.identity, o.thumb, o.addr = who.name, who.thumb, addr
	}
	o.mu.Unlock()
	if closed {
		// The client left while it was authenticated: its address goes
		// back at once (close had none to give back).
		o.srv.leave(addr, o)
		return
	}
	pushed := false
	push := func() error {
		o.recv[keys.keyID].Store(keys)
		o.send.Store(keys)
		o.mu.Lock()
		o.pending = nil
		o.mu.Unlock()
		o.authed.Store(true)
		for _, m := range o.pushReplies() {
			if err := o.sendMessage(tc, m); err != nil {
				return err
			}
		}
		pushed = true
		o.log.Info("point-to-site client connected", "addr", addr, "identity", o.identity, "tls", tls.VersionName(tc.ConnectionState().Version))
		return nil
	}
	if openvpn.PeerInfoProto(km.PeerInfo)&openvpn.IVProtoRequestPush != 0 {
		// The client takes the push before its PUSH_REQUEST, which it
		// sends a second or more later: pushed at once, as OpenVPN's
		// server does (multi.c: the bit counts as the request received).
		if err := push(); err != nil {
			o.fail(err)
			return
		}
	}
	var plain [16 << 10]byte
	for {
		n, err := tc.Read(plain[:])
		if err != nil {
			o.fail(err)
			return
		}
		for msg := range bytes.SplitSeq(plain[:n], []byte{0}) {
			switch m := string(bytes.TrimRight(msg, "\r\n")); {
			case m == "":
			case m == "PUSH_REQUEST" && !pushed:
				if err := push(); err != nil {
					o.fail(err)
					return
				}
			case m == "PUSH_REQUEST":
				// Pushed already (at once, or asked again while the reply
				// travels): answered once; OpenVPN's server ignores it
				// too (push.c PUSH_MSG_ALREADY_REPLIED).
			default:
				o.log.Debug("OpenVPN control message ignored", "command", controlCommand(m))
			}
		}
	}
}

// controlCommand is what a control channel message is, without what it
// carries (a dynamic challenge's answer holds a one-time password): its
// first word, at most 32 bytes of it.
func controlCommand(m string) string {
	if i := strings.IndexAny(m, ", \x00\r\n"); i >= 0 {
		m = m[:i]
	}
	if len(m) > 32 {
		m = m[:32]
	}
	return m
}

// runRenegotiation runs a key state the client started with a soft
// reset: a new TLS session with the same client certificate, key method
// 2, and new data channel keys, which data is sent with once the client
// sends with them; the previous key state's still open what the client
// sent with its keys until the next renegotiation retires them.
func (o *ovpnSession) runRenegotiation(ks *ovpnKeyState) {
	tc, km, keys, err := o.handshake(ks)
	if err != nil {
		o.fail(fmt.Errorf("renegotiation of key state %d: %w", ks.keyID, err))
		return
	}
	// The same client: the certificate it connected with (as OpenVPN's
	// server holds it to, ssl_verify.c: not another of the same name, nor
	// none and a user name), or its user name with its auth-token or its
	// password again.
	who, thumb := km.Username, ""
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		who, thumb = certs[0].Subject.CommonName, eaptls.CertThumbprint(certs[0])
	}
	o.mu.Lock()
	identity, connThumb := o.identity, o.thumb
	o.mu.Unlock()
	switch {
	case connThumb != "" && thumb == "":
		o.fail(fmt.Errorf("OpenVPN client %q renegotiated without the certificate it connected with", identity))
		return
	case connThumb != "" && thumb != connThumb:
		o.fail(fmt.Errorf("OpenVPN client %q renegotiated with another certificate (thumbprint %s, not %s)", identity, thumb, connThumb))
		return
	case who != identity:
		o.fail(fmt.Errorf("OpenVPN client %q renegotiated as %q", identity, who))
		return
	}
	if err := o.reauthenticate(tc, km); err != nil {
		err = fmt.Errorf("renegotiation of key state %d: %w", ks.keyID, err)
		if errors.Is(err, radius.ErrNoAnswer) {
			o.fail(err) // no verdict: ended untold, as at its connection
			return
		}
		// Told, as at its connection: the client stops.
		o.refuse(tc, err)
		return
	}
	o.mu.Lock()
	addr, retired := o.addr, ks.retired
	if !retired {
		// Under the lock: a newer key state retires this one after, not
		// between the check and these.
		o.recv[keys.keyID].Store(keys)
		// Sent with at once, as OpenVPN's server does (ssl.c
		// tls_select_encryption_key: the newest keys generated): the
		// client has them once it read our key method message, which
		// comes before them on the connection. Waiting for the client
		// to send with them first kept keys it had dropped in use when
		// it sent nothing meanwhile.
		o.send.Store(keys)
		o.pending = nil
	}
	o.mu.Unlock()
	if retired {
		return
	}
	o.log.Info("OpenVPN data channel keys renegotiated", "addr", addr, "key_id", ks.keyID)
	var plain [16 << 10]byte
	for {
		n, err := tc.Read(plain[:])
		if err != nil {
			o.fail(err)
			return
		}
		o.log.Debug("OpenVPN control message ignored", "command", controlCommand(string(plain[:n])))
	}
}

// reauthenticate checks the credentials a client a RADIUS server
// accepted sends at a renegotiation: this connection's auth-token, or a
// password (a client that keeps it rather than the token), which the
// RADIUS servers are asked about again, so that a user disabled
// meanwhile is refused, and whose new Access-Accept's limits replace
// the session's, from now. Another token (an earlier connection's, or
// made up) is refused.
func (o *ovpnSession) reauthenticate(tc *tls.Conn, km openvpn.KeyMethod2) error {
	if o.token == "" {
		return nil // its certificate, checked in TLS
	}
	if strings.HasPrefix(km.Password, ovpnTokenPrefix) {
		if subtle.ConstantTimeCompare([]byte(km.Password), []byte(o.token)) != 1 {
			return fmt.Errorf("OpenVPN client %q gave an auth-token not its connection's", km.Username)
		}
		return nil
	}
	p, err := o.authenticate(tc, km)
	if err != nil {
		return err
	}
	o.mu.Lock()
	addr := o.addr
	o.mu.Unlock()
	o.srv.regrant(addr, o, p.grant)
	return nil
}

// refuse tells the client AUTH_FAILED for err and ends the session a
// moment later, for the message to arrive; a client that leaves on it
// before ends the session for err too.
func (o *ovpnSession) refuse(tc *tls.Conn, err error) {
	o.mu.Lock()
	o.refused = err
	o.mu.Unlock()
	o.sendMessage(tc, authFailed(err))
	time.AfterFunc(time.Second, func() { o.fail(err) })
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
	if o.token != "" {
		options = append(options, "auth-token "+o.token)
	}
	live := o.srv.settings()
	for _, r := range live.Routes {
		switch {
		case !r.Addr().Is4():
		case r.Bits() == 0:
			options = append(options, "redirect-gateway def1")
		default:
			options = append(options, "route "+r.Masked().Addr().String()+" "+ipv4Mask(r.Bits()))
		}
	}
	for _, d := range live.DNS {
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
func newOvpnKeys(keyID int, m []byte) (*ovpnKeys, error) {
	aead := func(key []byte) (cipher.AEAD, error) {
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}
	k := &ovpnKeys{keyID: keyID}
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
	keyID, _, rest, err := openvpn.ParseDataV2(pkt)
	if err != nil || len(rest) < 4+16 {
		o.srv.ovpnDrops.data.Add(1)
		return
	}
	k := o.recv[keyID].Load()
	if k == nil {
		o.srv.ovpnDrops.data.Add(1)
		return
	}
	id := binary.BigEndian.Uint32(rest)
	if !k.replay.ok(id) {
		o.srv.ovpnDrops.data.Add(1)
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
		o.srv.ovpnDrops.data.Add(1)
		o.log.Debug("OpenVPN data packet does not open", "err", err)
		return
	}
	k.replay.mark(id)
	if bytes.Equal(plain, ovpnPingPayload) {
		return
	}
	if len(plain) < 20 || plain[0]>>4 != 4 || netip.AddrFrom4([4]byte(plain[12:16])) != o.addr {
		// Only IPv4 from its own address: a client does not speak for
		// another.
		o.dropped.Add(1)
		return
	}
	if o.srv.stopped.Load() {
		return
	}
	o.bytesIn.Add(uint64(len(plain)))
	o.pktsIn.Add(1)
	if c := o.srv.capture.Load(); c != nil {
		c.Packet(plain)
	}
	o.srv.cfg.Router.Forward(plain)
}

// ovpnReplay is a replay window (packet_id.c): the highest packet id
// taken and which of the ovpnReplayWindow before it were.
type ovpnReplay struct {
	max  uint32
	seen uint64
}

// ok reports whether packet id is new (not 0, not seen, not older than
// the window).
func (r *ovpnReplay) ok(id uint32) bool {
	switch {
	case id == 0:
		return false
	case id > r.max:
		return true
	case r.max-id >= ovpnReplayWindow:
		return false
	}
	return r.seen&(1<<(r.max-id)) == 0
}

// mark notes packet id as seen.
func (r *ovpnReplay) mark(id uint32) {
	if id > r.max {
		shift := id - r.max
		if shift >= ovpnReplayWindow {
			r.seen = 0
		} else {
			r.seen <<= shift
		}
		r.max = id
	}
	r.seen |= 1 << (r.max - id)
}

// SendIP queues an IPv4 packet for the client; it never blocks.
func (o *ovpnSession) SendIP(pkt []byte) error {
	if !o.authed.Load() {
		return errNotUp
	}
	if len(pkt) > ovpnMTU {
		o.dropped.Add(1)
		return &tooBigError{len(pkt), ovpnMTU, "an OpenVPN client's MTU"}
	}
	return o.enqueue(pkt)
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

// writer sends the queued packets, many in one write, and a keepalive
// when nothing went to the client for ovpnPing, until quit. One
// goroutine seals and sends all data, so that packets go out in the
// order of their ids (the client's replay window is 64 packets).
func (o *ovpnSession) writer(quit <-chan struct{}) {
	buf := make([]byte, 0, 40<<10)
	ping := time.NewTicker(ovpnPing)
	defer ping.Stop()
	for {
		buf = buf[:0]
		var pkt []byte
		var packets, bytes uint64 // the client's packets in buf
		select {
		case <-quit:
			return
		case <-ping.C:
			pkt = ovpnPingPayload
		case pkt = <-o.sendq:
			packets, bytes = 1, uint64(len(pkt))
		}
		k := o.send.Load()
		if k == nil {
			o.dropped.Add(packets) // or a keepalive, before the client has keys
			continue
		}
		if k.nextPacketID.Load() >= ovpnLastPacketID {
			// A packet id (the GCM nonce's counter) is never used twice:
			// the client connects again for new keys.
			o.log.Info("OpenVPN data channel's packet ids used up: connection closed")
			o.conn.Close()
			return
		}
		buf = o.seal(buf, k, pkt)
	more:
		for len(buf) < 32<<10 {
			select {
			case pkt := <-o.sendq:
				buf = o.seal(buf, k, pkt)
				packets, bytes = packets+1, bytes+uint64(len(pkt))
			default:
				break more
			}
		}
		err := o.write(buf)
		o.sent(packets, bytes, err)
		if err != nil {
			o.conn.Close() // the reader ends the session
			return
		}
	}
}

// close ends the session: the TLS side, and the client's address.
func (o *ovpnSession) close() {
	o.cancel()
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
func (o *ovpnSession) connected() bool            { return o.authed.Load() }
func (o *ovpnSession) shutdown()                  { o.conn.Close() }
func (o *ovpnSession) protocol() string           { return ProtocolOpenVPN }
func (o *ovpnSession) mtu() int                   { return ovpnMTU }
func (o *ovpnSession) remoteAddr() netip.AddrPort { return addrPortOf(o.conn.RemoteAddr()) }
func (o *ovpnSession) traffic() (bytesIn, bytesOut, packetsIn, packetsOut uint64) {
	return o.bytesIn.Load(), o.bytesOut.Load(), o.pktsIn.Load(), o.packetsOut.Load()
}

// disconnect tells the client to stop (HALT: it does not reconnect by
// itself, R14), over the newest key state's TLS, and closes the
// connection after a moment for the message to arrive. OpenVPN reads
// control messages only from its newest key state (ssl.c
// tls_test_payload_len: the primary one), also while that one's
// handshake runs: then the message waits for our key method message, as
// OpenVPN's server holds it (ssl.c tls_send_payload); on the previous
// key state's TLS the client never reads it, and comes back.
func (o *ovpnSession) disconnect() {
	const halt = "HALT,disconnected by the gateway's administrator"
	var tc *tls.Conn
	o.mu.Lock()
	if n := len(o.order); n > 0 {
		ks := o.states[o.order[n-1]]
		if tc = ks.tls; tc == nil {
			ks.halt = halt // sent by handshake after our key method message
		}
	}
	o.mu.Unlock()
	// The connection closes in a second, whether the message got out
	// or not (a client that acknowledges nothing holds up the write).
	time.AfterFunc(time.Second, func() { o.conn.Close() })
	if tc != nil {
		go o.sendMessage(tc, halt)
	}
}
