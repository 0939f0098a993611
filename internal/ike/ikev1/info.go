package ikev1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// sendInfo sends an informational exchange with one payload, protected
// by HASH(1) = prf(SKEYID_a, M-ID | payload) (RFC 2409 §5.7), with a
// message ID of its own, and returns it.
func (sa *isakmpSA) sendInfo(t wire.PayloadType, body []byte) []byte {
	mid := sa.newMID()
	msg, _ := sa.encrypted(wire.ExchangeInfo, mid, sa.s.Hash.phase2IV(sa.p1iv, mid), nil, []wire.Payload{{Type: t, Body: body}})
	sa.send(msg)
	return msg
}

// handleInfo takes an encrypted informational message: Delete, dead peer
// detection (RFC 3706), INITIAL-CONTACT. One with a message ID the peer
// used already is a replay (the peer sends each with a new one).
func (sa *isakmpSA) handleInfo(h wire.Header, msg []byte) error {
	// RFC 2408 §3.1, RFC 3706 §7: the Message ID is checked against replays.
	if sa.peerMIDs.has(h.MessageID) {
		return fmt.Errorf("%w: informational message with message ID %08x, which the peer used already", errStale, h.MessageID)
	}
	ps, _, err := sa.decrypt(h, msg, sa.s.Hash.phase2IV(sa.p1iv, h.MessageID), nil)
	if err != nil {
		return err
	}
	sa.peerMIDs.add(h.MessageID)
	sa.checkedOut()
	m, p := sa.m, sa.p
	for _, pl := range ps {
		switch pl.Type {
		case wire.PayloadNotify:
			n, err := wire.ParseNotify(pl.Body)
			if err != nil {
				return err
			}
			switch n.Type {
			case wire.NotifyRUThere:
				if len(n.Data) != 4 {
					return errors.New("an R-U-THERE without a 4-byte sequence number")
				}
				// RFC 3706 §7: one older than the last is stale; the last
				// again is the peer's next try after our ACK was lost
				// (strongSwan's), with a new message ID.
				seq := binary.BigEndian.Uint32(n.Data)
				if sa.peerSeqSeen && int32(seq-sa.peerSeq) < 0 {
					return fmt.Errorf("%w: R-U-THERE %d after %d", errStale, seq, sa.peerSeq)
				}
				sa.peerSeq, sa.peerSeqSeen = seq, true
				ack := sa.sendInfo(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: wire.NotifyRUThereAck, Data: n.Data}.Append(nil))
				// The same R-U-THERE again (a retransmission) gets the same
				// ACK (Manager.handle), while it is kept.
				sa.dpdAck, sa.dpdAckMID = answer{req: bytes.Clone(msg), reply: ack, at: time.Now()}, h.MessageID
			case wire.NotifyRUThereAck:
				// RFC 3706 §7: an ACK carries the sequence number of the R-U-THERE it answers; others are rejected.
				if len(n.Data) != 4 || sa.dpd.msg == nil || binary.BigEndian.Uint32(n.Data)-sa.dpdFirst > sa.dpdSeq-sa.dpdFirst {
					return fmt.Errorf("%w: an R-U-THERE-ACK that answers no R-U-THERE in flight", errStale)
				}
				sa.dpd = outstanding{}
			case wire.NotifyInitialContact:
				m.initialContact(sa)
			default:
				if n.Type < 16384 { // an error (RFC 2408 §3.14.1)
					p.lastErr = "the peer sent notification " + notifyName(n.Type)
					if mid, q := sa.refusedQuick(n); q != nil {
						sa.endQuick(mid, q)
						p.lastErr = fmt.Sprintf("quick mode for %v: %s", q.pair, p.lastErr)
					} else {
						// Our quick modes under way go on: the retransmission
						// of a message the peer could not read may get
						// through, or the exchange ends when its tries run out.
						m.log.Info("IKEv1 error notification tied to no quick mode", "conn", p.cfg.Name, "notify", notifyName(n.Type))
						for _, q := range sa.qms {
							if q.initiator {
								q.told = notifyName(n.Type)
							}
						}
					}
				}
			}
		case wire.PayloadDelete:
			d, err := wire.ParseDelete(pl.Body)
			if err != nil {
				return err
			}
			switch d.Protocol {
			case wire.ProtocolISAKMP:
				// RFC 2408 §3.15: the SPIs are the cookies of the ISAKMP SA
				// deleted, which need not be the one that carries the
				// Delete: a peer that renewed phase 1 may delete the old SA
				// over the new one (OpenBSD's isakmpd does). Only the peer's
				// own SAs: cookies of another connection's are ignored, as
				// one peer may not end another's tunnel.
				for _, spi := range d.SPIs {
					if len(spi) != 16 {
						continue
					}
					o := m.sas[binary.BigEndian.Uint64(spi)]
					if o == nil || o.p != p || !bytes.Equal(spi, o.cookies()) {
						m.log.Debug("IKEv1 Delete of an ISAKMP SA that is not the peer's ignored", "conn", p.cfg.Name)
						continue
					}
					m.peerDeleted(o)
				}
			case wire.ProtocolESP:
				for _, spi := range d.SPIs {
					if len(spi) != 4 {
						continue
					}
					out := binary.BigEndian.Uint32(spi) // the peer's inbound SPI: our outbound
					for _, c := range p.children {
						if c.outSPI == out {
							m.log.Info("IKEv1 child SA deleted by the peer", "conn", p.cfg.Name, "out", fmt.Sprintf("%08x", out))
							now := time.Now()
							if c.hardExpired || now.After(c.installed.Add(c.s.Life)) {
								now = time.Time{} // RFC 4301 §4.4.2.1: not used past its lifetime, to open either
							}
							m.retire(p, c, now)
							sa.peerWentIdle()
							break
						}
					}
				}
			}
		}
	}
	return nil
}

