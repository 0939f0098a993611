package ikev1

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// withCookie returns mm1 with initiator cookie c (a spoofed first message).
func withCookie(mm1 []byte, c uint64) []byte {
	b := append([]byte{}, mm1...)
	binary.BigEndian.PutUint64(b, c)
	return b
}

// TestSpoofedMainModeBlocksNothing: a Main Mode message 1 anyone sent
// from the peer's address (a half-open SA of the peer's) does not keep
// the connection from initiating its own.
func TestSpoofedMainModeBlocksNothing(t *testing.T) {
	rec := &recorder{}
	m := New(Config{Transport: rec, Dataplane: rec})
	defer m.Close()
	mm1 := firstMessage(t)
	m.Reconfig([]ikev2.PeerConfig{fuzzPeer("both", fuzzLocal, fuzzRemote, ikev2.ModeDefault)})
	m.handle(fuzzLocal, fuzzRemote, withCookie(mm1, 0xdead)) // spoofed, before the first tick
	time.Sleep(3 * time.Second)
	msgs, _, _ := rec.take()
	initiated := 0
	for _, b := range msgs {
		if h, _ := wire.ParseHeader(b); h.ICookie != 0xdead {
			initiated++
		}
	}
	if initiated == 0 {
		t.Errorf("no main mode of ours in 3 s after a spoofed message 1 (%d messages sent)", len(msgs))
	}
}

// TestHalfOpenBounded: spoofed Main Mode message 1s with distinct cookies
// hold at most maxHalfOpenPerPeer half-open SAs.
func TestHalfOpenBounded(t *testing.T) {
	m, rec := responder(t)
	mm1 := firstMessage(t)
	for i := range 1000 {
		m.handle(fuzzLocal, fuzzRemote, withCookie(mm1, uint64(i)+1))
	}
	m.mu.Lock()
	k := len(m.sas)
	m.mu.Unlock()
	rec.take()
	if k > maxHalfOpenPerPeer {
		t.Errorf("1000 spoofed message 1s hold %d half-open SAs, want at most %d", k, maxHalfOpenPerPeer)
	}
}

// TestQuickModeBacksOff: a quick mode the peer refuses (no proposal in
// common) is tried again after a wait that doubles, not every tick, and
// the attempts leave no SPI reserved.
func TestQuickModeBacksOff(t *testing.T) {
	a, _ := suite.ParseProposal(v2.ProtocolESP, "aes128-sha1")
	b, _ := suite.ParseProposal(v2.ProtocolESP, "aes256-sha256")
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.ESPProposals, pr.ESPProposals = []suite.Proposal{a}, []suite.Proposal{b}
	})
	qm := 0
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		x, xf, xt := ri.take()
		y, yf, yt := rr.take()
		for i := range x {
			if x[i][18] == wire.ExchangeQuick {
				qm++
			}
			mr.handle(xt[i], xf[i], x[i])
		}
		for i := range y {
			mi.handle(yt[i], yf[i], y[i])
		}
	}
	mi.mu.Lock()
	spis := len(mi.spis)
	mi.mu.Unlock()
	if qm == 0 || qm > 5 || spis != 0 {
		t.Errorf("in 5 s the initiator sent %d quick mode message 1s to a peer that refuses them (want 1 to 5), %d SPIs left reserved", qm, spis)
	}
}

