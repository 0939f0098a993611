package bgp

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// BenchmarkConvergence: peers (each a raw peer on its own loopback
// address, as sites with many prefixes) announce routes, each prefix in
// an UPDATE of its own, with one of eight paths per peer (the speaker can
// group what it sends by path only that much); one iteration is the time
// until the speaker's best routes hold them all and every peer was sent
// the others' (transit). The peers read what they are sent, as real
// ones do.
func BenchmarkConvergence(b *testing.B) {
	for _, c := range []struct{ peers, routes int }{{4, 1000}, {10, 1000}, {30, 500}} {
		b.Run(fmt.Sprintf("peers=%d,routes=%d", c.peers, c.routes), func(b *testing.B) {
			for range b.N {
				convergence(b, c.peers, c.routes)
			}
			b.ReportMetric(float64(c.peers*c.routes)*float64(b.N)/b.Elapsed().Seconds(), "routes/s")
		})
	}
}

func convergence(b *testing.B, peers, routes int) {
	b.StopTimer()
	speaker := netip.MustParseAddr("127.0.40.1")
	port := freePort(b, speaker)
	n := startNode(b, speaker.String(), port, 0)
	n.s.opts.ConnectRetry = time.Hour // the peers connect; the speaker waits
	cfg := Config{AS: 65515, ID: speaker, Networks: pfxs("10.1.0.0/16")}
	for i := range peers {
		cfg.Peers = append(cfg.Peers, Peer{Name: fmt.Sprint("site", i), Addr: netip.AddrFrom4([4]byte{127, 0, 41, byte(2 + i)}), AS: uint32(65100 + i)})
	}
	n.s.Reconfig(cfg)
	conns := make([]net.Conn, peers)
	received := make(chan struct{}, peers) // a peer has all it should get
	for i, p := range cfg.Peers {
		c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.Addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(speaker, port)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		c.Write(mustAppend(wire.AppendMessage(nil, wire.TypeOpen, wire.Open{AS: p.AS, HoldTime: 0, ID: p.Addr}.Append(nil))))
		c.Write(mustAppend(wire.AppendMessage(nil, wire.TypeKeepalive, nil)))
		conns[i] = c
		// The peer counts the prefixes it is sent until it has every
		// other peer's, and reads on.
		go func() {
			var buf [wire.MaxLen]byte
			have := map[netip.Prefix]bool{}
			want := (peers - 1) * routes
			done := false
			for {
				typ, body, err := wire.ReadMessage(c, &buf)
				if err != nil {
					return
				}
				if typ != wire.TypeUpdate || done {
					continue
				}
				u, err := wire.ParseUpdate(body, true)
				if err != nil {
					b.Error(err)
					return
				}
				for _, w := range u.Withdrawn {
					delete(have, w)
				}
				for _, p := range u.NLRI {
					if p.Addr().As4()[0] == 172 {
						have[p] = true
					}
				}
				if len(have) == want {
					done = true
					received <- struct{}{}
				}
			}
		}()
	}
	b.StartTimer()
	var sent sync.WaitGroup
	for i, c := range conns {
		sent.Go(func() {
			var msgs []byte
			for j := range routes {
				// 172.(16+i).x.y/32: a prefix of its own, and one of
				// eight paths (0 to 7 prepends).
				pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(16 + i), byte(j >> 8), byte(j)}), 32)
				path := []uint32{cfg.Peers[i].AS}
				for range j % 8 {
					path = append(path, cfg.Peers[i].AS)
				}
				u := wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: path}}, NextHop: cfg.Peers[i].Addr, NLRI: []netip.Prefix{pfx}}
				msgs = mustAppend(wire.AppendMessage(msgs, wire.TypeUpdate, mustAppend(u.Append(nil, true))))
			}
			c.Write(msgs)
		})
	}
	sent.Wait()
	deadline := time.Now().Add(5 * time.Minute)
	for len(n.s.Best()) < peers*routes {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d routes after 5 minutes", len(n.s.Best()), peers*routes)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range peers {
		select {
		case <-received:
		case <-time.After(time.Until(deadline)):
			b.Fatalf("a peer was not sent the others' routes in 5 minutes")
		}
	}
	b.StopTimer()
	n.s.Close()
}
