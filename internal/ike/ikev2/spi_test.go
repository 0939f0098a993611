package ikev2

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestReservedChildSPIRefused: a CREATE_CHILD_SA whose proposal names a
// reserved SPI for the peer's inbound SA (RFC 4303 §2.1: 0 MUST NOT be
// sent, 1 to 255 are IANA's) is refused with NO_PROPOSAL_CHOSEN, and no
// child is installed; a valid one is taken.
func TestReservedChildSPIRefused(t *testing.T) {
	_, g, cl := connectedClient(t, 1)
	any4 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	create := func(spi uint32) []wire.Payload {
		t.Helper()
		ni, err := suite.NewNonce()
		if err != nil {
			t.Fatal(err)
		}
		return cl.request(wire.CreateChildSA, []wire.Payload{
			saPayload(mustProposals(t, wire.ProtocolESP, "aes256gcm16"), spi4(spi), false),
			&wire.Nonce{Data: ni}, tsPayload(false, any4), tsPayload(true, any4)})
	}
	for _, spi := range []uint32{0, 1, 255} {
		if n := errorNotify(create(spi)); n == nil || n.NotifyType != wire.NoProposalChosen {
			t.Errorf("a child with the peer's SPI %d answered %v, want NO_PROPOSAL_CHOSEN", spi, n)
		}
	}
	if got := g.dp.count(); got != 1 {
		t.Errorf("%d child SAs in the data path, want 1", got)
	}
	if n := errorNotify(create(256)); n != nil {
		t.Errorf("a child with the peer's SPI 256 answered %v", n.NotifyType)
	}
}

// TestResponderReservedSPIRefused: an answer to a CREATE_CHILD_SA of
// ours that names a reserved SPI for the responder's inbound SA (RFC
// 4303 §2.1) installs no child: the rekey fails, and the pair it was to
// replace stays.
func TestResponderReservedSPIRefused(t *testing.T) {
	_, g, cl := connectedClient(t, 1)
	chs := g.dp.list()
	if len(chs) != 1 {
		t.Fatalf("%d children", len(chs))
	}
	g.m.SoftExpired(chs[0].Tunnel, chs[0].In.SPI)
	var req [][]byte
	waitFor(t, 5*time.Second, "the gateway's rekey", func() bool {
		req = cl.fromGW(wire.CreateChildSA, 0, false)
		return len(req) > 0
	})
	ps := cl.open(req[0])
	saP, ok := find[*wire.SA](ps)
	tsi, tsr := findTS(ps)
	if !ok || len(saP.Proposals) == 0 || tsi == nil || tsr == nil {
		t.Fatalf("the gateway's rekey: %v", ps)
	}
	theirs := suite.Proposal{Protocol: wire.ProtocolESP, Transforms: offered(saP.Proposals[0])}
	s, number, _, ok := choose([]suite.Proposal{theirs}, saP, wire.ProtocolESP, 4, false)
	if !ok || s.DH != wire.DHNone {
		t.Fatalf("the gateway's proposal %v", theirs)
	}
	nr, err := suite.NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	g.m.HandlePacket(p2sGW, cl.addr, cl.respond(wire.CreateChildSA, 0, []wire.Payload{chosenPayload(number, s, spi4(0)), &wire.Nonce{Data: nr}, tsi, tsr}))
	cl.request(wire.Informational, nil) // answered once the loop is past the response
	for _, c := range g.dp.list() {
		if c.Out.SPI < 256 {
			t.Errorf("a child SA sending with the reserved SPI %d installed", c.Out.SPI)
		}
	}
	if got := g.dp.count(); got != 1 {
		t.Errorf("%d child SAs in the data path, want the one the rekey was to replace", got)
	}
}
