package ikev2

import (
	"encoding/binary"
	"fmt"
	"slices"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// startDeleteChild sends a Delete for a pair (RFC 7296 §1.4.1). A pair
// still installed leaves the data path when the peer answers; one removed
// already (expired) only needs the peer told.
func (sa *ikeSA) startDeleteChild(ch *child) {
	if ch.state == childDeleting {
		return
	}
	ch.state = childDeleting
	ps := []wire.Payload{&wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4, SPIs: [][]byte{spi4(ch.inSPI)}}}
	what := fmt.Sprintf("the deletion of child SA 0x%s", spiString(ch.inSPI))
	sa.request(wire.Informational, what, ps, func([]wire.Payload) { sa.deletedChild(ch) })
	if sa.pend != nil {
		sa.pend.deletesChild = ch
	}
}

// deletingChild reports whether a Delete of ours of the pair whose
// outbound SPI is spi waits or is under way on one of the connection's
// IKE SAs: a pair that reached its hard lifetime is out of the list of
// pairs (and the data path) before its Delete is answered.
func (c *conn) deletingChild(spi uint32) bool {
	for _, sa := range c.sas {
		if sa.state == stateDead {
			continue
		}
		if p := sa.pend; p != nil && p.deletesChild != nil && p.deletesChild.outSPI == spi {
			return true
		}
		if slices.ContainsFunc(sa.queue, func(t task) bool {
			return t.kind == taskDeleteChild && t.child != nil && t.child.outSPI == spi
		}) {
			return true
		}
	}
	return false
}

// startDeleteIKE sends a Delete of the IKE SA and ends it when the peer
// answers (RFC 7296 §1.4.1).
func (sa *ikeSA) startDeleteIKE() {
	if sa.state == stateEstablished {
		sa.state = stateDeleting
	}
	sa.request(wire.Informational, "the deletion of the IKE SA", []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}},
		func([]wire.Payload) { sa.kill("deleted") })
	if sa.pend != nil {
		sa.pend.deletesIKE = true
	}
}

// handleInformational answers an INFORMATIONAL request: deletes, and
// liveness checks, which are empty (RFC 7296 §1.4) unless a MOBIKE
// client asks for NAT detection; a MOBIKE client's address update.
func (sa *ikeSA) handleInformational(ps []wire.Payload) []wire.Payload {
	if resp := sa.moved(ps); resp != nil {
		return resp
	}
	if resp := sa.clientAddress(ps); resp != nil {
		return resp
	}
	var ours [][]byte
	for _, p := range ps {
		d, ok := p.(*wire.Delete)
		if !ok {
			if n, ok := p.(*wire.Notify); ok && n.NotifyType == wire.AuthenticationFailed {
				// RFC 7296 §2.21.2: the initiator did not accept our
				// AUTH or identity and has no IKE SA; nor do we.
				sa.c.lastError = "peer answered AUTHENTICATION_FAILED: it did not accept our identity " +
					sa.cfg().LocalID.String() + " or our pre-shared key"
				sa.authFailed("peer refused our authentication")
				sa.killAfterResponse = true
				return nil
			}
			if n, ok := p.(*wire.Notify); ok && n.NotifyType.IsError() {
				sa.log.Warn("peer reported an error", sa.logAttrs(), "notify", n.NotifyType)
			}
			continue
		}
		switch d.Protocol {
		case wire.ProtocolIKE:
			sa.log.Info("peer deleted IKE SA", sa.logAttrs())
			if n := sa.peerRekeyed; sa.rekey != nil && n != nil {
				// RFC 7296 §2.8.2: the peer won a rekey collision; its new
				// SA takes over, and ours, still to be answered, goes.
				sa.deletedByPeer = true
				sa.handOver(n)
				return nil
			}
			// RFC 7296 §1.4.1: deleting the IKE SA deletes its children;
			// the response is empty.
			// RFC 7296 §2.25.2: a rekey of ours under way is forgotten (release frees its SPI).
			sa.deletedByPeer, sa.killAfterResponse = true, true
			return nil
		case wire.ProtocolESP:
			if d.SPISize != 4 {
				continue
			}
			for _, spi := range d.SPIs {
				ch := sa.childByOut(binary.BigEndian.Uint32(spi))
				if ch == nil {
					continue
				}
				// RFC 7296 §1.4.1: the response deletes our side of each
				// pair, unless our own Delete of it is under way.
				if ch.state != childDeleting {
					ours = append(ours, spi4(ch.inSPI))
				}
				sa.log.Info("peer deleted child SA", sa.logAttrs(), "spi_in", spiString(ch.inSPI))
				sa.deletedChild(ch)
				sa.childBack(ch.cfgIndex)
			}
		}
	}
	resp := sa.natDetection(ps)
	if len(ours) > 0 {
		resp = append(resp, &wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4, SPIs: ours})
	}
	return resp
}

// childBack makes child configuration i again, after ReconnectDelay, when
// the peer deleted its pair outside a rekey (none replaces it) and this
// end initiates, as a new connection makes them all (authResponse): a
// route-based tunnel sends no Acquire, and would carry nothing until its
// IKE SA ended. Not an on-demand tunnel's, which traffic brings back (R8),
// nor a point-to-site client's, whose children are the client's to make.
func (sa *ikeSA) childBack(i int) {
	c, home := sa.c, sa.home()
	if !c.cfg.Mode.initiates() || c.cfg.OnDemand || c.client != nil || home.hasChild(i) || c.stopping {
		return
	}
	home.retryChild(i, c.cfg.ReconnectDelay)
}

// replaceOthers removes the peer's other IKE SAs when the peer said
// INITIAL_CONTACT while establishing sa (RFC 7296 §2.4): it had no other
// SA with us, so ours are stale. Not those established after the peer's
// IKE_SA_INIT of sa came: the peer may have established them too while
// its IKE_AUTH request was on its way (both ends initiating at once), and
// they are settled as duplicates instead (settleDuplicates).
func (c *conn) replaceOthers(sa *ikeSA) {
	for _, o := range c.sas {
		if o == sa || !o.established.Before(sa.created) {
			continue
		}
		switch o.state {
		case stateEstablished, stateRekeyed, stateDeleting:
			o.log.Info("replacing stale IKE SA after INITIAL_CONTACT", o.logAttrs())
			o.kill("replaced by INITIAL_CONTACT")
		}
	}
}
