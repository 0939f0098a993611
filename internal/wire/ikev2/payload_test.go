package ikev2

import (
	"bytes"
	"errors"
	"testing"
)

// TestPayloadChain covers the generic payload header and chaining of RFC
// 7296 section 3.2.
func TestPayloadChain(t *testing.T) {
	ps := []Payload{
		&Notify{NotifyType: InitialContact},
		&VendorID{Data: h("01")},
		&Encrypted{NextPayload: PayloadIDi, Body: h("ff")},
	}
	wire := h("2b000008 00 00 4000 | 2e000005 01 | 23000005 ff")
	b, err := AppendPayloads([]byte{0xee}, ps)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, append([]byte{0xee}, wire...)) {
		t.Errorf("AppendPayloads = %x, want ee%x", b, wire)
	}
	got, err := ParsePayloads(PayloadNotify, wire)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].(*Encrypted).NextPayload != PayloadIDi {
		t.Errorf("ParsePayloads = %+v", got)
	}
	if got, err := ParsePayloads(PayloadNone, nil); err != nil || len(got) != 0 {
		t.Errorf("ParsePayloads of an empty chain = %v, %v", got, err)
	}
}

// TestUnknownPayload covers the critical bit of RFC 7296 sections 2.5 and
// 3.2.
func TestUnknownPayload(t *testing.T) {
	t.Run("2.5 unknown type without the critical bit is skipped and kept", func(t *testing.T) {
		wire := h("28000006 abcd | 00000014 00112233445566778899aabbccddeeff")
		ps, err := ParsePayloads(200, wire)
		if err != nil {
			t.Fatal(err)
		}
		u, ok := ps[0].(*Unknown)
		if !ok || u.Type() != 200 || !bytes.Equal(u.Body, h("abcd")) {
			t.Fatalf("first payload %#v, want *Unknown of type 200", ps[0])
		}
		if b, err := AppendPayloads(nil, ps); err != nil || !bytes.Equal(b, wire) {
			t.Errorf("re-encoded %x, %v; want %x", b, err, wire)
		}
	})
	t.Run("2.5 unknown type with the critical bit rejects the message", func(t *testing.T) {
		ps, err := ParsePayloads(PayloadNotify, h("c8000008 00 00 4000 | 00800005 01"))
		var ce *UnsupportedCriticalPayloadError
		if !errors.As(err, &ce) || ce.Type != 200 {
			t.Fatalf("ParsePayloads = %v, %v; want *UnsupportedCriticalPayloadError for 200", ps, err)
		}
		n := ce.Notify()
		if n.NotifyType != UnsupportedCriticalPayload || !bytes.Equal(n.Data, []byte{200}) {
			t.Errorf("Notify() = %+v, want UNSUPPORTED_CRITICAL_PAYLOAD with data c8", n)
		}
	})
	t.Run("3.2 critical bit on a known type is ignored", func(t *testing.T) {
		ps, err := ParsePayloads(PayloadVendorID, h("00800005 01"))
		if err != nil || !ps[0].(*VendorID).Critical {
			t.Fatalf("ParsePayloads = %v, %v", ps, err)
		}
	})
}

func TestPayloadChainMalformed(t *testing.T) {
	tests := []struct {
		name  string
		first PayloadType
		wire  string
	}{
		{"3.2 generic header truncated", PayloadVendorID, "000000"},
		{"3.2 payload length below 4", PayloadVendorID, "00000003"},
		{"3.2 payload length beyond the chain", PayloadVendorID, "00000006 01"},
		{"3.2 next payload announced but nothing follows", PayloadVendorID, "2b000005 01"},
		{"3.2 octets after the last payload", PayloadVendorID, "00000005 01 ff"},
		{"3.14 SK must be the last payload", PayloadSK, "23000005 01 | 00000005 01"},
		{"2.5 SKF must be the last payload", PayloadSKF, "00000008 0001 0001 | 00000004"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ps, err := ParsePayloads(tc.first, h(tc.wire)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParsePayloads = %v, %v; want ErrMalformed", ps, err)
			}
		})
	}
}

func TestAppendPayloadsErrors(t *testing.T) {
	prefix := []byte{1, 2}
	for _, ps := range [][]Payload{
		{&Encrypted{}, &VendorID{}},
		{&EncryptedFragment{Number: 1, Total: 1}, &VendorID{}},
		{&VendorID{}, &Nonce{}},
	} {
		b, err := AppendPayloads(prefix, ps)
		if err == nil {
			t.Errorf("AppendPayloads(%v) succeeded", ps)
		}
		if !bytes.Equal(b, prefix) {
			t.Errorf("AppendPayloads returned %x on error, want %x", b, prefix)
		}
	}
	checkAppendError(t, &Unknown{PayloadType: 200, Body: make([]byte, 0xfffc)})
}

func TestPayloadTypeString(t *testing.T) {
	names := map[PayloadType]string{
		PayloadNone: "NONE", PayloadSA: "SA", PayloadKE: "KE", PayloadIDi: "IDi", PayloadIDr: "IDr",
		PayloadCERT: "CERT", PayloadCERTREQ: "CERTREQ", PayloadAUTH: "AUTH", PayloadNonce: "Nonce",
		PayloadNotify: "N", PayloadDelete: "D", PayloadVendorID: "V", PayloadTSi: "TSi", PayloadTSr: "TSr",
		PayloadSK: "SK", PayloadCP: "CP", PayloadEAP: "EAP", PayloadSKF: "SKF", 49: "PayloadType(49)",
	}
	for pt, want := range names {
		if got := pt.String(); got != want {
			t.Errorf("PayloadType(%d).String() = %q, want %q", uint8(pt), got, want)
		}
	}
}

