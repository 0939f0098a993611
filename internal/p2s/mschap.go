package p2s

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/mschap"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// SSTP clients with a user name and a password authenticate with
// MS-CHAPv2 in PPP (RFC 2759), as Windows' built-in client does by
// default: the gateway challenges the client and relays its response to
// a RADIUS server (RFC 2548), which knows the password, answers for the
// gateway and gives it the MPPE keys (RFC 3079) that key the crypto
// binding ([MS-SSTP] §3.2.5.2.4).

// radiusWait bounds the gateway's wait for a RADIUS server's answer about
// one client: every server's tries, and a second factor (Azure asks for
// 60 s with MFA).
const radiusWait = 90 * time.Second

// authNeeds says what the gateway's SSTP clients authenticate with.
func (s *Server) authNeeds() string {
	switch {
	case len(s.cfg.Radius) == 0:
		return "EAP-TLS with a client certificate (R12)"
	case s.cfg.RadiusOnly:
		return "MS-CHAPv2 with a user name and password, or EAP, checked by RADIUS"
	}
	return "EAP-TLS with a client certificate (R12), or MS-CHAPv2 with a user name and password or another EAP method, checked by RADIUS"
}

// radiusRequest is what the gateway tells RADIUS servers about user, a
// client connected over c: where it connects from, and who asks.
func (s *Server) radiusRequest(user string, c net.Conn) radius.Request {
	return radius.Request{User: user, CallingStation: addrPortOf(c.RemoteAddr()).Addr().String(), NASIdentifier: s.cfg.NASIdentifier,
		Dial: s.cfg.RadiusDial, Signers: s.settings().signers, Failover: s.cfg.RadiusFailover}
}

// eapRelayRequest is what the gateway tells RADIUS servers about the
// client whose EAP it relays: radiusRequest's, and how much the client's
// MRU takes (Framed-MTU), which the EAP server cuts its messages to (RFC
// 5216 §2.1.5: TLS in fragments), for no PPP frame of the server's to
// exceed it (RFC 1661 §6.1). FreeRADIUS 3.2 cuts the TLS data to that
// size, without the EAP-TLS headers around it (10 octets, RFC 5216
// §3.1): the hint leaves room for them.
func (l *link) eapRelayRequest() radius.Request {
	r := l.srv.radiusRequest("", l.conn)
	r.FramedMTU = l.mru() - eapTLSHeaders
	return r
}

// sendChallenge sends the server's MS-CHAPv2 challenge: 16 random octets
// (RFC 2759 §3) and the gateway's name.
func (l *link) sendChallenge() error {
	l.chapSent, l.chapID = true, l.nextID()
	rand.Read(l.challenge[:])
	data := ppp.CHAPValue{Value: l.challenge[:], Name: []byte(l.srv.cfg.NASIdentifier)}.Append(nil)
	return l.writePPP(ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPChallenge, ID: l.chapID, Data: data}.Append(nil))
}

