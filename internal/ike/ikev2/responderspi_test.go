package ikev2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestInitRequestWithResponderSPI: an IKE_SA_INIT request whose
// responder's SPI is not zero (RFC 7296 §3.1: it MUST be in the first
// message, also when sent again with a cookie) is dropped and counted as
// malformed, whatever SPI it names: it leaves the IKE SA that is up as it
// was, makes no other, and is not answered. Before, one naming the SPI of
// an IKE SA of ours went to that SA's peer, from whatever address, past
// the cookie and message ID checks: a new SPIi got a half-open IKE SA and
// a response each, which anyone who saw the SPI go by could have the
// gateway compute a key exchange for.
func TestInitRequestWithResponderSPI(t *testing.T) {
	n, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	var template []byte
	for _, d := range n.datagrams() {
		if isRequest(d.data, wire.IKESAInit) {
			template = d.data
			break
		}
	}
	up := b.established()[0]
	elsewhere := netip.MustParseAddr("198.51.100.7")
	for _, tc := range []struct {
		name       string
		from       netip.Addr
		spiI, spiR uint64
		msgID      uint32
	}{
		{"3.1 the up IKE SA's SPIs", addrA, up.SPIi, up.SPIr, 0},
		{"3.1 a new SPIi, the up IKE SA's SPIr", addrA, 0x5151515151515151, up.SPIr, 0},
		{"3.1 the up IKE SA's SPIr, from another address", elsewhere, 0x5252525252525252, up.SPIr, 0},
		{"3.1 the up IKE SA's SPIr, message ID 1", addrA, 0x5353535353535353, up.SPIr, 1},
		{"3.1 an SPIr of no IKE SA", addrA, 0x5454545454545454, 0x0badc0ffee, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := bytes.Clone(template)
			binary.BigEndian.PutUint64(msg[0:8], tc.spiI)
			binary.BigEndian.PutUint64(msg[8:16], tc.spiR)
			binary.BigEndian.PutUint32(msg[20:24], tc.msgID)
			mark := len(n.datagrams())
			before := b.m.Stats().Malformed
			n.endpoint().SendIKE(netip.AddrPortFrom(tc.from, 500), netip.AddrPortFrom(addrB, 500), msg)
			// Polled without failing, so that what the request did
			// otherwise is told too.
			for deadline := time.Now().Add(5 * time.Second); b.m.Stats().Malformed != before+1; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					st := b.m.Stats()
					t.Errorf("not counted as malformed (%d malformed, %d of an unknown SPI)", st.Malformed-before, st.UnknownSPI)
					break
				}
			}
			for _, d := range n.datagrams()[mark:] {
				if h, _, err := wire.ParseHeader(d.data); err == nil && d.from.Addr() == addrB && h.Exchange == wire.IKESAInit {
					t.Errorf("answered to %v", d.to)
				}
			}
			if sas := b.status().IKESAs; len(sas) != 1 || sas[0].State != "established" || sas[0].SPIi != up.SPIi || sas[0].SPIr != up.SPIr {
				var got []string
				for _, sa := range sas {
					got = append(got, fmt.Sprintf("%016x/%016x %s from %v", sa.SPIi, sa.SPIr, sa.State, sa.Remote))
				}
				t.Errorf("IKE SAs %q, want the one up alone, %016x/%016x", got, up.SPIi, up.SPIr)
			}
			waitUp(t, a, b, 1)
		})
	}
	checkKeys(t, a, b)
}