// peerDeleted drops sa, which its peer deleted. The connection goes
// down with the last of its ISAKMP SAs, children and all; while another
// is left, the children go on under it (Manager.timers). m.mu is held.
func (m *Manager) peerDeleted(sa *isakmpSA) {
	p := sa.p
	m.log.Info("IKEv1 SA deleted by the peer", "conn", p.cfg.Name)
	m.dropSA(sa)
	if !m.up(p) {
		for _, c := range p.children {
			m.removeChild(p, c)
		}
		p.children = nil
		// The connection is down; a replaced SA that goes leaves it up,
		// and says nothing.
		p.lastErr = "the peer deleted the ISAKMP SA"
	}
	p.nextTry = time.Now().Add(p.cfg.ReconnectDelay)
	sa.peerWentIdle()
}

// refusedQuick returns the quick mode under way that an error
// notification of the peer's, n, is about: the one whose SPI it names
// (RFC 2408 §3.14: the receiver's, our inbound SPI; strongSwan names the
// initiator's, the peer's own when it started the exchange), none when it
// names another (an exchange that ended, say). One that names no child
// SA (protocol ISAKMP, with the cookies or no SPI, as libreswan sends; or
// ESP with SPI 0, as strongSwan refuses traffic it has no child for,
// before it read the proposal's SPI: RFC 4303 §2.1, SPI 0 is no SA's)
// is about our own quick mode when one alone is under way, if it
// refuses what a quick mode proposes (refusesProposal): one that tells of
// a message the peer could not read (strongSwan's PAYLOAD-MALFORMED or
// INVALID-HASH-INFORMATION, with no SPI) may be about any message of
// ours, and a quick mode's retransmission may get through.
func (sa *isakmpSA) refusedQuick(n wire.Notify) (uint32, *quick) {
	if n.Protocol == wire.ProtocolESP && len(n.SPI) == 4 && binary.BigEndian.Uint32(n.SPI) != 0 {
		spi := binary.BigEndian.Uint32(n.SPI)
		for mid, q := range sa.qms {
			if q.spiIn == spi || q.spiOut != 0 && q.spiOut == spi {
				return mid, q
			}
		}
		return 0, nil
	}
	if !refusesProposal(n.Type) {
		return 0, nil
	}
	var mid uint32
	var only *quick
	for m, q := range sa.qms {
		if q.initiator {
			if only != nil {
				return 0, nil
			}
			mid, only = m, q
		}
	}
	return mid, only
}

// refusesProposal tells whether an error notification of type t refuses
// what a quick mode message 1 proposes, which the peer read (RFC 2408
// §3.14.1): its SA, its traffic, its key or its SPI.
func refusesProposal(t uint16) bool {
	switch t {
	case wire.NotifyNoProposalChosen, wire.NotifyInvalidIDInfo, wire.NotifyInvalidKeyInfo, wire.NotifyInvalidSPI:
		return true
	}
	return false
}

// peerWentIdle marks an on-demand (policy-based, R8) tunnel idle when
// the peer deleted the last of it (for its own idleness, say): traffic
// (Manager.Acquire) or the peer brings it back, not a new negotiation
// at once, as with IKEv2.
func (sa *isakmpSA) peerWentIdle() {
	p := sa.p
	if p.cfg.OnDemand && !p.idle && len(p.children) == 0 {
		p.idle = true
		sa.m.log.Info("the peer deleted the on-demand tunnel; it waits for traffic", "conn", p.cfg.Name)
	}
}

func notifyName(t uint16) string {
	switch t {
	case wire.NotifyNoProposalChosen:
		return "NO-PROPOSAL-CHOSEN"
	case wire.NotifyInvalidIDInfo:
		return "INVALID-ID-INFORMATION"
	case wire.NotifyInvalidSPI:
		return "INVALID-SPI"
	case wire.NotifyInvalidKeyInfo:
		return "INVALID-KEY-INFORMATION"
	case wire.NotifyPayloadMalformed:
		return "PAYLOAD-MALFORMED"
	case wire.NotifyInvalidHashInfo:
		return "INVALID-HASH-INFORMATION"
	case wire.NotifyInvalidPayloadType:
		return "INVALID-PAYLOAD-TYPE"
	case wire.NotifyAuthFailed:
		return "AUTHENTICATION-FAILED"
	}
	return "error " + strconv.Itoa(int(t))
}