// TestESPAttributes: a transform with an attribute vnetgw does not
// honour (transport mode, ESN) is not chosen; the life in seconds counts
// whatever comes before it.
func TestESPAttributes(t *testing.T) {
	base := []wire.Attr{{Type: wire.AttrESPKeyLen, Value: 256}, {Type: wire.AttrAuthAlg, Value: wire.AuthHMACSHA256}}
	for _, c := range []struct {
		name string
		a    wire.Attr
	}{
		{"transport mode", wire.Attr{Type: wire.AttrEncapMode, Value: 2}},
		{"UDP transport mode", wire.Attr{Type: wire.AttrEncapMode, Value: 4}},
		{"ESN (RFC 4304 attr 11)", wire.Attr{Type: 11, Value: 1}},
	} {
		tr := wire.Transform{Number: 1, ID: wire.ESPAESCBC, Attrs: append(append([]wire.Attr{}, base...), c.a)}
		if _, ok := p2FromTransform(tr); ok {
			t.Errorf("%s: chosen", c.name)
		}
	}
	// lifetime with kilobytes first, then seconds: the seconds are lost
	tr := wire.Transform{Number: 1, ID: wire.ESPAESCBC, Attrs: append(append([]wire.Attr{}, base...),
		wire.Attr{Type: wire.AttrSALifeType, Value: wire.LifeKilobytes}, wire.Attr{Type: wire.AttrSALifeValue, Value: 4608000},
		wire.Attr{Type: wire.AttrSALifeType, Value: wire.LifeSeconds}, wire.Attr{Type: wire.AttrSALifeValue, Value: 600})}
	if s, ok := p2FromTransform(tr); !ok || s.Life != 10*time.Minute {
		t.Errorf("kilobytes, then 600 seconds: chosen %v, life %v", ok, s.Life)
	}
}

// TestBehindNATWithForceEncap: with ForceEncap (the gateway's default
// without raw ESP) a real NAT in front of us is still reported as such,
// so that NAT-keepalives go (RFC 3948 §4).
func TestBehindNATWithForceEncap(t *testing.T) {
	m, _ := responder(t)
	m.mu.Lock()
	defer m.mu.Unlock()
	var p *peer
	for _, q := range m.peers {
		p = q
	}
	p.cfg.ForceEncap = true
	sa := &isakmpSA{m: m, p: p, ic: 1, rc: 2, local: netip.MustParseAddrPort("10.0.0.5:500"), remote: fuzzRemote, s: p1Suite{Hash: wire.Hash256}, peerNATT: true}
	// The peer saw us at our NAT's public address 198.51.100.7:61000.
	pub := &isakmpSA{m: m, p: p, ic: 1, rc: 2, local: fuzzRemote, remote: netip.MustParseAddrPort("198.51.100.7:61000"), s: p1Suite{Hash: wire.Hash256}, peerNATT: true}
	p.cfg.ForceEncap = false
	ds := pub.natD() // [hash(our public addr), hash(peer)]
	p.cfg.ForceEncap = true
	sa.detectNAT(ds)
	if st := sa.status(); !st.BehindNAT || !st.NATLocal {
		t.Errorf("a real NAT in front of us, ForceEncap: NATLocal %v, BehindNAT %v", st.NATLocal, st.BehindNAT)
	}
}

// TestLostHash3Recovered: the quick mode responder sends message 2 again
// while HASH(3) does not come, so that a lost HASH(3) (the initiator has
// installed its child) is sent again and the responder installs its
// child too.
func TestLostHash3Recovered(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	iq, rqAfter := 0, 0
	dropped := false
	var dropAt time.Time
	lose := func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
		if msg[18] != wire.ExchangeQuick {
			return false
		}
		if fromI {
			iq++
			if iq == 2 {
				dropped, dropAt = true, time.Now()
				return true
			}
		} else if dropped {
			rqAfter++
		}
		return false
	}
	shuttle(mi, mr, ri, rr, lose)
	// keep carrying for 6 s (3 x the 2 s retransmit timeout)
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		a, af, at := ri.take()
		b, bf, bt := rr.take()
		for i := range a {
			if !lose(true, a[i], af[i], at[i]) {
				mr.handle(at[i], af[i], a[i])
			}
		}
		for i := range b {
			if !lose(false, b[i], bf[i], bt[i]) {
				mi.handle(bt[i], bf[i], b[i])
			}
		}
	}
	mr.mu.Lock()
	mr.timers(dropAt.Add(31 * time.Second))
	var qms int
	for _, sa := range mr.sas {
		qms += len(sa.qms)
	}
	mr.mu.Unlock()
	if !dropped || rqAfter == 0 || len(rr.children) != 1 || len(ri.children) != 1 || qms != 0 {
		t.Errorf("HASH(3) lost: responder sent message 2 again %d times in 6 s; children: initiator %d, responder %d; quick modes left %d",
			rqAfter, len(ri.children), len(rr.children), qms)
	}
}

