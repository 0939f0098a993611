package ikev1

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// mainModeIDs carries a connection's exchanges, as shuttle does, and
// returns the ID payloads of Main Mode messages 5 (the initiator's) and 6
// (the responder's) as each was first sent, opened with the exchange's
// keys at the side that received it.
func mainModeIDs(t *testing.T, mi, mr *Manager, ri, rr *recorder) (idI, idR *wire.ID) {
	t.Helper()
	read := func(m *Manager, msg []byte) *wire.ID {
		m.mu.Lock()
		defer m.mu.Unlock()
		sa := onlySAUnlocked(m)
		if sa == nil || sa.encKey == nil {
			t.Errorf("no keys to open main mode message %d with", map[bool]int{true: 6, false: 5}[m == mi])
			return nil
		}
		h, _ := wire.ParseHeader(msg)
		pt, _, err := open(sa.encKey, sa.iv, msg[wire.HeaderLen:])
		var ps []wire.Payload
		if err == nil {
			ps, err = wire.ParsePayloads(h.Next, pt)
		}
		p, ok := wire.Find(ps, wire.PayloadID)
		if err != nil || !ok {
			t.Errorf("main mode message without an ID payload that opens: %v", err)
			return nil
		}
		id, err := wire.ParseID(p.Body)
		if err != nil {
			t.Error(err)
			return nil
		}
		return &id
	}
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, _, _ netip.AddrPort) bool {
		if msg[18] != wire.ExchangeMain || msg[19]&wire.FlagEncryption == 0 {
			return false
		}
		switch {
		case fromI && idI == nil:
			idI = read(mr, msg)
		case !fromI && idR == nil:
			idR = read(mi, msg)
		}
		return false
	})
	return idI, idR
}

// TestIdentities: Main Mode sends the connection's LocalID (RFC 2407
// §4.6.2, the connection's address when unset) and, once the peer's HASH
// checked out, refuses a peer whose ID is not the connection's RemoteID
// when one is set: the responder tells the initiator with
// INVALID-ID-INFORMATION, the initiator (whose peer holds the SA
// established) with the same, encrypted, and a Delete. The status of the
// refusing side names both identities; no child comes up.
func TestIdentities(t *testing.T) {
	fqdn := func(s string) *wire.ID { return &wire.ID{Type: wire.IDFQDN, Data: []byte(s)} }
	addr := func(s string) *wire.ID { return new(wire.AddrID(netip.MustParseAddr(s))) }
	for _, c := range []struct {
		name       string
		tweak      func(pi, pr *ikev2.PeerConfig)
		idI, idR   *wire.ID // sent in messages 5 and 6, nil for none
		up         bool
		reasonI    string // in the initiator's status, "" for none
		reasonR    string // in the responder's status
		refusedByI bool
	}{
		{name: "addresses by default", idI: addr("192.0.2.2"), idR: addr("192.0.2.1"), up: true},
		{name: "configured, as expected", tweak: func(pi, pr *ikev2.PeerConfig) {
			pi.LocalID, pi.RemoteID = ikev2.FQDNIdentity("i.example"), ikev2.FQDNIdentity("r.example")
			pr.LocalID, pr.RemoteID = ikev2.FQDNIdentity("r.example"), ikev2.FQDNIdentity("i.example")
		}, idI: fqdn("i.example"), idR: fqdn("r.example"), up: true},
		{name: "an address expected as configured", tweak: func(pi, pr *ikev2.PeerConfig) {
			pr.RemoteID = ikev2.IPIdentity(netip.MustParseAddr("192.0.2.2"))
		}, idI: addr("192.0.2.2"), idR: addr("192.0.2.1"), up: true},
		{name: "responder expects another", tweak: func(_, pr *ikev2.PeerConfig) {
			pr.RemoteID = ikev2.FQDNIdentity("someone.example")
		}, idI: addr("192.0.2.2"),
			reasonR: "peer identity 192.0.2.2, want someone.example", reasonI: "INVALID-ID-INFORMATION"},
		{name: "initiator expects another", tweak: func(pi, pr *ikev2.PeerConfig) {
			pi.RemoteID = ikev2.FQDNIdentity("someone.example")
			pr.LocalID = ikev2.FQDNIdentity("r.example")
		}, idI: addr("192.0.2.2"), idR: fqdn("r.example"),
			reasonI: "peer identity r.example, want someone.example", reasonR: "the peer deleted the ISAKMP SA", refusedByI: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			mi, mr, ri, rr := twoManagers(t, c.tweak)
			idI, idR := mainModeIDs(t, mi, mr, ri, rr)
			same := func(got, want *wire.ID) bool {
				return (got == nil) == (want == nil) && (got == nil || got.Type == want.Type && string(got.Data) == string(want.Data) && got.Protocol == 0 && got.Port == 0)
			}
			if !same(idI, c.idI) || !same(idR, c.idR) {
				t.Errorf("IDs sent: initiator %+v, responder %+v; want %+v, %+v", idI, idR, c.idI, c.idR)
			}
			ri.mu.Lock()
			rr.mu.Lock()
			children := len(ri.children) + len(rr.children)
			rr.mu.Unlock()
			ri.mu.Unlock()
			si, sr := mi.Status()[0], mr.Status()[0]
			if up := si.State == "established" && sr.State == "established" && children == 2; up != c.up {
				t.Errorf("connection up %v (states %s, %s; %d children), want %v", up, si.State, sr.State, children, c.up)
			}
			if !c.up && (si.State == "established" || sr.State == "established" || children != 0) {
				t.Errorf("refused, yet: states %s, %s; %d children", si.State, sr.State, children)
			}
			for _, r := range []struct{ side, got, want string }{{"initiator", si.LastError, c.reasonI}, {"responder", sr.LastError, c.reasonR}} {
				if r.want == "" && r.got != "" || !strings.Contains(r.got, r.want) {
					t.Errorf("%s's status reason %q, want it to name %q", r.side, r.got, r.want)
				}
			}
			if c.refusedByI && mi.Stats().Integrity != 1 {
				t.Errorf("initiator's refusals %d, want 1", mi.Stats().Integrity)
			}
		})
	}
}

