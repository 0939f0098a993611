package radius

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Microsoft's attributes of MS-CHAP-V2 (RFC 2548 §2.1.3, §2.3.2, §2.3.3,
// §2.3.4).
const (
	msCHAPError     = 2
	msCHAPChallenge = 11
	msCHAP2Response = 25
	msCHAP2Success  = 26
)

// MSCHAPv2 is a client's MS-CHAP-V2 Response (RFC 2759 §4) to the
// gateway's challenge, for the server to check: the gateway does not know
// the password.
type MSCHAPv2 struct {
	Ident         byte     // the CHAP Identifier of the exchange
	Challenge     [16]byte // the gateway's (the authenticator's) challenge
	PeerChallenge [16]byte
	NTResponse    [24]byte
}

// MSCHAPv2Answer is a server's answer to an MS-CHAP-V2 response.
type MSCHAPv2Answer struct {
	Accept bool
	// Success is the server's "S=…" authenticator response (RFC 2759
	// §5), for the client's Success message; Error its "E=…" (RFC 2759
	// §6), for a Failure.
	Success, Error string
	// Recv and Send are the gateway's MPPE keys of an Access-Accept:
	// the client's send key and its receive key (RFC 3079 §3.4).
	Recv, Send []byte
	// User is the User-Name of an Access-Accept, if it has one.
	User string
	// Grant is the session's.
	Grant
}

// AuthenticateMSCHAPv2 asks the servers in order, each a few times,
// until one answers, whether r.User's MS-CHAP-V2 response m is good
// (RFC 2548 §2.3.2). An Access-Accept must carry MS-CHAP2-Success and the
// MPPE keys; an Access-Challenge counts as a rejection.
func AuthenticateMSCHAPv2(ctx context.Context, servers []Server, r Request, m MSCHAPv2) (MSCHAPv2Answer, error) {
	if len(r.User) == 0 || len(r.User) > 253 {
		return MSCHAPv2Answer{}, fmt.Errorf("radius: a user name of %d bytes", len(r.User))
	}
	resp := append([]byte{m.Ident, 0}, m.PeerChallenge[:]...)
	resp = append(resp, make([]byte, 8)...)
	resp = append(resp, m.NTResponse[:]...)
	attrs := func([authenticator]byte, []byte) ([]Attr, error) {
		return append(r.attrs(), microsoft(msCHAPChallenge, m.Challenge[:]), microsoft(msCHAP2Response, resp)), nil
	}
	p, s, err := ask(ctx, servers, r.Dial, query{attrs: attrs, signers: r.Signers, failover: r.Failover,
		valid: func(p Packet) error { return successIdent(p, m.Ident) }})
	if err != nil {
		return MSCHAPv2Answer{}, err
	}
	a, err := mschapAnswer(p, s.Secret)
	if err != nil {
		return a, fmt.Errorf("radius: %v about %q: %w", s.Addr, r.User, err)
	}
	return a, nil
}

// successIdent checks that an answer's MS-CHAP2-Success, if it has one,
// is about the exchange of the response asked about: RFC 2548 §2.3.3,
// its Ident is the MS-CHAP2-Response's.
func successIdent(p Packet, ident byte) error {
	for _, v := range microsoftAttrs(p) {
		if v.Type == msCHAP2Success && len(v.Value) >= 1 && v.Value[0] != ident {
			return fmt.Errorf("an MS-CHAP2-Success with Ident %d, the response's %d", v.Value[0], ident)
		}
	}
	return nil
}

// mschapAnswer reads a server's answer (its authenticators checked) to an
// MS-CHAP-V2 request.
func mschapAnswer(p Packet, secret []byte) (MSCHAPv2Answer, error) {
	var a MSCHAPv2Answer
	for _, v := range microsoftAttrs(p) {
		// Both carry the Ident first (RFC 2548 §2.1.5, §2.3.3).
		if len(v.Value) < 1 {
			continue
		}
		switch v.Type {
		case msCHAP2Success:
			a.Success = string(v.Value[1:])
		case msCHAPError:
			a.Error = string(v.Value[1:])
		}
	}
	if p.Code != CodeAccessAccept {
		return a, nil
	}
	var err error
	if a.Grant, err = granted(p); err != nil {
		return a, err
	}
	if !strings.HasPrefix(a.Success, "S=") {
		return a, errors.New("an Access-Accept without an MS-CHAP2-Success")
	}
	if a.Recv, a.Send, err = mppeKeys(p, secret); err != nil {
		return a, err
	}
	if u, ok := p.Find(AttrUserName); ok {
		a.User = string(u)
	}
	a.Accept = true
	return a, nil
}

// microsoft is a Vendor-Specific attribute of Microsoft's (RFC 2548 §2).
func microsoft(typ byte, v []byte) Attr {
	b := binary.BigEndian.AppendUint32(nil, vendorMicrosoft)
	b = append(b, typ, byte(2+len(v)))
	return Attr{AttrVendorSpecific, append(b, v...)}
}

// microsoftAttrs are a packet's Microsoft attributes, all of each
// Vendor-Specific attribute (RFC 2865 §5.26: it may hold several); one
// cut short is left out, with what follows it there.
func microsoftAttrs(p Packet) []Attr {
	var out []Attr
	for _, a := range p.Attrs {
		v := a.Value
		if a.Type != AttrVendorSpecific || len(v) < 6 || binary.BigEndian.Uint32(v) != vendorMicrosoft {
			continue
		}
		for rest := v[4:]; len(rest) >= 2; {
			n := int(rest[1])
			if n < 2 || n > len(rest) {
				break
			}
			out = append(out, Attr{rest[0], rest[2:n]})
			rest = rest[n:]
		}
	}
	return out
}
