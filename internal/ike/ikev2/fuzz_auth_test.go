package ikev2

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// authFixture is fuzzFixture with narrow traffic selectors: a proposes
// 10.1.0.0/16 to 10.2.0.0/16, so that a responder's answer can name more
// than was proposed.
func authFixture(f testing.TB) *fuzzFixture {
	fx := newFuzzFixture(f)
	here, there := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	pa.Mode, pb.Mode = ModeResponderOnly, ModeResponderOnly
	pa.RetransmitTimeout, pb.RetransmitTimeout = MaxRetransmitTimeout, MaxRetransmitTimeout
	pa.Children, pb.Children = PolicyBased(here, there), PolicyBased(there, here)
	fx.b = newNode(f, fx.n, "b", addrB, Config{}, pb)
	fx.a = newNode(f, fx.n, "a", addrA, Config{}, pa)
	return fx
}

// authResponse seals plain, whose first payload is of type first, as b's
// IKE_AUTH response to a's half-open sa. A chain that parses has its
// empty AUTH payloads filled in with what a verifies over the first
// responder ID (RFC 7296 §2.15), which the fuzzer cannot compute; filled
// tells whether one was.
func (fx *fuzzFixture) authResponse(sa *ikeSA, first wire.PayloadType, plain []byte) (msg []byte, filled bool) {
	var id uint32
	fx.a.onLoop(func(*conn) {
		if sa.pend != nil {
			id = sa.pend.id
		}
		ps, err := wire.ParsePayloads(first, plain)
		if err != nil {
			return
		}
		var idr *wire.ID
		for _, p := range ps {
			switch p := p.(type) {
			case *wire.ID:
				if p.Responder && idr == nil {
					idr = p
				}
			case *wire.Auth:
				if len(p.Data) == 0 && idr != nil {
					if p.Data, err = sa.authData(sa.initResp, sa.ni, sa.keys.PR, idr); err == nil {
						filled = true
					}
				}
			}
		}
		if filled {
			if b, err := wire.AppendPayloads(nil, ps); err == nil {
				plain = b
			}
		}
	})
	fx.b.onLoop(func(c *conn) {
		for _, s := range c.sas {
			if s.spiI != sa.spiI || s.out == nil {
				continue
			}
			h := wire.Header{SPIi: s.spiI, SPIr: s.spiR, MajorVersion: 2, Exchange: wire.IKEAuth, MessageID: id, Flags: wire.FlagResponse}
			b, err := wire.AppendEncryptedHeader(nil, h, first, s.out.SealedLen(len(plain)))
			if err == nil {
				msg, _ = s.out.Seal(b, b, plain)
			}
		}
	})
	return msg, filled
}

// settleA waits until a's loop has processed what it was given.
func (fx *fuzzFixture) settleA() { settleConn(fx.a.m.conn("to-b")) }

// prefixesWithin reports whether every prefix of ps lies inside one of outer.
func prefixesWithin(ps, outer []netip.Prefix) bool {
	for _, p := range ps {
		if !slices.ContainsFunc(outer, func(o netip.Prefix) bool { return o.Bits() <= p.Bits() && o.Contains(p.Addr()) }) {
			return false
		}
	}
	return true
}

