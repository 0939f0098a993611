package ikev1

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// recorder keeps what a manager sends, standing in for the UDP transport
// and the ESP data path where only the daemon's parsing is under test.
type recorder struct {
	mu       sync.Mutex
	sent     [][]byte
	from, to []netip.AddrPort
	children []ipsec.Child
	removed  []uint32 // inbound SPIs of the children removed
	drained  []uint32 // inbound SPIs of the children drained
	// installErr, when set, is what InstallChild fails with.
	installErr error
	// espFlowing: ESP from the peer opens all the time (LastInbound is
	// now); else espLast is when it last did.
	espFlowing bool
	espLast    time.Time
}

// LastInbound is when ESP from the peer last opened (ikev2.InboundClock).
func (r *recorder) LastInbound(string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.espFlowing {
		return time.Now()
	}
	return r.espLast
}

// espFlow starts or stops ESP from the peer.
func (r *recorder) espFlow(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.espFlowing && !on {
		r.espLast = time.Now()
	}
	r.espFlowing = on
}

func (r *recorder) SendIKE(local, remote netip.AddrPort, msg []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, append([]byte{}, msg...))
	r.from, r.to = append(r.from, local), append(r.to, remote)
	return nil
}

// take returns and forgets what was sent.
func (r *recorder) take() (msgs [][]byte, from, to []netip.AddrPort) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msgs, from, to = r.sent, r.from, r.to
	r.sent, r.from, r.to = nil, nil, nil
	return
}

func (r *recorder) InstallChild(c ipsec.Child) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.installErr != nil {
		return r.installErr
	}
	r.children = append(r.children, c)
	return nil
}
func (r *recorder) RemoveChild(_ string, inSPI uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removed = append(r.removed, inSPI)
}
func (r *recorder) DrainChild(_ string, inSPI uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drained = append(r.drained, inSPI)
}
func (r *recorder) MoveChild(_ string, inSPI uint32, local, remote netip.AddrPort, encap bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range r.children {
		if c.In.SPI == inSPI {
			r.children[i].Local, r.children[i].Remote, r.children[i].Encap = local, remote, encap
		}
	}
	return nil
}

var (
	fuzzLocal  = netip.MustParseAddrPort("192.0.2.1:500")
	fuzzRemote = netip.MustParseAddrPort("192.0.2.2:500")
)

func fuzzPeer(name string, local, remote netip.AddrPort, mode ikev2.ConnectionMode) ikev2.PeerConfig {
	return ikev2.PeerConfig{Name: name, Local: local, Remote: remote, PSK: ikev2.PSK("FuzzKey2026"), Mode: mode}
}

// firstMessage is what an initiating manager sends first: a valid Main
// Mode message 1.
func firstMessage(t testing.TB) []byte { return firstMessageOffering(t) }

// firstMessageOffering is what an initiating manager that offers ike (in
// strongSwan's syntax; its defaults when none) sends first.
func firstMessageOffering(t testing.TB, ike ...string) []byte {
	rec := &recorder{}
	m := New(Config{Transport: rec, Dataplane: rec})
	defer m.Close()
	pi := fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)
	for _, s := range ike {
		p, err := suite.ParseProposal(v2.ProtocolIKE, s)
		if err != nil {
			t.Fatal(err)
		}
		pi.IKEProposals = append(pi.IKEProposals, p)
	}
	if err := m.Reconfig([]ikev2.PeerConfig{pi}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		rec.mu.Lock()
		n := len(rec.sent)
		rec.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.sent) == 0 {
		t.Fatal("the initiator sent nothing")
	}
	return rec.sent[0]
}

// responder is a manager that answers the peer at fuzzRemote, closed
// when the test ends, with what it sends.
func responder(t testing.TB) (*Manager, *recorder) {
	rec := &recorder{}
	m := New(Config{Transport: rec, Dataplane: rec})
	t.Cleanup(func() { m.Close() })
	mustReconfig(t, m, fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly))
	return m, rec
}

// FuzzHandlePacket feeds arbitrary messages to a responder: it never
// panics, and a well-formed first message is answered.
//
// The seeds are message 1s of one or two transforms, not of the default
// proposals' 18: the fuzzer minimizes each input that finds new coverage,
// trying some n²/2 cuts of its n bytes, and a mutant of a 736-byte message
// kept it minimizing, with no new input, for all of a 20 s run.
func FuzzHandlePacket(f *testing.F) {
	mm1 := firstMessageOffering(f, "aes128-sha256-modp2048")
	f.Add(mm1)
	f.Add(mm1[:40])
	f.Add(firstMessageOffering(f, "aes128-sha512-sha256-modp2048")) // the first transform refused, the second taken
	f.Add(firstMessageOffering(f, "aes128-sha512-modp2048"))        // refused: NO-PROPOSAL-CHOSEN
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, _ := responder(t)
		m.handle(fuzzLocal, fuzzRemote, msg)
		m.handle(fuzzLocal, fuzzRemote, msg) // again: a retransmission
	})
}

