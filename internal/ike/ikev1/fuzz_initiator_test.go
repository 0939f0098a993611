package ikev1

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// The initiator's side of what the peer sends: Main Mode message 6 and
// Quick Mode message 2, which FuzzMainMode and FuzzPhase2 (a responder's
// view) do not reach. Aggressive Mode is not implemented: its messages
// are refused by exchange type before anything in them is read.

// mainMode6 is the initiator's ISAKMP SA of p, waiting for message 6,
// with the keys message 6 is encrypted with and the HASH_R that
// authenticates it (RFC 2409 §5). p.mi.mu is held by the caller.
func mainMode6(t testing.TB, p *mainModePair) *isakmpSA {
	sa := waiting6(p)
	if sa == nil {
		t.Fatal("the initiator waits for no main mode message 6")
	}
	return sa
}

// waiting6 is mainMode6, or nil when the initiator waits for no message
// 6.
func waiting6(p *mainModePair) *isakmpSA {
	for _, sa := range p.mi.sas {
		if sa.state == stMM5 {
			return sa
		}
	}
	return nil
}

// openMainMode6 carries p's exchange up to message 6 and returns the
// initiator's ISAKMP SA waiting for it (mainMode6), message 6 and its
// payloads, opened with the SA's keys. p.mi.mu is held on return.
func openMainMode6(t testing.TB, p *mainModePair) (*isakmpSA, []byte, []wire.Payload) {
	msg6 := p.upTo(t, 6)
	p.mi.mu.Lock()
	sa := mainMode6(t, p)
	pt, _, err := open(sa.encKey, sa.iv, msg6[wire.HeaderLen:])
	var ps []wire.Payload
	if err == nil {
		ps, err = wire.ParsePayloads(wire.PayloadType(msg6[16]), pt)
	}
	if err != nil {
		p.mi.mu.Unlock()
		t.Fatal(err)
	}
	return sa, msg6, ps
}

// hashR is the HASH_R the responder of sa sends with its ID (RFC 2409 §5).
func hashR(sa *isakmpSA, id []byte) []byte {
	ck := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, sa.rc), sa.ic)
	return sa.s.Hash.prf(sa.skeyid, sa.gxr, sa.gxi, ck, sa.saiB, id)
}

