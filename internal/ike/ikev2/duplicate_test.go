package ikev2

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestBothInitiate: two gateways in the Default mode start their IKE SAs
// at the same moment (each IKE_SA_INIT request is on its way before the
// other arrives), so that both IKE SAs are authenticated. Both ends settle
// on the one the nonces keep (RFC 7296 §2.8.1, as for a rekey collision):
// they end with one IKE SA and one child SA per configured child, the
// same on both sides and with matching keys, and stay so. Several rounds
// cover both outcomes of the nonce comparison. When a's IKE_AUTH request,
// with INITIAL_CONTACT (a had no IKE SA up when it sent it), arrives after
// b's own IKE SA is up, b keeps that SA, which a holds too (RFC 7296 §2.4
// is about SAs the peer no longer has). The end whose SA is redundant
// deletes it only once the peer has shown it holds the one kept: when its
// IKE_AUTH response for that one is lost, both keep the redundant SA and
// no new IKE SA is needed. Its child SAs leave the data path only as the
// kept SA gets child SAs for their selectors.
func TestBothInitiate(t *testing.T) {
	pfx := netip.MustParsePrefix
	here, there := []netip.Prefix{pfx("10.1.0.0/16")}, []netip.Prefix{pfx("10.2.0.0/16"), pfx("10.4.0.0/16")}
	for _, tc := range []struct {
		name     string
		children int
		reorder  bool
		lateAuth bool // a's IKE_AUTH request arrives after b's SA is up
		// lostAuth: the end whose SA is the redundant one never gets its
		// IKE_AUTH response through to the peer, which never has the SA
		// kept; that end keeps its own.
		lostAuth bool
		// lateChild: the response that makes the kept SA's second
		// child SA at the end that keeps it comes late, after the
		// Delete of the other SA if that went at once.
		lateChild bool
	}{
		{"route-based", 1, false, false, false, false},
		{"policy-based with two children", 2, false, false, false, false},
		{"policy-based, the kept SA's child SA response late", 2, false, false, false, true},
		{"reordered and duplicated", 1, true, false, false, false},
		{"INITIAL_CONTACT after the peer's SA is up", 1, false, true, false, false},
		{"IKE_AUTH response of the kept SA lost", 1, false, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 4 {
				checkLeaks(t)
				n := newFakeNet(t)
				pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
				if tc.children == 2 {
					pa.Children, pb.Children = PolicyBased(here, there), PolicyBased(there, here)
				}
				if tc.reorder {
					n.setPolicy(lossy(uint64(time.Now().UnixNano()), 0, 0.2, 20*time.Millisecond))
				}
				if tc.lateAuth {
					n.setPolicy(func(from, _ netip.AddrPort, d []byte) []time.Duration {
						if h, _, err := wire.ParseHeader(d); err == nil && from.Addr() == addrA && h.Exchange == wire.IKEAuth && h.Flags&wire.FlagResponse == 0 {
							return []time.Duration{300 * time.Millisecond}
						}
						return []time.Duration{0}
					})
				}
				if tc.children == 2 {
					// The redundant SA has both child SAs when the kept
					// one is authenticated; the kept SA's second comes
					// later.
					n.setPolicy(byRole(func(h wire.Header, redundant, known bool) []time.Duration {
						if known && !redundant && h.Flags&wire.FlagResponse == 0 && (h.Exchange == wire.IKEAuth || h.Exchange == wire.CreateChildSA) {
							return []time.Duration{300 * time.Millisecond}
						}
						if tc.lateChild && known && redundant && h.Flags&wire.FlagResponse != 0 && h.Exchange == wire.CreateChildSA {
							return []time.Duration{300 * time.Millisecond}
						}
						return []time.Duration{0}
					}))
				}
				if tc.lostAuth {
					// As a path that drops large messages one way would;
					// while it is not known which end that is, both.
					n.setPolicy(byRole(func(h wire.Header, redundant, known bool) []time.Duration {
						if h.Exchange == wire.IKEAuth && h.Flags&wire.FlagResponse != 0 && (redundant || !known) {
							return nil
						}
						return []time.Duration{0}
					}))
				}
				a, b := startBoth(t, n, pa, pb)
				waitFor(t, 10*time.Second, "both IKE SAs authenticated", func() bool {
					from := map[netip.Addr]bool{}
					for _, d := range n.datagrams() {
						if h, _, err := wire.ParseHeader(d.data); err == nil && h.Exchange == wire.IKEAuth && h.Flags&wire.FlagResponse == 0 {
							from[d.from.Addr()] = true
						}
					}
					return from[addrA] && from[addrB]
				})
				one := func() bool {
					sa, sb := a.status().IKESAs, b.status().IKESAs
					return len(sa) == 1 && len(sb) == 1 && sa[0].State == "established" && sb[0].State == "established" &&
						sa[0].SPIi == sb[0].SPIi && sa[0].SPIr == sb[0].SPIr &&
						len(sa[0].Children) == tc.children && len(sb[0].Children) == tc.children &&
						a.dp.count() == tc.children && b.dp.count() == tc.children
				}
				waitFor(t, 10*time.Second, "one IKE SA with its child SAs on both sides", one)
				checkKeys(t, a, b)
				kept := a.status().IKESAs[0]
				// No flapping: nothing is deleted or initiated any more,
				// for several reconnect delays.
				time.Sleep(5 * pa.ReconnectDelay)
				if !one() || a.status().IKESAs[0].SPIi != kept.SPIi {
					t.Fatalf("round %d: the IKE SAs changed after settling: a %+v, b %+v", round, a.status().IKESAs, b.status().IKESAs)
				}
				// IKE SAs, not datagrams: a request held while the network
				// was paused may have been retransmitted.
				inits := map[uint64]bool{}
				for _, d := range n.datagrams() {
					if h, _, err := wire.ParseHeader(d.data); err == nil && h.Exchange == wire.IKESAInit && h.Flags&wire.FlagResponse == 0 {
						inits[h.SPIi] = true
					}
				}
				if k := len(inits); k != 2 {
					t.Errorf("round %d: %d IKE SAs initiated, want the two that collided", round, k)
				}
				// Neither end stops sending on a child SA before the kept
				// SA has one for its selectors at both ends: the end
				// that deletes its SA waits until the peer has shown it
				// installed those it asked for. Unless the fake network
				// reorders: the Delete may overtake the response that
				// made the kept SA's child SA.
				for _, nd := range []*node{a, b} {
					if k := nd.dp.uncoveredRemovals(); k != 0 && !tc.reorder {
						t.Errorf("round %d: %d child SAs at %s stopped sending before the kept SA had their selectors", round, k, nd.peer.Name)
					}
				}
				t.Logf("round %d: kept the IKE SA a initiated: %v", round, kept.Initiator)
				a.m.Close()
				b.m.Close()
			}
		})
	}
}

