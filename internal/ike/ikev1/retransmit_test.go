package ikev1

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// TestLostHash3AfterOtherExchange: the initiator's HASH(3) is lost, and
// before the responder sends message 2 again the initiator answers
// another quick mode the peer started. The retransmitted message 2 still
// gets HASH(3) again, so that the responder installs the child the
// initiator already sends with.
func TestLostHash3AfterOtherExchange(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	ri.mu.Lock()
	oldI := ri.children[0].In.SPI
	ri.mu.Unlock()
	rr.mu.Lock()
	oldR := rr.children[0].In.SPI
	rr.mu.Unlock()
	// Both rekey the child at once: quick mode a (ours) and b (the
	// peer's) run side by side.
	mi.SoftExpired("i", oldI)
	mr.SoftExpired("r", oldR)
	quickOf := func(r *recorder) (msg []byte, from, to netip.AddrPort) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			msgs, f, to := r.take()
			for i := range msgs {
				if msgs[i][18] == wire.ExchangeQuick {
					return msgs[i], f[i], to[i]
				}
			}
		}
		t.Fatal("no quick mode message")
		return nil, netip.AddrPort{}, netip.AddrPort{}
	}
	a1, a1f, a1t := quickOf(ri)
	b1, b1f, b1t := quickOf(rr)
	mr.handle(a1t, a1f, a1)
	a2, a2f, a2t := quickOf(rr)
	mi.handle(a2t, a2f, a2) // the initiator installs a's child
	quickOf(ri)             // HASH(3) of a: lost
	mi.handle(b1t, b1f, b1) // the initiator answers b
	ri.mu.Lock()
	var newOut uint32
	for _, c := range ri.children {
		if c.In.SPI != oldI {
			newOut = c.Out.SPI // a's child: the SPI the responder must install
		}
	}
	ri.mu.Unlock()
	// Everything else is carried; the responder sends a's message 2 again.
	installed := func() bool {
		rr.mu.Lock()
		defer rr.mu.Unlock()
		return slices.ContainsFunc(rr.children, func(c ipsec.Child) bool { return c.In.SPI == newOut })
	}
	if carry(mi, mr, ri, rr, 6*time.Second, installed, nil); installed() {
		return
	}
	t.Errorf("the responder never installed the child whose HASH(3) was lost (inbound %08x): the initiator sends with it into nothing; %+v", newOut, mr.Stats())
}

// TestRetransmissionCapped: the wait between retransmissions of a main
// mode message doubles up to ikev2.MaxRetransmitTimeout and stays there,
// as IKEv2's does, so that the most tries a configuration allows (20, of
// 2 s) give up on a silent peer within hours, not after 48 days. The
// SA's clock is stepped from one retransmission to the next.
func TestRetransmissionCapped(t *testing.T) {
	rec := &recorder{}
	m := New(Config{Transport: rec, Dataplane: rec})
	t.Cleanup(func() { m.Close() })
	pc := fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)
	pc.RetransmitTimeout, pc.RetransmitTries = 2*time.Second, 20
	if err := m.Reconfig([]ikev2.PeerConfig{pc}); err != nil {
		t.Fatal(err)
	}
	var sa *isakmpSA
	for deadline := time.Now().Add(10 * time.Second); sa == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no main mode started")
		}
		m.mu.Lock()
		for _, s := range m.sas {
			sa = s
		}
		m.mu.Unlock()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var total time.Duration
	for steps := 0; sa.state != stDead; steps++ {
		if steps > pc.RetransmitTries {
			t.Fatalf("the peer still counts as alive after %d retransmissions", sa.out.tries)
		}
		o := sa.out
		if want := min(pc.RetransmitTimeout<<o.tries, ikev2.MaxRetransmitTimeout); o.timeout != want {
			t.Errorf("wait after try %d: %v, want %v", o.tries, o.timeout, want)
		}
		total += o.timeout
		sa.timers(o.sentAt.Add(o.timeout+time.Millisecond), false)
	}
	if total > 12*time.Hour {
		t.Errorf("the peer was given up on %v after main mode started", total)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.sent) != 1+pc.RetransmitTries {
		t.Errorf("%d messages sent, want message 1 and %d retransmissions", len(rec.sent), pc.RetransmitTries)
	}
}

// TestRetransmitTimeoutValidated: a first wait above the cap, or more
// than 20 tries, is refused, as by the IKEv2 daemon.
func TestRetransmitTimeoutValidated(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		tries   int
		ok      bool
	}{
		{"up to the cap", ikev2.MaxRetransmitTimeout, 20, true},
		{"first wait beyond the cap", ikev2.MaxRetransmitTimeout + time.Second, 5, false},
		{"negative first wait", -time.Second, 5, false},
		{"too many tries", 2 * time.Second, 21, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			m := New(Config{Transport: rec, Dataplane: rec})
			defer m.Close()
			pc := fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)
			pc.RetransmitTimeout, pc.RetransmitTries = tc.timeout, tc.tries
			err := m.Reconfig([]ikev2.PeerConfig{pc})
			if (err == nil) != tc.ok {
				t.Fatalf("Reconfig: %v, want ok %v", err, tc.ok)
			}
			if !tc.ok && len(m.Status()) != 0 {
				t.Errorf("a refused configuration's peer is there: %+v", m.Status())
			}
		})
	}
}