// TestForgedInfoChangesNothing: on an established SA, an informational
// message with its cookies that does not decrypt does not count as the
// peer heard from (DPD would never start), and the peer's ISAKMP Delete
// of another SA's cookies deletes nothing.
func TestForgedInfoChangesNothing(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	only := func(m *Manager) *isakmpSA {
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.sas) != 1 {
			t.Fatalf("%d ISAKMP SAs, want 1", len(m.sas))
		}
		for _, sa := range m.sas {
			return sa
		}
		return nil
	}
	sr := only(mr)
	mr.mu.Lock()
	heard := sr.lastIn
	forged := wire.Header{ICookie: sr.ic, RCookie: sr.rc, Next: wire.PayloadHash, Exchange: wire.ExchangeInfo, Flags: wire.FlagEncryption, MessageID: 77, Length: wire.HeaderLen + 32}
	mr.mu.Unlock()
	time.Sleep(10 * time.Millisecond)
	mr.handle(fuzzLocal, fuzzRemote, append(forged.Append(nil), make([]byte, 32)...))
	mr.mu.Lock()
	if !sr.lastIn.Equal(heard) {
		t.Error("a message that does not decrypt counted as the peer heard from")
	}
	mr.mu.Unlock()

	si := only(mi)
	mi.mu.Lock()
	si.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPIs: [][]byte{make([]byte, 16)}}.Append(nil))
	mi.mu.Unlock()
	msgs, from, to := ri.take()
	for i := range msgs {
		mr.handle(to[i], from[i], msgs[i])
	}
	mr.mu.Lock()
	n := len(mr.sas)
	mr.mu.Unlock()
	if n != 1 {
		t.Errorf("a Delete of other cookies left %d ISAKMP SAs, want the one", n)
	}
}

// TestISAKMPLifetimeEnds: an ISAKMP SA that is not renewed by the end of
// its lifetime (here the path broke, and DPD is off) goes on both sides,
// without a Delete; the children it made stay, to their own lifetimes.
func TestISAKMPLifetimeEnds(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.IKELifetime, pr.IKELifetime = 3*time.Second, 3*time.Second
		pi.DPDInterval, pr.DPDInterval = -1, -1
	})
	shuttle(mi, mr, ri, rr, nil)
	if established(mi) != 1 || established(mr) != 1 {
		t.Fatalf("not established: initiator %d ISAKMP SAs, responder %d", established(mi), established(mr))
	}
	// Nothing passes between them. Neither tells the other (its copy
	// ends alike): a Delete could take the peer's children down.
	infos := 0
	count := func() {
		a, _, _ := ri.take()
		b, _, _ := rr.take()
		for _, msg := range append(a, b...) {
			if msg[18] == wire.ExchangeInfo {
				infos++
			}
		}
	}
	for deadline := time.Now().Add(10 * time.Second); established(mi)+established(mr) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after establishment, past the 3 s lifetime: initiator %d ISAKMP SAs, responder %d; want none", established(mi), established(mr))
		}
		count()
	}
	count()
	if infos != 0 {
		t.Errorf("%d informational messages (a Delete) sent as the ISAKMP SAs expired", infos)
	}
	ri.mu.Lock()
	rr.mu.Lock()
	ci, cr := len(ri.children), len(rr.children)
	rr.mu.Unlock()
	ri.mu.Unlock()
	if ci != 1 || cr != 1 {
		t.Errorf("children after the ISAKMP SA ended: initiator %d, responder %d; want 1 each", ci, cr)
	}
}

// TestDPDByDefault: a connection configured without a DPD interval gets
// the IKEv2 daemon's (a dead peer is found as with IKEv2); a negative one
// stays off.
func TestDPDByDefault(t *testing.T) {
	rec := &recorder{}
	m := New(Config{Transport: rec, Dataplane: rec})
	defer m.Close()
	off := fuzzPeer("off", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)
	off.Remote = netip.MustParseAddrPort("192.0.2.9:500")
	off.DPDInterval = -1
	m.Reconfig([]ikev2.PeerConfig{fuzzPeer("plain", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly), off})
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.peers["plain"].cfg.DPDInterval; d != ikev2.DefaultDPDInterval {
		t.Errorf("DPD interval %v without one configured, want %v", d, ikev2.DefaultDPDInterval)
	}
	if d := m.peers["off"].cfg.DPDInterval; d >= 0 {
		t.Errorf("DPD interval %v when turned off", d)
	}
}

