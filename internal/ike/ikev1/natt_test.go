package ikev1

import (
	"net/netip"
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