// TestResponderAnswersMainMode: the seed is answered with message 2.
func TestResponderAnswersMainMode(t *testing.T) {
	m, rec := responder(t)
	m.handle(fuzzLocal, fuzzRemote, firstMessage(t))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.sent) != 1 || len(rec.sent[0]) < 28 || rec.sent[0][18] != 2 {
		t.Fatalf("the responder sent %d messages", len(rec.sent))
	}
}

// pair runs an initiating and a responding manager against each other,
// carrying their messages until both are quiet, and returns them with
// the responder's messages.
func exchange(t testing.TB, keyI, keyR string) (mi, mr *Manager, ri, rr *recorder) {
	ri, rr = &recorder{}, &recorder{}
	mi, mr = New(Config{Transport: ri, Dataplane: ri}), New(Config{Transport: rr, Dataplane: rr})
	pi := fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)
	pi.PSK = ikev2.PSK(keyI)
	pi.ForceEncap = true // the initiator pretends a NAT: both sides put ESP in UDP
	pr := fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)
	pr.PSK = ikev2.PSK(keyR)
	mustReconfig(t, mi, pi)
	mustReconfig(t, mr, pr)
	shuttle(mi, mr, ri, rr, nil)
	return mi, mr, ri, rr
}

// shuttle carries the messages of two managers to each other until both
// have a child, or nothing moved for a second (on a loaded machine one step
// may take a while). lose, when set, sees each message first (fromI: the
// initiator's) and tells whether it is lost on the way.
func shuttle(mi, mr *Manager, ri, rr *recorder, lose func(fromI bool, msg []byte, from, to netip.AddrPort) bool) {
	quiet := 0
	for deadline := time.Now().Add(20 * time.Second); quiet < 50 && time.Now().Before(deadline); {
		ri.mu.Lock()
		rr.mu.Lock()
		both := len(ri.children) > 0 && len(rr.children) > 0
		rr.mu.Unlock()
		ri.mu.Unlock()
		if both {
			break
		}
		time.Sleep(20 * time.Millisecond)
		a, af, at := ri.take()
		b, bf, bt := rr.take()
		for i := range a {
			if lose == nil || !lose(true, a[i], af[i], at[i]) {
				mr.handle(at[i], af[i], a[i])
			}
		}
		for i := range b {
			if lose == nil || !lose(false, b[i], bf[i], bt[i]) {
				mi.handle(bt[i], bf[i], b[i])
			}
		}
		if len(a)+len(b) == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// TestMainAndQuickMode: two managers agree on an ISAKMP SA and a child SA
// pair whose keys match crosswise; with different keys they do not.
func TestMainAndQuickMode(t *testing.T) {
	mi, mr, ri, rr := exchange(t, "SameKey", "SameKey")
	defer mi.Close()
	defer mr.Close()
	if len(ri.children) != 1 || len(rr.children) != 1 {
		t.Fatalf("children: initiator %d, responder %d; status %+v / %+v", len(ri.children), len(rr.children), mi.Status(), mr.Status())
	}
	ci, cr := ri.children[0], rr.children[0]
	if ci.Out.SPI != cr.In.SPI || ci.In.SPI != cr.Out.SPI || !ci.Encap || !cr.Encap || ci.Remote.Port() != 4500 || cr.Remote.Port() != 4500 {
		t.Fatalf("SPIs or encapsulation do not match: %+v / %+v", ci, cr)
	}
	// A packet sealed by one side opens at the other, both ways: the
	// keys were derived alike (RFC 2409 §5.5).
	for _, d := range []struct{ out, in esp.Config }{{ci.Out, cr.In}, {cr.Out, ci.In}} {
		seal, err1 := esp.New(d.out)
		open, err2 := esp.New(d.in)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, esp.Headroom+64+esp.Tailroom)
		copy(buf[esp.Headroom:], "an inner packet")
		pkt, err := seal.Seal(buf, 64, 4)
		if err != nil {
			t.Fatal(err)
		}
		if inner, _, err := open.Open(pkt); err != nil || !strings.HasPrefix(string(inner), "an inner packet") {
			t.Fatalf("a packet sealed by one side does not open at the other: %v", err)
		}
	}
	if st := mr.Status()[0]; st.State != "established" || len(st.IKESAs[0].Children) != 1 {
		t.Fatalf("responder status %+v", st)
	}

	mi2, mr2, ri2, rr2 := exchange(t, "OneKey", "AnotherKey")
	defer mi2.Close()
	defer mr2.Close()
	if len(ri2.children)+len(rr2.children) != 0 {
		t.Fatal("a child SA came up with different pre-shared keys")
	}
	if st := mr2.Status()[0]; st.State == "established" || !strings.Contains(st.LastError, "pre-shared key") {
		t.Fatalf("responder with the wrong key: %+v", st)
	}
}

// TestStatsCountDrops: each message a responder drops or answers again
// shows in its counters under its reason.
func TestStatsCountDrops(t *testing.T) {
	m, _ := responder(t)
	mm1 := firstMessage(t)
	m.HandlePacket(fuzzLocal, fuzzRemote, mm1[:20])                                          // malformed
	m.HandlePacket(fuzzLocal, netip.MustParseAddrPort("192.0.2.99:500"), mm1)                // no peer
	m.HandlePacket(fuzzLocal, fuzzRemote, append([]byte{1}, mm1[1:]...))                     // new cookie: answered
	m.HandlePacket(fuzzLocal, fuzzRemote, append([]byte{1}, mm1[1:]...))                     // again: answered again
	m.HandlePacket(fuzzLocal, fuzzRemote, append(append([]byte{2}, mm1[1:16]...), 7, 7)[:0]) // empty: malformed
	other := append([]byte{3}, mm1[1:]...)
	other[19] |= 1 // encrypted: not a first message, and no SA has this cookie
	m.HandlePacket(fuzzLocal, fuzzRemote, other)
	// The datagrams go through the manager's queue.
	want := ikev2.Stats{Received: 6, Sent: 2, Malformed: 2, NoPeer: 1, UnknownSPI: 1, RetransmitsAnswered: 1}
	for deadline := time.Now().Add(5 * time.Second); m.Stats() != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want %+v", m.Stats(), want)
		}
	}
}

