package bgp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestSlowPeerKeepsSession: a peer that takes the speaker's table slowly
// (a slow or lossy tunnel, a busy device: here it reads nothing for 12 s,
// within the 30 s hold time agreed) keeps its session and gets the whole
// table. Each write of 64 KiB had 10 s: on a tunnel that takes less than
// 6.5 KB/s, or that stalls for longer than 10 s, the session ended and
// its next one began the table again.
func TestSlowPeerKeepsSession(t *testing.T) {
	n, p, networks := bigTable(t, "127.87.4", 30)
	// Nothing read for 12 s; the peer's keepalives go on.
	for range 3 {
		time.Sleep(4 * time.Second)
		p.send(wire.TypeKeepalive, nil)
	}
	have := map[netip.Prefix]bool{}
	c := p.c
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	for len(have) < len(networks) {
		typ, body, err := wire.ReadMessage(c, &p.buf)
		if err != nil {
			t.Fatalf("%d of %d networks, then %v; the peer: %+v", len(have), len(networks), err, n.s.Peers())
		}
		if typ != wire.TypeUpdate {
			continue
		}
		u, err := wire.ParseUpdate(body, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, pfx := range u.NLRI {
			have[pfx] = true
		}
	}
	if ps := n.s.Peers(); ps[0].State != "Established" {
		t.Errorf("after the table: %+v", ps[0])
	}
}

// TestStalledPeerEndsSession: a peer that takes nothing of the table for
// the hold time agreed (3 s here) has its session ended, though it sends
// keepalives; its status says why (it said its connection was closed).
func TestStalledPeerEndsSession(t *testing.T) {
	n, p, _ := bigTable(t, "127.87.5", 3)
	deadline := time.Now().Add(60 * time.Second)
	for n.s.Peers()[0].State == "Established" {
		if time.Now().After(deadline) {
			t.Fatalf("the session of a peer that takes nothing stays: %+v", n.s.Peers())
		}
		p.send(wire.TypeKeepalive, nil)
		time.Sleep(time.Second)
	}
	if ps := n.s.Peers(); !strings.Contains(ps[0].LastError, "the peer took nothing for 3s") {
		t.Errorf("the peer's last error: %q", ps[0].LastError)
	}
}

// bigTable starts a speaker at base.1 whose sockets hold little unsent,
// with 30,000 networks (UPDATEs of about 120 KB, many times what the
// sockets hold), and opens a session with it from base.2 with the hold
// time given, on a socket that holds little unread.
func bigTable(t *testing.T, base string, hold uint16) (*node, *rawPeer, []netip.Prefix) {
	t.Helper()
	sp, b := netip.MustParseAddr(base+".1"), netip.MustParseAddr(base+".2")
	port := freePort(t, sp)
	var networks []netip.Prefix
	for i := range 30000 {
		networks = append(networks, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24))
	}
	n := waitingNode(t, port, net.ListenConfig{Control: smallBuf(syscall.SO_SNDBUF)}, Config{AS: 65515, ID: sp, Networks: networks, Peers: []Peer{{Name: "b", Addr: b, AS: 65002}}})
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(b, 0)), Control: smallBuf(syscall.SO_RCVBUF)}
	c, err := d.Dial("tcp", netip.AddrPortFrom(sp, port).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	p.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: hold, ID: b}.Append(nil))
	p.expect(wire.TypeOpen)
	p.send(wire.TypeKeepalive, nil)
	p.expect(wire.TypeKeepalive)
	for deadline := time.Now().Add(10 * time.Second); n.s.Peers()[0].State != "Established"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no session: %+v", n.s.Peers())
		}
	}
	return n, p, networks
}