// TestOnDemandWaitsAfterPeerDelete: an on-demand (policy-based, R8)
// tunnel whose peer deletes it (for its own idleness) is not negotiated
// again at once: it waits, idle, until traffic asks for it.
func TestOnDemandWaitsAfterPeerDelete(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.OnDemand = true
		pi.ReconnectDelay = 100 * time.Millisecond
	})
	shuttle(mi, mr, ri, rr, nil)
	mr.Idle("r") // the peer removes the tunnel: Delete of its child and its ISAKMP SA
	msgs, from, to := rr.take()
	for i := range msgs {
		mi.handle(to[i], from[i], msgs[i])
	}
	time.Sleep(2 * time.Second) // many ticks and reconnect delays
	if sent, _, _ := ri.take(); len(sent) != 0 {
		t.Fatalf("%d messages sent after the peer deleted the on-demand tunnel, want none until traffic", len(sent))
	}
	if st := mi.Status(); len(st) != 1 || !st[0].Idle {
		t.Fatalf("status after the peer's delete: %+v, want idle", st)
	}
	mi.Acquire("i", netip.Addr{}, netip.Addr{})
	ri.mu.Lock()
	ri.children = nil
	ri.mu.Unlock()
	rr.mu.Lock()
	rr.children = nil
	rr.mu.Unlock()
	shuttle(mi, mr, ri, rr, nil)
	ri.mu.Lock()
	n := len(ri.children)
	ri.mu.Unlock()
	if st := mi.Status(); n != 1 || st[0].Idle {
		t.Errorf("after traffic asked for it: %d children, status %+v", n, st)
	}
}

// TestReconfigKeepsTheTunnel: a change of timers, lifetimes or the mode
// applies to the tunnel as it is (no Delete, the same child SA); a change
// of the key sets it up again.
func TestReconfigKeepsTheTunnel(t *testing.T) {
	var pi ikev2.PeerConfig
	mi, mr, ri, rr := twoManagers(t, func(i, _ *ikev2.PeerConfig) { pi = *i })
	shuttle(mi, mr, ri, rr, nil)
	spi := func() uint32 {
		t.Helper()
		st := mi.Status()
		if len(st) != 1 || len(st[0].IKESAs) == 0 || len(st[0].IKESAs[0].Children) == 0 {
			t.Fatalf("no child SA: %+v", st)
		}
		return st[0].IKESAs[0].Children[0].InSPI
	}
	before := spi()
	ri.take()
	changed := pi
	changed.DPDInterval, changed.IKELifetime, changed.ChildLifetime, changed.Mode = 7*time.Second, 2*time.Hour, 30*time.Minute, ikev2.ModeDefault
	if err := mi.Reconfig([]ikev2.PeerConfig{changed}); err != nil {
		t.Fatal(err)
	}
	if sent, _, _ := ri.take(); len(sent) != 0 || spi() != before {
		t.Errorf("new timers and mode: %d messages sent, child SA %08x (was %08x); want none and the same", len(sent), spi(), before)
	}
	rekeyed := changed
	rekeyed.PSK = []byte("another key")
	if err := mi.Reconfig([]ikev2.PeerConfig{rekeyed}); err != nil {
		t.Fatal(err)
	}
	if sent, _, _ := ri.take(); len(sent) == 0 {
		t.Error("a new key: no Delete sent, the tunnel was kept")
	}
}

