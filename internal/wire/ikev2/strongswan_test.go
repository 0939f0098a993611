package ikev2

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

// Messages captured from strongSwan 5.9.8 (two charon instances in network
// namespaces, IKE proposals aes256gcm16-prfsha256-x25519,
// aes128-sha256-modp2048 and aes256-sha512-ecp384, PSK authentication); see
// testdata/strongswan/README.md. Messages on port 4500 are stored without
// the non-ESP marker.
var strongSwanMessages = []string{
	"ike_sa_init_request",
	"ike_sa_init_response",
	"ike_auth_request",
	"ike_auth_response",
	"informational_delete_request",
	"informational_response",
	"ike_auth_request_frag1",
	"ike_auth_request_frag2",
	"ike_auth_request_frag3",
	"ike_auth_response_frag1",
	"ike_auth_response_frag2",
}

// strongSwanInner lists the decrypted SK contents (from charon's log, level
// 3) with the type of their first payload.
var strongSwanInner = []struct {
	name  string
	first PayloadType
}{
	{"ike_auth_request_inner", PayloadIDi},
	{"ike_auth_response_inner", PayloadIDr},
	{"informational_delete_request_inner", PayloadDelete},
}

const (
	capturedSPIi = 0xc9cfa1560e9100e8
	capturedSPIr = 0x01bfeb547a61f6b7
	// AES-GCM-16 in IKE: 8-octet IV, 16-octet ICV, no padding beyond
	// the Pad Length octet (RFC 5282).
	gcmOverhead = 8 + 1 + 16
)

// parseFixture parses a captured message and checks that encoding it again
// gives the captured bytes.
func parseFixture(t *testing.T, name string) Message {
	t.Helper()
	raw := fixture(t, name)
	m, err := ParseMessage(raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if b, err := m.Append(nil); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("%s: re-encoded %x, %v\nwant %x", name, b, err, raw)
	}
	return m
}

// payloadTypes lists the types of a payload chain.
func payloadTypes(ps []Payload) []PayloadType {
	ts := make([]PayloadType, len(ps))
	for i, p := range ps {
		ts[i] = p.Type()
	}
	return ts
}

// notifies lists the notification types of a payload chain, with their
// data.
func notifies(ps []Payload) map[NotifyType][]byte {
	ns := map[NotifyType][]byte{}
	for _, p := range ps {
		if n, ok := p.(*Notify); ok {
			ns[n.NotifyType] = n.Data
		}
	}
	return ns
}

// ikeTransforms lists the transforms of a proposal by name.
func transformNames(p Proposal) []string {
	var s []string
	for _, tr := range p.Transforms {
		s = append(s, tr.String())
	}
	return s
}

