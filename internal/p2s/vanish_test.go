package p2s

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// freezer joins connections to a server until frozen: from then on
// nothing passes either way, and the connections stay open, as when a
// laptop drops off its network without a word.
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn // closed when the test ends
}

func startFreezer(t *testing.T, listen string, to netip.AddrPort) *freezer {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", to.String())
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, up)
			f.mu.Unlock()
			go f.pass(c, up)
			go f.pass(up, c)
		}
	}()
	return f
}

// pass copies from a to b until frozen.
func (f *freezer) pass(a, b net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := a.Read(buf)
		if err != nil || f.frozen.Load() {
			return
		}
		if _, err := b.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (f *freezer) addr() netip.AddrPort { return netip.MustParseAddrPort(f.ln.Addr().String()) }

// TestSSTPClientVanishesMSSTPSection3_1_2_2: a client that vanishes
// without a word (its connection open, nothing coming from it) is asked
// for an echo when the hello timer runs out, and dropped when that goes
// unanswered as long ([MS-SSTP] §3.1.2.2): its address and its place
// (R11) are free again, for the next client.
func TestSSTPClientVanishesMSSTPSection3_1_2_2(t *testing.T) {
	r := newRegion(t, Config{Hello: 300 * time.Millisecond, MaxClients: 1, Listen: netip.MustParseAddrPort("127.169.0.3:0")})
	f := startFreezer(t, "127.169.0.4:0", r.srv.Addr())
	gone, _, err := r.dial(t, r.pki.client, func(c *ClientConfig) { c.Server = f.addr() })
	if err != nil {
		t.Fatal(err)
	}
	if cs := r.srv.Clients(); len(cs) != 1 || cs[0].Addr != gone.Addr() {
		t.Fatalf("the gateway lists %+v, want the client at %v", cs, gone.Addr())
	}
	f.frozen.Store(true)
	untilTrue(t, "the vanished client dropped", func() bool { return len(r.srv.Clients()) == 0 })
	// Another user: not the same client connecting again, which takes
	// its own stale connection's place anyway.
	bob := pkitest.Issue(t, "bob", false, r.pki.root).TLS()
	next, _, err := r.dial(t, bob)
	if err != nil {
		t.Fatalf("the next client, with the gateway's one place: %v", err)
	}
	if next.Addr() != gone.Addr() {
		t.Errorf("the next client got %v, want the vanished client's %v, the lowest free", next.Addr(), gone.Addr())
	}
}

// TestSSTPGatewayVanishesMSSTPSection3_1_2_2: vnetgw's client notices a
// gateway that vanishes without a word the same way: its echo goes
// unanswered after its hello timer, and the connection ends ([MS-SSTP]
// §3.1.2.2) instead of waiting for a gateway that is gone.
func TestSSTPGatewayVanishesMSSTPSection3_1_2_2(t *testing.T) {
	r := newRegion(t, Config{Listen: netip.MustParseAddrPort("127.169.0.6:0")})
	f := startFreezer(t, "127.169.0.7:0", r.srv.Addr())
	c, _, err := r.dial(t, r.pki.client, func(c *ClientConfig) { c.Server, c.Hello = f.addr(), 300*time.Millisecond })
	if err != nil {
		t.Fatal(err)
	}
	f.frozen.Store(true)
	select {
	case err := <-c.Done():
		if err == nil {
			t.Error("the connection ended without saying why")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the client still waits for a gateway that vanished")
	}
}
