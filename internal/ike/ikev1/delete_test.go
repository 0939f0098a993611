package ikev1

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// renewed renews the initiator's phase 1 with every quick mode lost, so
// that the old ISAKMP SA keeps the child on both sides, and returns the
// old and the new SA as the initiator has them.
func renewed(t *testing.T, mi, mr *Manager, ri, rr *recorder) (old, fresh *isakmpSA) {
	t.Helper()
	old = renewSoon(t, mi)
	for deadline := time.Now().Add(20 * time.Second); established(mi) < 2 || established(mr) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no phase 1 renewal: %+v / %+v", mi.Status(), mr.Status())
		}
		passAllButQuick(mi, mr, ri, rr)
	}
	mi.mu.Lock()
	defer mi.mu.Unlock()
	for _, sa := range mi.sas {
		if sa != old && sa.state == stEstablished {
			fresh = sa
		}
	}
	return old, fresh
}

// infoTo hands m the informational messages r holds, and drops the rest.
func infoTo(m *Manager, r *recorder) {
	msgs, from, to := r.take()
	for i := range msgs {
		if msgs[i][18] == wire.ExchangeInfo {
			m.handle(to[i], from[i], msgs[i])
		}
	}
}

// TestDeleteOfReplacedSAOverNewest: RFC 2408 §3.15, a Delete names the
// ISAKMP SA it ends by its cookies, not by the SA that carries it. A
// peer that renewed phase 1 and deletes the old SA over the new one
// (OpenBSD's isakmpd does, and libreswan reads it so) has it gone here
// too: it was ignored, and the old SA stayed as long as a child was on
// it. The connection stays up and the child goes on, under the new SA.
func TestDeleteOfReplacedSAOverNewest(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	before := activeChildren(rr)
	if len(before) != 1 {
		t.Fatalf("responder's children before: %d, want 1", len(before))
	}
	old, fresh := renewed(t, mi, mr, ri, rr)
	ri.take()

	mi.mu.Lock()
	fresh.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPIs: [][]byte{old.cookies()}}.Append(nil))
	mi.dropSA(old)
	mi.mu.Unlock()
	infoTo(mr, ri)

	mr.mu.Lock()
	_, kept := mr.sas[old.ic]
	newR := mr.sas[fresh.ic]
	up := newR != nil && newR.state == stEstablished
	mr.timers(time.Now())
	var under *isakmpSA
	if p := mr.peers["r"]; len(p.children) == 1 {
		under = p.children[0].sa
	}
	mr.mu.Unlock()
	if kept || !up {
		t.Errorf("after the peer deleted its old ISAKMP SA over the new one: old kept %v, new established %v; want the old gone, the new kept", kept, up)
	}
	after := activeChildren(rr)
	if len(after) != 1 || after[0].In.SPI != before[0].In.SPI || under == nil || under != newR {
		t.Errorf("the child after the old SA went: %d active (was %08x), under the new SA %v; want the same one, moved", len(after), before[0].In.SPI, under == newR)
	}
	if st := mr.Status(); len(st) != 1 || st[0].State != "established" || st[0].LastError != "" || len(st[0].IKESAs) != 1 {
		t.Errorf("responder's status: %+v, want established with one ISAKMP SA and no error", st)
	}
}

// TestDeleteOfOwnAndReplacedSA: one Delete that names both of the peer's
// ISAKMP SAs, carried by either, takes the connection down with its
// children, as the Delete of the last one does.
func TestDeleteOfOwnAndReplacedSA(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	old, fresh := renewed(t, mi, mr, ri, rr)
	ri.take()

	mi.mu.Lock()
	old.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPIs: [][]byte{old.cookies(), fresh.cookies()}}.Append(nil))
	mi.mu.Unlock()
	infoTo(mr, ri)

	if n := established(mr); n != 0 {
		t.Errorf("%d ISAKMP SAs left after the peer deleted both, want none", n)
	}
	if n := len(activeChildren(rr)); n != 0 {
		t.Errorf("%d children left after the peer deleted its last ISAKMP SA, want none", n)
	}
	if st := mr.Status(); len(st) != 1 || st[0].LastError != "the peer deleted the ISAKMP SA" {
		t.Errorf("responder's status: %+v, want the peer's delete as the reason", st)
	}
}

// TestDeleteOfAnotherPeersSAIgnored: a peer's Delete that names the
// cookies of another connection's ISAKMP SA deletes nothing: one peer
// cannot end another's tunnel (libreswan checks alike that both SAs
// authenticated the same peer).
func TestDeleteOfAnotherPeersSAIgnored(t *testing.T) {
	other := netip.MustParseAddrPort("192.0.2.3:500")
	ra, rb, rr := &recorder{}, &recorder{}, &recorder{}
	ma, mb, mr := New(Config{Transport: ra, Dataplane: ra}), New(Config{Transport: rb, Dataplane: rb}), New(Config{Transport: rr, Dataplane: rr})
	t.Cleanup(func() { ma.Close(); mb.Close(); mr.Close() })
	pb := fuzzPeer("b", other, fuzzLocal, ikev2.ModeInitiatorOnly)
	pb.PSK = ikev2.PSK("AnotherKey2026")
	rb2 := fuzzPeer("rb", fuzzLocal, other, ikev2.ModeResponderOnly)
	rb2.PSK = pb.PSK
	ma.Reconfig([]ikev2.PeerConfig{fuzzPeer("a", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)})
	mb.Reconfig([]ikev2.PeerConfig{pb})
	if err := mr.Reconfig([]ikev2.PeerConfig{fuzzPeer("ra", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly), rb2}); err != nil {
		t.Fatal(err)
	}
	// Each datagram goes to the manager at its destination address.
	at := map[netip.Addr]*Manager{fuzzLocal.Addr(): mr, fuzzRemote.Addr(): ma, other.Addr(): mb}
	route := func() int {
		n := 0
		for _, r := range []*recorder{ra, rb, rr} {
			msgs, from, to := r.take()
			for i := range msgs {
				at[to[i].Addr()].handle(to[i], from[i], msgs[i])
			}
			n += len(msgs)
		}
		return n
	}
	for deadline := time.Now().Add(20 * time.Second); len(activeChildren(ra)) == 0 || len(activeChildren(rb)) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not both connections up: %+v", mr.Status())
		}
		route()
	}
	for route() > 0 {
	}
	victim := onlySA(t, mb)
	attacker := onlySA(t, ma)
	before := activeChildren(rr)

	ma.mu.Lock()
	attacker.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPIs: [][]byte{victim.cookies()}}.Append(nil))
	ma.mu.Unlock()
	route()

	mr.mu.Lock()
	sa := mr.sas[victim.ic]
	kept := sa != nil && sa.state == stEstablished && sa.p.cfg.Name == "rb"
	attackerKept := mr.sas[attacker.ic] != nil
	mr.mu.Unlock()
	if !kept || !attackerKept {
		t.Errorf("peer a's Delete of peer b's ISAKMP SA: b's SA kept %v, a's kept %v; want both kept", kept, attackerKept)
	}
	after := activeChildren(rr)
	if len(after) != len(before) || !slices.Equal(spiPairs(after), spiPairs(before)) {
		t.Errorf("children after peer a's Delete of peer b's ISAKMP SA: %v, want %v", spiPairs(after), spiPairs(before))
	}
	for _, st := range mr.Status() {
		if st.State != "established" || st.LastError != "" {
			t.Errorf("connection %s: %s %q, want established and no error", st.Name, st.State, st.LastError)
		}
	}
}