// TestPeerNotificationIsLastError: a peer that ends the session with a
// NOTIFICATION while it is sent a large table is listed with what it
// said, not with the write that its closing broke.
func TestPeerNotificationIsLastError(t *testing.T) {
	n, p, _ := bigTable(t, "127.87.7", 30)
	p.send(wire.TypeNotification, wire.Notification{Code: wire.CodeCease, Subcode: wire.SubAdminShutdown}.Append(nil))
	p.c.Close()
	for deadline := time.Now().Add(30 * time.Second); n.s.Peers()[0].State == "Established"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the session stays after the peer's NOTIFICATION: %+v", n.s.Peers())
		}
	}
	if ps := n.s.Peers(); !strings.Contains(ps[0].LastError, "NOTIFICATION: cease") {
		t.Errorf("the peer's last error: %q", ps[0].LastError)
	}
}

// TestEndWhileSendingToSlowPeer: when the speaker ends a session (a
// malformed UPDATE, the hold timer) while it sends a large table to a
// peer that reads slowly (2.5 KB/s: the table would take it 50 s), the
// peer's routes go at once, and its NOTIFICATION comes before the rest of
// the table, right after the UPDATE it was in the middle of (RFC 4271 §6:
// the connection is closed after it). Both waited for the whole table:
// the NOTIFICATION waited for the sender's round.
func TestEndWhileSendingToSlowPeer(t *testing.T) {
	for i, c := range []struct {
		name string
		hold uint16
		end  func(p *rawPeer) // ends the session, the speaker's side
		code uint8
		sub  uint8
	}{
		{"malformed UPDATE", 30, func(p *rawPeer) {
			b := mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}},
				NextHop: netip.MustParseAddr("127.95.1.2"), NLRI: pfxs("192.168.9.0/24")}.Append(nil, true))
			b[len(b)-4] = 40 // a prefix of 40 bits
			p.send(wire.TypeUpdate, b)
		}, wire.CodeUpdate, wire.SubBadNetwork},
		{"hold timer expired", 3, func(*rawPeer) {}, wire.CodeHoldExpired, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := fmt.Sprintf("127.95.%d", 1+i)
			n, p, networks := bigTable(t, base, c.hold)
			peer := netip.MustParseAddr(base + ".2")
			var fast atomic.Bool
			done := readSlowly(p, &fast)
			p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}},
				NextHop: peer, NLRI: pfxs("192.168.2.0/24")}.Append(nil, true)))
			waitRoutes(t, n, map[string]string{"192.168.2.0/24": "65002"})
			c.end(p)
			waitRoutes(t, n, map[string]string{})
			if ps := n.s.Peers(); ps[0].State == "Established" {
				t.Errorf("the peer's routes are gone, its session stays: %+v", ps[0])
			}
			fast.Store(true)
			p.expectLast(done, len(networks), c.code, c.sub)
		})
	}
}

// TestStopWhileSendingToSlowPeer: a peer that reads slowly (2.5 KB/s)
// while it is sent a large table is told with a Cease (RFC 4271 §6.7)
// when the speaker stops (serve stops, the gateway goes) or the peer is
// removed, right after the UPDATE under way, and the connection is
// closed. The connection was closed without one, in the middle of the
// UPDATE, when its sender was writing: a peer whose connection's end
// does not reach it (a tunnel that goes next) learned of it only when
// its hold timer expired, keeping the routes it had learned till then.
func TestStopWhileSendingToSlowPeer(t *testing.T) {
	for i, c := range []struct {
		name string
		stop func(n *node)
		sub  uint8 // of the Cease (RFC 4486)
	}{
		{"speaker closed", func(n *node) { n.s.Close() }, wire.SubAdminShutdown},
		{"peer removed", func(n *node) {
			cfg := n.s.Config()
			cfg.Peers = nil
			n.s.Reconfig(cfg)
		}, wire.SubDeconfigured},
		{"local AS changed", func(n *node) {
			cfg := n.s.Config()
			cfg.AS++
			n.s.Reconfig(cfg)
		}, wire.SubConfigChange},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := fmt.Sprintf("127.95.%d", 11+i)
			n, p, networks := bigTable(t, base, 30)
			var fast atomic.Bool
			done := readSlowly(p, &fast)
			var sc *conn
			n.s.mu.Lock()
			for _, pr := range n.s.peers {
				for k := range pr.conns {
					sc = k
				}
			}
			n.s.mu.Unlock()
			stopped := make(chan struct{})
			go func() {
				c.stop(n)
				close(stopped)
			}()
			// Once the session ends, the peer reads at full speed.
			for deadline := time.Now().Add(30 * time.Second); !sc.ending.Load(); time.Sleep(10 * time.Millisecond) {
				if isClosed(stopped) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the session does not end")
				}
			}
			fast.Store(true)
			p.expectLast(done, len(networks), wire.CodeCease, c.sub)
			select {
			case <-stopped:
			case <-time.After(60 * time.Second):
				t.Fatal("the stop has not returned in 60 s")
			}
		})
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// lastRead is what readSlowly read: the networks of the UPDATEs, then
// the NOTIFICATION or the error that ended it.
type lastRead struct {
	networks int
	n        wire.Notification
	err      error
}