// handleCHAP runs MS-CHAPv2: the server checks the client's response with
// RADIUS, the client answers the challenge.
func (l *link) handleCHAP(info []byte) error {
	p, err := ppp.ParsePacket(info)
	if err != nil {
		return nil
	}
	if !l.server {
		return l.clientCHAP(p)
	}
	if l.chapSuccess != nil && p.Code == ppp.CHAPResponse && p.ID == l.chapID {
		// RFC 1994 §4.1: a Response repeated to our Challenge (its
		// Success may be lost) MUST get the same reply Code.
		return l.writePPP(ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPSuccess, ID: p.ID, Data: l.chapSuccess}.Append(nil))
	}
	// RFC 1994 §4.1: a response to another challenge is discarded; one
	// after the outcome too.
	if !l.useMSCHAP || !l.chapSent || l.authed || p.Code != ppp.CHAPResponse || p.ID != l.chapID {
		return nil
	}
	v, err := ppp.ParseCHAPValue(p.Data)
	if err != nil {
		return nil
	}
	r, err := ppp.ParseMSCHAPv2Response(v.Value)
	user := string(v.Name)
	if err != nil || user == "" || len(user) > 253 {
		return l.chapFailure(l.failureMessage(""), fmt.Errorf("an MS-CHAPv2 response that is not one (%d octets, user name of %d)", len(v.Value), len(user)))
	}
	s := l.srv
	ctx, cancel := context.WithTimeout(l.ctx, radiusWait)
	defer cancel()
	stop := l.watchLeaving()
	a, err := radius.AuthenticateMSCHAPv2(ctx, s.settings().Radius, s.radiusRequest(user, l.conn), radius.MSCHAPv2{Ident: p.ID, Challenge: l.challenge, PeerChallenge: r.PeerChallenge, NTResponse: r.NTResponse})
	stop()
	switch {
	case errors.Is(err, radius.ErrNoAnswer):
		// No verdict: the call ends without a Failure, which would say
		// the password was refused (and stop a client's reconnecting).
		l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
		return fmt.Errorf("RADIUS about user %q: %w", user, err)
	case err != nil:
		return l.chapFailure(l.failureMessage(""), fmt.Errorf("RADIUS about user %q: %w", user, err))
	case !a.Accept:
		return l.chapFailure(l.failureMessage(a.Error), fmt.Errorf("the RADIUS server rejected user %q (%s)", user, a.Error))
	}
	// [MS-SSTP] §3.2.5.2.4: for MS-CHAPv2 the HLAK is the client's MPPE
	// send key and then its receive key: the server's receive key and
	// its send key.
	l.hlak = append(append([]byte(nil), a.Recv...), a.Send...)
	l.hlakAlt, l.authed, l.identity, l.grant, l.radius = l.hlak, true, user, a.Grant, true
	if a.User != "" {
		l.identity = a.User
	}
	l.user = l.identity // the response is of the user's name and password (RFC 2759 §8.2)
	if err := l.admit(); err != nil {
		return l.abort(err)
	}
	// RFC 2759 §5: "S=<auth_string> M=<message>"; a server may send
	// the first alone.
	success := a.Success
	if !strings.Contains(success, " M=") {
		success += " M=Access granted"
	}
	l.chapSuccess = []byte(success)
	if err := l.writePPP(ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPSuccess, ID: p.ID, Data: l.chapSuccess}.Append(nil)); err != nil {
		return err
	}
	return l.sendIPCPRequest()
}

// failureMessage is a Failure's message (RFC 2759 §6): the server's
// (MS-CHAP-Error) with R=0, since the gateway takes no second try, or
// error 691 (authentication failure) in full.
func (l *link) failureMessage(fromServer string) string {
	if strings.HasPrefix(fromServer, "E=") {
		return strings.Replace(fromServer, " R=1", " R=0", 1)
	}
	return fmt.Sprintf("E=691 R=0 C=%X V=3 M=Authentication failed", l.challenge)
}

// chapFailure tells the client it is refused (RFC 2759 §6: no retry is
// offered) and ends the call with why.
func (l *link) chapFailure(msg string, why error) error {
	l.writePPP(ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPFailure, ID: l.chapID, Data: []byte(msg)}.Append(nil))
	l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
	return why
}

// clientCHAP answers the gateway's MS-CHAPv2 challenge with the user's
// password, and checks the gateway's Success: it proves the RADIUS server
// behind it knows the password (RFC 2759 §8.8).
func (l *link) clientCHAP(p ppp.Packet) error {
	cfg := l.client.cfg
	switch p.Code {
	case ppp.CHAPChallenge:
		v, err := ppp.ParseCHAPValue(p.Data)
		if err != nil || len(v.Value) != 16 {
			return errors.New("the gateway's MS-CHAPv2 challenge is not 16 octets")
		}
		if cfg.User == "" {
			return errors.New("the gateway asks for a user name and password (MS-CHAPv2); the client has a certificate")
		}
		if l.chapResponse != nil && p.ID == l.chapID && [16]byte(v.Value) == l.challenge {
			// The gateway's Challenge repeated (its Identifier unchanged,
			// RFC 1994 §4.1): our Response again, whose peer challenge
			// the gateway's Success will prove, not a new one.
			return l.writePPP(ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPResponse, ID: p.ID, Data: l.chapResponse}.Append(nil))
		}
		l.challenge = [16]byte(v.Value)
		l.chapID = p.ID
		rand.Read(l.peerChallenge[:])
		l.ntResponse = mschap.NTResponse(l.challenge, l.peerChallenge, cfg.User, cfg.Password)
		r := ppp.MSCHAPv2Response{PeerChallenge: l.peerChallenge, NTResponse: l.ntResponse}
		l.chapResponse = ppp.CHAPValue{Value: r.Append(nil), Name: []byte(cfg.User)}.Append(nil)
		return l.writePPP(ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPResponse, ID: p.ID, Data: l.chapResponse}.Append(nil))
	case ppp.CHAPSuccess:
		if p.ID != l.chapID || l.authed {
			return nil
		}
		want := mschap.AuthenticatorResponse(cfg.Password, l.ntResponse, l.peerChallenge, l.challenge, cfg.User)
		if !mschap.CheckSuccess(string(p.Data), want) {
			return errors.New("the gateway's MS-CHAPv2 success does not prove that it knows the password: not the gateway")
		}
		send, recv := mschap.ClientKeys(cfg.Password, l.ntResponse)
		l.hlak, l.authed = append(send[:], recv[:]...), true
		if err := l.sendCallConnected(); err != nil {
			return err
		}
		return l.sendIPCPRequest()
	case ppp.CHAPFailure:
		return fmt.Errorf("%w user %q (MS-CHAPv2 failure %q)", ErrRefused, cfg.User, p.Data[:min(len(p.Data), 120)])
	}
	return nil
}

