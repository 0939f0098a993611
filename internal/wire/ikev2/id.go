package ikev2

import "strconv"

// IDType is the ID Type of an identification payload (RFC 7296 section
// 3.5).
type IDType uint8

// Identification types (RFC 7296 section 3.5).
const (
	IDIPv4Addr   IDType = 1  // four-octet IPv4 address
	IDFQDN       IDType = 2  // fully qualified domain name
	IDRFC822Addr IDType = 3  // email address
	IDIPv6Addr   IDType = 5  // sixteen-octet IPv6 address
	IDDERASN1DN  IDType = 9  // DER-encoded X.500 distinguished name
	IDDERASN1GN  IDType = 10 // DER-encoded X.509 GeneralName
	IDKeyID      IDType = 11 // opaque octets
)

func (t IDType) String() string {
	switch t {
	case IDIPv4Addr:
		return "ID_IPV4_ADDR"
	case IDFQDN:
		return "ID_FQDN"
	case IDRFC822Addr:
		return "ID_RFC822_ADDR"
	case IDIPv6Addr:
		return "ID_IPV6_ADDR"
	case IDDERASN1DN:
		return "ID_DER_ASN1_DN"
	case IDDERASN1GN:
		return "ID_DER_ASN1_GN"
	case IDKeyID:
		return "ID_KEY_ID"
	}
	return "IDType(" + strconv.Itoa(int(t)) + ")"
}

// ID is an Identification payload, IDi or IDr (RFC 7296 section 3.5).
type ID struct {
	Generic
	// Responder selects IDr; otherwise the payload is IDi.
	Responder bool
	IDType    IDType
	// Data is the identification; it aliases the parsed input.
	Data []byte
	// Reserved holds the three reserved octets, kept so that re-encoding
	// is exact; zero when sending. The AUTH computation (§2.15) covers
	// them as received.
	Reserved [3]byte
}

// Type returns PayloadIDi or PayloadIDr.
func (id *ID) Type() PayloadType {
	if id.Responder {
		return PayloadIDr
	}
	return PayloadIDi
}

// Len returns the encoded length.
func (id *ID) Len() int { return GenericHeaderLen + 4 + len(id.Data) }

// Append appends the payload to b.
func (id *ID) Append(b []byte) ([]byte, error) {
	b, err := id.Generic.append(b, PayloadNone, id.Len())
	if err != nil {
		return b, err
	}
	return id.AppendBody(b), nil
}

// AppendBody appends the payload without its generic header: ID Type, the
// reserved octets and the data. That is RestOfInitIDPayload (or
// RestOfRespIDPayload), which the AUTH computation of RFC 7296 section 2.15
// feeds to the PRF.
func (id *ID) AppendBody(b []byte) []byte {
	b = append(b, byte(id.IDType), id.Reserved[0], id.Reserved[1], id.Reserved[2])
	return append(b, id.Data...)
}

func parseID(g Generic, responder bool, body []byte) (*ID, error) {
	if len(body) < 4 {
		return nil, malformed("%d octets, need 4", len(body))
	}
	return &ID{
		Generic:   g,
		Responder: responder,
		IDType:    IDType(body[0]),
		Reserved:  [3]byte{body[1], body[2], body[3]},
		Data:      sub(body, 4, len(body)),
	}, nil
}
