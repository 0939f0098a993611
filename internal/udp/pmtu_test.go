package udp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// tooBigs is a PathMTUHandler that passes on what it is told.
type tooBigs chan [3]any

func (tooBigs) HandleESP(netip.AddrPort, []Message) {}

func (c tooBigs) PathMTU(local, remote netip.AddrPort, mtu int) { c <- [3]any{local, remote, mtu} }

// TestWatchPathMTURFC1191 (root): a Transport in one namespace sends,
// through a router in another, to a link that carries 1300 bytes. The
// router's Fragmentation Needed (RFC 1191) or Packet Too Big (RFC 8201)
// about a datagram of 1400 bytes from a NAT-T endpoint, or an ESP packet
// from a raw ESP endpoint, reaches that endpoint's handler with the path
// and 1300, for IPv4 and IPv6, and is counted; one about a datagram of an endpoint without an ESP handler
// (IKE's port 500) reaches nobody. The kernel learns them too: another
// Transport's KernelPathMTU reads them.
func TestWatchPathMTURFC1191(t *testing.T) {
	netnstest.Require(t, "ip", "sysctl")
	a, r, b := netnstest.New(t, "pa"), netnstest.New(t, "pr"), netnstest.New(t, "pb")
	aIf, raIf := netnstest.Link(t, a, "10.9.1.1/24", r, "10.9.1.2/24")
	rbIf, bIf := netnstest.Link(t, r, "10.9.2.1/24", b, "10.9.2.2/24")
	for _, c := range []struct {
		ns       *netnstest.NS
		ifc, six string
	}{{a, aIf, "fd09:1::1/64"}, {r, raIf, "fd09:1::2/64"}, {r, rbIf, "fd09:2::1/64"}, {b, bIf, "fd09:2::2/64"}} {
		c.ns.Run("ip", "addr", "add", c.six, "dev", c.ifc, "nodad")
	}
	r.Run("ip", "link", "set", rbIf, "mtu", "1300")
	b.Run("ip", "link", "set", bIf, "mtu", "1300")
	r.Run("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	a.Run("ip", "route", "add", "10.9.2.0/24", "via", "10.9.1.2")
	a.Run("ip", "-6", "route", "add", "fd09:2::/64", "via", "fd09:1::2")

	h := make(tooBigs, 8)
	tr := New(Config{})
	defer tr.Close()
	natt4, natt6, ike := netip.MustParseAddrPort("10.9.1.1:4500"), netip.MustParseAddrPort("[fd09:1::1]:4500"), netip.MustParseAddrPort("10.9.1.1:500")
	espLocal := netip.MustParseAddrPort("10.9.1.1:0") // ESP as IP protocol 50
	err := a.Do(func() error {
		for _, l := range []netip.AddrPort{natt4, natt6} {
			if _, err := tr.ListenNATT(l, h); err != nil {
				return err
			}
			if err := tr.WatchPathMTU(l.Addr()); err != nil {
				return err
			}
		}
		if _, err := tr.ListenESP(espLocal.Addr(), h); err != nil {
			return err
		}
		_, err := tr.ListenIKE(ike)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	send := func(local netip.AddrPort, to string) {
		t.Helper()
		if err := tr.WriteBatch(local, []Message{{Buf: make([]byte, 1400), Addr: netip.MustParseAddrPort(to)}}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(local netip.AddrPort, to string) {
		t.Helper()
		select {
		case got := <-h:
			if w := [3]any{local, netip.MustParseAddrPort(to), 1300}; got != w {
				t.Fatalf("the handler was told %v, want %v", got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the handler was told nothing of %v to %v", local, to)
		}
	}
	send(natt4, "10.9.2.2:4500")
	want(natt4, "10.9.2.2:4500")
	send(natt6, "[fd09:2::2]:4500")
	want(natt6, "[fd09:2::2]:4500")
	send(espLocal, "10.9.2.5:0")
	want(espLocal, "10.9.2.5:0")
	// The router answers in order: the error about the IKE datagram is
	// read before the one about the next.
	send(ike, "10.9.2.3:500")
	send(natt4, "10.9.2.4:4500")
	want(natt4, "10.9.2.4:4500")
	if n := tr.Stats().TooBig; n != 4 {
		t.Errorf("Stats().TooBig = %d, want 4", n)
	}

	// The kernel learned the same path MTUs, for the whole namespace: a
	// second Transport at another address, which heard no error, reads
	// them (KernelPathMTU) for its NAT-T and raw ESP endpoints. A path no
	// router spoke of has its device's MTU; an endpoint without an ESP
	// handler reads none.
	a.Run("ip", "addr", "add", "10.9.1.3/24", "dev", aIf)
	a.Run("ip", "addr", "add", "fd09:1::3/64", "dev", aIf, "nodad")
	other := New(Config{})
	defer other.Close()
	other4, other6, otherESP := netip.MustParseAddrPort("10.9.1.3:4500"), netip.MustParseAddrPort("[fd09:1::3]:4500"), netip.MustParseAddrPort("10.9.1.3:0")
	err = a.Do(func() error {
		for _, l := range []netip.AddrPort{other4, other6} {
			if _, err := other.ListenNATT(l, h); err != nil {
				return err
			}
		}
		_, err := other.ListenESP(otherESP.Addr(), h)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		local  netip.AddrPort
		remote string
		mtu    int
	}{
		{other4, "10.9.2.2:4500", 1300},
		{other6, "[fd09:2::2]:4500", 1300},
		{otherESP, "10.9.2.5:0", 1300},
		{other4, "10.9.2.9:4500", 1500},
	} {
		if mtu, err := other.KernelPathMTU(c.local, netip.MustParseAddrPort(c.remote)); err != nil || mtu != c.mtu {
			t.Errorf("KernelPathMTU(%v, %v) = %d, %v; want %d", c.local, c.remote, mtu, err, c.mtu)
		}
	}
	if mtu, err := tr.KernelPathMTU(ike, netip.MustParseAddrPort("10.9.2.2:500")); err == nil {
		t.Errorf("KernelPathMTU of the IKE endpoint = %d, want an error", mtu)
	}
}
