package tunnel

import (
	"bytes"
	"log/slog"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
	"github.com/vnetgw/vnetgw/internal/udp"
)

// TestPathMTULearnedFromKernelRFC4301 (root): two gateway instances in
// one namespace, at 10.9.1.1 and 10.9.1.3, each watching ICMP on its
// address, have tunnels to one peer, 10.9.2.2, behind a router whose link
// to it carries 1300 bytes. The first instance's tunnel learns the path
// MTU from the router's Fragmentation Needed (RFC 1191), and so does the
// kernel, for the whole namespace. The second instance hears no error:
// its ESP packets of 1462 bytes leave as fragments, and an inner packet
// with Don't Fragment reaches the peer. Its tunnel added afterwards to
// the same peer takes the kernel's path MTU at once, and its tunnel that
// was up already takes it at its next LearnPathMTUs (the gateway's 5 s
// tick): each then drops a 1400-byte packet with Don't Fragment and tells
// its sender 1238, the 1300 of the path less 62 of ESP in UDP over IPv4
// (RFC 4301 §8.2.1), and logs the path MTU lowered.
func TestPathMTULearnedFromKernelRFC4301(t *testing.T) {
	netnstest.Require(t, "ip", "sysctl")
	a, r, b := netnstest.New(t, "ka"), netnstest.New(t, "kr"), netnstest.New(t, "kb")
	aIf, _ := netnstest.Link(t, a, "10.9.1.1/24", r, "10.9.1.2/24")
	rbIf, bIf := netnstest.Link(t, r, "10.9.2.1/24", b, "10.9.2.2/24")
	a.Run("ip", "addr", "add", "10.9.1.3/24", "dev", aIf)
	r.Run("ip", "link", "set", rbIf, "mtu", "1300")
	b.Run("ip", "link", "set", bIf, "mtu", "1300")
	r.Forward()
	a.Run("ip", "route", "add", "10.9.2.0/24", "via", "10.9.1.2")
	b.Run("ip", "route", "add", "10.9.1.0/24", "via", "10.9.2.1")

	icmpFrom := []netip.Addr{netip.MustParseAddr("10.1.255.4")}
	var log logbuf.Buffer // the second instance's
	// engine starts an engine with tunnels, logging into log if it is
	// not nil, whose Transport listens on the NAT-T ports in ns and, if
	// watch, reads ICMP on their address.
	engine := func(ns *netnstest.NS, inner *tuntest.Device, log *logbuf.Buffer, watch bool, tunnels []Tunnel, ports ...string) (*Engine, *udp.Transport) {
		t.Helper()
		tr := udp.New(udp.Config{})
		t.Cleanup(func() { tr.Close() })
		opts := Options{Inner: inner, Outer: tr, ICMPFrom: icmpFrom}
		if log != nil {
			opts.Logger = slog.New(slog.NewTextHandler(log, nil))
		}
		e, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		err = ns.Do(func() error {
			for _, p := range ports {
				local := netip.MustParseAddrPort(p)
				if _, err := tr.ListenNATT(local, e); err != nil {
					return err
				}
				if watch {
					if err := tr.WatchPathMTU(local.Addr()); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Reconfig(Config{Tunnels: tunnels}); err != nil {
			t.Fatal(err)
		}
		return e, tr
	}
	innerA1, innerA2, innerB := tuntest.NewRecorder(64), tuntest.NewRecorder(64), tuntest.NewRecorder(64)
	ea1, _ := engine(a, innerA1, nil, true, []Tunnel{{Name: "first", Routes: prefixes("10.2.0.0/16")}}, "10.9.1.1:4500")
	ea2, trA2 := engine(a, innerA2, &log, true, []Tunnel{{Name: "early", Routes: prefixes("10.2.0.0/16")}, {Name: "late", Routes: prefixes("10.4.0.0/16")}}, "10.9.1.3:4500")
	eb, _ := engine(b, innerB, nil, false, []Tunnel{{Name: "first", Routes: prefixes("10.11.0.0/16")}, {Name: "early", Routes: prefixes("10.12.0.0/16")}, {Name: "late", Routes: prefixes("10.13.0.0/16")}},
		"10.9.2.2:4500", "10.9.2.2:4501")
	// connect gives ea's tunnel name a child SA pair from local to B at
	// remote.
	connect := func(ea *Engine, name, local, remote string, spi uint32) {
		t.Helper()
		ca, cb := childPair(gcm256, name, 0xa0000000+spi, 0xb0000000+spi)
		ca.Local, ca.Remote = netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote)
		cb.Local, cb.Remote = ca.Remote, ca.Local
		if err := eb.AddChild(cb); err != nil {
			t.Fatal(err)
		}
		if err := ea.AddChild(ca); err != nil {
			t.Fatal(err)
		}
	}
	connect(ea1, "first", "10.9.1.1:4500", "10.9.2.2:4500", 1)
	connect(ea2, "early", "10.9.1.3:4500", "10.9.2.2:4500", 2)

	// The first instance's packet makes an ESP packet too long for the
	// path: the router drops it and says so, and the next one is
	// answered.
	toSite2 := sized("10.1.0.5", "10.2.0.7", 1400, true)
	for i := 0; ; i++ {
		innerA1.Send(bytes.Clone(toSite2))
		if answer, ok := innerA1.Next(time.Second); ok {
			checkTooBig(t, answer, toSite2, 1238)
			break
		}
		if i == 10 {
			t.Fatal("the first instance learned no path MTU from the router")
		}
	}
	if got, ok := innerB.Next(50 * time.Millisecond); ok {
		t.Fatalf("the peer got %d bytes from the first instance; want them lost on the path", len(got))
	}

	// The second instance's packet of the same length leaves in
	// fragments: the kernel knows the path MTU, its tunnel does not.
	innerA2.Send(bytes.Clone(toSite2))
	if got, ok := innerB.Next(5 * time.Second); !ok || !bytes.Equal(got, toSite2) {
		t.Fatalf("the peer got %d bytes (%v) through the second instance; want the %d-byte packet, fragmented outside", len(got), ok, len(toSite2))
	}
	if n := trA2.Stats().TooBig; n != 0 {
		t.Fatalf("the second instance read %d ICMP errors; want none (the kernel fragments its ESP packets)", n)
	}

	// sendTooBig sends pkt through the second instance and checks that
	// its sender is told 1238 and the peer gets nothing.
	sendTooBig := func(what string, pkt []byte) {
		t.Helper()
		innerA2.Send(bytes.Clone(pkt))
		answer, ok := innerA2.Next(5 * time.Second)
		if !ok {
			t.Fatalf("%s: the sender was not told the path MTU", what)
		}
		checkTooBig(t, answer, pkt, 1238)
		if got, ok := innerB.Next(50 * time.Millisecond); ok {
			t.Fatalf("%s: the peer got %d bytes; want the packet dropped", what, len(got))
		}
	}
	connect(ea2, "late", "10.9.1.3:4500", "10.9.2.2:4501", 3)
	sendTooBig("a tunnel added after the kernel learned", sized("10.1.0.5", "10.4.0.7", 1400, true))
	ea2.LearnPathMTUs()
	sendTooBig("the tunnel up before, after LearnPathMTUs", toSite2)
	for _, name := range []string{"late", "early"} {
		if !regexp.MustCompile(`msg="path MTU lowered" conn=` + name + ` local=10.9.1.3:4500 peer=10.9.2.2:450[01] mtu=1300`).MatchString(log.String()) {
			t.Errorf("the second instance logged no path MTU of 1300 for tunnel %q:\n%s", name, log.String())
		}
	}
}