// TestPeerMovedFollowsNATMapping: authenticated ESP in UDP from a new
// port of the peer (its NAT rebooted) moves the child SAs and the ISAKMP
// SA there, as RFC 7296 §2.23 asks of IKEv2, so that replies are not lost
// until dead peer detection gives up; not when this side is behind a NAT.
func TestPeerMovedFollowsNATMapping(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) { pi.ForceEncap, pr.ForceEncap = true, true })
	shuttle(mi, mr, ri, rr, nil)
	rr.mu.Lock()
	if len(rr.children) != 1 || !rr.children[0].Encap {
		rr.mu.Unlock()
		t.Fatalf("children %+v, want one in UDP", rr.children)
	}
	spi := rr.children[0].In.SPI
	rr.mu.Unlock()
	remote := func() (child, isakmp netip.AddrPort) {
		rr.mu.Lock()
		child = rr.children[0].Remote
		rr.mu.Unlock()
		return child, mr.Status()[0].IKESAs[0].Remote
	}
	// The report is taken in by the manager's loop, not at once.
	moved := netip.AddrPortFrom(fuzzRemote.Addr(), 61000)
	mr.PeerMoved("r", spi, moved)
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, i := remote()
		if c == moved && i == moved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after ESP from %v: child SA sends to %v, ISAKMP SA to %v", moved, c, i)
		}
	}

	mr.mu.Lock()
	for _, sa := range mr.sas {
		sa.behindNAT = true
	}
	mr.mu.Unlock()
	mr.PeerMoved("r", spi, netip.AddrPortFrom(fuzzRemote.Addr(), 62000))
	time.Sleep(200 * time.Millisecond)
	if c, i := remote(); c != moved || i != moved {
		t.Errorf("behind a NAT, a report moved the child SA to %v, the ISAKMP SA to %v", c, i)
	}
}

// resealQuick2 returns the responder's quick mode message 2 msg with its
// payloads edited, sealed again with the keys of the initiator mi's SA
// (the responder's holds the same), and that SA; nil if msg answers no
// quick mode mi began.
func resealQuick2(t *testing.T, mi *Manager, msg []byte, edit func([]wire.Payload) []wire.Payload) ([]byte, *isakmpSA) {
	t.Helper()
	h, err := wire.ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	mi.mu.Lock()
	defer mi.mu.Unlock()
	sa := mi.sas[h.ICookie]
	q := sa.qms[h.MessageID]
	if q == nil || !q.initiator {
		return nil, nil
	}
	ps, _, err := sa.decrypt(h, msg, q.iv, q.ni)
	if err != nil {
		t.Fatal(err)
	}
	edited, _ := sa.encrypted(wire.ExchangeQuick, h.MessageID, q.iv, q.ni, edit(ps))
	return edited, sa
}

// TestQuickMode2ShortNonce: a quick mode message 2 whose nonce is shorter
// than 8 bytes (RFC 2409 §5) is refused: no child is installed.
func TestQuickMode2ShortNonce(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	tampered := 0
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
		if fromI || msg[18] != wire.ExchangeQuick {
			return false
		}
		// The responder's message 2, with a 4-byte nonce.
		short, _ := resealQuick2(t, mi, msg, func(ps []wire.Payload) []wire.Payload {
			for i := range ps {
				if ps[i].Type == wire.PayloadNonce {
					ps[i].Body = ps[i].Body[:4]
				}
			}
			return ps
		})
		if short == nil {
			return false
		}
		tampered++
		mi.handle(to, from, short)
		return true
	})
	ri.mu.Lock()
	n := len(ri.children)
	ri.mu.Unlock()
	if tampered == 0 || n != 0 {
		t.Errorf("%d quick mode message 2s with a 4-byte nonce: the initiator installed %d children, want none", tampered, n)
	}
}

// leakedSPIs returns m's reserved inbound SPIs that neither a child nor
// a quick mode under way on one of its ISAKMP SAs holds.
func leakedSPIs(m *Manager) []uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	held := map[uint32]bool{}
	for _, p := range m.peers {
		for _, c := range p.children {
			held[c.inSPI] = true
		}
	}
	for _, sa := range m.sas {
		for _, q := range sa.qms {
			held[q.spiIn] = true
		}
	}
	var out []uint32
	for spi := range m.spis {
		if !held[spi] {
			out = append(out, spi)
		}
	}
	return out
}

