package server

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/dnstest"
)

// TestResolverNamesItsServer: serve's --dns-server answers the lookups of
// sites given by name, and a failed one names that server, where the user
// looks, not the system's resolver, which Go's resolver named although
// the question never went there.
func TestResolverNamesItsServer(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.225.0.53:0")
	if err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Serve(t, conn)
	site := netip.MustParseAddr("127.225.1.1")
	dns.Set("branch.example", site)
	r := resolver(dns.Addr())
	ctx := context.Background()
	if addrs, err := r.LookupNetIP(ctx, "ip4", "branch.example"); err != nil || len(addrs) != 1 || addrs[0] != site {
		t.Fatalf("branch.example: %v, %v; want %v", addrs, err, site)
	}
	_, err = r.LookupNetIP(ctx, "ip4", "gone.example")
	de, ok := err.(*net.DNSError)
	if !ok || !de.IsNotFound {
		t.Fatalf("gone.example: %v; want a DNS error saying it is not found", err)
	}
	if de.Server != dns.Addr() || !strings.Contains(err.Error(), "on "+dns.Addr()) {
		t.Errorf("the error %q names server %q; want %s, the one asked", err, de.Server, dns.Addr())
	}
	if resolver("") != nil {
		t.Error("without --dns-server, the resolver is not the system's (nil)")
	}
}
