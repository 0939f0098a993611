package gateway_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
)

// TestFileDisableIPSecReplayProtectionRFC4303Section3_4_3: a connection of
// the standalone gateway's JSON file with disableIPSecReplayProtection
// delivers an ESP packet the peer sent twice, as the API's gateway does
// (RFC 4303 §3.4.3: the receiver may turn anti-replay off); without it
// the copy is dropped as a replay. A and B talk through a relay that
// keeps A's last ESP datagram and sends it to B again. Loopback only:
// 127.128.1.0/24 and 127.128.2.0/24, a gateway at .1 and .2, the relay at
// .3.
func TestFileDisableIPSecReplayProtectionRFC4303Section3_4_3(t *testing.T) {
	for i, off := range []bool{true, false} {
		t.Run(fmt.Sprintf("disableIPSecReplayProtection=%v", off), func(t *testing.T) {
			net3 := byte(i + 1)
			addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 128, net3, host}) }
			lanA, lanB := netip.MustParseAddr("10.128.1.1"), netip.MustParseAddr("10.128.2.1")
			r := startRelay(t, addr(3), addr(1), addr(2), loopbackIKEPort, loopbackNATTPort)
			start := func(local, peerID netip.Addr, route string, mode string, noReplay bool) (*gateway.Gateway, *tuntest.Device) {
				cfg := fmt.Sprintf(`{"local": %q, "ikePort": %d, "nattPort": %d, "connections": [{"name": "c", "remote": %q, "remoteID": %q,
					"psk": "Key2026", "mode": %q, "routes": [%q], "disableIPSecReplayProtection": %v}]}`,
					local, loopbackIKEPort, loopbackNATTPort, addr(3), peerID, mode, route, noReplay)
				return startLoopback(t, local, nil, fileConnections(t, cfg)...)
			}
			ga, ia := start(addr(1), addr(2), "10.128.2.0/24", "InitiatorOnly", false)
			gb, ib := start(addr(2), addr(1), "10.128.1.0/24", "ResponderOnly", off)
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("timed out waiting for %s: %+v / %+v / %+v", what, ga.Status(), gb.Status(), gb.Engine().TunnelStatus("c"))
					}
				}
			}
			up := func(gw *gateway.Gateway) bool {
				st := gw.Status()
				return len(st) == 1 && st[0].State == gateway.Connected && len(st[0].Children) == 1
			}
			waitFor("the tunnel", func() bool { return up(ga) && up(gb) })
			written := func() uint64 { n, _, _ := ib.Written(); return n }
			waitFor("a packet through the tunnel", func() bool {
				if written() == 0 {
					ia.Send(ipv4(lanA, lanB, 100))
					time.Sleep(50 * time.Millisecond)
				}
				return written() > 0 && r.lastESP() != nil
			})
			// Every packet A sent is in, so that only the copy can come.
			waitFor("A's packets delivered", func() bool { return written() == ga.Engine().TunnelStatus("c")[0].PacketsOut })
			before := written()
			r.replay(t)
			if off {
				waitFor("the replayed packet delivered", func() bool { return written() == before+1 })
				if d := gb.Engine().TunnelStatus("c")[0].Drops.Replay; d != 0 {
					t.Fatalf("%d replays dropped with anti-replay off", d)
				}
				return
			}
			waitFor("the replayed packet dropped", func() bool { return gb.Engine().TunnelStatus("c")[0].Drops.Replay == 1 })
			if n := written(); n != before {
				t.Fatalf("B delivered %d packets after the replay, want %d", n, before)
			}
		})
	}
}

// relay passes UDP datagrams between a and b on the IKE and NAT-T ports,
// from its own address, and keeps a's last ESP datagram.
type relay struct {
	b    netip.AddrPort // b's NAT-T port
	natt *net.UDPConn   // set before the relay starts
	mu   sync.Mutex     // guards esp
	esp  []byte
}

func startRelay(t *testing.T, self, a, b netip.Addr, ikePort, nattPort uint16) *relay {
	t.Helper()
	r := &relay{b: netip.AddrPortFrom(b, nattPort)}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for _, port := range []uint16{ikePort, nattPort} {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(self, port)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if port == nattPort {
			r.natt = c
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65535)
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				to := netip.AddrPortFrom(a, port)
				if from.Addr() == a {
					to = netip.AddrPortFrom(b, port)
					// ESP in UDP: a non-zero SPI (RFC 3948 §2.2), not a
					// keepalive's one byte.
					if port == nattPort && n > 8 && binary.BigEndian.Uint32(buf) != 0 {
						r.mu.Lock()
						r.esp = append([]byte(nil), buf[:n]...)
						r.mu.Unlock()
					}
				}
				c.WriteToUDPAddrPort(buf[:n], to)
			}
		}()
	}
	return r
}

func (r *relay) lastESP() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.esp
}

// replay sends a's last ESP datagram to b again.
func (r *relay) replay(t *testing.T) {
	t.Helper()
	if _, err := r.natt.WriteToUDPAddrPort(r.lastESP(), r.b); err != nil {
		t.Fatal(err)
	}
}

// A configuration file with a mistake is refused with where the mistake
// is, never with the file's text: json's own errors quote the character
// they stopped at, which may be one of a pre-shared key's, and the value
// of a number given for a string.
func TestReadFileErrorsKeepSecrets(t *testing.T) {
	for _, tc := range []struct{ text, want, secret string }{
		{"{\"local\": \"127.0.0.1\",\n \"connections\": [{\"psk\": Zq9secret}]}", "line 2, column 26", "Z"},
		{`{"connections": [{"psk": 8675309}]}`, "connections.psk must be of type string", "8675309"},
		{`{"connections": [{"psk": "Zq9secret"`, "ends too early", "Zq9"},
		{`{"local": "127.0.0.1", "bogus": 1}`, `unknown field "bogus"`, ""},
		{"{\"local\": \"127.0.0.1\"}\n {\"connections\": [{\"psk\": \"Zq9secret\"}]}", "more after the JSON object, at line 2, column 2", "Zq9"},
	} {
		path := filepath.Join(t.TempDir(), "gw.json")
		if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := gateway.ReadFile(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadFile of %s: %v, want %q", tc.text, err, tc.want)
		} else if tc.secret != "" && strings.Contains(strings.TrimPrefix(err.Error(), path), tc.secret) {
			t.Errorf("ReadFile of %s: %v shows the key", tc.text, err)
		}
	}
}

// fileConnections writes cfg, a gateway file's JSON, as `vnetgw dev
// gateway` reads it, and returns the connections it gives.
func fileConnections(t *testing.T, cfg string) []gateway.Connection {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gw.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := gateway.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conns, err := f.GatewayConnections()
	if err != nil {
		t.Fatal(err)
	}
	return conns
}
