package ikev1

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// withoutVendorID returns msg, an unencrypted message, without its Vendor
// ID payloads equal to vid (a peer that does not support what vid names).
func withoutVendorID(t *testing.T, msg, vid []byte) []byte {
	t.Helper()
	return withoutPayloads(t, msg, func(p wire.Payload) bool { return p.Type == wire.PayloadVendorID && bytes.Equal(p.Body, vid) })
}

// withoutPayloads returns msg, an unencrypted message, without the
// payloads drop picks.
func withoutPayloads(t *testing.T, msg []byte, drop func(wire.Payload) bool) []byte {
	t.Helper()
	return editPayloads(t, msg, func(ps []wire.Payload) []wire.Payload { return slices.DeleteFunc(ps, drop) })
}

// editPayloads returns msg, an unencrypted message, with its payloads
// as edit returns them.
func editPayloads(t *testing.T, msg []byte, edit func([]wire.Payload) []wire.Payload) []byte {
	t.Helper()
	h, err := wire.ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := wire.ParsePayloads(h.Next, msg[wire.HeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	body, first := wire.AppendPayloads(nil, edit(ps))
	h.Next, h.Length = first, uint32(wire.HeaderLen+len(body))
	return append(h.Append(nil), body...)
}

// TestNoDPDWithoutVendorID: a peer that did not send the DPD vendor ID
// (RFC 3706 §5.1) does not do dead peer detection: it is sent no
// R-U-THERE, and its silence does not take the tunnel down.
func TestNoDPDWithoutVendorID(t *testing.T) {
	for _, side := range []string{"initiator", "responder"} {
		t.Run("peer-is-"+side, func(t *testing.T) {
			// Retransmissions as by default: at 200 ms and two tries, a
			// loaded machine (CI's) took longer to answer a Main Mode
			// message than the initiator waited, and it gave up. An
			// R-U-THERE sent at all (after 500 ms) fails the test.
			mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
				pi.DPDInterval, pr.DPDInterval = 500*time.Millisecond, 500*time.Millisecond
			})
			// The peer without DPD; us, the side under test.
			us, usRec, peerIsI := mr, rr, true
			if side == "responder" {
				us, usRec, peerIsI = mi, ri, false
			}
			shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
				if fromI != peerIsI || msg[18] != wire.ExchangeMain || msg[19]&wire.FlagEncryption != 0 {
					return false
				}
				stripped := withoutVendorID(t, msg, vidDPD)
				if fromI {
					mr.handle(to, from, stripped)
				} else {
					mi.handle(to, from, stripped)
				}
				return true
			})
			if st := us.Status(); len(st) != 1 || st[0].State != "established" {
				t.Fatalf("not established: %+v", st)
			}
			// The peer is alive and carries traffic, but answers no
			// R-U-THERE: nothing passes between the daemons.
			usRec.take()
			time.Sleep(3 * time.Second)
			infos := 0
			msgs, _, _ := usRec.take()
			for _, m := range msgs {
				if m[18] == wire.ExchangeInfo {
					infos++
				}
			}
			st := us.Status()
			if infos != 0 || len(st) != 1 || st[0].State != "established" {
				t.Errorf("a peer without DPD: %d informational messages sent to it in 3 s; status %+v", infos, st)
			}
		})
	}
}

// TestDPDWithVendorID: a peer that sent the DPD vendor ID and falls
// silent is sent R-U-THERE and found dead (RFC 3706 §5.5).
func TestDPDWithVendorID(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.DPDInterval, pi.RetransmitTimeout, pi.RetransmitTries = 500*time.Millisecond, 200*time.Millisecond, 2
	})
	shuttle(mi, mr, ri, rr, nil)
	ri.take()
	for deadline := time.Now().Add(5 * time.Second); mi.Status()[0].State == "established"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a silent peer with DPD was not found dead in 5 s")
		}
	}
	infos := 0
	msgs, _, _ := ri.take()
	for _, m := range msgs {
		if m[18] == wire.ExchangeInfo {
			infos++
		}
	}
	if infos == 0 {
		t.Error("no R-U-THERE sent")
	}
}