// FuzzMainMode6 feeds arbitrary payload chains to an initiator as Main
// Mode message 6 (RFC 2409 §5), encrypted with the exchange's keys as
// the responder's is: what anyone who took part in messages 1 to 4 can
// send, knowing no pre-shared key. The first argument chooses how it
// goes: sealed as message 6 (0), as message 6's ciphertext unsealed (1),
// or as an unencrypted informational message (2, a refusal, which
// anyone who saw the cookies can send). The initiator must never panic,
// hold more than one ISAKMP SA, nor complete the exchange without the
// HASH_R of the pre-shared key.
//
// The fuzzer minimizes each input that finds new coverage with some n²/2
// cuts of its n bytes, and fuzzes nothing else meanwhile. So an exchange
// serves input after input for as long as its initiator waits for
// message 6, as a refused one leaves it (a Main Mode per input took most
// of an input's time), and inputs of more than 256 bytes are not tried:
// message 6 is some 50, and a mutant of 600 kept the fuzzer minimizing,
// 188,000 cuts, for 16 s of a 20 s run.
func FuzzMainMode6(f *testing.F) {
	precomputedKeys(f)
	seed := newMainModePair(f)
	_, seed6, ps := openMainMode6(f, seed)
	seed.mi.mu.Unlock()
	rest, first := wire.AppendPayloads(nil, ps)
	f.Add(uint8(0), append([]byte{byte(first)}, rest...))
	f.Add(uint8(1), append([]byte{byte(first)}, seed6[wire.HeaderLen:]...))
	refusal := wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, Type: wire.NotifyAuthFailed}.Append(nil)
	f.Add(uint8(2), append([]byte{byte(wire.PayloadNotify), 0, 0, byte(4 + len(refusal))}, refusal...))
	var (
		p    *mainModePair // nil until the first input
		msg6 []byte        // p's message 6, as the responder sent it
	)
	f.Cleanup(func() {
		if p != nil {
			p.close()
		}
	})
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		if len(data) < 2 || len(data) > 256 {
			return
		}
		if p != nil {
			p.mi.mu.Lock()
			ended := waiting6(p) == nil // established, or its tries or time ran out
			p.mi.mu.Unlock()
			if ended {
				p.close()
				p = nil
			}
		}
		if p == nil {
			p = startMainModePair(t)
			msg6 = p.upTo(t, 6)
		}
		p.ri.take()
		p.mi.mu.Lock()
		sa := mainMode6(t, p)
		var msg []byte
		switch kind % 3 {
		case 0:
			msg, _ = seal(sa.encKey, sa.iv, sa.header(wire.ExchangeMain, 0, wire.PayloadType(data[0])), data[1:])
		case 1:
			msg = withBody(msg6, data)
		case 2:
			msg = withBody(msg6, data)
			msg[18], msg[19] = wire.ExchangeInfo, 0
		}
		p.mi.mu.Unlock()
		p.deliver(true, msg)
		p.deliver(true, msg) // again: a retransmission
		p.mi.mu.Lock()
		defer p.mi.mu.Unlock()
		if n := len(p.mi.sas); n > 1 {
			t.Fatalf("%d ISAKMP SAs after a forged main mode message 6", n)
		}
		if sa.state != stEstablished {
			return
		}
		// Established: message 6 held the ID and the HASH_R over it that
		// only the pre-shared key gives.
		ps, err := wire.ParsePayloads(wire.PayloadType(data[0]), data[1:])
		id, ok1 := wire.Find(ps, wire.PayloadID)
		h, ok2 := wire.Find(ps, wire.PayloadHash)
		if kind%3 != 0 || err != nil || !ok1 || !ok2 || !hmac.Equal(h.Body, hashR(sa, id.Body)) {
			t.Fatalf("main mode established by a message 6 without the HASH_R (kind %d): % x", kind%3, data)
		}
	})
}

// TestMainMode6Forged: message 6 as FuzzMainMode6 seals it, from the
// responder's payloads, completes the initiator's exchange; with one
// octet of its HASH_R changed it does not.
func TestMainMode6Forged(t *testing.T) {
	for _, tamper := range []bool{false, true} {
		p := newMainModePair(t)
		sa, _, ps := openMainMode6(t, p)
		if tamper {
			i := slices.IndexFunc(ps, func(pl wire.Payload) bool { return pl.Type == wire.PayloadHash })
			ps[i].Body = bytes.Clone(ps[i].Body)
			ps[i].Body[0] ^= 1
		}
		rest, first := wire.AppendPayloads(nil, ps)
		msg, _ := seal(sa.encKey, sa.iv, sa.header(wire.ExchangeMain, 0, first), rest)
		p.mi.mu.Unlock()
		p.deliver(true, msg)
		p.mi.mu.Lock()
		up := sa.state == stEstablished
		p.mi.mu.Unlock()
		if up == tamper {
			t.Errorf("tampered HASH_R %v: established %v", tamper, up)
		}
	}
}

// initiatorPair is an initiator and a responder with an ISAKMP SA and a
// child between them, with PFS (ecp256) so that Quick Mode message 2
// carries a KE; quick1 and quick2 are the first quick mode messages of
// each as the exchange carried them.
type initiatorPair struct {
	managers
	quick1, quick2 []byte
}

