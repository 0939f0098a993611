// Package radius asks RADIUS servers (RFC 2865) whether a point-to-site
// client's user name and password are good: in PAP, an Access-Request
// with the password hidden as RFC 2865 §5.2 says; in MS-CHAP-V2, the
// client's response (RFC 2548, mschap.go); or in any EAP method, relayed
// (RFC 3579, eap.go). Every request has a Message-Authenticator (RFC
// 3579 §3.2, which servers hardened against forged responses require)
// and goes over UDP, tried again and then at the next server once the
// first looks dead (one that answered before is waited for longer, as it
// may wait for a second factor; one found dead is asked last for a
// while: failover.go); the answer's
// Response Authenticator, and its Message-Authenticator when it has one,
// are checked before it is believed. A server without a shared secret,
// whose answers anyone could make, is not asked. The sessions the
// servers authenticated are reported to their accounting (RFC 2866,
// accounting.go), whose requests their Request Authenticator signs.
//
// The codec checks every length against its container; a packet is at
// most 4,096 bytes (RFC 2865 §3).
package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Codes (RFC 2865 §4).
const (
	CodeAccessRequest      = 1
	CodeAccessAccept       = 2
	CodeAccessReject       = 3
	CodeAccountingRequest  = 4 // RFC 2866 §3
	CodeAccountingResponse = 5
	CodeAccessChallenge    = 11
)

// Attribute types (RFC 2865 §5, RFC 3579 §3.2).
const (
	AttrUserName             = 1
	AttrUserPassword         = 2
	AttrNASIPAddress         = 4
	AttrServiceType          = 6
	AttrFramedIPAddress      = 8
	AttrFramedMTU            = 12
	AttrReplyMessage         = 18
	AttrClass                = 25
	AttrSessionTimeout       = 27
	AttrIdleTimeout          = 28
	AttrCallingStationID     = 31
	AttrNASIdentifier        = 32
	AttrNASPortType          = 61
	AttrNASIPv6Address       = 95 // RFC 3162
	AttrMessageAuthenticator = 80
)

