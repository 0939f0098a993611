package ikev2

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
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

// authResponse seals plain, whose first payload is of type first, with
// out, b's keys, as b's IKE_AUTH response to a's half-open sa. A chain
// that parses has its empty AUTH payloads filled in with what a verifies
// over the first responder ID (RFC 7296 §2.15), which the fuzzer cannot
// compute; filled tells whether one was.
func (fx *fuzzFixture) authResponse(sa *ikeSA, out suite.Cipher, first wire.PayloadType, plain []byte) (msg []byte, filled bool) {
	var h wire.Header
	fx.a.onLoop(func(*conn) {
		h = wire.Header{SPIi: sa.spiI, SPIr: sa.spiR, MajorVersion: 2, Exchange: wire.IKEAuth, Flags: wire.FlagResponse}
		if sa.pend != nil {
			h.MessageID = sa.pend.id
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
	b, err := wire.AppendEncryptedHeader(nil, h, first, out.SealedLen(len(plain)))
	if err == nil {
		msg, _ = out.Seal(b, b, plain)
	}
	return msg, filled
}

// bOut returns the keys b seals its messages of a's IKE SA sa with, or
// nil.
func (fx *fuzzFixture) bOut(sa *ikeSA) suite.Cipher {
	var out suite.Cipher
	fx.b.onLoop(func(c *conn) {
		for _, s := range c.sas {
			if s.spiI == sa.spiI && s.out != nil {
				out = s.out
			}
		}
	})
	return out
}

// authFuzzFixture is authFixture's a with an IKE SA whose IKE_AUTH
// request went out, and b's keys for it; b is gone. It lives across fuzz
// iterations.
type authFuzzFixture struct {
	*fuzzFixture
	// sent is a's IKE SA as it was when its IKE_AUTH request went out,
	// kept out of a's connection: each input is answered to a copy of it
	// (again). Only a's loop touches it.
	sent *ikeSA
	out  suite.Cipher // b's keys for sent
}

// newAuthFuzzFixture builds the fixture, which lives as long as f.
func newAuthFuzzFixture(f testing.TB) *authFuzzFixture {
	fx := &authFuzzFixture{fuzzFixture: authFixture(f)}
	sa := fx.reset(f, true)
	if fx.out = fx.bOut(sa); fx.out == nil {
		f.Fatal("b holds no keys for a's IKE SA")
	}
	fx.n.detach(addrB)
	fx.b.m.Close()
	fx.n.mu.Lock()
	fx.n.noRecord = true // what a sends goes nowhere, input after input
	fx.n.mu.Unlock()
	fx.a.onLoop(func(c *conn) {
		c.sas = slices.DeleteFunc(c.sas, func(s *ikeSA) bool { return s == sa })
	})
	fx.sent = sa
	return fx
}

// again ends a's IKE SAs and puts in their place a copy of fx.sent that
// sends its IKE_AUTH request anew (sendAuth): an IKE SA as after its
// IKE_SA_INIT exchange, without that exchange's cost (its Diffie-Hellman
// keys and round trips took most of an input's time). The copy has keys
// of its own, which its end clears (release).
func (fx *authFuzzFixture) again() *ikeSA {
	var sa ikeSA
	fx.a.onLoop(func(c *conn) {
		for _, s := range c.sas {
			s.kill("fuzz reset")
		}
		c.reap()
		sa = *fx.sent
		sa.keys.D, sa.keys.PI, sa.keys.PR = bytes.Clone(sa.keys.D), bytes.Clone(sa.keys.PI), bytes.Clone(sa.keys.PR)
		now := time.Now()
		sa.created, sa.lastRecv = now, now
		sa.nextID = fx.sent.pend.id
		c.m.mu.Lock()
		c.m.ikeSPIs[sa.spiI] = c // the last copy's end let it go
		c.m.mu.Unlock()
		c.sas = []*ikeSA{&sa}
		sa.sendAuth()
	})
	return &sa
}

// settleA returns once a's loop has handled what it was given.
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
//
// Each input is answered to a copy of one IKE SA whose IKE_AUTH request
// went out (authFuzzFixture.again), not to one of a new IKE_SA_INIT
// exchange. Inputs over 512 octets are not tried: the fuzzer minimizes
// each that finds new coverage with some n²/2 cuts of its n octets,
// fuzzing nothing else meanwhile, and the seeds are 137 at most.
func FuzzAuthResponse(f *testing.F) {
	fx := newAuthFuzzFixture(f)
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
		if len(data) == 0 || len(data) > 512 {
			return
		}
		sa := fx.again()
		msg, filled := fx.authResponse(sa, fx.out, wire.PayloadType(data[0]), data[1:])
		if msg == nil {
			t.Fatal("the response could not be sealed")
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
			msg, _ := fx.authResponse(sa, fx.bOut(sa), wire.PayloadIDr, plain)
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
