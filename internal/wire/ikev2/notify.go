package ikev2

import (
	"encoding/binary"
	"strconv"
)

// NotifyType is the Notify Message Type of a Notify payload (RFC 7296
// section 3.10.1). Types below 16384 report errors; the others report
// status.
type NotifyType uint16

// Error types (RFC 7296 section 3.10.1).
const (
	UnsupportedCriticalPayload NotifyType = 1
	InvalidIKESPI              NotifyType = 4
	InvalidMajorVersion        NotifyType = 5
	InvalidSyntax              NotifyType = 7
	InvalidMessageID           NotifyType = 9
	InvalidSPI                 NotifyType = 11
	NoProposalChosen           NotifyType = 14
	InvalidKEPayload           NotifyType = 17
	AuthenticationFailed       NotifyType = 24
	SinglePairRequired         NotifyType = 34
	NoAdditionalSAs            NotifyType = 35
	InternalAddressFailure     NotifyType = 36
	FailedCPRequired           NotifyType = 37
	TSUnacceptable             NotifyType = 38
	InvalidSelectors           NotifyType = 39
	TemporaryFailure           NotifyType = 43
	ChildSANotFound            NotifyType = 44
)

// Status types (RFC 7296 section 3.10.1 and the RFCs named).
const (
	InitialContact            NotifyType = 16384
	SetWindowSize             NotifyType = 16385
	AdditionalTSPossible      NotifyType = 16386
	IPCompSupported           NotifyType = 16387
	NATDetectionSourceIP      NotifyType = 16388
	NATDetectionDestinationIP NotifyType = 16389
	Cookie                    NotifyType = 16390
	UseTransportMode          NotifyType = 16391
	HTTPCertLookupSupported   NotifyType = 16392
	RekeySA                   NotifyType = 16393
	ESPTFCPaddingNotSupported NotifyType = 16394
	NonFirstFragmentsAlso     NotifyType = 16395
	MOBIKESupported           NotifyType = 16396 // RFC 4555
	AdditionalIP4Address      NotifyType = 16397 // RFC 4555
	AdditionalIP6Address      NotifyType = 16398 // RFC 4555
	NoAdditionalAddresses     NotifyType = 16399 // RFC 4555
	UpdateSAAddresses         NotifyType = 16400 // RFC 4555
	Cookie2                   NotifyType = 16401 // RFC 4555
	AuthLifetime              NotifyType = 16403 // RFC 4478
	MultipleAuthSupported     NotifyType = 16404 // RFC 4739
	RedirectSupported         NotifyType = 16406 // RFC 5685
	EAPOnlyAuthentication     NotifyType = 16417 // RFC 5998
	ChildlessIKEv2Supported   NotifyType = 16418 // RFC 6023
	MessageIDSyncSupported    NotifyType = 16420 // RFC 6311
	FragmentationSupported    NotifyType = 16430 // RFC 7383
	SignatureHashAlgorithms   NotifyType = 16431 // RFC 7427
)

// firstStatusNotifyType starts the status range (RFC 7296 section 3.10.1).
const firstStatusNotifyType NotifyType = 16384

// IsError reports whether t is in the error range (RFC 7296 section
// 3.10.1): an unrecognized error type in a response means the request
// failed; unrecognized status types are ignored.
func (t NotifyType) IsError() bool { return t < firstStatusNotifyType }