// Sizes (RFC 2865 §3, §5.2).
const (
	HeaderLen     = 20
	MaxPacket     = 4096
	MaxPassword   = 128
	authenticator = 16
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("radius: malformed packet")

// ErrNoAnswer is wrapped by the error of a request no server answered:
// there is no verdict on the client's credentials.
var ErrNoAnswer = errors.New("radius: no server answered")

// Attr is one attribute.
type Attr struct {
	Type  byte
	Value []byte
}

// Packet is a RADIUS packet.
type Packet struct {
	Code, ID      byte
	Authenticator [authenticator]byte
	Attrs         []Attr
	// requestAuth is the Request Authenticator of the request an answer
	// checked by check answers: its MPPE keys are encrypted with it.
	requestAuth [authenticator]byte
}

// Parse parses a packet; its attributes alias b.
func Parse(b []byte) (Packet, error) {
	var p Packet
	if len(b) < HeaderLen {
		return p, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < HeaderLen || n > MaxPacket || n > len(b) {
		return p, fmt.Errorf("%w: length %d of %d bytes", ErrMalformed, n, len(b))
	}
	p.Code, p.ID = b[0], b[1]
	copy(p.Authenticator[:], b[4:HeaderLen])
	rest := b[HeaderLen:n] // RFC 2865 §3: octets beyond Length are padding
	for len(rest) > 0 {
		if len(rest) < 2 || rest[1] < 2 || int(rest[1]) > len(rest) {
			return p, fmt.Errorf("%w: attribute cut short", ErrMalformed)
		}
		p.Attrs = append(p.Attrs, Attr{Type: rest[0], Value: rest[2:rest[1]]})
		rest = rest[rest[1]:]
	}
	return p, nil
}

// Append appends the packet; it fails when an attribute or the packet is
// too long.
func (p Packet) Append(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, p.Code, p.ID, 0, 0)
	b = append(b, p.Authenticator[:]...)
	for _, a := range p.Attrs {
		if len(a.Value) > 253 {
			return nil, fmt.Errorf("radius: attribute %d of %d bytes", a.Type, len(a.Value))
		}
		b = append(b, a.Type, byte(2+len(a.Value)))
		b = append(b, a.Value...)
	}
	if len(b)-start > MaxPacket {
		return nil, fmt.Errorf("radius: a packet of %d bytes; at most %d", len(b)-start, MaxPacket)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b, nil
}

// Find returns the first attribute of type t.
func (p Packet) Find(t byte) ([]byte, bool) {
	for _, a := range p.Attrs {
		if a.Type == t {
			return a.Value, true
		}
	}
	return nil, false
}

// HidePassword hides a password for the User-Password attribute (RFC
// 2865 §5.2): padded with zeros to a multiple of 16, each block XORed
// with MD5 of the secret and the previous block (the Request
// Authenticator first).
func HidePassword(password, secret []byte, reqAuth [authenticator]byte) ([]byte, error) {
	if len(password) > MaxPassword {
		return nil, fmt.Errorf("radius: a password of %d bytes; at most %d", len(password), MaxPassword)
	}
	n := max(16, (len(password)+15)/16*16)
	out := make([]byte, n)
	copy(out, password)
	prev := reqAuth[:]
	for i := 0; i < n; i += 16 {
		h := md5.Sum(append(append([]byte(nil), secret...), prev...))
		for j := range 16 {
			out[i+j] ^= h[j]
		}
		prev = out[i : i+16]
	}
	return out, nil
}

// messageAuthenticator returns the HMAC-MD5 of packet b (its
// Message-Authenticator zeroed, auth in the Authenticator field) with the
// secret (RFC 3579 §3.2).
func messageAuthenticator(b []byte, auth [authenticator]byte, secret []byte) ([]byte, bool) {
	c := bytes.Clone(b)
	copy(c[4:HeaderLen], auth[:])
	rest := c[HeaderLen:]
	found := false
	for len(rest) >= 2 && rest[1] >= 2 && int(rest[1]) <= len(rest) {
		if rest[0] == AttrMessageAuthenticator && rest[1] == 18 {
			clear(rest[2:18])
			found = true
		}
		rest = rest[rest[1]:]
	}
	m := hmac.New(md5.New, secret)
	m.Write(c)
	return m.Sum(nil), found
}

// Server is one RADIUS server: its address (port 1812 when none) and the
// secret shared with it.
type Server struct {
	Addr   netip.AddrPort
	Secret []byte
}

// LogValue and String keep the secret out of logs and messages: a Server
// shows as its address.
func (s Server) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", s.Addr.String()), slog.String("secret", "[redacted]"))
}

func (s Server) String() string { return "RADIUS server " + s.Addr.String() }

// Request is what a client asks: its user name and password, where it
// connects from (Calling-Station-Id), and who asks (the NAS).
type Request struct {
	User, Password string
	CallingStation string
	NASIdentifier  string
	// FramedMTU is a hint of how much of an EAP message the client's
	// link takes in one packet, which an EAP server cuts its messages to
	// (FreeRADIUS its TLS fragments); 0: not said.
	FramedMTU int
	// Dial is how the NAS reaches the servers: nil is the node's network
	// (net.Dialer).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Signers are the servers the NAS knows to sign their answers: nil
	// knows none and learns none.
	Signers *Signers
	// Failover is the NAS's memory of which servers answer: a server
	// found dead is asked after the others, one that answered before is
	// waited for longer (it may wait for a second factor). Nil knows
	// none and learns none.
	Failover *Failover
}

// Answer is a server's: accepted or not, its Reply-Message, and what it
// grants the session.
type Answer struct {
	Accept  bool
	Message string
	Grant
}

// Grant is what an Access-Accept grants a session: its Limits, the
// client's address (Framed-IP-Address, RFC 2865 §5.8; invalid: the
// gateway chooses), and for its accounting the Class attributes,
// carried back to the servers unchanged (§5.25), and how often an
// Interim-Update is asked for (Acct-Interim-Interval, RFC 2869 §5.16;
// 0: none, else at least MinInterim).
type Grant struct {
	Limits
	Addr    netip.Addr
	Class   [][]byte
	Interim time.Duration
}

// Limits are how long an Access-Accept lets a session last (Session-Timeout,
// RFC 2865 §5.27) and be idle (Idle-Timeout, §5.28); 0: no limit.
type Limits struct {
	Session, Idle time.Duration
}

// Why a session ends by its Limits, as the gateway logs it.
const (
	SessionOver = "the session its RADIUS server allowed is over (Session-Timeout)"
	Idle        = "it was idle for as long as its RADIUS server allows (Idle-Timeout)"
)

// Timing of the tries at a server: sent again every Timeout, Tries times
// in all (RFC 5080 §2.2.1 leaves it to the client), then the next server
// is asked too once this one is found dead (Failover: at once when it has
// not shown it is alive, after Live when it has); the answers are awaited
// Wait in all: a server may wait for the user's second factor (Azure asks
// for 60 s with MFA).
var (
	Tries   = 3
	Timeout = 3 * time.Second
	Wait    = 60 * time.Second
)

// Authenticate asks the servers in order, each a few times, until one
// answers, whether r's user name and password are good (PAP); an
// Access-Challenge (which needs more than a password) counts as a
// rejection.
func Authenticate(ctx context.Context, servers []Server, r Request) (Answer, error) {
	if len(r.User) == 0 || len(r.User) > 253 {
		return Answer{}, fmt.Errorf("radius: a user name of %d bytes", len(r.User))
	}
	if len(r.Password) > MaxPassword {
		return Answer{}, fmt.Errorf("radius: a password of %d bytes; at most %d", len(r.Password), MaxPassword)
	}
	attrs := func(auth [authenticator]byte, secret []byte) ([]Attr, error) {
		hidden, err := HidePassword([]byte(r.Password), secret, auth)
		if err != nil {
			return nil, err
		}
		return append(r.attrs(), Attr{AttrUserPassword, hidden}), nil
	}
	resp, _, err := ask(ctx, servers, r.Dial, query{attrs: attrs, signers: r.Signers, failover: r.Failover})
	if err != nil {
		return Answer{}, err
	}
	grant, err := granted(resp)
	if err != nil {
		return Answer{}, err
	}
	msg, _ := resp.Find(AttrReplyMessage)
	return Answer{Accept: resp.Code == CodeAccessAccept, Message: string(msg), Grant: grant}, nil
}

// serviceFramed is the Service-Type every request asks for: Framed (RFC
// 2865 §5.6), a tunnel.
const serviceFramed = 2

// granted reads what an Access-Accept grants: the Framed service asked
// for, within its limits (Session-Timeout and Idle-Timeout, RFC 2865
// §5.27, §5.28; 0 when it has none, or 0, which some servers send for
// none), at the client's address (Framed-IP-Address), and what its
// accounting says (Class, Acct-Interim-Interval). err says why one that
// grants another service (a Service-Type of an administrator's login, a
// prompt at the NAS, a callback), which the gateway does not give, or
// has a limit or an address that is no 4-octet number, is taken as an
// Access-Reject. Other answers grant nothing.
func granted(p Packet) (g Grant, err error) {
	if p.Code != CodeAccessAccept {
		return Grant{}, nil
	}
	for _, a := range p.Attrs {
		switch a.Type {
		case AttrClass:
			g.Class = append(g.Class, a.Value)
		case AttrFramedIPAddress:
			// An address the gateway cannot read is not taken for its
			// choice: the server meant one.
			if len(a.Value) != 4 {
				return Grant{}, fmt.Errorf("radius: an Access-Accept with a Framed-IP-Address of %d bytes, taken as an Access-Reject", len(a.Value))
			}
			// §5.8: 0xFFFFFFFF lets the user choose, 0xFFFFFFFE the NAS:
			// the gateway gives one of its pool either way.
			if ip := netip.AddrFrom4([4]byte(a.Value)); ip != netip.AddrFrom4([4]byte{255, 255, 255, 255}) && ip != netip.AddrFrom4([4]byte{255, 255, 255, 254}) {
				g.Addr = ip
			}
		case AttrAcctInterimInterval:
			// One the gateway cannot read asks for no updates: it grants
			// or limits nothing.
			if len(a.Value) == 4 {
				if v := time.Duration(binary.BigEndian.Uint32(a.Value)) * time.Second; v > 0 {
					g.Interim = max(v, MinInterim)
				}
			}
		case AttrServiceType:
			// RFC 2865 §5.6: a NAS MUST treat an unsupported Service-Type
			// as though an Access-Reject had been received.
			if len(a.Value) != 4 {
				return Grant{}, fmt.Errorf("radius: an Access-Accept with a Service-Type of %d bytes, taken as an Access-Reject", len(a.Value))
			}
			if st := binary.BigEndian.Uint32(a.Value); st != serviceFramed {
				return Grant{}, fmt.Errorf("radius: an Access-Accept for Service-Type %d, not Framed (2), taken as an Access-Reject: the gateway gives no other service", st)
			}
		case AttrSessionTimeout, AttrIdleTimeout:
			name, limit := "Session-Timeout", &g.Session
			if a.Type == AttrIdleTimeout {
				name, limit = "Idle-Timeout", &g.Idle
			}
			// A limit the gateway cannot read is not taken for none.
			if len(a.Value) != 4 {
				return Grant{}, fmt.Errorf("radius: an Access-Accept with a %s of %d bytes, taken as an Access-Reject", name, len(a.Value))
			}
			*limit = time.Duration(binary.BigEndian.Uint32(a.Value)) * time.Second
		}
	}
	return g, nil
}

// dialFunc is Request.Dial's type.
type dialFunc = func(ctx context.Context, network, address string) (net.Conn, error)

// query is what a request asks and how its answers are checked.
type query struct {
	// code is the request's: an Access-Request when 0, or an
	// Accounting-Request.
	code byte
	// attrs makes the request's attributes for its Request
	// Authenticator and the server's secret.
	attrs func(auth [authenticator]byte, secret []byte) ([]Attr, error)
	// needMA: every answer has a Message-Authenticator (EAP's, RFC 3579
	// §3.2).
	needMA bool
	// signers are the servers known to sign their answers, the asking
	// gateway's (Request.Signers).
	signers *Signers
	// failover are the servers known not to answer now, the asking
	// gateway's (Request.Failover).
	failover *Failover
	// valid, when set, checks an answer that is the server's (its
	// authenticators check out) against what was asked: one it refuses
	// is dropped, counted, and the request waits on.
	valid func(Packet) error
}

// ask sends the request attrs makes to the servers in order until one
// answers (roundTrip), and returns the answer and the server. A server
// whose tries are out unanswered is passed over for the next once q.failover
// finds it dead (at once when it has not shown it is alive; after Live
// of silence when it has: it may wait for a user's second factor, and
// the next server would prompt the user again), and is still heard
// meanwhile: the first answer that checks out, of any of them, is
// taken, all within Wait. The servers q.failover knows dead are asked
// last; one passed over, or that could not be asked, is dead from then
// on, one that answers alive.
func ask(ctx context.Context, servers []Server, dial dialFunc, q query) (Packet, Server, error) {
	if len(servers) == 0 {
		return Packet{}, Server{}, errors.New("radius: no server")
	}
	servers = q.failover.order(servers)
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: the waits still running end at once
	ctx, cancel := context.WithTimeoutCause(ctx, Wait, noAnswerInTime{Wait})
	defer cancel()
	// The servers are waited for each in a goroutine of its own, and
	// their sockets are opened here, in the caller's goroutine: in the
	// network namespace it may be locked into (tests, netns.Do).
	type dialed struct {
		c   net.Conn
		err error
	}
	type dialReq struct {
		network, address string
		reply            chan dialed
	}
	dials := make(chan dialReq)
	dialHere := func(ctx context.Context, network, address string) (net.Conn, error) {
		r := dialReq{network, address, make(chan dialed, 1)}
		select {
		case dials <- r:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		d := <-r.reply
		return d.c, d.err
	}
	type answer struct {
		i    int
		resp Packet
		err  error
	}
	answers := make(chan answer, len(servers))
	next, asking := 0, 0
	askNext := func() {
		i := next
		next++
		asking++
		wg.Go(func() {
			resp, err := roundTrip(ctx, servers[i], dialHere, q)
			answers <- answer{i, resp, err}
		})
	}
	askNext()
	// passOver fires when the tries at the server asked last are out,
	// then while it is waited for, each Timeout, to see whether it is
	// found dead (another request may have found it so).
	sent := time.Now()
	passOver := time.NewTimer(time.Duration(Tries) * Timeout)
	defer passOver.Stop()
	errs := make([]error, len(servers))
	for asking > 0 {
		select {
		case r := <-dials:
			c, err := dial(ctx, r.network, r.address)
			r.reply <- dialed{c, err}
		case a := <-answers:
			asking--
			if a.err == nil {
				q.failover.up(servers[a.i])
				return a.resp, servers[a.i], nil
			}
			if re := (requestError{}); errors.As(a.err, &re) {
				return Packet{}, Server{}, re.err // the same at every server
			}
			errs[a.i] = fmt.Errorf("%v: %w", servers[a.i].Addr, a.err)
			if ctx.Err() == nil {
				q.failover.down(servers[a.i])
			}
			if next < len(servers) && ctx.Err() == nil {
				askNext()
				sent = time.Now()
				passOver.Reset(time.Duration(Tries) * Timeout)
			}
		case <-passOver.C:
			if wait := q.failover.silentFor(servers[next-1], sent); wait > 0 {
				passOver.Reset(min(wait, Timeout)) // alive: it may wait for a second factor
				continue
			}
			q.failover.down(servers[next-1]) // its tries are out, unanswered
			if next < len(servers) && ctx.Err() == nil {
				askNext()
				sent = time.Now()
				passOver.Reset(time.Duration(Tries) * Timeout)
			}
		}
	}
	return Packet{}, Server{}, fmt.Errorf("%w: %w", ErrNoAnswer, errors.Join(errs...))
}

// attrs are the attributes of every request about r: its user, and who
// asks for whom.
func (r Request) attrs() []Attr {
	out := []Attr{
		{AttrUserName, []byte(r.User)},
		{AttrServiceType, binary.BigEndian.AppendUint32(nil, serviceFramed)},
		{AttrNASPortType, []byte{0, 0, 0, 5}}, // Virtual
	}
	if r.NASIdentifier != "" && len(r.NASIdentifier) <= 253 {
		out = append(out, Attr{AttrNASIdentifier, []byte(r.NASIdentifier)})
	}
	if r.CallingStation != "" && len(r.CallingStation) <= 253 {
		out = append(out, Attr{AttrCallingStationID, []byte(r.CallingStation)})
	}
	// RFC 2865 §5.12: a hint in an Access-Request, of 64 to 65535.
	if r.FramedMTU >= 64 && r.FramedMTU <= 65535 {
		out = append(out, Attr{AttrFramedMTU, binary.BigEndian.AppendUint32(nil, uint32(r.FramedMTU))})
	}
	return out
}

// roundTrip sends an Access-Request with the attributes q makes for its
// Request Authenticator and the server's secret, and a
// Message-Authenticator, to s until it answers (a few tries), and returns
// the answer once it checks out (with a Message-Authenticator when
// q.needMA, and valid). An Accounting-Request (q.code) has no
// Message-Authenticator: its Request Authenticator signs it.
func roundTrip(ctx context.Context, s Server, dial dialFunc, q query) (Packet, error) {
	if len(s.Secret) == 0 {
		// RFC 2865 §3: the secret MUST NOT be empty: anyone could forge
		// the server's answers.
		return Packet{}, errors.New("no shared secret, so not asked: anyone could forge its answers")
	}
	req := Packet{Code: CodeAccessRequest}
	if q.code != 0 {
		req.Code = q.code
	}
	addr := s.Addr
	if addr.Port() == 0 {
		addr = netip.AddrPortFrom(addr.Addr(), 1812)
	}
	conn, err := dial(ctx, "udp", addr.String())
	if err != nil {
		return Packet{}, err
	}
	// encode writes the request as sent on c, with an Identifier and a
	// Request Authenticator of its own: sent again on c, it is the
	// same, but on a new socket its NAS-IP-Address may not be, and the
	// Identifier MUST change with the attributes (RFC 5080 §2.2.1).
	// RFC 3579 §3.2's Message-Authenticator; first, as RFC 9765 asks.
	// NAS-IP-Address: where the request comes from (RFC 2865 §5.4),
	// which servers know their clients by: c's address.
	encode := func(c net.Conn) ([]byte, error) {
		var id [1]byte
		rand.Read(id[:])
		req.ID += 1 + id[0]%255 // never the last one's
		accounting := req.Code == CodeAccountingRequest
		if accounting {
			req.Authenticator = [authenticator]byte{} // RFC 2866 §3: zeros, in the hash below
		} else {
			rand.Read(req.Authenticator[:])
		}
		more, err := q.attrs(req.Authenticator, s.Secret)
		if err != nil {
			return nil, requestError{err}
		}
		req.Attrs = more
		if !accounting {
			req.Attrs = append([]Attr{{AttrMessageAuthenticator, make([]byte, 16)}}, more...)
		}
		if a, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil && a.Addr().Unmap().Is4() {
			ip := a.Addr().Unmap().As4()
			req.Attrs = append(req.Attrs, Attr{AttrNASIPAddress, ip[:]})
		} else if err == nil && a.Addr().Is6() {
			ip := a.Addr().As16()
			req.Attrs = append(req.Attrs, Attr{AttrNASIPv6Address, ip[:]}) // RFC 3162 §2.1
		}
		b, err := req.Append(nil)
		if err != nil {
			return nil, requestError{err}
		}
		if accounting {
			// RFC 2866 §3: the Request Authenticator is the MD5 of the
			// packet with 16 zero octets in its place, then the secret.
			req.Authenticator = md5.Sum(append(bytes.Clone(b), s.Secret...))
			copy(b[4:HeaderLen], req.Authenticator[:])
			return b, nil
		}
		mac, _ := messageAuthenticator(b, req.Authenticator, s.Secret)
		copy(b[HeaderLen+2:], mac)
		return b, nil
	}
	b, err := encode(conn)
	if err != nil {
		conn.Close()
		return Packet{}, err
	}

	// The wait ends with ctx too: the read is cut short then.
	var stop func() bool
	use := func(c net.Conn) {
		if stop != nil {
			stop()
		}
		conn, stop = c, context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	}
	use(conn)
	defer func() { stop(); conn.Close() }()
	buf := make([]byte, MaxPacket)
	giveUp := time.Now().Add(Wait)
	redials := 0
	var dropped error // why the last answer not valid was dropped
	for try := 0; ; try++ {
		if try < Tries {
			_, err := conn.Write(b)
			if err != nil && icmpError(err) {
				// An ICMP error that came since the last read, which
				// this write reported instead of sending: the socket
				// stands (as for a read), the request goes again.
				_, err = conn.Write(b)
			}
			if err != nil {
				c, err := redial(ctx, dial, addr, conn, &redials, giveUp, err)
				if err != nil {
					return Packet{}, err
				}
				use(c)
				if b, err = encode(c); err != nil {
					return Packet{}, err
				}
				try--
				continue
			}
		}
		deadline := time.Now().Add(Timeout)
		if try >= Tries-1 || deadline.After(giveUp) {
			deadline = giveUp
		}
		conn.SetReadDeadline(deadline)
		if ctx.Err() != nil {
			// Cancelled after the check below and before the deadline
			// above, which replaced the one cancelling set.
			return Packet{}, context.Cause(ctx)
		}
		for {
			n, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // send again, or give up
				}
				if icmpError(err) {
					// An ICMP error (port or host unreachable), which
					// anyone on the path can forge: the socket stands,
					// and the server's answer may still come to it.
					continue
				}
				// The socket went (the gateway's endpoint was replaced):
				// a new one, and the request again, the wait as long as
				// before.
				c, err := redial(ctx, dial, addr, conn, &redials, giveUp, err)
				if err != nil {
					return Packet{}, err
				}
				use(c)
				if b, err = encode(c); err != nil {
					return Packet{}, err
				}
				try--
				break
			}
			resp, err := check(buf[:n], req, s.Secret, q.needMA || q.signers.signs(addr, s.Secret))
			if err == nil {
				if q.valid != nil {
					if dropped = q.valid(resp); dropped != nil {
						drops.unverified.Add(1)
						continue
					}
				}
				if _, signed := resp.Find(AttrMessageAuthenticator); signed && !q.needMA {
					// Signed though it need not be (EAP's answers must
					// be, RFC 3579 §3.2, also FreeRADIUS 3.2.1's).
					q.signers.add(addr, s.Secret)
				}
				return resp, nil
			}
			// Not the answer (forged, or to another request): wait on,
			// and say why if the wait ends unanswered.
			if !errors.Is(err, errOtherRequest) {
				dropped = err
			}
		}
		if ctx.Err() != nil {
			return Packet{}, withDropped(context.Cause(ctx), dropped)
		}
		if !time.Now().Before(giveUp) {
			return Packet{}, withDropped(fmt.Errorf("%w (%d tries)", noAnswerInTime{Wait}, min(try+1, Tries)), dropped)
		}
	}
}

