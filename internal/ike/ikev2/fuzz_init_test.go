package ikev2

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// initFuzzFixture is an initiating Manager (a) whose peer (b) is gone once
// the seeds are taken: whatever answers a's IKE_SA_INIT request is the
// fuzzer's. It lives across fuzz iterations.
type initFuzzFixture struct {
	n    *fakeNet
	a, b *node
	// sent is an IKE SA of a as it was when its IKE_SA_INIT request went
	// out, kept out of a's connection: each input is answered to a copy
	// of it (restart). Only a's loop touches it.
	sent *ikeSA
}

// initFixture builds the fixture, which lives as long as f, and takes,
// as seeds, the IKE_SA_INIT responses b gave while it was there.
func initFixture(f testing.TB) (*initFuzzFixture, [][]byte) {
	fx := &initFuzzFixture{n: newFakeNet(f)}
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	// a initiates only when told; b answers.
	pa.Mode, pb.Mode = ModeResponderOnly, ModeResponderOnly
	pa.RetransmitTimeout, pb.RetransmitTimeout = MaxRetransmitTimeout, MaxRetransmitTimeout
	fx.b = newNode(f, fx.n, "b", addrB, Config{}, pb)
	fx.a = newNode(f, fx.n, "a", addrA, Config{}, pa)
	fx.a.onLoop(func(c *conn) { c.initiate() })
	waitFor(f, 10*time.Second, "the seed's IKE SA", func() bool { return len(fx.a.established()) == 1 })
	var seeds [][]byte
	for _, d := range fx.n.datagrams() {
		if h, _, err := wire.ParseHeader(d.data); err == nil && h.Exchange == wire.IKESAInit && h.Flags&wire.FlagResponse != 0 {
			seeds = append(seeds, d.data)
		}
	}
	fx.n.detach(addrB)
	fx.n.mu.Lock()
	fx.n.noRecord = true // what a sends goes nowhere, input after input
	fx.n.mu.Unlock()
	fx.a.onLoop(func(c *conn) {
		for _, sa := range c.sas {
			sa.kill("fuzz fixture")
		}
		c.reap()
		c.initiate()
		if len(c.sas) == 1 && c.sas[0].state == stateInitSent {
			fx.sent, c.sas = c.sas[0], nil
		}
	})
	if fx.sent == nil {
		f.Fatal("a sent no IKE_SA_INIT request")
	}
	return fx, seeds
}

// restart ends a's IKE SAs and puts a copy of fx.sent in their place, its
// IKE_SA_INIT request just sent: same SPI, nonce, key and request, as
// if a had made them anew, without the key's cost. It returns the copy's
// SPI and addresses.
func (fx *initFuzzFixture) restart() (spiI uint64, local, remote netip.AddrPort) {
	fx.a.onLoop(func(c *conn) {
		for _, sa := range c.sas {
			sa.kill("fuzz reset")
		}
		c.reap()
		sa, pend := *fx.sent, *fx.sent.pend
		now := time.Now()
		sa.created, sa.lastRecv, pend.retryAt = now, now, now.Add(pend.timeout)
		sa.pend = &pend
		c.m.mu.Lock()
		c.m.ikeSPIs[sa.spiI] = c // the last copy's end let it go
		c.m.mu.Unlock()
		c.sas = []*ikeSA{&sa}
		spiI, local, remote = sa.spiI, sa.local, sa.remote
	})
	return spiI, local, remote
}

// initResponse makes data the IKE_SA_INIT response to the request of the
// IKE SA spiI: the fixed fields of the header set, the responder's SPI and
// the payloads the fuzzer's.
func initResponse(spiI uint64, data []byte) []byte {
	msg := bytes.Clone(data)
	if len(msg) < wire.HeaderLen {
		return msg
	}
	binary.BigEndian.PutUint64(msg[0:], spiI)
	msg[17] = 0x20 // version 2.0
	msg[18] = byte(wire.IKESAInit)
	msg[19] = byte(wire.FlagResponse)
	binary.BigEndian.PutUint32(msg[20:], 0)
	binary.BigEndian.PutUint32(msg[24:], uint32(len(msg)))
	return msg
}

