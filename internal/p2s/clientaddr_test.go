package p2s

import (
	"net/netip"
	"sync"
	"testing"
)

// TestClientAddrWhileIPCPRenegotiates: a program that asks the client
// for its addresses (Addr, Gateway, DNS) while the gateway renegotiates
// IPCP reads what the link last came up with, never the link's own
// state as the reading goroutine writes it (go test -race), and sees
// the renegotiated addresses once the link is up again.
func TestClientAddrWhileIPCPRenegotiates(t *testing.T) {
	x := openIPCP(t, false)
	c := &Client{l: x.l}
	if got := c.Addr(); got != netip.MustParseAddr("172.16.201.2") {
		t.Fatalf("Addr %v once up, want 172.16.201.2", got)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.Addr()
				c.Gateway()
				c.DNS()
			}
		}
	})
	for i := range maxRenegotiations - 1 {
		x.negotiate("the gateway's request", ipcpAddr(netip.AddrFrom4([4]byte{172, 16, 201, byte(100 + i)}).String()))
	}
	close(stop)
	wg.Wait()
	if got := c.Gateway(); got != netip.MustParseAddr("172.16.201.103") {
		t.Errorf("Gateway %v after the renegotiations, want 172.16.201.103", got)
	}
}