// TestNames checks the short names of the registry values, as the RFCs and
// IANA spell them, and the fallback for values without one.
func TestNames(t *testing.T) {
	for _, tc := range []struct {
		v    interface{ String() string }
		want string
	}{
		{ProtocolID(0), "NONE"}, {ProtocolIKE, "IKE"}, {ProtocolAH, "AH"}, {ProtocolESP, "ESP"}, {ProtocolID(4), "ProtocolID(4)"},
		{TransformENCR, "ENCR"}, {TransformPRF, "PRF"}, {TransformINTEG, "INTEG"}, {TransformDH, "DH"}, {TransformESN, "ESN"},
		{TransformType(6), "TransformType(6)"},
		{EncrAESCBC, "ENCR_AES_CBC"}, {EncrAESGCM8, "ENCR_AES_GCM_8"}, {EncrAESGCM12, "ENCR_AES_GCM_12"},
		{EncrAESGCM16, "ENCR_AES_GCM_16"}, {EncrID(3), "ENCR(3)"},
		{PRFHMACSHA1, "PRF_HMAC_SHA1"}, {PRFHMACSHA256, "PRF_HMAC_SHA2_256"}, {PRFHMACSHA384, "PRF_HMAC_SHA2_384"},
		{PRFHMACSHA512, "PRF_HMAC_SHA2_512"}, {PRFID(1), "PRF(1)"},
		{IntegID(0), "NONE"}, {IntegHMACSHA1_96, "AUTH_HMAC_SHA1_96"}, {IntegHMACSHA256_128, "AUTH_HMAC_SHA2_256_128"},
		{IntegHMACSHA384_192, "AUTH_HMAC_SHA2_384_192"}, {IntegHMACSHA512_256, "AUTH_HMAC_SHA2_512_256"}, {IntegID(1), "INTEG(1)"},
		{DHGroup(0), "NONE"}, {DHInsecureMODP1024, "MODP_1024"}, {DHMODP2048, "MODP_2048"}, {DHECP256, "ECP_256"},
		{DHECP384, "ECP_384"}, {DHInsecureMODP2048S256, "MODP_2048_256"}, {DHCurve25519, "CURVE_25519"}, {DHGroup(5), "DH(5)"},
		{NoESN, "NO_ESN"}, {WithESN, "ESN"}, {ESNID(2), "ESN(2)"},
		{AttributeKeyLength, "KEY_LENGTH"}, {AttributeType(1), "AttributeType(1)"},
		{IDIPv4Addr, "ID_IPV4_ADDR"}, {IDFQDN, "ID_FQDN"}, {IDRFC822Addr, "ID_RFC822_ADDR"}, {IDIPv6Addr, "ID_IPV6_ADDR"},
		{IDDERASN1DN, "ID_DER_ASN1_DN"}, {IDDERASN1GN, "ID_DER_ASN1_GN"}, {IDKeyID, "ID_KEY_ID"}, {IDType(4), "IDType(4)"},
		{CertX509Signature, "X509_SIGNATURE"}, {CertX509CRL, "X509_CRL"}, {CertHashURLX509, "HASH_URL_X509"},
		{CertHashURLX509Bundle, "HASH_URL_X509_BUNDLE"}, {CertEncoding(1), "CertEncoding(1)"},
		{AuthRSASignature, "RSA_SIGNATURE"}, {AuthSharedKeyMIC, "SHARED_KEY_MIC"}, {AuthDigitalSignature, "DIGITAL_SIGNATURE"},
		{AuthMethod(3), "AuthMethod(3)"},
		{TSIPv4AddrRange, "TS_IPV4_ADDR_RANGE"}, {TSIPv6AddrRange, "TS_IPV6_ADDR_RANGE"}, {TSType(9), "TSType(9)"},
		{CFGRequest, "CFG_REQUEST"}, {CFGReply, "CFG_REPLY"}, {CFGSet, "CFG_SET"}, {CFGAck, "CFG_ACK"}, {CFGType(5), "CFGType(5)"},
		{InternalIP4Address, "INTERNAL_IP4_ADDRESS"}, {InternalIP4Netmask, "INTERNAL_IP4_NETMASK"},
		{InternalIP4DNS, "INTERNAL_IP4_DNS"}, {InternalIP4NBNS, "INTERNAL_IP4_NBNS"}, {InternalIP4DHCP, "INTERNAL_IP4_DHCP"},
		{ApplicationVersion, "APPLICATION_VERSION"}, {InternalIP6Address, "INTERNAL_IP6_ADDRESS"},
		{InternalIP6DNS, "INTERNAL_IP6_DNS"}, {InternalIP6DHCP, "INTERNAL_IP6_DHCP"}, {InternalIP4Subnet, "INTERNAL_IP4_SUBNET"},
		{SupportedAttributes, "SUPPORTED_ATTRIBUTES"}, {InternalIP6Subnet, "INTERNAL_IP6_SUBNET"},
		{CPAttributeType(5), "CPAttributeType(5)"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%T(%v).String() = %q, want %q", tc.v, tc.v, got, tc.want)
		}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&UnsupportedCriticalPayloadError{Type: 200}, "ikev2: unsupported critical payload type PayloadType(200)"},
		{&InvalidMajorVersionError{Major: 3, Minor: 1}, "ikev2: unsupported version 3.1"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