// FuzzInitResponse feeds arbitrary IKE_SA_INIT responses to an initiator
// (RFC 7296 §1.2): they are not authenticated, and anyone who saw the
// request can send one. It must never panic, and however it is answered
// the initiator keeps one IKE SA for its one peer.
//
// Each input is answered to a copy of one IKE SA whose request went out
// (initFuzzFixture.restart), not to a new one: its Diffie-Hellman key
// took most of an input's time. The INVALID_KE_PAYLOAD seed asks for
// Curve25519, whose key a retry makes in some 60 µs, not modp2048's
// 1.3 ms. Inputs over 512 octets are not tried: the fuzzer minimizes each
// that finds new coverage with some n²/2 cuts of its n octets, fuzzing
// nothing else meanwhile, and the largest seed, b's response, is 260.
func FuzzInitResponse(f *testing.F) {
	fx, seeds := initFixture(f)
	for _, s := range seeds {
		f.Add(s)
	}
	if len(seeds) == 0 {
		f.Fatal("b sent no IKE_SA_INIT response")
	}
	answer := func(ps ...wire.Payload) []byte {
		b, err := wire.Message{Header: wire.Header{SPIr: 7, MajorVersion: 2, Exchange: wire.IKESAInit, Flags: wire.FlagResponse}, Payloads: ps}.Append(nil)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(answer(&wire.Notify{NotifyType: wire.Cookie, Data: bytes.Repeat([]byte{3}, 16)}))
	f.Add(answer(&wire.Notify{NotifyType: wire.InvalidKEPayload, Data: []byte{0, byte(wire.DHCurve25519)}}))
	f.Add(answer(&wire.Notify{NotifyType: wire.NoProposalChosen}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 512 {
			return
		}
		spiI, local, remote := fx.restart()
		// Twice: a retransmitted answer, or one that follows a refusal.
		for range 2 {
			fx.a.m.HandlePacket(local, remote, initResponse(spiI, data))
		}
		settleConn(fx.a.m.conn("to-b"))
		n := 0
		fx.a.onLoop(func(c *conn) {
			for _, sa := range c.sas {
				if sa.state != stateDead {
					n++
				}
			}
		})
		if n > 1 {
			t.Fatalf("%d IKE SAs after an answer to one IKE_SA_INIT request", n)
		}
	})
}

// sealFragments encrypts plain as SKF fragments (RFC 7383 §2.5) of a
// request of a under sa: cut in k pieces, where numbers and totals are
// what the fuzzer says (number 0 becomes i+1, total 0 k).
func sealFragments(sa *ikeSA, exch wire.ExchangeType, id uint32, first wire.PayloadType, plain []byte, numbers, totals []byte) [][]byte {
	k := len(numbers)
	var out [][]byte
	sa.c.do(func() {
		h := wire.Header{SPIi: sa.spiI, SPIr: sa.spiR, MajorVersion: 2, Exchange: exch, MessageID: id, Flags: wire.FlagInitiator}
		for i := range k {
			chunk := plain[i*len(plain)/k : (i+1)*len(plain)/k]
			number, total := uint16(numbers[i]), uint16(totals[i])
			if number == 0 {
				number = uint16(i + 1)
			}
			if total == 0 {
				total = uint16(k)
			}
			b, err := wire.AppendFragmentHeader(nil, h, first, number, total, sa.out.SealedLen(len(chunk)))
			if err != nil {
				continue
			}
			if b, err = sa.out.Seal(b, b, chunk); err == nil {
				out = append(out, b)
			}
		}
	})
	return out
}

// FuzzFragments sends the responder requests in SKF fragments (RFC
// 7383) under an established IKE SA: whatever their numbers, totals and
// contents, reassembly must never panic, and the responder must go on
// answering.
func FuzzFragments(f *testing.F) {
	fx := fixture(f)
	fx.reset(f, false)
	_, plain := encodeChain(f, []wire.Payload{&wire.VendorID{Data: bytes.Repeat([]byte{0x76}, 300)}})
	// Two octets per fragment (its number and total, 0 for the right
	// ones), then the exchange, the first payload type and the content.
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xff, 2, byte(wire.PayloadVendorID)}, plain)
	f.Add([]byte{2, 0, 1, 0, 0xff, 2, byte(wire.PayloadVendorID)}, plain)
	f.Add([]byte{1, 3, 1, 3, 3, 3, 0xff, 2, byte(wire.PayloadVendorID)}, plain)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 1, byte(wire.PayloadNone)}, []byte{})
	f.Fuzz(func(t *testing.T, layout, plain []byte) {
		sep := bytes.IndexByte(layout, 0xff)
		if sep < 0 || sep%2 != 0 || sep == 0 || sep > 32 || len(layout) < sep+3 {
			return
		}
		var numbers, totals []byte
		for i := 0; i < sep; i += 2 {
			numbers, totals = append(numbers, layout[i]), append(totals, layout[i+1])
		}
		sa := fx.current(false)
		if sa == nil {
			sa = fx.reset(t, false)
		}
		exch := fuzzExchanges[int(layout[sep+1])%len(fuzzExchanges)]
		for _, d := range sealFragments(sa, exch, fx.peerID(sa.spiI), wire.PayloadType(layout[sep+2]), plain, numbers, totals) {
			fx.b.m.HandlePacket(sa.remote, sa.local, d)
		}
		fx.settle()
	})
}
