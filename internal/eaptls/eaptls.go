package eaptls

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// maxMessage bounds a reassembled EAP-TLS message (a TLS flight).
const maxMessage = 64 << 10

// Conversation is one side's EAP-TLS flow of TLS flights (RFC 5216
// §2.1.5): it reassembles the peer's fragments and cuts ours.
type Conversation struct {
	// Bridge is the TLS handshake, once started.
	Bridge *Bridge
	// Done: the handshake returned; SentLast: the last fragment of our
	// final flight is out.
	Done, SentLast bool

	in       []byte // a fragmented message being reassembled
	inMore   bool   // in has fragments: the next one is not a first
	inTotal  int    // the length in's first fragment announced, or -1
	out      []byte // our message still to send, fragment by fragment
	outTotal int
}

// Input takes one EAP-TLS packet from the peer: it returns the whole
// message once the last fragment is in, or more after a fragment (which
// the caller acknowledges with an empty EAP-TLS packet). A message is at
// most 64 KiB, and no longer than its first fragment announced.
func (c *Conversation) Input(d ppp.TLSData) (msg []byte, more bool, err error) {
	if !c.inMore {
		c.inTotal = -1
		// RFC 5216 §2.1.5: the L flag of the first fragment gives the
		// length of the whole message.
		if d.Flags&ppp.FlagLength != 0 {
			if d.MessageLength > maxMessage {
				return nil, false, fmt.Errorf("an EAP-TLS message of %d bytes announced; at most 64 KiB", d.MessageLength)
			}
			c.inTotal = int(d.MessageLength)
		}
	}
	n := len(c.in) + len(d.Data)
	if n > maxMessage {
		return nil, false, errors.New("EAP-TLS message over 64 KiB")
	}
	if c.inTotal >= 0 && n > c.inTotal {
		return nil, false, fmt.Errorf("EAP-TLS fragments of over the %d bytes their first announced", c.inTotal)
	}
	c.in = append(c.in, d.Data...)
	if c.inMore = d.Flags&ppp.FlagMore != 0; c.inMore {
		return nil, true, nil
	}
	msg, c.in = c.in, nil
	return msg, false, nil
}

// Send queues a flight of ours.
func (c *Conversation) Send(flight []byte) { c.out, c.outTotal = flight, len(flight) }

// Pending reports whether fragments of our flight wait to be sent.
func (c *Conversation) Pending() bool { return len(c.out) > 0 }

// Next returns the next fragment of our flight, at most size bytes of it
// (RFC 5216 §2.1.5): the first with the total length when there are
// several, all but the last with the M flag.
func (c *Conversation) Next(size int) ppp.TLSData {
	var d ppp.TLSData
	first := len(c.out) == c.outTotal
	n := min(len(c.out), size)
	d.Data = c.out[:n]
	if first && len(c.out) > size {
		d.Flags |= ppp.FlagLength
		d.MessageLength = uint32(c.outTotal)
	}
	if n < len(c.out) {
		d.Flags |= ppp.FlagMore
	}
	c.out = c.out[n:]
	if len(c.out) == 0 {
		c.outTotal = 0
	}
	return d
}

// Server is the authenticator of EAP-TLS: it asks for the peer's identity,
// runs the TLS handshake in which the peer presents its certificate (the
// TLS configuration decides which it takes) and ends with Success and the
// MSK, or Failure. It is not safe for concurrent use.
type Server struct {
	cfg      *tls.Config
	fragment int
	timeout  time.Duration
	id       uint8
	conv     Conversation
	identity string
	// failed is why the TLS handshake failed, once its alert is on its
	// way to the peer: the peer's answer to it gets the Failure.
	failed error
}

// NewServer returns an authenticator that runs TLS with cfg (which should
// require a client certificate, TLS 1.2), cuts its flights into fragments
// of at most fragment bytes and waits at most timeout for TLS.
func NewServer(cfg *tls.Config, fragment int, timeout time.Duration) *Server {
	return &Server{cfg: cfg, fragment: fragment, timeout: timeout}
}

// Start returns the first request: the peer's identity (RFC 3748 §5.1).
func (s *Server) Start() ppp.EAP {
	s.id++
	return ppp.EAP{Code: ppp.EAPRequest, ID: s.id, Type: ppp.TypeIdentity}
}

// StartTLS returns the first request when the carrier told the peer's
// identity already (IKEv2's IDi): EAP-TLS's start (RFC 5216 §2.1.1). RFC
// 3748 §5.1 lets the authenticator skip the Identity request, and peers
// without an EAP-Identity method would refuse it.
func (s *Server) StartTLS() ppp.EAP {
	s.id++
	return ppp.EAP{Code: ppp.EAPRequest, ID: s.id, Type: ppp.TypeTLS, Data: ppp.TLSData{Flags: ppp.FlagStart}.Append(nil)}
}

