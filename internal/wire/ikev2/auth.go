package ikev2

import "strconv"

// AuthMethod is the Auth Method field of the AUTH payload (RFC 7296 section
// 3.8).
type AuthMethod uint8

// Authentication methods (RFC 7296 section 3.8; ECDSA from RFC 4754, digital
// signature from RFC 7427).
const (
	AuthRSASignature     AuthMethod = 1  // RSASSA-PKCS1-v1_5 with SHA-1
	AuthSharedKeyMIC     AuthMethod = 2  // shared key message integrity code
	AuthECDSA256         AuthMethod = 9  // ECDSA with SHA-256 on P-256
	AuthECDSA384         AuthMethod = 10 // ECDSA with SHA-384 on P-384
	AuthECDSA521         AuthMethod = 11 // ECDSA with SHA-512 on P-521
	AuthDigitalSignature AuthMethod = 14 // RFC 7427 generic signature
)

func (m AuthMethod) String() string {
	switch m {
	case AuthRSASignature:
		return "RSA_SIGNATURE"
	case AuthSharedKeyMIC:
		return "SHARED_KEY_MIC"
	case AuthECDSA256:
		return "ECDSA_SHA256_P256"
	case AuthECDSA384:
		return "ECDSA_SHA384_P384"
	case AuthECDSA521:
		return "ECDSA_SHA512_P521"
	case AuthDigitalSignature:
		return "DIGITAL_SIGNATURE"
	}
	return "AuthMethod(" + strconv.Itoa(int(m)) + ")"
}

// Auth is the Authentication payload (RFC 7296 section 3.8).
type Auth struct {
	Generic
	Method AuthMethod
	// Data is the authentication data; it aliases the parsed input.
	Data []byte
	// Reserved holds the three reserved octets, kept so that re-encoding
	// is exact; zero when sending.
	Reserved [3]byte
}

// Type returns PayloadAUTH.
func (a *Auth) Type() PayloadType { return PayloadAUTH }

// Len returns the encoded length.
func (a *Auth) Len() int { return GenericHeaderLen + 4 + len(a.Data) }

// Append appends the payload to b.
func (a *Auth) Append(b []byte) ([]byte, error) {
	b, err := a.Generic.append(b, PayloadNone, a.Len())
	if err != nil {
		return b, err
	}
	b = append(b, byte(a.Method), a.Reserved[0], a.Reserved[1], a.Reserved[2])
	return append(b, a.Data...), nil
}

func parseAuth(g Generic, body []byte) (*Auth, error) {
	if len(body) < 4 {
		return nil, malformed("%d octets, need 4", len(body))
	}
	return &Auth{
		Generic:  g,
		Method:   AuthMethod(body[0]),
		Reserved: [3]byte{body[1], body[2], body[3]},
		Data:     sub(body, 4, len(body)),
	}, nil
}
