package radius

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// Attributes of EAP over RADIUS (RFC 3579) and Microsoft's MPPE keys
// (RFC 2548).
const (
	AttrState           = 24
	AttrVendorSpecific  = 26
	AttrEAPMessage      = 79
	vendorMicrosoft     = 311
	msMPPESendKey       = 16
	msMPPERecvKey       = 17
	maxEAPMessageLength = 253
)

// EAP relays one client's EAP conversation to a RADIUS server (RFC 3579
// §3: the gateway is a pass-through authenticator): each EAP response of
// the client goes in an Access-Request with the server's State, and the
// server's next EAP request comes back in an Access-Challenge, until an
// Access-Accept (with the MSK in MS-MPPE keys, RFC 2548) or an
// Access-Reject. The conversation stays with the server that answered
// its first request.
type EAP struct {
	servers []Server
	req     Request // who: User is the client's EAP identity
	server  *Server
	state   []byte
}

// NewEAP starts a conversation about the client r describes (its EAP
// identity in User) with the first of servers that answers.
func NewEAP(servers []Server, r Request) *EAP { return &EAP{servers: servers, req: r} }

// Outcome is a RADIUS server's answer to an EAP response: the next EAP
// message for the client, and, with Accept, the MSK.
type Outcome struct {
	Code byte   // CodeAccessChallenge, CodeAccessAccept or CodeAccessReject
	EAP  []byte // the EAP message (a request, Success or Failure); may be empty on a Reject
	MSK  []byte
	User string // an Access-Accept's User-Name: whom the server accepted
	// Grant is an Access-Accept's, for the session.
	Grant
}

// Exchange relays the client's EAP response (eap, a whole EAP packet) and
// returns the server's answer.
func (e *EAP) Exchange(ctx context.Context, eap []byte) (Outcome, error) {
	if len(e.req.User) == 0 || len(e.req.User) > 253 {
		return Outcome{}, fmt.Errorf("radius: an EAP identity of %d bytes", len(e.req.User))
	}
	attrs := func([authenticator]byte, []byte) ([]Attr, error) {
		out := e.req.attrs()
		// RFC 3579 §3.1: an EAP packet longer than an attribute takes
		// several, in order.
		for rest := eap; len(rest) > 0; {
			n := min(len(rest), maxEAPMessageLength)
			out = append(out, Attr{AttrEAPMessage, rest[:n]})
			rest = rest[n:]
		}
		if e.state != nil {
			out = append(out, Attr{AttrState, e.state})
		}
		return out, nil
	}
	servers := e.servers
	if e.server != nil {
		servers = []Server{*e.server}
	}
	// RFC 3579 §3.2: with EAP, every answer has a Message-Authenticator.
	resp, s, err := ask(ctx, servers, e.req.Dial, query{attrs: attrs, needMA: true, failover: e.req.Failover})
	if err != nil {
		return Outcome{}, err
	}
	e.server = &s
	return e.outcome(resp, s.Secret)
}

// outcome reads a server's answer: its EAP message, State, and the MSK of
// an Access-Accept.
func (e *EAP) outcome(resp Packet, secret []byte) (Outcome, error) {
	o := Outcome{Code: resp.Code}
	e.state = nil
	for _, a := range resp.Attrs {
		switch a.Type {
		case AttrEAPMessage:
			o.EAP = append(o.EAP, a.Value...)
		case AttrState:
			e.state = a.Value
		case AttrUserName:
			if resp.Code == CodeAccessAccept {
				o.User = string(a.Value)
			}
		}
	}
	switch resp.Code {
	case CodeAccessChallenge:
		if len(o.EAP) == 0 {
			return o, errors.New("radius: an Access-Challenge without an EAP message")
		}
	case CodeAccessAccept:
		var err error
		if o.Grant, err = granted(resp); err != nil {
			return o, err
		}
		recv, send, err := mppeKeys(resp, secret)
		if err != nil {
			return o, err
		}
		// The MSK: the MPPE receive key, then the send key (RFC 2548 and
		// EAP-MSCHAPv2's; as pass-through authenticators such as
		// strongSwan's eap-radius put them together).
		o.MSK = append(recv, send...)
	}
	return o, nil
}

// mppeKeys returns the MS-MPPE-Recv-Key and MS-MPPE-Send-Key of an
// Access-Accept, decrypted (RFC 2548 §2.4.2, §2.4.3).
func mppeKeys(resp Packet, secret []byte) (recv, send []byte, err error) {
	for _, a := range microsoftAttrs(resp) {
		typ := a.Type
		if typ != msMPPESendKey && typ != msMPPERecvKey {
			continue
		}
		key, err := decryptMPPE(a.Value, secret, resp.requestAuth)
		if err != nil {
			return nil, nil, err
		}
		if typ == msMPPERecvKey {
			recv = key
		} else {
			send = key
		}
	}
	if recv == nil || send == nil {
		return nil, nil, errors.New("radius: an Access-Accept without MS-MPPE keys: the authentication method gave the gateway no key")
	}
	return recv, send, nil
}

