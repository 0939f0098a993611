// Package radiustest runs RADIUS servers for tests.
package radiustest

import (
	"net"
	"net/netip"
	"testing"
)

// Silent starts a RADIUS server on addr ("host:0") that reads every
// request and answers none, as one whose user has not approved a second
// factor yet, or one that is down and drops what it gets; it stops when t
// ends. It returns the server's address.
func Silent(t testing.TB, addr string) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		b := make([]byte, 4096)
		for {
			if _, _, err := pc.ReadFrom(b); err != nil {
				return
			}
		}
	}()
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}