func TestStrongSwanIKESAInit(t *testing.T) {
	t.Run("request", func(t *testing.T) {
		m := parseFixture(t, "ike_sa_init_request")
		wantHdr := Header{SPIi: capturedSPIi, NextPayload: PayloadSA, MajorVersion: 2,
			Exchange: IKESAInit, Flags: FlagInitiator, Length: 320}
		if m.Header != wantHdr {
			t.Errorf("header %+v, want %+v", m.Header, wantHdr)
		}
		wantTypes := []PayloadType{PayloadSA, PayloadKE, PayloadNonce,
			PayloadNotify, PayloadNotify, PayloadNotify, PayloadNotify, PayloadNotify}
		if got := payloadTypes(m.Payloads); !reflect.DeepEqual(got, wantTypes) {
			t.Fatalf("payloads %v, want %v", got, wantTypes)
		}
		sa := m.Payloads[0].(*SA)
		wantProposals := [][]string{
			{"ENCR_AES_GCM_16_256", "PRF_HMAC_SHA2_256", "CURVE_25519"},
			{"ENCR_AES_CBC_128", "AUTH_HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256", "MODP_2048"},
			{"ENCR_AES_CBC_256", "AUTH_HMAC_SHA2_512_256", "PRF_HMAC_SHA2_512", "ECP_384"},
		}
		if len(sa.Proposals) != len(wantProposals) {
			t.Fatalf("%d proposals, want %d", len(sa.Proposals), len(wantProposals))
		}
		for i, p := range sa.Proposals {
			if p.Number != uint8(i+1) || p.Protocol != ProtocolIKE || len(p.SPI) != 0 {
				t.Errorf("proposal %d: number %d, protocol %v, SPI %x", i+1, p.Number, p.Protocol, p.SPI)
			}
			if got := transformNames(p); !reflect.DeepEqual(got, wantProposals[i]) {
				t.Errorf("proposal %d: %v, want %v", i+1, got, wantProposals[i])
			}
		}
		if ke := m.Payloads[1].(*KE); ke.Group != DHCurve25519 || len(ke.Data) != 32 {
			t.Errorf("KE group %v with %d octets, want CURVE_25519 with 32", ke.Group, len(ke.Data))
		}
		if n := m.Payloads[2].(*Nonce); len(n.Data) != 32 {
			t.Errorf("nonce of %d octets, want 32", len(n.Data))
		}
		checkNotifies(t, m.Payloads, map[NotifyType]int{
			NATDetectionSourceIP: 20, NATDetectionDestinationIP: 20,
			FragmentationSupported: 0, SignatureHashAlgorithms: 8, RedirectSupported: 0,
		})
		// RFC 7427 §4: SHA2-256, SHA2-384, SHA2-512, Identity.
		if got := notifies(m.Payloads)[SignatureHashAlgorithms]; !bytes.Equal(got, h("0002 0003 0004 0005")) {
			t.Errorf("SIGNATURE_HASH_ALGORITHMS data %x", got)
		}
	})
	t.Run("response", func(t *testing.T) {
		m := parseFixture(t, "ike_sa_init_response")
		wantHdr := Header{SPIi: capturedSPIi, SPIr: capturedSPIr, NextPayload: PayloadSA, MajorVersion: 2,
			Exchange: IKESAInit, Flags: FlagResponse, Length: 240}
		if m.Header != wantHdr {
			t.Errorf("header %+v, want %+v", m.Header, wantHdr)
		}
		sa := m.Payloads[0].(*SA)
		if len(sa.Proposals) != 1 || sa.Proposals[0].Number != 1 {
			t.Fatalf("proposals %+v, want the first one accepted", sa.Proposals)
		}
		if got, want := transformNames(sa.Proposals[0]), []string{"ENCR_AES_GCM_16_256", "PRF_HMAC_SHA2_256", "CURVE_25519"}; !reflect.DeepEqual(got, want) {
			t.Errorf("accepted %v, want %v", got, want)
		}
		if ke := m.Payloads[1].(*KE); ke.Group != DHCurve25519 || len(ke.Data) != 32 {
			t.Errorf("KE group %v with %d octets", ke.Group, len(ke.Data))
		}
		if n := m.Payloads[2].(*Nonce); len(n.Data) != 32 {
			t.Errorf("nonce of %d octets, want 32", len(n.Data))
		}
		checkNotifies(t, m.Payloads, map[NotifyType]int{
			NATDetectionSourceIP: 20, NATDetectionDestinationIP: 20, FragmentationSupported: 0,
			SignatureHashAlgorithms: 8, ChildlessIKEv2Supported: 0, MultipleAuthSupported: 0,
		})
	})
}

// checkNotifies checks the set of notifications and their data lengths.
func checkNotifies(t *testing.T, ps []Payload, want map[NotifyType]int) {
	t.Helper()
	got := notifies(ps)
	if len(got) != len(want) {
		t.Errorf("notifications %v, want %v", got, want)
	}
	for nt, n := range want {
		if data, ok := got[nt]; !ok || len(data) != n {
			t.Errorf("%v: present %v with %d octets, want %d", nt, ok, len(data), n)
		}
	}
}