func newInitiatorPair(t testing.TB) *initiatorPair {
	pfs, err := suite.ParseProposal(v2.ProtocolESP, "aes128gcm16-ecp256")
	if err != nil {
		t.Fatal(err)
	}
	p := &initiatorPair{managers: managers{ri: &recorder{}, rr: &recorder{}}}
	p.mi, p.mr = New(Config{Transport: p.ri, Dataplane: p.ri}), New(Config{Transport: p.rr, Dataplane: p.rr})
	pi := fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)
	pr := fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)
	pi.ESPProposals, pr.ESPProposals = []suite.Proposal{pfs}, []suite.Proposal{pfs}
	mustReconfig(t, p.mi, pi)
	mustReconfig(t, p.mr, pr)
	var mu sync.Mutex
	shuttle(p.mi, p.mr, p.ri, p.rr, func(fromI bool, msg []byte, _, _ netip.AddrPort) bool {
		mu.Lock()
		defer mu.Unlock()
		if h, err := wire.ParseHeader(msg); err == nil && h.Exchange == wire.ExchangeQuick {
			switch {
			case fromI && p.quick1 == nil:
				p.quick1 = bytes.Clone(msg)
			case !fromI && p.quick2 == nil:
				p.quick2 = bytes.Clone(msg)
			}
		}
		return false
	})
	if p.sa() == nil || p.quick1 == nil || p.quick2 == nil {
		p.close()
		t.Fatalf("no child came up: %+v / %+v", p.mi.Status(), p.mr.Status())
	}
	return p
}

// quickSeed decrypts quick1 and quick2 with sa's keys (RFC 2409 §5.5,
// Appendix B: message 2 is encrypted on from message 1's last block, and
// its HASH(2) covers Ni_b) and returns message 2's payloads after the
// HASH.
func (p *initiatorPair) quickSeed(t testing.TB, sa *isakmpSA) []wire.Payload {
	h1, err := wire.ParseHeader(p.quick1)
	if err != nil {
		t.Fatal(err)
	}
	ps1, next, err := sa.decrypt(h1, p.quick1, sa.s.Hash.phase2IV(sa.p1iv, h1.MessageID), nil)
	if err != nil {
		t.Fatal(err)
	}
	ni, _ := wire.Find(ps1, wire.PayloadNonce)
	h2, err := wire.ParseHeader(p.quick2)
	if err != nil {
		t.Fatal(err)
	}
	ps2, _, err := sa.decrypt(h2, p.quick2, next, ni.Body)
	if err != nil {
		t.Fatal(err)
	}
	return ps2
}

// chain is ps as FuzzQuickResponse takes it: the type of the first
// payload, then the payloads.
func chain(ps []wire.Payload) []byte {
	rest, first := wire.AppendPayloads(nil, ps)
	return append([]byte{byte(first)}, rest...)
}

// quick2Variant is the responder's message 2 changed as a peer may change
// it, and whether the initiator takes it.
type quick2Variant struct {
	name   string
	change func(t testing.TB, ps []wire.Payload)
	// ok: the initiator installs a child, whose traffic is ts when set.
	ok bool
	ts *pair
}