// TestQuickModeSPIsNotLeaked: a quick mode that ends without a child (it
// is refused, the data path does not take the child, its ISAKMP SA goes)
// leaves no inbound SPI reserved.
func TestQuickModeSPIsNotLeaked(t *testing.T) {
	t.Run("PFS without KE", func(t *testing.T) {
		pfs, err := suite.ParseProposal(v2.ProtocolESP, "aes256-sha256-modp2048")
		if err != nil {
			t.Fatal(err)
		}
		mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
			pi.ESPProposals, pr.ESPProposals = []suite.Proposal{pfs}, []suite.Proposal{pfs}
		})
		tampered := 0
		shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
			if !fromI || msg[18] != wire.ExchangeQuick {
				return false
			}
			// Message 1 sealed again without its KE payload (the
			// responder's SA holds the same keys).
			h, err := wire.ParseHeader(msg)
			if err != nil {
				t.Fatal(err)
			}
			mr.mu.Lock()
			sa := mr.sas[h.ICookie]
			iv := sa.s.Hash.phase2IV(sa.p1iv, h.MessageID)
			ps, _, err := sa.decrypt(h, msg, iv, nil)
			if err != nil {
				mr.mu.Unlock()
				return false // HASH(3)
			}
			ps = slices.DeleteFunc(ps, func(p wire.Payload) bool { return p.Type == wire.PayloadKE })
			noKE, _ := sa.encrypted(wire.ExchangeQuick, h.MessageID, iv, nil, ps)
			mr.mu.Unlock()
			tampered++
			mr.handle(to, from, noKE)
			return true
		})
		rr.mu.Lock()
		n := len(rr.children)
		rr.mu.Unlock()
		if leaked := leakedSPIs(mr); tampered == 0 || n != 0 || len(leaked) != 0 {
			t.Errorf("%d quick mode message 1s with PFS and no KE: responder installed %d children, left SPIs %08x reserved", tampered, n, leaked)
		}
	})
	t.Run("responder install fails", func(t *testing.T) {
		mi, mr, ri, rr := twoManagers(t, nil)
		rr.mu.Lock()
		rr.installErr = errors.New("no room")
		rr.mu.Unlock()
		shuttle(mi, mr, ri, rr, nil)
		if leaked := leakedSPIs(mr); len(leaked) != 0 {
			t.Errorf("the data path refused the responder's child: SPIs %08x left reserved", leaked)
		}
	})
	t.Run("initiator install fails", func(t *testing.T) {
		mi, mr, ri, rr := twoManagers(t, nil)
		ri.mu.Lock()
		ri.installErr = errors.New("no room")
		ri.mu.Unlock()
		shuttle(mi, mr, ri, rr, nil)
		if leaked := leakedSPIs(mi); len(leaked) != 0 {
			t.Errorf("the data path refused the initiator's child: SPIs %08x left reserved", leaked)
		}
	})
	t.Run("SA goes during quick mode", func(t *testing.T) {
		mi, mr, ri, rr := twoManagers(t, nil)
		// Quick mode message 1 is lost: the exchange is under way.
		shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, _, _ netip.AddrPort) bool {
			return fromI && msg[18] == wire.ExchangeQuick
		})
		mi.mu.Lock()
		qms := 0
		for _, sa := range mi.sas {
			qms += len(sa.qms)
		}
		mi.mu.Unlock()
		mi.Reset("i")
		if leaked := leakedSPIs(mi); qms == 0 || len(leaked) != 0 {
			t.Errorf("%d quick modes under way as the SA went: SPIs %08x left reserved", qms, leaked)
		}
	})
}

