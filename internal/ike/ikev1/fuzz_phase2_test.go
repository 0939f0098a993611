package ikev1

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// phase2Pair is an initiator and a responder with an ISAKMP SA between
// them, whose phase 2 messages a test forges with the SA's keys.
type phase2Pair struct {
	managers
	// quick1 holds the initiator's quick mode message 1 as the exchange
	// carried it.
	quick1 []byte
}

func newPhase2Pair(t testing.TB) *phase2Pair {
	p := &phase2Pair{}
	var mu sync.Mutex
	p.ri, p.rr = &recorder{}, &recorder{}
	p.mi, p.mr = New(Config{Transport: p.ri, Dataplane: p.ri}), New(Config{Transport: p.rr, Dataplane: p.rr})
	mustReconfig(t, p.mi, fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly))
	mustReconfig(t, p.mr, fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly))
	shuttle(p.mi, p.mr, p.ri, p.rr, func(fromI bool, msg []byte, _, _ netip.AddrPort) bool {
		if h, err := wire.ParseHeader(msg); err == nil && fromI && h.Exchange == wire.ExchangeQuick {
			mu.Lock()
			if p.quick1 == nil {
				p.quick1 = append([]byte{}, msg...)
			}
			mu.Unlock()
		}
		return false
	})
	if p.sa() == nil {
		p.close()
		t.Fatalf("no ISAKMP SA came up: %+v / %+v", p.mi.Status(), p.mr.Status())
	}
	return p
}

// managers are an initiator's and a responder's, each sending through
// its recorder: the fuzz targets' fixtures.
type managers struct {
	mi, mr *Manager
	ri, rr *recorder
}

func (p *managers) close() { p.mi.Close(); p.mr.Close() }

// sa is the initiator's established ISAKMP SA, nil when it is gone; the
// responder's has the same cookies and keys.
func (p *managers) sa() *isakmpSA {
	p.mi.mu.Lock()
	defer p.mi.mu.Unlock()
	for _, pe := range p.mi.peers {
		if sa := p.mi.newest(pe); sa != nil {
			return sa
		}
	}
	return nil
}

// responderSA is the responder's SA of those cookies, or nil when it is
// gone; busy tells that it holds as many quick modes as it takes.
func (p *phase2Pair) responderSA(ic uint64) (alive, busy bool) {
	p.mr.mu.Lock()
	defer p.mr.mu.Unlock()
	sa := p.mr.sas[ic]
	if sa == nil || sa.state != stEstablished {
		return false, false
	}
	return true, sa.inFlight() >= maxAnswered-1
}

// forge builds an encrypted phase 2 message of sa whose payload chain
// after the HASH is rest (first the type of its first payload), with a
// HASH that checks out over it (RFC 2409 §5.5, §5.7): what a peer that
// holds the keys can send.
func forge(sa *isakmpSA, exchange uint8, mid uint32, first wire.PayloadType, rest []byte) []byte {
	h := sa.s.Hash.prf(sa.skeyidA, binary.BigEndian.AppendUint32(nil, mid), rest)
	pl := append([]byte{byte(first), 0}, binary.BigEndian.AppendUint16(nil, uint16(4+len(h)))...)
	pl = append(append(pl, h...), rest...)
	msg, _ := seal(sa.encKey, sa.s.Hash.phase2IV(sa.p1iv, mid), sa.header(exchange, mid, wire.PayloadHash), pl)
	return msg
}