// FuzzAuthResponse feeds arbitrary IKE_AUTH responses to an initiator
// (RFC 7296 §1.2), sealed with the keys of its IKE_SA_INIT: whoever
// answered that can send one. Empty AUTH payloads are filled in with a
// valid AUTH, so that the payloads after it (the child's SA and traffic
// selectors, notifies) are reached. It must never panic; an AUTH the
// fuzzer wrote never establishes the SA; and a child it installs has
// traffic selectors within those it proposed (RFC 7296 §2.9: the
// responder may only narrow them).
func FuzzAuthResponse(f *testing.F) {
	fx := authFixture(f)
	here, there := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}
	esp := saPayload(mustProposals(f, wire.ProtocolESP, "aes256gcm16"), spi4(0x0badcafe), false)
	idr := IPIdentity(addrB).payload(true)
	chains := [][]wire.Payload{
		{idr, &wire.Auth{Method: wire.AuthSharedKeyMIC}, esp, tsPayload(false, prefixSelectors(here)), tsPayload(true, prefixSelectors(there))},
		{idr, &wire.Auth{Method: wire.AuthSharedKeyMIC}, esp,
			tsPayload(false, prefixSelectors([]netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")})),
			tsPayload(true, prefixSelectors([]netip.Prefix{netip.MustParsePrefix("10.2.0.0/24"), netip.MustParsePrefix("10.2.9.0/24")}))},
		{idr, &wire.Auth{Method: wire.AuthSharedKeyMIC}, esp,
			tsPayload(false, prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})),
			tsPayload(true, prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}))},
		{idr, &wire.Auth{Method: wire.AuthSharedKeyMIC}, &wire.Notify{NotifyType: wire.TSUnacceptable}},
		{idr, &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: make([]byte, 32)}, esp, tsPayload(false, prefixSelectors(here)), tsPayload(true, prefixSelectors(there))},
		{&wire.Notify{NotifyType: wire.AuthenticationFailed}},
	}
	for _, ps := range chains {
		plain, err := wire.AppendPayloads(nil, ps)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{byte(ps[0].Type())}, plain...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		sa := fx.reset(t, true)
		msg, filled := fx.authResponse(sa, wire.PayloadType(data[0]), data[1:])
		if msg == nil {
			t.Fatal("b holds no keys for a's IKE SA")
		}
		fx.a.m.HandlePacket(sa.local, sa.remote, msg)
		fx.a.m.HandlePacket(sa.local, sa.remote, msg) // again: a retransmission
		fx.settleA()
		live, established := 0, false
		fx.a.onLoop(func(c *conn) {
			for _, s := range c.sas {
				if s.state != stateDead {
					live++
				}
				if s == sa && s.state == stateEstablished {
					established = true
				}
			}
		})
		if live > 1 {
			t.Fatalf("%d IKE SAs after one IKE_AUTH response", live)
		}
		if established && !filled {
			t.Fatal("an IKE_AUTH response whose AUTH the fuzzer wrote established the IKE SA")
		}
		for _, c := range fx.a.dp.list() {
			if !prefixesWithin(c.LocalTS, here) || !prefixesWithin(c.RemoteTS, there) {
				t.Fatalf("child installed with %v to %v; proposed %v to %v", c.LocalTS, c.RemoteTS, here, there)
			}
		}
	})
}

// TestAuthResponseForged: the IKE_AUTH response FuzzAuthResponse forges
// from its first seed establishes the initiator's IKE SA and child; with
// an AUTH of zeros it does not.
func TestAuthResponseForged(t *testing.T) {
	fx := authFixture(t)
	here, there := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}
	esp := saPayload(mustProposals(t, wire.ProtocolESP, "aes256gcm16"), spi4(0x0badcafe), false)
	for _, tc := range []struct {
		name string
		auth []byte
		want bool
	}{{"filled in", nil, true}, {"zeros", make([]byte, 32), false}} {
		t.Run(tc.name, func(t *testing.T) {
			sa := fx.reset(t, true)
			plain, err := wire.AppendPayloads(nil, []wire.Payload{IPIdentity(addrB).payload(true), &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: tc.auth},
				esp, tsPayload(false, prefixSelectors(here)), tsPayload(true, prefixSelectors(there))})
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := fx.authResponse(sa, wire.PayloadIDr, plain)
			fx.a.m.HandlePacket(sa.local, sa.remote, msg)
			fx.settleA()
			got := false
			fx.a.onLoop(func(*conn) { got = sa.state == stateEstablished })
			if got != tc.want {
				t.Fatalf("established %v, want %v", got, tc.want)
			}
			if tc.want && !slices.ContainsFunc(fx.a.dp.list(), func(c ipsec.Child) bool { return c.Out.SPI == 0x0badcafe }) {
				t.Fatalf("no child with outbound SPI 0badcafe: %+v", fx.a.dp.list())
			}
		})
	}
}
