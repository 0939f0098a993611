package ikev1

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// mainModePair is an initiator and a responder whose Main Mode messages a
// test carries by hand, one at a time.
type mainModePair struct{ managers }

// newMainModePair's initiator offers aes128-sha256-ecp256 first, which
// the responder takes, then the defaults: its 64-byte KE, where
// modp2048's is 256 bytes, keeps the messages the fuzz targets start from
// short, and its key exchange takes some 80 µs, not 1.3 ms; a forged
// message 2 may still choose any of the defaults. The pair is closed
// when t ends.
func newMainModePair(t testing.TB) *mainModePair {
	p := startMainModePair(t)
	t.Cleanup(p.close)
	return p
}

// startMainModePair is newMainModePair for a caller that closes it.
func startMainModePair(t testing.TB) *mainModePair {
	ecp, err := suite.ParseProposal(v2.ProtocolIKE, "aes128-sha256-ecp256")
	if err != nil {
		t.Fatal(err)
	}
	p := &mainModePair{managers{ri: &recorder{}, rr: &recorder{}}}
	p.mi, p.mr = New(Config{Transport: p.ri, Dataplane: p.ri}), New(Config{Transport: p.rr, Dataplane: p.rr})
	pi := fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)
	pi.IKEProposals = append([]suite.Proposal{ecp}, DefaultIKEProposals()...)
	mustReconfig(t, p.mr, fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly))
	mustReconfig(t, p.mi, pi)
	// The initiator starts at once, not at its ticker's next tick.
	p.mi.mu.Lock()
	p.mi.timers(time.Now())
	p.mi.mu.Unlock()
	return p
}

// precomputedKeys makes generateKey, until t ends, hand out two
// Diffie-Hellman keys of each group in turn, each made once: a fuzz
// target that starts Main Mode after Main Mode then makes no key for
// them, only the shared secrets. The initiator and the responder still get
// different keys, so that g^xi and g^xr differ.
func precomputedKeys(t testing.TB) {
	orig := generateKey
	t.Cleanup(func() { generateKey = orig })
	var mu sync.Mutex
	keys := map[v2.DHGroup][]*suite.PrivateKey{}
	n := 0
	generateKey = func(g v2.DHGroup) (*suite.PrivateKey, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if len(keys[g]) < 2 {
			k, err := orig(g)
			if err != nil {
				return nil, err
			}
			keys[g] = append(keys[g], k)
			return k, nil
		}
		return keys[g][n%2], nil
	}
}

// next waits for the next message of the initiator (fromI) or the
// responder, and returns it.
func (p *mainModePair) next(t testing.TB, fromI bool) []byte {
	rec := p.rr
	if fromI {
		rec = p.ri
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if msgs, _, _ := rec.take(); len(msgs) > 0 {
			return msgs[0]
		}
	}
	t.Fatalf("no main mode message from the %s", map[bool]string{true: "initiator", false: "responder"}[fromI])
	return nil
}

// deliver hands msg to the initiator (toI) or the responder.
func (p *mainModePair) deliver(toI bool, msg []byte) {
	if toI {
		p.mi.handle(fuzzRemote, fuzzLocal, msg)
	} else {
		p.mr.handle(fuzzLocal, fuzzRemote, msg)
	}
}

// upTo carries Main Mode messages 1 to n-1 and returns message n, which
// is not delivered; messages 2 and 4 come from the responder.
func (p *mainModePair) upTo(t testing.TB, n int) []byte {
	msg := p.next(t, true)
	for k := 2; k <= n; k++ {
		p.deliver(k%2 == 1, msg)
		msg = p.next(t, k%2 == 1)
	}
	return msg
}

// waits tells whether the side of p that takes Main Mode message n (the
// initiator 2 and 4, the responder 3) waits for it still, as a refused
// one leaves it.
func (p *mainModePair) waits(n int) bool {
	m, state := p.mi, map[int]int{2: stMM1, 3: stMM2, 4: stMM3}[n]
	if n == 3 {
		m = p.mr
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sa := range m.sas {
		if sa.state == state {
			return true
		}
	}
	return false
}

// withBody makes body, whose first octet is the type of the first
// payload, the payloads of real's header: same cookies and exchange,
// the length set.
func withBody(real, body []byte) []byte {
	msg := append(bytes.Clone(real[:wire.HeaderLen]), body[1:]...)
	msg[16] = body[0]
	binary.BigEndian.PutUint32(msg[24:], uint32(len(msg)))
	return msg
}

// FuzzMainMode feeds arbitrary payloads in place of Main Mode messages 2,
// 3 and 4 (RFC 2409 §5), which are not encrypted nor authenticated:
// anyone who saw the cookies can send them, to an initiator (2 and 4) or
// a responder (3). It must never panic, and neither side may count more
// than one ISAKMP SA.
//
// The fuzzer minimizes each input that finds new coverage with some n²/2
// cuts of its n bytes, and fuzzes nothing else meanwhile. So an exchange
// serves input after input for as long as the side it forges for still
// waits for that message, as a refused one leaves it (a Main Mode up to
// message n per input kept the fuzzer minimizing, 3 to 8 s an input, for
// most of a run), and inputs of more than 512 bytes are not tried: the
// messages are 124 and 204 bytes.
func FuzzMainMode(f *testing.F) {
	precomputedKeys(f)
	p := newMainModePair(f)
	msg := p.next(f, true)
	for n := 2; n <= 4; n++ {
		p.deliver(n%2 == 1, msg)
		msg = p.next(f, n%2 == 1)
		f.Add(uint8(n), append([]byte{msg[16]}, msg[wire.HeaderLen:]...))
	}
	f.Add(uint8(3), []byte{byte(wire.PayloadKE), 0, 0, 4, 0})
	var (
		pairs [5]*mainModePair // by message, nil until an input forges it
		sent  [5][]byte        // each pair's message, as it was sent
	)
	f.Cleanup(func() {
		for _, p := range pairs {
			if p != nil {
				p.close()
			}
		}
	})
	f.Fuzz(func(t *testing.T, n uint8, body []byte) {
		if len(body) == 0 || len(body) > 512 {
			return
		}
		step := 2 + (int(n)+1)%3 // 2, 3, 4 as themselves
		if p := pairs[step]; p != nil && !p.waits(step) {
			p.close()
			pairs[step] = nil
		}
		if pairs[step] == nil {
			pairs[step] = startMainModePair(t)
			sent[step] = pairs[step].upTo(t, step)
		}
		p := pairs[step]
		p.ri.take()
		p.rr.take()
		msg := withBody(sent[step], body)
		p.deliver(step%2 == 0, msg)
		p.deliver(step%2 == 0, msg) // again: a retransmission
		for _, m := range []*Manager{p.mi, p.mr} {
			m.mu.Lock()
			k := len(m.sas)
			m.mu.Unlock()
			if k > 1 {
				t.Fatalf("%d ISAKMP SAs after a forged main mode message %d", k, step)
			}
		}
	})
}

// TestMainModeByHand: the messages FuzzMainMode forges, rebuilt from real
// ones by withBody, carry both sides on, to message 5.
func TestMainModeByHand(t *testing.T) {
	p := newMainModePair(t)
	msg := p.upTo(t, 4)
	p.deliver(true, withBody(msg, append([]byte{msg[16]}, msg[wire.HeaderLen:]...)))
	if m5 := p.next(t, true); m5[19]&wire.FlagEncryption == 0 {
		t.Fatalf("the initiator's answer to message 4 is not encrypted: % x", m5[:wire.HeaderLen])
	}
}
