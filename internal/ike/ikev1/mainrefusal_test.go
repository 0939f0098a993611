package ikev1

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// mainModeAt returns an initiator whose Main Mode waits for the answer
// to message 1 (mm5 false) or, against a responder with another
// pre-shared key, which refused it (its refusal lost on the way), to
// message 5.
func mainModeAt(t *testing.T, mm5 bool) (mi, mr *Manager) {
	t.Helper()
	mi, mr, ri, rr := twoManagers(t, func(_, pr *ikev2.PeerConfig) { pr.PSK = ikev2.PSK("AnotherKey") })
	if mm5 {
		shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, _, _ netip.AddrPort) bool {
			return !fromI && msg[18] == wire.ExchangeInfo
		})
	}
	want := map[bool]int{false: stMM1, true: stMM5}[mm5]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mi.mu.Lock()
		sa := onlySAUnlocked(mi)
		at := sa != nil && sa.state == want && sa.out.msg != nil
		mi.mu.Unlock()
		if at {
			return mi, mr
		}
		if time.Now().After(deadline) {
			t.Fatalf("the initiator's Main Mode is not at state %d: %+v", want, mi.Status())
		}
	}
}

// refuseMain sends mi's one Main Mode the peer's error notification
// notify, unprotected as any before the keys (RFC 2408 §4.8).
func refuseMain(mi *Manager, notify uint16) {
	mi.mu.Lock()
	sa := onlySAUnlocked(mi)
	msg := sa.plain(wire.ExchangeInfo, []wire.Payload{{Type: wire.PayloadNotify,
		Body: wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, Type: notify}.Append(nil)}})
	local, remote := sa.local, sa.remote
	mi.mu.Unlock()
	mi.handle(local, remote, msg)
}

// runOutTries has mi's one Main Mode run out of tries.
func runOutTries(mi *Manager) {
	mi.mu.Lock()
	defer mi.mu.Unlock()
	sa := onlySAUnlocked(mi)
	sa.out.tries, sa.out.sentAt = sa.p.cfg.RetransmitTries, time.Now().Add(-time.Hour)
	mi.timers(time.Now())
}

// TestMainModeRefusalNamed: the peer's error notification (RFC 2408
// §3.14.1) about our Main Mode is the peer's refusal, named in the status
// reason at once, and no message refused here: Integrity stays 0. After
// message 5 one that says the peer could not read or verify it names a
// likely pre-shared key mismatch. Being unprotected (RFC 2408 §4.8), it
// ends nothing: the Main Mode goes on, and the refusal is the reason it
// ends with when its tries run out.
func TestMainModeRefusalNamed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mm5     bool
		notify  uint16
		want    string
		keyHint bool
	}{
		{"NO-PROPOSAL-CHOSEN to message 1", false, wire.NotifyNoProposalChosen, "the peer refused main mode with notification NO-PROPOSAL-CHOSEN", false},
		{"AUTHENTICATION-FAILED to message 5", true, wire.NotifyAuthFailed, "the peer refused main mode with notification AUTHENTICATION-FAILED", true},
		{"PAYLOAD-MALFORMED to message 5", true, wire.NotifyPayloadMalformed, "the peer refused main mode with notification PAYLOAD-MALFORMED", true},
		{"INVALID-ID-INFORMATION to message 5", true, wire.NotifyInvalidIDInfo, "the peer refused main mode with notification INVALID-ID-INFORMATION", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mi, _ := mainModeAt(t, tc.mm5)
			refuseMain(mi, tc.notify)
			st := mi.Status()[0]
			if !strings.Contains(st.LastError, tc.want) || strings.Contains(st.LastError, "pre-shared key") != tc.keyHint {
				t.Errorf("status reason %q, want %q (naming the pre-shared key: %v)", st.LastError, tc.want, tc.keyHint)
			}
			if len(st.IKESAs) != 1 || st.State != "connecting" {
				t.Fatalf("an unprotected notification ended the Main Mode: %+v", st)
			}
			if s := mi.Stats(); s.Integrity != 0 {
				t.Errorf("the peer's refusal counted as Integrity: %+v", s)
			}
			runOutTries(mi)
			st = mi.Status()[0]
			if !strings.Contains(st.LastError, tc.want) || len(st.IKESAs) != 0 {
				t.Errorf("once its tries ran out: status reason %q, want %q, SAs %+v", st.LastError, tc.want, st.IKESAs)
			}
		})
	}
}

// TestForgedMainModeRefusalEndsNothing: a NO-PROPOSAL-CHOSEN that anyone
// who saw message 1 can send (RFC 2408 §4.8: unprotected) before the
// responder's answer leaves the Main Mode to complete with it: the
// connection is up with its child, with no reconnect.
func TestForgedMainModeRefusalEndsNothing(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	var mm1 [][]byte
	var from, to []netip.AddrPort
	for deadline := time.Now().Add(10 * time.Second); len(mm1) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the initiator sent no message 1")
		}
		mm1, from, to = ri.take()
	}
	refuseMain(mi, wire.NotifyNoProposalChosen)
	mr.handle(to[0], from[0], mm1[0])
	shuttle(mi, mr, ri, rr, nil)
	if len(ri.children) != 1 || len(rr.children) != 1 {
		t.Fatalf("children after a forged refusal: initiator %d, responder %d; status %+v", len(ri.children), len(rr.children), mi.Status())
	}
	if st := mi.Status()[0]; st.State != "established" || st.LastError != "" {
		t.Errorf("initiator's status %q, reason %q", st.State, st.LastError)
	}
}

