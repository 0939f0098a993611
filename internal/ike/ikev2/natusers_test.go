package ikev2

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/radius/radiustest"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestEAPClientsBehindOneNAT: the users behind one NAT share its address;
// more of them than maxPendingClientsPerSender wait for their RADIUS
// server at once (a second factor; here the server never answers), and
// each one's IKE_SA_INIT is answered: the bound of one sender holds only
// until a client's first IKE_AUTH request. Before, the 17th user's
// IKE_SA_INIT was dropped without a word until one of the others was
// done. IKE_SA_INIT requests alone from that address are still bounded,
// and those refused are logged once, with their count, not one line each.
func TestEAPClientsBehindOneNAT(t *testing.T) {
	var log logbuf.Buffer
	g := newP2SGateway(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil)), CookieThreshold: 1 << 20, MaxHalfOpen: 1 << 10})
	// The users' RADIUS server, waiting for their second factor.
	silent := radiustest.Silent(t, "127.191.0.3:0")
	pki := newPKI(t)
	cfg := pki.clients(g.hooks, p2sPool, 10)
	cfg.Radius = []radius.Server{{Addr: silent, Secret: []byte("s")}}
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	nat := netip.MustParseAddr("198.51.100.200")
	for i := range maxPendingClientsPerSender + 4 {
		cl := newP2SClient(t, g, netip.AddrPortFrom(nat, uint16(20000+i)))
		idi := IPIdentity(netip.AddrFrom4([4]byte{192, 168, 1, byte(1 + i)})).payload(false)
		m := beginEAP(t, cl, idi, false, []byte{0x10, 1, 2, byte(i)}) // fails the test when IKE_SA_INIT goes unanswered
		identity := ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeIdentity, Data: fmt.Appendf(nil, "user%d", i)}
		g.m.HandlePacket(p2sGW, cl.addr, cl.seal(wire.IKEAuth, cl.nextID, []wire.Payload{&wire.EAP{Data: identity.Append(nil)}}))
	}
	if got := g.m.Stats().ClientsFull; got != 0 {
		t.Errorf("ClientsFull %d, want 0", got)
	}

	for i := range maxPendingClientsPerSender {
		newP2SClient(t, g, netip.AddrPortFrom(nat, uint16(30000+i))).init() // half open
	}
	const refused = 3
	for i := range refused {
		extra := newP2SClient(t, g, netip.AddrPortFrom(nat, uint16(40000+i)))
		g.m.HandlePacket(p2sGW, extra.addr, extra.initRequest())
		if n := len(g.tr.to(extra.addr)); n != 0 {
			t.Errorf("IKE_SA_INIT %d beyond %d half open from one address answered with %d datagrams", i+1, maxPendingClientsPerSender, n)
		}
	}
	if got := g.m.Stats().ClientsFull; got != refused {
		t.Errorf("ClientsFull %d, want %d", got, refused)
	}
	lines := 0
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, "point-to-site client refused: too many from its address") && strings.Contains(line, "refused=1") {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("%d refused IKE_SA_INIT requests logged %d lines naming the bound and the count, want 1", refused, lines)
	}
}