// FuzzPhase2 feeds arbitrary payload chains to a responder as quick mode
// message 1 (RFC 2409 §5.5) and informational messages (§5.7) under an
// established ISAKMP SA, encrypted and with a HASH that checks out: what
// the peer, once authenticated, can send. The first octet chooses the
// exchange, the second is the type of the first payload. The responder
// must never panic, never hold more than one ISAKMP SA, and send only
// messages that parse.
func FuzzPhase2(f *testing.F) {
	p := newPhase2Pair(f)
	f.Cleanup(p.close)
	sa := p.sa()
	if p.quick1 != nil {
		h, err := wire.ParseHeader(p.quick1)
		if err != nil {
			f.Fatal(err)
		}
		ps, _, err := sa.decrypt(h, p.quick1, sa.s.Hash.phase2IV(sa.p1iv, h.MessageID), nil)
		if err != nil {
			f.Fatal(err)
		}
		rest, first := wire.AppendPayloads(nil, ps)
		f.Add(uint8(0), append([]byte{byte(first)}, rest...))
	}
	info := func(t wire.PayloadType, body []byte) []byte {
		rest, first := wire.AppendPayloads(nil, []wire.Payload{{Type: t, Body: body}})
		return append([]byte{byte(first)}, rest...)
	}
	f.Add(uint8(1), info(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: wire.NotifyRUThere, Data: []byte{0, 0, 0, 7}}.Append(nil)))
	f.Add(uint8(1), info(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: wire.NotifyInitialContact}.Append(nil)))
	f.Add(uint8(1), info(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPI: []byte{1, 2, 3, 4}, Type: 14}.Append(nil)))
	f.Add(uint8(1), info(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPIs: [][]byte{{1, 2, 3, 4}}}.Append(nil)))
	f.Add(uint8(1), info(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPIs: [][]byte{sa.cookies()}}.Append(nil)))
	mid := uint32(0x40000000)
	f.Fuzz(func(t *testing.T, exch uint8, data []byte) {
		if len(data) == 0 {
			return
		}
		sa := p.sa()
		if alive, busy := p.responderSA(saCookie(sa)); !alive || busy {
			p.close()
			p = newPhase2Pair(t)
			sa = p.sa()
		}
		exchange := uint8(wire.ExchangeQuick)
		if exch%2 == 1 {
			exchange = wire.ExchangeInfo
		}
		mid++
		msg := forge(sa, exchange, mid, wire.PayloadType(data[0]), data[1:])
		p.mr.handle(sa.remote, sa.local, msg)
		p.mr.handle(sa.remote, sa.local, msg) // again: a retransmission
		p.mr.mu.Lock()
		n := len(p.mr.sas)
		p.mr.mu.Unlock()
		if n > 1 {
			t.Fatalf("%d ISAKMP SAs after a phase 2 message", n)
		}
		// What the responder sends parses; a message of its own timers
		// (a rekey of a child a fuzzed lifetime cut short) may be among
		// it, so that the message IDs tell nothing.
		sent, _, _ := p.rr.take()
		for _, m := range sent {
			if _, err := wire.ParseHeader(m); err != nil {
				t.Fatalf("the responder sent a message that does not parse: %v", err)
			}
		}
		p.rr.mu.Lock()
		p.rr.children, p.rr.removed, p.rr.drained = nil, nil, nil
		p.rr.mu.Unlock()
		p.ri.take()
	})
}

// saCookie is sa's initiator cookie, which names it at both ends.
func saCookie(sa *isakmpSA) uint64 {
	if sa == nil {
		return 0
	}
	return sa.ic
}

// TestPhase2Forged: the messages FuzzPhase2 forges check out at the
// responder: the initiator's quick mode message 1, decrypted and forged
// again under a new message ID, is answered with message 2, and an
// R-U-THERE with an R-U-THERE-ACK.
func TestPhase2Forged(t *testing.T) {
	p := newPhase2Pair(t)
	defer p.close()
	sa := p.sa()
	if p.quick1 == nil {
		t.Fatal("the initiator sent no quick mode message 1")
	}
	h, err := wire.ParseHeader(p.quick1)
	if err != nil {
		t.Fatal(err)
	}
	ps, _, err := sa.decrypt(h, p.quick1, sa.s.Hash.phase2IV(sa.p1iv, h.MessageID), nil)
	if err != nil {
		t.Fatal(err)
	}
	p.rr.take()
	rest, first := wire.AppendPayloads(nil, ps)
	p.mr.handle(sa.remote, sa.local, forge(sa, wire.ExchangeQuick, 0x7000001, first, rest))
	sent, _, _ := p.rr.take()
	if len(sent) != 1 {
		t.Fatalf("the responder sent %d messages for a quick mode message 1", len(sent))
	}
	if h, err := wire.ParseHeader(sent[0]); err != nil || h.Exchange != wire.ExchangeQuick || h.MessageID != 0x7000001 {
		t.Fatalf("the responder answered with %+v, %v", h, err)
	}

	rut := wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: wire.NotifyRUThere, Data: []byte{0, 0, 0, 7}}
	rest, first = wire.AppendPayloads(nil, []wire.Payload{{Type: wire.PayloadNotify, Body: rut.Append(nil)}})
	p.mr.handle(sa.remote, sa.local, forge(sa, wire.ExchangeInfo, 0x7000002, first, rest))
	sent, _, _ = p.rr.take()
	if len(sent) != 1 {
		t.Fatalf("the responder sent %d messages for an R-U-THERE", len(sent))
	}
	h, err = wire.ParseHeader(sent[0])
	if err != nil || h.Exchange != wire.ExchangeInfo {
		t.Fatalf("the responder answered an R-U-THERE with %+v, %v", h, err)
	}
	ps, _, err = sa.decrypt(h, sent[0], sa.s.Hash.phase2IV(sa.p1iv, h.MessageID), nil)
	if err != nil || len(ps) != 1 || ps[0].Type != wire.PayloadNotify {
		t.Fatalf("the answer to an R-U-THERE holds %+v, %v", ps, err)
	}
	if n, err := wire.ParseNotify(ps[0].Body); err != nil || n.Type != wire.NotifyRUThereAck {
		t.Fatalf("the answer to an R-U-THERE is %+v, %v", n, err)
	}
}