// Handle takes the peer's packet and returns what to send next: a
// Request, Success with the MSK (RFC 5216 §2.3), or Failure with err
// saying why. ok is false for a packet that answers no request of ours,
// which is dropped (RFC 3748 §4.1) and needs no answer.
func (s *Server) Handle(m ppp.EAP) (next ppp.EAP, msk []byte, ok bool, err error) {
	if m.Code != ppp.EAPResponse || m.ID != s.id {
		return ppp.EAP{}, nil, false, nil
	}
	fail := func(e error) (ppp.EAP, []byte, bool, error) {
		if s.conv.Bridge != nil {
			s.conv.Bridge.Close()
		}
		return ppp.EAP{Code: ppp.EAPFailure, ID: s.id}, nil, true, e
	}
	request := func(d ppp.TLSData) (ppp.EAP, []byte, bool, error) {
		s.id++
		return ppp.EAP{Code: ppp.EAPRequest, ID: s.id, Type: ppp.TypeTLS, Data: d.Append(nil)}, nil, true, nil
	}
	success := func() (ppp.EAP, []byte, bool, error) {
		key, err := s.conv.Bridge.MSK()
		if err != nil {
			return fail(err)
		}
		return ppp.EAP{Code: ppp.EAPSuccess, ID: s.id}, key, true, nil
	}
	switch m.Type {
	case ppp.TypeIdentity:
		s.identity = string(m.Data)
		return request(ppp.TLSData{Flags: ppp.FlagStart})
	case ppp.TypeTLS:
	default:
		return fail(errors.New("the client does not do EAP-TLS (certificate authentication)"))
	}
	d, err := ppp.ParseTLSData(m.Data)
	if err != nil {
		return fail(err)
	}
	if s.conv.Pending() { // an acknowledgement of our fragment
		return request(s.conv.Next(s.fragment))
	}
	if s.failed != nil {
		// RFC 5216 §2.1.3: the peer's response to our alert gets the
		// Failure.
		return fail(s.failed)
	}
	if s.conv.Done && s.conv.SentLast && len(d.Data) == 0 {
		return success()
	}
	msg, more, err := s.conv.Input(d)
	if err != nil {
		return fail(err)
	}
	if more {
		return request(ppp.TLSData{})
	}
	if s.conv.Bridge == nil {
		s.conv.Bridge = NewBridge(true, s.cfg)
	}
	out, done, err := s.conv.Bridge.Exchange(msg, s.timeout)
	if err != nil {
		err = errors.New("certificate authentication failed: " + err.Error())
		if len(out) == 0 {
			return fail(err)
		}
		// RFC 5216 §2.1.3: the TLS alert SHOULD go to the peer in a
		// request, rather than the Failure at once, for it to tell why.
		s.failed = err
		s.conv.Send(out)
		return request(s.conv.Next(s.fragment))
	}
	s.conv.Done = done
	if len(out) == 0 {
		if done {
			return success()
		}
		return fail(errors.New("EAP-TLS: TLS has nothing to say"))
	}
	s.conv.Send(out)
	s.conv.SentLast = done
	return request(s.conv.Next(s.fragment))
}

// Identity is the identity the peer gave.
func (s *Server) Identity() string { return s.identity }

// PeerCertificate is the certificate the peer authenticated with, once
// Handle returned Success.
func (s *Server) PeerCertificate() *x509.Certificate {
	if certs := s.PeerCertificates(); len(certs) > 0 {
		return certs[0]
	}
	return nil
}

// PeerCertificates are the certificates the peer presented, leaf first
// (its certificate and intermediates), once Handle returned Success.
func (s *Server) PeerCertificates() []*x509.Certificate {
	if s.conv.Bridge == nil || !s.conv.Done {
		return nil
	}
	return s.conv.Bridge.PeerCertificates()
}

// Close stops the TLS handshake, if one runs.
func (s *Server) Close() {
	if s.conv.Bridge != nil {
		s.conv.Bridge.Close()
	}
}

// ServerConfig is the TLS of an authenticator that takes a client
// certificate only when it chains to roots (R12) and its SHA-1 thumbprint
// is not among revoked; cert is the authenticator's own.
func ServerConfig(cert tls.Certificate, roots *x509.CertPool, revoked []string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots,
		// RFC 5216's keys (the MSK) are those of TLS 1.2 here.
		MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
		VerifyConnection: func(st tls.ConnectionState) error {
			if len(st.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			if Revoked(st.PeerCertificates[0], revoked) {
				return errors.New("the client certificate is revoked")
			}
			return nil
		},
	}
}

// Revoked reports whether cert's SHA-1 thumbprint is among thumbprints
// (as Thumbprint reads them), as Azure lists revoked client certificates.
func Revoked(cert *x509.Certificate, thumbprints []string) bool {
	return RevokedThumbprint(CertThumbprint(cert), thumbprints)
}

// CertThumbprint is cert's SHA-1 thumbprint: 40 upper-case hex digits.
func CertThumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// RevokedThumbprint reports whether thumb (as CertThumbprint gives it) is
// among thumbprints, as Thumbprint reads them; "" is never revoked.
func RevokedThumbprint(thumb string, thumbprints []string) bool {
	return thumb != "" && slices.ContainsFunc(thumbprints, func(r string) bool { t, ok := Thumbprint(r); return ok && t == thumb })
}

// Thumbprint reads a SHA-1 thumbprint as people copy them: hex digits in
// any case, with spaces or colons between (openssl's fingerprint) and
// invisible format characters around (Windows' certificate dialog starts
// its copy with a left-to-right mark). It returns the 40 digits in upper
// case, and "" and false for anything else.
func Thumbprint(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == ':' || unicode.Is(unicode.Cf, r):
		case r < 128 && (unicode.IsDigit(r) || 'a' <= r|0x20 && r|0x20 <= 'f'):
			b.WriteRune(unicode.ToUpper(r))
		default:
			return "", false
		}
	}
	if b.Len() != 2*sha1.Size {
		return "", false // too few or too many digits: no thumbprint, nor part of one
	}
	return b.String(), true
}