// startBoth starts node b of pb at addrB and node a of pa at addrA so that
// each has sent its IKE_SA_INIT request before it sees the other's.
func startBoth(t *testing.T, n *fakeNet, pa, pb PeerConfig) (a, b *node) {
	n.pause()
	b = newNode(t, n, "b", addrB, Config{}, pb)
	a = newNode(t, n, "a", addrA, Config{}, pa)
	waitFor(t, 5*time.Second, "both IKE_SA_INIT requests sent", func() bool { return n.requests(wire.IKESAInit) >= 2 })
	n.resume()
	return a, b
}

// TestVendorIDOnlyToVnetgw: the gateway answers IKE_SA_INIT with its
// Vendor ID (RFC 7296 §3.12) only to an initiator whose request carries
// it, another vnetgw; a point-to-site client, a scanner or a site's peer
// of another make learns nothing of what answers.
func TestVendorIDOnlyToVnetgw(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	sitePeer, otherPeer := netip.MustParseAddrPort("203.0.113.9:500"), netip.MustParseAddrPort("203.0.113.10:500")
	p, q := basePeer("vnetgw", p2sGW.Addr(), sitePeer.Addr()), basePeer("other", p2sGW.Addr(), otherPeer.Addr())
	p.Mode, q.Mode = ModeResponderOnly, ModeResponderOnly
	if err := g.m.Reconfig([]PeerConfig{p, q}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		from   netip.AddrPort
		vendor bool // the request carries vnetgw's Vendor ID
	}{
		{"point-to-site client", clientAt(1), false},
		{"site's peer of another make", otherPeer, false},
		{"site's peer that is a vnetgw", sitePeer, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newP2SClient(t, g, tc.from)
			req := cl.initRequest()
			if tc.vendor {
				m, err := wire.ParseMessage(req)
				if err != nil {
					t.Fatal(err)
				}
				m.Payloads = append(m.Payloads, &wire.VendorID{Data: duplicateVendorID})
				if req, err = m.Append(nil); err != nil {
					t.Fatal(err)
				}
			}
			g.m.HandlePacket(p2sGW, tc.from, req)
			resp, err := wire.ParseMessage(cl.await(wire.IKESAInit, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if got := settlesDuplicates(resp.Payloads); got != tc.vendor {
				t.Errorf("the response carries the Vendor ID: %v, want %v", got, tc.vendor)
			}
		})
	}
}

// byRole returns a fakeNet policy that gives each datagram but those of
// IKE_SA_INIT the delays f returns for it, told whether its sender's own IKE
// SA is the redundant one and whether that is known yet (the nonces of
// both SAs seen). It reads the nonces from the IKE_SA_INIT messages,
// which are not encrypted.
func byRole(f func(h wire.Header, redundant, known bool) []time.Duration) func(from, to netip.AddrPort, b []byte) []time.Duration {
	type init struct {
		by     netip.Addr // the initiator
		ni, nr []byte
	}
	var mu sync.Mutex // guards sas
	sas := map[uint64]*init{}
	return func(from, _ netip.AddrPort, d []byte) []time.Duration {
		m, err := wire.ParseMessage(d)
		if err != nil {
			return []time.Duration{0}
		}
		h := m.Header
		mu.Lock()
		defer mu.Unlock()
		if h.Exchange == wire.IKESAInit {
			if nonce, ok := find[*wire.Nonce](m.Payloads); ok {
				x := sas[h.SPIi]
				if x == nil {
					x = &init{}
					sas[h.SPIi] = x
				}
				if h.Flags&wire.FlagResponse == 0 {
					x.by, x.ni = from.Addr(), nonce.Data
				} else {
					x.nr = nonce.Data
				}
			}
			return []time.Duration{0}
		}
		var ours, theirs *init
		var oursSPI, theirsSPI uint64
		for spi, x := range sas {
			if x.by == from.Addr() {
				ours, oursSPI = x, spi
			} else {
				theirs, theirsSPI = x, spi
			}
		}
		if ours == nil || theirs == nil || ours.nr == nil || theirs.nr == nil {
			return f(h, false, false)
		}
		return f(h, redundantIsOurs([2][]byte{ours.ni, ours.nr}, [2][]byte{theirs.ni, theirs.nr}, oursSPI > theirsSPI), true)
	}
}

// TestBothInitiateRekeyWhileRetired: the end whose IKE SA is the redundant
// one starts a rekey of it (RFC 7296 §2.18) just before it deletes it; the
// SA the rekey's response makes is redundant too and is deleted: both ends
// are left with the one kept IKE SA and its child SA, not with a second
// IKE SA without children beside it.
func TestBothInitiateRekeyWhileRetired(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	// The kept SA's end answers the liveness check that settles it after
	// 300 ms, and the rekey only after 600 ms.
	n.setPolicy(byRole(func(h wire.Header, redundant, known bool) []time.Duration {
		if known && !redundant && h.Flags&wire.FlagResponse != 0 {
			switch h.Exchange {
			case wire.Informational:
				return []time.Duration{300 * time.Millisecond}
			case wire.CreateChildSA:
				return []time.Duration{600 * time.Millisecond}
			}
		}
		return []time.Duration{0}
	}))
	a, b := startBoth(t, n, pa, pb)
	// rekey starts the rekey of the redundant SA of nd while nd waits for
	// the answer that lets it delete it.
	rekey := func(nd *node) (started bool) {
		nd.onLoop(func(c *conn) {
			var ours, theirs *ikeSA
			for _, sa := range c.sas {
				if sa.state == stateEstablished && sa.initiator {
					ours = sa
				} else if sa.state == stateEstablished {
					theirs = sa
				}
			}
			if ours == nil || theirs == nil || theirs.pend == nil || ours.pend != nil ||
				!redundantIsOurs([2][]byte{ours.ni, ours.nr}, [2][]byte{theirs.ni, theirs.nr}, ours.spiI > theirs.spiI) {
				return
			}
			ours.enqueue(task{kind: taskRekeyIKE})
			ours.kick()
			started = true
		})
		return started
	}
	waitFor(t, 5*time.Second, "the rekey of the redundant IKE SA started", func() bool { return rekey(a) || rekey(b) })
	one := func() bool {
		sa, sb := a.status().IKESAs, b.status().IKESAs
		return len(sa) == 1 && len(sb) == 1 && sa[0].State == "established" && sb[0].State == "established" &&
			sa[0].SPIi == sb[0].SPIi && sa[0].SPIr == sb[0].SPIr &&
			len(sa[0].Children) == 1 && len(sb[0].Children) == 1 && a.dp.count() == 1 && b.dp.count() == 1
	}
	waitFor(t, 10*time.Second, "one IKE SA with its child SA on both sides", one)
	// The rekey's response came, and nothing changed since.
	time.Sleep(time.Second)
	if !one() {
		t.Fatalf("the IKE SAs changed after settling: a %+v, b %+v", a.status().IKESAs, b.status().IKESAs)
	}
	checkKeys(t, a, b)
}

// TestBothInitiateRekeyBeforeSettling: one of the two IKE SAs both ends
// initiated at once is rekeyed (RFC 7296 §2.18) before the ends have
// settled on one, and the rekey completes first: the SA it makes stands
// for the one it replaced, the redundant one's successor is deleted or
// the kept one's successor kept, and both ends are left with one IKE SA
// and its child SA, not with two for good. Both ends decide by the
// nonces of the IKE SAs as they were initiated, whichever rekeys came
// since, so that they always agree.
func TestBothInitiateRekeyBeforeSettling(t *testing.T) {
	for _, tc := range []struct {
		name string
		// redundant: the SA rekeyed is the redundant one, else the kept
		// one; byRetiring: the end that deletes the redundant SA rekeys.
		redundant, byRetiring bool
	}{
		{"redundant SA by the end that deletes it", true, true},
		{"kept SA by the end that keeps it", false, false},
		{"kept SA by the end that deletes the other", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A round where the SA to be deleted came up before the
			// kept one could be rekeyed covers nothing: another.
			for round := 0; !rekeyBeforeSettling(t, tc.redundant, tc.byRetiring); round++ {
				if round == 4 {
					t.Fatal("the rekey never came before the settling")
				}
			}
		})
	}
}