// quick2Variants: message 2 as the responder sent it, with another SPI,
// with other traffic IDs (RFC 2409 §5.5: IDci, IDcr).
func quick2Variants() []quick2Variant {
	spi := func(b ...byte) func(testing.TB, []wire.Payload) {
		return func(t testing.TB, ps []wire.Payload) {
			i := slices.IndexFunc(ps, func(pl wire.Payload) bool { return pl.Type == wire.PayloadSA })
			sa, err := wire.ParseSA(ps[i].Body)
			if err != nil {
				t.Fatal(err)
			}
			sa.Proposals[0].SPI = b
			ps[i].Body = sa.Append(nil)
		}
	}
	ids := func(local, remote string) func(testing.TB, []wire.Payload) {
		return func(t testing.TB, ps []wire.Payload) {
			n := 0
			for i := range ps {
				if ps[i].Type == wire.PayloadID {
					ps[i].Body = wire.PrefixID(netip.MustParsePrefix([]string{local, remote}[n])).Append(nil)
					n++
				}
			}
			if n != 2 {
				t.Fatalf("message 2 holds %d IDs", n)
			}
		}
	}
	narrow := pair{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/24")}
	return []quick2Variant{
		{"as sent", func(testing.TB, []wire.Payload) {}, true, nil},
		{"SPI 255, reserved (RFC 4303 §2.1)", spi(0, 0, 0, 255), false, nil},
		{"SPI of 3 bytes", spi(1, 2, 3), false, nil},
		{"narrower traffic", ids(narrow.local.String(), narrow.remote.String()), true, &narrow},
		{"IPv6 traffic for IPv4 proposed", ids("2001:db8:1::/48", "2001:db8:2::/48"), false, nil},
	}
}

// startQuick starts a quick mode of the initiator's for its first pair,
// as its timers do, and returns it: message ID, the IV message 2 is
// encrypted with, Ni_b, the pair proposed, and our inbound SPI.
func (p *initiatorPair) startQuick(sa *isakmpSA) (q quick, ok bool) {
	p.mi.mu.Lock()
	defer p.mi.mu.Unlock()
	before := len(sa.qms)
	was := map[uint32]bool{}
	for mid := range sa.qms {
		was[mid] = true
	}
	sa.startQuick(sa.p.pairs[0], nil)
	for mid, o := range sa.qms {
		if !was[mid] && o.initiator && len(sa.qms) == before+1 {
			return quick{mid: o.mid, iv: bytes.Clone(o.iv), ni: bytes.Clone(o.ni), pair: o.pair, spiIn: o.spiIn}, true
		}
	}
	return quick{}, false
}

// forgeQuick2 builds quick mode message 2 of exchange q as the responder
// sends it: HASH(2) = prf(SKEYID_a, M-ID | Ni_b | the rest) first, then
// rest, encrypted on from message 1 (RFC 2409 §5.5).
func forgeQuick2(sa *isakmpSA, q quick, first wire.PayloadType, rest []byte) []byte {
	h := sa.s.Hash.prf(sa.skeyidA, binary.BigEndian.AppendUint32(nil, q.mid), q.ni, rest)
	pl := append([]byte{byte(first), 0}, binary.BigEndian.AppendUint16(nil, uint16(4+len(h)))...)
	pl = append(append(pl, h...), rest...)
	msg, _ := seal(sa.encKey, q.iv, sa.header(wire.ExchangeQuick, q.mid, wire.PayloadHash), pl)
	return msg
}

// FuzzQuickResponse feeds arbitrary payload chains to an initiator, under
// an established ISAKMP SA and with a quick mode of its own under way, as
// that quick mode's message 2 (RFC 2409 §5.5: SA, nonce, KE for PFS,
// traffic IDs) or as an informational message (§5.7: a refusal of the
// quick mode, a Delete, DPD), encrypted and with a HASH that checks out:
// what the responder, once authenticated, can send. The first octet
// chooses which, the second is the type of the first payload. The
// initiator must never panic, hold more than one ISAKMP SA or send what
// does not parse, and a child it installs carries traffic within what it
// proposed, to a peer's SPI that is not reserved (RFC 4303 §2.1).
func FuzzQuickResponse(f *testing.F) {
	p := newInitiatorPair(f)
	f.Cleanup(func() { p.close() })
	sa := p.sa()
	for _, v := range quick2Variants() {
		ps := p.quickSeed(f, sa)
		v.change(f, ps)
		f.Add(uint8(0), chain(ps))
	}
	info := func(t wire.PayloadType, body []byte) []byte {
		return chain([]wire.Payload{{Type: t, Body: body}})
	}
	f.Add(uint8(1), info(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: wire.NotifyNoProposalChosen}.Append(nil)))
	f.Add(uint8(1), info(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPI: []byte{0, 0, 0, 0}, Type: wire.NotifyInvalidIDInfo}.Append(nil)))
	f.Add(uint8(1), info(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: wire.NotifyPayloadMalformed}.Append(nil)))
	f.Add(uint8(1), info(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: wire.NotifyRUThereAck, Data: []byte{0, 0, 0, 1}}.Append(nil)))
	f.Add(uint8(1), info(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPIs: [][]byte{{1, 2, 3, 4}}}.Append(nil)))
	mid := uint32(0x50000000)
	f.Fuzz(func(t *testing.T, exch uint8, data []byte) {
		if len(data) == 0 {
			return
		}
		sa := p.sa()
		if sa != nil {
			p.mi.mu.Lock()
			if len(sa.p.children) > 8 {
				sa = nil
			}
			p.mi.mu.Unlock()
		}
		if sa == nil {
			p.close()
			p = newInitiatorPair(t)
			sa = p.sa()
		}
		q, ok := p.startQuick(sa)
		if !ok {
			t.Fatal("the initiator started no quick mode")
		}
		p.ri.take() // message 1
		p.ri.mu.Lock()
		had := len(p.ri.children)
		p.ri.mu.Unlock()
		var msg []byte
		if exch%2 == 0 {
			msg = forgeQuick2(sa, q, wire.PayloadType(data[0]), data[1:])
		} else {
			mid++
			msg = forge(sa, wire.ExchangeInfo, mid, wire.PayloadType(data[0]), data[1:])
		}
		p.mi.mu.Lock()
		local, remote := sa.local, sa.remote
		p.mi.mu.Unlock()
		p.mi.handle(local, remote, msg)
		p.mi.handle(local, remote, msg) // again: a retransmission

		p.mi.mu.Lock()
		n := len(p.mi.sas)
		if o := sa.qms[q.mid]; o != nil {
			sa.endQuick(q.mid, o) // unanswered: it goes, as its tries would end it
		}
		p.mi.mu.Unlock()
		if n > 1 {
			t.Fatalf("%d ISAKMP SAs after a phase 2 message", n)
		}
		sent, _, _ := p.ri.take()
		for _, m := range sent {
			if _, err := wire.ParseHeader(m); err != nil {
				t.Fatalf("the initiator sent a message that does not parse: %v", err)
			}
		}
		p.ri.mu.Lock()
		defer p.ri.mu.Unlock()
		for _, c := range p.ri.children[had:] {
			if c.In.SPI != q.spiIn {
				continue // one of the initiator's own rekeys
			}
			if c.Out.SPI < 256 {
				t.Fatalf("a child installed with the peer's reserved SPI %d", c.Out.SPI)
			}
			if len(c.LocalTS) != 1 || len(c.RemoteTS) != 1 || !within(q.pair.local, c.LocalTS[0]) || !within(q.pair.remote, c.RemoteTS[0]) {
				t.Fatalf("a child installed for %v <-> %v, outside the proposed %v <-> %v", c.LocalTS, c.RemoteTS, q.pair.local, q.pair.remote)
			}
		}
	})
}