// TestPeerChildrenBounded: a peer's quick mode for a new child beyond
// maxChildren is refused with NO-PROPOSAL-CHOSEN naming its SPI, and its
// rekey of a child it has still goes. The peer could add children
// without end, each kept here and in the data path: on a route-based
// connection any traffic is the connection's, and within a prefix pair
// any narrower one.
func TestPeerChildrenBounded(t *testing.T) {
	first := pair{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/24")}
	second := pair{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.3.0.0/24")}
	// The responder is route-based: any traffic is the connection's.
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.Children = []ikev2.ChildConfig{{LocalTS: []netip.Prefix{first.local}, RemoteTS: []netip.Prefix{first.remote, second.remote}}}
	})
	mi.mu.Lock()
	mi.peers["i"].waits[second] = quickWait{after: time.Now().Add(time.Hour)}
	mi.mu.Unlock()
	shuttle(mi, mr, ri, rr, nil)
	if childCount(rr) != 1 {
		t.Fatalf("the responder has %d children, want 1", childCount(rr))
	}
	// The responder has maxChildren: the one above and copies of it, as
	// if the peer had asked for each.
	mr.mu.Lock()
	pr := mr.peers["r"]
	for i := range maxChildren - 1 {
		c := *pr.children[0]
		c.inSPI, c.outSPI = mr.newSPI(), uint32(0x10000+i)
		c.pair = pair{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 9, byte(i), 0}), 24), first.local}
		pr.children = append(pr.children, &c)
	}
	mr.mu.Unlock()
	mi.mu.Lock()
	delete(mi.peers["i"].waits, second)
	mi.mu.Unlock()
	carry(mi, mr, ri, rr, 20*time.Second, func() bool {
		return childCount(rr) > 1 || strings.Contains(mi.Status()[0].LastError, "NO-PROPOSAL-CHOSEN")
	}, nil)
	if n := childCount(rr); n != 1 {
		t.Errorf("the responder installed %d children, want 1: the peer's quick mode beyond %d children was not refused", n, maxChildren)
	}
	if st := mr.Status()[0]; !strings.Contains(st.LastError, "beyond the 256") {
		t.Errorf("the responder's status: %q", st.LastError)
	}
	if st := mi.Status()[0]; !strings.Contains(st.LastError, "NO-PROPOSAL-CHOSEN") {
		t.Errorf("the initiator's status: %q, want NO-PROPOSAL-CHOSEN", st.LastError)
	}
	// The rekey of the peer's first child still goes.
	ri.mu.Lock()
	old := ri.children[0].In.SPI
	ri.mu.Unlock()
	mi.SoftExpired("i", old)
	carry(mi, mr, ri, rr, 20*time.Second, func() bool { return childCount(rr) == 2 }, nil)
	if n := childCount(rr); n != 2 {
		t.Errorf("the responder has %d children after the peer's rekey, want 2 (the rekey was refused)", n)
	}
}

// TestSpoofedMainModeKeepsNoConnection: a half-open SA that a spoofed
// Main Mode message 1 started does not keep the connection up once the
// peer deleted its last ISAKMP SA: the children go and the status says
// why. They stayed, as any ISAKMP SA of the peer's counted.
func TestSpoofedMainModeKeepsNoConnection(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, _ *ikev2.PeerConfig) {
		pi.ReconnectDelay = time.Hour // no new Main Mode meanwhile
	})
	shuttle(mi, mr, ri, rr, nil)
	if len(activeChildren(rr)) != 1 {
		t.Fatalf("responder's children before: %d, want 1", len(activeChildren(rr)))
	}
	mr.handle(fuzzLocal, fuzzRemote, withCookie(firstMessage(t), 0xdead)) // spoofed
	mi.mu.Lock()
	for _, sa := range mi.sasOf(mi.peers["i"]) {
		// The peer deletes its ISAKMP SA alone (its children it lets
		// lapse, or they were lost on the way).
		sa.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPIs: [][]byte{sa.cookies()}}.Append(nil))
	}
	mi.mu.Unlock()
	rr.take()
	msgs, from, to := ri.take()
	for i := range msgs {
		mr.handle(to[i], from[i], msgs[i])
	}
	if n := len(activeChildren(rr)); n != 0 {
		t.Errorf("responder's children after the peer deleted its last ISAKMP SA: %d, want 0 (a spoofed half-open SA kept them)", n)
	}
	if st := mr.Status(); len(st) != 1 || !strings.Contains(st[0].LastError, "the peer deleted the ISAKMP SA") {
		t.Errorf("responder's status: %+v, want the peer's delete as the reason", st)
	}
}