// rekeyBeforeSettling is a round of TestBothInitiateRekeyBeforeSettling;
// it reports false if the rekey could not start before the settling.
func rekeyBeforeSettling(t *testing.T, rekeyRedundant, byRetiring bool) bool {
	checkLeaks(t)
	n := newFakeNet(t)
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	n.setPolicy(byRole(func(h wire.Header, redundant, known bool) []time.Duration {
		if known && !redundant {
			switch {
			case byRetiring && !rekeyRedundant && h.Exchange == wire.IKEAuth && h.Flags&wire.FlagResponse != 0:
				// The SA to be deleted comes up last at the
				// end that deletes it, which rekeys the kept
				// one meanwhile.
				return []time.Duration{300 * time.Millisecond}
			case h.Exchange == wire.Informational && h.Flags&wire.FlagResponse != 0:
				// The kept SA's end answers the liveness check
				// that settles it after the rekey completed.
				return []time.Duration{600 * time.Millisecond}
			}
		}
		return []time.Duration{0}
	}))
	a, b := startBoth(t, n, pa, pb)
	// rekey starts the rekey of the SA the case names at nd, if
	// nd is the end that rekeys and the moment has come.
	missed := false
	rekey := func(nd *node) (started bool) {
		nd.onLoop(func(c *conn) {
			var ours, theirs *ikeSA
			for _, sa := range c.sas {
				switch {
				case sa.initiator && sa.nr != nil && ours == nil:
					ours = sa
				case !sa.initiator && sa.state == stateEstablished && theirs == nil:
					theirs = sa
				}
			}
			if ours == nil || theirs == nil {
				return
			}
			retiring := redundantIsOurs([2][]byte{ours.ni, ours.nr}, [2][]byte{theirs.ni, theirs.nr}, ours.spiI > theirs.spiI)
			if retiring != byRetiring {
				return
			}
			x := ours // the SA this end initiated
			if retiring && !rekeyRedundant {
				x = theirs
			}
			switch {
			case x.state != stateEstablished || x.pend != nil:
				return
			case retiring && rekeyRedundant && theirs.pend == nil:
				return // before the question whose answer settles it
			case retiring && !rekeyRedundant && ours.state != stateAuthSent:
				missed = true // the redundant SA is up already
				return
			}
			x.enqueue(task{kind: taskRekeyIKE})
			x.kick()
			started = true
		})
		return started
	}
	waitFor(t, 5*time.Second, "the rekey started", func() bool { return rekey(a) || rekey(b) || missed })
	if missed {
		t.Log("the IKE SA to be deleted came up before the kept one could be rekeyed; again")
		a.m.Close()
		b.m.Close()
		return false
	}
	waitFor(t, 5*time.Second, "the rekey done", func() bool {
		for _, nd := range []*node{a, b} {
			for _, sa := range nd.status().IKESAs {
				if !sa.LastRekey.IsZero() {
					return true
				}
			}
		}
		return false
	})
	one := func() bool {
		sa, sb := a.status().IKESAs, b.status().IKESAs
		return len(sa) == 1 && len(sb) == 1 && sa[0].State == "established" && sb[0].State == "established" &&
			sa[0].SPIi == sb[0].SPIi && sa[0].SPIr == sb[0].SPIr &&
			len(sa[0].Children) == 1 && len(sb[0].Children) == 1 && a.dp.count() == 1 && b.dp.count() == 1
	}
	waitFor(t, 10*time.Second, "one IKE SA with its child SA on both sides", one)
	time.Sleep(time.Second)
	if !one() {
		t.Fatalf("the IKE SAs changed after settling: a %+v, b %+v", a.status().IKESAs, b.status().IKESAs)
	}
	if sa := a.status().IKESAs[0]; rekeyRedundant == !sa.LastRekey.IsZero() {
		t.Errorf("kept IKE SA %+v: rekeyed %v, want %v", sa, !sa.LastRekey.IsZero(), !rekeyRedundant)
	}
	checkKeys(t, a, b)
	return true
}
