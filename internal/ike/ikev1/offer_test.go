package ikev1

import (
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestNoProposalChosenNamesOffer: a responder that chooses none of the
// peer's phase 1 transforms names them in its status reason, as
// strongSwan's proposals read, so that a user sees what to change: an
// initiator's offer, and one with transforms vnetgw does not implement
// (3DES, MD5, RSA signatures).
func TestNoProposalChosenNamesOffer(t *testing.T) {
	t.Run("another initiator's offer", func(t *testing.T) {
		mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
			pi.IKEProposals = mustP1(t, "aes128-sha1-modp2048")
			pr.IKEProposals = mustP1(t, "aes256-sha256-ecp384")
		})
		shuttle(mi, mr, ri, rr, nil)
		want := "no proposal chosen: the peer's IKEv1 proposals (aes128-sha1-modp2048) match none of the connection's"
		if st := mr.Status()[0]; st.LastError != want {
			t.Errorf("responder's status reason %q, want %q", st.LastError, want)
		}
	})
	t.Run("transforms vnetgw does not implement", func(t *testing.T) {
		m, _ := responder(t)
		tr := func(n uint8, attrs ...wire.Attr) wire.Transform {
			return wire.Transform{Number: n, ID: wire.TransformKeyIKE, Attrs: attrs}
		}
		sa := wire.SA{DOI: wire.DOIIPsec, Situation: wire.SitIdentityOnly, Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtocolISAKMP, Transforms: []wire.Transform{
			tr(1, wire.Attr{Type: wire.AttrEncryption, Value: 5}, wire.Attr{Type: wire.AttrHash, Value: 1},
				wire.Attr{Type: wire.AttrAuthMethod, Value: wire.AuthPSK}, wire.Attr{Type: wire.AttrGroup, Value: 2}),
			tr(2, wire.Attr{Type: wire.AttrEncryption, Value: wire.EncrAESCBC}, wire.Attr{Type: wire.AttrKeyLength, Value: 256},
				wire.Attr{Type: wire.AttrHash, Value: wire.Hash1}, wire.Attr{Type: wire.AttrAuthMethod, Value: 3}, wire.Attr{Type: wire.AttrGroup, Value: 5}),
		}}}}
		body, first := wire.AppendPayloads(nil, []wire.Payload{{Type: wire.PayloadSA, Body: sa.Append(nil)}})
		h := wire.Header{ICookie: 0x1234, Next: first, Exchange: wire.ExchangeMain, Length: uint32(wire.HeaderLen + len(body))}
		m.handle(fuzzLocal, fuzzRemote, append(h.Append(nil), body...))
		want := "(3des-md5-modp1024, aes256-sha1-modp1536 (RSA signatures))"
		if st := m.Status()[0]; !strings.Contains(st.LastError, want) {
			t.Errorf("status reason %q does not name %q", st.LastError, want)
		}
	})
}

// mustP1 parses an IKE proposal in strongSwan's syntax.
func mustP1(t *testing.T, s string) []suite.Proposal {
	t.Helper()
	p, err := suite.ParseProposal(v2.ProtocolIKE, s)
	if err != nil {
		t.Fatal(err)
	}
	return []suite.Proposal{p}
}

// TestQuickModeNoProposalNamesOffer: a responder that chooses none of
// the peer's ESP transforms names them in its status reason; a transform
// of another mode than tunnel mode says so.
func TestQuickModeNoProposalNamesOffer(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.ESPProposals = mustESP(t, "aes128-sha1-modp2048")
		pr.ESPProposals = mustESP(t, "aes256gcm16")
	})
	shuttle(mi, mr, ri, rr, nil)
	want := "quick mode: the peer's ESP proposals (aes128-sha1-modp2048) match none of the connection's"
	if st := mr.Status()[0]; st.LastError != want {
		t.Errorf("responder's status reason %q, want %q", st.LastError, want)
	}
	transport := wire.Transform{Number: 1, ID: wire.ESPAESGCM16, Attrs: []wire.Attr{{Type: wire.AttrEncapMode, Value: 2}, {Type: wire.AttrESPKeyLen, Value: 256}}}
	if got, want := describeP2([]wire.Transform{transport}), "aes256gcm16 (mode 2, not tunnel)"; got != want {
		t.Errorf("a transport mode transform reads %q, want %q", got, want)
	}
}

// mustESP parses an ESP proposal in strongSwan's syntax.
func mustESP(t *testing.T, s string) []suite.Proposal {
	t.Helper()
	p, err := suite.ParseProposal(v2.ProtocolESP, s)
	if err != nil {
		t.Fatal(err)
	}
	return []suite.Proposal{p}
}