var notifyNames = map[NotifyType]string{
	UnsupportedCriticalPayload: "UNSUPPORTED_CRITICAL_PAYLOAD",
	InvalidIKESPI:              "INVALID_IKE_SPI",
	InvalidMajorVersion:        "INVALID_MAJOR_VERSION",
	InvalidSyntax:              "INVALID_SYNTAX",
	InvalidMessageID:           "INVALID_MESSAGE_ID",
	InvalidSPI:                 "INVALID_SPI",
	NoProposalChosen:           "NO_PROPOSAL_CHOSEN",
	InvalidKEPayload:           "INVALID_KE_PAYLOAD",
	AuthenticationFailed:       "AUTHENTICATION_FAILED",
	SinglePairRequired:         "SINGLE_PAIR_REQUIRED",
	NoAdditionalSAs:            "NO_ADDITIONAL_SAS",
	InternalAddressFailure:     "INTERNAL_ADDRESS_FAILURE",
	FailedCPRequired:           "FAILED_CP_REQUIRED",
	TSUnacceptable:             "TS_UNACCEPTABLE",
	InvalidSelectors:           "INVALID_SELECTORS",
	TemporaryFailure:           "TEMPORARY_FAILURE",
	ChildSANotFound:            "CHILD_SA_NOT_FOUND",
	InitialContact:             "INITIAL_CONTACT",
	SetWindowSize:              "SET_WINDOW_SIZE",
	AdditionalTSPossible:       "ADDITIONAL_TS_POSSIBLE",
	IPCompSupported:            "IPCOMP_SUPPORTED",
	NATDetectionSourceIP:       "NAT_DETECTION_SOURCE_IP",
	NATDetectionDestinationIP:  "NAT_DETECTION_DESTINATION_IP",
	Cookie:                     "COOKIE",
	UseTransportMode:           "USE_TRANSPORT_MODE",
	HTTPCertLookupSupported:    "HTTP_CERT_LOOKUP_SUPPORTED",
	RekeySA:                    "REKEY_SA",
	ESPTFCPaddingNotSupported:  "ESP_TFC_PADDING_NOT_SUPPORTED",
	NonFirstFragmentsAlso:      "NON_FIRST_FRAGMENTS_ALSO",
	MOBIKESupported:            "MOBIKE_SUPPORTED",
	AdditionalIP4Address:       "ADDITIONAL_IP4_ADDRESS",
	AdditionalIP6Address:       "ADDITIONAL_IP6_ADDRESS",
	NoAdditionalAddresses:      "NO_ADDITIONAL_ADDRESSES",
	UpdateSAAddresses:          "UPDATE_SA_ADDRESSES",
	Cookie2:                    "COOKIE2",
	AuthLifetime:               "AUTH_LIFETIME",
	MultipleAuthSupported:      "MULTIPLE_AUTH_SUPPORTED",
	RedirectSupported:          "REDIRECT_SUPPORTED",
	EAPOnlyAuthentication:      "EAP_ONLY_AUTHENTICATION",
	ChildlessIKEv2Supported:    "CHILDLESS_IKEV2_SUPPORTED",
	MessageIDSyncSupported:     "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
	FragmentationSupported:     "IKEV2_FRAGMENTATION_SUPPORTED",
	SignatureHashAlgorithms:    "SIGNATURE_HASH_ALGORITHMS",
}

func (t NotifyType) String() string {
	if s, ok := notifyNames[t]; ok {
		return s
	}
	return "NotifyType(" + strconv.Itoa(int(t)) + ")"
}

// Notify is the Notify payload (RFC 7296 section 3.10).
type Notify struct {
	Generic
	// Protocol is zero when SPI is empty, else the protocol of the SA
	// that SPI names.
	Protocol   ProtocolID
	SPI        []byte // aliases the parsed input
	NotifyType NotifyType
	Data       []byte // aliases the parsed input
}

// Type returns PayloadNotify.
func (n *Notify) Type() PayloadType { return PayloadNotify }

// Len returns the encoded length.
func (n *Notify) Len() int { return GenericHeaderLen + 4 + len(n.SPI) + len(n.Data) }

// Append appends the payload to b.
func (n *Notify) Append(b []byte) ([]byte, error) {
	if len(n.SPI) > 0xff {
		return b, malformed("notify SPI of %d octets", len(n.SPI))
	}
	b, err := n.Generic.append(b, PayloadNone, n.Len())
	if err != nil {
		return b, err
	}
	b = append(b, byte(n.Protocol), byte(len(n.SPI)))
	b = binary.BigEndian.AppendUint16(b, uint16(n.NotifyType))
	b = append(b, n.SPI...)
	return append(b, n.Data...), nil
}

func parseNotify(g Generic, body []byte) (*Notify, error) {
	if len(body) < 4 {
		return nil, malformed("%d octets, need 4", len(body))
	}
	spiLen := int(body[1])
	if spiLen > len(body)-4 {
		return nil, malformed("SPI size %d, %d octets left", spiLen, len(body)-4)
	}
	return &Notify{
		Generic:    g,
		Protocol:   ProtocolID(body[0]),
		NotifyType: NotifyType(binary.BigEndian.Uint16(body[2:4])),
		SPI:        sub(body, 4, 4+spiLen),
		Data:       sub(body, 4+spiLen, len(body)),
	}, nil
}