// EAP-MSCHAPv2's op codes (draft-kamath-pppext-eap-mschapv2-02 §2).
const (
	eapMSCHAPv2Type      = 26
	eapMSCHAPv2Challenge = 1
	eapMSCHAPv2Response  = 2
	eapMSCHAPv2Success   = 3
	eapMSCHAPv2Failure   = 4
)

// clientEAPMSCHAPv2 is the client's EAP with a password: its user name
// as identity, MS-CHAPv2 in EAP type 26 (a Nak asks for it in place of
// any other method), and on success the binding keyed with the MSK's
// first 32 bytes, the MPPE send and receive keys ([MS-SSTP] §3.2.5.2.4).
func (l *link) clientEAPMSCHAPv2(m ppp.EAP) error {
	cfg := l.client.cfg
	respond := func(typ uint8, data []byte) error {
		return l.respondEAP(ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: typ, Data: data})
	}
	switch m.Code {
	case ppp.EAPSuccess:
		if !l.authed {
			return errors.New("EAP success before the gateway proved it knows the password")
		}
		if err := l.sendCallConnected(); err != nil {
			return err
		}
		return l.sendIPCPRequest()
	case ppp.EAPFailure:
		return fmt.Errorf("%w user %q (EAP failure)", ErrRefused, cfg.User)
	case ppp.EAPRequest:
	default:
		return nil
	}
	switch m.Type {
	case ppp.TypeIdentity:
		return respond(ppp.TypeIdentity, []byte(cfg.User))
	case eapMSCHAPv2Type:
	default:
		return respond(ppp.TypeNak, []byte{eapMSCHAPv2Type}) // RFC 3748 §5.3.1
	}
	// OpCode, MS-CHAPv2-ID, MS-Length, then the op's data.
	d := m.Data
	if len(d) < 4 {
		return errors.New("an EAP-MSCHAPv2 request cut short")
	}
	op, msID, body := d[0], d[1], d[4:]
	msLen := func(n int) []byte { return []byte{byte((4 + n) >> 8), byte(4 + n)} }
	switch op {
	case eapMSCHAPv2Challenge:
		v, err := ppp.ParseCHAPValue(body)
		if err != nil || len(v.Value) != 16 {
			return errors.New("the gateway's EAP-MSCHAPv2 challenge is not 16 octets")
		}
		l.challenge = [16]byte(v.Value)
		rand.Read(l.peerChallenge[:])
		l.ntResponse = mschap.NTResponse(l.challenge, l.peerChallenge, cfg.User, cfg.Password)
		r := ppp.MSCHAPv2Response{PeerChallenge: l.peerChallenge, NTResponse: l.ntResponse}
		value := ppp.CHAPValue{Value: r.Append(nil), Name: []byte(cfg.User)}.Append(nil)
		return respond(eapMSCHAPv2Type, append(append([]byte{eapMSCHAPv2Response, msID}, msLen(len(value))...), value...))
	case eapMSCHAPv2Success:
		want := mschap.AuthenticatorResponse(cfg.Password, l.ntResponse, l.peerChallenge, l.challenge, cfg.User)
		if !mschap.CheckSuccess(string(body), want) {
			return errors.New("the gateway's EAP-MSCHAPv2 success does not prove that it knows the password: not the gateway")
		}
		send, recv := mschap.ClientKeys(cfg.Password, l.ntResponse)
		l.hlak, l.authed = append(send[:], recv[:]...), true
		return respond(eapMSCHAPv2Type, []byte{eapMSCHAPv2Success})
	case eapMSCHAPv2Failure:
		respond(eapMSCHAPv2Type, []byte{eapMSCHAPv2Failure})
		return fmt.Errorf("%w user %q (EAP-MSCHAPv2 failure %q)", ErrRefused, cfg.User, body[:min(len(body), 120)])
	}
	return nil
}
