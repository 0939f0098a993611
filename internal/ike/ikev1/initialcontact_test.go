package ikev1

import (
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// sendInitialContact has m's peer SA sa send INITIAL-CONTACT in an
// informational exchange of its own, as racoon (ipsec-tools) sends it
// once phase 1 is established, and hands it to o.
func sendInitialContact(m, o *Manager, r *recorder, sa *isakmpSA) {
	m.mu.Lock()
	sa.sendInfo(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: wire.NotifyInitialContact}.Append(nil))
	m.mu.Unlock()
	infoTo(o, r)
}

// TestInitialContactKeepsChildrenOfItsSA: RFC 2407 §4.6.3.3, INITIAL-CONTACT
// tells that the SA that carries it is the first with the peer, whose
// SAs from before (a restart) are stale. Sent in an informational
// exchange of its own, it may come after a quick mode on that SA (the
// gateway starts one within a tick of the Main Mode; the peer's own may
// overtake it on the way): that child is the peer's too, and stays. It
// was removed with the stale ones, and the peer's traffic on it dropped
// for an unknown SPI. A child made on an older SA still goes, with that
// SA.
func TestInitialContactKeepsChildrenOfItsSA(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	first := activeChildren(rr)
	if len(first) != 1 {
		t.Fatalf("responder's children: %d, want 1", len(first))
	}
	sendInitialContact(mi, mr, ri, onlySA(t, mi))
	if got := activeChildren(rr); len(got) != 1 || got[0].In.SPI != first[0].In.SPI {
		t.Fatalf("after INITIAL-CONTACT over the SA the child was made on: children %+v, want %08x kept", got, first[0].In.SPI)
	}
	if st := mr.Status(); len(st) != 1 || st[0].State != "established" || len(st[0].IKESAs) != 1 || len(st[0].IKESAs[0].Children) != 1 {
		t.Errorf("responder's status after INITIAL-CONTACT: %+v", st)
	}

	// Over a newer SA, it ends the child made on the old one, and that SA.
	old, fresh := renewed(t, mi, mr, ri, rr)
	sendInitialContact(mi, mr, ri, fresh)
	rr.mu.Lock()
	removed := slices.Contains(rr.removed, first[0].In.SPI)
	rr.mu.Unlock()
	if !removed {
		t.Errorf("INITIAL-CONTACT over a newer SA kept the child %08x made before it", first[0].In.SPI)
	}
	mr.mu.Lock()
	_, kept := mr.sas[old.ic]
	mr.mu.Unlock()
	if kept {
		t.Errorf("INITIAL-CONTACT over a newer SA kept the older SA")
	}
}

// TestLateInitialContactKeepsNewerSA: both sides start a Main Mode at
// once (two gateways that came up together), and the first's message 5
// carries INITIAL-CONTACT (it had no SA of the other's past message 4
// then). That message 5 is lost; meanwhile the second side's Main Mode
// completes, and a child is made on it. The first side's message 5 sent
// again arrives after it: RFC 2407 §4.6.3.3, the notification is about
// the SAs from before the peer's restart, and this SA and its child the
// peer made since, and holds. They were dropped, the peer's child with
// them, while the peer went on sending with it.
func TestLateInitialContactKeepsNewerSA(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		for _, p := range []*ikev2.PeerConfig{pi, pr} {
			p.Mode = ikev2.ModeResponderOnly // no Main Mode but those started below
			p.RetransmitTimeout, p.RetransmitTries = 200*time.Millisecond, 6
			p.ReconnectDelay = time.Minute
		}
	})
	// The initiator's side starts first; the other starts its own once
	// the first's message 1 came, and makes no quick mode of its own.
	var first uint64
	mi.mu.Lock()
	p := mi.peers["i"]
	p.cfg.Mode, p.nextTry = ikev2.ModeDefault, time.Now().Add(time.Hour)
	mi.initiate(p, nil)
	first = onlySAUnlocked(mi).ic
	mi.mu.Unlock()
	withIC := false // the first side's message 5 carries INITIAL-CONTACT
	step := func(lose func(fromI bool, msg []byte) bool) {
		a, af, at := ri.take()
		b, bf, bt := rr.take()
		for i := range a {
			if lose == nil || !lose(true, a[i]) {
				mr.handle(at[i], af[i], a[i])
			}
		}
		for i := range b {
			if lose == nil || !lose(false, b[i]) {
				if h, err := wire.ParseHeader(b[i]); err == nil && h.ICookie == first && h.Exchange == wire.ExchangeMain {
					mi.mu.Lock()
					if sa := mi.sas[first]; sa != nil && sa.state == stMM3 {
						withIC = sa.firstContact() // as message 4 makes message 5
					}
					mi.mu.Unlock()
				}
				mi.handle(bt[i], bf[i], b[i])
			}
		}
	}
	step(nil)
	mr.mu.Lock()
	mr.initiate(mr.peers["r"], nil)
	mr.mu.Unlock()

	// The first side's message 5 is lost until the second side's Main
	// Mode is done and has its child.
	hold := true
	lose := func(fromI bool, msg []byte) bool {
		h, err := wire.ParseHeader(msg)
		if !fromI || err != nil || h.ICookie != first || h.Exchange != wire.ExchangeMain || h.Flags&wire.FlagEncryption == 0 {
			return false
		}
		return hold
	}
	for deadline := time.Now().Add(10 * time.Second); len(activeChildren(rr)) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no child on the second side's SA: %+v / %+v", mi.Status(), mr.Status())
		}
		step(lose)
	}
	if !withIC {
		t.Fatal("the first side's message 5 carried no INITIAL-CONTACT: the test sets up nothing")
	}
	child := activeChildren(rr)[0].In.SPI
	hold = false
	for deadline := time.Now().Add(5 * time.Second); established(mr) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first side's message 5, sent again, completed nothing: %+v / %+v", mi.Status(), mr.Status())
		}
		step(lose)
		if established(mr) == 1 && len(activeChildren(rr)) == 0 {
			break // the old code: the second side's SA and child went
		}
	}
	carry(mi, mr, ri, rr, time.Second, nil, nil)
	rr.mu.Lock()
	removed := slices.Contains(rr.removed, child)
	rr.mu.Unlock()
	if removed {
		t.Errorf("the late INITIAL-CONTACT removed the child %08x made since on the peer's other SA, which the peer keeps: %+v / %+v", child, mi.Status(), mr.Status())
	}
	if _, ok := agreed(mi, mr); !ok {
		t.Errorf("both sides do not carry the connection on one SA with a child: %+v / %+v", mi.Status(), mr.Status())
	}
}