// forgeAuth returns Main Mode message 5 (fromI) or 6 of m's only SA as
// that side would send it naming id, encrypted with iv, the HASH over
// id; the SA goes on from it (its IVs, its retransmission).
func forgeAuth(m *Manager, fromI bool, iv []byte, id wire.ID) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	sa := onlySAUnlocked(m)
	body := id.Append(nil)
	var hash []byte
	if fromI {
		hash = sa.s.Hash.prf(sa.skeyid, sa.gxi, sa.gxr, sa.cookies(), sa.saiB, body)
	} else {
		rcic := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, sa.rc), sa.ic)
		hash = sa.s.Hash.prf(sa.skeyid, sa.gxr, sa.gxi, rcic, sa.saiB, body)
	}
	pl, _ := wire.AppendPayloads(nil, []wire.Payload{{Type: wire.PayloadID, Body: body}, {Type: wire.PayloadHash, Body: hash}})
	msg, next := seal(sa.encKey, iv, sa.header(wire.ExchangeMain, 0, wire.PayloadID), pl)
	sa.iv = next
	if fromI {
		sa.out.msg = msg
	} else {
		sa.p1iv, sa.lastReply = next, msg
	}
	return msg
}

// TestPhase1IDProtocolPort: RFC 2407 §4.6.2, the protocol and port of a
// phase 1 ID payload MUST be zero or UDP port 500, and the SA setup MUST
// be aborted on others. UDP with port 0 or 4500 goes too, as peers that
// floated to port 4500 send it. Either side refuses the peer's others,
// once its HASH checked out, naming them.
func TestPhase1IDProtocolPort(t *testing.T) {
	for _, c := range []struct {
		proto uint8
		port  uint16
		up    bool
	}{
		{0, 0, true}, {17, 500, true}, {17, 4500, true}, {17, 0, true},
		{6, 500, false}, {17, 1701, false}, {0, 500, false}, {50, 0, false},
	} {
		for _, byI := range []bool{true, false} {
			side := map[bool]string{true: "initiator", false: "responder"}[byI]
			t.Run(fmt.Sprintf("%d-%d-from-%s", c.proto, c.port, side), func(t *testing.T) {
				mi, mr, ri, rr := twoManagers(t, nil)
				var msg5 []byte
				shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
					if msg[18] != wire.ExchangeMain || msg[19]&wire.FlagEncryption == 0 {
						return false
					}
					switch {
					case fromI && msg5 == nil:
						msg5 = msg
						if !byI {
							return false
						}
						mi.mu.Lock()
						sa := onlySAUnlocked(mi)
						iv := sa.s.Hash.sum(sa.gxi, sa.gxr)[:blockSize]
						mi.mu.Unlock()
						msg5 = forgeAuth(mi, true, iv, wire.ID{Type: wire.IDIPv4, Protocol: c.proto, Port: c.port, Data: fuzzRemote.Addr().AsSlice()})
						mr.handle(to, from, msg5)
						return true
					case !fromI && !byI && msg5 != nil:
						msg6 := forgeAuth(mr, false, msg5[len(msg5)-blockSize:], wire.ID{Type: wire.IDIPv4, Protocol: c.proto, Port: c.port, Data: fuzzLocal.Addr().AsSlice()})
						mi.handle(to, from, msg6)
						msg5 = []byte{} // forged once: a retransmission goes as it is
						return true
					}
					return false
				})
				ri.mu.Lock()
				rr.mu.Lock()
				children := len(ri.children) + len(rr.children)
				rr.mu.Unlock()
				ri.mu.Unlock()
				refuser := map[bool]*Manager{true: mr, false: mi}[byI]
				st := refuser.Status()[0]
				if up := children == 2; up != c.up {
					t.Fatalf("connection up %v (%d children), want %v; the %s's status %+v", up, children, c.up, map[bool]string{true: "responder", false: "initiator"}[byI], st)
				}
				if want := fmt.Sprintf("protocol %d port %d", c.proto, c.port); !c.up && !strings.Contains(st.LastError, want) {
					t.Errorf("status reason %q, want it to name %q", st.LastError, want)
				}
			})
		}
	}
}