// TestSpoofedMainModeKeepsNoChildren: once the ISAKMP SA is gone and our
// Main Mode to reconnect ran out of tries (the peer is gone), the
// children go, also while a half-open SA that a spoofed message 1
// started is there. They stayed, as any ISAKMP SA of the peer's counted.
func TestSpoofedMainModeKeepsNoChildren(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, _ *ikev2.PeerConfig) {
		pi.Mode = ikev2.ModeDefault // it answers a message 1 from the peer's address
		pi.RetransmitTimeout, pi.RetransmitTries, pi.ReconnectDelay = 100*time.Millisecond, 1, time.Millisecond
	})
	shuttle(mi, mr, ri, rr, nil)
	if len(activeChildren(ri)) != 1 {
		t.Fatalf("initiator's children before: %d, want 1", len(activeChildren(ri)))
	}
	mi.mu.Lock()
	mi.dropSA(onlySAUnlocked(mi)) // as at the end of its lifetime: the children stay
	mi.mu.Unlock()
	mi.handle(fuzzRemote, fuzzLocal, withCookie(firstMessage(t), 0xdead)) // spoofed
	// Nothing of ours reaches the peer: the new Main Mode runs out of
	// tries (in well under a second), before the half-open SA's 30 s.
	for deadline := time.Now().Add(20 * time.Second); len(activeChildren(ri)) > 0; time.Sleep(50 * time.Millisecond) {
		ri.take()
		if time.Now().After(deadline) {
			t.Fatalf("children 20 s after the ISAKMP SA went with the peer silent: %d, want 0; status %+v", len(activeChildren(ri)), mi.Status())
		}
	}
}

// TestPeerIKEFromNewPortFollowed: an R-U-THERE that checks out from a new
// port of a peer behind a NAT (the NAT lost its mapping while the tunnel
// was idle, and made another) is answered there, and the ISAKMP SA and
// its child SAs move there, as strongSwan follows (RFC 7296 §2.23 asks
// it of IKEv2): the answer reached the old port, which the NAT no longer
// maps, so that the peer took vnetgw for dead, and traffic to the site
// went there until ESP came from the new port. A copy of the same
// message from yet another port, a replay, moves nothing; nor does one
// when this side is behind a NAT.
func TestPeerIKEFromNewPortFollowed(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) { pi.ForceEncap, pr.ForceEncap = true, true })
	shuttle(mi, mr, ri, rr, nil)
	ri.take()
	rr.take()
	// The initiator's next R-U-THERE, as its dead peer detection sends it.
	rUThere := func() []byte {
		mi.mu.Lock()
		for _, sa := range mi.sas {
			sa.sendDPD()
		}
		mi.mu.Unlock()
		sent, _, _ := ri.take()
		if len(sent) != 1 {
			t.Fatalf("the initiator sent %d messages for an R-U-THERE", len(sent))
		}
		return sent[0]
	}
	where := func() (child, isakmp netip.AddrPort) {
		rr.mu.Lock()
		child = rr.children[0].Remote
		rr.mu.Unlock()
		return child, mr.Status()[0].IKESAs[0].Remote
	}
	old, _ := where()
	moved := netip.AddrPortFrom(old.Addr(), 61000)
	msg := rUThere()
	mr.handle(netip.AddrPortFrom(fuzzLocal.Addr(), 4500), moved, msg)
	if _, _, to := rr.take(); len(to) != 1 || to[0] != moved {
		t.Errorf("the R-U-THERE-ACK went to %v, want %v", to, moved)
	}
	if c, i := where(); c != moved || i != moved {
		t.Errorf("after an R-U-THERE from %v: the child SA sends to %v, the ISAKMP SA to %v", moved, c, i)
	}

	// The same message again from another port: its answer is sent
	// again, there, but nothing moves.
	mr.handle(netip.AddrPortFrom(fuzzLocal.Addr(), 4500), netip.AddrPortFrom(old.Addr(), 62000), msg)
	rr.take()
	if c, i := where(); c != moved || i != moved {
		t.Errorf("a replayed R-U-THERE moved the child SA to %v, the ISAKMP SA to %v", c, i)
	}

	mr.mu.Lock()
	for _, sa := range mr.sas {
		sa.behindNAT = true
	}
	mr.mu.Unlock()
	mr.handle(netip.AddrPortFrom(fuzzLocal.Addr(), 4500), netip.AddrPortFrom(old.Addr(), 63000), rUThere())
	rr.take()
	if c, i := where(); c != moved || i != moved {
		t.Errorf("behind a NAT, an R-U-THERE moved the child SA to %v, the ISAKMP SA to %v", c, i)
	}
}