// withDropped is err, the end of a wait for an answer, saying why an
// answer was dropped meanwhile, if one was, or else, when the wait ran
// out, what to look at: a server drops a request whose
// Message-Authenticator does not check out with its secret (FreeRADIUS,
// NPS), so that a secret that is not the server's looks like a server
// that is down.
func withDropped(err, dropped error) error {
	switch {
	case dropped != nil:
		return fmt.Errorf("%w; an answer dropped: %w", err, dropped)
	case errors.As(err, new(noAnswerInTime)):
		return fmt.Errorf("%w: is it up, reachable from the gateway, and its shared secret the one given?", err)
	}
	return err
}

// noAnswerInTime is the end of a wait for an answer, of wait (Wait).
type noAnswerInTime struct{ wait time.Duration }

func (e noAnswerInTime) Error() string { return fmt.Sprintf("no answer in %v", e.wait) }

// requestError is the error of a request that cannot be sent (an
// attribute or the packet too long): no server is asked it, and none
// answering is not the outcome.
type requestError struct{ err error }

func (e requestError) Error() string { return e.err.Error() }
func (e requestError) Unwrap() error { return e.err }

// redial replaces a socket that failed with err with a new one, after
// a pause that doubles with each redial of the round trip, until giveUp:
// a socket's failure does not end the wait sooner than the server's
// silence would.
func redial(ctx context.Context, dial dialFunc, addr netip.AddrPort, old net.Conn, redials *int, giveUp time.Time, err error) (net.Conn, error) {
	old.Close()
	for {
		pause := min(redialPause<<min(*redials, 16), Timeout)
		*redials++
		if time.Until(giveUp) < pause {
			return nil, fmt.Errorf("no answer in %v: %w", Wait, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
		c, derr := dial(ctx, "udp", addr.String())
		if derr == nil {
			return c, nil
		}
		err = derr
	}
}

// icmpError reports whether a socket's error is an ICMP error's: a port,
// host or network unreachable reported by the kernel.
func icmpError(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// redialPause is the pause before the first redial of a round trip.
const redialPause = 50 * time.Millisecond

// Signers are the servers that put a Message-Authenticator in an answer
// that need not have one (to a password, or MS-CHAPv2): from then on
// their answers without one are refused, as forged (BlastRADIUS, RFC
// 9765 §5: a server that can sign does). Before, a server that never
// signs them (FreeRADIUS before 3.2.5) is believed on its Response
// Authenticator alone. A server is known by its address, port and
// secret, within the Signers of the gateway that asks it: each gateway
// holds its own, and a new one when its servers change, so that a
// server replaced at an address, or another gateway's, is not taken for
// the one that signed. The zero value knows none.
type Signers struct {
	m sync.Map // signer → struct{}
}

// signer is a server as Signers knows it.
type signer struct {
	addr   netip.AddrPort
	secret string
}

func (ss *Signers) signs(addr netip.AddrPort, secret []byte) bool {
	if ss == nil {
		return false
	}
	_, ok := ss.m.Load(signer{addr, string(secret)})
	return ok
}

func (ss *Signers) add(addr netip.AddrPort, secret []byte) {
	if ss != nil {
		ss.m.Store(signer{addr, string(secret)}, struct{}{})
	}
}

// drops counts the answers check refused, by why: for another
// Identifier (a late answer to a request sent before, or a duplicate),
// or not verified.
var drops struct{ id, unverified atomic.Uint64 }

// Drops returns how many answers of RADIUS servers were dropped: those
// with another request's Identifier, and those malformed or of another
// code, whose Response Authenticator or Message-Authenticator does not
// check out, or without the Message-Authenticator they must have, or
// not of what was asked (an MS-CHAP2-Success of another Ident).
func Drops() (wrongID, unverified uint64) {
	return drops.id.Load(), drops.unverified.Load()
}

// check verifies a response to req (verify), and counts it in drops
// when it is refused.
func check(b []byte, req Packet, secret []byte, needMA bool) (Packet, error) {
	p, err := verify(b, req, secret, needMA)
	if err != nil {
		if errors.Is(err, errOtherRequest) {
			drops.id.Add(1)
		} else {
			drops.unverified.Add(1)
		}
	}
	return p, err
}

// errOtherRequest is verify's error for an answer with another request's
// Identifier: a late answer to an earlier request, or a forgery.
var errOtherRequest = errors.New("the Identifier of another request")

// verify checks a response to req: its identifier, its Response
// Authenticator (RFC 2865 §3) and its Message-Authenticator when it has
// one (RFC 3579 §3.2 asks for it only with EAP, needMA; servers before the
// BlastRADIUS fixes, like FreeRADIUS 3.2.1, send none with PAP). The
// packet returned owns its attributes. The error says why an answer
// is refused: with the request's Identifier, a Response Authenticator
// that does not check out is most often a shared secret that is not the
// server's, which the user would otherwise see only as no answer.
func verify(b []byte, req Packet, secret []byte, needMA bool) (Packet, error) {
	p, err := Parse(b)
	if err != nil {
		return Packet{}, fmt.Errorf("malformed: %w", err)
	}
	if p.ID != req.ID {
		return Packet{}, errOtherRequest
	}
	switch {
	case req.Code == CodeAccountingRequest:
		if p.Code != CodeAccountingResponse {
			return Packet{}, fmt.Errorf("code %d, no answer to an Accounting-Request", p.Code)
		}
	case p.Code != CodeAccessAccept && p.Code != CodeAccessReject && p.Code != CodeAccessChallenge:
		return Packet{}, fmt.Errorf("code %d, no answer to an Access-Request", p.Code)
	}
	b = b[:binary.BigEndian.Uint16(b[2:4])]
	h := md5.New()
	h.Write(b[:4])
	h.Write(req.Authenticator[:])
	h.Write(b[HeaderLen:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(nil), p.Authenticator[:]) {
		return Packet{}, errors.New("its Response Authenticator does not check out: is the shared secret the server's?")
	}
	got, ok := p.Find(AttrMessageAuthenticator)
	if ok {
		want, _ := messageAuthenticator(b, req.Authenticator, secret)
		if !hmac.Equal(got, want) {
			return Packet{}, errors.New("its Message-Authenticator does not check out")
		}
	} else if needMA {
		// RFC 3579 §3.2: an answer to EAP without one MUST be silently discarded.
		return Packet{}, errors.New("without a Message-Authenticator, which it must have")
	}
	for i := range p.Attrs {
		p.Attrs[i].Value = bytes.Clone(p.Attrs[i].Value)
	}
	p.requestAuth = req.Authenticator
	return p, nil
}
