package ikev1

import (
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// withoutNATT returns msg, an unencrypted message, as a peer without NAT
// traversal sends it: without the RFC 3947 vendor ID and without NAT-D
// payloads.
func withoutNATT(t *testing.T, msg []byte) []byte {
	t.Helper()
	msg = withoutVendorID(t, msg, vidNATT)
	return withoutPayloads(t, msg, func(p wire.Payload) bool { return p.Type == wire.PayloadNATD })
}

// TestNoNATDWithoutNATTVendorID: with a peer that did not send the RFC
// 3947 vendor ID in the first two messages (RFC 3947 §3.1: both sides
// MUST have sent and received it for NAT traversal to go on), neither
// side of vnetgw sends NAT-D payloads in messages 3 and 4 (§3.2), which a
// peer without NAT traversal does not know, and none floats to port 4500
// or puts ESP in UDP, which such a peer does not read: not even with
// ForceEncap, the gateway's default without raw ESP.
func TestNoNATDWithoutNATTVendorID(t *testing.T) {
	for _, side := range []string{"initiator", "responder"} {
		t.Run("vnetgw-is-"+side, func(t *testing.T) {
			usIsI := side == "initiator"
			mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
				if usIsI {
					pi.ForceEncap = true
				} else {
					pr.ForceEncap = true
				}
			})
			us, usRec := mr, rr
			if usIsI {
				us, usRec = mi, ri
			}
			natd, ports := 0, map[uint16]bool{}
			shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
				if fromI == usIsI {
					// Ours: counted as sent.
					ports[from.Port()], ports[to.Port()] = true, true
					if msg[18] == wire.ExchangeMain && msg[19]&wire.FlagEncryption == 0 {
						h, _ := wire.ParseHeader(msg)
						ps, _ := wire.ParsePayloads(h.Next, msg[wire.HeaderLen:])
						for _, p := range ps {
							if p.Type == wire.PayloadNATD {
								natd++
							}
						}
					}
					return false
				}
				// The peer's, as one without NAT traversal sends them.
				if msg[18] != wire.ExchangeMain || msg[19]&wire.FlagEncryption != 0 {
					return false
				}
				stripped := withoutNATT(t, msg)
				if fromI {
					mr.handle(to, from, stripped)
				} else {
					mi.handle(to, from, stripped)
				}
				return true
			})
			st := us.Status()
			if len(st) != 1 || st[0].State != "established" || len(st[0].IKESAs) == 0 {
				t.Fatalf("not established: %+v", st)
			}
			if natd != 0 {
				t.Errorf("%d NAT-D payloads sent to a peer without the RFC 3947 vendor ID", natd)
			}
			if ports[4500] {
				t.Errorf("IKE floated to port 4500 with a peer without NAT traversal (ports used: %v)", ports)
			}
			if sa := st[0].IKESAs[0]; sa.NATLocal || sa.NATRemote || sa.Local.Port() != 500 || sa.Remote.Port() != 500 {
				t.Errorf("ISAKMP SA with a peer without NAT traversal: %v -> %v, NAT local %v, remote %v", sa.Local, sa.Remote, sa.NATLocal, sa.NATRemote)
			}
			usRec.mu.Lock()
			defer usRec.mu.Unlock()
			if len(usRec.children) != 1 || usRec.children[0].Encap {
				t.Errorf("children %+v: want one, ESP not in UDP", usRec.children)
			}
		})
	}
}

// records keeps what a manager logs at Warn and above.
type records struct {
	mu sync.Mutex
	rs []slog.Record
}

func (h *records) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rs = append(h.rs, r.Clone())
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// find returns the attributes of each record whose message holds msg.
func (h *records) find(msg string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.rs {
		if strings.Contains(r.Message, msg) {
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool {
				attrs[a.Key] = a.Value.String()
				return true
			})
			out = append(out, attrs)
		}
	}
	return out
}

// TestNATTDraftVendorID: a peer whose vendor IDs name a draft of NAT
// traversal (draft-ietf-ipsec-nat-t-ike-02, the same with a newline,
// -03) and not RFC 3947 still gets no NAT traversal (the drafts number
// NAT-D payloads and encapsulation modes otherwise), and the log says so,
// naming the draft, once a minute at most, the others counted: it was
// silent.
func TestNATTDraftVendorID(t *testing.T) {
	for i, d := range natDrafts {
		for _, side := range []string{"initiator", "responder"} {
			t.Run(strings.ReplaceAll(d.name, `\n`, "-newline")+"-peer-is-"+side, func(t *testing.T) {
				peerIsI := side == "initiator"
				hi, hr := &records{}, &records{}
				ri, rr := &recorder{}, &recorder{}
				mi, mr := New(Config{Transport: ri, Dataplane: ri, Logger: slog.New(hi)}), New(Config{Transport: rr, Dataplane: rr, Logger: slog.New(hr)})
				t.Cleanup(func() { mi.Close(); mr.Close() })
				mustReconfig(t, mi, fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly))
				mustReconfig(t, mr, fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly))
				us, usLog, usName := mr, hr, "r"
				if !peerIsI {
					us, usLog, usName = mi, hi, "i"
				}
				// The peer's Main Mode as one that speaks only draft d
				// sends it to a side that named no draft: the draft's
				// vendor ID in place of the RFC's, no NAT-D payloads.
				peer := func() {
					shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
						if fromI != peerIsI || msg[18] != wire.ExchangeMain || msg[19]&wire.FlagEncryption != 0 {
							return false
						}
						msg = withoutNATT(t, msg)
						if h, _ := wire.ParseHeader(msg); h.Next == wire.PayloadSA {
							msg = withPayload(t, msg, wire.Payload{Type: wire.PayloadVendorID, Body: d.vid})
						}
						if fromI {
							mr.handle(to, from, msg)
						} else {
							mi.handle(to, from, msg)
						}
						return true
					})
				}
				peer()
				st := us.Status()
				if st[0].State != "established" || st[0].IKESAs[0].NATLocal || st[0].IKESAs[0].NATRemote {
					t.Fatalf("with a peer of %s: %+v", d.name, st)
				}
				want := map[string]string{"conn": usName, "draft": d.name, "count": "1"}
				got := usLog.find("draft of NAT traversal")
				if len(got) != 1 || !maps.Equal(got[0], map[string]string{"conn": want["conn"], "remote": got[0]["remote"], "draft": want["draft"], "count": want["count"]}) {
					t.Fatalf("logged %v, want one line with %v", got, want)
				}
				if i > 0 {
					return
				}
				// Established again within the minute: counted, not logged.
				mi.Reset("i")
				mr.Reset("r")
				for _, rec := range []*recorder{ri, rr} {
					rec.mu.Lock()
					rec.children = nil
					rec.mu.Unlock()
				}
				peer()
				if got := usLog.find("draft of NAT traversal"); len(got) != 1 || us.Status()[0].State != "established" {
					t.Errorf("established again (%s): logged %v, want the one line", us.Status()[0].State, got)
				}
			})
		}
	}
}

// withPayload returns msg, an unencrypted message, with p added last.
func withPayload(t *testing.T, msg []byte, p wire.Payload) []byte {
	t.Helper()
	return editPayloads(t, msg, func(ps []wire.Payload) []wire.Payload { return append(ps, p) })
}
