package p2s

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// TestPeerMRURFC1661Section6_1: what the link sends its peer stays within
// the MRU of the peer's LCP request it Acked (RFC 1661 §6.1), 1500 octets
// when the request names none: an IPv4 packet longer is dropped and
// counted, not sent, and an Echo-Reply is cut to it; an MRU under 128 is
// Naked with 128, as pppd does. Gateway and client alike.
func TestPeerMRURFC1661Section6_1(t *testing.T) {
	for _, tc := range []struct {
		name string
		mru  []byte // the peer's MRU option's value; nil: none
		want int    // the longest packet sent it
	}{
		{"MRU 576", []byte{0x02, 0x40}, 576},
		{"MRU 1400", []byte{0x05, 0x78}, 1400},
		{"no MRU", nil, 1500},
		{"MRU 9000", []byte{0x23, 0x28}, sstp.MaxData - 8}, // what an SSTP packet holds
	} {
		for _, server := range []bool{true, false} {
			name := tc.name + "/client"
			if server {
				name = tc.name + "/gateway"
			}
			t.Run(name, func(t *testing.T) {
				conn := &recorder{}
				l := newLink(server, conn, nil, testLogger(t))
				l.srv = &Server{}
				l.client = &Client{cfg: ClientConfig{}}
				var opts []ppp.Option
				if tc.mru != nil {
					opts = append(opts, ppp.Option{Type: ppp.OptMRU, Value: tc.mru})
				}
				if err := l.handleLCP(ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, opts)}.Append(nil)); err != nil {
					t.Fatal(err)
				}
				ps, _ := conn.take(t, ppp.ProtoLCP)
				ps = slices.DeleteFunc(ps, func(p ppp.Packet) bool { return p.Code == ppp.ConfReq }) // ours, after the Ack
				if len(ps) != 1 || ps[0].Code != ppp.ConfAck {
					t.Fatalf("the peer's request answered with %+v, want an Ack", ps)
				}
				l.up.Store(true)
				if err := l.SendIP(make([]byte, tc.want)); err != nil {
					t.Errorf("a packet of %d bytes, the peer's MRU: %v", tc.want, err)
				}
				if err := l.SendIP(make([]byte, tc.want+1)); err == nil || l.dropped.Load() != 1 {
					t.Errorf("a packet of %d bytes, over the peer's MRU: %v, %d dropped; want it refused and counted", tc.want+1, err, l.dropped.Load())
				}
				if len(l.sendq) != 1 {
					t.Errorf("%d packets queued for the peer, want 1", len(l.sendq))
				}
				// An Echo-Request with more data than the MRU takes,
				// once LCP is open.
				l.lcpOurs = true
				echo := ppp.Packet{Code: ppp.EchoReq, ID: 2, Data: binary.BigEndian.AppendUint32(nil, 0x0badcafe)}
				echo.Data = append(echo.Data, make([]byte, 3900)...)
				if err := l.handleLCP(echo.Append(nil)); err != nil {
					t.Fatal(err)
				}
				if ps, _ := conn.take(t, ppp.ProtoLCP); len(ps) != 1 || ps[0].Code != ppp.EchoReply || ps[0].Len() > min(tc.want, 3908) {
					t.Errorf("an Echo-Request of 3908 octets answered with %d packets, the first %d octets; want an Echo-Reply of at most %d", len(ps), ps[0].Len(), tc.want)
				}
			})
		}
	}
}

// TestSmallMRUNaked: an MRU under 128 octets is Naked with 128 (RFC 1661
// §6.1 leaves the least to the implementation; pppd takes no less).
func TestSmallMRUNaked(t *testing.T) {
	conn := &recorder{}
	l := newLink(true, conn, nil, testLogger(t))
	l.srv = &Server{}
	if err := l.handleLCP(ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMRU, Value: []byte{0, 64}}})}.Append(nil)); err != nil {
		t.Fatal(err)
	}
	ps, _ := conn.take(t, ppp.ProtoLCP)
	if len(ps) != 1 || ps[0].Code != ppp.ConfNak || string(ps[0].Data) != string(ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMRU, Value: []byte{0, 128}}})) {
		t.Errorf("an MRU of 64 answered with %+v; want a Nak with 128", ps)
	}
}

// TestEAPFragmentsWithinMRU: EAP-TLS fragments are cut so that each EAP
// packet fits the peer's MRU (RFC 1661 §6.1), its headers with it (RFC
// 5216 §3.1), when the MRU is smaller than a full fragment's packet.
func TestEAPFragmentsWithinMRU(t *testing.T) {
	conn := &recorder{}
	l := newLink(false, conn, nil, testLogger(t))
	l.client = &Client{cfg: ClientConfig{}}
	mru := ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMRU, Value: []byte{0x01, 0x2c}}}) // 300
	if err := l.handleLCP(ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: mru}.Append(nil)); err != nil {
		t.Fatal(err)
	}
	conn.take(t, ppp.ProtoLCP)
	l.eapCli = &eaptls.Conversation{}
	l.eapCli.Send(make([]byte, 5000))
	for id := uint8(1); l.eapCli.Pending(); id++ {
		if err := l.sendEAPTLS(id); err != nil {
			t.Fatal(err)
		}
	}
	conn.mu.Lock()
	out := bytes.NewReader(conn.out)
	conn.mu.Unlock()
	var buf [sstp.MaxPacket]byte
	n := 0
	for out.Len() > 0 {
		_, body, err := sstp.ReadPacket(out, &buf)
		if err != nil {
			t.Fatal(err)
		}
		_, info, err := ppp.ParseFrame(body)
		if err != nil {
			t.Fatal(err)
		}
		if n++; len(info) > 300 {
			t.Fatalf("EAP packet %d is %d octets, over the peer's MRU of 300", n, len(info))
		}
	}
	if n < 5000/290 {
		t.Errorf("%d EAP packets carried 5000 bytes of TLS", n)
	}
}
