package bgp

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// Two prefixes a peer announces that its Import moves to one prefix (one
// inside the mapping, one already at its target) are two routes: while
// either is announced, the prefix has a best route.
func TestImportedTwice(t *testing.T) {
	a, pa := netip.MustParseAddr("127.0.60.1"), netip.MustParseAddr("127.0.60.2")
	port := freePort(t, a)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{
		{Name: "a", Addr: pa, AS: 65002, Import: []Mapping{{From: netip.MustParsePrefix("10.77.0.0/16"), To: netip.MustParsePrefix("172.31.0.0/16")}}},
	}})
	p := dialRaw(t, n, pa, port)
	path := []wire.Segment{{ASNs: []uint32{65002}}}
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: path, NextHop: pa, NLRI: pfxs("10.77.3.0/24", "172.31.3.0/24")}.Append(nil, true)))
	waitRoutes(t, n, map[string]string{"172.31.3.0/24": "65002"})
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Withdrawn: pfxs("172.31.3.0/24")}.Append(nil, true)))
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: path, NextHop: pa, NLRI: pfxs("10.88.0.0/24")}.Append(nil, true)))
	// 10.77.3.0/24 is still announced: 172.31.3.0/24 stays.
	waitRoutes(t, n, map[string]string{"172.31.3.0/24": "65002", "10.88.0.0/24": "65002"})
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Withdrawn: pfxs("10.77.3.0/24")}.Append(nil, true)))
	waitRoutes(t, n, map[string]string{"10.88.0.0/24": "65002"})
}

// A peer that does not read (a hung device, a stalled tunnel: its TCP
// window full) holds up no other peer: each session has its own sender,
// so another peer is sent a new route while the stuck one's session still
// waits on its write.
func TestStuckPeerHoldsUpNoOther(t *testing.T) {
	sp := netip.MustParseAddr("127.0.64.1")
	feeder, b, c := netip.MustParseAddr("127.0.64.10"), netip.MustParseAddr("127.0.64.2"), netip.MustParseAddr("127.0.64.3")
	port := freePort(t, sp)
	// The speaker's sockets (accepted: the listener's) hold little
	// unsent: its writes to a peer that does not read block soon.
	n := waitingNode(t, port, net.ListenConfig{Control: smallBuf(syscall.SO_SNDBUF)}, Config{AS: 65515, ID: sp, Peers: []Peer{{Name: "f", Addr: feeder, AS: 65100}, {Name: "b", Addr: b, AS: 65003}, {Name: "c", Addr: c, AS: 65004}}})
	f := dialRawAS(t, n, feeder, port, 65100)
	// b reads everything and notes the prefixes it is sent.
	bv := readAll(t, dialRawAS(t, n, b, port, 65003).c)
	// c: a small receive buffer, and it never reads.
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(c, 0)), Control: smallBuf(syscall.SO_RCVBUF)}
	cc, err := d.Dial("tcp", netip.AddrPortFrom(sp, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Write(mustAppend(wire.AppendMessage(nil, wire.TypeOpen, wire.Open{AS: 65004, ID: c}.Append(nil))))
	cc.Write(mustAppend(wire.AppendMessage(nil, wire.TypeKeepalive, nil)))
	// Enough routes, each with a long path of its own, to fill c's
	// window many times over.
	var msgs []byte
	for j := range 3000 {
		asns := []uint32{65100}
		for k := range 60 {
			asns = append(asns, uint32(4200000000+j*61+k))
		}
		u := wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: asns}}, NextHop: feeder,
			NLRI: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(j >> 8), byte(j)}), 32)}}
		msgs = mustAppend(wire.AppendMessage(msgs, wire.TypeUpdate, mustAppend(u.Append(nil, true))))
	}
	f.c.Write(msgs)
	bv.wait(t, 3000)
	z := wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65100}}}, NextHop: feeder, NLRI: pfxs("192.168.99.0/24")}
	f.send(wire.TypeUpdate, mustAppend(z.Append(nil, true)))
	bv.wait(t, 3001)
	for _, ps := range n.s.Peers() {
		if ps.Name == "c" && ps.State != "Established" {
			t.Errorf("b was sent the route only after c's session ended (%s): c held it up", ps.LastError)
		}
	}
	// Taking c out does not wait for its stuck write to time out.
	start := time.Now()
	n.s.Reconfig(Config{AS: 65515, ID: sp, Peers: []Peer{{Name: "f", Addr: feeder, AS: 65100}, {Name: "b", Addr: b, AS: 65003}}})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("removing the stuck peer took %v (its write waits up to the hold time, %v)", took.Round(time.Millisecond), DefaultHoldTime)
	}
}

// seen counts the prefixes a peer is sent.
type seen struct {
	mu   sync.Mutex
	have map[netip.Prefix]bool
}

// readAll reads what the speaker sends on c until it closes.
func readAll(t *testing.T, c net.Conn) *seen {
	v := &seen{have: map[netip.Prefix]bool{}}
	c.SetReadDeadline(time.Time{}) // not dialRawAS's: it reads as long as the test runs
	go func() {
		var buf [wire.MaxLen]byte
		for {
			typ, body, err := wire.ReadMessage(c, &buf)
			if err != nil {
				return
			}
			if typ != wire.TypeUpdate {
				continue
			}
			u, err := wire.ParseUpdate(body, true)
			if err != nil {
				t.Error(err)
				return
			}
			v.mu.Lock()
			for _, w := range u.Withdrawn {
				delete(v.have, w)
			}
			for _, p := range u.NLRI {
				v.have[p] = true
			}
			v.mu.Unlock()
		}
	}()
	return v
}

// wait waits until n prefixes were sent.
func (v *seen) wait(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		v.mu.Lock()
		got := len(v.have)
		v.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d prefixes sent", got, n)
		}
	}
}

// TestUpdatesFitInMessage: routes with a path long enough that their
// attributes take well over a third of an UPDATE, a short prefix sorted
// first and many /32s after it, reach another peer in UPDATEs of at
// most 4,096 bytes (RFC 4271 §4: a longer one resets the session, again
// on every reconnect), all of them.
func TestUpdatesFitInMessage(t *testing.T) {
	sp, pa, pb := netip.MustParseAddr("127.0.90.1"), netip.MustParseAddr("127.0.90.2"), netip.MustParseAddr("127.0.90.3")
	port := freePort(t, sp)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: sp, Peers: []Peer{{Name: "a", Addr: pa, AS: 65002}, {Name: "b", Addr: pb, AS: 65003}}})
	a := dialRawAS(t, n, pa, port, 65002)
	var long []uint32
	for i := range 419 {
		long = append(long, uint32(70000+i))
	}
	path := []wire.Segment{{ASNs: []uint32{65002}}, {ASNs: long[:255]}, {ASNs: long[255:]}}
	ps := pfxs("10.0.0.0/8")
	for i := range 960 {
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 32))
	}
	for i := 0; i < len(ps); i += 300 {
		a.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: path, NextHop: pa, NLRI: ps[i:min(i+300, len(ps))]}.Append(nil, true)))
	}
	// readAll stops at a message longer than 4,096 bytes: the prefixes
	// after it never arrive.
	readAll(t, dialRawAS(t, n, pb, port, 65003).c).wait(t, len(ps))
}