// readSlowly reads p's connection slowly (slowReader) until fast, counting
// the networks it is sent, until a NOTIFICATION; then it reports.
func readSlowly(p *rawPeer, fast *atomic.Bool) <-chan lastRead {
	done := make(chan lastRead, 1)
	p.c.SetReadDeadline(time.Time{})
	go func() {
		r := &slowReader{c: p.c, fast: fast}
		var buf [wire.MaxLen]byte
		var res lastRead
		defer func() { done <- res }()
		for {
			typ, body, err := wire.ReadMessage(r, &buf)
			if err != nil {
				res.err = err
				return
			}
			switch typ {
			case wire.TypeUpdate:
				u, err := wire.ParseUpdate(body, true)
				if err != nil {
					res.err = err
					return
				}
				res.networks += len(u.NLRI)
			case wire.TypeNotification:
				res.n, res.err = wire.ParseNotification(body)
				return
			}
		}
	}()
	return done
}

// expectLast checks that readSlowly read a NOTIFICATION of code and sub
// before all of the table's networks, and that the connection is closed
// after it.
func (p *rawPeer) expectLast(done <-chan lastRead, networks int, code, sub uint8) {
	p.t.Helper()
	var res lastRead
	select {
	case res = <-done:
	case <-time.After(60 * time.Second):
		p.t.Fatal("no NOTIFICATION in 60 s")
	}
	if res.err != nil || res.n.Code != code || res.n.Subcode != sub {
		p.t.Fatalf("NOTIFICATION %v (%v) after %d networks, want %d/%d", res.n, res.err, res.networks, code, sub)
	}
	if res.networks >= networks {
		p.t.Errorf("the NOTIFICATION came after the whole table (%d networks)", res.networks)
	}
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		p.t.Errorf("the connection stays open after the NOTIFICATION: %v", err)
	}
}

// slowReader reads 256 bytes every 100 ms from c, or at once when fast.
type slowReader struct {
	c    net.Conn
	fast *atomic.Bool
}

func (r *slowReader) Read(b []byte) (int, error) {
	if r.fast.Load() {
		return r.c.Read(b)
	}
	time.Sleep(100 * time.Millisecond)
	return r.c.Read(b[:min(len(b), 256)])
}

// TestBatchUpdateAllocs: an UPDATE is written into the batch's buffer,
// which has room for it, without allocating: its body was built in a
// buffer of its own and then copied, an allocation per UPDATE sent.
func TestBatchUpdateAllocs(t *testing.T) {
	u := wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65515, 65002, 65003}}},
		NextHop: netip.MustParseAddr("10.1.255.30"), NLRI: pfxs("10.1.0.0/16", "10.99.0.0/24")}
	for _, four := range []bool{true, false} {
		b := batch{c: &conn{fourOctet: four}, buf: make([]byte, 0, wire.MaxLen)}
		if n := testing.AllocsPerRun(100, func() {
			b.buf, b.n = b.buf[:0], 0
			b.update(u)
		}); n != 0 || b.err != nil {
			t.Errorf("four-octet %t: %v allocations per UPDATE queued (%v)", four, n, b.err)
		}
	}
}