// TestDPDAfterSilence: ESP from the peer is traffic (RFC 3706 §5.5: R-U-THERE
// only when there was none from the peer), so while it flows no R-U-THERE
// goes out however long the peer sends no IKE message; once it stops,
// R-U-THERE goes out and a peer that answers neither is found dead.
func TestDPDAfterSilence(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.DPDInterval, pi.RetransmitTimeout, pi.RetransmitTries = 500*time.Millisecond, 200*time.Millisecond, 2
	})
	ri.espFlow(true)
	shuttle(mi, mr, ri, rr, nil)
	ri.take()
	infos := func() (k int) {
		msgs, _, _ := ri.take()
		for _, m := range msgs {
			if m[18] == wire.ExchangeInfo {
				k++
			}
		}
		return k
	}
	// Four intervals of ESP and no IKE message from the peer.
	time.Sleep(2 * time.Second)
	if k, st := infos(), mi.Status(); k != 0 || st[0].State != "established" || mi.Stats().LivenessChecks != 0 {
		t.Fatalf("while ESP from the peer flowed: %d informational messages sent, %d liveness checks counted; status %+v", k, mi.Stats().LivenessChecks, st)
	}
	ri.espFlow(false)
	for deadline := time.Now().Add(5 * time.Second); mi.Status()[0].State == "established"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a peer silent in IKE and ESP was not found dead in 5 s")
		}
	}
	if infos() == 0 {
		t.Error("no R-U-THERE sent once ESP stopped")
	}
	if c := mi.Stats().LivenessChecks; c == 0 {
		t.Error("the R-U-THERE sent once ESP stopped was not counted")
	}
}

// TestDPDRetriesCounted: an R-U-THERE that gets no R-U-THERE-ACK is sent
// again, as a new R-U-THERE with the next sequence number (RFC 3706 §5.5),
// and each of those counts in Stats.Retransmits (/metrics'
// vnetgw_ike_retransmits_total), as IKEv2's INFORMATIONAL sent again does;
// the check itself counts once in LivenessChecks. The retries went
// uncounted: a user saw a dead peer found with no retransmit.
func TestDPDRetriesCounted(t *testing.T) {
	const tries = 3
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.DPDInterval, pi.RetransmitTimeout, pi.RetransmitTries = 300*time.Millisecond, 100*time.Millisecond, tries
		pi.ReconnectDelay = time.Hour // no new main mode, whose messages would count too
	})
	shuttle(mi, mr, ri, rr, nil)
	ri.take()
	before := mi.Stats()
	for deadline := time.Now().Add(10 * time.Second); mi.Status()[0].State == "established"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a silent peer with DPD was not found dead in 10 s")
		}
	}
	after := mi.Stats()
	infos := 0
	msgs, _, _ := ri.take()
	for _, m := range msgs {
		if m[18] == wire.ExchangeInfo {
			infos++
		}
	}
	if infos != 1+tries {
		t.Errorf("%d R-U-THEREs sent to a silent peer; want the first and %d tries", infos, tries)
	}
	if got := after.Retransmits - before.Retransmits; got != tries {
		t.Errorf("Retransmits grew by %d over %d R-U-THEREs sent again; want %d", got, tries, tries)
	}
	if got := after.LivenessChecks - before.LivenessChecks; got != 1 {
		t.Errorf("LivenessChecks grew by %d over one check sent %d times; want 1", got, 1+tries)
	}
}

// firstRUThere runs a connection with DPD every 300 ms and returns the
// sequence number of the first R-U-THERE the initiator sends, read off
// the wire with the responder's keys.
func firstRUThere(t *testing.T) uint32 {
	t.Helper()
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.DPDInterval = 300 * time.Millisecond
	})
	shuttle(mi, mr, ri, rr, nil)
	sr := onlySA(t, mr)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		msgs, _, _ := ri.take()
		for _, msg := range msgs {
			h, err := wire.ParseHeader(msg)
			if err != nil || h.Exchange != wire.ExchangeInfo {
				continue
			}
			mr.mu.Lock()
			ps, _, err := sr.decrypt(h, msg, sr.s.Hash.phase2IV(sr.p1iv, h.MessageID), nil)
			mr.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if np, ok := wire.Find(ps, wire.PayloadNotify); ok {
				if n, err := wire.ParseNotify(np.Body); err == nil && n.Type == wire.NotifyRUThere && len(n.Data) == 4 {
					return binary.BigEndian.Uint32(n.Data)
				}
			}
		}
	}
	t.Fatal("no R-U-THERE in 10 s with DPD every 300 ms")
	return 0
}

// TestDPDSequenceStartsRandom: RFC 3706 §7, the first R-U-THERE of an
// ISAKMP SA carries a random sequence number, not 1 on every SA (whose
// R-U-THERE-ACKs anyone could then tell, or have ready), with the top bit
// clear, leaving room to count up before it wraps.
func TestDPDSequenceStartsRandom(t *testing.T) {
	a, b := firstRUThere(t), firstRUThere(t)
	if a == b || a == 1 || b == 1 || a >= 1<<31 || b >= 1<<31 {
		t.Errorf("the first R-U-THEREs of two ISAKMP SAs carry sequence numbers %d and %d; want two random ones below 2^31", a, b)
	}
}
