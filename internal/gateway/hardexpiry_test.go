package gateway_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
)

// TestHardByteLimitRFC4301Section4_4_2_1: a child SA that reaches its hard
// byte limit without a rekey (no soft limit here; a failed rekey leaves it
// so too) is deleted, the peer told, and a new child comes up that carries
// the traffic: RFC 4301 §4.4.2.1. The expired child stayed installed and
// Connected, dropping every packet. Two gateways on loopback only:
// 127.108.0.1 and 127.108.0.2.
func TestHardByteLimitRFC4301Section4_4_2_1(t *testing.T) {
	addrA, addrB := netip.MustParseAddr("127.108.0.1"), netip.MustParseAddr("127.108.0.2")
	lanA, lanB := netip.MustParseAddr("10.108.1.1"), netip.MustParseAddr("10.108.2.1")
	start := func(local, remote netip.Addr, route netip.Prefix, mode ikev2.ConnectionMode, limits esp.Limits) (*gateway.Gateway, *tuntest.Device) {
		inner := tuntest.NewSink(64)
		gw, err := gateway.Start(gateway.Options{Local: local, IKEPort: 51500, NATTPort: 55500, Inner: inner, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gw.Close() })
		conn := gateway.Connection{Peer: ikev2.PeerConfig{Name: "c", Remote: netip.AddrPortFrom(remote, 51500), PSK: ikev2.PSK("Key2026"),
			Mode: mode, ChildLimits: limits, RetransmitTimeout: 200 * time.Millisecond}, Routes: []netip.Prefix{route}}
		if err := gw.Reconfig([]gateway.Connection{conn}); err != nil {
			t.Fatal(err)
		}
		return gw, inner
	}
	ga, ia := start(addrA, addrB, netip.PrefixFrom(lanB, 24).Masked(), ikev2.ModeInitiatorOnly, esp.Limits{HardBytes: 10 * 100})
	gb, ib := start(addrB, addrA, netip.PrefixFrom(lanA, 24).Masked(), ikev2.ModeResponderOnly, esp.Limits{})
	connected := func(gw *gateway.Gateway) (gateway.ConnectionStatus, bool) {
		st := gw.Status()
		if len(st) != 1 {
			return gateway.ConnectionStatus{}, false
		}
		return st[0], st[0].State == gateway.Connected && len(st[0].Children) == 1
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %+v / %+v", what, ga.Status(), gb.Status())
			}
		}
	}
	waitFor("the tunnel", func() bool { _, a := connected(ga); _, b := connected(gb); return a && b })
	first, _ := connected(ga)
	// 10 packets of 100 bytes reach the hard limit; B takes more only
	// through a new child.
	sent := 0
	waitFor("a new child carrying the traffic", func() bool {
		ia.Send(ipv4(lanA, lanB, 100))
		sent++
		a, ok := connected(ga)
		if !ok || a.Children[0].InSPI == first.Children[0].InSPI || sent < 12 {
			return false
		}
		b, ok := connected(gb)
		packets, _, _ := ib.Written()
		return ok && packets > 10 && a.Children[0].OutSPI == b.Children[0].InSPI
	})
}

// ipv4 is an IPv4 packet of n bytes from src to dst.
func ipv4(src, dst netip.Addr, n int) []byte {
	p := make([]byte, n)
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(n))
	s, d := src.As4(), dst.As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	return p
}