func TestStrongSwanIKEAuth(t *testing.T) {
	for _, tc := range []struct {
		msg, inner string
		first      PayloadType
		want       []PayloadType
		proposals  int
		spi        string
	}{
		{"ike_auth_request", "ike_auth_request_inner", PayloadIDi,
			[]PayloadType{PayloadIDi, PayloadNotify, PayloadIDr, PayloadAUTH, PayloadSA, PayloadTSi, PayloadTSr,
				PayloadNotify, PayloadNotify, PayloadNotify, PayloadNotify, PayloadNotify}, 2, "ad42506b"},
		{"ike_auth_response", "ike_auth_response_inner", PayloadIDr,
			[]PayloadType{PayloadIDr, PayloadAUTH, PayloadSA, PayloadTSi, PayloadTSr, PayloadNotify, PayloadNotify}, 1, "7b9b606f"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			m := parseFixture(t, tc.msg)
			if m.Header.Exchange != IKEAuth || m.Header.MessageID != 1 || len(m.Payloads) != 1 {
				t.Fatalf("header %+v with %d payloads", m.Header, len(m.Payloads))
			}
			sk := m.Payloads[0].(*Encrypted)
			inner := fixture(t, tc.inner)
			if sk.NextPayload != tc.first || len(sk.Body) != len(inner)+gcmOverhead {
				t.Fatalf("SK next %v with %d octets, want %v with %d", sk.NextPayload, len(sk.Body), tc.first, len(inner)+gcmOverhead)
			}
			ps, err := ParsePayloads(sk.NextPayload, inner)
			if err != nil {
				t.Fatal(err)
			}
			if got := payloadTypes(ps); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("inner payloads %v, want %v", got, tc.want)
			}
			if b, err := AppendPayloads(nil, ps); err != nil || !bytes.Equal(b, inner) {
				t.Errorf("inner re-encoded %x, %v\nwant %x", b, err, inner)
			}
			for _, p := range ps {
				switch p := p.(type) {
				case *ID:
					if p.IDType != IDFQDN {
						t.Errorf("%v type %v, want ID_FQDN", p.Type(), p.IDType)
					}
				case *Auth:
					if p.Method != AuthSharedKeyMIC || len(p.Data) != 32 {
						t.Errorf("AUTH %v with %d octets, want a PRF-HMAC-SHA2-256 MIC", p.Method, len(p.Data))
					}
				case *SA:
					if len(p.Proposals) != tc.proposals {
						t.Errorf("%d ESP proposals, want %d", len(p.Proposals), tc.proposals)
					}
					for _, pr := range p.Proposals {
						if pr.Protocol != ProtocolESP || !bytes.Equal(pr.SPI, h(tc.spi)) {
							t.Errorf("proposal %v SPI %x, want ESP %s", pr.Protocol, pr.SPI, tc.spi)
						}
					}
				case *TrafficSelectors:
					prefix := "10.71."
					if p.Responder {
						prefix = "10.72."
					}
					want := TrafficSelector{Type: TSIPv4AddrRange, EndPort: 65535,
						StartAddr: netip.MustParseAddr(prefix + "0.0"), EndAddr: netip.MustParseAddr(prefix + "255.255")}
					if len(p.Selectors) != 1 || !reflect.DeepEqual(p.Selectors[0], want) {
						t.Errorf("%v %v, want [%v]", p.Type(), p.Selectors, want)
					}
				}
			}
		})
	}
}

func TestStrongSwanInformational(t *testing.T) {
	m := parseFixture(t, "informational_delete_request")
	sk := m.Payloads[0].(*Encrypted)
	inner := fixture(t, "informational_delete_request_inner")
	if m.Header.Exchange != Informational || sk.NextPayload != PayloadDelete || len(sk.Body) != len(inner)+gcmOverhead {
		t.Fatalf("header %+v, SK %v with %d octets", m.Header, sk.NextPayload, len(sk.Body))
	}
	ps, err := ParsePayloads(PayloadDelete, inner)
	if err != nil {
		t.Fatal(err)
	}
	if d := ps[0].(*Delete); len(ps) != 1 || d.Protocol != ProtocolIKE || d.SPISize != 0 || d.SPIs != nil {
		t.Errorf("inner %+v, want a delete of the IKE SA", ps)
	}
	// An empty response: SK with no inner payloads.
	m = parseFixture(t, "informational_response")
	if sk := m.Payloads[0].(*Encrypted); m.Header.Flags != FlagResponse || sk.NextPayload != PayloadNone || len(sk.Body) != gcmOverhead {
		t.Errorf("response %+v, SK %+v", m.Header, sk)
	}
}

// TestStrongSwanFragments reassembles strongSwan's fragmented IKE_AUTH
// messages (RFC 7383), with fragments delivered out of order and twice.
func TestStrongSwanFragments(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		total  int
		first  PayloadType
		order  []int
	}{
		{"ike_auth_request", 3, PayloadIDi, []int{2, 3, 2, 1}},
		{"ike_auth_response", 2, PayloadIDr, []int{1, 1, 2}},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			var r Reassembler
			var want []byte
			for i := 1; i <= tc.total; i++ {
				want = append(want, fixture(t, fragName(tc.prefix, i, true))...)
			}
			for k, i := range tc.order {
				m := parseFixture(t, fragName(tc.prefix, i, false))
				f := m.Payloads[0].(*EncryptedFragment)
				content := fixture(t, fragName(tc.prefix, i, true))
				if f.Number != uint16(i) || int(f.Total) != tc.total || len(f.Body) != len(content)+gcmOverhead {
					t.Fatalf("fragment %d: %d of %d with %d octets", i, f.Number, f.Total, len(f.Body))
				}
				done, err := r.Add(m.Header.MessageID, f, content)
				if err != nil {
					t.Fatal(err)
				}
				if last := k == len(tc.order)-1; done != last {
					t.Fatalf("after fragment %d, done = %v", i, done)
				}
			}
			first, inner, err := r.Reassemble(nil)
			if err != nil || first != tc.first || !bytes.Equal(inner, want) {
				t.Fatalf("Reassemble = %v, %x, %v", first, inner, err)
			}
			if _, err := ParsePayloads(first, inner); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// fragName names fragment i of a captured message or its content.
func fragName(prefix string, i int, content bool) string {
	name := prefix + "_frag" + string(rune('0'+i))
	if content {
		name += "_inner"
	}
	return name
}
