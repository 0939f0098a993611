package ikev1

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
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

// levelCounter counts the records of Info and above a Manager logs.
type levelCounter struct {
	mu sync.Mutex
	n  int
}

func (h *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}
	return nil
}
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelCounter) WithGroup(string) slog.Handler      { return h }

// TestSpoofedMainModeLogsOnce: Main Mode message 1s anyone can send, from
// an address that is no peer, with an unreadable SA, or with transforms
// the connection does not allow, are counted or answered and logged at
// Debug, but for the first refusal of a proposal, which tells the user
// of a policy mismatch: a flood of them wrote a log record at Info or
// Warn each.
func TestSpoofedMainModeLogsOnce(t *testing.T) {
	h := &levelCounter{}
	rec := &recorder{}
	m := New(Config{Transport: rec, Dataplane: rec, Logger: slog.New(h)})
	t.Cleanup(func() { m.Close() })
	if err := m.Reconfig([]ikev2.PeerConfig{fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)}); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.n = 0 // what Reconfig logged
	h.mu.Unlock()
	mm1 := func(cookie uint64, saBody []byte) []byte {
		body, first := wire.AppendPayloads(nil, []wire.Payload{{Type: wire.PayloadSA, Body: saBody}})
		hd := wire.Header{ICookie: cookie, Next: first, Exchange: wire.ExchangeMain, Length: uint32(wire.HeaderLen + len(body))}
		return append(hd.Append(nil), body...)
	}
	tripleDES := wire.SA{DOI: wire.DOIIPsec, Situation: wire.SitIdentityOnly, Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtocolISAKMP, Transforms: []wire.Transform{
		{Number: 1, ID: wire.TransformKeyIKE, Attrs: []wire.Attr{{Type: wire.AttrEncryption, Value: 5}, {Type: wire.AttrHash, Value: wire.Hash1},
			{Type: wire.AttrAuthMethod, Value: wire.AuthPSK}, {Type: wire.AttrGroup, Value: 2}}}}}}}.Append(nil)
	stranger := netip.MustParseAddrPort("192.0.2.99:500")
	for i := range 50 {
		m.handle(fuzzLocal, stranger, mm1(uint64(3*i+1), tripleDES))
		m.handle(fuzzLocal, fuzzRemote, mm1(uint64(3*i+2), []byte{0, 0, 0, 1, 0, 0, 0, 1, 9}))
		m.handle(fuzzLocal, fuzzRemote, mm1(uint64(3*i+3), tripleDES))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n != 1 {
		t.Errorf("150 spoofed message 1s wrote %d log records at Info or above, want 1 (the first refused proposal)", h.n)
	}
}

// TestForgedPhase2LogsAtDebug: encrypted quick mode and informational
// messages that do not check out on an established ISAKMP SA, and
// messages of an exchange vnetgw does not implement (Aggressive Mode),
// which anyone who saw its cookies can send, are counted as Integrity
// and logged at Debug: a flood of them wrote a Warn each.
func TestForgedPhase2LogsAtDebug(t *testing.T) {
	h := &levelCounter{}
	ri, rr := &recorder{}, &recorder{}
	mi, mr := New(Config{Transport: ri, Dataplane: ri}), New(Config{Transport: rr, Dataplane: rr, Logger: slog.New(h)})
	t.Cleanup(func() { mi.Close(); mr.Close() })
	mi.Reconfig([]ikev2.PeerConfig{fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)})
	mr.Reconfig([]ikev2.PeerConfig{fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)})
	shuttle(mi, mr, ri, rr, nil)
	if len(rr.children) != 1 {
		t.Fatalf("not established: %+v", mr.Status())
	}
	mr.mu.Lock()
	sa := onlySAUnlocked(mr)
	ic, rc, local, remote := sa.ic, sa.rc, sa.local, sa.remote
	mr.mu.Unlock()
	h.mu.Lock()
	h.n = 0
	h.mu.Unlock()
	before := mr.Stats().Integrity
	for i := range 50 {
		for j, exch := range []uint8{wire.ExchangeQuick, wire.ExchangeInfo, wire.ExchangeAggr} {
			body := make([]byte, 48)
			body[0] = byte(i)
			hd := wire.Header{ICookie: ic, RCookie: rc, Next: wire.PayloadHash, Exchange: exch, Flags: wire.FlagEncryption,
				MessageID: uint32(1000 + 3*i + j), Length: uint32(wire.HeaderLen + len(body))}
			mr.handle(local, remote, append(hd.Append(nil), body...))
		}
	}
	if got := mr.Stats().Integrity - before; got != 150 {
		t.Errorf("%d of 150 forged messages counted as Integrity", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n != 0 {
		t.Errorf("150 forged messages wrote %d log records at Info or above", h.n)
	}
}
