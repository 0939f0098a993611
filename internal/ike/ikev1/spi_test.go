package ikev1

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// TestReservedSPIRefused: a peer's SPI below 256 (reserved, RFC 4303
// §2.1) is refused as its quick mode message comes, with an INVALID-SPI
// notification that names it: by the responder in message 1, which
// answered it with message 2 and installed the child once HASH(3) came;
// by the initiator in message 2, which sent HASH(3) and installed the
// child. No child SA has the reserved SPI, on either side.
func TestReservedSPIRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		fromI bool // the initiator's message 1 has the SPI, not the responder's message 2
	}{{"responder, message 1", true}, {"initiator, message 2", false}} {
		var first []byte // what the refusing side sent first once it had the SPI
		mi, mr, ri, rr := rewriteQuick(t, nil, c.fromI, func(fi bool, msg []byte) bool {
			if first == nil && fi != c.fromI {
				first = msg
				return false
			}
			// Once refused, the retry after the pair's backoff is
			// lost: its child would clear the status's reason.
			return first != nil
		}, func(in *wire.SA) {
			in.Proposals[0].SPI = []byte{0, 0, 0, 7}
		})
		m := mr
		if !c.fromI {
			m = mi
		}
		var n wire.Notify
		if first != nil && first[18] == wire.ExchangeInfo {
			sa := onlySA(t, m)
			h, _ := wire.ParseHeader(first)
			m.mu.Lock()
			ps, _, err := sa.decrypt(h, first, sa.s.Hash.phase2IV(sa.p1iv, h.MessageID), nil)
			m.mu.Unlock()
			if err != nil || len(ps) != 1 {
				t.Fatalf("%s: an informational message that does not open: %v", c.name, err)
			}
			n, _ = wire.ParseNotify(ps[0].Body)
		}
		if n.Type != wire.NotifyInvalidSPI || n.Protocol != wire.ProtocolESP || !bytes.Equal(n.SPI, []byte{0, 0, 0, 7}) {
			t.Errorf("%s: after SPI 7 came, the first message sent is not an INVALID-SPI that names it (exchange %v, notify %+v)", c.name, first != nil && first[18] == wire.ExchangeInfo, n)
		}
		for _, r := range []*recorder{ri, rr} {
			r.mu.Lock()
			if slices.ContainsFunc(r.children, func(ch ipsec.Child) bool { return ch.In.SPI < 256 || ch.Out.SPI < 256 }) {
				t.Errorf("%s: a child SA with SPI 7 was installed", c.name)
			}
			r.mu.Unlock()
		}
		if st := m.Status(); !strings.Contains(st[0].LastError, "SPI 7 is reserved") {
			t.Errorf("%s: the refusing side's status: %q", c.name, st[0].LastError)
		}
	}
}

// TestErrorNotifyEndsItsQuickMode: an error notification of the peer's
// ends the quick mode whose SPI it names (RFC 2408 §3.14), not another
// one under way: a rekey in flight carries on past a NO-PROPOSAL-CHOSEN
// about another SPI (an exchange that ended, say) and installs its new
// pair; one that names the rekey's SPI ends it at once, its SPI given
// back, rather than after the retransmissions.
func TestErrorNotifyEndsItsQuickMode(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	si, sr := onlySA(t, mi), onlySA(t, mr)
	// notify has the responder tell the initiator NO-PROPOSAL-CHOSEN
	// about spi.
	notify := func(spi uint32) {
		mr.mu.Lock()
		sr.sendInfo(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPI: binary.BigEndian.AppendUint32(nil, spi), Type: wire.NotifyNoProposalChosen}.Append(nil))
		mr.mu.Unlock()
		msg, from, to := sent(t, rr)
		mi.handle(to, from, msg)
	}
	// rekey starts a rekey of the initiator's child and returns its
	// message 1, held back, with the inbound SPI it reserved.
	rekey := func() (qm1 []byte, spi uint32) {
		ri.take()
		mi.mu.Lock()
		c := mi.peers["i"].children[0]
		si.startQuick(c.pair, c)
		for _, q := range si.qms {
			spi = q.spiIn
		}
		mi.mu.Unlock()
		qm1, _, _ = sent(t, ri)
		return qm1, spi
	}
	inFlight := func() int {
		mi.mu.Lock()
		defer mi.mu.Unlock()
		return len(si.qms)
	}

	qm1, spi := rekey()
	notify(spi + 1)
	if n := inFlight(); n != 1 {
		t.Errorf("a NO-PROPOSAL-CHOSEN about another SPI left %d of the initiator's quick modes, want its rekey", n)
	}
	mr.handle(fuzzLocal, fuzzRemote, qm1)
	carry(mi, mr, ri, rr, 10*time.Second, func() bool {
		ri.mu.Lock()
		defer ri.mu.Unlock()
		return len(ri.children) == 2
	}, nil)
	ri.mu.Lock()
	children := len(ri.children)
	ri.mu.Unlock()
	if children != 2 {
		t.Errorf("the rekey under way when a NO-PROPOSAL-CHOSEN about another SPI came installed no pair: %d children", children)
	}

	_, spi = rekey()
	notify(spi)
	mi.mu.Lock()
	reserved := mi.spis[spi]
	mi.mu.Unlock()
	if n := inFlight(); n != 0 || reserved {
		t.Errorf("a NO-PROPOSAL-CHOSEN about the rekey's SPI left %d quick modes, its SPI reserved %v; want none", n, reserved)
	}
}
