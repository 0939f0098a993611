package ikev2

import "strconv"

// CertEncoding is the Cert Encoding field of CERT and CERTREQ payloads (RFC
// 7296 section 3.6).
type CertEncoding uint8

// Certificate encodings (RFC 7296 section 3.6).
const (
	CertX509Signature     CertEncoding = 4  // DER-encoded X.509 certificate
	CertX509CRL           CertEncoding = 7  // DER-encoded certificate revocation list
	CertHashURLX509       CertEncoding = 12 // SHA-1 hash and URL of a certificate
	CertHashURLX509Bundle CertEncoding = 13 // SHA-1 hash and URL of a bundle
)

func (e CertEncoding) String() string {
	switch e {
	case CertX509Signature:
		return "X509_SIGNATURE"
	case CertX509CRL:
		return "X509_CRL"
	case CertHashURLX509:
		return "HASH_URL_X509"
	case CertHashURLX509Bundle:
		return "HASH_URL_X509_BUNDLE"
	}
	return "CertEncoding(" + strconv.Itoa(int(e)) + ")"
}

// Cert is the Certificate payload, CERT (RFC 7296 section 3.6).
type Cert struct {
	Generic
	Encoding CertEncoding
	// Data is the certificate data, kept raw; it aliases the parsed
	// input.
	Data []byte
}

// Type returns PayloadCERT.
func (c *Cert) Type() PayloadType { return PayloadCERT }

// Len returns the encoded length.
func (c *Cert) Len() int { return GenericHeaderLen + 1 + len(c.Data) }

// Append appends the payload to b.
func (c *Cert) Append(b []byte) ([]byte, error) {
	return appendCert(b, c.Generic, c.Encoding, c.Data)
}

// CertReq is the Certificate Request payload, CERTREQ (RFC 7296 section
// 3.7). For X.509 encodings Data is a concatenation of SHA-1 hashes of
// trusted CA public keys.
type CertReq struct {
	Generic
	Encoding CertEncoding
	// Data is the certification authority data, kept raw; it aliases
	// the parsed input.
	Data []byte
}

// Type returns PayloadCERTREQ.
func (c *CertReq) Type() PayloadType { return PayloadCERTREQ }

// Len returns the encoded length.
func (c *CertReq) Len() int { return GenericHeaderLen + 1 + len(c.Data) }

// Append appends the payload to b.
func (c *CertReq) Append(b []byte) ([]byte, error) {
	return appendCert(b, c.Generic, c.Encoding, c.Data)
}

func appendCert(b []byte, g Generic, e CertEncoding, data []byte) ([]byte, error) {
	b, err := g.append(b, PayloadNone, GenericHeaderLen+1+len(data))
	if err != nil {
		return b, err
	}
	b = append(b, byte(e))
	return append(b, data...), nil
}

func parseCert(g Generic, body []byte) (*Cert, error) {
	if len(body) < 1 {
		return nil, malformed("no cert encoding")
	}
	return &Cert{Generic: g, Encoding: CertEncoding(body[0]), Data: sub(body, 1, len(body))}, nil
}

func parseCertReq(g Generic, body []byte) (*CertReq, error) {
	if len(body) < 1 {
		return nil, malformed("no cert encoding")
	}
	return &CertReq{Generic: g, Encoding: CertEncoding(body[0]), Data: sub(body, 1, len(body))}, nil
}