// decryptMPPE decrypts an MS-MPPE key attribute's value: a 2-byte salt,
// then the key's length and the key, padded and XORed with
// MD5(secret + Request Authenticator + salt), then with MD5(secret +
// previous block) (RFC 2548 §2.4.2).
func decryptMPPE(v, secret []byte, reqAuth [authenticator]byte) ([]byte, error) {
	if len(v) < 2+16 || (len(v)-2)%16 != 0 || v[0]&0x80 == 0 {
		return nil, fmt.Errorf("%w: an MS-MPPE key of %d bytes", ErrMalformed, len(v))
	}
	salt, c := v[:2], v[2:]
	p := make([]byte, len(c))
	prev := append(reqAuth[:], salt...)
	for i := 0; i < len(c); i += 16 {
		h := md5.Sum(append(append([]byte(nil), secret...), prev...))
		for j := range 16 {
			p[i+j] = c[i+j] ^ h[j]
		}
		prev = c[i : i+16]
	}
	n := int(p[0])
	if n == 0 || n > len(p)-1 {
		return nil, fmt.Errorf("%w: an MS-MPPE key of length %d in %d bytes", ErrMalformed, n, len(p)-1)
	}
	return p[1 : 1+n], nil
}

// EAPAuthenticator is a client's EAP authenticator whose method runs at a
// RADIUS server: it asks the client for its identity itself (RFC 3748
// §5.1), then relays (an EAP conversation). Its Handle is that of
// eaptls.Server, so that IKEv2 and SSTP take either.
type EAPAuthenticator struct {
	ctx      context.Context
	servers  []Server
	req      Request
	relay    *EAP
	id       uint8 // the identifier of the request the client answers
	identity string
	asserted bool // identity is the Access-Accept's User-Name
	// msk is the MSK of the server's Access-Accept, once it came: the
	// conversation is over; grant is that Access-Accept's.
	msk   []byte
	grant Grant
}

// NewEAPAuthenticator returns an authenticator for the client r names
// (where it connects from, the NAS); its identity comes from EAP. When
// ctx ends, a round waiting for a server gives up.
func NewEAPAuthenticator(ctx context.Context, servers []Server, r Request) *EAPAuthenticator {
	return &EAPAuthenticator{ctx: ctx, servers: servers, req: r}
}

// Start returns the first request: EAP-Request/Identity.
func (a *EAPAuthenticator) Start() ppp.EAP {
	a.id = 1
	return ppp.EAP{Code: ppp.EAPRequest, ID: a.id, Type: ppp.TypeIdentity}
}

// Resume starts the relay from an identity response the client gave
// another method first (it declined that method, RFC 3748 §5.3.1): the
// server's first request comes back.
func (a *EAPAuthenticator) Resume(identity ppp.EAP) (next ppp.EAP, msk []byte, ok bool, err error) {
	a.id = identity.ID
	return a.Handle(identity)
}

// Identity is who the client is: the User-Name of the server's
// Access-Accept (RFC 2865 §5.1; the inner identity of a tunnelled
// method), else its EAP identity, which the client chose.
func (a *EAPAuthenticator) Identity() string { return a.identity }

// Grant is what the server's Access-Accept grants the session: nothing
// before it came.
func (a *EAPAuthenticator) Grant() Grant { return a.grant }

// Asserted reports whether the server named the client (User-Name in its
// Access-Accept): only then does the identity tell one user from
// another, as the client may claim any outer identity in tunnelled
// methods (PEAP, TTLS).
func (a *EAPAuthenticator) Asserted() bool { return a.asserted }

// exchangeTimeout bounds one relayed round: every server's tries.
const exchangeTimeout = 2 * time.Minute

// Handle takes the client's response m and returns the next message: the
// server's next request, or Success with the MSK, or Failure with the
// reason in err. ok is false for a response to no outstanding request
// (RFC 3748 §4.1: silently dropped).
func (a *EAPAuthenticator) Handle(m ppp.EAP) (next ppp.EAP, msk []byte, ok bool, err error) {
	if m.Code != ppp.EAPResponse || m.ID != a.id {
		return ppp.EAP{}, nil, false, nil
	}
	if a.msk != nil {
		// The last response again, after the server accepted it: our
		// Success was lost, which is not sent again (RFC 3748 §4.2);
		// the client has it again, and the server is not asked (it has
		// ended the conversation).
		return ppp.EAP{Code: ppp.EAPSuccess, ID: m.ID}, a.msk, true, nil
	}
	failure := ppp.EAP{Code: ppp.EAPFailure, ID: m.ID}
	if a.relay == nil {
		if m.Type != ppp.TypeIdentity || len(m.Data) == 0 || len(m.Data) > 253 {
			return failure, nil, true, errors.New("the client gave no EAP identity")
		}
		a.identity = string(m.Data)
		r := a.req
		r.User = a.identity
		a.relay = NewEAP(a.servers, r)
	}
	ctx, cancel := context.WithTimeout(a.ctx, exchangeTimeout)
	defer cancel()
	o, err := a.relay.Exchange(ctx, m.Append(nil))
	if err != nil {
		return failure, nil, true, fmt.Errorf("RADIUS about %q: %w", a.identity, err)
	}
	next, perr := ppp.ParseEAP(o.EAP)
	switch o.Code {
	case CodeAccessChallenge:
		if perr != nil || next.Code != ppp.EAPRequest {
			return failure, nil, true, fmt.Errorf("the RADIUS server's challenge for %q holds no EAP request", a.identity)
		}
		a.id = next.ID
		return next, nil, true, nil
	case CodeAccessAccept:
		if o.User != "" {
			a.identity, a.asserted = o.User, true
		}
		a.msk, a.grant = o.MSK, o.Grant
		return ppp.EAP{Code: ppp.EAPSuccess, ID: m.ID}, o.MSK, true, nil
	}
	return failure, nil, true, fmt.Errorf("the RADIUS server rejected %q", a.identity)
}
