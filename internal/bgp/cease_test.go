package bgp

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// lossyPort is a link to a host that loses the next TCP segment that
// carries data, once armed.
type lossyPort struct {
	fabric.Port
	armed atomic.Bool
	lost  atomic.Int64
}

func (p *lossyPort) Deliver(pkt []byte) {
	if p.armed.Load() && tcpData(pkt) && p.armed.CompareAndSwap(true, false) {
		p.lost.Add(1)
		return
	}
	p.Port.Deliver(pkt)
}

// tcpData reports whether pkt is an IPv4 TCP segment with a payload.
func tcpData(pkt []byte) bool {
	if len(pkt) < 20 || pkt[0]>>4 != 4 || pkt[9] != 6 {
		return false
	}
	ihl := int(pkt[0]&0x0f) * 4
	if len(pkt) < ihl+20 {
		return false
	}
	return len(pkt) > ihl+int(pkt[ihl+12]>>4)*4
}

// TestCeaseLostOnceAtStop: a speaker on a userspace stack (a gateway's)
// whose Cease is lost on the way when it stops still tells its peer: the
// connection is closed gracefully and the close waits for the peer's
// end, so that the Cease is sent again before the stack goes. It was
// closed at once and the stack after it, which sent nothing again: the
// peer read a reset, no Cease, and one whose reset was lost too (a tunnel
// torn down right after) had only its hold timer to end the session.
func TestCeaseLostOnceAtStop(t *testing.T) {
	r := fabric.NewRouter()
	speakerAddr, peerAddr := netip.MustParseAddr("10.1.255.4"), netip.MustParseAddr("10.99.0.1")
	peer, err := fabric.NewNetstackEndpoint("peer", peerAddr, 0, r)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	ep, err := fabric.NewNetstackEndpoint("speaker", speakerAddr, 0, r)
	if err != nil {
		t.Fatal(err)
	}
	link := &lossyPort{Port: peer}
	r.SetRoutes([]fabric.Route{{Prefix: netip.PrefixFrom(speakerAddr, 32), Port: ep}, {Prefix: netip.PrefixFrom(peerAddr, 32), Port: link}})
	l, err := peer.Listen(Port)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := New(Options{HoldTime: 90 * time.Second, ConnectRetry: 200 * time.Millisecond, Dial: ep.DialFrom})
	s.Reconfig(Config{AS: 65515, ID: speakerAddr, Peers: []Peer{{Name: "site", Addr: peerAddr, AS: 65002}}})
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &rawPeer{t: t, c: c}
	p.expect(wire.TypeOpen)
	p.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 90, ID: peerAddr}.Append(nil))
	p.send(wire.TypeKeepalive, nil)
	p.expect(wire.TypeKeepalive)
	for deadline := time.Now().Add(30 * time.Second); s.Peers()[0].State != "Established"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no session: %+v", s.Peers())
		}
	}

	link.armed.Store(true)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.Close()
		ep.Close() // as the gateway's speaker stops
	}()
	p.expectNotification(wire.CodeCease, wire.SubAdminShutdown)
	c.Close()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the stop has not returned in 30 s")
	}
	if link.lost.Load() != 1 {
		t.Fatalf("the link lost %d segments, want the Cease's", link.lost.Load())
	}
}