// within tells whether inner lies in outer.
func within(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// TestQuickResponseForged: the responder's quick mode message 2, as
// FuzzQuickResponse forges it for a new quick mode of the initiator's,
// installs a child with the SPI proposed; with a HASH(2) over another
// nonce it installs none, and each of its seeds' changes is taken or
// refused as a peer would see it.
func TestQuickResponseForged(t *testing.T) {
	p := newInitiatorPair(t)
	defer p.close()
	sa := p.sa()
	tests := append(quick2Variants(), quick2Variant{name: "HASH(2) over another nonce", change: func(testing.TB, []wire.Payload) {}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := p.quickSeed(t, sa)
			tt.change(t, ps)
			q, ok := p.startQuick(sa)
			if !ok {
				t.Fatal("the initiator started no quick mode")
			}
			if tt.name == "HASH(2) over another nonce" {
				q.ni = append(bytes.Clone(q.ni), 0)
			}
			p.ri.mu.Lock()
			had := len(p.ri.children)
			p.ri.mu.Unlock()
			data := chain(ps)
			p.mi.handle(sa.local, sa.remote, forgeQuick2(sa, q, wire.PayloadType(data[0]), data[1:]))
			p.mi.mu.Lock()
			if o := sa.qms[q.mid]; o != nil {
				sa.endQuick(q.mid, o)
			}
			p.mi.mu.Unlock()
			p.ri.mu.Lock()
			defer p.ri.mu.Unlock()
			i := slices.IndexFunc(p.ri.children[had:], func(c ipsec.Child) bool { return c.In.SPI == q.spiIn })
			if (i >= 0) != tt.ok {
				t.Fatalf("child installed %v, want %v", i >= 0, tt.ok)
			}
			if i >= 0 && tt.ts != nil {
				if c := p.ri.children[had+i]; !slices.Equal(c.LocalTS, []netip.Prefix{tt.ts.local}) || !slices.Equal(c.RemoteTS, []netip.Prefix{tt.ts.remote}) {
					t.Fatalf("child for %v <-> %v, want %v <-> %v", c.LocalTS, c.RemoteTS, tt.ts.local, tt.ts.remote)
				}
			}
		})
	}
}
