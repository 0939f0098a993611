package ikev1

import (
	"slices"
	"testing"

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