// A busy manager (here: its lock held, as during a key exchange) does not
// hold up the transport's reader: datagrams beyond its queue are dropped
// and counted, and the queued ones are handled once it is free.
func TestQueueFull(t *testing.T) {
	m, _ := responder(t)
	mm1 := firstMessage(t)
	m.mu.Lock()
	const n = queueLen + 50
	for range n {
		// Main Mode message 1 and its retransmissions: each takes the
		// lock to be handled.
		m.HandlePacket(fuzzLocal, fuzzRemote, mm1)
	}
	m.mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st := m.Stats()
		if st.Received == n && st.QueueFull >= n-queueLen-1 && 1+st.RetransmitsAnswered+st.QueueFull == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v after %d datagrams to a busy manager", st, n)
		}
	}
}

// The initiator's quick mode message 3 is lost: the responder, which
// installs its child only with HASH(3), sends message 2 again, and the
// initiator answers it with HASH(3) again instead of taking it for a new
// exchange.
func TestLostQuickModeHash3(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	const quickMode = 32
	var qm2 []byte
	var qm2From, qm2To netip.AddrPort
	initiatorQuick, lost := 0, false
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
		switch {
		case msg[18] != quickMode:
		case !fromI && qm2 == nil:
			qm2, qm2From, qm2To = msg, from, to
		case fromI:
			if initiatorQuick++; initiatorQuick == 2 {
				lost = true // HASH(3) lost on the way; the responder sends message 2 again
				mi.handle(qm2To, qm2From, qm2)
				return true
			}
		}
		return false
	})
	if !lost || len(ri.children) != 1 || len(rr.children) != 1 {
		t.Fatalf("after a lost HASH(3) (lost: %v): initiator %d children, responder %d; %+v", lost, len(ri.children), len(rr.children), mr.Status())
	}
}

// twoManagers starts an initiator (ModeInitiatorOnly) and a responder
// (ModeResponderOnly) of one connection, each with a recorder for its
// transport and data plane; tweak, if not nil, changes their peers
// first. Both close when t ends.
func twoManagers(t *testing.T, tweak func(pi, pr *ikev2.PeerConfig)) (mi, mr *Manager, ri, rr *recorder) {
	ri, rr = &recorder{}, &recorder{}
	mi, mr = New(Config{Transport: ri, Dataplane: ri}), New(Config{Transport: rr, Dataplane: rr})
	t.Cleanup(func() { mi.Close(); mr.Close() })
	pi := fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)
	pr := fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)
	if tweak != nil {
		tweak(&pi, &pr)
	}
	mustReconfig(t, mi, pi)
	mustReconfig(t, mr, pr)
	return mi, mr, ri, rr
}

// mustReconfig gives m peers, or fails t: a helper's configuration that
// Reconfig refuses would leave the test without the peers it is about.
func mustReconfig(t testing.TB, m *Manager, peers ...ikev2.PeerConfig) {
	t.Helper()
	if err := m.Reconfig(peers); err != nil {
		t.Fatal(err)
	}
}
