package ikev1

import (
	"slices"
	"testing"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// protocolAH is PROTO_IPSEC_AH (RFC 2407 §4.4.1), which vnetgw does not
// negotiate.
const protocolAH = 2

// TestQuickModeResponderChoosesAmongProposals: a quick mode message 1
// whose SA payload holds several proposals (RFC 2408 §4.2; racoon and
// Windows send one per suite) is answered with the first one vnetgw can
// take, not refused for its first: a bundle (ESP and AH under one
// proposal number), another protocol, an SPI that is not 4 bytes or a
// suite vnetgw has not are passed over. The answer carries the chosen
// proposal's number, and the child SA pair sends to the chosen proposal's
// SPI, so that the pair's SPIs match crosswise.
func TestQuickModeResponderChoosesAmongProposals(t *testing.T) {
	tdes := wire.Transform{Number: 1, ID: 3, Attrs: []wire.Attr{{Type: wire.AttrEncapMode, Value: wire.EncapTunnel}, {Type: wire.AttrAuthAlg, Value: wire.AuthHMACSHA1}}} // ESP_3DES
	other := []byte{0x11, 0x22, 0x33, 0x44}
	for _, c := range []struct {
		name   string
		before func(good wire.Proposal) []wire.Proposal // the proposals before the acceptable one, numbered 1
	}{
		{"AH first", func(good wire.Proposal) []wire.Proposal {
			return []wire.Proposal{{Number: 1, Protocol: protocolAH, SPI: other, Transforms: []wire.Transform{{Number: 1, ID: 2}}}}
		}},
		{"SPI of 3 bytes first", func(good wire.Proposal) []wire.Proposal {
			return []wire.Proposal{{Number: 1, Protocol: wire.ProtocolESP, SPI: other[:3], Transforms: good.Transforms}}
		}},
		{"another suite first", func(good wire.Proposal) []wire.Proposal {
			return []wire.Proposal{{Number: 1, Protocol: wire.ProtocolESP, SPI: other, Transforms: []wire.Transform{tdes}}}
		}},
		{"bundle first", func(good wire.Proposal) []wire.Proposal {
			return []wire.Proposal{
				{Number: 1, Protocol: protocolAH, SPI: other, Transforms: []wire.Transform{{Number: 1, ID: 2}}},
				{Number: 1, Protocol: wire.ProtocolESP, SPI: other, Transforms: good.Transforms},
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want uint8
			_, mr, ri, rr := rewriteQuick(t, nil, true, nil, func(in *wire.SA) {
				good := in.Proposals[0]
				ps := c.before(good)
				good.Number = ps[len(ps)-1].Number + 1
				want = good.Number
				in.Proposals = append(ps, good)
			})
			ri.mu.Lock()
			rr.mu.Lock()
			ci, cr := slices.Clone(ri.children), slices.Clone(rr.children)
			rr.mu.Unlock()
			ri.mu.Unlock()
			if len(ci) != 1 || len(cr) != 1 {
				t.Fatalf("children: initiator %d, responder %d; responder status %+v", len(ci), len(cr), mr.Status())
			}
			if ci[0].Out.SPI != cr[0].In.SPI || ci[0].In.SPI != cr[0].Out.SPI {
				t.Errorf("SPIs do not match crosswise: initiator in %08x out %08x, responder in %08x out %08x", ci[0].In.SPI, ci[0].Out.SPI, cr[0].In.SPI, cr[0].Out.SPI)
			}
			// The responder's message 2, as it keeps it for the
			// initiator's retransmissions of message 1.
			sr := onlySA(t, mr)
			mr.mu.Lock()
			var reply []wire.Payload
			for _, a := range sr.answered {
				pt, _, err := open(sr.encKey, a.req[len(a.req)-blockSize:], a.reply[wire.HeaderLen:])
				h, _ := wire.ParseHeader(a.reply)
				if err == nil {
					reply, err = wire.ParsePayloads(h.Next, pt)
				}
				if err != nil {
					t.Errorf("the responder's message 2 does not open: %v", err)
				}
			}
			mr.mu.Unlock()
			p, ok := wire.Find(reply, wire.PayloadSA)
			if !ok {
				t.Fatal("no message 2 with an SA payload")
			}
			in, err := wire.ParseSA(p.Body)
			if err != nil || len(in.Proposals) != 1 || in.Proposals[0].Number != want {
				t.Errorf("message 2's SA: %+v (%v), want one proposal numbered %d", in.Proposals, err, want)
			}
		})
	}
}

// TestQuickModeResponderRefusesAllProposals: when none of several
// proposals can be taken, the responder's reason names the suites of
// each ESP proposal, and no child comes up.
func TestQuickModeResponderRefusesAllProposals(t *testing.T) {
	tdes := wire.Transform{Number: 1, ID: 3, Attrs: []wire.Attr{{Type: wire.AttrEncapMode, Value: wire.EncapTunnel}, {Type: wire.AttrAuthAlg, Value: wire.AuthHMACSHA1}}} // ESP_3DES
	_, mr, _, rr := rewriteQuick(t, nil, true, func(bool, []byte) bool { return true }, func(in *wire.SA) {
		in.Proposals = []wire.Proposal{
			{Number: 1, Protocol: protocolAH, SPI: []byte{1, 2, 3, 4}, Transforms: []wire.Transform{{Number: 1, ID: 2}}},
			{Number: 2, Protocol: wire.ProtocolESP, SPI: []byte{1, 2, 3, 5}, Transforms: []wire.Transform{tdes}},
			{Number: 3, Protocol: wire.ProtocolESP, SPI: []byte{1, 2, 3, 6}, Transforms: []wire.Transform{tdes, tdes}},
		}
	})
	want := "quick mode: the peer's ESP proposals (3des-sha1, 3des-sha1, 3des-sha1) match none of the connection's"
	if st := mr.Status()[0]; st.LastError != want {
		t.Errorf("responder's status reason %q, want %q", st.LastError, want)
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if len(rr.children) != 0 {
		t.Errorf("%d children with no proposal taken", len(rr.children))
	}
}
