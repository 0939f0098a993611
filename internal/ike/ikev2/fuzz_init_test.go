package ikev2

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync"
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
}

var (
	initFuzzOnce sync.Once
	initFuzzFix  *initFuzzFixture
	initFuzzSeed [][]byte
)

// initFixture builds the fixture and takes, as seeds, the IKE_SA_INIT
// responses b gave while it was there.
func initFixture(f testing.TB) (*initFuzzFixture, [][]byte) {
	initFuzzOnce.Do(func() {
		fx := &initFuzzFixture{n: newFakeNet(f)}
		pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
		// a initiates only when told; b answers.
		pa.Mode, pb.Mode = ModeResponderOnly, ModeResponderOnly
		pa.RetransmitTimeout, pb.RetransmitTimeout = MaxRetransmitTimeout, MaxRetransmitTimeout
		fx.b = newNode(f, fx.n, "b", addrB, Config{}, pb)
		fx.a = newNode(f, fx.n, "a", addrA, Config{}, pa)
		fx.a.onLoop(func(c *conn) { c.initiate() })
		waitFor(f, 10*time.Second, "the seed's IKE SA", func() bool { return len(fx.a.established()) == 1 })
		for _, d := range fx.n.datagrams() {
			if h, _, err := wire.ParseHeader(d.data); err == nil && h.Exchange == wire.IKESAInit && h.Flags&wire.FlagResponse != 0 {
				initFuzzSeed = append(initFuzzSeed, d.data)
			}
		}
		fx.n.detach(addrB)
		initFuzzFix = fx
	})
	return initFuzzFix, initFuzzSeed
}

// restart ends a's IKE SAs and opens a new one, whose IKE_SA_INIT request
// goes unanswered; it returns the new SA's SPI and addresses.
func (fx *initFuzzFixture) restart() (spiI uint64, local, remote netip.AddrPort) {
	fx.a.onLoop(func(c *conn) {
		for _, sa := range c.sas {
			sa.kill("fuzz reset")
		}
		c.reap()
		c.initiate()
		for _, sa := range c.sas {
			if sa.state == stateInitSent {
				spiI, local, remote = sa.spiI, sa.local, sa.remote
			}
		}
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
	f.Add(answer(&wire.Notify{NotifyType: wire.InvalidKEPayload, Data: []byte{0, byte(wire.DHMODP2048)}}))
	f.Add(answer(&wire.Notify{NotifyType: wire.NoProposalChosen}))
	f.Fuzz(func(t *testing.T, data []byte) {
		spiI, local, remote := fx.restart()
		if spiI == 0 {
			t.Fatal("a opened no IKE SA")
		}
		// Twice: a retransmitted answer, or one that follows a refusal.
		for range 2 {
			fx.a.m.HandlePacket(local, remote, initResponse(spiI, data))
		}
		c := fx.a.m.conn("to-b")
		for range 1000 {
			if len(c.packets) == 0 {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
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