// TestWrongKeyUnansweredNamed: the initiator whose tries of message 5
// run out without an answer (a responder whose pre-shared key differs
// could not read it, and its refusal was lost) names a likely pre-shared
// key mismatch. It said "the peer does not answer", which sent a user
// looking for a network fault.
func TestWrongKeyUnansweredNamed(t *testing.T) {
	mi, _ := mainModeAt(t, true)
	runOutTries(mi)
	want := "the peer does not answer main mode message 5: pre-shared key mismatch?"
	if st := mi.Status()[0]; st.LastError != want {
		t.Errorf("initiator's status reason %q, want %q", st.LastError, want)
	}
}

// TestWrongKeyNamedOnBothSides: a responder whose pre-shared key differs
// cannot read message 5 (RFC 2409 §5: its keys derive from the key): it
// says so in its status reason, counts it as Integrity, and answers with
// AUTHENTICATION-FAILED, as strongSwan's responder does, so that the
// initiator names the mismatch at once rather than after its tries. It
// answered nothing.
func TestWrongKeyNamedOnBothSides(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(_, pr *ikev2.PeerConfig) { pr.PSK = ikev2.PSK("AnotherKey") })
	shuttle(mi, mr, ri, rr, nil)
	st := mr.Status()[0]
	if !strings.Contains(st.LastError, "authentication failed: main mode message 5 does not decrypt") || !strings.HasSuffix(st.LastError, "the pre-shared keys probably differ") {
		t.Errorf("responder's status reason %q", st.LastError)
	}
	if s := mr.Stats(); s.Integrity == 0 {
		t.Errorf("the unreadable message 5 is not counted: %+v", s)
	}
	want := "the peer refused main mode with notification AUTHENTICATION-FAILED after message 5: pre-shared key mismatch?"
	if st := mi.Status()[0]; st.LastError != want {
		t.Errorf("initiator's status reason %q, want %q", st.LastError, want)
	}
}

// TestForgedMessage5EndsNothing: a message 5 that does not decrypt, which
// anyone who saw the cookies can send, before the initiator's own leaves
// the responder's Main Mode to complete with it.
func TestForgedMessage5EndsNothing(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	forged := false
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
		if fromI && !forged && msg[18] == wire.ExchangeMain && msg[19]&wire.FlagEncryption != 0 {
			forged = true
			bad := slices.Clone(msg)
			for i := wire.HeaderLen; i < len(bad); i++ {
				bad[i] ^= 0xff
			}
			mr.handle(to, from, bad)
		}
		return false
	})
	if !forged || len(ri.children) != 1 || len(rr.children) != 1 {
		t.Fatalf("after a forged message 5 (sent: %v): children: initiator %d, responder %d; status %+v", forged, len(ri.children), len(rr.children), mr.Status())
	}
}

// TestForgedMainModeMessageEndsNothing: a Main Mode message that breaks
// the exchange, which anyone who saw the cookies can send (nothing is
// authenticated before message 5, RFC 2408 §4.8), ahead of the peer's own
// is refused and counted, and the Main Mode completes with the peer's:
// the connection is up with its child on both sides.
func TestForgedMainModeMessageEndsNothing(t *testing.T) {
	plainMain := func(msg []byte, next wire.PayloadType) bool {
		return msg[18] == wire.ExchangeMain && msg[19]&wire.FlagEncryption == 0 && wire.PayloadType(msg[16]) == next
	}
	for _, tc := range []struct {
		name     string
		fromI    bool             // forged towards the responder, ahead of the initiator's message
		before   wire.PayloadType // ahead of the message that starts with this payload
		exchange uint8
	}{
		{"message 2 without an SA", false, wire.PayloadSA, wire.ExchangeMain},
		{"message 3 without a KE", true, wire.PayloadKE, wire.ExchangeMain},
		{"message 4 without a KE", false, wire.PayloadKE, wire.ExchangeMain},
		{"a quick mode before the keys", true, wire.PayloadKE, wire.ExchangeQuick},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mi, mr, ri, rr := twoManagers(t, nil)
			forged := false
			shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
				if forged || fromI != tc.fromI || !plainMain(msg, tc.before) {
					return false
				}
				forged = true
				h, _ := wire.ParseHeader(msg)
				body, first := wire.AppendPayloads(nil, []wire.Payload{{Type: wire.PayloadNonce, Body: make([]byte, 16)}})
				h.Next, h.Exchange, h.Length = first, tc.exchange, uint32(wire.HeaderLen+len(body))
				bad := append(h.Append(nil), body...)
				if fromI {
					mr.handle(to, from, bad)
				} else {
					mi.handle(to, from, bad)
				}
				return false
			})
			if !forged || len(ri.children) != 1 || len(rr.children) != 1 {
				t.Fatalf("after the forged message (sent: %v): children: initiator %d, responder %d; status %+v / %+v",
					forged, len(ri.children), len(rr.children), mi.Status(), mr.Status())
			}
			if s := map[bool]*Manager{true: mr, false: mi}[tc.fromI].Stats(); s.Integrity != 1 {
				t.Errorf("the forged message is not counted as refused: %+v", s)
			}
		})
	}
}

// TestUnansweredMainModeNamed: a Main Mode whose message 1 goes
// unanswered (UDP 500 blocked on the way, say) names the message in its
// reason, as the IKEv2 daemon names the exchange; it said "the peer does
// not answer", whatever the peer had answered before.
func TestUnansweredMainModeNamed(t *testing.T) {
	mi, _ := mainModeAt(t, false)
	runOutTries(mi)
	if st := mi.Status()[0]; st.LastError != "the peer does not answer main mode message 1" {
		t.Errorf("status reason %q", st.LastError)
	}
}
